//! Sans-io transaction manager: the transactional producer's state and the
//! coordinator requests it needs, modelled on the Java client's
//! `TransactionManager`. No I/O and no clock: user calls and coordinator
//! responses go in (time as an argument), requests to send come out of
//! [`TxnManager::poll_request`]; `txn_io.rs` carries them out.
//!
//! ```text
//!  Uninitialized ──init──▶ Initializing ──InitProducerId ok──▶ Ready ◀─────────────┐
//!                                                              │ begin              │
//!                                                              ▼                    │ EndTxn ok
//!                       ┌─────────────── abortable error ── InTransaction ──commit──▶ Committing
//!                       ▼                                      │ abort              │
//!                AbortableError ──abort──▶ Aborting ◀──────────┘                    │
//!                                             │ EndTxn ok (an epoch bump first goes │
//!                                             └──── through Initializing) ──────────┘
//!  any state ── fenced / unauthorized / unexpected error ──▶ Fatal (the producer must be closed)
//! ```
//!
//! One request is in flight at a time, chosen by priority: FindCoordinator,
//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn / TxnOffsetCommit,
//! EndTxn. So EndTxn always follows the additions of its transaction.
//!
//! Transaction protocol versions (KIP-890): with v1 the producer registers
//! each partition with AddPartitionsToTxn before its first batch is sent
//! ([`TxnManager::is_send_allowed`]), and offsets with AddOffsetsToTxn. With
//! v2 (`transaction.version` ≥ 2 finalized, EndTxn v5, Produce v12) the
//! broker adds partitions itself, TxnOffsetCommit goes straight to the group
//! coordinator, and every EndTxn answers with a bumped epoch.
//!
//! Error classes follow Java: NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE
//! find the coordinator again; COORDINATOR_LOAD_IN_PROGRESS and
//! CONCURRENT_TRANSACTIONS retry after a backoff; PRODUCER_FENCED and
//! INVALID_PRODUCER_EPOCH are fatal (fenced); authorization failures of the
//! transactional id, INVALID_TXN_STATE and unexpected codes are fatal;
//! topic/group authorization, TRANSACTION_ABORTABLE, a group's
//! generation/member errors and produce failures are abortable. After an
//! abort caused by a sequence error, or one that dropped a batch which had
//! already taken its sequence, protocol v1 bumps the epoch with
//! InitProducerId (KIP-360) before the producer is Ready again.
//!
//! # References
//! FACTS.md §4 (coordinator key types), §9 (codes); KIP-98, KIP-360, KIP-890.

use super::accumulator::TopicPartition;
use super::group_metadata::ConsumerGroupMetadata;
use crate::error::{Error, TransactionErrorKind};
use crate::group::assignor::TopicPartition as OffsetPartition;
use kafkacc_protocol::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// Java's short backoff for AddPartitionsToTxn answered
/// CONCURRENT_TRANSACTIONS (the previous transaction is still completing).
const CONCURRENT_TXN_BACKOFF: Duration = Duration::from_millis(20);

/// What the manager needs from the producer configuration.
#[derive(Debug, Clone)]
pub(crate) struct TxnConfig {
    pub transactional_id: String,
    pub transaction_timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
}

/// Which coordinator a FindCoordinator looks for (its key type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoordinatorType {
    /// Key type 0: a consumer group's coordinator.
    Group,
    /// Key type 1: the transaction coordinator.
    Transaction,
}

impl CoordinatorType {
    /// The wire key type.
    pub(crate) fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
        }
    }
}

/// A coordinator broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coordinator {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl Coordinator {
    /// `host:port`.
    pub(crate) fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    AnyBroker,
    Coordinator(Coordinator),
}

/// A request the manager wants sent; the driver picks the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    FindCoordinator {
        coordinator_type: CoordinatorType,
        key: String,
    },
    InitProducerId {
        transactional_id: String,
        transaction_timeout_ms: i32,
        /// The current id and epoch for an epoch bump (KIP-360), else -1/-1.
        producer_id: i64,
        producer_epoch: i16,
    },
    AddPartitions {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<TopicPartition>,
    },
    AddOffsets {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        group_id: String,
    },
    TxnOffsetCommit {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        group: ConsumerGroupMetadata,
        offsets: BTreeMap<OffsetPartition, i64>,
    },
    EndTxn {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    },
}

impl TxnRequest {
    /// The API name, for logs and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TxnRequest::FindCoordinator { .. } => "FindCoordinator",
            TxnRequest::InitProducerId { .. } => "InitProducerId",
            TxnRequest::AddPartitions { .. } => "AddPartitionsToTxn",
            TxnRequest::AddOffsets { .. } => "AddOffsetsToTxn",
            TxnRequest::TxnOffsetCommit { .. } => "TxnOffsetCommit",
            TxnRequest::EndTxn { .. } => "EndTxn",
        }
    }
}

