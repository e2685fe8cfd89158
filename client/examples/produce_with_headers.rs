//! An explicit partition and headers, awaiting each delivery report to
//! print where the record went.
//!
//! `cargo run --example produce_with_headers`

mod common;

use kafkacc::{Admin, Client, ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord};

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let client = Client::connect(ClientConfig::new(&common::bootstrap())).await?;
    // Make sure partition 2 exists; an existing topic is fine.
    let _ = Admin::new(client.clone())
        .create_topics(&[NewTopic::new("events", 3)])
        .await?;
    let producer = Producer::new(client, ProducerConfig::default())?;
    for i in 0..5 {
        let record = ProducerRecord::new("events")
            .partition(2)
            .key(format!("event-{i}"))
            .value(format!("payload {i}"))
            .header("source", "example")
            .header("trace-id", format!("{:016x}", 0xfeed_0000_u64 + i as u64));
        let written = producer.send(record).await?.await?;
        println!(
            "event-{i}: partition {} offset {} timestamp {}",
            written.partition, written.offset, written.timestamp
        );
    }
    Ok(())
}
