//! Unit tests of the transaction manager (`txn.rs`): every state transition
//! and every error class, driven by scripted coordinator answers. No broker,
//! no sleeps: time is an argument.

use super::accumulator::TopicPartition;
use super::group_metadata::ConsumerGroupMetadata;
use super::txn::{
    Coordinator, CoordinatorType, Dest, Op, TxnConfig, TxnManager, TxnRequest, TxnResponse,
};
use crate::error::{Error, Recovery, TransactionErrorKind};
use crate::group::assignor::TopicPartition as OffsetPartition;
use kafkacc_protocol::ErrorCode;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Expected outcomes in the error-class tables: the operation fails with
/// this kind of transaction error.
const FENCED: Option<TransactionErrorKind> = Some(TransactionErrorKind::Fenced);
const FATAL: Option<TransactionErrorKind> = Some(TransactionErrorKind::Fatal);
const ABORTABLE: Option<TransactionErrorKind> = Some(TransactionErrorKind::Abortable);

const PID: i64 = 7;
const EPOCH: i16 = 3;
/// Later than any backoff the manager may choose.
const LATER: Duration = Duration::from_secs(5);

fn manager(v2: bool) -> TxnManager {
    let mut m = TxnManager::new(TxnConfig {
        transactional_id: "tx".into(),
        transaction_timeout: Duration::from_secs(60),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_secs(1),
    });
    m.set_v2(v2);
    m
}

fn txn_coordinator() -> Coordinator {
    Coordinator {
        node_id: 1,
        host: "txn-host".into(),
        port: 9092,
    }
}

fn group_coordinator() -> Coordinator {
    Coordinator {
        node_id: 2,
        host: "group-host".into(),
        port: 9093,
    }
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition {
        topic: "out".into(),
        partition: p,
    }
}

fn group() -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        group_id: "g".into(),
        generation_id: 4,
        member_id: "m-1".into(),
        group_instance_id: Some("i-1".into()),
    }
}

fn offsets() -> BTreeMap<OffsetPartition, i64> {
    BTreeMap::from([(OffsetPartition::new("in", 0), 42)])
}

/// The request due now; fails the test when there is none.
fn next(m: &mut TxnManager, now: Instant) -> (u64, Dest, TxnRequest) {
    let (token, out) = m
        .poll_request(now)
        .unwrap_or_else(|| panic!("a request is due in state {}", m.state_name()));
    (token, out.dest, out.request)
}

fn found(coordinator: Coordinator) -> TxnResponse {
    TxnResponse::FindCoordinator {
        error: ErrorCode::NONE,
        coordinator,
    }
}

fn init_answer(error: ErrorCode, epoch: i16) -> TxnResponse {
    TxnResponse::InitProducerId {
        error,
        producer_id: PID,
        producer_epoch: epoch,
    }
}

fn add_answer(partitions: &[TopicPartition], error: ErrorCode) -> TxnResponse {
    TxnResponse::AddPartitions {
        results: partitions.iter().map(|p| (p.clone(), error)).collect(),
    }
}

fn end_answer(error: ErrorCode) -> TxnResponse {
    TxnResponse::EndTxn {
        error,
        producer_id: -1,
        producer_epoch: -1,
    }
}

fn assert_done(result: Option<Result<(), Error>>) {
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
}

fn kind(result: Option<Result<(), Error>>) -> Option<TransactionErrorKind> {
    result
        .expect("the operation finished")
        .expect_err("the operation failed")
        .transaction_kind()
}

/// init_transactions through FindCoordinator and InitProducerId.
fn ready(v2: bool, now: Instant) -> TxnManager {
    let mut m = manager(v2);
    m.init().unwrap();
    assert_eq!(m.state_name(), "Initializing");
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::AnyBroker);
    assert_eq!(
        req,
        TxnRequest::FindCoordinator {
            coordinator_type: CoordinatorType::Transaction,
            key: "tx".into()
        }
    );
    assert!(
        m.poll_request(now).is_none(),
        "one request in flight at a time"
    );
    m.handle_response(now, t, found(txn_coordinator()));
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::Coordinator(txn_coordinator()));
    assert_eq!(
        req,
        TxnRequest::InitProducerId {
            transactional_id: "tx".into(),
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
        }
    );
    assert!(m.take_result(Op::Init).is_none(), "not done yet");
    m.handle_response(now, t, init_answer(ErrorCode::NONE, EPOCH));
    assert_done(m.take_result(Op::Init));
    assert_eq!(m.state_name(), "Ready");
    assert_eq!(m.identity(), Some((PID, EPOCH)));
    assert!(m.poll_request(now).is_none());
    m
}

/// A v1 transaction with `partitions` added and acknowledged.
fn in_transaction_v1(partitions: &[TopicPartition], now: Instant) -> TxnManager {
    let mut m = ready(false, now);
    m.begin().unwrap();
    for p in partitions {
        m.add_partition(p).unwrap();
    }
    let (t, _, _) = next(&mut m, now);
    m.handle_response(now, t, add_answer(partitions, ErrorCode::NONE));
    m
}

