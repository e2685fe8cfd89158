//! Cluster administration: topics, partitions, offsets, groups,
//! configuration, ACLs.

mod acls;
mod configs;
mod groups;

pub use acls::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType,
};
pub use configs::{ConfigChange, ConfigEntry, ConfigResource, ConfigSource};
pub use groups::{GroupDescription, GroupListing, GroupMember};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::metadata::{ClusterMetadata, TopicInfo};
use crate::net::pool::Lane;
use kafkacc_protocol::generated::create_partitions_request::CreatePartitionsTopic;
use kafkacc_protocol::generated::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafkacc_protocol::generated::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafkacc_protocol::generated::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkacc_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    ListOffsetsRequest,
};
use kafkacc_protocol::{ErrorCode, Request, StrBytes};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions (-1 = the broker's default).
    pub partitions: i32,
    /// Replication factor (-1 = the broker's default).
    pub replication_factor: i16,
    /// Topic configs (`retention.ms`, `cleanup.policy`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with `partitions` partitions and the broker's default replication.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: Vec::new(),
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = factor;
        self
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// Which offset to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first offset still in the log.
    Earliest,
    /// The offset the next record will get (the high watermark).
    Latest,
    /// The first offset whose timestamp is at or after this (ms since epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire_timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// Admin operations; get one from [`Admin::new`].
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    timeout: Duration,
}

impl Admin {
    /// Admin operations on `client`'s cluster.
    pub fn new(client: Client) -> Self {
        let timeout = client.config().request_timeout;
        Admin { client, timeout }
    }

    /// Sends a controller-bound request: to the controller when known
    /// (brokers forward it in KRaft anyway), else to any broker.
    async fn send_to_controller<R: Request>(&self, request: &R) -> Result<R::Response> {
        let controller = self.client.metadata().controller_id;
        if controller >= 0 {
            if let Ok(conn) = self
                .client
                .broker_connection(controller, Lane::Default)
                .await
            {
                return conn.send(request).await;
            }
        }
        self.client.send_any(request).await
    }

    fn timeout_ms(&self) -> i32 {
        self.timeout.as_millis().min(i32::MAX as u128) as i32
    }

    /// Creates topics. Each topic's outcome is returned separately, so one
    /// existing topic does not hide the others' success.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<(String, Result<()>)>> {
        let request = CreateTopicsRequest {
            topics: topics
                .iter()
                .map(|t| CreatableTopic {
                    name: StrBytes::from(t.name.as_str()),
                    num_partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .iter()
                        .map(|(k, v)| CreatableTopicConfig {
                            name: k.as_str().into(),
                            value: Some(v.as_str().into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: self.timeout_ms(),
            ..Default::default()
        };
        let response = self.send_to_controller(&request).await?;
        let results = response
            .topics
            .iter()
            .map(|t| {
                let outcome = Error::check_code(
                    t.error_code,
                    || format!("CreateTopics {}", t.name),
                    t.error_message.as_deref(),
                );
                (t.name.to_string(), outcome)
            })
            .collect();
        Ok(results)
    }

    /// Creates one topic; an existing topic is an error (`TOPIC_ALREADY_EXISTS`).
    /// Waits until the new topic's partitions all have leaders.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        let name = topic.name.clone();
        let results = self.create_topics(std::slice::from_ref(&topic)).await?;
        for (_, result) in results {
            result?;
        }
        self.wait_for_leaders(&name, topic.partitions).await
    }

    /// Waits until `topic` has `partitions` partitions (if positive) with a
    /// leader each, as metadata sees it. Topic creation is asynchronous.
    pub async fn wait_for_leaders(&self, topic: &str, partitions: i32) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            let metadata = self.client.refresh_metadata(&[topic]).await?;
            if let Some(t) = metadata.topic(topic) {
                let enough = partitions <= 0 || t.partitions.len() as i32 >= partitions;
                if enough && !t.partitions.is_empty() && t.partitions.iter().all(|p| p.leader >= 0)
                {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    op: "waiting for topic leaders",
                    after: self.timeout,
                });
            }
            let config = self.client.config();
            tokio::time::sleep(crate::retry::backoff(
                Duration::from_millis(20),
                config.retry_backoff_max,
                attempt,
            ))
            .await;
            attempt += 1;
        }
    }

