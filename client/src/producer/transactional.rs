//! The transactional producer's user calls: exactly-once writes across
//! partitions, and consumed offsets committed in the same transaction.
//!
//! Each call hands an event to the transaction manager (`txn.rs`), wakes the
//! transaction task (`txn_io.rs`) and waits, at most `max_block`, for the
//! outcome. A call that timed out may be called again; it keeps waiting for
//! the same operation, as in the Java client.

use super::group_metadata::ConsumerGroupMetadata;
use super::txn::{Op, TxnManager};
use super::{Producer, Shared};
use crate::error::{Error, Result, TransactionErrorKind};
use crate::group::assignor::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::time::Instant;

impl Producer {
    /// Registers the `transactional_id` with its transaction coordinator
    /// (FindCoordinator, then InitProducerId): fences any older producer
    /// with the same id and aborts its open transaction. Call once, before
    /// the first [`Producer::begin_transaction`].
    ///
    /// ```no_run
    /// # async fn demo(client: kafkacc::Client) -> kafkacc::Result<()> {
    /// use kafkacc::{Producer, ProducerConfig, ProducerRecord};
    /// let config = ProducerConfig::default().transactional_id("orders-copier");
    /// let producer = Producer::new(client, config)?;
    /// producer.init_transactions().await?;
    /// producer.begin_transaction()?;
    /// let _ = producer.send(ProducerRecord::new("orders").value("paid")).await?;
    /// producer.commit_transaction().await?; // all or nothing
    /// # Ok(()) }
    /// ```
    pub async fn init_transactions(&self) -> Result<()> {
        let txn = self.txn()?;
        let shared = &self.shared;
        if super::lock(txn).is_uninitialized() {
            let v2 = shared.config.transaction_v2 && super::txn_io::detect_v2(shared).await?;
            let mut manager = super::lock(txn);
            manager.set_v2(v2);
            manager.init()?;
        } else {
            super::lock(txn).init()?;
        }
        shared.wake_txn.notify_one();
        self.wait_for(txn, Op::Init, "init_transactions").await
    }

    /// Starts a transaction: records sent from now until the commit or
    /// abort become visible to read_committed consumers all together, or
    /// never.
    pub fn begin_transaction(&self) -> Result<()> {
        super::lock(self.txn()?).begin()
    }

    /// Adds consumed `offsets` (per partition, the offset of the next record
    /// to read) of `group` to the transaction: they are committed if and
    /// only if the transaction commits. `group` comes from
    /// [`GroupConsumer::group_metadata`](crate::GroupConsumer::group_metadata),
    /// so a member that lost its partitions in a rebalance cannot commit.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: BTreeMap<TopicPartition, i64>,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let txn = self.txn()?;
        super::lock(txn).send_offsets(offsets, group.clone())?;
        self.shared.wake_txn.notify_one();
        self.wait_for(txn, Op::SendOffsets, "send_offsets_to_transaction")
            .await
    }

    /// Sends every record of the transaction, then commits it (EndTxn).
    /// If a record failed, the transaction cannot commit: this returns an
    /// error whose [`recovery`](Error::recovery) is
    /// [`Recovery::AbortTransaction`](crate::Recovery::AbortTransaction)
    /// (call [`Producer::abort_transaction`]) or, when the producer was
    /// fenced, [`Recovery::Fatal`](crate::Recovery::Fatal).
    pub async fn commit_transaction(&self) -> Result<()> {
        let txn = self.txn()?;
        let max_block = self.shared.config.max_block;
        // The records first: EndTxn must follow every write of the
        // transaction. (A repeated call after a timeout skips this.)
        if super::lock(txn).check_send().is_ok() {
            tokio::time::timeout(max_block, self.flush())
                .await
                .map_err(|_| Error::Timeout {
                    op: "commit_transaction (flush)",
                    after: max_block,
                })??;
        }
        super::lock(txn).commit()?;
        self.shared.wake_txn.notify_one();
        self.wait_for(txn, Op::Commit, "commit_transaction").await
    }

    /// Aborts the transaction: records not yet sent fail (with a
    /// [`TransactionErrorKind::Aborted`]
    /// error), those written are hidden from read_committed consumers, and
    /// its offsets are not committed. Also the way out of an abortable error.
    pub async fn abort_transaction(&self) -> Result<()> {
        let txn = self.txn()?;
        let shared = &self.shared;
        let max_block = shared.config.max_block;
        super::lock(txn).abort()?;
        // What is unsent fails now (even when the transaction had nothing
        // on the coordinator yet and is already over); then wait for what
        // is in flight, so no batch lands after the abort marker.
        let aborted = Error::Transaction {
            kind: TransactionErrorKind::Aborted,
            code: None,
            message: "the transaction was aborted before the record was sent".into(),
        };
        super::sender::fail_unsent_batches(shared, &aborted);
        shared.wake_sender.notify_one();
        tokio::time::timeout(max_block, self.flush())
            .await
            .map_err(|_| Error::Timeout {
                op: "abort_transaction (in-flight records)",
                after: max_block,
            })??;
        super::lock(txn).release_abort();
        shared.wake_txn.notify_one();
        self.wait_for(txn, Op::Abort, "abort_transaction").await
    }

    fn txn(&self) -> Result<&Mutex<TxnManager>> {
        self.shared.txn.as_ref().ok_or_else(|| {
            Error::Config("transactions need ProducerConfig::transactional_id".into())
        })
    }

    /// Waits (at most `max_block`) for the outcome of `op`.
    async fn wait_for(&self, txn: &Mutex<TxnManager>, op: Op, name: &'static str) -> Result<()> {
        let shared: &Shared = &self.shared;
        let max_block = shared.config.max_block;
        let deadline = Instant::now() + max_block;
        loop {
            let progress = shared.txn_progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            if let Some(result) = super::lock(txn).take_result(op) {
                return result;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    op: name,
                    after: max_block,
                });
            }
            let _ = tokio::time::timeout_at(deadline, progress).await;
        }
    }
}
