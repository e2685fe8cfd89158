//! The group scenario: three members of one consumer group share a
//! six-partition topic while the seed cuts links, moves the coordinator,
//! crashes brokers and crashes members (a crashed member is replaced by a
//! new one). The checker then asks: did two members ever own a partition in
//! the same generation, did a committed offset ever go backwards, and was
//! every record consumed with the group's commits at the end of the log?

use crate::check::{GroupHistory, Ownership, check_group};
use crate::faults::{FaultPlan, FaultStats};
use crate::net::{NetStats, SimNet};
use kafkacc::group::committed_offsets;
use kafkacc::{
    Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer, OffsetReset, Producer,
    ProducerConfig, ProducerRecord,
};
use kafkacc_fake::FakeCluster;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOPIC: &str = "sim-group";
const GROUP: &str = "sim-group";
const PARTITIONS: i32 = 6;
const RECORDS: usize = 150;
const MEMBERS: usize = 3;

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// Records consumed, counting redeliveries.
    pub consumed: usize,
    /// Members crashed (and replaced).
    pub member_crashes: u64,
    /// Coordinator moves.
    pub coordinator_moves: u64,
    /// Other faults.
    pub faults: FaultStats,
    /// The network's counts.
    pub net: NetStats,
    /// Final committed offsets.
    pub committed: BTreeMap<i32, i64>,
    /// A fingerprint of the whole history (every ownership sample, record
    /// read and commit sample, in order), compared between two runs of one
    /// seed to prove the replay is exact.
    pub history_digest: u64,
    /// Simulated milliseconds the run took.
    pub simulated_ms: u64,
}

/// Runs the group scenario for `seed`.
pub async fn run(seed: u64) -> Result<GroupReport, String> {
    let started = tokio::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let cluster = Arc::new(
        crate::with_debug_log(FakeCluster::builder(), "group", seed)
            .brokers(3)
            .without_listeners()
            .build()
            .await
            .map_err(|e| format!("fake cluster: {e}"))?,
    );
    cluster
        .create_topic(TOPIC, PARTITIONS)
        .map_err(|e| format!("create topic: {e}"))?;
    let net = SimNet::new(
        &cluster,
        StdRng::seed_from_u64(rng.random()),
        Duration::from_millis(2),
    );
    let admin_client = connect(&cluster, &net, "sim-admin").await?;

    let history = Arc::new(Mutex::new(GroupHistory::default()));
    let mut members: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut next_member = 0;
    for _ in 0..MEMBERS {
        members.push(spawn_member(&cluster, &net, next_member, history.clone()).await?);
        next_member += 1;
    }
    let monitor = tokio::spawn(watch_commits(admin_client.clone(), history.clone()));
    // Records arrive while the faults strike, so members read under them.
    let producing = tokio::spawn(produce_all(
        admin_client.clone(),
        StdRng::seed_from_u64(rng.random()),
    ));

    // Faults, plus what only this scenario does: member crashes and
    // coordinator moves.
    let plan = FaultPlan::new(
        cluster.clone(),
        net.clone(),
        StdRng::seed_from_u64(rng.random()),
        TOPIC,
        PARTITIONS,
    );
    let faults = tokio::spawn(plan.run(Duration::from_secs(4)));
    let (mut member_crashes, mut coordinator_moves) = (0, 0);
    for _ in 0..rng.random_range(1..4) {
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..1500))).await;
        if rng.random_bool(0.5) {
            let victim = rng.random_range(0..members.len());
            members.remove(victim).abort(); // a crash: no LeaveGroup
            members.push(spawn_member(&cluster, &net, next_member, history.clone()).await?);
            next_member += 1;
            member_crashes += 1;
        } else {
            let brokers = cluster.broker_ids();
            let to = brokers[rng.random_range(0..brokers.len())];
            if cluster.move_group_coordinator(GROUP, to).is_ok() {
                coordinator_moves += 1;
            }
        }
    }
    let faults = faults
        .await
        .map_err(|e| format!("fault task: {e}"))?
        .heal()
        .await;
    producing
        .await
        .map_err(|e| format!("producer task: {e}"))??;

    // After healing, the group must finish the topic in bounded time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let committed = loop {
        let committed = committed_offsets(&admin_client, GROUP, TOPIC)
            .await
            .unwrap_or_default();
        let done = committed.len() == PARTITIONS as usize
            && committed.values().sum::<i64>() == RECORDS as i64;
        if done {
            break committed;
        }
        if tokio::time::Instant::now() > deadline {
            let leaders: Vec<Option<i32>> =
                (0..PARTITIONS).map(|p| cluster.leader(TOPIC, p)).collect();
            return Err(format!(
                "the group did not finish the topic: committed {committed:?}, leaders {leaders:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    monitor.abort();
    for member in members {
        member.abort();
    }
    let history = std::mem::take(&mut *history.lock().unwrap_or_else(|p| p.into_inner()));
    check_group(&history, PARTITIONS, RECORDS)?;
    Ok(GroupReport {
        consumed: history.consumed.len(),
        member_crashes,
        coordinator_moves,
        faults: faults.stats(),
        net: net.stats(),
        committed,
        history_digest: digest(&history),
        simulated_ms: started.elapsed().as_millis() as u64,
    })
}

/// A hash of `history` that is the same in every run of this build (std's
/// SipHash with its fixed default keys, not the randomly keyed one of
/// `HashMap`).
fn digest(history: &GroupHistory) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    history.hash(&mut hasher);
    hasher.finish()
}

async fn connect(cluster: &FakeCluster, net: &SimNet, id: &str) -> Result<Client, String> {
    let config = ClientConfig::new(&cluster.bootstrap())
        .client_id(id)
        .request_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .bootstrap_timeout(Duration::from_secs(20))
        .dialer(Arc::new(net.clone()));
    Client::connect(config)
        .await
        .map_err(|e| format!("connect {id}: {e}"))
}

/// Writes record `i` to partition `i % PARTITIONS`, at a pace the seed sets.
async fn produce_all(client: Client, mut rng: StdRng) -> Result<(), String> {
    let producer = Producer::new(client.clone(), ProducerConfig::default())
        .map_err(|e| format!("producer: {e}"))?;
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(TOPIC)
            .partition((i % PARTITIONS as usize) as i32)
            .value(i.to_string());
        deliveries.push(
            producer
                .send(record)
                .await
                .map_err(|e| format!("send: {e}"))?,
        );
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..60))).await;
    }
    for delivery in deliveries {
        delivery.await.map_err(|e| format!("setup produce: {e}"))?;
    }
    Ok(())
}