#[test]
fn init_gets_a_producer_id_from_the_transaction_coordinator() {
    let now = Instant::now();
    let m = ready(false, now);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn init_retries_and_refinds_the_coordinator() {
    let t0 = Instant::now();
    let mut m = manager(false);
    m.init().unwrap();
    let (t, _, _) = next(&mut m, t0);
    m.handle_response(t0, t, found(txn_coordinator()));
    // Loading and concurrent transactions: the same request after a backoff.
    for (i, code) in [
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::CONCURRENT_TRANSACTIONS,
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0 + LATER * (i as u32 + 1);
        let (t, _, req) = next(&mut m, at);
        assert!(matches!(req, TxnRequest::InitProducerId { .. }));
        m.handle_response(at, t, init_answer(code, 0));
        assert!(m.poll_request(at).is_none(), "backs off after {code}");
        assert!(m.poll_timeout().is_some_and(|due| due > at));
    }
    // The coordinator moved: FindCoordinator again.
    let t1 = t0 + 3 * LATER;
    let (t, _, _) = next(&mut m, t1);
    m.handle_response(t1, t, init_answer(ErrorCode::NOT_COORDINATOR, 0));
    let (t, dest, req) = next(&mut m, t1 + LATER);
    assert_eq!(dest, Dest::AnyBroker);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    // FindCoordinator itself: COORDINATOR_NOT_AVAILABLE retries.
    m.handle_response(
        t1 + LATER,
        t,
        TxnResponse::FindCoordinator {
            error: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            coordinator: txn_coordinator(),
        },
    );
    let t2 = t1 + 3 * LATER;
    let (t, _, req) = next(&mut m, t2);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.handle_response(t2, t, found(txn_coordinator()));
    let (t, _, _) = next(&mut m, t2);
    // A lost connection also means: find the coordinator again.
    m.handle_error(
        t2,
        t,
        Error::Disconnected {
            addr: "txn-host:9092".into(),
            reason: "reset".into(),
        },
    );
    let (t, _, req) = next(&mut m, t2 + LATER);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.handle_response(t2 + LATER, t, found(txn_coordinator()));
    let (t, _, _) = next(&mut m, t2 + LATER);
    m.handle_response(t2 + LATER, t, init_answer(ErrorCode::NONE, 0));
    assert_done(m.take_result(Op::Init));
}

#[test]
fn init_errors_that_are_fatal() {
    let now = Instant::now();
    for (code, expected) in [
        (ErrorCode::PRODUCER_FENCED, TransactionErrorKind::Fenced),
        (
            ErrorCode::INVALID_PRODUCER_EPOCH,
            TransactionErrorKind::Fenced,
        ),
        (
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            TransactionErrorKind::Fatal,
        ),
        (
            ErrorCode::INVALID_TRANSACTION_TIMEOUT,
            TransactionErrorKind::Fatal,
        ),
        (
            ErrorCode::TRANSACTION_ABORTABLE,
            TransactionErrorKind::Fatal,
        ),
    ] {
        let mut m = manager(false);
        m.init().unwrap();
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, found(txn_coordinator()));
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, init_answer(code, 0));
        let result = m.take_result(Op::Init);
        assert_eq!(kind(result.clone()), Some(expected), "{code}");
        assert_eq!(result.unwrap().unwrap_err().recovery(), Recovery::Fatal);
        assert_eq!(m.state_name(), "FatalError");
        assert!(
            m.poll_request(now + LATER).is_none(),
            "nothing more is sent"
        );
        // Every later call reports the fatal error.
        assert_eq!(m.begin().unwrap_err().transaction_kind(), Some(expected));
        assert_eq!(m.init().unwrap_err().transaction_kind(), Some(expected));
        assert!(m.unsent_failure().is_some());
    }
}

#[test]
fn find_coordinator_errors() {
    let now = Instant::now();
    let mut m = manager(false);
    m.init().unwrap();
    let (t, _, _) = next(&mut m, now);
    m.handle_response(
        now,
        t,
        TxnResponse::FindCoordinator {
            error: ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            coordinator: txn_coordinator(),
        },
    );
    assert_eq!(
        kind(m.take_result(Op::Init)),
        Some(TransactionErrorKind::Fatal)
    );

    // A group coordinator the producer may not see: abortable.
    let mut m = ready(false, now);
    m.begin().unwrap();
    m.send_offsets(offsets(), group()).unwrap();
    let (t, _, _) = next(&mut m, now);
    m.handle_response(
        now,
        t,
        TxnResponse::AddOffsets {
            error: ErrorCode::NONE,
        },
    );
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(
        req,
        TxnRequest::FindCoordinator {
            coordinator_type: CoordinatorType::Group,
            ..
        }
    ));
    m.handle_response(
        now,
        t,
        TxnResponse::FindCoordinator {
            error: ErrorCode::GROUP_AUTHORIZATION_FAILED,
            coordinator: group_coordinator(),
        },
    );
    assert_eq!(
        kind(m.take_result(Op::SendOffsets)),
        Some(TransactionErrorKind::Abortable)
    );
    assert_eq!(m.state_name(), "AbortableError");
}

