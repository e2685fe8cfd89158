//! One broker's produce *lane*: a task that writes that broker's Produce
//! requests in the order they were made, so the batches a partition has in
//! flight reach the broker in sequence order.
//!
//! A broker handles one request of a connection at a time, and much of its
//! cost is per request, so the lane sends fewer, larger requests when the
//! broker is busy. A request goes out at once when nothing is in flight.
//! Otherwise the requests made meanwhile are merged into one, which goes out
//! when everything in flight has been answered, or earlier, with a free slot,
//! once it is full (at `max_request_size`, or holding a batch of every
//! partition that has another one waiting) and the broker is not queueing:
//! its last answer came about as fast as its fastest recent one. That keeps
//! several requests in flight over a long link, where they pay, and one at a
//! time when the broker itself is the bottleneck, where more would only
//! queue there (and, measured on Kafka 4.1, cost it 2–3× the CPU a record).
//! At most `max_in_flight` requests are unanswered at once (Java's
//! `max.in.flight.requests.per.connection`).

use super::Shared;
use super::accumulator::{Batch, TopicPartition};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Answers remembered to tell the broker's unqueued response time.
const LATENCY_WINDOW: usize = 32;

/// Runs `leader`'s lane until the producer is gone.
pub(super) async fn run(
    weak: Weak<Shared>,
    leader: i32,
    mut requests: UnboundedReceiver<Vec<Batch>>,
) {
    let Some((limit, max_bytes)) = weak
        .upgrade()
        .map(|s| (s.config.max_in_flight.max(1), s.config.max_request_size))
    else {
        return;
    };
    let slots = Arc::new(Semaphore::new(limit));
    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let mut carried: Option<Vec<Batch>> = None;
    loop {
        let first = match carried.take() {
            Some(batches) => batches,
            None => match requests.recv().await {
                Some(batches) => batches,
                None => return,
            },
        };
        let mut gathering = Gathering::new(first, max_bytes);
        let permit = loop {
            while carried.is_none() {
                match requests.try_recv() {
                    Ok(next) => carried = gathering.add(next).err(),
                    Err(_) => break,
                }
            }
            let idle = slots.available_permits() == limit;
            let full = carried.is_some();
            let closed = requests.is_closed() && requests.is_empty();
            if idle || closed || (full && lock(&latencies).unqueued()) {
                match Arc::clone(&slots).acquire_owned().await {
                    Ok(permit) => break permit,
                    Err(_) => return,
                }
            }
            let all_answered = Arc::clone(&slots).acquire_many_owned(limit as u32);
            if full {
                // Full, and the broker is queueing: wait until it caught up.
                if all_answered.await.is_err() {
                    return;
                }
                continue;
            }
            tokio::select! {
                all = all_answered => {
                    if all.is_err() {
                        return;
                    }
                }
                next = requests.recv() => {
                    if let Some(next) = next {
                        carried = gathering.add(next).err();
                    }
                }
            }
        };
        let Some(shared) = weak.upgrade() else { return };
        let abandoned = shared.abandoned.clone();
        let slot = InFlight {
            _permit: permit,
            latencies: Arc::clone(&latencies),
        };
        tokio::select! {
            _ = super::sender::produce(shared, leader, gathering.batches, slot) => {}
            _ = abandoned.cancelled() => {}
        }
    }
}

fn lock(latencies: &Mutex<Latencies>) -> std::sync::MutexGuard<'_, Latencies> {
    latencies.lock().unwrap_or_else(|p| p.into_inner())
}

/// A request's place among those in flight; given back when it is
/// answered (with its response time) or dropped.
pub(super) struct InFlight {
    _permit: OwnedSemaphorePermit,
    latencies: Arc<Mutex<Latencies>>,
}

impl InFlight {
    /// The request was answered `took` after it was written.
    pub(super) fn answered(self, took: Duration) {
        lock(&self.latencies).record(took);
    }
}

/// Recent response times of one lane's requests.
#[derive(Debug, Default)]
struct Latencies {
    recent: VecDeque<Duration>,
}

impl Latencies {
    fn record(&mut self, took: Duration) {
        if self.recent.len() == LATENCY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
    }

