//! The client's view of the cluster: brokers, topics, partitions and their
//! leaders, as the last Metadata response described them.

use kafkacc_protocol::messages::MetadataResponse;
use kafkacc_protocol::{ErrorCode, Uuid};
use std::collections::BTreeMap;
use tokio::time::Instant;

/// One broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, ready to connect to.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader node id, -1 when there is none right now.
    pub leader: i32,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Error for this partition (e.g. LEADER_NOT_AVAILABLE).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id (zero from brokers that predate ids).
    pub id: Uuid,
    /// Whether this is an internal topic such as `__consumer_offsets`.
    pub is_internal: bool,
    /// Error for the topic (e.g. UNKNOWN_TOPIC_OR_PARTITION).
    pub error: ErrorCode,
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The partition with this index.
    pub fn partition(&self, partition: i32) -> Option<&PartitionInfo> {
        // Partitions are dense and sorted, so the index is the position;
        // fall back to a search if a broker sent a gap.
        usize::try_from(partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .filter(|p| p.partition == partition)
            .or_else(|| self.partitions.iter().find(|p| p.partition == partition))
    }
}

/// A snapshot of the cluster. Cheap to clone behind an `Arc`; a refresh
/// builds a new one.
#[derive(Debug, Clone, Default)]
pub struct ClusterMetadata {
    /// Cluster id, if the broker sent one.
    pub cluster_id: Option<String>,
    /// Controller node id (-1 unknown).
    pub controller_id: i32,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicInfo>,
    /// When this snapshot was taken.
    pub(crate) fetched_at: Option<Instant>,
}

impl ClusterMetadata {
    /// Builds a snapshot from a response; topic entries are merged over
    /// `previous` so a refresh of some topics keeps the others.
    pub(crate) fn from_response(
        response: &MetadataResponse,
        previous: Option<&ClusterMetadata>,
        now: Instant,
    ) -> Self {
        let brokers = response
            .brokers
            .iter()
            .map(|b| {
                let info = BrokerInfo {
                    node_id: b.node_id,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.as_ref().map(|r| r.to_string()),
                };
                (b.node_id, info)
            })
            .collect();
        let mut topics = previous.map(|p| p.topics.clone()).unwrap_or_default();
        for t in &response.topics {
            let Some(name) = t.name.as_ref() else {
                continue;
            };
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.to_vec(),
                    isr: p.isr_nodes.to_vec(),
                    error: ErrorCode(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let info = TopicInfo {
                name: name.to_string(),
                id: t.topic_id,
                is_internal: t.is_internal,
                error: ErrorCode(t.error_code),
                partitions,
            };
            if info.error == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                topics.remove(&info.name);
            } else {
                topics.insert(info.name.clone(), info);
            }
        }
        ClusterMetadata {
            cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
            controller_id: response.controller_id,
            brokers,
            topics,
            fetched_at: Some(now),
        }
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.get(name)
    }

    /// The address of broker `node_id`.
    pub fn broker_addr(&self, node_id: i32) -> Option<String> {
        self.brokers.get(&node_id).map(BrokerInfo::addr)
    }
}