#[test]
fn v1_partition_waits_for_add_partitions_to_txn() {
    let now = Instant::now();
    let mut m = ready(false, now);
    assert!(m.check_send().is_err(), "no transaction begun");
    m.begin().unwrap();
    assert_eq!(m.state_name(), "InTransaction");
    assert!(
        m.add_partition(&tp(0)).unwrap(),
        "a new partition needs adding"
    );
    assert!(!m.add_partition(&tp(0)).unwrap(), "once");
    assert!(m.add_partition(&tp(1)).unwrap());
    assert!(
        !m.is_send_allowed(&tp(0)),
        "not before the coordinator knows"
    );
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::Coordinator(txn_coordinator()));
    assert_eq!(
        req,
        TxnRequest::AddPartitions {
            transactional_id: "tx".into(),
            producer_id: PID,
            producer_epoch: EPOCH,
            partitions: vec![tp(0), tp(1)],
        }
    );
    // A partition written while the request is out is not added twice.
    assert!(!m.add_partition(&tp(1)).unwrap());
    assert!(m.add_partition(&tp(2)).unwrap());
    m.handle_response(now, t, add_answer(&[tp(0), tp(1)], ErrorCode::NONE));
    assert!(m.is_send_allowed(&tp(0)) && m.is_send_allowed(&tp(1)));
    assert!(!m.is_send_allowed(&tp(2)));
    let (t, _, req) = next(&mut m, now);
    assert!(
        matches!(req, TxnRequest::AddPartitions { ref partitions, .. } if partitions == &[tp(2)])
    );
    m.handle_response(now, t, add_answer(&[tp(2)], ErrorCode::NONE));
    assert!(m.is_send_allowed(&tp(2)));
}

#[test]
fn v1_add_partitions_retries() {
    let t0 = Instant::now();
    let mut m = ready(false, t0);
    m.begin().unwrap();
    m.add_partition(&tp(0)).unwrap();
    // CONCURRENT_TRANSACTIONS (the last transaction still completing):
    // Java's short 20 ms backoff.
    let (t, _, _) = next(&mut m, t0);
    m.handle_response(
        t0,
        t,
        add_answer(&[tp(0)], ErrorCode::CONCURRENT_TRANSACTIONS),
    );
    assert!(m.poll_request(t0 + Duration::from_millis(19)).is_none());
    let (t, _, req) = next(&mut m, t0 + Duration::from_millis(20));
    assert!(matches!(req, TxnRequest::AddPartitions { .. }));
    // UNKNOWN_TOPIC_OR_PARTITION and OPERATION_NOT_ATTEMPTED retry too.
    let t1 = t0 + LATER;
    m.handle_response(
        t1,
        t,
        add_answer(&[tp(0)], ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
    );
    let (t, _, _) = next(&mut m, t1 + LATER);
    m.handle_response(
        t1 + LATER,
        t,
        TxnResponse::AddPartitions { results: vec![] },
    );
    // NOT_COORDINATOR: find it again, then add again.
    let t2 = t1 + 3 * LATER;
    let (t, _, _) = next(&mut m, t2);
    m.handle_response(t2, t, add_answer(&[tp(0)], ErrorCode::NOT_COORDINATOR));
    let (t, _, req) = next(&mut m, t2 + LATER);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.handle_response(t2 + LATER, t, found(txn_coordinator()));
    let (t, _, req) = next(&mut m, t2 + LATER);
    assert!(matches!(req, TxnRequest::AddPartitions { .. }));
    assert!(!m.is_send_allowed(&tp(0)));
    m.handle_response(t2 + LATER, t, add_answer(&[tp(0)], ErrorCode::NONE));
    assert!(m.is_send_allowed(&tp(0)));
}

#[test]
fn v1_add_partitions_errors_by_class() {
    let now = Instant::now();
    for (code, expected) in [
        (ErrorCode::PRODUCER_FENCED, TransactionErrorKind::Fenced),
        (
            ErrorCode::INVALID_PRODUCER_EPOCH,
            TransactionErrorKind::Fenced,
        ),
        (
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            TransactionErrorKind::Fatal,
        ),
        (ErrorCode::INVALID_TXN_STATE, TransactionErrorKind::Fatal),
        (ErrorCode::UNKNOWN_SERVER_ERROR, TransactionErrorKind::Fatal),
        (
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            TransactionErrorKind::Abortable,
        ),
        (
            ErrorCode::TRANSACTION_ABORTABLE,
            TransactionErrorKind::Abortable,
        ),
        (
            ErrorCode::UNKNOWN_PRODUCER_ID,
            TransactionErrorKind::Abortable,
        ),
    ] {
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.add_partition(&tp(0)).unwrap();
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, add_answer(&[tp(0)], code));
        let failure = m.unsent_failure().expect("unsent records must fail");
        assert_eq!(failure.transaction_kind(), Some(expected), "{code}");
        assert_eq!(failure.code(), Some(code));
        assert!(!m.is_send_allowed(&tp(0)));
        // The producer's next send and commit see the error.
        let send = m.add_partition(&tp(1)).unwrap_err();
        assert_eq!(send.transaction_kind(), Some(expected));
        let commit = m.commit().unwrap_err();
        assert_eq!(commit.transaction_kind(), Some(expected));
        match expected {
            TransactionErrorKind::Abortable => {
                assert_eq!(commit.recovery(), Recovery::AbortTransaction);
                assert!(!commit.is_retriable());
                assert_eq!(m.state_name(), "AbortableError");
                m.abort().expect("an abortable error can be aborted");
            }
            _ => {
                assert_eq!(commit.recovery(), Recovery::Fatal);
                assert_eq!(m.state_name(), "FatalError");
                assert!(m.abort().is_err(), "a fatal error cannot be aborted");
            }
        }
    }
}

