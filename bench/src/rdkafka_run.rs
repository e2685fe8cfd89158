//! rdkafka (bundled librdkafka 2.12): its fastest idiomatic paths, a
//! `BaseProducer` with a delivery callback, and a `BaseConsumer` poll loop.
//! Both block, so they run on a blocking thread.

use crate::common::{BoxError, ProduceCase, Settings, payloads};
use crate::measure::{Outcome, Stopwatch};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counts {}

impl ProducerContext for Counts {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

pub fn produce(
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
    case: ProduceCase,
) -> Result<Outcome, BoxError> {
    let producer: BaseProducer<Counts> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", if case.acks_all { "all" } else { "1" })
        .set("linger.ms", settings.linger.as_millis().to_string())
        .set("batch.size", settings.batch_size.to_string())
        .set("compression.type", if case.lz4 { "lz4" } else { "none" })
        .set("enable.idempotence", "false")
        .set("queue.buffering.max.messages", settings.window.to_string())
        .create_with_context(Counts::default())?;
    // Connect and learn the topic's leaders before the clock starts, as the
    // other clients do.
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let values = payloads(settings.size);
    let mut bytes = 0u64;
    let watch = Stopwatch::start();
    for i in 0..settings.records {
        let value = &values[i as usize % values.len()];
        bytes += value.len() as u64;
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let timing = watch.stop();
    let counts = producer.context();
    let records = counts.ok.load(Ordering::Relaxed);
    Ok(Outcome {
        bytes: bytes * records / settings.records.max(1),
        records,
        errors: counts.failed.load(Ordering::Relaxed),
        timing,
    })
}

pub fn consume(bootstrap: &str, topic: &str, settings: &Settings) -> Result<Outcome, BoxError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("peer-bench-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set(
            "fetch.queue.backoff.ms",
            std::env::var("BENCH_RDKAFKA_FETCH_QUEUE_BACKOFF_MS").unwrap_or("10".into()),
        )
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..settings.partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    let (mut records, mut bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(300);
    let watch = Stopwatch::start();
    consumer.assign(&assignment)?;
    while records < settings.records && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                records += 1;
                bytes += message.payload().map_or(0, |v| v.len() as u64);
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    let timing = watch.stop();
    Ok(Outcome {
        records,
        bytes,
        errors: settings.records.saturating_sub(records),
        timing,
    })
}