/// A request and its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub dest: Dest,
    pub request: TxnRequest,
}

/// A coordinator's answer, reduced to what the manager reads (the driver
/// flattens the version differences).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnResponse {
    FindCoordinator {
        error: ErrorCode,
        coordinator: Coordinator,
    },
    InitProducerId {
        error: ErrorCode,
        producer_id: i64,
        producer_epoch: i16,
    },
    AddPartitions {
        results: Vec<(TopicPartition, ErrorCode)>,
    },
    AddOffsets {
        error: ErrorCode,
    },
    TxnOffsetCommit {
        results: Vec<(OffsetPartition, ErrorCode)>,
    },
    EndTxn {
        error: ErrorCode,
        /// v5+ (transaction protocol v2): the id and epoch to use next; -1 before.
        producer_id: i64,
        producer_epoch: i16,
    },
}

/// The manager's state (see the module diagram).
#[derive(Debug, Clone)]
enum State {
    Uninitialized,
    Initializing,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    AbortableError(Error),
    Fatal(Error),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Uninitialized => "Uninitialized",
            State::Initializing => "Initializing",
            State::Ready => "Ready",
            State::InTransaction => "InTransaction",
            State::Committing => "CommittingTransaction",
            State::Aborting => "AbortingTransaction",
            State::AbortableError(_) => "AbortableError",
            State::Fatal(_) => "FatalError",
        }
    }
}

/// The user operation waiting for its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Init,
    SendOffsets,
    Commit,
    Abort,
}

/// A request that went out and is not answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    FindCoordinator(CoordinatorType),
    InitProducerId,
    AddPartitions(Vec<TopicPartition>),
    AddOffsets,
    TxnOffsetCommit,
    EndTxn(bool),
}

/// `send_offsets_to_transaction` in progress.
#[derive(Debug, Clone)]
struct OffsetsJob {
    group: ConsumerGroupMetadata,
    offsets: BTreeMap<OffsetPartition, i64>,
    /// AddOffsetsToTxn answered (or not needed, transaction protocol v2).
    added: bool,
}

/// How an error code is handled (Java's per-handler rules, merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ok,
    /// Find the coordinator again, then retry.
    Recoordinate,
    /// Retry after a backoff.
    Retry,
    Abortable,
    /// Abortable, and the epoch must be bumped before the next transaction.
    AbortableBump,
    Fenced,
    Fatal,
}

/// The transactional producer's state machine.
#[derive(Debug)]
pub(crate) struct TxnManager {
    config: TxnConfig,
    state: State,
    /// Transaction protocol v2 (KIP-890) in use.
    v2: bool,
    identity: Option<(i64, i16)>,
    txn_coordinator: Option<Coordinator>,
    group_coordinator: Option<(String, Coordinator)>,
    /// InitProducerId wanted (first init, or an epoch bump after an abort).
    pending_init: bool,
    /// Partitions written in this transaction that still need
    /// AddPartitionsToTxn (v1 only).
    new_partitions: BTreeSet<TopicPartition>,
    /// Partitions the coordinator knows are in the transaction (v1), or that
    /// were written in it (v2): their batches may be sent.
    partitions_in_txn: BTreeSet<TopicPartition>,
    offsets: Option<OffsetsJob>,
    /// EndTxn wanted: commit (true) or abort.
    end: Option<bool>,
    /// An abort's EndTxn waits until the batches in flight have come back
    /// ([`TxnManager::release_abort`]), so none lands after the marker.
    end_held: bool,
    /// Something was added to the transaction on the coordinator (or, in v2,
    /// written): EndTxn is needed to finish it.
    started: bool,
    /// A sequence/producer-id error asks for a new epoch after the abort (KIP-360).
    bump_after_abort: bool,
    in_flight: Option<(u64, Job)>,
    next_token: u64,
    retry_at: Option<Instant>,
    attempts: u32,
    op: Option<Op>,
    result: Option<Result<(), Error>>,
}

impl TxnManager {
    pub(crate) fn new(config: TxnConfig) -> Self {
        TxnManager {
            config,
            state: State::Uninitialized,
            v2: false,
            identity: None,
            txn_coordinator: None,
            group_coordinator: None,
            pending_init: false,
            new_partitions: BTreeSet::new(),
            partitions_in_txn: BTreeSet::new(),
            offsets: None,
            end: None,
            end_held: false,
            started: false,
            bump_after_abort: false,
            in_flight: None,
            next_token: 0,
            retry_at: None,
            attempts: 0,
            op: None,
            result: None,
        }
    }