#[test]
fn commit_sends_end_txn_and_returns_to_ready() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    m.commit().unwrap();
    assert_eq!(m.state_name(), "CommittingTransaction");
    assert!(m.check_send().is_err(), "no sends while committing");
    assert!(
        m.is_send_allowed(&tp(0)),
        "but flushed batches may still go"
    );
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::Coordinator(txn_coordinator()));
    assert_eq!(
        req,
        TxnRequest::EndTxn {
            transactional_id: "tx".into(),
            producer_id: PID,
            producer_epoch: EPOCH,
            commit: true,
        }
    );
    m.commit()
        .expect("calling again (after a timeout) keeps waiting");
    m.handle_response(now, t, end_answer(ErrorCode::NONE));
    assert_done(m.take_result(Op::Commit));
    assert_eq!(m.state_name(), "Ready");
    assert_eq!(m.identity(), Some((PID, EPOCH)), "v1 keeps the epoch");
    assert!(!m.is_send_allowed(&tp(0)));
    // The next transaction adds its partitions again.
    m.begin().unwrap();
    assert!(m.add_partition(&tp(0)).unwrap());
}

#[test]
fn an_empty_transaction_ends_without_end_txn() {
    let now = Instant::now();
    for v2 in [false, true] {
        let mut m = ready(v2, now);
        m.begin().unwrap();
        m.commit().unwrap();
        assert_done(m.take_result(Op::Commit));
        assert!(m.poll_request(now).is_none());
        m.begin().unwrap();
        m.abort().unwrap();
        m.release_abort();
        assert_done(m.take_result(Op::Abort));
        assert!(m.poll_request(now).is_none());
        assert_eq!(m.state_name(), "Ready");
    }
}

#[test]
fn end_txn_errors_by_class() {
    let now = Instant::now();
    for commit in [true, false] {
        let op = if commit { Op::Commit } else { Op::Abort };
        for (code, expected) in [
            (ErrorCode::PRODUCER_FENCED, FENCED),
            (ErrorCode::INVALID_PRODUCER_EPOCH, FENCED),
            (ErrorCode::INVALID_TXN_STATE, FATAL),
            (ErrorCode::UNKNOWN_PRODUCER_ID, FATAL),
            (ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, FATAL),
            (ErrorCode::TRANSACTION_ABORTABLE, ABORTABLE),
            (ErrorCode::CONCURRENT_TRANSACTIONS, None),
            (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, None),
        ] {
            let mut m = in_transaction_v1(&[tp(0)], now);
            if commit {
                m.commit().unwrap();
            } else {
                m.abort().unwrap();
                m.release_abort();
            }
            let (t, _, _) = next(&mut m, now);
            m.handle_response(now, t, end_answer(code));
            match expected {
                Some(k) => {
                    assert_eq!(kind(m.take_result(op)), Some(k), "{code} commit={commit}");
                    assert!(
                        m.poll_request(now + LATER).is_none(),
                        "{code} commit={commit}: nothing is resent by itself"
                    );
                }
                None => {
                    assert!(m.take_result(op).is_none(), "{code} retries");
                    assert!(m.poll_request(now).is_none(), "{code}: after a backoff");
                    let (_, _, req) = next(&mut m, now + LATER);
                    assert!(matches!(req, TxnRequest::EndTxn { commit: c, .. } if c == commit));
                }
            }
        }
    }
}

#[test]
fn an_abort_that_fails_abortably_can_be_retried() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    m.abort().unwrap();
    m.release_abort();
    let (t, _, _) = next(&mut m, now);
    m.handle_response(now, t, end_answer(ErrorCode::TRANSACTION_ABORTABLE));
    assert_eq!(
        kind(m.take_result(Op::Abort)),
        Some(TransactionErrorKind::Abortable)
    );
    assert_eq!(m.state_name(), "AbortableError");
    assert!(m.commit().is_err(), "only an abort is allowed now");
    m.abort().unwrap();
    m.release_abort();
    let (t, _, req) = next(&mut m, now + LATER);
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    m.handle_response(now + LATER, t, end_answer(ErrorCode::NONE));
    assert_done(m.take_result(Op::Abort));
    assert_eq!(m.state_name(), "Ready");
}

