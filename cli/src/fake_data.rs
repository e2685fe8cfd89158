//! Fake users and orders, like the tutorial's faker producers.

use fake::Fake;
use fake::faker::address::en::CityName;
use fake::faker::internet::en::SafeEmail;
use fake::faker::lorem::en::Word;
use fake::faker::name::en::Name;

/// A fake user as JSON; no key.
pub(crate) fn user(id: u64) -> (Option<String>, String) {
    let name: String = Name().fake();
    let email: String = SafeEmail().fake();
    let city: String = CityName().fake();
    (
        None,
        serde_json::json!({ "id": id, "name": name, "email": email, "city": city }).to_string(),
    )
}

/// A fake order as JSON, keyed by its customer id.
pub(crate) fn order(id: u64) -> (Option<String>, String) {
    let customer: u32 = (1..1000).fake();
    let item: String = Word().fake();
    let quantity: u32 = (1..5).fake();
    let value = serde_json::json!({ "order_id": id, "customer_id": customer, "item": item, "quantity": quantity });
    (Some(customer.to_string()), value.to_string())
}
