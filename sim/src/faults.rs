//! The fault schedule: while the workload runs, the seed picks what goes
//! wrong and when (simulated time), one fault at a time.

use crate::net::SimNet;
use kafkacc_fake::FakeCluster;
use kafkacc_protocol::{ApiKey, ErrorCode};
use rand::Rng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::Duration;

/// How many faults of each kind a run injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// One connection cut.
    pub link_cuts: u64,
    /// A partition's leader moved to another broker.
    pub leader_moves: u64,
    /// A broker crashed (and came back later).
    pub broker_crashes: u64,
    /// A broker was cut off the network for a while.
    pub partitions: u64,
    /// New links got a different latency.
    pub latency_changes: u64,
    /// One Produce request was answered with a retriable error.
    pub produce_errors: u64,
}

impl std::ops::AddAssign for FaultStats {
    fn add_assign(&mut self, other: FaultStats) {
        self.link_cuts += other.link_cuts;
        self.leader_moves += other.leader_moves;
        self.broker_crashes += other.broker_crashes;
        self.partitions += other.partitions;
        self.latency_changes += other.latency_changes;
        self.produce_errors += other.produce_errors;
    }
}

/// Injects faults into one cluster and network.
#[derive(Debug)]
pub struct FaultPlan {
    cluster: Arc<FakeCluster>,
    net: SimNet,
    rng: StdRng,
    topic: String,
    partitions: i32,
    stats: FaultStats,
    /// Brokers down or unreachable now: (node, crashed?).
    down: Vec<(i32, bool)>,
    /// Only retriable Produce errors and latency changes.
    retriable_only: bool,
}

impl FaultPlan {
    /// A plan for `topic` (with `partitions`) on `cluster` behind `net`.
    pub fn new(
        cluster: Arc<FakeCluster>,
        net: SimNet,
        rng: StdRng,
        topic: &str,
        partitions: i32,
    ) -> FaultPlan {
        FaultPlan {
            cluster,
            net,
            rng,
            topic: topic.to_owned(),
            partitions,
            stats: FaultStats::default(),
            down: Vec::new(),
            retriable_only: false,
        }
    }

    /// Keeps to faults a producer must ride out without failing a record:
    /// retriable Produce errors and latency changes.
    pub fn retriable_only(mut self, on: bool) -> FaultPlan {
        self.retriable_only = on;
        self
    }

    /// Injects faults for `window` of simulated time; returns the plan so
    /// the caller can [`heal`](Self::heal) afterwards.
    pub async fn run(mut self, window: Duration) -> FaultPlan {
        let end = tokio::time::Instant::now() + window;
        while tokio::time::Instant::now() < end {
            let pause = Duration::from_millis(self.rng.random_range(5..200));
            tokio::time::sleep(pause).await;
            self.one_fault().await;
        }
        self
    }

    async fn one_fault(&mut self) {
        let brokers = self.cluster.broker_ids();
        let roll = self.rng.random_range(0..100);
        if self.retriable_only {
            if roll < 60 {
                self.inject_produce_error();
            } else {
                self.change_latency();
            }
        } else if roll < 50 {
            if self.net.cut_random_link().is_some() {
                self.stats.link_cuts += 1;
            }
        } else if roll < 70 {
            let partition = self.rng.random_range(0..self.partitions);
            let broker = brokers[self.rng.random_range(0..brokers.len())];
            if self
                .cluster
                .move_leader(&self.topic, partition, broker)
                .is_ok()
            {
                self.stats.leader_moves += 1;
            }
        } else if roll < 85 {
            // Bring one broker back, or take one down (never all of them).
            if !self.down.is_empty() && self.rng.random_bool(0.5) {
                let (node, crashed) = self.down.remove(0);
                self.bring_back(node, crashed).await;
            } else if self.down.len() + 1 < brokers.len() {
                let node = brokers[self.rng.random_range(0..brokers.len())];
                if self.down.iter().all(|(n, _)| *n != node) {
                    let crash = self.rng.random_bool(0.5);
                    self.net.set_reachable(node, false);
                    if crash {
                        let _ = self.cluster.kill_broker(node).await;
                        self.stats.broker_crashes += 1;
                    } else {
                        self.stats.partitions += 1;
                    }
                    self.down.push((node, crash));
                }
            }
        } else if roll < 92 {
            self.change_latency();
        } else if roll < 97 {
            self.inject_produce_error();
        }
    }

    fn change_latency(&mut self) {
        let max = Duration::from_millis(self.rng.random_range(0..50));
        self.net.set_max_latency(max);
        self.stats.latency_changes += 1;
    }

    /// The next Produce fails whole while the batches behind it may
    /// succeed (no draw, so the rest of the schedule stays as it was).
    fn inject_produce_error(&mut self) {
        let code = if self.stats.produce_errors % 2 == 0 {
            ErrorCode::NOT_ENOUGH_REPLICAS
        } else {
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        };
        self.cluster.inject_error(ApiKey::Produce, code, 1);
        self.stats.produce_errors += 1;
    }

    async fn bring_back(&mut self, node: i32, crashed: bool) {
        if crashed {
            let _ = self.cluster.restart_broker(node).await;
        }
        self.net.set_reachable(node, true);
    }

    /// Ends every fault still in force: brokers back, network whole.
    pub async fn heal(mut self) -> FaultPlan {
        for (node, crashed) in std::mem::take(&mut self.down) {
            self.bring_back(node, crashed).await;
        }
        self.net.set_max_latency(Duration::ZERO);
        self
    }

    /// Faults injected so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }
}
