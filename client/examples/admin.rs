//! Create a topic with partitions and describe it.
//!
//! `cargo run --example admin [-- TOPIC PARTITIONS]`

mod common;

use kafkacc::{Admin, Client, ClientConfig, NewTopic, OffsetSpec};

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "example-topic".to_owned());
    let partitions: i32 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3);
    let admin = Admin::new(Client::connect(ClientConfig::new(&common::bootstrap())).await?);
    match admin.create_topic(NewTopic::new(&topic, partitions)).await {
        Ok(()) => println!("created {topic} with {partitions} partitions"),
        Err(e) if e.code() == Some(kafkacc::protocol::ErrorCode::TOPIC_ALREADY_EXISTS) => {
            println!("{topic} already exists")
        }
        Err(e) => return Err(e),
    }
    let metadata = admin.describe(&[&topic]).await?;
    println!(
        "cluster {:?}, controller {}",
        metadata.cluster_id, metadata.controller_id
    );
    for broker in metadata.brokers.values() {
        println!("  broker {} at {}", broker.node_id, broker.addr());
    }
    let latest = admin.list_offsets(&topic, &[], OffsetSpec::Latest).await?;
    if let Some(info) = metadata.topic(&topic) {
        println!("topic {} (id {})", info.name, info.id);
        for p in &info.partitions {
            let end = latest.get(&p.partition).copied().unwrap_or(-1);
            println!(
                "  partition {}: leader {} replicas {:?} isr {:?} end offset {end}",
                p.partition, p.leader, p.replicas, p.isr
            );
        }
    }
    Ok(())
}
