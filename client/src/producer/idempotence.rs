//! Sans-io bookkeeping of the idempotent producer: the producer id and
//! epoch, and the next sequence number of each partition.
//!
//! The broker keeps, per (producer id, partition), the sequence numbers of
//! the last few batches and rejects gaps (OUT_OF_ORDER_SEQUENCE_NUMBER) and
//! answers repeats with the original result. So a batch that is retried
//! with the *same* bytes (same epoch and sequence) is written at most once;
//! that is the whole trick. Rules kept here:
//!
//! - A batch gets its sequence when it is first sent, and keeps it on every
//!   retry (the encoded bytes are reused).
//! - Sequences wrap from `i32::MAX` to 0, as the broker expects.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for a batch that
//!   is not the next one the broker should get (an earlier batch of the
//!   partition is unresolved, or the batch carries an old epoch) is a
//!   retry: it goes again, in order, after the earlier ones.
//! - The same error for the next expected batch means the broker's view of
//!   this producer diverged (it lost state, or log retention removed it).
//!   The batch fails with that error, and the epoch is bumped (KIP-360:
//!   InitProducerId with the current id and epoch), which restarts every
//!   partition at sequence 0, as the Java client does.
//! - A batch that was sent and then failed for another reason (its
//!   delivery timed out) leaves a gap the broker would never accept past:
//!   the epoch is bumped too.

use super::accumulator::TopicPartition;
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::records::ProducerState;
use std::collections::BTreeMap;

/// The producer's identity and per-partition sequences.
#[derive(Debug, Default)]
pub(crate) struct Idempotence {
    /// Producer id and epoch, once InitProducerId answered.
    identity: Option<(i64, i16)>,
    /// Next sequence per partition; absent = 0.
    next_sequence: BTreeMap<TopicPartition, i32>,
    /// Last sequence the broker acknowledged per partition, this epoch.
    last_acked: BTreeMap<TopicPartition, i32>,
    /// Set when a sequence error requires a new epoch before more sends.
    bump_required: bool,
    /// Batches are stamped transactional; the transaction manager (not a
    /// sequence error here) decides about epoch bumps.
    transactional: bool,
}

/// What to do with a batch that failed with a broker error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceVerdict {
    /// Not a sequence problem: handle the error as usual.
    NotSequenceError,
    /// The broker already has this batch: treat it as written.
    AlreadyWritten,
    /// Fail the batch and bump the epoch before sending more.
    FailAndBumpEpoch,
    /// Send the batch again after the partition's earlier batches.
    RetryInOrder,
}

impl Idempotence {
    /// Bookkeeping for a transactional producer.
    pub(crate) fn transactional() -> Self {
        Idempotence {
            transactional: true,
            ..Default::default()
        }
    }

    /// Producer id and epoch, if known and no bump is pending.
    pub(crate) fn identity(&self) -> Option<(i64, i16)> {
        if self.bump_required {
            None
        } else {
            self.identity
        }
    }

    /// The identity to present when asking for a bumped epoch (KIP-360),
    /// or None when a fresh producer id is wanted.
    pub(crate) fn bump_request(&self) -> Option<(i64, i16)> {
        self.identity.filter(|_| self.bump_required)
    }

    /// InitProducerId answered: take the id and epoch, restart sequences.
    pub(crate) fn set_identity(&mut self, producer_id: i64, epoch: i16) {
        if self.identity != Some((producer_id, epoch)) {
            self.next_sequence.clear();
            self.last_acked.clear();
        }
        self.identity = Some((producer_id, epoch));
        self.bump_required = false;
    }

    /// Producer fields for a batch of `records` records about to be sent for
    /// the first time on `tp` (or re-stamped after an epoch bump); advances
    /// the partition's sequence. None until the identity is known.
    pub(crate) fn stamp(&mut self, tp: &TopicPartition, records: usize) -> Option<ProducerState> {
        let (producer_id, producer_epoch) = self.identity()?;
        let next = self.next_sequence.entry(tp.clone()).or_insert(0);
        let base_sequence = *next;
        *next = wrapping_add(base_sequence, records);
        Some(ProducerState {
            producer_id,
            producer_epoch,
            base_sequence,
            transactional: self.transactional,
        })
    }

