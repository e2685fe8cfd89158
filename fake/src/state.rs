//! The cluster's in-memory state, shared by every broker behind one mutex:
//! brokers, topics and their partition logs, groups, transactions, faults.

use crate::config::Config;
use crate::faults::Faults;
use crate::group::{Group, GroupConfig};
use crate::group848::ConsumerGroup;
use crate::log::PartitionLog;
use crate::session::Sessions;
use crate::txn::Transactions;
use bytes::Bytes;
use kafkacc_protocol::{ErrorCode, Uuid};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A well-mixed 64-bit value from a name and a counter (SplitMix64 over
/// FNV-1a). Ids the fake hands out (member ids, topic ids) come from this
/// rather than from randomness, so a run is reproducible: the same requests
/// get the same answers (what a deterministic simulation needs). Counters
/// keep them unique.
pub(crate) fn mixed_id(name: &str, counter: u64) -> u64 {
    let mut z = stable_hash(name) ^ counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable hash (coordinator placement must not change between calls).
pub(crate) fn stable_hash(key: &str) -> u64 {
    // FNV-1a: deterministic across runs, unlike std's RandomState.
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// One broker of the cluster.
#[derive(Debug, Clone)]
pub(crate) struct BrokerState {
    pub node_id: i32,
    pub port: u16,
    pub alive: bool,
    pub latency: Duration,
    /// KIP-219 throttle: the `throttle_time_ms` every answer carries (the
    /// broker answers at once; the client holds its next requests).
    pub throttle: Duration,
    pub black_hole: bool,
}

/// A partition: its leader and its log.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    pub leader: i32,
    pub leader_epoch: i32,
    /// (leader epoch, its first offset) for every epoch after 0
    /// (OffsetForLeaderEpoch).
    pub epoch_starts: Vec<(i32, i64)>,
    pub replicas: Vec<i32>,
    pub log: PartitionLog,
}

/// A topic.
#[derive(Debug)]
pub(crate) struct Topic {
    pub id: Uuid,
    pub partitions: Vec<Partition>,
    /// Topic configs given at creation (kept for DescribeConfigs-style
    /// inspection by tests).
    pub configs: BTreeMap<String, String>,
}

/// The benchmark modes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Bench {
    /// Acknowledge produce batches without storing them.
    pub discard_produce: bool,
    /// Serve every fetch from this batch, repeated (offsets rewritten).
    pub synthetic_fetch: Option<Bytes>,
}

/// Which coordinator a key names (FindCoordinator key type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CoordinatorKind {
    Group,
    Transaction,
}

/// Everything the brokers share.
#[derive(Debug)]
pub(crate) struct State {
    pub config: Config,
    pub brokers: Vec<BrokerState>,
    pub topics: BTreeMap<String, Topic>,
    pub groups: BTreeMap<String, Group>,
    /// KIP-848 groups (their offsets live in `groups`, like Kafka's).
    pub consumer_groups: BTreeMap<String, ConsumerGroup>,
    pub coordinator_overrides: HashMap<(CoordinatorKind, String), i32>,
    pub txns: Transactions,
    pub next_producer_id: i64,
    /// Feeds `mixed_id` (topic ids, KIP-848 member ids).
    pub id_counter: u64,
    pub faults: Faults,
    pub bench: Bench,
    pub fetch_sessions: Sessions,
}