    /// The state's name (as Java spells the states), for logs and tests.
    pub(crate) fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Producer id and epoch, once InitProducerId answered.
    pub(crate) fn identity(&self) -> Option<(i64, i16)> {
        self.identity
    }

    /// Whether transaction protocol v2 is in use.
    pub(crate) fn is_v2(&self) -> bool {
        self.v2
    }

    /// Chooses the transaction protocol. Only between transactions: a
    /// transaction finishes with the protocol it started with.
    pub(crate) fn set_v2(&mut self, v2: bool) {
        if matches!(
            self.state,
            State::Uninitialized | State::Initializing | State::Ready
        ) {
            self.v2 = v2;
        }
    }

    /// Whether the transactional id needs its producer id (InitProducerId
    /// not yet sent or answered).
    pub(crate) fn is_uninitialized(&self) -> bool {
        matches!(self.state, State::Uninitialized)
    }

    // ---- user calls ------------------------------------------------------

    /// `init_transactions`: get a producer id and epoch for the
    /// transactional id (fencing older producers with it). Calling it again
    /// while it runs (after a timeout) keeps waiting for the same outcome.
    pub(crate) fn init(&mut self) -> Result<(), Error> {
        match &self.state {
            State::Uninitialized => {
                self.state = State::Initializing;
                self.pending_init = true;
                self.start_op(Op::Init);
                Ok(())
            }
            State::Initializing if self.op == Some(Op::Init) => Ok(()),
            State::Fatal(e) => Err(e.clone()),
            _ => Err(self.invalid("init_transactions")),
        }
    }