    /// Whether a batch stamped with `state` is still valid for sending (its
    /// epoch is the current one).
    pub(crate) fn is_current(&self, state: &ProducerState) -> bool {
        self.identity() == Some((state.producer_id, state.producer_epoch))
    }

    /// Classifies a broker error on a batch of `tp` sent with `stamp`.
    pub(crate) fn on_error(
        &mut self,
        code: ErrorCode,
        tp: &TopicPartition,
        stamp: Option<ProducerState>,
    ) -> SequenceVerdict {
        if code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
            SequenceVerdict::AlreadyWritten
        } else if code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
            || code == ErrorCode::UNKNOWN_PRODUCER_ID
        {
            match stamp {
                Some(s) if self.is_current(&s) && self.is_next(tp, s.base_sequence) => {
                    // A transactional producer bumps through its transaction
                    // manager, after the abort (KIP-360).
                    self.bump_required = !self.transactional;
                    SequenceVerdict::FailAndBumpEpoch
                }
                _ => SequenceVerdict::RetryInOrder,
            }
        } else {
            SequenceVerdict::NotSequenceError
        }
    }

    /// Whether `sequence` is the next one the broker expects on `tp`.
    fn is_next(&self, tp: &TopicPartition, sequence: i32) -> bool {
        let expected = self
            .last_acked
            .get(tp)
            .map_or(0, |&last| wrapping_add(last, 1));
        sequence == expected
    }

    /// The broker wrote a batch of `records` records sent with `stamp`.
    pub(crate) fn on_acked(&mut self, tp: &TopicPartition, stamp: ProducerState, records: usize) {
        if self.is_current(&stamp) && records > 0 {
            let last = wrapping_add(stamp.base_sequence, records - 1);
            self.last_acked.insert(tp.clone(), last);
        }
    }

    /// A batch sent with `stamp` failed for good: unless the epoch moved on
    /// already, the partition's sequence now has a gap, so (outside a
    /// transaction, whose manager decides) bump the epoch.
    pub(crate) fn on_sent_batch_failed(&mut self, stamp: ProducerState) {
        if self.is_current(&stamp) && !self.transactional {
            self.bump_required = true;
        }
    }
}

