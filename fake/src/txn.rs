//! Transaction coordinator state: per transactional id, the producer id and
//! epoch, and what the open transaction touched.
//!
//! ```text
//! Empty / CompleteCommit / CompleteAbort --AddPartitions/AddOffsets--> Ongoing
//! Ongoing --EndTxn(commit)--> CompleteCommit   (COMMIT markers written)
//! Ongoing --EndTxn(abort) / timeout / InitProducerId--> CompleteAbort (ABORT markers)
//! ```

use std::collections::{BTreeMap, BTreeSet};

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnStatus {
    Empty,
    Ongoing,
    CompleteCommit,
    CompleteAbort,
}

/// One transactional id.
#[derive(Debug, Clone)]
pub(crate) struct TxnMeta {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: u64,
    pub status: TxnStatus,
    /// When the open transaction started (timer clock).
    pub started: u64,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
}

/// Every transactional id the cluster knows. A BTreeMap: transactions
/// that time out in one tick are aborted in id order, so their markers'
/// offsets are the same in every run (a HashMap's order is not).
#[derive(Debug, Default)]
pub(crate) struct Transactions {
    pub by_id: BTreeMap<String, TxnMeta>,
}

impl Transactions {
    /// The transaction of `id` if `producer_id`/`epoch` still own it, else
    /// the error Kafka answers.
    pub(crate) fn owned(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<&mut TxnMeta, kafkacc_protocol::ErrorCode> {
        use kafkacc_protocol::ErrorCode;
        let meta = self
            .by_id
            .get_mut(id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        if meta.producer_id != producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if meta.epoch != epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(meta)
    }
}