#[test]
fn abort_fails_unsent_records_and_waits_for_in_flight_ones() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    assert!(m.unsent_failure().is_none());
    m.abort().unwrap();
    assert_eq!(m.state_name(), "AbortingTransaction");
    let unsent = m.unsent_failure().expect("unsent records fail");
    assert_eq!(
        unsent.transaction_kind(),
        Some(TransactionErrorKind::Aborted)
    );
    assert!(!m.is_send_allowed(&tp(0)));
    assert!(
        m.poll_request(now).is_none(),
        "EndTxn waits for in-flight batches"
    );
    m.release_abort();
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    m.handle_response(now, t, end_answer(ErrorCode::NONE));
    assert_done(m.take_result(Op::Abort));
    assert_eq!(m.state_name(), "Ready");
}

#[test]
fn abort_while_add_partitions_is_in_flight_still_ends_the_transaction() {
    let now = Instant::now();
    let mut m = ready(false, now);
    m.begin().unwrap();
    m.add_partition(&tp(0)).unwrap();
    let (t, _, _) = next(&mut m, now);
    m.abort().unwrap();
    m.release_abort();
    assert!(m.poll_request(now).is_none(), "one request at a time");
    m.handle_response(now, t, add_answer(&[tp(0)], ErrorCode::NONE));
    assert!(!m.is_send_allowed(&tp(0)));
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    m.handle_response(now, t, end_answer(ErrorCode::NONE));
    assert_done(m.take_result(Op::Abort));
}

#[test]
fn send_offsets_v1_adds_offsets_then_commits_them_on_the_group_coordinator() {
    let now = Instant::now();
    let mut m = ready(false, now);
    m.begin().unwrap();
    m.send_offsets(offsets(), group()).unwrap();
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::Coordinator(txn_coordinator()));
    assert_eq!(
        req,
        TxnRequest::AddOffsets {
            transactional_id: "tx".into(),
            producer_id: PID,
            producer_epoch: EPOCH,
            group_id: "g".into(),
        }
    );
    m.handle_response(
        now,
        t,
        TxnResponse::AddOffsets {
            error: ErrorCode::NONE,
        },
    );
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::AnyBroker);
    assert_eq!(
        req,
        TxnRequest::FindCoordinator {
            coordinator_type: CoordinatorType::Group,
            key: "g".into()
        }
    );
    m.handle_response(now, t, found(group_coordinator()));
    let (t, dest, req) = next(&mut m, now);
    assert_eq!(dest, Dest::Coordinator(group_coordinator()));
    assert_eq!(
        req,
        TxnRequest::TxnOffsetCommit {
            transactional_id: "tx".into(),
            producer_id: PID,
            producer_epoch: EPOCH,
            group: group(),
            offsets: offsets(),
        }
    );
    // The group coordinator moved: find it again.
    m.handle_response(
        now,
        t,
        TxnResponse::TxnOffsetCommit {
            results: vec![(OffsetPartition::new("in", 0), ErrorCode::NOT_COORDINATOR)],
        },
    );
    let (t, _, req) = next(&mut m, now + LATER);
    assert!(matches!(
        req,
        TxnRequest::FindCoordinator {
            coordinator_type: CoordinatorType::Group,
            ..
        }
    ));
    m.handle_response(now + LATER, t, found(group_coordinator()));
    let (t, _, req) = next(&mut m, now + LATER);
    assert!(matches!(req, TxnRequest::TxnOffsetCommit { .. }));
    m.handle_response(
        now + LATER,
        t,
        TxnResponse::TxnOffsetCommit {
            results: vec![(OffsetPartition::new("in", 0), ErrorCode::NONE)],
        },
    );
    assert_done(m.take_result(Op::SendOffsets));
    // Offsets alone make the transaction need an EndTxn.
    m.commit().unwrap();
    let (_, _, req) = next(&mut m, now + LATER);
    assert!(matches!(req, TxnRequest::EndTxn { commit: true, .. }));
}

#[test]
fn txn_offset_commit_errors_by_class() {
    let now = Instant::now();
    for (code, expected) in [
        (ErrorCode::ILLEGAL_GENERATION, ABORTABLE),
        (ErrorCode::UNKNOWN_MEMBER_ID, ABORTABLE),
        (ErrorCode::FENCED_INSTANCE_ID, ABORTABLE),
        (ErrorCode::STALE_MEMBER_EPOCH, ABORTABLE),
        (ErrorCode::FENCED_MEMBER_EPOCH, ABORTABLE),
        (ErrorCode::GROUP_AUTHORIZATION_FAILED, ABORTABLE),
        (ErrorCode::PRODUCER_FENCED, FENCED),
        (ErrorCode::INVALID_TXN_STATE, FATAL),
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, None),
        (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None),
        (ErrorCode::CONCURRENT_TRANSACTIONS, None),
    ] {
        let mut m = ready(true, now);
        m.begin().unwrap();
        m.send_offsets(offsets(), group()).unwrap();
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, found(group_coordinator()));
        let (t, _, _) = next(&mut m, now);
        m.handle_response(
            now,
            t,
            TxnResponse::TxnOffsetCommit {
                results: vec![(OffsetPartition::new("in", 0), code)],
            },
        );
        match expected {
            Some(k) => assert_eq!(kind(m.take_result(Op::SendOffsets)), Some(k), "{code}"),
            None => {
                assert!(m.take_result(Op::SendOffsets).is_none(), "{code} retries");
                let (_, _, req) = next(&mut m, now + LATER);
                assert!(matches!(req, TxnRequest::TxnOffsetCommit { .. }), "{code}");
            }
        }
    }
}

