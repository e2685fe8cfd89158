//! A consume-transform-produce process for the exactly-once crash test
//! (`tests/tests/it/transactions.rs`): the test kills it with SIGKILL in the
//! middle of a transaction and starts it again.
//!
//! `txn_copier BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID`
//!
//! Reads INPUT in GROUP (read_committed), writes each value with `in-`
//! replaced by `out-` to OUTPUT, and commits the consumed offsets in the
//! same transaction. Prints `open N` once a transaction's N records are
//! written (not yet committed), then `committed N`; it waits a little
//! between the two so a kill lands inside a transaction. Leaves when its
//! stdin closes.

use kafkacc::{
    Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer, OffsetReset, Producer,
    ProducerConfig, ProducerRecord, TopicPartition,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only means nobody listens any more.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, input, output, group, txn_id] = args.as_slice() else {
        return Err("usage: txn_copier BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID".into());
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_on_eof = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        stop_on_eof.store(true, Ordering::SeqCst);
    });

    let client = Client::connect(ClientConfig::new(bootstrap)).await?;
    // Fences an earlier incarnation (aborting its open transaction) before
    // the group hands out the committed offsets.
    let producer = Producer::new(
        client.clone(),
        ProducerConfig::default().transactional_id(txn_id.as_str()),
    )?;
    producer.init_transactions().await?;
    let consumer_config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .read_committed(true);
    let group_config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .enable_auto_commit(false);
    let mut consumer = GroupConsumer::new(client, consumer_config, group_config)?;
    consumer.subscribe(&[input.as_str()])?;
    say("started");

    while !stop.load(Ordering::SeqCst) {
        let records = consumer.poll(Duration::from_millis(300)).await?;
        if records.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut offsets = BTreeMap::new();
        for r in &records {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                .replace("in-", "out-");
            drop(
                producer
                    .send(ProducerRecord::new(output).value(value))
                    .await?,
            );
            offsets.insert(TopicPartition::new(&*r.topic, r.partition), r.offset + 1);
        }
        producer
            .send_offsets_to_transaction(offsets, &consumer.group_metadata())
            .await?;
        producer.flush().await?;
        say(&format!("open {}", records.len()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer.commit_transaction().await?;
        say(&format!("committed {}", records.len()));
    }
    consumer.close().await?;
    producer.close(Duration::from_secs(5)).await?;
    Ok(())
}
