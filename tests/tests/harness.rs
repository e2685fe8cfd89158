//! Checks the harness itself, without kafkacc: the broker it hands out
//! answers a hand-built ApiVersions v0 request on a raw TCP connection.
//! Run against each broker:
//!
//! ```text
//! cargo test -p kafkacc-tests --test harness
//! KAFKACC_TEST_BROKER=tansu cargo test -p kafkacc-tests --test harness
//! ```

use kafkacc_tests::{BrokerKind, broker, log_on_failure, unique_name};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// ApiVersions (key 18) v0, correlation id 1, null client id, after a 4-byte size.
const API_VERSIONS_V0: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[test]
fn broker_answers_api_versions_v0() {
    let _log = log_on_failure();
    let broker = broker();
    let mut stream = TcpStream::connect(&broker.bootstrap).expect("connect to the bootstrap");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(&API_VERSIONS_V0)
        .expect("send ApiVersions");

    let mut size = [0u8; 4];
    stream.read_exact(&mut size).expect("response size");
    let size = i32::from_be_bytes(size);
    assert!(
        (6..1 << 20).contains(&size),
        "implausible response size {size}"
    );
    let mut body = vec![0u8; size as usize];
    stream.read_exact(&mut body).expect("response body");

    // Response header v0: correlation id; then the v0 body: error code and
    // an array of (api key, min version, max version).
    assert_eq!(i32_at(&body, 0), 1, "correlation id");
    assert_eq!(i16_at(&body, 4), 0, "error code");
    let count = i32_at(&body, 6);
    assert_eq!(
        body.len(),
        10 + 6 * count as usize,
        "{count} api entries in a {size}-byte response"
    );
    let keys: HashSet<i16> = (0..count as usize)
        .map(|i| i16_at(&body, 10 + 6 * i))
        .collect();
    for (key, name) in [
        (0, "Produce"),
        (1, "Fetch"),
        (3, "Metadata"),
        (18, "ApiVersions"),
    ] {
        assert!(
            keys.contains(&key),
            "{name} (key {key}) not advertised by the {} broker",
            broker.kind
        );
    }
}

#[test]
fn broker_kind_follows_the_environment() {
    let broker = broker();
    let expected = if std::env::var("KAFKA_BOOTSTRAP").is_ok_and(|s| !s.trim().is_empty()) {
        BrokerKind::External
    } else if std::env::var("KAFKACC_TEST_BROKER").as_deref() == Ok("tansu") {
        BrokerKind::Tansu
    } else if std::env::var("KAFKACC_TEST_BROKER").as_deref() == Ok("fake") {
        BrokerKind::Fake
    } else {
        BrokerKind::Kafka
    };
    assert_eq!(broker.kind, expected);
    assert_eq!(broker.is_tansu(), expected == BrokerKind::Tansu);
    assert!(
        broker.bootstrap.starts_with("127.0.0.1:") || expected == BrokerKind::External,
        "{}",
        broker.bootstrap
    );
    if expected != BrokerKind::External {
        let log = broker.log_path().expect("a started broker has a log");
        assert!(log.is_file(), "{} missing", log.display());
        // The fake cluster runs inside the test process: no pid of its own.
        assert_eq!(broker.pid().is_some(), expected != BrokerKind::Fake);
    }
}

#[test]
fn unique_names_are_unique_and_legal_topic_names() {
    let names: HashSet<String> = (0..1000).map(|_| unique_name("harness/test")).collect();
    assert_eq!(names.len(), 1000);
    for name in &names {
        assert!(name.starts_with("harness-test-"), "{name}");
        assert!(
            name.len() <= 249
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
            "{name}"
        );
    }
}