/// Starts member `n`: it polls, notes what it owns in which generation and
/// what it read, and commits after every poll.
async fn spawn_member(
    cluster: &FakeCluster,
    net: &SimNet,
    n: usize,
    history: Arc<Mutex<GroupHistory>>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let client = connect(cluster, net, &format!("sim-member-{n}")).await?;
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50));
    let group = GroupConfig::new(GROUP)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500));
    let mut member =
        GroupConsumer::new(client, consumer, group).map_err(|e| format!("member {n}: {e}"))?;
    member
        .subscribe(&[TOPIC])
        .map_err(|e| format!("subscribe: {e}"))?;
    Ok(tokio::spawn(async move {
        loop {
            let records = member.poll(Duration::from_millis(100)).await;
            let generation = member.generation();
            let owned: BTreeSet<i32> = member
                .assignment()
                .iter()
                .filter(|tp| tp.topic == TOPIC)
                .map(|tp| tp.partition)
                .collect();
            {
                let mut history = history.lock().unwrap_or_else(|p| p.into_inner());
                if generation > 0 && !owned.is_empty() {
                    history.ownership.push(Ownership {
                        member: n,
                        generation,
                        partitions: owned,
                    });
                }
                if let Ok(records) = &records {
                    for r in records {
                        history.consumed.push((r.partition, r.offset));
                    }
                }
            }
            let _ = member.commit().await;
        }
    }))
}

/// Samples the group's committed offsets, so the checker can see whether
/// one ever went backwards.
async fn watch_commits(client: Client, history: Arc<Mutex<GroupHistory>>) {
    loop {
        if let Ok(committed) = committed_offsets(&client, GROUP, TOPIC).await {
            history
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .commits
                .push(committed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