/// Sequence arithmetic modulo 2^31, as the broker does it.
fn wrapping_add(sequence: i32, records: usize) -> i32 {
    let sum = i64::from(sequence) + records as i64;
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition: p,
        }
    }

    #[test]
    fn sequences_advance_per_partition() {
        let mut idem = Idempotence::default();
        assert_eq!(idem.stamp(&tp(0), 3), None, "no identity yet");
        idem.set_identity(7, 0);
        assert_eq!(idem.stamp(&tp(0), 3).map(|s| s.base_sequence), Some(0));
        assert_eq!(idem.stamp(&tp(0), 2).map(|s| s.base_sequence), Some(3));
        assert_eq!(idem.stamp(&tp(1), 1).map(|s| s.base_sequence), Some(0));
        let s = idem.stamp(&tp(0), 1).unwrap();
        assert_eq!(
            (s.producer_id, s.producer_epoch, s.base_sequence),
            (7, 0, 5)
        );
    }

    #[test]
    fn transactional_batches_are_marked_and_sequence_errors_do_not_block() {
        let mut idem = Idempotence::transactional();
        idem.set_identity(7, 0);
        let stamp = idem.stamp(&tp(0), 2).unwrap();
        assert!(stamp.transactional);
        // The transaction manager bumps the epoch (after the abort); stamping
        // must not stop meanwhile.
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, &tp(0), Some(stamp)),
            SequenceVerdict::FailAndBumpEpoch
        );
        assert_eq!(idem.identity(), Some((7, 0)));
        idem.on_sent_batch_failed(stamp);
        assert_eq!(idem.identity(), Some((7, 0)));
        let mut plain = Idempotence::default();
        plain.set_identity(7, 0);
        assert!(!plain.stamp(&tp(0), 1).unwrap().transactional);
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        assert_eq!(wrapping_add(i32::MAX, 1), 0);
        assert_eq!(wrapping_add(i32::MAX - 1, 3), 1);
        assert_eq!(wrapping_add(5, 10), 15);
    }

    #[test]
    fn sequence_errors_bump_the_epoch_and_restart_sequences() {
        let mut idem = Idempotence::default();
        idem.set_identity(7, 0);
        let old = idem.stamp(&tp(0), 10).unwrap();
        assert_eq!(
            idem.on_error(ErrorCode::NOT_LEADER_OR_FOLLOWER, &tp(0), Some(old)),
            SequenceVerdict::NotSequenceError
        );
        assert_eq!(
            idem.on_error(ErrorCode::DUPLICATE_SEQUENCE_NUMBER, &tp(0), Some(old)),
            SequenceVerdict::AlreadyWritten
        );
        assert!(idem.is_current(&old));
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, &tp(0), Some(old)),
            SequenceVerdict::FailAndBumpEpoch
        );
        assert_eq!(idem.identity(), None, "no sends until the bump");
        assert_eq!(idem.bump_request(), Some((7, 0)));
        assert_eq!(idem.stamp(&tp(0), 1), None);
        idem.set_identity(7, 1);
        assert!(!idem.is_current(&old), "old-epoch batches need re-stamping");
        let new = idem.stamp(&tp(0), 1).unwrap();
        assert_eq!((new.producer_epoch, new.base_sequence), (1, 0));
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, &tp(0), Some(old)),
            SequenceVerdict::RetryInOrder,
            "an old-epoch batch is re-stamped and sent again"
        );
        assert_eq!(
            idem.on_error(ErrorCode::UNKNOWN_PRODUCER_ID, &tp(0), Some(new)),
            SequenceVerdict::FailAndBumpEpoch
        );
    }

    #[test]
    fn a_sequence_error_behind_an_unresolved_batch_is_a_retry() {
        let mut idem = Idempotence::default();
        idem.set_identity(7, 0);
        let first = idem.stamp(&tp(0), 3).unwrap();
        let second = idem.stamp(&tp(0), 2).unwrap();
        let third = idem.stamp(&tp(0), 4).unwrap();
        // The first batch's connection broke; the broker saw a gap before
        // the second: it goes again after the first.
        assert_eq!(
            idem.on_error(
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                &tp(0),
                Some(second)
            ),
            SequenceVerdict::RetryInOrder
        );
        assert_eq!(idem.identity(), Some((7, 0)), "no bump for a retry");
        idem.on_acked(&tp(0), first, 3);
        // Now the second is next: the same error means the broker lost us.
        assert_eq!(
            idem.on_error(
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                &tp(1),
                Some(second)
            ),
            SequenceVerdict::RetryInOrder,
            "acks are per partition"
        );
        idem.on_acked(&tp(0), second, 2);
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, &tp(0), Some(third)),
            SequenceVerdict::FailAndBumpEpoch
        );
    }

    #[test]
    fn a_sent_batch_that_fails_for_good_bumps_the_epoch() {
        let mut idem = Idempotence::default();
        idem.set_identity(7, 0);
        let stamp = idem.stamp(&tp(0), 3).unwrap();
        idem.on_sent_batch_failed(stamp);
        assert_eq!(idem.bump_request(), Some((7, 0)));
        idem.set_identity(7, 1);
        idem.on_sent_batch_failed(stamp);
        assert_eq!(idem.bump_request(), None, "an old epoch's gap is gone");
    }

    #[test]
    fn the_next_expected_sequence_wraps() {
        let mut idem = Idempotence::default();
        idem.set_identity(7, 0);
        let at_max = ProducerState {
            producer_id: 7,
            producer_epoch: 0,
            base_sequence: i32::MAX - 1,
            transactional: false,
        };
        idem.on_acked(&tp(0), at_max, 2);
        assert!(idem.is_next(&tp(0), 0));
        assert!(!idem.is_next(&tp(0), i32::MAX));
    }
}