#[test]
fn v2_needs_no_add_requests_and_takes_the_new_epoch_from_end_txn() {
    let now = Instant::now();
    let mut m = ready(true, now);
    assert!(m.is_v2());
    m.begin().unwrap();
    assert!(
        !m.add_partition(&tp(0)).unwrap(),
        "no AddPartitionsToTxn in v2"
    );
    assert!(
        m.is_send_allowed(&tp(0)),
        "the broker adds the partition itself"
    );
    m.send_offsets(offsets(), group()).unwrap();
    // No AddOffsetsToTxn either: straight to the group coordinator.
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(
        req,
        TxnRequest::FindCoordinator {
            coordinator_type: CoordinatorType::Group,
            ..
        }
    ));
    m.handle_response(now, t, found(group_coordinator()));
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(req, TxnRequest::TxnOffsetCommit { .. }));
    m.handle_response(
        now,
        t,
        TxnResponse::TxnOffsetCommit {
            results: vec![(OffsetPartition::new("in", 0), ErrorCode::NONE)],
        },
    );
    assert_done(m.take_result(Op::SendOffsets));
    m.commit().unwrap();
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(
        req,
        TxnRequest::EndTxn {
            commit: true,
            producer_epoch: EPOCH,
            ..
        }
    ));
    m.handle_response(
        now,
        t,
        TxnResponse::EndTxn {
            error: ErrorCode::NONE,
            producer_id: PID,
            producer_epoch: EPOCH + 1,
        },
    );
    assert_done(m.take_result(Op::Commit));
    assert_eq!(
        m.identity(),
        Some((PID, EPOCH + 1)),
        "KIP-890: a new epoch per transaction"
    );
    // A transaction that only wrote records still needs its EndTxn.
    m.begin().unwrap();
    m.add_partition(&tp(1)).unwrap();
    m.abort().unwrap();
    m.release_abort();
    let (t, _, req) = next(&mut m, now);
    assert!(
        matches!(req, TxnRequest::EndTxn { commit: false, producer_epoch, .. } if producer_epoch == EPOCH + 1)
    );
    // Epoch overflow: a new producer id.
    m.handle_response(
        now,
        t,
        TxnResponse::EndTxn {
            error: ErrorCode::NONE,
            producer_id: PID + 1,
            producer_epoch: 0,
        },
    );
    assert_eq!(m.identity(), Some((PID + 1, 0)));
}

#[test]
fn the_protocol_changes_only_between_transactions() {
    let now = Instant::now();
    let mut m = ready(false, now);
    m.begin().unwrap();
    m.set_v2(true);
    assert!(!m.is_v2());
    m.commit().unwrap();
    assert_done(m.take_result(Op::Commit));
    m.set_v2(true);
    assert!(m.is_v2());
}

#[test]
fn failed_batches_doom_the_transaction() {
    let now = Instant::now();
    let broker = |code| Error::broker(code, "Produce out/0", None);
    for (error, expected) in [
        (
            broker(ErrorCode::INVALID_PRODUCER_EPOCH),
            TransactionErrorKind::Fenced,
        ),
        (
            broker(ErrorCode::PRODUCER_FENCED),
            TransactionErrorKind::Fenced,
        ),
        (
            broker(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            TransactionErrorKind::Fatal,
        ),
        (
            broker(ErrorCode::NOT_ENOUGH_REPLICAS),
            TransactionErrorKind::Abortable,
        ),
        (
            broker(ErrorCode::TRANSACTION_ABORTABLE),
            TransactionErrorKind::Abortable,
        ),
        (
            Error::Timeout {
                op: "delivery",
                after: Duration::from_secs(120),
            },
            TransactionErrorKind::Abortable,
        ),
    ] {
        let mut m = in_transaction_v1(&[tp(0)], now);
        let typed = m.on_batch_failed(&error);
        assert_eq!(typed.transaction_kind(), Some(expected), "{error}");
        assert_eq!(
            m.check_send().unwrap_err().transaction_kind(),
            Some(expected)
        );
        assert_eq!(m.commit().unwrap_err().transaction_kind(), Some(expected));
        // A second failure reports the first error.
        let again = m.on_batch_failed(&broker(ErrorCode::NOT_ENOUGH_REPLICAS));
        assert_eq!(again.transaction_kind(), Some(expected));
    }
}

#[test]
fn a_sequence_error_bumps_the_epoch_after_the_abort() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    let typed = m.on_batch_failed(&Error::broker(
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        "Produce out/0",
        None,
    ));
    assert_eq!(typed.recovery(), Recovery::AbortTransaction);
    m.abort().unwrap();
    m.release_abort();
    let (t, _, req) = next(&mut m, now);
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    m.handle_response(now, t, end_answer(ErrorCode::NONE));
    assert!(m.take_result(Op::Abort).is_none(), "not before the bump");
    assert_eq!(m.state_name(), "Initializing");
    let (t, _, req) = next(&mut m, now);
    assert_eq!(
        req,
        TxnRequest::InitProducerId {
            transactional_id: "tx".into(),
            transaction_timeout_ms: 60_000,
            producer_id: PID,
            producer_epoch: EPOCH,
        },
        "KIP-360: bump with the current id and epoch"
    );
    m.handle_response(now, t, init_answer(ErrorCode::NONE, EPOCH + 1));
    assert_done(m.take_result(Op::Abort));
    assert_eq!(m.identity(), Some((PID, EPOCH + 1)));
    assert_eq!(m.state_name(), "Ready");
}

