//! KIP-227 incremental fetch sessions, sans-io: one [`FetchSession`] per
//! broker decides what the next Fetch request to that broker carries and
//! learns from the answer. No tokio, no sockets; `fetch.rs` does the I/O.
//!
//! The broker remembers, per session, the partitions it serves and their
//! fetch parameters (offset, leader epoch, max bytes). An incremental request
//! then lists only the partitions whose parameters changed (a partition that
//! returned data moved its offset, so it is listed again), plus the ones to
//! forget; the answer lists only partitions with news (records, an error, a
//! moved high watermark). A partition left out of an incremental answer had
//! nothing new.
//!
//! ```text
//!   request (session_id, epoch)        meaning
//!   (0, -1)                            sessionless full fetch (Fetch < v7)
//!   (0, 0) or (id, 0)                  full fetch: close `id` if any, open a new session
//!   (id, n > 0)                        incremental fetch in session `id`
//!   (id, -1)                           close session `id` (the consumer closes)
//! ```
//!
//! Epochs count 1, 2, … and wrap from `i32::MAX` to 1 (0 and -1 are
//! reserved). Any doubt about what the broker holds starts over with a full
//! fetch: a session error (FETCH_SESSION_ID_NOT_FOUND opens a fresh one,
//! INVALID_FETCH_SESSION_EPOCH and the rest close the old one too), a
//! failed request, a request whose answer never came (the round was
//! dropped), a topic id that changed. A full answer with session id 0 means
//! the broker keeps no session (unsupported, or out of slots): every fetch
//! stays full, as without sessions.
//!
//! # References
//! KIP-227; `FetchRequest.json` (`SessionId`, `SessionEpoch`,
//! `ForgottenTopicsData`); the Java client's `FetchSessionHandler`.

use kafkacc_protocol::{ErrorCode, Uuid};
use std::collections::BTreeMap;

/// A partition: topic name and partition index.
pub(crate) type Key = (String, i32);

/// What the broker caches of one partition in a session: when any of it
/// changes, an incremental request lists the partition again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FetchState {
    pub topic_id: Uuid,
    pub fetch_offset: i64,
    pub leader_epoch: i32,
    pub max_bytes: i32,
}

/// The session part of one Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub session_id: i32,
    pub epoch: i32,
    /// Every wanted partition is listed (the answer lists them all too).
    pub full: bool,
    /// The partitions the request lists.
    pub send: Vec<(Key, FetchState)>,
    /// Partitions the session drops (incremental requests only), with the
    /// topic id they were cached under.
    pub forget: Vec<(Key, Uuid)>,
}

/// Reserved epochs (KIP-227).
const INITIAL_EPOCH: i32 = 0;
const FINAL_EPOCH: i32 = -1;

/// The epoch after `epoch`: 1, 2, …, `i32::MAX`, 1, …
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

/// One broker's fetch session as this consumer sees it.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    /// The broker's session id; 0 while there is none.
    id: i32,
    /// The epoch of the next request; `INITIAL_EPOCH` asks for a full fetch.
    next_epoch: i32,
    /// The partitions as the broker caches them after the last answered
    /// request.
    cached: BTreeMap<Key, FetchState>,
    /// The request sent and not yet answered: whether it was full, and
    /// the partitions the broker will cache once it succeeds.
    in_flight: Option<(bool, BTreeMap<Key, FetchState>)>,
}

impl FetchSession {
    /// The session id (0: none).
    #[cfg(test)]
    fn id(&self) -> i32 {
        self.id
    }

    /// The request for `wanted`, the partitions to fetch from this broker.
    /// `supported` is false below Fetch v7: sessionless full fetches.
    pub(crate) fn build(
        &mut self,
        wanted: BTreeMap<Key, FetchState>,
        supported: bool,
    ) -> SessionRequest {
        if !supported {
            *self = FetchSession::default();
            return SessionRequest {
                session_id: 0,
                epoch: FINAL_EPOCH,
                full: true,
                send: wanted.into_iter().collect(),
                forget: Vec::new(),
            };
        }
        if self.in_flight.take().is_some() {
            // The last answer never came: what the broker holds is unknown.
            self.start_over();
        }
        let id_changed = wanted.iter().any(|(key, state)| {
            self.cached
                .get(key)
                .is_some_and(|cached| cached.topic_id != state.topic_id)
        });
        if id_changed {
            self.start_over();
        }
        let request = if self.id == 0 || self.next_epoch == INITIAL_EPOCH {
            SessionRequest {
                session_id: self.id,
                epoch: INITIAL_EPOCH,
                full: true,
                send: wanted.iter().map(|(k, s)| (k.clone(), *s)).collect(),
                forget: Vec::new(),
            }
        } else {
            let send = wanted
                .iter()
                .filter(|(key, state)| self.cached.get(*key) != Some(*state))
                .map(|(k, s)| (k.clone(), *s))
                .collect();
            let forget = self
                .cached
                .iter()
                .filter(|(key, _)| !wanted.contains_key(*key))
                .map(|(k, s)| (k.clone(), s.topic_id))
                .collect();
            SessionRequest {
                session_id: self.id,
                epoch: self.next_epoch,
                full: false,
                send,
                forget,
            }
        };
        self.in_flight = Some((request.full, wanted));
        request
    }

