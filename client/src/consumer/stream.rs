//! Records as a [`futures::Stream`], built on [`Consumer::poll`].
//!
//! A stream polls only when it has handed out every record of the last
//! batch, and records it has fetched but not yet yielded go back to the
//! consumer when the stream is dropped: nothing is skipped by taking a few
//! records (`take(n)`) and polling again later.

use super::{Consumer, ConsumerRecord, PartitionRecords};
use crate::error::Result;
use futures::Stream;
use kafkacc_protocol::records::Record;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// How long each poll under a stream waits before polling again (the
/// stream itself never times out).
pub(crate) const STREAM_POLL: Duration = Duration::from_millis(500);

/// A stream's state over a consumer `C`; gives unyielded records back on
/// drop through `give_back`.
pub(crate) struct StreamState<'a, C> {
    pub(crate) consumer: &'a mut C,
    pub(crate) pending: VecDeque<ConsumerRecord>,
    pub(crate) done: bool,
    pub(crate) give_back: fn(&mut C, VecDeque<ConsumerRecord>),
}

impl<C> Drop for StreamState<'_, C> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            (self.give_back)(self.consumer, pending);
        }
    }
}

/// Trait the two consumers implement so one stream serves both.
pub(crate) trait PollSource {
    /// One batch, waiting up to `timeout`.
    fn poll_batch(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<ConsumerRecord>>> + Send;
}

/// The record stream over `state`: yields records one by one, polling
/// when it runs out; after an error that retrying cannot fix (the error is
/// yielded first) the stream ends.
pub(crate) fn record_stream<'a, C: PollSource + Send>(
    state: StreamState<'a, C>,
) -> impl Stream<Item = Result<ConsumerRecord>> + Unpin + Send + 'a {
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            if let Some(record) = s.pending.pop_front() {
                return Some((Ok(record), s));
            }
            match s.consumer.poll_batch(STREAM_POLL).await {
                Ok(records) => s.pending = VecDeque::from(records),
                Err(e) => {
                    s.done = !e.is_retriable();
                    return Some((Err(e), s));
                }
            }
        }
    }))
}

impl PollSource for Consumer {
    fn poll_batch(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<ConsumerRecord>>> + Send {
        self.poll(timeout)
    }
}

impl Consumer {
    /// The records of the assigned partitions as an endless stream, one
    /// record per item, in the order [`Consumer::poll`] returns them.
    ///
    /// Records fetched but not yet yielded when the stream is dropped are
    /// returned by the next poll (or stream). After an error that retrying
    /// cannot fix, the stream yields it and ends.
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafkacc::Consumer) -> kafkacc::Result<()> {
    /// use futures::StreamExt;
    /// let mut records = consumer.stream();
    /// while let Some(record) = records.next().await {
    ///     let record = record?;
    ///     println!("{}/{}@{}", record.topic, record.partition, record.offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&mut self) -> impl Stream<Item = Result<ConsumerRecord>> + Unpin + Send + '_ {
        record_stream(StreamState {
            consumer: self,
            pending: VecDeque::new(),
            done: false,
            give_back: |consumer: &mut Consumer, records| consumer.unread(records),
        })
    }

    /// Puts records back in front of the buffer, to be returned first by
    /// the next poll (records a stream fetched but did not yield), one
    /// vector per run of records of one partition.
    pub(crate) fn unread(&mut self, records: VecDeque<ConsumerRecord>) {
        let mut runs: Vec<(Arc<str>, i32, Vec<Record>)> = Vec::new();
        for record in records {
            if !self
                .assignment
                .contains_key(&(record.topic.to_string(), record.partition))
            {
                continue;
            }
            let ConsumerRecord {
                topic,
                partition,
                offset,
                timestamp,
                key,
                value,
                headers,
            } = record;
            let record = Record {
                offset,
                timestamp,
                key,
                value,
                headers,
            };
            match runs.last_mut() {
                Some((t, p, run)) if *p == partition && *t == topic => run.push(record),
                _ => runs.push((topic, partition, vec![record])),
            }
        }
        for (topic, partition, run) in runs.into_iter().rev() {
            self.buffered
                .push_front(PartitionRecords::from_owned(topic, partition, run));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use futures::StreamExt;

    /// A source that hands out scripted batches, and keeps what is given
    /// back.
    #[derive(Default)]
    struct Scripted {
        batches: VecDeque<Result<Vec<ConsumerRecord>>>,
        given_back: Vec<i64>,
        polls: usize,
    }

    impl PollSource for Scripted {
        fn poll_batch(
            &mut self,
            _timeout: Duration,
        ) -> impl Future<Output = Result<Vec<ConsumerRecord>>> + Send {
            self.polls += 1;
            let next = self.batches.pop_front().unwrap_or(Ok(Vec::new()));
            async move { next }
        }
    }

    fn record(offset: i64) -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp: 0,
            key: None,
            value: None,
            headers: Vec::new(),
        }
    }

    fn stream_over(
        source: &mut Scripted,
    ) -> impl Stream<Item = Result<ConsumerRecord>> + Unpin + '_ {
        record_stream(StreamState {
            consumer: source,
            pending: VecDeque::new(),
            done: false,
            give_back: |s: &mut Scripted, records| {
                s.given_back.extend(records.iter().map(|r| r.offset));
            },
        })
    }

    #[tokio::test]
    async fn take_yields_in_order_across_batches_and_gives_back_the_rest() {
        let mut source = Scripted::default();
        source.batches.push_back(Ok((0..3).map(record).collect()));
        source.batches.push_back(Ok(Vec::new()));
        source.batches.push_back(Ok((3..6).map(record).collect()));
        let offsets: Vec<i64> = stream_over(&mut source)
            .take(4)
            .map(|r| r.map(|r| r.offset).unwrap_or(-1))
            .collect()
            .await;
        assert_eq!(offsets, vec![0, 1, 2, 3]);
        assert_eq!(source.polls, 3, "an empty poll is polled past");
        assert_eq!(source.given_back, vec![4, 5]);
    }

    #[tokio::test]
    async fn a_retriable_error_is_yielded_and_the_stream_goes_on() {
        let mut source = Scripted::default();
        source.batches.push_back(Err(Error::Timeout {
            op: "fetch",
            after: Duration::from_secs(1),
        }));
        source.batches.push_back(Ok(vec![record(7)]));
        let items: Vec<Result<ConsumerRecord>> = stream_over(&mut source).take(2).collect().await;
        assert!(items[0].is_err());
        assert_eq!(items[1].as_ref().map(|r| r.offset).ok(), Some(7));
        assert!(source.given_back.is_empty());
    }

    #[tokio::test]
    async fn a_fatal_error_ends_the_stream() {
        let mut source = Scripted::default();
        source.batches.push_back(Err(Error::Closed));
        source.batches.push_back(Ok(vec![record(1)]));
        let items: Vec<Result<ConsumerRecord>> = stream_over(&mut source).collect().await;
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(Error::Closed)));
        assert_eq!(source.polls, 1);
    }
}
