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
//! - OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for a batch means
//!   the broker's view of this producer diverged (it lost state, or log
//!   retention removed it). The batch fails with that error, and the epoch
//!   is bumped (KIP-360: InitProducerId with the current id and epoch), which
//!   restarts every partition at sequence 0, as the Java client does.

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

    /// Classifies a broker error on a batch.
    pub(crate) fn on_error(&mut self, code: ErrorCode) -> SequenceVerdict {
        if code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
            SequenceVerdict::AlreadyWritten
        } else if code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
            || code == ErrorCode::UNKNOWN_PRODUCER_ID
        {
            // A transactional producer bumps through its transaction
            // manager, after the abort (KIP-360).
            self.bump_required = !self.transactional;
            SequenceVerdict::FailAndBumpEpoch
        } else {
            SequenceVerdict::NotSequenceError
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
        assert!(idem.stamp(&tp(0), 2).unwrap().transactional);
        // The transaction manager bumps the epoch (after the abort); stamping
        // must not stop meanwhile.
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            SequenceVerdict::FailAndBumpEpoch
        );
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
            idem.on_error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
            SequenceVerdict::NotSequenceError
        );
        assert_eq!(
            idem.on_error(ErrorCode::DUPLICATE_SEQUENCE_NUMBER),
            SequenceVerdict::AlreadyWritten
        );
        assert!(idem.is_current(&old));
        assert_eq!(
            idem.on_error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            SequenceVerdict::FailAndBumpEpoch
        );
        assert_eq!(idem.identity(), None, "no sends until the bump");
        assert_eq!(idem.bump_request(), Some((7, 0)));
        assert_eq!(idem.stamp(&tp(0), 1), None);
        idem.set_identity(7, 1);
        assert!(!idem.is_current(&old), "old-epoch batches need re-stamping");
        assert_eq!(
            idem.stamp(&tp(0), 1)
                .map(|s| (s.producer_epoch, s.base_sequence)),
            Some((1, 0))
        );
        assert_eq!(
            idem.on_error(ErrorCode::UNKNOWN_PRODUCER_ID),
            SequenceVerdict::FailAndBumpEpoch
        );
    }
}
