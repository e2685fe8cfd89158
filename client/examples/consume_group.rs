//! A group consumer: prints each record with its partition and offset and
//! commits as it goes. Run it in two terminals with the same group to watch
//! the partitions split between them (and move back when one stops).
//!
//! `cargo run --example consume_group [-- TOPIC GROUP]`

mod common;

use kafkacc::group::{GroupConfig, GroupConsumer, RebalanceEvent};
use kafkacc::{Client, ClientConfig, ConsumerConfig, OffsetReset};
use std::time::Duration;

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "users".to_owned());
    let group = args.next().unwrap_or_else(|| "example-group".to_owned());
    let client = Client::connect(ClientConfig::new(&common::bootstrap())).await?;
    let config = ConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest);
    let mut consumer = GroupConsumer::new(client, config, GroupConfig::new(&group))?;
    consumer.subscribe(&[&topic])?;
    println!("consuming {topic} in group {group}; Ctrl-C to stop");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            polled = consumer.poll(Duration::from_millis(500)) => {
                let records = polled?;
                for event in consumer.rebalance_events() {
                    match event {
                        RebalanceEvent::Assigned { generation, partitions } => {
                            println!("generation {generation}: assigned {partitions:?}")
                        }
                        RebalanceEvent::Revoked(parts) => println!("revoked {parts:?}"),
                        RebalanceEvent::Lost(parts) => println!("lost {parts:?}"),
                    }
                }
                for record in records {
                    let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
                    println!("p{}@{}: {value}", record.partition, record.offset);
                }
                consumer.commit_async()?;
            }
        }
    }
    consumer.close().await?; // commits and leaves, so the others take over at once
    Ok(())
}
