//! The producer scenario: an idempotent producer writes numbered records to
//! a three-broker fake cluster while the seed cuts links, moves leaders and
//! crashes brokers. Then the log is read back over a healed network and
//! checked (see [`crate::check`]).

use crate::check::{Delivery, ProduceHistory, check_produce};
use crate::faults::{FaultPlan, FaultStats};
use crate::net::{NetStats, SimNet};
use kafkacc::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, OffsetReset, OffsetSpec, Producer,
    ProducerConfig, ProducerRecord,
};
use kafkacc_fake::FakeCluster;
use kafkacc_protocol::{ApiKey, ErrorCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Topic the scenario writes.
const TOPIC: &str = "sim";
/// How long a record may wait for delivery; every future must resolve by
/// then (plus the request timeout).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub struct ProduceScenario {
    /// Records written.
    pub records: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Brokers in the cluster.
    pub brokers: usize,
    /// How long faults are injected (simulated time).
    pub fault_window: Duration,
    /// Only retriable Produce errors and latency changes, no lost links or
    /// brokers: then every record must be acknowledged (a record that
    /// fails anyway was stuck, e.g. retried until its delivery timeout).
    pub retriable_only: bool,
}

impl Default for ProduceScenario {
    fn default() -> Self {
        ProduceScenario {
            records: 300,
            partitions: 3,
            brokers: 3,
            fault_window: Duration::from_secs(3),
            retriable_only: false,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceReport {
    /// Records acknowledged.
    pub acked: usize,
    /// Records whose future failed (with a typed error).
    pub failed: usize,
    /// Faults injected.
    pub faults: FaultStats,
    /// The network's counts.
    pub net: NetStats,
    /// Partition → values in log order: the history's outcome, compared
    /// between two runs of one seed to prove the replay is exact.
    pub log: BTreeMap<i32, Vec<u64>>,
    /// Simulated milliseconds the run took.
    pub simulated_ms: u64,
}

/// Runs the scenario for `seed`; `Err` names the violated property.
pub async fn run(seed: u64, scenario: ProduceScenario) -> Result<ProduceReport, String> {
    let started = tokio::time::Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let cluster = Arc::new(
        FakeCluster::builder()
            .brokers(scenario.brokers)
            .without_listeners()
            .build()
            .await
            .map_err(|e| format!("fake cluster: {e}"))?,
    );
    cluster
        .create_topic(TOPIC, scenario.partitions)
        .map_err(|e| format!("create topic: {e}"))?;
    let net = SimNet::new(
        &cluster,
        StdRng::seed_from_u64(rng.random()),
        Duration::from_millis(5),
    );
    let client = connect(&cluster, &net).await?;
    // Every in-flight limit from 1 to Java's 5, taken from the seed
    // without a draw from the seeded generator (the other draws stay put).
    let max_in_flight = 1 + (seed % 5) as usize;
    let config = ProducerConfig::default()
        .linger(Duration::from_millis(rng.random_range(0..10)))
        .delivery_timeout(DELIVERY_TIMEOUT)
        .max_in_flight(max_in_flight);
    let producer = Producer::new(client.clone(), config).map_err(|e| format!("producer: {e}"))?;
    if seed % 4 == 2 || scenario.retriable_only {
        // The first Produce fails: the partitions' first batches, which a
        // broker that does not know the producer would let later ones
        // overtake (again no draw from the generator).
        cluster.inject_error(ApiKey::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER, 1);
    }

    let plan = FaultPlan::new(
        cluster.clone(),
        net.clone(),
        StdRng::seed_from_u64(rng.random()),
        TOPIC,
        scenario.partitions,
    )
    .retriable_only(scenario.retriable_only);
    let faults = tokio::spawn(plan.run(scenario.fault_window));

    let mut pending = Vec::with_capacity(scenario.records);
    let mut history = ProduceHistory::default();
    for i in 0..scenario.records as u64 {
        let partition = (i % scenario.partitions as u64) as i32;
        let record = ProducerRecord::new(TOPIC)
            .partition(partition)
            .value(i.to_string());
        match producer.send(record).await {
            Ok(future) => pending.push((i, partition, future)),
            Err(e) => history.deliveries.push(Delivery::Failed(i, e.to_string())),
        }
        if rng.random_ratio(1, 4) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
        }
    }
    let faults = faults
        .await
        .map_err(|e| format!("fault task: {e}"))?
        .heal()
        .await;

    // Every future resolves within its delivery timeout (plus one request).
    let limit = DELIVERY_TIMEOUT + REQUEST_TIMEOUT * 2;
    for (i, partition, future) in pending {
        match tokio::time::timeout(limit, future).await {
            Err(_) => {
                return Err(format!(
                    "record {i}: delivery future unresolved after {limit:?}"
                ));
            }
            Ok(Ok(meta)) => {
                if meta.partition != partition {
                    return Err(format!("record {i} acked on partition {}", meta.partition));
                }
                history
                    .deliveries
                    .push(Delivery::Acked(i, partition, meta.offset));
            }
            Ok(Err(e)) => history.deliveries.push(Delivery::Failed(i, e.to_string())),
        }
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        producer.close(Duration::from_secs(5)),
    )
    .await
    .map_err(|_| "producer close hung".to_string())?
    .ok();

    history.log = read_back(&cluster, &net, scenario.partitions).await?;
    check_produce(&history)?;
    if scenario.retriable_only
        && let Some(Delivery::Failed(i, e)) = history
            .deliveries
            .iter()
            .find(|d| matches!(d, Delivery::Failed(..)))
    {
        return Err(format!(
            "record {i} failed with only retriable faults injected: {e}"
        ));
    }
    Ok(ProduceReport {
        acked: history.acked(),
        failed: history.deliveries.len() - history.acked(),
        faults: faults.stats(),
        net: net.stats(),
        log: history.log,
        simulated_ms: started.elapsed().as_millis() as u64,
    })
}

async fn connect(cluster: &FakeCluster, net: &SimNet) -> Result<Client, String> {
    let config = ClientConfig::new(&cluster.bootstrap())
        .client_id("kafkacc-sim")
        .request_timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(1))
        .bootstrap_timeout(Duration::from_secs(20))
        .dialer(Arc::new(net.clone()));
    Client::connect(config)
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// Every record of the topic, read over the healed network.
async fn read_back(
    cluster: &FakeCluster,
    net: &SimNet,
    partitions: i32,
) -> Result<BTreeMap<i32, Vec<u64>>, String> {
    let client = connect(cluster, net).await?;
    let ends = Admin::new(client.clone())
        .list_offsets(TOPIC, &[], OffsetSpec::Latest)
        .await
        .map_err(|e| format!("end offsets: {e}"))?;
    let total: i64 = ends.values().sum();
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50));
    let mut consumer = Consumer::new(client, config);
    consumer
        .assign(TOPIC, &[])
        .await
        .map_err(|e| format!("assign: {e}"))?;
    let mut log: BTreeMap<i32, Vec<u64>> = (0..partitions).map(|p| (p, Vec::new())).collect();
    let mut read = 0i64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while read < total {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("read back {read} of {total} records"));
        }
        let records = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(|e| format!("read back: {e}"))?;
        for record in records {
            let value = record.value.as_deref().unwrap_or_default();
            let i = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("a value the scenario did not write: {value:?}"))?;
            let partition = log.entry(record.partition).or_default();
            if record.offset != partition.len() as i64 {
                return Err(format!(
                    "partition {} read offset {} at position {}",
                    record.partition,
                    record.offset,
                    partition.len()
                ));
            }
            partition.push(i);
            read += 1;
        }
    }
    Ok(log)
}