    /// Whether the last answer came within 1.5× the fastest recent one: the
    /// broker is not holding requests behind one another (true while
    /// nothing is known).
    fn unqueued(&self) -> bool {
        match (self.recent.back(), self.recent.iter().min()) {
            (Some(last), Some(fastest)) => *last <= *fastest * 3 / 2,
            _ => true,
        }
    }
}

/// What a request is gathered from: a batch bound for one partition.
trait Piece {
    fn partition(&self) -> &TopicPartition;
    /// Encoded bytes.
    fn len(&self) -> usize;
}

impl Piece for Batch {
    fn partition(&self) -> &TopicPartition {
        &self.tp
    }

    fn len(&self) -> usize {
        self.encoded.as_ref().map_or(0, |e| e.len())
    }
}

/// The batches of one request being gathered from queued ones.
struct Gathering<B> {
    batches: Vec<B>,
    bytes: usize,
    max_bytes: usize,
    /// The partitions in `batches`; built when a second request arrives.
    partitions: Option<HashSet<TopicPartition>>,
}

impl<B: Piece> Gathering<B> {
    fn new(batches: Vec<B>, max_bytes: usize) -> Self {
        Gathering {
            bytes: batches.iter().map(B::len).sum(),
            batches,
            max_bytes,
            partitions: None,
        }
    }

    /// Adds `next`'s batches, or hands them back when the request would
    /// pass `max_bytes` or hold two batches of a partition (a partition's
    /// batches go out in order, one per request, as Kafka requires).
    fn add(&mut self, next: Vec<B>) -> Result<(), Vec<B>> {
        let batches = &self.batches;
        let seen = self
            .partitions
            .get_or_insert_with(|| batches.iter().map(|b| b.partition().clone()).collect());
        let next_bytes: usize = next.iter().map(B::len).sum();
        if self.bytes + next_bytes > self.max_bytes
            || next.iter().any(|b| seen.contains(b.partition()))
        {
            return Err(next);
        }
        seen.extend(next.iter().map(|b| b.partition().clone()));
        self.bytes += next_bytes;
        self.batches.extend(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(TopicPartition, usize);

    impl Piece for Fake {
        fn partition(&self) -> &TopicPartition {
            &self.0
        }

        fn len(&self) -> usize {
            self.1
        }
    }

    fn fake(partition: i32, len: usize) -> Fake {
        Fake(
            TopicPartition {
                topic: "t".into(),
                partition,
            },
            len,
        )
    }

    fn partitions(g: &Gathering<Fake>) -> Vec<i32> {
        g.batches.iter().map(|b| b.0.partition).collect()
    }

    #[test]
    fn queued_requests_merge_until_a_partition_repeats() {
        let mut g = Gathering::new(vec![fake(0, 100), fake(1, 100)], 10_000);
        assert!(g.add(vec![fake(2, 100)]).is_ok());
        assert!(g.add(vec![fake(3, 100), fake(4, 100)]).is_ok());
        let refused = g.add(vec![fake(5, 100), fake(1, 100)]);
        assert_eq!(
            refused.map_err(|r| r.len()),
            Err(2),
            "partition 1 already has a batch here: the whole request waits"
        );
        assert_eq!(partitions(&g), vec![0, 1, 2, 3, 4]);
        assert_eq!(g.bytes, 500);
    }

    #[test]
    fn queued_requests_merge_up_to_max_request_size() {
        let mut g = Gathering::new(vec![fake(0, 600)], 1_000);
        assert!(g.add(vec![fake(1, 400)]).is_ok(), "exactly full fits");
        assert!(g.add(vec![fake(2, 1)]).is_err());
        assert_eq!(partitions(&g), vec![0, 1]);
    }

    #[test]
    fn an_answer_slower_than_half_again_the_fastest_means_queueing() {
        let ms = Duration::from_millis;
        let mut l = Latencies::default();
        assert!(l.unqueued(), "nothing known yet");
        l.record(ms(10));
        l.record(ms(14));
        assert!(l.unqueued(), "14 ms is within 1.5 × 10 ms");
        l.record(ms(16));
        assert!(!l.unqueued(), "16 ms is not");
        l.record(ms(11));
        assert!(l.unqueued());
        // The fastest answer ages out of the window.
        for _ in 0..LATENCY_WINDOW {
            l.record(ms(30));
        }
        assert!(l.unqueued(), "30 ms is the new normal");
    }
}