    /// The answer to the last built request: its top-level error code and
    /// session id.
    pub(crate) fn handle_response(&mut self, error: ErrorCode, session_id: i32) {
        let Some((full, pending)) = self.in_flight.take() else {
            return;
        };
        if error == ErrorCode::FETCH_SESSION_ID_NOT_FOUND {
            // The broker forgot the session: open a new one.
            *self = FetchSession::default();
            return;
        }
        if !error.is_ok() {
            // INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR and
            // anything else: close this session and open a new one.
            self.start_over();
            return;
        }
        if full {
            self.id = session_id;
            self.next_epoch = if session_id == 0 {
                INITIAL_EPOCH
            } else {
                next_epoch(INITIAL_EPOCH)
            };
        } else {
            self.next_epoch = next_epoch(self.next_epoch);
        }
        self.cached = if self.id == 0 {
            BTreeMap::new()
        } else {
            pending
        };
    }

    /// The last built request failed without an answer (connection error,
    /// timeout): start over, closing the session.
    pub(crate) fn handle_error(&mut self) {
        self.in_flight = None;
        self.start_over();
    }

    /// The session id to close (with epoch -1) when the consumer closes;
    /// the session is forgotten here.
    pub(crate) fn close(&mut self) -> Option<i32> {
        let id = std::mem::take(self).id;
        (id != 0).then_some(id)
    }

    /// The next request is full; it closes the current session, if any.
    fn start_over(&mut self) {
        self.next_epoch = INITIAL_EPOCH;
        self.cached.clear();
    }
}