    /// `begin_transaction`.
    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        match &self.state {
            State::Ready => {
                self.state = State::InTransaction;
                self.partitions_in_txn.clear();
                self.new_partitions.clear();
                self.started = false;
                Ok(())
            }
            State::Fatal(e) | State::AbortableError(e) => Err(e.clone()),
            _ => Err(self.invalid("begin_transaction")),
        }
    }

    /// A record is about to be appended to `tp`: register the partition
    /// with the transaction (the Java producer's `maybeAddPartition`).
    /// Returns whether an AddPartitionsToTxn became due.
    pub(crate) fn add_partition(&mut self, tp: &TopicPartition) -> Result<bool, Error> {
        match &self.state {
            State::InTransaction => {
                if self.v2 {
                    self.partitions_in_txn.insert(tp.clone());
                    self.started = true;
                    Ok(false)
                } else if !self.partitions_in_txn.contains(tp) && !self.is_being_added(tp) {
                    Ok(self.new_partitions.insert(tp.clone()))
                } else {
                    Ok(false)
                }
            }
            State::Fatal(e) | State::AbortableError(e) => Err(e.clone()),
            _ => Err(self.invalid("send (no transaction begun)")),
        }
    }

    /// Checks, without side effects, that a record may be sent now.
    pub(crate) fn check_send(&self) -> Result<(), Error> {
        match &self.state {
            State::InTransaction => Ok(()),
            State::Fatal(e) | State::AbortableError(e) => Err(e.clone()),
            _ => Err(self.invalid("send (no transaction begun)")),
        }
    }

    /// `send_offsets_to_transaction`: commit `offsets` for `group` as part
    /// of the transaction.
    pub(crate) fn send_offsets(
        &mut self,
        offsets: BTreeMap<OffsetPartition, i64>,
        group: ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        match &self.state {
            State::InTransaction if self.offsets.is_none() && !self.is_busy() => {
                if offsets.is_empty() {
                    self.start_op(Op::SendOffsets);
                    self.finish_op(Ok(()));
                    return Ok(());
                }
                self.offsets = Some(OffsetsJob {
                    group,
                    offsets,
                    added: self.v2,
                });
                if self.v2 {
                    self.started = true;
                }
                self.start_op(Op::SendOffsets);
                Ok(())
            }
            State::InTransaction if self.op == Some(Op::SendOffsets) => Ok(()),
            State::Fatal(e) | State::AbortableError(e) => Err(e.clone()),
            _ => Err(self.invalid("send_offsets_to_transaction")),
        }
    }

    /// `commit_transaction`, once every record of the transaction was
    /// acknowledged (the driver flushes first).
    pub(crate) fn commit(&mut self) -> Result<(), Error> {
        match &self.state {
            State::InTransaction if !self.is_busy() => {
                self.state = State::Committing;
                self.start_op(Op::Commit);
                self.end_or_finish(true);
                Ok(())
            }
            State::Committing if self.op == Some(Op::Commit) => Ok(()),
            State::Fatal(e) | State::AbortableError(e) => Err(e.clone()),
            _ => Err(self.invalid("commit_transaction")),
        }
    }

    /// `abort_transaction`. Records not yet sent are failed by the driver
    /// (see [`TxnManager::unsent_failure`]); AddPartitionsToTxn for them is
    /// no longer needed.
    pub(crate) fn abort(&mut self) -> Result<(), Error> {
        match &self.state {
            State::InTransaction | State::AbortableError(_) => {
                self.state = State::Aborting;
                self.new_partitions.clear();
                self.offsets = None;
                // An operation cut short by the error is over now.
                self.op = None;
                self.result = None;
                self.start_op(Op::Abort);
                let in_flight_add = matches!(
                    self.in_flight,
                    Some((
                        _,
                        Job::AddPartitions(_) | Job::AddOffsets | Job::TxnOffsetCommit
                    ))
                );
                if in_flight_add {
                    // Whatever it adds must be aborted too.
                    self.started = true;
                }
                self.end_held = true;
                self.end_or_finish(false);
                Ok(())
            }
            State::Aborting if self.op == Some(Op::Abort) => Ok(()),
            State::Fatal(e) => Err(e.clone()),
            _ => Err(self.invalid("abort_transaction")),
        }
    }

    /// The aborted transaction's batches in flight have all come back:
    /// EndTxn may go.
    pub(crate) fn release_abort(&mut self) {
        self.end_held = false;
    }

    /// The outcome of the running user operation, once it has one.
    pub(crate) fn take_result(&mut self, op: Op) -> Option<Result<(), Error>> {
        if self.op == Some(op) && self.result.is_some() {
            self.op = None;
            return self.result.take();
        }
        None
    }

    // ---- what the sender asks --------------------------------------------

    /// Whether a batch for `tp` may be sent: the coordinator knows the
    /// partition is in the transaction.
    pub(crate) fn is_send_allowed(&self, tp: &TopicPartition) -> bool {
        matches!(self.state, State::InTransaction | State::Committing)
            && self.partitions_in_txn.contains(tp)
    }

    /// Why batches not yet sent must fail instead, if they must: the
    /// transaction is aborting or broken.
    pub(crate) fn unsent_failure(&self) -> Option<Error> {
        match &self.state {
            State::Aborting => Some(txn_error(
                TransactionErrorKind::Aborted,
                None,
                "the transaction was aborted before the record was sent".into(),
            )),
            State::AbortableError(e) | State::Fatal(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// A batch of the transaction failed with `error`: the transaction can
    /// no longer commit (or, when fenced, the producer is done). Returns the
    /// typed error to report for the batch.
    pub(crate) fn on_batch_failed(&mut self, error: &Error) -> Error {
        if let Error::Transaction { .. } = error {
            return error.clone();
        }
        let code = error.code();
        let class = match code {
            Some(c)
                if c == ErrorCode::PRODUCER_FENCED || c == ErrorCode::INVALID_PRODUCER_EPOCH =>
            {
                Class::Fenced
            }
            Some(c)
                if c == ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                    || c == ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                    || c == ErrorCode::INVALID_TXN_STATE =>
            {
                Class::Fatal
            }
            Some(c)
                if c == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                    || c == ErrorCode::UNKNOWN_PRODUCER_ID
                    || c == ErrorCode::INVALID_PRODUCER_ID_MAPPING =>
            {
                Class::AbortableBump
            }
            _ => Class::Abortable,
        };
        let typed = self.apply_failure(class, code, format!("a batch failed: {error}"));
        typed.unwrap_or_else(|| error.clone())
    }

    /// A batch that already carried a sequence number was dropped unsent
    /// (its transaction aborted): the broker never saw that sequence, so
    /// the partition's next batch would be out of order. Protocol v1 bumps
    /// the epoch after the abort, which restarts every sequence (v2's
    /// EndTxn bumps it anyway).
    pub(crate) fn on_sequence_dropped(&mut self) {
        if !self.v2 {
            self.bump_after_abort = true;
        }
    }

    // ---- requests out, responses in --------------------------------------

    /// The next request to send, if one is due at `now`.
    pub(crate) fn poll_request(&mut self, now: Instant) -> Option<(u64, Outgoing)> {
        if self.in_flight.is_some() || matches!(self.state, State::Fatal(_)) {
            return None;
        }
        if self.retry_at.is_some_and(|at| at > now) {
            return None;
        }
        let (job, outgoing) = self.next_job()?;
        if let Job::AddPartitions(partitions) = &job {
            // In flight now; an answer asking for a retry puts them back.
            for tp in partitions {
                self.new_partitions.remove(tp);
            }
        }
        self.retry_at = None;
        self.next_token += 1;
        let token = self.next_token;
        self.in_flight = Some((token, job));
        Some((token, outgoing))
    }

    /// Whether [`TxnManager::poll_request`] would return a request at `now`.
    pub(crate) fn has_request_due(&self, now: Instant) -> bool {
        self.in_flight.is_none()
            && !matches!(self.state, State::Fatal(_))
            && self.retry_at.is_none_or(|at| at <= now)
            && self.next_job().is_some()
    }

    /// When a retry becomes due, if one waits.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.retry_at.filter(|_| self.in_flight.is_none())
    }

    /// The answer to request `token`.
    pub(crate) fn handle_response(&mut self, now: Instant, token: u64, response: TxnResponse) {
        let Some(job) = self.take_in_flight(token) else {
            return;
        };
        match (job, response) {
            (Job::FindCoordinator(kind), TxnResponse::FindCoordinator { error, coordinator }) => {
                self.on_find_coordinator(now, kind, error, coordinator)
            }
            (
                Job::InitProducerId,
                TxnResponse::InitProducerId {
                    error,
                    producer_id,
                    producer_epoch,
                },
            ) => self.on_init_producer_id(now, error, producer_id, producer_epoch),
            (Job::AddPartitions(partitions), TxnResponse::AddPartitions { results }) => {
                self.on_add_partitions(now, partitions, results)
            }
            (Job::AddOffsets, TxnResponse::AddOffsets { error }) => self.on_add_offsets(now, error),
            (Job::TxnOffsetCommit, TxnResponse::TxnOffsetCommit { results }) => {
                self.on_txn_offset_commit(now, results)
            }
            (
                Job::EndTxn(commit),
                TxnResponse::EndTxn {
                    error,
                    producer_id,
                    producer_epoch,
                },
            ) => self.on_end_txn(now, commit, error, producer_id, producer_epoch),
            (job, response) => {
                tracing::warn!(
                    ?job,
                    ?response,
                    "transaction response does not match its request"
                );
                self.retry(now, false);
            }
        }
    }

    /// Request `token` failed without an answer (connection lost, timeout,
    /// no usable version).
    pub(crate) fn handle_error(&mut self, now: Instant, token: u64, error: Error) {
        let Some(job) = self.take_in_flight(token) else {
            return;
        };
        tracing::debug!(?job, %error, "transaction request failed");
        let unusable = matches!(
            error,
            Error::UnsupportedVersion { .. } | Error::Encode(_) | Error::Config(_)
        );
        if unusable {
            self.fail_fatal(txn_error(
                TransactionErrorKind::Fatal,
                None,
                format!("cannot send a transaction request: {error}"),
            ));
            return;
        }
        // Like Java: a lost coordinator connection means look it up again.
        match job {
            Job::TxnOffsetCommit => self.group_coordinator = None,
            Job::FindCoordinator(_) => {}
            _ => self.txn_coordinator = None,
        }
        self.retry(now, false);
    }

    // ---- internals -------------------------------------------------------

    fn next_job(&self) -> Option<(Job, Outgoing)> {
        let id = self.config.transactional_id.clone();
        let (producer_id, producer_epoch) = self.identity.unwrap_or((-1, -1));
        // Requests for the transaction coordinator look it up first.
        let txn_dest = self.txn_coordinator.clone().map(Dest::Coordinator);
        let find_txn = || self.find(CoordinatorType::Transaction, id.clone());
        if self.pending_init {
            let Some(dest) = txn_dest.clone() else {
                return Some(find_txn());
            };
            let bump = self.identity.filter(|_| self.bump_after_abort);
            let (producer_id, producer_epoch) = bump.unwrap_or((-1, -1));
            let request = TxnRequest::InitProducerId {
                transactional_id: id,
                transaction_timeout_ms: duration_ms(self.config.transaction_timeout),
                producer_id,
                producer_epoch,
            };
            return Some((Job::InitProducerId, out(dest, request)));
        }
        if !self.new_partitions.is_empty() {
            let Some(dest) = txn_dest.clone() else {
                return Some(find_txn());
            };
            let partitions: Vec<TopicPartition> = self.new_partitions.iter().cloned().collect();
            let request = TxnRequest::AddPartitions {
                transactional_id: id,
                producer_id,
                producer_epoch,
                partitions: partitions.clone(),
            };
            return Some((Job::AddPartitions(partitions), out(dest, request)));
        }
        if let Some(job) = &self.offsets {
            if !job.added {
                let Some(dest) = txn_dest.clone() else {
                    return Some(find_txn());
                };
                let request = TxnRequest::AddOffsets {
                    transactional_id: id,
                    producer_id,
                    producer_epoch,
                    group_id: job.group.group_id.clone(),
                };
                return Some((Job::AddOffsets, out(dest, request)));
            }
            let group_coordinator = self
                .group_coordinator
                .as_ref()
                .filter(|(group, _)| *group == job.group.group_id);
            let Some((_, coordinator)) = group_coordinator else {
                return Some(self.find(CoordinatorType::Group, job.group.group_id.clone()));
            };
            let request = TxnRequest::TxnOffsetCommit {
                transactional_id: id,
                producer_id,
                producer_epoch,
                group: job.group.clone(),
                offsets: job.offsets.clone(),
            };
            return Some((
                Job::TxnOffsetCommit,
                out(Dest::Coordinator(coordinator.clone()), request),
            ));
        }
        let commit = self.end.filter(|_| !self.end_held)?;
        let Some(dest) = txn_dest else {
            return Some(find_txn());
        };
        let request = TxnRequest::EndTxn {
            transactional_id: id,
            producer_id,
            producer_epoch,
            commit,
        };
        Some((Job::EndTxn(commit), out(dest, request)))
    }

    fn find(&self, kind: CoordinatorType, key: String) -> (Job, Outgoing) {
        let request = TxnRequest::FindCoordinator {
            coordinator_type: kind,
            key,
        };
        (Job::FindCoordinator(kind), out(Dest::AnyBroker, request))
    }

    fn take_in_flight(&mut self, token: u64) -> Option<Job> {
        match &self.in_flight {
            Some((t, _)) if *t == token => self.in_flight.take().map(|(_, job)| job),
            _ => None,
        }
    }

    fn is_being_added(&self, tp: &TopicPartition) -> bool {
        matches!(&self.in_flight, Some((_, Job::AddPartitions(ps))) if ps.contains(tp))
    }

    fn on_find_coordinator(
        &mut self,
        now: Instant,
        kind: CoordinatorType,
        error: ErrorCode,
        coordinator: Coordinator,
    ) {
        if error.is_ok() {
            self.attempts = 0;
            match kind {
                CoordinatorType::Transaction => self.txn_coordinator = Some(coordinator),
                CoordinatorType::Group => {
                    if let Some(job) = &self.offsets {
                        self.group_coordinator = Some((job.group.group_id.clone(), coordinator));
                    }
                }
            }
            return;
        }
        let class = if error == ErrorCode::GROUP_AUTHORIZATION_FAILED {
            Class::Abortable
        } else if error == ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED {
            Class::Fatal
        } else if error.is_retriable() {
            Class::Retry
        } else {
            Class::Fatal
        };
        self.settle(now, class, error, "FindCoordinator");
    }

    fn on_init_producer_id(&mut self, now: Instant, error: ErrorCode, id: i64, epoch: i16) {
        let class = classify(error);
        if class == Class::Ok {
            self.attempts = 0;
            self.identity = Some((id, epoch));
            self.pending_init = false;
            self.bump_after_abort = false;
            self.state = State::Ready;
            self.finish_op(Ok(()));
            return;
        }
        // An abortable code cannot abort anything while initializing.
        let class = match class {
            Class::Abortable | Class::AbortableBump => Class::Fatal,
            c => c,
        };
        self.settle(now, class, error, "InitProducerId");
    }

    fn on_add_partitions(
        &mut self,
        now: Instant,
        partitions: Vec<TopicPartition>,
        results: Vec<(TopicPartition, ErrorCode)>,
    ) {
        let mut worst = (Class::Ok, ErrorCode::NONE);
        for tp in &partitions {
            let code = results
                .iter()
                .find(|(p, _)| p == tp)
                .map_or(ErrorCode::OPERATION_NOT_ATTEMPTED, |(_, c)| *c);
            let class = if code == ErrorCode::OPERATION_NOT_ATTEMPTED
                || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            {
                Class::Retry
            } else {
                classify(code)
            };
            if severity(class) > severity(worst.0) {
                worst = (class, code);
            }
        }
        let (class, code) = worst;
        if !matches!(self.state, State::InTransaction | State::Committing) {
            // Aborted meanwhile: the partitions are in the transaction on the
            // coordinator, which the abort's EndTxn covers.
            if class == Class::Ok {
                self.started = true;
            }
            return;
        }
        match class {
            Class::Ok => {
                self.attempts = 0;
                self.started = true;
                self.partitions_in_txn.extend(partitions);
            }
            Class::Retry | Class::Recoordinate => {
                // Send them again (adding a partition twice is harmless).
                self.new_partitions.extend(partitions);
                let fast =
                    code == ErrorCode::CONCURRENT_TRANSACTIONS && self.partitions_in_txn.is_empty();
                if fast {
                    self.retry_at = Some(now + CONCURRENT_TXN_BACKOFF);
                } else {
                    self.retry(now, class == Class::Recoordinate);
                }
            }
            _ => self.settle(now, class, code, "AddPartitionsToTxn"),
        }
    }

    fn on_add_offsets(&mut self, now: Instant, error: ErrorCode) {
        let class = classify(error);
        if class == Class::Ok {
            self.attempts = 0;
            self.started = true;
            if let Some(job) = &mut self.offsets {
                job.added = true;
            }
            return;
        }
        self.settle(now, class, error, "AddOffsetsToTxn");
    }

    fn on_txn_offset_commit(&mut self, now: Instant, results: Vec<(OffsetPartition, ErrorCode)>) {
        let mut worst = (Class::Ok, ErrorCode::NONE);
        for (_, code) in &results {
            let class = if *code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                || *code == ErrorCode::REQUEST_TIMED_OUT
            {
                Class::Retry
            } else if *code == ErrorCode::UNKNOWN_MEMBER_ID
                || *code == ErrorCode::ILLEGAL_GENERATION
                || *code == ErrorCode::FENCED_INSTANCE_ID
                || *code == ErrorCode::STALE_MEMBER_EPOCH
                || *code == ErrorCode::FENCED_MEMBER_EPOCH
            {
                // The member lost its partitions: its offsets must not commit.
                Class::Abortable
            } else {
                classify(*code)
            };
            if severity(class) > severity(worst.0) {
                worst = (class, *code);
            }
        }
        let (class, code) = worst;
        if class == Class::Ok {
            self.attempts = 0;
            self.offsets = None;
            self.finish_op(Ok(()));
            return;
        }
        if class == Class::Recoordinate {
            self.group_coordinator = None;
            self.retry(now, false);
            return;
        }
        self.settle(now, class, code, "TxnOffsetCommit");
    }

    fn on_end_txn(&mut self, now: Instant, commit: bool, error: ErrorCode, id: i64, epoch: i16) {
        let class = match classify(error) {
            // Without a producer id the transaction cannot be finished.
            Class::AbortableBump => Class::Fatal,
            c => c,
        };
        if !commit && class == Class::Abortable {
            // The abort itself failed. `apply_failure` leaves an abort in
            // progress alone (a failed batch cannot stop it), which would
            // resend this EndTxn at once: report the error instead, and let
            // the user abort again.
            let e = txn_error(
                TransactionErrorKind::Abortable,
                Some(error),
                format!("EndTxn (abort) failed with {error}"),
            );
            self.state = State::AbortableError(e.clone());
            self.end = None;
            self.retry_at = None;
            self.finish_op(Err(e));
            return;
        }
        if class != Class::Ok {
            self.settle(now, class, error, "EndTxn");
            return;
        }
        self.attempts = 0;
        self.end = None;
        self.started = false;
        self.partitions_in_txn.clear();
        if self.v2 && id >= 0 && epoch >= 0 {
            // KIP-890: every transaction ends with a new epoch.
            self.identity = Some((id, epoch));
        }
        if !commit && self.bump_after_abort && !self.v2 {
            self.state = State::Initializing;
            self.pending_init = true;
            return;
        }
        self.bump_after_abort = false;
        self.state = State::Ready;
        self.finish_op(Ok(()));
    }

    /// Applies a non-Ok class for `api`'s `code`.
    fn settle(&mut self, now: Instant, class: Class, code: ErrorCode, api: &str) {
        match class {
            Class::Ok => {}
            Class::Retry => self.retry(now, false),
            Class::Recoordinate => self.retry(now, true),
            _ => {
                let message = format!("{api} failed with {code}");
                self.apply_failure(class, Some(code), message);
            }
        }
    }

    /// Moves to AbortableError or Fatal for `class`; returns the error.
    fn apply_failure(
        &mut self,
        class: Class,
        code: Option<ErrorCode>,
        message: String,
    ) -> Option<Error> {
        if let State::Fatal(first) = &self.state {
            return Some(first.clone());
        }
        match class {
            Class::Fenced => {
                let e = txn_error(TransactionErrorKind::Fenced, code, message);
                self.fail_fatal(e.clone());
                Some(e)
            }
            Class::Fatal => {
                let e = txn_error(TransactionErrorKind::Fatal, code, message);
                self.fail_fatal(e.clone());
                Some(e)
            }
            Class::Abortable | Class::AbortableBump => {
                let e = txn_error(TransactionErrorKind::Abortable, code, message);
                if class == Class::AbortableBump {
                    self.bump_after_abort = true;
                }
                match self.state {
                    State::InTransaction | State::Committing => {
                        self.state = State::AbortableError(e.clone());
                        self.new_partitions.clear();
                        self.offsets = None;
                        self.end = None;
                        self.retry_at = None;
                        self.finish_op(Err(e.clone()));
                    }
                    State::AbortableError(ref first) => return Some(first.clone()),
                    // Aborting anyway; the abort decides.
                    _ => {}
                }
                Some(e)
            }
            Class::Ok | Class::Retry | Class::Recoordinate => None,
        }
    }

    fn fail_fatal(&mut self, error: Error) {
        if let State::Fatal(_) = self.state {
            return;
        }
        tracing::warn!(%error, state = self.state.name(), "transactional producer failed");
        self.state = State::Fatal(error.clone());
        self.pending_init = false;
        self.new_partitions.clear();
        self.offsets = None;
        self.end = None;
        self.retry_at = None;
        self.finish_op(Err(error));
    }

    fn retry(&mut self, now: Instant, recoordinate: bool) {
        if recoordinate {
            self.txn_coordinator = None;
        }
        let pause = crate::retry::backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            self.attempts,
        );
        self.attempts = self.attempts.saturating_add(1);
        self.retry_at = Some(now + pause);
    }

    /// EndTxn when the transaction has anything on the coordinator, or
    /// straight back to Ready when it is empty.
    fn end_or_finish(&mut self, commit: bool) {
        let needs_end = self.started || !self.partitions_in_txn.is_empty();
        if needs_end {
            self.end = Some(commit);
        } else if !commit && self.bump_after_abort && !self.v2 {
            self.state = State::Initializing;
            self.pending_init = true;
        } else {
            self.state = State::Ready;
            self.finish_op(Ok(()));
        }
    }

    /// Whether a user operation is still waiting for its outcome (one that
    /// finished but whose caller gave up waiting does not count).
    fn is_busy(&self) -> bool {
        self.op.is_some() && self.result.is_none()
    }

    fn start_op(&mut self, op: Op) {
        self.op = Some(op);
        self.result = None;
    }

    fn finish_op(&mut self, result: Result<(), Error>) {
        if self.op.is_some() && self.result.is_none() {
            self.result = Some(result);
        }
    }

    fn invalid(&self, call: &str) -> Error {
        txn_error(
            TransactionErrorKind::InvalidState,
            None,
            format!(
                "{call} is not allowed in state {} (transactional id {})",
                self.state.name(),
                self.config.transactional_id
            ),
        )
    }
}

