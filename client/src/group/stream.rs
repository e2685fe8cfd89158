//! [`GroupConsumer::stream`]: the group's records as a [`futures::Stream`],
//! built on [`GroupConsumer::poll`] (so rebalances, revocation commits and
//! auto-commits happen as they do between polls).

use super::GroupConsumer;
use super::assignor::TopicPartition;
use crate::consumer::ConsumerRecord;
use crate::consumer::stream::{PollSource, StreamState, record_stream};
use crate::error::Result;
use futures::Stream;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

impl PollSource for GroupConsumer {
    fn poll_batch(
        &mut self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<ConsumerRecord>>> + Send {
        self.poll(timeout)
    }
}

impl GroupConsumer {
    /// The group's records as an endless stream, one record per item, in
    /// the order [`GroupConsumer::poll`] returns them.
    ///
    /// A record counts as consumed (for [`GroupConsumer::commit`],
    /// auto-commit and the commit on revocation) once the stream has
    /// yielded it: records fetched but not yet yielded when the stream is
    /// dropped are returned by the next poll (or stream) instead. After an
    /// error that retrying cannot fix the stream yields it and ends.
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafkacc::GroupConsumer) -> kafkacc::Result<()> {
    /// use futures::StreamExt;
    /// let batch: Vec<_> = consumer.stream().take(100).collect().await;
    /// consumer.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn stream(&mut self) -> impl Stream<Item = Result<ConsumerRecord>> + Unpin + Send + '_ {
        record_stream(StreamState {
            consumer: self,
            pending: VecDeque::new(),
            done: false,
            give_back,
        })
    }
}

/// Undoes a poll's bookkeeping for records the stream did not yield: the
/// consumed position goes back to the first of them, and they return to
/// the fetch buffer.
fn give_back(group: &mut GroupConsumer, records: VecDeque<ConsumerRecord>) {
    let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in &records {
        first
            .entry(TopicPartition::new(&*r.topic, r.partition))
            .or_insert(r.offset);
    }
    for (tp, offset) in first {
        if group.owned.contains(&tp) {
            group.consumed.insert(tp, offset);
        }
    }
    group.consumer.unread(records);
}
