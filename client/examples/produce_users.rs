//! Fake users as JSON values through a serializer, no key: the producer
//! spreads them over the partitions (sticky per batch, like Java's default).
//!
//! `cargo run --example produce_users [-- COUNT]` (Kafka at `KAFKA_BOOTSTRAP`
//! or localhost:9092; see docker-compose.yml).

mod common;

use fake::Fake;
use fake::faker::address::en::CityName;
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::Name;
use kafkacc::serde::{JsonSerde, Serializer};
use kafkacc::{Client, ClientConfig, Producer, ProducerConfig, ProducerRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Serialize)]
struct User {
    name: String,
    email: String,
    city: String,
}

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let client = Client::connect(ClientConfig::new(&common::bootstrap())).await?;
    let producer = Producer::new(client, ProducerConfig::default())?;
    let serializer = JsonSerde;
    let mut deliveries = Vec::new();
    for _ in 0..count {
        let user = User {
            name: Name().fake(),
            email: SafeEmail().fake(),
            city: CityName().fake(),
        };
        let value = serializer.serialize("users", &user)?;
        deliveries.push(
            producer
                .send(ProducerRecord::new("users").value(value))
                .await?,
        );
    }
    let mut per_partition = BTreeMap::new();
    for delivery in deliveries {
        *per_partition.entry(delivery.await?.partition).or_insert(0) += 1;
    }
    producer.close(Duration::from_secs(10)).await?;
    println!("sent {count} users to topic 'users'; records per partition: {per_partition:?}");
    Ok(())
}
