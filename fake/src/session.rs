//! KIP-227 fetch sessions of one broker: after a full fetch creates a
//! session, incremental fetches name only the partitions whose position
//! changed (plus forgotten ones) and answers leave out partitions with
//! nothing new.
//!
//! ```text
//! id 0, epoch -1  sessionless full fetch (answer: session 0)
//! id 0, epoch 0   new session, full fetch        (answer: new id)
//! id X, epoch 0   close X, new session, full fetch
//! id X, epoch -1  close X, sessionless full fetch
//! id X, epoch N   incremental: N must be the next epoch of X
//! ```

use kafkacc_protocol::Uuid;
use std::collections::{BTreeMap, HashMap};

/// Sessions a broker keeps at most (Kafka's `max.incremental.fetch.session.cache.slots`).
const MAX_SESSIONS: usize = 1000;

/// A partition of a session, identified by (topic name or id, partition).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SessionKey {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// What the session remembers of a partition.
#[derive(Debug, Clone)]
pub(crate) struct SessionPartition {
    pub fetch_offset: i64,
    pub current_leader_epoch: i32,
    pub max_bytes: i32,
    /// (high watermark, last stable offset, log start) last answered.
    pub last_sent: Option<(i64, i64, i64)>,
    /// Order of first appearance (answers keep the request order).
    pub order: u64,
}

/// One session.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    pub next_epoch: i32,
    pub partitions: BTreeMap<SessionKey, SessionPartition>,
    counter: u64,
}

impl FetchSession {
    /// Adds or updates a partition named by a request.
    pub(crate) fn upsert(
        &mut self,
        key: SessionKey,
        fetch_offset: i64,
        current_leader_epoch: i32,
        max_bytes: i32,
    ) {
        self.counter += 1;
        let order = self.counter;
        let entry = self.partitions.entry(key).or_insert(SessionPartition {
            fetch_offset,
            current_leader_epoch,
            max_bytes,
            last_sent: None,
            order,
        });
        entry.fetch_offset = fetch_offset;
        entry.current_leader_epoch = current_leader_epoch;
        entry.max_bytes = max_bytes;
    }

    /// The partitions in request order.
    pub(crate) fn ordered(&self) -> Vec<(SessionKey, SessionPartition)> {
        let mut all: Vec<(SessionKey, SessionPartition)> = self
            .partitions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by_key(|(_, v)| v.order);
        all
    }
}

/// The sessions of every broker.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_id: HashMap<(i32, i32), FetchSession>,
    next_id: i32,
}

impl Sessions {
    /// Opens a session on `broker`; `None` when the cache is full (the
    /// fetch is then answered sessionless, as Kafka does).
    pub(crate) fn open(&mut self, broker: i32) -> Option<i32> {
        if self.by_id.len() >= MAX_SESSIONS {
            return None;
        }
        for _ in 0..16 {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let id = self.next_id;
            if let std::collections::hash_map::Entry::Vacant(slot) = self.by_id.entry((broker, id))
            {
                slot.insert(FetchSession {
                    next_epoch: 1,
                    ..Default::default()
                });
                return Some(id);
            }
        }
        None
    }

    /// Closes a session.
    pub(crate) fn close(&mut self, broker: i32, id: i32) {
        self.by_id.remove(&(broker, id));
    }

    /// A session of `broker`.
    pub(crate) fn get_mut(&mut self, broker: i32, id: i32) -> Option<&mut FetchSession> {
        self.by_id.get_mut(&(broker, id))
    }

    /// Drops every session of `broker` (it was restarted).
    pub(crate) fn clear_broker(&mut self, broker: i32) {
        self.by_id.retain(|(b, _), _| *b != broker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> SessionKey {
        SessionKey {
            topic: "t".to_owned(),
            topic_id: Uuid::ZERO,
            partition: p,
        }
    }

    #[test]
    fn sessions_are_per_broker_and_keep_request_order() {
        let mut s = Sessions::default();
        let a = s.open(1).unwrap();
        let b = s.open(2).unwrap();
        assert_ne!((1, a), (2, b));
        let session = s.get_mut(1, a).unwrap();
        assert_eq!(session.next_epoch, 1);
        session.upsert(key(3), 0, -1, 100);
        session.upsert(key(1), 0, -1, 100);
        session.upsert(key(3), 7, -1, 100);
        let order: Vec<(i32, i64)> = session
            .ordered()
            .iter()
            .map(|(k, p)| (k.partition, p.fetch_offset))
            .collect();
        assert_eq!(order, vec![(3, 7), (1, 0)]);
        assert!(s.get_mut(2, a).is_none() || a == b);
        s.clear_broker(1);
        assert!(s.get_mut(1, a).is_none());
        assert!(s.get_mut(2, b).is_some());
        s.close(2, b);
        assert!(s.get_mut(2, b).is_none());
    }
}
