//! `kafkacc produce`.

use crate::args::{ClusterArgs, Codec, FakeKind, ProduceArgs};
use crate::{CliError, CliResult, connect, fake_data};
use indicatif::{ProgressBar, ProgressStyle};
use kafkacc::{Acks, Compression, DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use std::io::{BufRead, IsTerminal};
use std::time::{Duration, Instant};

/// Deliveries awaited at a time: enough to keep batches full, bounded so
/// memory stays flat on long inputs.
const WINDOW: usize = 10_000;

pub(crate) async fn run(cluster: &ClusterArgs, args: ProduceArgs) -> CliResult {
    let acks = match args.acks.as_str() {
        "all" | "-1" => Acks::All,
        "1" => Acks::Leader,
        "0" => Acks::None,
        other => {
            return Err(CliError::Usage(format!(
                "--acks must be all, 1 or 0, not {other:?}"
            )));
        }
    };
    let headers: Vec<(String, String)> = args
        .headers
        .iter()
        .map(|h| h.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect::<Option<_>>()
        .ok_or_else(|| CliError::Usage("--header takes KEY=VALUE".into()))?;
    // The input first: a missing file fails before any connection.
    let input_name = match (&args.fake, &args.file) {
        (None, Some(path)) => path.display().to_string(),
        _ => "stdin".to_owned(),
    };
    let mut lines: Box<dyn Iterator<Item = std::io::Result<(Option<String>, String)>>> =
        match (args.fake, &args.file) {
            (Some(FakeKind::Users), _) => Box::new((0..args.count).map(|i| Ok(fake_data::user(i)))),
            (Some(FakeKind::Orders), _) => {
                Box::new((0..args.count).map(|i| Ok(fake_data::order(i))))
            }
            (None, Some(path)) => {
                let file = std::fs::File::open(path).map_err(|e| cannot_read(&input_name, &e))?;
                Box::new(split_lines(
                    std::io::BufReader::new(file),
                    args.key_separator.clone(),
                ))
            }
            (None, None) => Box::new(split_lines(
                std::io::stdin().lock(),
                args.key_separator.clone(),
            )),
        };
    let config = ProducerConfig::default()
        .acks(acks)
        .compression(codec(args.compression));
    let producer = Producer::new(connect(cluster).await?, config)?;
    let progress = progress_bar(args.fake.map(|_| args.count));
    let started = Instant::now();
    let mut pending: std::collections::VecDeque<DeliveryFuture> = std::collections::VecDeque::new();
    let mut sent = 0u64;
    for line in &mut lines {
        let (key, value) = line.map_err(|e| cannot_read(&input_name, &e))?;
        let mut record = ProducerRecord::new(&args.topic).value(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        for (k, v) in &headers {
            record = record.header(k.clone(), v.clone());
        }
        pending.push_back(producer.send(record).await?);
        if pending.len() >= WINDOW {
            if let Some(d) = pending.pop_front() {
                d.await?;
            }
        }
        sent += 1;
        if let Some(p) = &progress {
            p.inc(1);
        }
    }
    for d in pending {
        d.await?;
    }
    producer.close(Duration::from_secs(30)).await?;
    if let Some(p) = progress {
        p.finish();
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "produced {sent} records to {} in {elapsed:.2}s ({:.0} records/s)",
        args.topic,
        sent as f64 / elapsed
    );
    Ok(())
}

/// An input that cannot be opened or read, named.
fn cannot_read(name: &str, e: &std::io::Error) -> CliError {
    CliError::Usage(format!("cannot read {name}: {e}"))
}

fn codec(c: Codec) -> Compression {
    match c {
        Codec::None => Compression::None,
        Codec::Gzip => Compression::Gzip,
        Codec::Snappy => Compression::Snappy,
        Codec::Lz4 => Compression::Lz4,
        Codec::Zstd => Compression::Zstd,
    }
}

/// Lines as (key, value): split at the first separator when one is given.
fn split_lines(
    input: impl BufRead,
    separator: Option<String>,
) -> impl Iterator<Item = std::io::Result<(Option<String>, String)>> {
    input.lines().map(move |line| {
        let line = line?;
        Ok(match &separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k.to_owned()), v.to_owned()),
                None => (None, line),
            },
            None => (None, line),
        })
    })
}

/// A progress bar with records/s, only when stdout is a terminal.
fn progress_bar(total: Option<u64>) -> Option<ProgressBar> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{spinner} {pos}/{len} records {per_sec} [{elapsed_precise}] {wide_bar}",
    )
    .ok()?;
    bar.set_style(style);
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        let input = std::io::Cursor::new("k1:v:1\nno-key\n");
        let got: Vec<_> = split_lines(input, Some(":".into()))
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            got,
            vec![(Some("k1".into()), "v:1".into()), (None, "no-key".into())]
        );
    }
}
