//! Exactly-once consume-transform-produce: reads INPUT in a consumer group
//! (read_committed), upper-cases each value, and writes it to OUTPUT in a
//! transaction that also commits the consumed offsets. Kill it at any
//! moment and start it again: every input record shows up in OUTPUT exactly
//! once for read_committed readers (the restart fences the killed
//! producer and its open transaction is aborted).
//!
//! `cargo run --example transactional_copy [-- INPUT OUTPUT GROUP]`

mod common;

use kafkacc::{
    Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer, OffsetReset, Producer,
    ProducerConfig, ProducerRecord, Recovery, TopicPartition,
};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::main]
async fn main() -> kafkacc::Result<()> {
    let mut args = std::env::args().skip(1);
    let input = args.next().unwrap_or_else(|| "users".to_owned());
    let output = args.next().unwrap_or_else(|| "users-upper".to_owned());
    let group = args
        .next()
        .unwrap_or_else(|| "transactional-copy".to_owned());
    let client = Client::connect(ClientConfig::new(&common::bootstrap())).await?;

    // One transactional id per copier instance: a restarted instance reuses
    // it and so fences its predecessor.
    let config = ProducerConfig::default().transactional_id(format!("{group}-copier"));
    let producer = Producer::new(client.clone(), config)?;
    producer.init_transactions().await?;

    let consumer_config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .read_committed(true);
    // Offsets are committed by the transactions, never by the consumer.
    let group_config = GroupConfig::new(&group).enable_auto_commit(false);
    let mut consumer = GroupConsumer::new(client, consumer_config, group_config)?;
    consumer.subscribe(&[&input])?;
    println!("copying {input} to {output} in group {group}; Ctrl-C to stop");

    loop {
        let records = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            polled = consumer.poll(Duration::from_millis(500)) => polled?,
        };
        if records.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut offsets = BTreeMap::new();
        for record in &records {
            let value =
                String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).to_uppercase();
            let mut out = ProducerRecord::new(&output).value(value);
            if let Some(key) = &record.key {
                out = out.key(key.clone());
            }
            // The delivery futures need no awaiting: the commit fails if
            // any record did.
            drop(producer.send(out).await?);
            let tp = TopicPartition::new(&*record.topic, record.partition);
            offsets.insert(tp, record.offset + 1);
        }
        let result = async {
            producer
                .send_offsets_to_transaction(offsets, &consumer.group_metadata())
                .await?;
            producer.commit_transaction().await
        }
        .await;
        match result {
            Ok(()) => println!("copied {} records", records.len()),
            Err(e) if e.recovery() == Recovery::AbortTransaction => {
                // Nothing of this batch becomes visible, and its offsets are
                // not committed: stop, and a restart reads it again.
                eprintln!("transaction aborted: {e}");
                producer.abort_transaction().await?;
                return Err(e);
            }
            Err(e) => return Err(e), // fenced or fatal: another instance took over
        }
    }
    consumer.close().await?;
    producer.close(Duration::from_secs(5)).await
}
