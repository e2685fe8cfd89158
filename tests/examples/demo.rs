//! The end-to-end demo the README opens with.
//!
//! Starts a local Apache Kafka broker (unless `KAFKA_BOOTSTRAP` names one),
//! creates a topic, produces fake users as JSON keyed by their id, reads
//! them all back, checks that each key sits on its murmur2 partition, and
//! prints what happened.
//!
//! `cargo run -p kafkacc-tests --example demo [-- COUNT]`

use fake::Fake;
use fake::faker::address::en::{CityName, StreetName, ZipCode};
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::Name;
use kafkacc::partitioner::partition_for_key;
use kafkacc::serde::{JsonSerde, Serializer};
use kafkacc::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, NewTopic, OffsetReset, Producer,
    ProducerConfig, ProducerRecord,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;

#[derive(Debug, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
    email: String,
    address: String,
}

fn fake_user(id: u32) -> User {
    let street: String = StreetName().fake();
    let city: String = CityName().fake();
    let zip: String = ZipCode().fake();
    User {
        id,
        name: Name().fake(),
        email: SafeEmail().fake(),
        address: format!("{} {street}, {zip} {city}", (1..999).fake::<u32>()),
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000);
    let started = Instant::now();
    let broker = kafkacc_tests::broker();
    println!(
        "broker: {:?} at {} (ready after {:.1?})",
        broker.kind,
        broker.bootstrap,
        started.elapsed()
    );

    let client =
        Client::connect(ClientConfig::new(&broker.bootstrap).client_id("kafkacc-demo")).await?;
    let topic = kafkacc_tests::unique_name("demo-users");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await?;
    println!("created topic {topic} with {PARTITIONS} partitions");

    // Produce: JSON values through a serializer, the user id as key.
    let produce_started = Instant::now();
    let producer = Producer::new(client.clone(), ProducerConfig::default())?;
    let json = JsonSerde;
    let mut deliveries = Vec::with_capacity(count as usize);
    for id in 0..count {
        let user = fake_user(id);
        let value = json.serialize(&topic, &user)?;
        deliveries.push(
            producer
                .send(ProducerRecord::new(&topic).key(id.to_string()).value(value))
                .await?,
        );
    }
    let mut produced: BTreeMap<i32, usize> = BTreeMap::new();
    for d in deliveries {
        *produced.entry(d.await?.partition).or_default() += 1;
    }
    producer.close(Duration::from_secs(10)).await?;
    let produce_time = produce_started.elapsed();
    println!(
        "produced {count} users in {produce_time:.1?}: {}",
        per_partition(&produced)
    );

    // Consume everything back from the beginning.
    let consume_started = Instant::now();
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(&topic, &[]).await?;
    let mut consumed: BTreeMap<i32, usize> = BTreeMap::new();
    let mut samples = Vec::new();
    let mut misplaced = 0;
    let mut total = 0u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while total < count && Instant::now() < deadline {
        for record in consumer.poll(Duration::from_millis(500)).await? {
            total += 1;
            *consumed.entry(record.partition).or_default() += 1;
            let key = record.key.as_deref().unwrap_or_default();
            if partition_for_key(key, PARTITIONS) != record.partition {
                misplaced += 1;
            }
            if samples.len() < 3 {
                let user: User =
                    serde_json::from_slice(record.value.as_deref().unwrap_or_default())?;
                samples.push((record.partition, record.offset, user));
            }
        }
    }
    println!(
        "consumed {total} users in {:.1?}: {}",
        consume_started.elapsed(),
        per_partition(&consumed)
    );
    for (partition, offset, user) in &samples {
        println!(
            "  sample p{partition}@{offset}: {} <{}>, {}",
            user.name, user.email, user.address
        );
    }
    println!(
        "keys on their murmur2 partition: {}/{total}",
        total - misplaced
    );
    println!("total time {:.1?}", started.elapsed());
    client.close();
    if total != count || misplaced != 0 || produced != consumed {
        return Err(
            format!("mismatch: produced {count}, consumed {total}, misplaced {misplaced}").into(),
        );
    }
    println!("OK: produced and consumed counts match");
    Ok(())
}

fn per_partition(counts: &BTreeMap<i32, usize>) -> String {
    counts
        .iter()
        .map(|(p, n)| format!("p{p}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}
