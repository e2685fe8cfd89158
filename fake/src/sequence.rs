//! Idempotent-producer bookkeeping of one partition: per producer id, its
//! epoch and the sequence ranges of its last five batches (Kafka keeps five,
//! matching `max.in.flight.requests.per.connection` <= 5).
//!
//! ```text
//! no entry    --any seq-->          entry(epoch)  (as Kafka: its state may
//!                                                 have gone with retention)
//! older epoch --------------------> INVALID_PRODUCER_EPOCH
//! newer epoch --seq 0-->            reset to that epoch, else OUT_OF_ORDER
//! same epoch  --seq = last + 1-->   append
//!             --same range as one of the last five--> duplicate (original offset)
//!             --anything else-->    OUT_OF_ORDER_SEQUENCE_NUMBER
//! ```

use kafkacc_protocol::ErrorCode;
use std::collections::{HashMap, VecDeque};

/// Batches remembered per producer for duplicate detection.
const REMEMBERED: usize = 5;

#[derive(Debug, Clone, Copy)]
struct Written {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    epoch: i16,
    recent: VecDeque<Written>,
}

/// What the sequence check decided for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Append it.
    Append,
    /// Already written at this base offset: answer without appending.
    Duplicate(i64),
}

/// Producer states of one partition.
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    producers: HashMap<i64, Entry>,
}

/// The last sequence of a batch of `count` offsets starting at `first`,
/// wrapping at `i32::MAX` as Kafka does.
pub(crate) fn last_sequence(first: i32, last_offset_delta: i32) -> i32 {
    let sum = i64::from(first) + i64::from(last_offset_delta);
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

impl Sequences {
    /// Checks a batch of producer `pid`/`epoch` with sequences
    /// `first..=last` without changing anything.
    pub(crate) fn check(
        &self,
        pid: i64,
        epoch: i16,
        first: i32,
        last: i32,
    ) -> Result<Verdict, ErrorCode> {
        let Some(entry) = self.producers.get(&pid) else {
            return Ok(Verdict::Append);
        };
        if epoch < entry.epoch {
            return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if epoch > entry.epoch {
            return if first == 0 {
                Ok(Verdict::Append)
            } else {
                Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        if let Some(w) = entry
            .recent
            .iter()
            .find(|w| w.first_seq == first && w.last_seq == last)
        {
            return Ok(Verdict::Duplicate(w.base_offset));
        }
        match entry.recent.back() {
            Some(w) if next_sequence(w.last_seq) != first => {
                Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
            }
            None if first != 0 => Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            _ => Ok(Verdict::Append),
        }
    }

    /// Records a batch that was appended at `base_offset`.
    pub(crate) fn record(&mut self, pid: i64, epoch: i16, first: i32, last: i32, base_offset: i64) {
        let entry = self.producers.entry(pid).or_insert_with(|| Entry {
            epoch,
            recent: VecDeque::new(),
        });
        if entry.epoch != epoch {
            entry.epoch = epoch;
            entry.recent.clear();
        }
        if entry.recent.len() == REMEMBERED {
            entry.recent.pop_front();
        }
        entry.recent.push_back(Written {
            first_seq: first,
            last_seq: last,
            base_offset,
        });
    }

    /// A transaction marker of `pid` at `epoch`: a newer epoch fences the
    /// older one (sequences restart at 0).
    pub(crate) fn bump_epoch(&mut self, pid: i64, epoch: i16) {
        if let Some(entry) = self.producers.get_mut(&pid) {
            if epoch > entry.epoch {
                entry.epoch = epoch;
                entry.recent.clear();
            }
        } else {
            self.producers.insert(
                pid,
                Entry {
                    epoch,
                    recent: VecDeque::new(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_producer_may_start_anywhere_then_must_follow_on() {
        let mut s = Sequences::default();
        assert_eq!(s.check(1, 0, 0, 4), Ok(Verdict::Append));
        assert_eq!(s.check(1, 0, 3, 4), Ok(Verdict::Append));
        s.record(1, 0, 3, 4, 0);
        assert_eq!(
            s.check(1, 0, 0, 2),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(s.check(1, 0, 5, 5), Ok(Verdict::Append));
    }

    #[test]
    fn duplicates_answer_the_original_offset_and_gaps_are_refused() {
        let mut s = Sequences::default();
        s.record(7, 0, 0, 4, 100);
        s.record(7, 0, 5, 9, 105);
        assert_eq!(s.check(7, 0, 0, 4), Ok(Verdict::Duplicate(100)));
        assert_eq!(s.check(7, 0, 5, 9), Ok(Verdict::Duplicate(105)));
        assert_eq!(s.check(7, 0, 10, 10), Ok(Verdict::Append));
        assert_eq!(
            s.check(7, 0, 11, 12),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let mut s = Sequences::default();
        s.record(7, 1, 0, 0, 0);
        assert_eq!(s.check(7, 0, 1, 1), Err(ErrorCode::INVALID_PRODUCER_EPOCH));
        assert_eq!(s.check(7, 2, 0, 0), Ok(Verdict::Append));
        assert_eq!(
            s.check(7, 2, 1, 1),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
    }

    #[test]
    fn only_five_batches_are_remembered_and_sequences_wrap() {
        let mut s = Sequences::default();
        for i in 0..6 {
            s.record(1, 0, i, i, i64::from(i));
        }
        assert_eq!(
            s.check(1, 0, 0, 0),
            Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(s.check(1, 0, 5, 5), Ok(Verdict::Duplicate(5)));
        assert_eq!(last_sequence(i32::MAX - 1, 3), 1);
        let mut w = Sequences::default();
        w.record(2, 0, i32::MAX - 1, i32::MAX, 0);
        assert_eq!(w.check(2, 0, 0, 0), Ok(Verdict::Append));
    }
}
