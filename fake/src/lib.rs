//! # kafkacc-fake
//!
//! An in-process fake Apache Kafka cluster for tests, in the spirit of
//! franz-go's `kfake` and librdkafka's mock cluster: N brokers, each on its
//! own TCP listener on 127.0.0.1, sharing one in-memory state. Any Kafka
//! client can talk to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafkacc_fake::FakeError> {
//! use kafkacc_fake::FakeCluster;
//! use kafkacc_protocol::{ApiKey, ErrorCode};
//!
//! let cluster = FakeCluster::builder().brokers(3).default_partitions(3).build().await?;
//! cluster.create_topic("events", 6)?;
//! let bootstrap = cluster.bootstrap();
//! // ... run the code under test against `bootstrap` ...
//! cluster.inject_error(ApiKey::Produce, ErrorCode::NOT_ENOUGH_REPLICAS, 2);
//! cluster.kill_broker(2).await?;
//! cluster.restart_broker(2).await?;
//! # Ok(()) }
//! ```
//!
//! What it implements (versions as advertised in ApiVersions):
//! ApiVersions 0-4, Metadata 0-13, CreateTopics 2-7, DeleteTopics 1-6,
//! CreatePartitions 0-3, Produce 3-13, Fetch 4-18, ListOffsets 1-10,
//! InitProducerId 0-6, FindCoordinator 0-6, JoinGroup 0-9, SyncGroup 0-5,
//! Heartbeat 0-4, LeaveGroup 0-5, OffsetCommit 2-10, OffsetFetch 1-10,
//! ListGroups 0-5, DescribeGroups 0-6, DeleteGroups 0-2,
//! OffsetForLeaderEpoch 2-4,
//! AddPartitionsToTxn 0-5, AddOffsetsToTxn 0-4, TxnOffsetCommit 0-5,
//! EndTxn 0-5, ConsumerGroupHeartbeat 0-1 and ConsumerGroupDescribe 0-1
//! (KIP-848, a uniform assignor).
//! Other APIs close the connection (as Tansu does).
//!
//! Not modelled: replication (the high watermark is the log end), ACLs/SASL/TLS,
//! retention, compaction, configs beyond what tests need.

#![warn(missing_docs)]

mod clock;
mod cluster;
mod config;
mod error;
mod faults;
mod group;
mod group848;
mod handlers;
mod log;
mod sequence;
mod server;
mod session;
mod state;
mod txn;

pub use cluster::{FakeCluster, FakeClusterBuilder};
pub use error::FakeError;
pub use kafkacc_protocol::{ApiKey, ErrorCode};