#[test]
fn calls_in_the_wrong_state_are_usage_errors() {
    let now = Instant::now();
    let invalid = |r: Result<(), Error>| {
        let e = r.unwrap_err();
        assert_eq!(
            e.transaction_kind(),
            Some(TransactionErrorKind::InvalidState),
            "{e}"
        );
        assert_eq!(e.recovery(), Recovery::Fatal);
    };
    let mut m = manager(false);
    invalid(m.begin());
    invalid(m.commit());
    invalid(m.abort());
    invalid(m.check_send());
    let mut m = ready(false, now);
    invalid(m.init());
    invalid(m.commit());
    invalid(m.abort());
    invalid(m.send_offsets(offsets(), group()));
    invalid(m.add_partition(&tp(0)).map(drop));
    m.begin().unwrap();
    invalid(m.begin());
    m.send_offsets(offsets(), group()).unwrap();
    invalid(m.commit()); // wait for the offsets first
    // The usage errors changed nothing.
    assert_eq!(m.state_name(), "InTransaction");
}

#[test]
fn unusable_versions_are_fatal_and_stale_answers_are_ignored() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    m.commit().unwrap();
    let (t, _, _) = next(&mut m, now);
    m.handle_response(now, t + 100, end_answer(ErrorCode::PRODUCER_FENCED));
    assert_eq!(
        m.state_name(),
        "CommittingTransaction",
        "unknown token ignored"
    );
    m.handle_error(
        now,
        t,
        Error::UnsupportedVersion {
            addr: "txn-host:9092".into(),
            api: kafkacc_protocol::ApiKey::EndTxn,
            broker: None,
        },
    );
    assert_eq!(
        kind(m.take_result(Op::Commit)),
        Some(TransactionErrorKind::Fatal)
    );
}

#[test]
fn a_timeout_on_end_txn_refinds_the_coordinator_and_retries() {
    let now = Instant::now();
    let mut m = in_transaction_v1(&[tp(0)], now);
    m.commit().unwrap();
    let (t, _, _) = next(&mut m, now);
    m.handle_error(
        now,
        t,
        Error::Timeout {
            op: "request",
            after: Duration::from_secs(30),
        },
    );
    assert!(m.poll_request(now).is_none(), "after a backoff");
    let (t, _, req) = next(&mut m, now + LATER);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.handle_response(now + LATER, t, found(txn_coordinator()));
    let (t, _, req) = next(&mut m, now + LATER);
    assert!(matches!(req, TxnRequest::EndTxn { commit: true, .. }));
    m.handle_response(now + LATER, t, end_answer(ErrorCode::NONE));
    assert_done(m.take_result(Op::Commit));
}

#[test]
fn an_outcome_nobody_waited_for_does_not_block_the_next_call() {
    let now = Instant::now();
    let mut m = ready(true, now);
    m.begin().unwrap();
    m.send_offsets(offsets(), group()).unwrap();
    let (t, _, _) = next(&mut m, now);
    m.handle_response(now, t, found(group_coordinator()));
    let (t, _, _) = next(&mut m, now);
    m.handle_response(
        now,
        t,
        TxnResponse::TxnOffsetCommit {
            results: vec![(OffsetPartition::new("in", 0), ErrorCode::NONE)],
        },
    );
    // The caller timed out before the answer and never asked again.
    m.commit().expect("the finished operation does not block");
    let (_, _, req) = next(&mut m, now);
    assert!(matches!(req, TxnRequest::EndTxn { commit: true, .. }));
}