/// Kafka's topic-name rule: 1-249 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl State {
    pub(crate) fn new(config: Config, ports: &[u16]) -> Self {
        let brokers = ports
            .iter()
            .enumerate()
            .map(|(i, port)| BrokerState {
                node_id: i32::try_from(i).unwrap_or(i32::MAX - 1) + 1,
                port: *port,
                alive: true,
                latency: Duration::ZERO,
                throttle: Duration::ZERO,
                black_hole: false,
            })
            .collect();
        Self {
            config,
            brokers,
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            coordinator_overrides: HashMap::new(),
            txns: Transactions::default(),
            next_producer_id: 1000,
            id_counter: 0,
            faults: Faults::default(),
            bench: Bench::default(),
            fetch_sessions: Sessions::default(),
        }
    }

    /// Timer settings for groups.
    pub(crate) fn group_config(&self) -> GroupConfig {
        GroupConfig {
            min_session_timeout_ms: self.config.min_session_timeout_ms,
            max_session_timeout_ms: self.config.max_session_timeout_ms,
            initial_rebalance_delay_ms: self.config.initial_rebalance_delay_ms,
        }
    }

    /// The broker with `node_id`.
    pub(crate) fn broker(&self, node_id: i32) -> Option<&BrokerState> {
        self.brokers.iter().find(|b| b.node_id == node_id)
    }

    /// The broker with `node_id`, mutably.
    pub(crate) fn broker_mut(&mut self, node_id: i32) -> Option<&mut BrokerState> {
        self.brokers.iter_mut().find(|b| b.node_id == node_id)
    }

    /// Whether `node_id` is up.
    pub(crate) fn is_alive(&self, node_id: i32) -> bool {
        self.broker(node_id).is_some_and(|b| b.alive)
    }

    /// The coordinator of a group or transactional id: an override set by a
    /// test, else a hash of the key over the brokers.
    pub(crate) fn coordinator(&self, kind: CoordinatorKind, key: &str) -> i32 {
        if let Some(node) = self.coordinator_overrides.get(&(kind, key.to_owned())) {
            return *node;
        }
        let n = self.brokers.len().max(1) as u64;
        i32::try_from(stable_hash(key) % n).unwrap_or(0) + 1
    }

    /// A fresh producer id.
    pub(crate) fn new_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// The name of the topic with `id`.
    pub(crate) fn topic_name(&self, id: &Uuid) -> Option<String> {
        self.topics
            .iter()
            .find(|(_, t)| t.id == *id)
            .map(|(n, _)| n.clone())
    }

    /// A partition of a topic.
    pub(crate) fn partition_mut(&mut self, topic: &str, index: i32) -> Option<&mut Partition> {
        let i = usize::try_from(index).ok()?;
        self.topics.get_mut(topic)?.partitions.get_mut(i)
    }

    /// A partition of a topic.
    pub(crate) fn partition(&self, topic: &str, index: i32) -> Option<&Partition> {
        let i = usize::try_from(index).ok()?;
        self.topics.get(topic)?.partitions.get(i)
    }

    /// Leader placement of a new partition: round-robin from a per-topic
    /// start, so leaders spread over the brokers.
    fn place(&self, topic: &str, index: usize) -> i32 {
        let n = self.brokers.len().max(1);
        let start = (stable_hash(topic) % n as u64) as usize;
        self.brokers
            .get((start + index) % n)
            .map(|b| b.node_id)
            .unwrap_or(1)
    }

    fn new_partition(&self, topic: &str, index: usize, replicas: Option<&Vec<i32>>) -> Partition {
        let replicas = replicas
            .filter(|r| !r.is_empty())
            .cloned()
            .unwrap_or_else(|| vec![self.place(topic, index)]);
        Partition {
            leader: replicas.first().copied().unwrap_or(1),
            leader_epoch: 0,
            epoch_starts: Vec::new(),
            replicas,
            log: PartitionLog::default(),
        }
    }

    /// Creates a topic. `partitions` -1 means the default; `assignments`
    /// gives the replicas (leader first) of each partition.
    pub(crate) fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        assignments: &[Vec<i32>],
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), (ErrorCode, String)> {
        if !valid_topic_name(name) {
            return Err((
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                format!("Topic name \"{name}\" is illegal"),
            ));
        }
        if self.topics.contains_key(name) {
            return Err((
                ErrorCode::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists."),
            ));
        }
        let count = if !assignments.is_empty() {
            assignments.len()
        } else if partitions == -1 {
            usize::try_from(self.config.default_partitions).unwrap_or(1)
        } else if partitions <= 0 {
            return Err((
                ErrorCode::INVALID_PARTITIONS,
                "Number of partitions must be larger than 0.".to_owned(),
            ));
        } else {
            usize::try_from(partitions).unwrap_or(1)
        };
        if replication_factor == 0
            || replication_factor < -1
            || usize::try_from(replication_factor).is_ok_and(|rf| rf > self.brokers.len())
        {
            return Err((
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!(
                    "Replication factor: {replication_factor} larger than available brokers: {}.",
                    self.brokers.len()
                ),
            ));
        }
        if assignments
            .iter()
            .flatten()
            .any(|b| self.broker(*b).is_none())
        {
            return Err((
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                "Unknown broker in the replica assignment.".to_owned(),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let partitions = (0..count)
            .map(|i| self.new_partition(name, i, assignments.get(i)))
            .collect();
        let id = loop {
            self.id_counter += 1;
            let hi = mixed_id(name, self.id_counter);
            self.id_counter += 1;
            let lo = mixed_id(name, self.id_counter);
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&hi.to_be_bytes());
            bytes[8..].copy_from_slice(&lo.to_be_bytes());
            let id = Uuid(bytes);
            if !id.is_zero() {
                break id;
            }
        };
        self.topics.insert(
            name.to_owned(),
            Topic {
                id,
                partitions,
                configs,
            },
        );
        Ok(())
    }

    /// Adds partitions up to `count`.
    pub(crate) fn add_partitions(
        &mut self,
        name: &str,
        count: i32,
        assignments: &[Vec<i32>],
        validate_only: bool,
    ) -> Result<(), (ErrorCode, String)> {
        let Some(current) = self.topics.get(name).map(|t| t.partitions.len()) else {
            return Err((
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let wanted = usize::try_from(count).unwrap_or(0);
        if wanted <= current {
            return Err((
                ErrorCode::INVALID_PARTITIONS,
                format!(
                    "Topic currently has {current} partitions, which is higher than the requested {count}."
                ),
            ));
        }
        if !assignments.is_empty() && assignments.len() != wanted - current {
            return Err((
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                "Wrong number of assignments.".to_owned(),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let new: Vec<Partition> = (current..wanted)
            .map(|i| self.new_partition(name, i, assignments.get(i - current)))
            .collect();
        if let Some(t) = self.topics.get_mut(name) {
            t.partitions.extend(new);
        }
        Ok(())
    }

    /// Runs the timers of every group and transaction. True when a
    /// transaction timed out (markers were written: fetchers may wake).
    pub(crate) fn tick(&mut self, now: u64) -> bool {
        let cfg = self.group_config();
        for group in self.groups.values_mut() {
            group.tick(now, &cfg);
        }
        let session = self.config.consumer_session_timeout_ms;
        for group in self.consumer_groups.values_mut() {
            group.tick(now, session);
        }
        crate::handlers::txn::expire_transactions(self, now)
    }
}
