//! Transactions against a real broker: committed records are visible to
//! read_committed consumers (kafkacc's, librdkafka's and kcat) and aborted ones
//! are not, a second producer with the same transactional id fences the
//! first, and a consume-transform-produce loop killed mid-transaction and
//! restarted copies every input record exactly once.
//!
//! Each scenario runs with transaction protocol v2 (KIP-890, what Kafka
//! 4.1.1 finalizes by default) and with v1 (AddPartitionsToTxn per
//! partition), which the client can be told to keep.

use crate::client;
use kafkacc::group::committed_offsets;
use kafkacc::protocol::header::{decode_response_header, encode_request_frame};
use kafkacc::protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafkacc::protocol::{ApiKey, Decode};
use kafkacc::{
    Admin, Client, Consumer, ConsumerConfig, DeliveryFuture, Error, GroupConfig, GroupConsumer,
    NewTopic, OffsetReset, Producer, ProducerConfig, ProducerRecord, Recovery, TopicPartition,
    TransactionErrorKind,
};
use kafkacc_tests::kcat::run_kcat;
use kafkacc_tests::peer::PeerProcess;
use kafkacc_tests::script::ScriptedBroker;
use kafkacc_tests::{broker, log_on_failure, skip, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PARTITIONS: i32 = 3;
/// Transaction protocol v2 allowed (used when the broker offers it), then v1.
const PROTOCOLS: [bool; 2] = [true, false];
const TANSU_READ_COMMITTED: &str =
    "Tansu does not hide aborted records from read_committed (broker README deviation 2)";

async fn new_topic(client: &Client, prefix: &str) -> String {
    let topic = unique_name(prefix);
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    topic
}

async fn txn_producer(client: &Client, id: &str, v2: bool) -> Producer {
    let config = ProducerConfig::default()
        .transactional_id(id)
        .transaction_v2(v2)
        .max_block(Duration::from_secs(30));
    let producer = Producer::new(client.clone(), config).expect("producer");
    producer
        .init_transactions()
        .await
        .expect("init_transactions");
    producer
}

async fn send_values(
    producer: &Producer,
    topic: &str,
    prefix: &str,
    n: usize,
) -> Vec<DeliveryFuture> {
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let record = ProducerRecord::new(topic)
            .key(format!("key-{i}"))
            .value(format!("{prefix}-{i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    deliveries
}

async fn all_delivered(deliveries: Vec<DeliveryFuture>) {
    for d in deliveries {
        d.await.expect("delivered");
    }
}

fn text(value: Option<&[u8]>) -> String {
    String::from_utf8_lossy(value.unwrap_or_default()).into_owned()
}

/// Every value of `topic` from the start, read until `expected` arrived
/// (30 s at most) and then a little longer, so extra records show up.
async fn read_values(
    client: &Client,
    topic: &str,
    committed: bool,
    expected: usize,
) -> Vec<String> {
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .read_committed(committed);
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(topic, &[]).await.expect("assign");
    let mut values = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while values.len() < expected && Instant::now() < deadline {
        for r in consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll")
        {
            values.push(text(r.value.as_deref()));
        }
    }
    for r in consumer
        .poll(Duration::from_millis(500))
        .await
        .expect("poll")
    {
        values.push(text(r.value.as_deref()));
    }
    values
}

fn count_prefix(values: &[String], prefix: &str) -> usize {
    values.iter().filter(|v| v.starts_with(prefix)).count()
}

#[tokio::test]
async fn kafka_finalizes_transaction_version_2() {
    let _log = log_on_failure();
    let broker = broker();
    if broker.is_tansu() {
        return skip(
            "kafka_finalizes_transaction_version_2",
            "Tansu finalizes no transaction.version: only protocol v1 runs against it",
        );
    }
    // A raw ApiVersions v3 exchange: what the client's protocol choice reads.
    let mut stream = tokio::net::TcpStream::connect(&broker.bootstrap)
        .await
        .expect("connect");
    let request = ApiVersionsRequest {
        client_software_name: "kafkacc-it".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    let mut frame = bytes::BytesMut::new();
    encode_request_frame(&mut frame, 3, 1, Some("kafkacc-it"), &request).expect("encode");
    stream.write_all(&frame).await.expect("write");
    let len = stream.read_i32().await.expect("length");
    let mut body = vec![0u8; usize::try_from(len).expect("positive length")];
    stream.read_exact(&mut body).await.expect("body");
    let mut body = bytes::Bytes::from(body);
    assert_eq!(
        decode_response_header(&mut body, ApiKey::ApiVersions, 3).unwrap(),
        1
    );
    let response = ApiVersionsResponse::decode(&mut body, 3).expect("decode");
    let level = response
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .map(|f| f.max_version_level);
    assert!(level >= Some(2), "transaction.version finalized: {level:?}");
    let max = |key: ApiKey| {
        response
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| k.max_version)
    };
    assert!(max(ApiKey::EndTxn) >= Some(5));
    assert!(max(ApiKey::Produce) >= Some(12));
}

#[tokio::test]
async fn committed_transactions_are_visible_and_aborted_ones_are_hidden() {
    let _log = log_on_failure();
    let client = client().await;
    const N: usize = 40;
    for v2 in PROTOCOLS {
        let topic = new_topic(&client, "txn-visible").await;
        let producer = txn_producer(&client, &unique_name("txn-visible"), v2).await;

        producer.begin_transaction().unwrap();
        let committed = send_values(&producer, &topic, "committed", N).await;
        producer.commit_transaction().await.expect("commit");
        all_delivered(committed).await;

        producer.begin_transaction().unwrap();
        let aborted = send_values(&producer, &topic, "aborted", N).await;
        producer.flush().await.expect("written before the abort");
        all_delivered(aborted).await;
        producer.abort_transaction().await.expect("abort");

        producer.begin_transaction().unwrap();
        let after = send_values(&producer, &topic, "after", N).await;
        producer
            .commit_transaction()
            .await
            .expect("commit after an abort");
        all_delivered(after).await;
        producer.close(Duration::from_secs(5)).await.expect("close");

        let everything = read_values(&client, &topic, false, 3 * N).await;
        assert_eq!(
            everything.len(),
            3 * N,
            "v2={v2}: read_uncommitted sees all"
        );
        assert_eq!(count_prefix(&everything, "aborted-"), N, "v2={v2}");
        if broker().is_tansu() {
            skip(
                "committed_transactions_are_visible_and_aborted_ones_are_hidden",
                TANSU_READ_COMMITTED,
            );
            continue;
        }
        let visible = read_values(&client, &topic, true, 2 * N).await;
        assert_eq!(visible.len(), 2 * N, "v2={v2}: {visible:?}");
        assert_eq!(count_prefix(&visible, "committed-"), N, "v2={v2}");
        assert_eq!(count_prefix(&visible, "after-"), N, "v2={v2}");
    }
}

#[tokio::test]
async fn abort_fails_records_not_yet_sent() {
    let _log = log_on_failure();
    let client = client().await;
    for v2 in PROTOCOLS {
        let topic = new_topic(&client, "txn-unsent").await;
        let config = ProducerConfig::default()
            .transactional_id(unique_name("txn-unsent"))
            .transaction_v2(v2)
            .linger(Duration::from_secs(30));
        let producer = Producer::new(client.clone(), config).expect("producer");
        producer.init_transactions().await.expect("init");
        assert_eq!(
            producer
                .send(ProducerRecord::new(&topic).value("x"))
                .await
                .unwrap_err()
                .transaction_kind(),
            Some(TransactionErrorKind::InvalidState),
            "no send outside a transaction"
        );
        producer.begin_transaction().unwrap();
        let lingering = send_values(&producer, &topic, "lingering", 5).await;
        producer.abort_transaction().await.expect("abort");
        for d in lingering {
            let e = d
                .await
                .expect_err("an unsent record of an aborted transaction fails");
            assert_eq!(
                e.transaction_kind(),
                Some(TransactionErrorKind::Aborted),
                "{e}"
            );
        }
        producer.begin_transaction().unwrap();
        let kept = send_values(&producer, &topic, "kept", 1).await;
        producer.commit_transaction().await.expect("commit");
        all_delivered(kept).await;
        let everything = read_values(&client, &topic, false, 1).await;
        assert_eq!(
            everything,
            vec!["kept-0".to_owned()],
            "v2={v2}: nothing else was written"
        );
    }
}

#[tokio::test]
async fn a_zombie_producer_is_fenced() {
    let _log = log_on_failure();
    let client = client().await;
    for v2 in PROTOCOLS {
        let topic = new_topic(&client, "txn-zombie").await;
        let id = unique_name("txn-zombie");
        let zombie = txn_producer(&client, &id, v2).await;
        zombie.begin_transaction().unwrap();
        all_delivered(send_values(&zombie, &topic, "zombie", 3).await).await;

        // Same transactional id: fences the zombie and aborts its transaction.
        let successor = txn_producer(&client, &id, v2).await;

        let fenced = |e: &Error, what: &str| {
            assert_eq!(e.recovery(), Recovery::Fatal, "v2={v2} {what}: {e}");
            assert_eq!(
                e.transaction_kind(),
                Some(TransactionErrorKind::Fenced),
                "v2={v2} {what}: {e}"
            );
        };
        // The zombie's next write fails, typed...
        let late = zombie
            .send(
                ProducerRecord::new(&topic)
                    .partition(0)
                    .value("zombie-late"),
            )
            .await;
        match late {
            Ok(delivery) => fenced(&delivery.await.expect_err("a fenced write fails"), "send"),
            Err(e) => fenced(&e, "send"),
        }
        // ... and so does everything after it.
        fenced(
            &zombie.commit_transaction().await.expect_err("commit"),
            "commit",
        );
        fenced(&zombie.begin_transaction().expect_err("begin"), "begin");

        successor.begin_transaction().unwrap();
        all_delivered(send_values(&successor, &topic, "successor", 3).await).await;
        successor
            .commit_transaction()
            .await
            .expect("the successor commits");

        if broker().is_tansu() {
            skip("a_zombie_producer_is_fenced", TANSU_READ_COMMITTED);
            continue;
        }
        let visible = read_values(&client, &topic, true, 3).await;
        let mut sorted = visible.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["successor-0", "successor-1", "successor-2"],
            "v2={v2}: {visible:?}"
        );
    }
}

#[tokio::test]
async fn a_transaction_past_its_timeout_is_aborted_by_the_coordinator() {
    let _log = log_on_failure();
    if broker().is_tansu() {
        return skip(
            "a_transaction_past_its_timeout_is_aborted_by_the_coordinator",
            TANSU_READ_COMMITTED,
        );
    }
    let client = client().await;
    for v2 in PROTOCOLS {
        let topic = new_topic(&client, "txn-timeout").await;
        let id = unique_name("txn-timeout");
        let config = ProducerConfig::default()
            .transactional_id(&id)
            .transaction_v2(v2)
            .transaction_timeout(Duration::from_secs(2))
            .max_block(Duration::from_secs(30));
        let forgetful = Producer::new(client.clone(), config).expect("producer");
        forgetful.init_transactions().await.expect("init");
        forgetful.begin_transaction().unwrap();
        let delivery = forgetful
            .send(ProducerRecord::new(&topic).partition(0).value("forgotten"))
            .await
            .expect("send");
        delivery.await.expect("written, not yet committed");

        // The coordinator aborts the transaction once its timeout has
        // passed: the abort marker follows the record (30 s at most; the
        // test broker checks every second, Kafka's default is 10 s).
        let admin = Admin::new(client.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let end = admin
                .list_offsets(&topic, &[0], kafkacc::OffsetSpec::Latest)
                .await
                .expect("list offsets");
            if end.get(&0).copied().unwrap_or(0) >= 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "v2={v2}: no abort marker 30 s after the transaction timed out"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        // The late commit fails, typed, and nothing becomes visible.
        let late = forgetful
            .commit_transaction()
            .await
            .expect_err("a commit after the coordinator aborted fails");
        assert!(
            late.transaction_kind().is_some(),
            "v2={v2}: a transaction error: {late:?}"
        );
        let visible = read_values(&client, &topic, true, 0).await;
        assert!(visible.is_empty(), "v2={v2}: {visible:?}");

        // The id is usable again by a new producer.
        let next = txn_producer(&client, &id, v2).await;
        next.begin_transaction().unwrap();
        all_delivered(send_values(&next, &topic, "after", 1).await).await;
        next.commit_transaction().await.expect("commit");
        assert_eq!(read_values(&client, &topic, true, 1).await, ["after-0"]);
    }
}

#[tokio::test]
async fn librdkafka_and_kcat_read_only_committed_records() {
    let _log = log_on_failure();
    let client = client().await;
    const N: usize = 20;
    let topic = new_topic(&client, "txn-rdkafka").await;
    let producer = txn_producer(&client, &unique_name("txn-rdkafka"), true).await;
    for (prefix, commit) in [("committed", true), ("aborted", false), ("after", true)] {
        producer.begin_transaction().unwrap();
        let deliveries = send_values(&producer, &topic, prefix, N).await;
        if commit {
            producer.commit_transaction().await.expect("commit");
        } else {
            producer.flush().await.expect("flush");
            producer.abort_transaction().await.expect("abort");
        }
        all_delivered(deliveries).await;
    }
    if broker().is_tansu() {
        return skip(
            "librdkafka_and_kcat_read_only_committed_records",
            TANSU_READ_COMMITTED,
        );
    }
    let bootstrap = broker().bootstrap.clone();
    let topic_arg = topic.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(kafkacc_tests::rdkafka::python())
            .arg(kafkacc_tests::workspace_root().join("tests/python/rdkafka_read_committed.py"))
            .args([
                "read_committed",
                &bootstrap,
                &topic_arg,
                &(2 * N).to_string(),
            ])
            .output()
            .expect("run the librdkafka reader")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "librdkafka reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let values: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(2).map(str::to_owned))
        .collect();
    assert_eq!(values.len(), 2 * N, "{values:?}");
    assert_eq!(count_prefix(&values, "committed-"), N);
    assert_eq!(count_prefix(&values, "after-"), N);

    // kcat, told to read committed records only, to the end of every partition.
    let bootstrap = broker().bootstrap.clone();
    let values = tokio::task::spawn_blocking(move || {
        run_kcat(
            &[
                "-C",
                "-b",
                &bootstrap,
                "-t",
                &topic,
                "-o",
                "beginning",
                "-e",
                "-q",
                "-X",
                "isolation.level=read_committed",
                "-f",
                "%s\n",
            ],
            "",
        )
    })
    .await
    .unwrap();
    assert_eq!(values.len(), 2 * N, "kcat: {values:?}");
    assert_eq!(count_prefix(&values, "committed-"), N, "kcat");
    assert_eq!(count_prefix(&values, "after-"), N, "kcat");
}

/// One member of the copying application: a read_committed group consumer
/// and a transactional producer with a fixed id.
struct Copier {
    consumer: GroupConsumer,
    producer: Producer,
    in_transaction: bool,
}

impl Copier {
    async fn start(client: &Client, group: &str, txn_id: &str, input: &str, v2: bool) -> Copier {
        // Fence any earlier incarnation (aborting its open transaction)
        // before reading the group's committed offsets.
        let producer = txn_producer(client, txn_id, v2).await;
        let consumer_config = ConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100))
            .read_committed(true);
        let group_config = GroupConfig::new(group)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .max_poll_interval(Duration::from_secs(20))
            .enable_auto_commit(false);
        let mut consumer =
            GroupConsumer::new(client.clone(), consumer_config, group_config).expect("consumer");
        consumer.subscribe(&[input]).expect("subscribe");
        Copier {
            consumer,
            producer,
            in_transaction: false,
        }
    }

    /// Copies what one poll returns, with its offsets, into the current
    /// transaction (beginning one if needed), and commits it if `commit`.
    /// Without the commit the records still reach the log, inside the open
    /// transaction. Returns how many records were copied.
    async fn copy_once(&mut self, output: &str, commit: bool) -> usize {
        let records = self
            .consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll");
        if records.is_empty() {
            return 0;
        }
        if !self.in_transaction {
            self.producer.begin_transaction().expect("begin");
            self.in_transaction = true;
        }
        let mut offsets = BTreeMap::new();
        for r in &records {
            let value = text(r.value.as_deref()).replace("in-", "out-");
            let record = ProducerRecord::new(output).value(value);
            drop(self.producer.send(record).await.expect("send"));
            offsets.insert(TopicPartition::new(&*r.topic, r.partition), r.offset + 1);
        }
        let group = self.consumer.group_metadata();
        self.producer
            .send_offsets_to_transaction(offsets, &group)
            .await
            .expect("send offsets");
        if commit {
            self.producer.commit_transaction().await.expect("commit");
            self.in_transaction = false;
        } else {
            self.producer.flush().await.expect("flush");
        }
        records.len()
    }
}

#[tokio::test]
async fn consume_transform_produce_is_exactly_once_across_a_crash() {
    let _log = log_on_failure();
    let client = client().await;
    /// Input records per round; three rounds.
    const ROUND: usize = 100;
    const N: usize = 3 * ROUND;
    for v2 in PROTOCOLS {
        let input = new_topic(&client, "eos-in").await;
        let output = new_topic(&client, "eos-out").await;
        let group = unique_name("eos-group");
        let txn_id = unique_name("eos-copier");
        let plain = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");

        // First incarnation: two rounds copied in committed transactions,
        // the third copied into a transaction that never commits (crash).
        let mut first = Copier::start(&client, &group, &txn_id, &input, v2).await;
        let deadline = Instant::now() + Duration::from_secs(90);
        for round in 0..3 {
            let mut deliveries = Vec::new();
            for i in round * ROUND..(round + 1) * ROUND {
                let record = ProducerRecord::new(&input)
                    .key(format!("key-{i}"))
                    .value(format!("in-{i}"));
                deliveries.push(plain.send(record).await.expect("send input"));
            }
            all_delivered(deliveries).await;
            let mut copied = 0;
            while copied < ROUND {
                assert!(
                    Instant::now() < deadline,
                    "v2={v2}: round {round} stuck at {copied}"
                );
                copied += first.copy_once(&output, round < 2).await;
            }
            assert_eq!(copied, ROUND, "v2={v2}: round {round}");
        }
        drop(first); // killed: no commit, no abort

        // Restart: the new producer fences the old one, whose open
        // transaction is aborted; the group resumes from committed offsets.
        let mut second = Copier::start(&client, &group, &txn_id, &input, v2).await;
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut recopied = 0;
        loop {
            assert!(
                Instant::now() < deadline,
                "v2={v2}: the restarted copier did not finish"
            );
            recopied += second.copy_once(&output, true).await;
            let committed = committed_offsets(&client, &group, &input)
                .await
                .expect("offsets");
            if committed.values().sum::<i64>() == N as i64 {
                break;
            }
        }
        assert_eq!(
            recopied, ROUND,
            "v2={v2}: exactly the crashed round is read again"
        );
        second.consumer.close().await.expect("close consumer");

        let expected: BTreeSet<String> = (0..N).map(|i| format!("out-{i}")).collect();
        if broker().is_tansu() {
            // Aborted copies stay visible on Tansu: only at-least-once holds.
            let values = read_values(&client, &output, true, N).await;
            let seen: BTreeSet<String> = values.into_iter().collect();
            assert_eq!(seen, expected, "v2={v2}: every input copied");
            skip(
                "consume_transform_produce_is_exactly_once_across_a_crash",
                TANSU_READ_COMMITTED,
            );
            continue;
        }
        let values = read_values(&client, &output, true, N).await;
        assert_eq!(values.len(), N, "v2={v2}: exactly once");
        let seen: BTreeSet<String> = values.iter().cloned().collect();
        assert_eq!(seen, expected, "v2={v2}: every input record once");
        // The crashed round's copies are in the log too, hidden.
        let everything = read_values(&client, &output, false, N + ROUND).await;
        assert_eq!(everything.len(), N + ROUND, "v2={v2}");
    }
}

/// Starts the `txn_copier` binary (a consume-transform-produce process).
fn spawn_copier(input: &str, output: &str, group: &str, txn_id: &str) -> PeerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_txn_copier"));
    command.args([&broker().bootstrap, input, output, group, txn_id]);
    PeerProcess::spawn("txn_copier", command)
}