/// Counters of the Fetch requests a consumer sent, for monitoring (and for
/// tests showing sessions at work).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchSessionStats {
    /// Requests listing every wanted partition (opening a session, or
    /// sessionless when the broker keeps none).
    pub full_fetches: u64,
    /// Requests in an established session, listing only what changed.
    pub incremental_fetches: u64,
    /// Partitions left out of incremental requests because nothing of
    /// theirs changed (summed over requests).
    pub omitted_partitions: u64,
    /// Sessions started over after a session error or a failed request.
    pub session_resets: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(offset: i64) -> FetchState {
        FetchState {
            topic_id: Uuid::ZERO,
            fetch_offset: offset,
            leader_epoch: 0,
            max_bytes: 1024,
        }
    }

    fn key(p: i32) -> Key {
        ("t".to_owned(), p)
    }

    fn wanted(offsets: &[(i32, i64)]) -> BTreeMap<Key, FetchState> {
        offsets.iter().map(|(p, o)| (key(*p), state(*o))).collect()
    }

    fn sent(request: &SessionRequest) -> Vec<i32> {
        request.send.iter().map(|((_, p), _)| *p).collect()
    }

    /// A session opened by a full fetch answered with `id`.
    fn open(id: i32, offsets: &[(i32, i64)]) -> FetchSession {
        let mut session = FetchSession::default();
        let first = session.build(wanted(offsets), true);
        assert!(first.full);
        assert_eq!((first.session_id, first.epoch), (0, 0));
        session.handle_response(ErrorCode::NONE, id);
        session
    }

    #[test]
    fn first_request_is_full_and_opens_a_session() {
        let mut session = open(7, &[(0, 0), (1, 0), (2, 0)]);
        assert_eq!(session.id(), 7);
        let next = session.build(wanted(&[(0, 0), (1, 0), (2, 0)]), true);
        assert!(!next.full);
        assert_eq!((next.session_id, next.epoch), (7, 1));
        assert!(next.send.is_empty(), "nothing changed: nothing listed");
        assert!(next.forget.is_empty());
    }

    #[test]
    fn incremental_lists_changed_added_and_forgotten_partitions() {
        let mut session = open(7, &[(0, 0), (1, 0), (2, 0)]);
        // 0 returned data (offset moved), 1 unchanged, 2 dropped, 3 added.
        let request = session.build(wanted(&[(0, 5), (1, 0), (3, 0)]), true);
        assert!(!request.full);
        assert_eq!(sent(&request), vec![0, 3]);
        assert_eq!(request.forget, vec![(key(2), Uuid::ZERO)]);
        session.handle_response(ErrorCode::NONE, 7);
        // The broker now caches 0@5, 1@0, 3@0.
        let request = session.build(wanted(&[(0, 5), (1, 0), (3, 0)]), true);
        assert_eq!(request.epoch, 2);
        assert!(request.send.is_empty());
        assert!(request.forget.is_empty());
    }

    #[test]
    fn leader_epoch_or_max_bytes_change_relists_a_partition() {
        let mut session = open(7, &[(0, 0), (1, 0)]);
        let mut changed = wanted(&[(0, 0), (1, 0)]);
        if let Some(s) = changed.get_mut(&key(1)) {
            s.leader_epoch = 3;
        }
        let request = session.build(changed, true);
        assert_eq!(sent(&request), vec![1]);
    }

    #[test]
    fn epoch_wraps_to_one() {
        assert_eq!(next_epoch(1), 2);
        assert_eq!(next_epoch(i32::MAX), 1);
        let mut session = open(7, &[(0, 0)]);
        session.next_epoch = i32::MAX;
        let request = session.build(wanted(&[(0, 0)]), true);
        assert_eq!(request.epoch, i32::MAX);
        session.handle_response(ErrorCode::NONE, 7);
        let request = session.build(wanted(&[(0, 0)]), true);
        assert_eq!((request.epoch, request.full), (1, false));
    }

    #[test]
    fn session_id_not_found_opens_a_new_session() {
        let mut session = open(7, &[(0, 0), (1, 0)]);
        session.build(wanted(&[(0, 0), (1, 0)]), true);
        session.handle_response(ErrorCode::FETCH_SESSION_ID_NOT_FOUND, 0);
        let request = session.build(wanted(&[(0, 0), (1, 0)]), true);
        assert!(request.full);
        assert_eq!((request.session_id, request.epoch), (0, 0));
        assert_eq!(sent(&request), vec![0, 1]);
        session.handle_response(ErrorCode::NONE, 9);
        assert_eq!(session.id(), 9);
    }

    #[test]
    fn invalid_epoch_closes_and_reopens_with_a_full_fetch() {
        let mut session = open(7, &[(0, 0), (1, 0)]);
        session.build(wanted(&[(0, 0), (1, 0)]), true);
        session.handle_response(ErrorCode::INVALID_FETCH_SESSION_EPOCH, 7);
        let request = session.build(wanted(&[(0, 0), (1, 0)]), true);
        assert!(request.full);
        // Session 7 is named so the broker closes it before opening anew.
        assert_eq!((request.session_id, request.epoch), (7, 0));
        assert_eq!(sent(&request), vec![0, 1]);
        session.handle_response(ErrorCode::NONE, 8);
        let request = session.build(wanted(&[(0, 0), (1, 0)]), true);
        assert_eq!((request.session_id, request.epoch), (8, 1));
    }

    #[test]
    fn failed_or_unanswered_request_starts_over() {
        let mut session = open(7, &[(0, 0)]);
        session.build(wanted(&[(0, 0)]), true);
        session.handle_error();
        assert!(session.build(wanted(&[(0, 0)]), true).full);

        let mut session = open(7, &[(0, 0)]);
        // Built, never answered (the round was dropped): the next is full.
        session.build(wanted(&[(0, 0)]), true);
        let request = session.build(wanted(&[(0, 0)]), true);
        assert!(request.full);
        assert_eq!(request.session_id, 7);
    }

    #[test]
    fn broker_without_sessions_gets_full_fetches() {
        let mut session = open(0, &[(0, 0), (1, 0)]);
        for _ in 0..3 {
            let request = session.build(wanted(&[(0, 0), (1, 0)]), true);
            assert!(request.full);
            assert_eq!((request.session_id, request.epoch), (0, 0));
            assert_eq!(sent(&request), vec![0, 1]);
            session.handle_response(ErrorCode::NONE, 0);
        }
    }

    #[test]
    fn fetch_below_v7_is_sessionless() {
        let mut session = open(7, &[(0, 0)]);
        let request = session.build(wanted(&[(0, 0)]), false);
        assert!(request.full);
        assert_eq!((request.session_id, request.epoch), (0, -1));
        assert_eq!(session.close(), None);
    }

    #[test]
    fn changed_topic_id_starts_over() {
        let mut session = open(7, &[(0, 0)]);
        let mut recreated = wanted(&[(0, 0)]);
        if let Some(s) = recreated.get_mut(&key(0)) {
            s.topic_id = Uuid([5; 16]);
        }
        let request = session.build(recreated, true);
        assert!(request.full);
        assert_eq!(request.session_id, 7);
    }

    #[test]
    fn close_names_the_open_session_once() {
        let mut session = open(7, &[(0, 0)]);
        assert_eq!(session.close(), Some(7));
        assert_eq!(session.close(), None);
    }
}
