//! Fake orders keyed by customer id: every order of one customer lands on
//! the same partition (murmur2, as the Java client computes it), so a
//! consumer sees each customer's orders in order.
//!
//! `cargo run --example produce_orders [-- COUNT]`

mod common;

use fake::Fake;
use fake::faker::lorem::en::Word;
use kafkacc::serde::{JsonSerde, Serializer};
use kafkacc::{Client, ClientConfig, Producer, ProducerConfig, ProducerRecord};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Serialize)]
struct Order {
    order_id: u64,
    customer_id: u32,
    item: String,
    quantity: u32,
    price_cents: u32,
}

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let client = Client::connect(ClientConfig::new(&common::bootstrap())).await?;
    let producer = Producer::new(client, ProducerConfig::default())?;
    let mut deliveries = Vec::new();
    for order_id in 0..count {
        let order = Order {
            order_id,
            customer_id: (1..20).fake(),
            item: Word().fake(),
            quantity: (1..5).fake(),
            price_cents: (100..10_000).fake(),
        };
        let value = JsonSerde.serialize("orders", &order)?;
        let record = ProducerRecord::new("orders")
            .key(order.customer_id.to_string())
            .value(value);
        deliveries.push((order.customer_id, producer.send(record).await?));
    }
    let mut partitions_of: BTreeMap<u32, BTreeSet<i32>> = BTreeMap::new();
    for (customer, delivery) in deliveries {
        partitions_of
            .entry(customer)
            .or_default()
            .insert(delivery.await?.partition);
    }
    producer.close(Duration::from_secs(10)).await?;
    for (customer, partitions) in &partitions_of {
        println!("customer {customer:>2}: partition {partitions:?}");
    }
    println!("sent {count} orders; each customer's orders share one partition");
    Ok(())
}
