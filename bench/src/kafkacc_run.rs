//! kafkacc: `Producer::send` per record, delivery futures awaited in order;
//! `Consumer::poll_partition` (or `poll`) for consuming.

use crate::common::{BoxError, ProduceCase, Settings, payloads};
use crate::measure::{Outcome, Stopwatch};
use kafkacc::{
    Acks, Admin, Client, ClientConfig, Compression, Consumer, ConsumerConfig, NewTopic,
    OffsetReset, OffsetSpec, Producer, ProducerConfig, ProducerRecord,
};
use std::collections::VecDeque;
use std::time::Duration;

pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) -> Result<(), BoxError> {
    let client = Client::connect(ClientConfig::new(bootstrap)).await?;
    Admin::new(client.clone())
        .create_topic(NewTopic::new(name, partitions))
        .await?;
    client.close();
    Ok(())
}

pub async fn produce(
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
    case: ProduceCase,
) -> Result<Outcome, BoxError> {
    produce_with(ClientConfig::new(bootstrap), topic, settings, case, 5).await
}

/// [`produce`] with a client configuration of its own (a broker address
/// map, say) and `max_in_flight` requests per broker.
pub async fn produce_with(
    client_config: ClientConfig,
    topic: &str,
    settings: &Settings,
    case: ProduceCase,
    max_in_flight: usize,
) -> Result<Outcome, BoxError> {
    let client = Client::connect(client_config).await?;
    let config = ProducerConfig::default()
        .max_in_flight(max_in_flight)
        .acks(if case.acks_all {
            Acks::All
        } else {
            Acks::Leader
        })
        .linger(settings.linger)
        .batch_size(settings.batch_size)
        .compression(if case.lz4 {
            Compression::Lz4
        } else {
            Compression::None
        })
        .idempotence(false);
    let producer = Producer::new(client.clone(), config)?;
    // Learn the topic's leaders before the clock starts, as the others do.
    client.refresh_metadata(&[topic]).await?;
    let values = payloads(settings.size);
    let (mut records, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut pending = VecDeque::with_capacity(settings.window);
    let watch = Stopwatch::start();
    let mut settle = |r: kafkacc::Result<kafkacc::RecordMetadata>, records: &mut u64| match r {
        Ok(_) => *records += 1,
        Err(_) => errors += 1,
    };
    for i in 0..settings.records {
        let value = values[i as usize % values.len()].clone();
        bytes += value.len() as u64;
        let delivery = producer
            .send(ProducerRecord::new(topic).value(value))
            .await?;
        pending.push_back(delivery);
        if pending.len() >= settings.window
            && let Some(oldest) = pending.pop_front()
        {
            settle(oldest.await, &mut records);
        }
    }
    while let Some(d) = pending.pop_front() {
        settle(d.await, &mut records);
    }
    let timing = watch.stop();
    producer.close(Duration::from_secs(10)).await?;
    client.close();
    Ok(Outcome {
        bytes: bytes * records / settings.records.max(1),
        records,
        errors,
        timing,
    })
}

/// Consumes the topic from the start: with `poll_partition`, reading
/// borrowed views (the fast way), or with `poll` and owned records.
pub async fn consume(
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
    owned: bool,
) -> Result<Outcome, BoxError> {
    let client = Client::connect(ClientConfig::new(bootstrap)).await?;
    let config = ConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest);
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(topic, &[]).await?;
    // Start positions looked up before the clock starts, as the rskafka
    // run does.
    for partition in 0..settings.partitions {
        consumer
            .seek_to(topic, partition, OffsetSpec::Earliest)
            .await?;
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let watch = Stopwatch::start();
    while records < settings.records && tokio::time::Instant::now() < deadline {
        if owned {
            for record in consumer.poll(Duration::from_secs(1)).await? {
                records += 1;
                bytes += record.value.as_ref().map_or(0, |v| v.len() as u64);
            }
            continue;
        }
        let Some(run) = consumer.poll_partition(Duration::from_secs(1)).await? else {
            continue;
        };
        for record in &run {
            records += 1;
            bytes += record.value.map_or(0, |v| v.len() as u64);
        }
    }
    let timing = watch.stop();
    client.close();
    Ok(Outcome {
        records,
        bytes,
        errors: settings.records.saturating_sub(records),
        timing,
    })
}