    /// Deletes topics by name; returns each topic's outcome.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<Vec<(String, Result<()>)>> {
        let request = DeleteTopicsRequest {
            topic_names: names.iter().map(|n| StrBytes::from(*n)).collect(),
            topics: names
                .iter()
                .map(
                    |n| kafkacc_protocol::generated::delete_topics_request::DeleteTopicState {
                        name: Some(StrBytes::from(*n)),
                        ..Default::default()
                    },
                )
                .collect(),
            timeout_ms: self.timeout_ms(),
            ..Default::default()
        };
        let response = self.send_to_controller(&request).await?;
        Ok(response
            .responses
            .iter()
            .map(|r| {
                let name = r.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
                let outcome = Error::check_code(
                    r.error_code,
                    || format!("DeleteTopics {name}"),
                    r.error_message.as_deref(),
                );
                (name, outcome)
            })
            .collect())
    }

    /// Adds partitions so that `topic` has `total` partitions.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let request = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: topic.into(),
                count: total,
                assignments: None,
                ..Default::default()
            }],
            timeout_ms: self.timeout_ms(),
            ..Default::default()
        };
        let response = self.send_to_controller(&request).await?;
        for r in &response.results {
            Error::check_code(
                r.error_code,
                || format!("CreatePartitions {topic}"),
                r.error_message.as_deref(),
            )?;
        }
        self.wait_for_leaders(topic, total).await
    }

    /// Every topic in the cluster (internal ones included).
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        let metadata = self.client.refresh_all_metadata().await?;
        let mut topics: Vec<TopicInfo> = metadata.topics.values().cloned().collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }

    /// Fresh metadata for the cluster and `topics`.
    pub async fn describe(&self, topics: &[&str]) -> Result<Arc<ClusterMetadata>> {
        self.client.refresh_metadata(topics).await
    }

    /// Looks up offsets for partitions of `topic` (all partitions when
    /// `partitions` is empty). Returns partition → offset (-1 when no record
    /// matches a timestamp).
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<i32, i64>> {
        list_offsets(&self.client, topic, partitions, spec).await
    }

    /// Where a consumer sought to `spec` reads next in each partition of
    /// `topic` (all partitions when `partitions` is empty): as
    /// [`Admin::list_offsets`], except that a timestamp after a partition's
    /// last record gives the partition's end offset rather than -1, as
    /// [`Consumer::seek_to`](crate::Consumer::seek_to) does. The offsets to
    /// commit when resetting a group to a point in time.
    pub async fn start_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<i32, i64>> {
        start_offsets(&self.client, topic, partitions, spec).await
    }

    /// Deletes the records of `topic` below the given offset of each
    /// partition (DeleteRecords; -1: below the high watermark, i.e. all of
    /// them) and returns each partition's new low watermark, the first
    /// offset still readable.
    pub async fn delete_records(
        &self,
        topic: &str,
        before: &BTreeMap<i32, i64>,
    ) -> Result<BTreeMap<i32, i64>> {
        let metadata = self.client.topic_metadata(topic, false).await?;
        let info = metadata
            .topic(topic)
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))?;
        let mut by_leader: BTreeMap<i32, Vec<DeleteRecordsPartition>> = BTreeMap::new();
        for (&partition, &offset) in before {
            let leader = info.partition(partition).map(|p| p.leader).ok_or_else(|| {
                Error::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                }
            })?;
            by_leader
                .entry(leader)
                .or_default()
                .push(DeleteRecordsPartition {
                    partition_index: partition,
                    offset,
                    ..Default::default()
                });
        }
        let mut low_watermarks = BTreeMap::new();
        for (leader, partitions) in by_leader {
            let request = DeleteRecordsRequest {
                topics: vec![DeleteRecordsTopic {
                    name: topic.into(),
                    partitions,
                    ..Default::default()
                }],
                timeout_ms: self.timeout_ms(),
                ..Default::default()
            };
            let response = self.client.send_to(leader, Lane::Default, &request).await?;
            for t in &response.topics {
                for p in &t.partitions {
                    Error::check_code(
                        p.error_code,
                        || format!("DeleteRecords {topic}/{}", p.partition_index),
                        None,
                    )?;
                    low_watermarks.insert(p.partition_index, p.low_watermark);
                }
            }
        }
        Ok(low_watermarks)
    }
}

