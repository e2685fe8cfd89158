//! `kafkacc consume`.

use crate::args::{ClusterArgs, ConsumeArgs, Format};
use crate::{CliError, CliResult, connect};
use kafkacc::group::{GroupConfig, GroupConsumer};
use kafkacc::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, OffsetSpec};
use std::io::Write;
use std::time::Duration;

/// Where reading starts.
enum Start {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

fn parse_start(from: &str) -> Result<Start, CliError> {
    match from {
        "beginning" => Ok(Start::Beginning),
        "end" => Ok(Start::End),
        ts if ts.starts_with('@') => ts[1..]
            .parse()
            .map(Start::Timestamp)
            .map_err(|_| bad_start(from)),
        offset => offset
            .parse()
            .map(Start::Offset)
            .map_err(|_| bad_start(from)),
    }
}

fn bad_start(from: &str) -> CliError {
    CliError::Usage(format!(
        "--from takes beginning, end, an offset or @TIMESTAMP_MS, not {from:?}"
    ))
}

pub(crate) async fn run(cluster: &ClusterArgs, args: ConsumeArgs) -> CliResult {
    if let Some(group) = args.group.clone() {
        return run_in_group(cluster, &group, args).await;
    }
    let start = parse_start(&args.from)?;
    let client = connect(cluster).await?;
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Latest)
        .fetch_max_wait(Duration::from_millis(250));
    let mut consumer = Consumer::new(client, config);
    consumer.assign(&args.topic, &args.partition).await?;
    for (topic, partition) in consumer.assignment() {
        match start {
            Start::Beginning => {
                consumer
                    .seek_to(&topic, partition, OffsetSpec::Earliest)
                    .await?
            }
            Start::End => {
                consumer
                    .seek_to(&topic, partition, OffsetSpec::Latest)
                    .await?
            }
            Start::Timestamp(ts) => {
                consumer
                    .seek_to(&topic, partition, OffsetSpec::Timestamp(ts))
                    .await?
            }
            Start::Offset(offset) => consumer.seek(&topic, partition, offset)?,
        }
    }
    let stdout = std::io::stdout();
    let mut seen = 0u64;
    loop {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        let mut out = stdout.lock();
        for record in &records {
            print_record(&mut out, record, args.format)?;
            seen += 1;
            if args.count.is_some_and(|c| seen >= c) {
                return Ok(());
            }
        }
        out.flush()?;
        if args.exit_at_end && at_end(&consumer) {
            return Ok(());
        }
    }
}

/// Consumes as a group member: partitions come from the group, reading
/// resumes at the group's committed offsets (else `--from beginning|end`),
/// and offsets are committed after each batch printed. With `-c N` it stops
/// after the N-th record, and the group's offsets point just past it.
async fn run_in_group(cluster: &ClusterArgs, group: &str, args: ConsumeArgs) -> CliResult {
    let reset = match args.from.as_str() {
        "beginning" => OffsetReset::Earliest,
        "end" => OffsetReset::Latest,
        other => {
            return Err(CliError::Usage(format!(
                "with -G, --from takes beginning or end (where the group starts on \
                 partitions it has no committed offset for), not {other:?}; to start \
                 a group at an offset or a time, run `kafkacc groups reset-offsets \
                 {group} -t {} --to OFFSET|@MS` first",
                args.topic
            )));
        }
    };
    let config = ConsumerConfig::default()
        .auto_offset_reset(reset)
        .fetch_max_wait(Duration::from_millis(250));
    let max_poll_records = config.max_poll_records;
    let client = connect(cluster).await?;
    let mut consumer = GroupConsumer::new(client, config, GroupConfig::new(group))?;
    consumer.subscribe(&[&args.topic])?;
    let stdout = std::io::stdout();
    let mut seen = 0u64;
    let mut idle_since: Option<std::time::Instant> = None;
    let result: CliResult = loop {
        if let Some(count) = args.count {
            // No more than the records still wanted: the group's position
            // (committed below and on close) stays just past the last one
            // printed.
            consumer.set_max_poll_records(as_len(count - seen).min(max_poll_records));
        }
        let records = match consumer.poll(Duration::from_millis(500)).await {
            Ok(r) => r,
            Err(e) => break Err(e.into()),
        };
        {
            let mut out = stdout.lock();
            for record in &records {
                print_record(&mut out, record, args.format)?;
            }
            out.flush()?;
        }
        seen += records.len() as u64;
        if args.count.is_some_and(|c| seen >= c) {
            break Ok(());
        }
        if let Err(e) = consumer.commit().await {
            break Err(e.into());
        }
        let joined = !consumer.assignment().is_empty();
        if records.is_empty() && joined {
            let since = *idle_since.get_or_insert_with(std::time::Instant::now);
            if args.exit_at_end && since.elapsed() >= Duration::from_secs(2) {
                break Ok(());
            }
        } else {
            idle_since = None;
        }
    };
    // Closing commits the position after the records returned (all printed).
    consumer.close().await?;
    result
}

/// `n` as a slice length (saturating: a count beyond memory is no limit).
fn as_len(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Whether every assigned partition has been read up to its high watermark.
fn at_end(consumer: &Consumer) -> bool {
    consumer.assignment().iter().all(|(t, p)| {
        match (consumer.position(t, *p), consumer.high_watermark(t, *p)) {
            (Some(position), Some(end)) => position >= end,
            _ => false,
        }
    })
}

fn print_record(out: &mut impl Write, r: &ConsumerRecord, format: Format) -> std::io::Result<()> {
    let text = |b: &Option<bytes::Bytes>| {
        b.as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    match format {
        Format::Value => writeln!(out, "{}", text(&r.value).unwrap_or_default()),
        Format::Kv => writeln!(
            out,
            "{}:{}",
            text(&r.key).unwrap_or_default(),
            text(&r.value).unwrap_or_default()
        ),
        Format::Json => {
            let headers: Vec<serde_json::Value> = r
                .headers
                .iter()
                .map(|h| {
                    serde_json::json!([
                        h.key.as_str(),
                        h.value
                            .as_deref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    ])
                })
                .collect();
            let line = serde_json::json!({
                "topic": &*r.topic, "partition": r.partition, "offset": r.offset, "timestamp": r.timestamp,
                "key": text(&r.key), "value": text(&r.value), "headers": headers,
            });
            writeln!(out, "{line}")
        }
    }
}
