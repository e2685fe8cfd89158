//! The fake on the wire, with hand-built requests: produce semantics (CRC,
//! idempotence, acks=0, leadership), the fetch long poll, and a transaction
//! seen through read_committed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use kafkacc_fake::{ApiKey, ErrorCode, FakeCluster};
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafkacc_protocol::generated::fetch_request::{FetchPartition, FetchTopic};
use kafkacc_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkacc_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use kafkacc_protocol::header::{decode_response_header, encode_request_frame};
use kafkacc_protocol::messages::*;
use kafkacc_protocol::records::{BatchBuilder, ProducerState, batches};
use kafkacc_protocol::{Decode, Request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Raw {
    stream: TcpStream,
    correlation: i32,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            correlation: 0,
        }
    }

    async fn send<R: Request>(&mut self, version: i16, request: &R) -> i32 {
        self.correlation += 1;
        let mut frame = BytesMut::new();
        encode_request_frame(&mut frame, version, self.correlation, Some("wire"), request).unwrap();
        self.stream.write_all(&frame).await.unwrap();
        self.correlation
    }

    async fn receive<R: Request>(&mut self, version: i16) -> (i32, R::Response) {
        let len = self.stream.read_i32().await.unwrap();
        let mut body = vec![0u8; usize::try_from(len).unwrap()];
        self.stream.read_exact(&mut body).await.unwrap();
        let mut body = Bytes::from(body);
        let correlation = decode_response_header(&mut body, R::API_KEY, version).unwrap();
        (
            correlation,
            R::Response::decode(&mut body, version).unwrap(),
        )
    }

    async fn call<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let sent = self.send(version, request).await;
        let (correlation, response) = self.receive::<R>(version).await;
        assert_eq!(correlation, sent);
        response
    }
}

fn batch(values: &[&str], producer: ProducerState) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, 1_000);
    for v in values {
        b.append(1_000, None, Some(v.as_bytes()), &[]).unwrap();
    }
    b.build(producer).unwrap()
}

fn idempotent(pid: i64, epoch: i16, seq: i32, transactional: bool) -> ProducerState {
    ProducerState {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional,
    }
}