fn out(dest: Dest, request: TxnRequest) -> Outgoing {
    Outgoing { dest, request }
}

fn txn_error(kind: TransactionErrorKind, code: Option<ErrorCode>, message: String) -> Error {
    Error::Transaction {
        kind,
        code,
        message,
    }
}

fn duration_ms(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// The class of an error code answered by the transaction coordinator.
fn classify(code: ErrorCode) -> Class {
    if code.is_ok() {
        Class::Ok
    } else if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE {
        Class::Recoordinate
    } else if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        || code == ErrorCode::CONCURRENT_TRANSACTIONS
    {
        Class::Retry
    } else if code == ErrorCode::PRODUCER_FENCED || code == ErrorCode::INVALID_PRODUCER_EPOCH {
        Class::Fenced
    } else if code == ErrorCode::UNKNOWN_PRODUCER_ID
        || code == ErrorCode::INVALID_PRODUCER_ID_MAPPING
    {
        Class::AbortableBump
    } else if code == ErrorCode::TRANSACTION_ABORTABLE
        || code == ErrorCode::TOPIC_AUTHORIZATION_FAILED
        || code == ErrorCode::GROUP_AUTHORIZATION_FAILED
    {
        Class::Abortable
    } else {
        // TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
        // INVALID_TXN_STATE and anything unexpected.
        Class::Fatal
    }
}

/// Which of several per-partition outcomes wins.
fn severity(class: Class) -> u8 {
    match class {
        Class::Ok => 0,
        Class::Retry => 1,
        Class::Recoordinate => 2,
        Class::Abortable => 3,
        Class::AbortableBump => 4,
        Class::Fatal => 5,
        Class::Fenced => 6,
    }
}