#[test]
fn a_dropped_sequence_bumps_the_epoch_after_the_abort_in_v1_only() {
    let now = Instant::now();
    for v2 in [false, true] {
        let mut m = ready(v2, now);
        m.begin().unwrap();
        m.add_partition(&tp(0)).unwrap();
        if !v2 {
            let (t, _, _) = next(&mut m, now);
            m.handle_response(now, t, add_answer(&[tp(0)], ErrorCode::NONE));
        }
        m.abort().unwrap();
        m.on_sequence_dropped();
        m.release_abort();
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, end_answer(ErrorCode::NONE));
        if v2 {
            assert_done(m.take_result(Op::Abort));
            continue;
        }
        let (t, _, req) = next(&mut m, now);
        assert!(
            matches!(
                req,
                TxnRequest::InitProducerId {
                    producer_id: PID,
                    producer_epoch: EPOCH,
                    ..
                }
            ),
            "{req:?}"
        );
        m.handle_response(now, t, init_answer(ErrorCode::NONE, EPOCH + 1));
        assert_done(m.take_result(Op::Abort));
        assert_eq!(m.identity(), Some((PID, EPOCH + 1)));
    }
}

#[test]
fn add_offsets_errors_by_class() {
    let now = Instant::now();
    for (code, expected) in [
        (ErrorCode::PRODUCER_FENCED, FENCED),
        (ErrorCode::INVALID_PRODUCER_EPOCH, FENCED),
        (ErrorCode::GROUP_AUTHORIZATION_FAILED, ABORTABLE),
        (ErrorCode::TRANSACTION_ABORTABLE, ABORTABLE),
        (ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, FATAL),
        (ErrorCode::INVALID_TXN_STATE, FATAL),
        (ErrorCode::CONCURRENT_TRANSACTIONS, None),
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, None),
        (ErrorCode::NOT_COORDINATOR, None),
    ] {
        let mut m = ready(false, now);
        m.begin().unwrap();
        m.send_offsets(offsets(), group()).unwrap();
        let (t, _, req) = next(&mut m, now);
        assert!(matches!(req, TxnRequest::AddOffsets { .. }));
        m.handle_response(now, t, TxnResponse::AddOffsets { error: code });
        match expected {
            Some(k) => {
                assert_eq!(kind(m.take_result(Op::SendOffsets)), Some(k), "{code}");
                let state = m.state_name();
                let expected_state = if k == TransactionErrorKind::Abortable {
                    "AbortableError"
                } else {
                    "FatalError"
                };
                assert_eq!(state, expected_state, "{code}");
            }
            None => {
                assert!(m.take_result(Op::SendOffsets).is_none(), "{code} retries");
                assert!(m.poll_request(now).is_none(), "{code}: after a backoff");
                let (t, _, req) = next(&mut m, now + LATER);
                if code == ErrorCode::NOT_COORDINATOR {
                    assert!(matches!(
                        req,
                        TxnRequest::FindCoordinator {
                            coordinator_type: CoordinatorType::Transaction,
                            ..
                        }
                    ));
                    m.handle_response(now + LATER, t, found(txn_coordinator()));
                    let (_, _, req) = next(&mut m, now + LATER);
                    assert!(matches!(req, TxnRequest::AddOffsets { .. }), "{code}");
                } else {
                    assert!(matches!(req, TxnRequest::AddOffsets { .. }), "{code}");
                }
            }
        }
    }
}

#[test]
fn the_epoch_bump_after_an_abort_can_fail_or_retry() {
    let now = Instant::now();
    for (code, expected) in [
        (ErrorCode::PRODUCER_FENCED, FENCED),
        (ErrorCode::INVALID_PRODUCER_EPOCH, FENCED),
        (ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, FATAL),
        (ErrorCode::TRANSACTION_ABORTABLE, FATAL),
        (ErrorCode::CONCURRENT_TRANSACTIONS, None),
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, None),
    ] {
        let mut m = in_transaction_v1(&[tp(0)], now);
        m.on_batch_failed(&Error::broker(
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            "Produce out/0",
            None,
        ));
        m.abort().unwrap();
        m.release_abort();
        let (t, _, _) = next(&mut m, now);
        m.handle_response(now, t, end_answer(ErrorCode::NONE));
        let (t, _, req) = next(&mut m, now);
        assert!(matches!(req, TxnRequest::InitProducerId { .. }));
        m.handle_response(now, t, init_answer(code, 0));
        match expected {
            Some(k) => {
                assert_eq!(kind(m.take_result(Op::Abort)), Some(k), "{code}");
                assert_eq!(m.state_name(), "FatalError", "{code}");
                assert!(m.poll_request(now + LATER).is_none(), "{code}");
            }
            None => {
                assert!(m.take_result(Op::Abort).is_none(), "{code} retries");
                let (t, _, req) = next(&mut m, now + LATER);
                assert!(matches!(
                    req,
                    TxnRequest::InitProducerId {
                        producer_id: PID,
                        producer_epoch: EPOCH,
                        ..
                    }
                ));
                m.handle_response(now + LATER, t, init_answer(ErrorCode::NONE, EPOCH + 1));
                assert_done(m.take_result(Op::Abort));
                assert_eq!(m.identity(), Some((PID, EPOCH + 1)), "{code}");
            }
        }
    }
}