fn produce(topic: &str, acks: i16, records: Bytes, txn: Option<&str>) -> ProduceRequest {
    ProduceRequest {
        transactional_id: txn.map(Into::into),
        acks,
        timeout_ms: 5_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// (error code, base offset) of the one partition.
async fn produce_one(raw: &mut Raw, request: &ProduceRequest) -> (i16, i64) {
    let r = raw.call(11, request).await;
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch(
    topic: &str,
    offset: i64,
    isolation: i8,
    min_bytes: i32,
    max_wait_ms: i32,
) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        isolation_level: isolation,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn values(records: &Bytes) -> Vec<String> {
    batches(records.clone())
        .map(|b| b.unwrap())
        .filter(|b| !b.header.is_control())
        .flat_map(|b| {
            b.records(1 << 20)
                .unwrap()
                .map(|r| {
                    String::from_utf8_lossy(r.unwrap().value.as_deref().unwrap_or_default())
                        .into_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn produce_checks_crc_sequences_acks_and_leadership() {
    let cluster = FakeCluster::builder().brokers(2).build().await.unwrap();
    cluster.create_topic_with_leaders("w", &[1]).unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(1).unwrap()).await;

    // CRC.
    let mut bad = BytesMut::from(batch(&["x"], ProducerState::default()).as_ref());
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        produce_one(&mut raw, &produce("w", -1, bad.freeze(), None))
            .await
            .0,
        ErrorCode::CORRUPT_MESSAGE.0
    );
    // Idempotence: a retry answers the original offset, a gap is refused.
    let first = batch(&["a", "b"], idempotent(77, 0, 0, false));
    assert_eq!(
        produce_one(&mut raw, &produce("w", -1, first.clone(), None)).await,
        (0, 0)
    );
    assert_eq!(
        produce_one(
            &mut raw,
            &produce("w", -1, batch(&["c"], idempotent(77, 0, 2, false)), None)
        )
        .await,
        (0, 2)
    );
    assert_eq!(
        produce_one(&mut raw, &produce("w", -1, first, None)).await,
        (0, 0)
    );
    assert_eq!(
        produce_one(
            &mut raw,
            &produce("w", -1, batch(&["z"], idempotent(77, 0, 9, false)), None)
        )
        .await
        .0,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER.0
    );
    assert_eq!(cluster.high_watermark("w", 0), Some(3));
    // acks=0: no answer; the next request's answer comes next.
    raw.send(
        11,
        &produce("w", 0, batch(&["quiet"], ProducerState::default()), None),
    )
    .await;
    let versions = raw.call(3, &ApiVersionsRequest::default()).await;
    assert_eq!(versions.error_code, 0);
    assert_eq!(cluster.high_watermark("w", 0), Some(4));
    // Bad acks.
    assert_eq!(
        produce_one(
            &mut raw,
            &produce("w", 2, batch(&["y"], ProducerState::default()), None)
        )
        .await
        .0,
        ErrorCode::INVALID_REQUIRED_ACKS.0
    );
    // Leadership moves: the old leader refuses, the new one accepts.
    cluster.move_leader("w", 0, 2).unwrap();
    assert_eq!(
        produce_one(
            &mut raw,
            &produce("w", -1, batch(&["m"], ProducerState::default()), None)
        )
        .await
        .0,
        ErrorCode::NOT_LEADER_OR_FOLLOWER.0
    );
    let mut raw2 = Raw::connect(cluster.broker_addr(2).unwrap()).await;
    assert_eq!(
        produce_one(
            &mut raw2,
            &produce("w", -1, batch(&["m"], ProducerState::default()), None)
        )
        .await,
        (0, 4)
    );
    // An injected error on broker 2 only, once.
    cluster.inject_error_on(2, ApiKey::Produce, ErrorCode::NOT_ENOUGH_REPLICAS, 1);
    let once = produce("w", -1, batch(&["n"], ProducerState::default()), None);
    assert_eq!(
        produce_one(&mut raw2, &once).await.0,
        ErrorCode::NOT_ENOUGH_REPLICAS.0
    );
    assert_eq!(produce_one(&mut raw2, &once).await, (0, 5));
}

#[tokio::test]
async fn duplicates_can_be_reported_as_duplicate_sequence_number() {
    let cluster = FakeCluster::builder()
        .duplicate_sequence_error(true)
        .build()
        .await
        .unwrap();
    cluster.create_topic("d", 1).unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(1).unwrap()).await;
    let b = batch(&["a"], idempotent(5, 0, 0, false));
    assert_eq!(
        produce_one(&mut raw, &produce("d", -1, b.clone(), None)).await,
        (0, 0)
    );
    assert_eq!(
        produce_one(&mut raw, &produce("d", -1, b, None)).await,
        (ErrorCode::DUPLICATE_SEQUENCE_NUMBER.0, 0)
    );
}

#[tokio::test]
async fn a_long_poll_fetch_wakes_on_new_data() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("lp", 1).unwrap();
    let addr = cluster.broker_addr(1).unwrap();
    let waiter = tokio::spawn(async move {
        let mut raw = Raw::connect(addr).await;
        let started = Instant::now();
        let r = raw.call(12, &fetch("lp", 0, 0, 1, 10_000)).await;
        (started.elapsed(), r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut raw = Raw::connect(addr).await;
    produce_one(
        &mut raw,
        &produce("lp", 1, batch(&["wake"], ProducerState::default()), None),
    )
    .await;
    let (elapsed, r) = waiter.await.unwrap();
    assert!(elapsed < Duration::from_secs(5), "woken after {elapsed:?}");
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 1);
    assert_eq!(values(p.records.as_ref().unwrap()), vec!["wake"]);
    // Nothing new: the fetch waits out max_wait.
    let started = Instant::now();
    let r = raw.call(12, &fetch("lp", 1, 0, 1, 300)).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        r.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .is_empty()
    );
    // Out of range.
    let r = raw.call(12, &fetch("lp", 5, 0, 1, 0)).await;
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::OFFSET_OUT_OF_RANGE.0
    );
}

#[tokio::test]
async fn read_committed_stops_at_the_lso_and_lists_aborted_transactions() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("tx", 1).unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(1).unwrap()).await;
    let init = raw
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: Some("tid".into()),
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    let add = raw
        .call(
            3,
            &AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: "tid".into(),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                    name: "tx".into(),
                    partitions: [0].into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        add.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    produce_one(
        &mut raw,
        &produce("tx", -1, batch(&["plain"], ProducerState::default()), None),
    )
    .await;
    let txn = batch(&["t1", "t2"], idempotent(pid, epoch, 0, true));
    assert_eq!(
        produce_one(&mut raw, &produce("tx", -1, txn, Some("tid"))).await,
        (0, 1)
    );
    assert_eq!(cluster.last_stable_offset("tx", 0), Some(1));
    let r = raw.call(12, &fetch("tx", 0, 1, 1, 0)).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (3, 1));
    assert_eq!(values(p.records.as_ref().unwrap()), vec!["plain"]);
    let end = raw
        .call(
            4,
            &EndTxnRequest {
                transactional_id: "tid".into(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: false,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(end.error_code, 0);
    assert_eq!(cluster.last_stable_offset("tx", 0), Some(4));
    let r = raw.call(12, &fetch("tx", 0, 1, 1, 0)).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.last_stable_offset, 4);
    let aborted = p.aborted_transactions.as_ref().unwrap();
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (pid, 1));
    // read_uncommitted has no aborted list.
    let r = raw.call(12, &fetch("tx", 0, 0, 1, 0)).await;
    assert!(r.responses[0].partitions[0].aborted_transactions.is_none());
    // ListOffsets: latest is the end, earliest 0.
    let list = raw
        .call(
            7,
            &ListOffsetsRequest {
                replica_id: -1,
                isolation_level: 1,
                topics: vec![ListOffsetsTopic {
                    name: "tx".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        timestamp: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(list.topics[0].partitions[0].offset, 4);
    // A second InitProducerId fences the first epoch.
    let again = raw
        .call(
            4,
            &InitProducerIdRequest {
                transactional_id: Some("tid".into()),
                transaction_timeout_ms: 60_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
    assert_eq!((again.producer_id, again.producer_epoch), (pid, epoch + 1));
    let stale = batch(&["zombie"], idempotent(pid, epoch, 2, true));
    assert_ne!(
        produce_one(&mut raw, &produce("tx", -1, stale, Some("tid")))
            .await
            .0,
        0
    );
}

#[tokio::test]
async fn benchmark_modes_discard_produce_and_serve_a_synthetic_batch() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("bench", 1).unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(1).unwrap()).await;
    cluster.discard_produce(true);
    let b = batch(&["a", "b", "c"], ProducerState::default());
    assert_eq!(
        produce_one(&mut raw, &produce("bench", 1, b.clone(), None)).await,
        (0, 0)
    );
    assert_eq!(
        produce_one(&mut raw, &produce("bench", 1, b.clone(), None)).await,
        (0, 3)
    );
    assert_eq!(cluster.high_watermark("bench", 0), Some(6));
    cluster.serve_synthetic_fetch(Some(b.clone()));
    let mut request = fetch("bench", 1_000, 0, 1, 0);
    request.topics[0].partitions[0].partition_max_bytes = i32::try_from(b.len() * 4).unwrap();
    let r = raw.call(12, &request).await;
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    let offsets: Vec<i64> = batches(records)
        .map(|x| x.unwrap().header.base_offset)
        .collect();
    assert_eq!(offsets, vec![1_000, 1_003, 1_006, 1_009]);
}

#[tokio::test]
async fn a_moved_coordinator_answers_not_coordinator() {
    let cluster = FakeCluster::builder().brokers(3).build().await.unwrap();
    let old = cluster.group_coordinator("grp");
    let new = old % 3 + 1;
    cluster.move_group_coordinator("grp", new).unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(old).unwrap()).await;
    let found = raw
        .call(
            4,
            &FindCoordinatorRequest {
                key_type: 0,
                coordinator_keys: vec!["grp".into()],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(found.coordinators[0].node_id, new);
    let hb = raw
        .call(
            4,
            &HeartbeatRequest {
                group_id: "grp".into(),
                generation_id: 1,
                member_id: "m".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(hb.error_code, ErrorCode::NOT_COORDINATOR.0);
    cluster.kill_broker(new).await.unwrap();
    let found = raw
        .call(
            3,
            &FindCoordinatorRequest {
                key: "grp".into(),
                key_type: 0,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(found.error_code, ErrorCode::COORDINATOR_NOT_AVAILABLE.0);
}

#[tokio::test]
async fn advancing_the_clock_expires_a_silent_member() {
    use kafkacc_protocol::generated::join_group_request::JoinGroupRequestProtocol;
    let cluster = FakeCluster::builder().build().await.unwrap();
    let mut raw = Raw::connect(cluster.broker_addr(1).unwrap()).await;
    let join = raw
        .call(
            3,
            &JoinGroupRequest {
                group_id: "silent".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 10_000,
                protocol_type: "consumer".into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: Bytes::from_static(b"m"),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await;
    assert_eq!((join.error_code, join.generation_id), (0, 1));
    let sync = raw
        .call(
            3,
            &SyncGroupRequest {
                group_id: "silent".into(),
                generation_id: 1,
                member_id: join.member_id.clone(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(sync.error_code, 0);
    assert_eq!(
        cluster.group_state("silent"),
        Some(("Stable".to_owned(), 1))
    );
    cluster.advance_time(Duration::from_secs(11));
    let deadline = Instant::now() + Duration::from_secs(5);
    while cluster.group_state("silent") != Some(("Empty".to_owned(), 2)) {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            cluster.group_state("silent")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hb = raw
        .call(
            3,
            &HeartbeatRequest {
                group_id: "silent".into(),
                generation_id: 1,
                member_id: join.member_id,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(hb.error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
}
