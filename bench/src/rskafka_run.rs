//! rskafka 0.6: one `BatchProducer` with a `RecordAggregator` per partition
//! (rskafka has no partitioner), `produce` futures polled together; one
//! `fetch_records` loop per partition for consuming. rskafka always sends
//! acks=all (`PartitionClient::produce` hard-codes -1), so acks=1 is n/a.

use crate::common::{BoxError, ProduceCase, Settings, payloads, sticky_partition};
use crate::measure::{Outcome, Stopwatch};
use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::client::producer::BatchProducerBuilder;
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::record::Record;
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn produce(
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
    case: ProduceCase,
) -> Result<Outcome, BoxError> {
    let client = ClientBuilder::new(vec![bootstrap.to_owned()])
        .build()
        .await?;
    let mut producers = Vec::new();
    for p in 0..settings.partitions {
        let partition = client
            .partition_client(topic, p, UnknownTopicHandling::Retry)
            .await?;
        producers.push(
            BatchProducerBuilder::new(Arc::new(partition))
                .with_linger(settings.linger)
                .with_compression(if case.lz4 {
                    Compression::Lz4
                } else {
                    Compression::NoCompression
                })
                .build(RecordAggregator::new(settings.batch_size)),
        );
    }
    let values = payloads(settings.size);
    let (mut records, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut pending = FuturesUnordered::new();
    let watch = Stopwatch::start();
    for i in 0..settings.records {
        let value = &values[i as usize % values.len()];
        bytes += value.len() as u64;
        let record = Record {
            key: None,
            value: Some(value.to_vec()),
            headers: BTreeMap::new(),
            timestamp: Utc::now(),
        };
        let producer = &producers[sticky_partition(i, settings) as usize];
        pending.push(producer.produce(record));
        if pending.len() >= settings.window {
            match pending.next().await {
                Some(Ok(_)) => records += 1,
                Some(Err(_)) => errors += 1,
                None => {}
            }
        }
    }
    while let Some(r) = pending.next().await {
        match r {
            Ok(_) => records += 1,
            Err(_) => errors += 1,
        }
    }
    let timing = watch.stop();
    Ok(Outcome {
        bytes: bytes * records / settings.records.max(1),
        records,
        errors,
        timing,
    })
}

pub async fn consume(
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
) -> Result<Outcome, BoxError> {
    let client = ClientBuilder::new(vec![bootstrap.to_owned()])
        .build()
        .await?;
    let mut partitions = Vec::new();
    for p in 0..settings.partitions {
        let partition = client
            .partition_client(topic, p, UnknownTopicHandling::Retry)
            .await?;
        let end = partition.get_offset(OffsetAt::Latest).await?;
        let start = partition.get_offset(OffsetAt::Earliest).await?;
        partitions.push((Arc::new(partition), start, end));
    }
    let max_bytes = 1_048_576; // max.partition.fetch.bytes, as the others
    let watch = Stopwatch::start();
    let tasks: Vec<_> = partitions
        .into_iter()
        .map(|(partition, start, end)| {
            tokio::spawn(async move {
                let (mut offset, mut records, mut bytes) = (start, 0u64, 0u64);
                while offset < end {
                    let (batch, _high_watermark) =
                        partition.fetch_records(offset, 1..max_bytes, 500).await?;
                    for r in batch {
                        records += 1;
                        bytes += r.record.value.as_ref().map_or(0, |v| v.len() as u64);
                        offset = r.offset + 1;
                    }
                }
                Ok::<_, rskafka::client::error::Error>((records, bytes))
            })
        })
        .collect();
    let (mut records, mut bytes) = (0u64, 0u64);
    for task in tasks {
        let (r, b) = task.await??;
        records += r;
        bytes += b;
    }
    let timing = watch.stop();
    Ok(Outcome {
        records,
        bytes,
        errors: settings.records.saturating_sub(records),
        timing,
    })
}
