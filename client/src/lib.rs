//! # kafkacc
//!
//! A pure-Rust client for Apache Kafka that speaks the wire protocol itself
//! (no librdkafka, no C): bootstrap, metadata, a batching producer with
//! Java-compatible partitioning, a consumer, and admin operations.
//!
//! ```no_run
//! use kafkacc::{Client, ClientConfig, Producer, ProducerConfig, ProducerRecord};
//!
//! # async fn demo() -> kafkacc::Result<()> {
//! let client = Client::connect(ClientConfig::new("localhost:9092")).await?;
//! let producer = Producer::new(client.clone(), ProducerConfig::default())?;
//! let delivery = producer.send(ProducerRecord::new("users").key("42").value("{\"name\":\"Ada\"}")).await?;
//! let written = delivery.await?;
//! println!("written to partition {} at offset {}", written.partition, written.offset);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod admin;
mod client;
pub mod config;
pub mod consumer;
pub mod determinism;
mod error;
pub mod group;
pub mod metadata;
mod net;
pub mod partitioner;
pub mod producer;
mod retry;
pub mod security;
pub mod serde;

pub use admin::{
    Admin, ConfigChange, ConfigEntry, ConfigResource, ConfigSource, NewTopic, OffsetSpec,
};
pub use client::Client;
pub use config::{BrokerAddressMap, ClientConfig};
pub use consumer::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, PartitionRecords, RecordView,
    ViewHeaders,
};
pub use error::{Error, Recovery, Result, TransactionErrorKind};
pub use group::assignor::TopicPartition;
pub use group::{GroupConfig, GroupConsumer, GroupProtocol, RebalanceEvent};
pub use net::dialer::{BrokerStream, DialFuture, Dialer};
pub use producer::{
    Acks, ConsumerGroupMetadata, DeliveryFuture, Producer, ProducerConfig, ProducerRecord,
    RecordMetadata,
};

/// The protocol crate, re-exported (record headers, compression, error codes).
pub use kafkacc_protocol as protocol;
pub use kafkacc_protocol::compression::Compression;
pub use kafkacc_protocol::records::Header;