/// ListOffsets, sent to each partition's leader, retried while the
/// errors are retriable (a just-created partition's leader may not know
/// yet that it leads).
pub(crate) async fn list_offsets(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
) -> Result<BTreeMap<i32, i64>> {
    let within = client.config().request_timeout;
    crate::retry::retry_idempotent(client, &[topic], within, || {
        list_offsets_once(client, topic, partitions, spec)
    })
    .await
}

/// [`Admin::start_offsets`]: a partition that no record reaches (offset
/// -1, or left out of the answer) starts at its end.
pub(crate) async fn start_offsets(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
) -> Result<BTreeMap<i32, i64>> {
    let mut offsets = list_offsets(client, topic, partitions, spec).await?;
    for &partition in partitions {
        offsets.entry(partition).or_insert(-1);
    }
    let at_end: Vec<i32> = offsets
        .iter()
        .filter(|(_, offset)| **offset < 0)
        .map(|(partition, _)| *partition)
        .collect();
    if !at_end.is_empty() {
        let ends = list_offsets(client, topic, &at_end, OffsetSpec::Latest).await?;
        for partition in at_end {
            offsets.insert(partition, ends.get(&partition).copied().unwrap_or(0));
        }
    }
    Ok(offsets)
}

async fn list_offsets_once(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    spec: OffsetSpec,
) -> Result<BTreeMap<i32, i64>> {
    let metadata = client.topic_metadata(topic, false).await?;
    let info = metadata
        .topic(topic)
        .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))?;
    let wanted: Vec<i32> = if partitions.is_empty() {
        info.partitions.iter().map(|p| p.partition).collect()
    } else {
        partitions.to_vec()
    };
    let mut by_leader: BTreeMap<i32, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for p in &wanted {
        let part = info.partition(*p).ok_or_else(|| Error::UnknownPartition {
            topic: topic.to_owned(),
            partition: *p,
        })?;
        if part.leader < 0 {
            // Cached while the leader was away: the retry refreshes
            // metadata first (LEADER_NOT_AVAILABLE asks for that).
            return Err(Error::broker(
                ErrorCode::LEADER_NOT_AVAILABLE,
                format!("ListOffsets {topic}/{p}"),
                None,
            ));
        }
        by_leader
            .entry(part.leader)
            .or_default()
            .push(ListOffsetsPartition {
                partition_index: *p,
                current_leader_epoch: part.leader_epoch,
                timestamp: spec.wire_timestamp(),
                ..Default::default()
            });
    }
    let mut out = BTreeMap::new();
    for (leader, parts) in by_leader {
        let request = ListOffsetsRequest {
            replica_id: -1,
            isolation_level: 0,
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: parts,
                ..Default::default()
            }],
            timeout_ms: client
                .config()
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
            ..Default::default()
        };
        let response = client.send_to(leader, Lane::Default, &request).await?;
        for t in &response.topics {
            for p in &t.partitions {
                Error::check_code(
                    p.error_code,
                    || format!("ListOffsets {topic}/{}", p.partition_index),
                    None,
                )?;
                out.insert(p.partition_index, p.offset);
            }
        }
    }
    Ok(out)
}