/// Waits until `copier` printed a line `matches` accepts (60 s at most).
async fn wait_for_line(copier: &mut PeerProcess, what: &str, matches: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches(&copier.lines()) {
        assert!(
            Instant::now() < deadline && !copier.has_exited(),
            "txn_copier never {what}; stdout {:?}, stderr {:?}",
            copier.lines(),
            copier.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_copier_process_killed_mid_transaction_copies_exactly_once() {
    let _log = log_on_failure();
    let client = client().await;
    const N: usize = 300;
    let input = new_topic(&client, "eos-kill-in").await;
    let output = new_topic(&client, "eos-kill-out").await;
    let group = unique_name("eos-kill-group");
    let txn_id = unique_name("eos-kill-copier");
    let plain = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..N {
        let record = ProducerRecord::new(&input)
            .key(format!("key-{i}"))
            .value(format!("in-{i}"));
        deliveries.push(plain.send(record).await.expect("send input"));
    }
    all_delivered(deliveries).await;

    // The first process commits at least one transaction, then is killed
    // (SIGKILL) while its next one is written but not committed.
    let mut first = spawn_copier(&input, &output, &group, &txn_id);
    wait_for_line(
        &mut first,
        "committed a transaction and opened another",
        |lines| {
            let committed = lines.iter().position(|l| l.starts_with("committed "));
            committed.is_some_and(|c| lines[c..].iter().any(|l| l.starts_with("open ")))
        },
    )
    .await;
    let killed_open = first
        .lines()
        .iter()
        .rev()
        .take_while(|l| !l.starts_with("committed "))
        .any(|l| l.starts_with("open "));
    drop(first); // SIGKILL
    assert!(killed_open, "killed inside a transaction");

    // The second process fences the first and finishes the input.
    let mut second = spawn_copier(&input, &output, &group, &txn_id);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let committed = committed_offsets(&client, &group, &input)
            .await
            .expect("offsets");
        if committed.values().sum::<i64>() == N as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline && !second.has_exited(),
            "the restarted copier did not finish: {committed:?}; stderr {:?}",
            second.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, clean) = second.stop(Duration::from_secs(20));
    assert!(clean, "the second copier left cleanly");

    let expected: BTreeSet<String> = (0..N).map(|i| format!("out-{i}")).collect();
    let values = read_values(&client, &output, true, N).await;
    let seen: BTreeSet<String> = values.iter().cloned().collect();
    assert_eq!(seen, expected, "every input record copied");
    if broker().is_tansu() {
        // Aborted copies stay visible on Tansu: only at-least-once holds.
        return skip(
            "a_copier_process_killed_mid_transaction_copies_exactly_once",
            TANSU_READ_COMMITTED,
        );
    }
    assert_eq!(values.len(), N, "exactly once for read_committed readers");
    let everything = read_values(&client, &output, false, N + 1).await;
    assert!(
        everything.len() > N,
        "the killed transaction's copies are in the log, hidden: {} records",
        everything.len()
    );
}

/// What the scripted coordinator saw: each request's API, version, and for
/// Produce the transactional id and each batch's (epoch, transactional).
#[derive(Debug, Clone)]
struct Seen {
    api: ApiKey,
    version: i16,
    produce: Option<ProduceSeen>,
}

/// A Produce request's transactional id and its batches' (epoch, transactional).
#[derive(Debug, Clone)]
struct ProduceSeen {
    transactional_id: Option<String>,
    batches: Vec<(i16, bool)>,
}

/// A one-node cluster that is its own transaction and group coordinator
/// and accepts everything; with `v2` it finalizes `transaction.version` 2.
/// EndTxn v5+ answers with the epoch bumped, as KIP-890 brokers do.
async fn scripted_cluster(v2: bool, seen: Arc<Mutex<Vec<Seen>>>) -> ScriptedBroker {
    use kafkacc::protocol::generated::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };
    use kafkacc::protocol::generated::api_versions_response::FinalizedFeatureKey;
    use kafkacc::protocol::generated::find_coordinator_response::Coordinator;
    use kafkacc::protocol::generated::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafkacc::protocol::messages::{
        AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse,
        InitProducerIdResponse, ProduceResponse,
    };
    use kafkacc::protocol::records::BatchHeader;
    use kafkacc::protocol::{RequestKind, ResponseKind};
    use kafkacc_tests::script::{Reply, api_versions_response, metadata_response};

    let port = Arc::new(AtomicI32::new(0));
    let port_in_handler = port.clone();
    let broker = ScriptedBroker::start(move |header, request| {
        let port = port_in_handler.load(Ordering::SeqCst);
        let mut produce = None;
        let reply = match request {
            RequestKind::ApiVersions(_) => {
                let mut response = api_versions_response();
                if let ResponseKind::ApiVersions(r) = &mut response {
                    if v2 {
                        r.finalized_features_epoch = 1;
                        r.finalized_features = vec![FinalizedFeatureKey {
                            name: "transaction.version".into(),
                            max_version_level: 2,
                            min_version_level: 2,
                            ..Default::default()
                        }];
                    }
                }
                response
            }
            RequestKind::Metadata(_) => metadata_response(port, &[("out", 2)]),
            RequestKind::FindCoordinator(r) => {
                // v4+ answers per key; older versions at the top level.
                let response = if header.api_version >= 4 {
                    FindCoordinatorResponse {
                        coordinators: r
                            .coordinator_keys
                            .iter()
                            .map(|key| Coordinator {
                                key: key.clone(),
                                node_id: 1,
                                host: "127.0.0.1".into(),
                                port,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                } else {
                    FindCoordinatorResponse {
                        node_id: 1,
                        host: "127.0.0.1".into(),
                        port,
                        ..Default::default()
                    }
                };
                ResponseKind::FindCoordinator(response)
            }
            RequestKind::InitProducerId(_) => {
                ResponseKind::InitProducerId(InitProducerIdResponse {
                    producer_id: 42,
                    producer_epoch: 0,
                    ..Default::default()
                })
            }
            RequestKind::AddPartitionsToTxn(r) => {
                let results = r
                    .v3_and_below_topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| AddPartitionsToTxnPartitionResult {
                                partition_index: *p,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect();
                ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                    results_by_topic_v3_and_below: results,
                    ..Default::default()
                })
            }
            RequestKind::Produce(r) => {
                let batches = r
                    .topic_data
                    .iter()
                    .flat_map(|t| t.partition_data.iter())
                    .filter_map(|p| p.records.as_deref().map(BatchHeader::parse))
                    .map(|h| {
                        let h = h.expect("a valid batch");
                        (h.producer_epoch, h.is_transactional())
                    })
                    .collect();
                let id = r.transactional_id.as_ref().map(|s| s.as_str().to_owned());
                produce = Some(ProduceSeen {
                    transactional_id: id,
                    batches,
                });
                ResponseKind::Produce(ProduceResponse {
                    responses: r
                        .topic_data
                        .iter()
                        .map(|t| TopicProduceResponse {
                            name: t.name.clone(),
                            topic_id: t.topic_id,
                            partition_responses: t
                                .partition_data
                                .iter()
                                .map(|p| PartitionProduceResponse {
                                    index: p.index,
                                    log_append_time_ms: -1,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            }
            RequestKind::EndTxn(r) => ResponseKind::EndTxn(EndTxnResponse {
                producer_id: 42,
                producer_epoch: r.producer_epoch + 1,
                ..Default::default()
            }),
            _ => return Reply::Close,
        };
        seen.lock().unwrap().push(Seen {
            api: header.api_key,
            version: header.api_version,
            produce,
        });
        Reply::respond(reply)
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    broker
}

#[tokio::test]
async fn both_transaction_protocols_against_a_scripted_coordinator() {
    for v2 in PROTOCOLS {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let broker = scripted_cluster(v2, seen.clone()).await;
        let client = Client::connect(kafkacc::ClientConfig::new(&broker.addr))
            .await
            .expect("connect");
        let config = ProducerConfig::default()
            .transactional_id("scripted")
            .max_block(Duration::from_secs(10));
        let producer = Producer::new(client, config).expect("producer");
        producer.init_transactions().await.expect("init");
        for round in 0..2 {
            producer.begin_transaction().unwrap();
            let mut deliveries = Vec::new();
            for p in 0..2 {
                let record = ProducerRecord::new("out")
                    .partition(p)
                    .value(format!("{round}"));
                deliveries.push(producer.send(record).await.expect("send"));
            }
            producer.commit_transaction().await.expect("commit");
            all_delivered(deliveries).await;
        }
        let seen = seen.lock().unwrap().clone();
        let of = |api| seen.iter().filter(move |s| s.api == api);
        let produces: Vec<&Seen> = of(ApiKey::Produce).collect();
        assert!(!produces.is_empty());
        for p in &produces {
            let ProduceSeen {
                transactional_id: id,
                batches,
            } = p.produce.clone().unwrap();
            assert_eq!(
                id.as_deref(),
                Some("scripted"),
                "Produce names the transactional id"
            );
            assert!(batches.iter().all(|(_, txn)| *txn), "transactional batches");
        }
        let ends: Vec<&Seen> = of(ApiKey::EndTxn).collect();
        assert_eq!(ends.len(), 2, "one EndTxn per transaction");
        let epochs: BTreeSet<i16> = produces
            .iter()
            .flat_map(|p| p.produce.clone().unwrap().batches)
            .map(|(epoch, _)| epoch)
            .collect();
        if v2 {
            assert_eq!(
                of(ApiKey::AddPartitionsToTxn).count(),
                0,
                "KIP-890: no AddPartitionsToTxn"
            );
            assert!(
                produces.iter().all(|p| p.version >= 12),
                "Produce v12+ in protocol v2"
            );
            assert!(ends.iter().all(|e| e.version == 5), "EndTxn v5");
            assert_eq!(
                epochs,
                BTreeSet::from([0, 1]),
                "the second transaction uses the epoch EndTxn returned"
            );
        } else {
            // Every partition is added before its first batch is produced.
            let first_produce = seen.iter().position(|s| s.api == ApiKey::Produce).unwrap();
            let first_add = seen
                .iter()
                .position(|s| s.api == ApiKey::AddPartitionsToTxn)
                .expect("AddPartitionsToTxn in protocol v1");
            assert!(first_add < first_produce, "{seen:?}");
            assert_eq!(
                of(ApiKey::AddPartitionsToTxn).count(),
                2,
                "once per transaction"
            );
            assert!(of(ApiKey::AddPartitionsToTxn).all(|s| s.version <= 3));
            assert!(
                produces.iter().all(|p| p.version <= 11),
                "Produce ≤ v11 in protocol v1"
            );
            assert!(
                ends.iter().all(|e| e.version <= 4),
                "EndTxn ≤ v4 in protocol v1"
            );
            assert_eq!(epochs, BTreeSet::from([0]), "v1 keeps the epoch");
        }
    }
}
