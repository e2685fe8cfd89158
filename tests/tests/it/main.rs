//! Integration tests against a real broker (Apache Kafka by default; Tansu
//! with `KAFKACC_TEST_BROKER=tansu`; any broker with `KAFKA_BOOTSTRAP`).
//! One binary so the broker starts once for all of them.

#![allow(clippy::unwrap_used)] // test code: a failed lock or parse should fail the test

mod admin;
mod bootstrap;
mod faults;
mod fetch_session;
mod group;
mod group_admin;
mod group_callbacks;
mod group_partitions;
mod hostile_broker;
mod interop;
mod mixed_cooperative;
mod mixed_group;
mod pattern;
mod produce_consume;
mod producer_faults;
mod restart;
mod security;
mod stream;
mod transactions;

use kafkacc::{Client, ClientConfig};
use std::time::Duration;

/// A client connected to the test broker.
pub async fn client() -> Client {
    let broker = kafkacc_tests::broker();
    let config = ClientConfig::new(&broker.bootstrap)
        .client_id("kafkacc-it")
        .request_timeout(Duration::from_secs(30));
    Client::connect(config)
        .await
        .expect("connect to the test broker")
}
