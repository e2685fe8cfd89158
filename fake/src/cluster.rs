//! [`FakeCluster`]: the public handle — start, bootstrap addresses, topics,
//! and the test controls (leader and coordinator moves, broker kill and
//! restart, injected errors, latency, throttling, black holes, benchmark
//! modes).

use crate::config::Config;
use crate::error::FakeError;
use crate::server::{Shared, spawn_listener};
use crate::state::{CoordinatorKind, State};
use bytes::Bytes;
use kafkacc_protocol::{ApiKey, ErrorCode};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Configures and starts a [`FakeCluster`].
#[derive(Debug, Clone)]
#[must_use = "call .build().await to start the cluster"]
pub struct FakeClusterBuilder {
    brokers: usize,
    ports: Vec<u16>,
    config: Config,
    topics: Vec<(String, i32)>,
    log_file: Option<PathBuf>,
    /// Bind TCP listeners (false: reachable only through `serve_stream`).
    listen: bool,
}

impl Default for FakeClusterBuilder {
    fn default() -> Self {
        Self {
            brokers: 1,
            ports: Vec::new(),
            config: Config::default(),
            topics: Vec::new(),
            log_file: None,
            listen: true,
        }
    }
}

impl FakeClusterBuilder {
    /// Number of brokers (node ids 1..=n), each on its own port (default 1).
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// Fixed ports for the brokers, in node-id order (0 or missing = any free
    /// port).
    pub fn ports(mut self, ports: &[u16]) -> Self {
        self.ports = ports.to_vec();
        self
    }

    /// Binds no sockets: the brokers are reached only through
    /// [`FakeCluster::serve_stream`] (a simulated network). They advertise
    /// `127.0.0.1` with the [`ports`](Self::ports) given, or 10001, 10002, …,
    /// so a simulation sees the same addresses in every run.
    pub fn without_listeners(mut self) -> Self {
        self.listen = false;
        self
    }

    /// Partitions of auto-created topics and of CreateTopics with -1
    /// (`num.partitions`, default 1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n.max(1);
        self
    }

    /// Whether Metadata creates unknown topics (`auto.create.topics.enable`,
    /// default true).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// The session timeouts JoinGroup accepts (`group.min.session.timeout.ms`
    /// 6 s and `group.max.session.timeout.ms` 30 min by default).
    pub fn session_timeout_range(mut self, min: Duration, max: Duration) -> Self {
        self.config.min_session_timeout_ms = i32::try_from(min.as_millis()).unwrap_or(i32::MAX);
        self.config.max_session_timeout_ms = i32::try_from(max.as_millis()).unwrap_or(i32::MAX);
        self
    }

    /// `group.initial.rebalance.delay.ms` (default 0, as the test brokers
    /// are configured; Kafka's own default is 3 s).
    pub fn initial_rebalance_delay(mut self, delay: Duration) -> Self {
        self.config.initial_rebalance_delay_ms =
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// `message.max.bytes`: the largest batch Produce accepts (default
    /// 1048588).
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.config.max_message_bytes = n;
        self
    }

    /// The largest request frame a connection reads (default 100 MiB);
    /// a bigger length prefix closes the connection before any allocation.
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.config.max_frame_bytes = n;
        self
    }

    /// Answer a duplicate idempotent batch with DUPLICATE_SEQUENCE_NUMBER
    /// and the original base offset, as brokers before Kafka 1.0 did.
    /// Default false: NONE with the original base offset, as Kafka does now.
    pub fn duplicate_sequence_error(mut self, on: bool) -> Self {
        self.config.duplicate_sequence_error = on;
        self
    }

    /// The cluster id Metadata reports.
    pub fn cluster_id(mut self, id: &str) -> Self {
        self.config.cluster_id = id.to_owned();
        self
    }

    /// A topic that exists from the start.
    pub fn topic(mut self, name: &str, partitions: i32) -> Self {
        self.topics.push((name.to_owned(), partitions));
        self
    }

    /// Append a line per request (and per closed connection) to this file.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// Binds the listeners on 127.0.0.1 and starts serving on the current
    /// tokio runtime. The cluster stops when the [`FakeCluster`] is dropped.
    pub async fn build(self) -> Result<FakeCluster, FakeError> {
        let mut listeners = Vec::with_capacity(self.brokers);
        let mut addrs: Vec<SocketAddr> = Vec::with_capacity(self.brokers);
        for i in 0..self.brokers {
            let port = self.ports.get(i).copied().unwrap_or(0);
            if self.listen {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
                addrs.push(listener.local_addr()?);
                listeners.push(Some(listener));
            } else {
                let port = if port == 0 { 10_001 + i as u16 } else { port };
                addrs.push(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
                listeners.push(None);
            }
        }
        let ports: Vec<u16> = addrs.iter().map(SocketAddr::port).collect();
        let log = match &self.log_file {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => None,
        };
        let tick = self.config.tick;
        let mut state = State::new(self.config, &ports);
        for (name, partitions) in &self.topics {
            state
                .create_topic(name, *partitions, -1, &[], BTreeMap::new(), false)
                .map_err(|(code, message)| FakeError::Refused { code, message })?;
        }
        let shared = Arc::new(Shared::new(state, log));
        let mut brokers = Vec::with_capacity(listeners.len());
        for (i, listener) in listeners.into_iter().enumerate() {
            let node_id = i32::try_from(i).unwrap_or(i32::MAX - 1) + 1;
            let token = shared.shutdown.child_token();
            let task = listener
                .map(|listener| spawn_listener(shared.clone(), node_id, listener, token.clone()));
            brokers.push(BrokerRuntime {
                node_id,
                addr: addrs[i],
                token,
                task,
            });
        }
        spawn_ticker(shared.clone(), tick);
        Ok(FakeCluster {
            shared,
            brokers: Mutex::new(brokers),
            listen: self.listen,
        })
    }
}

/// Drives the timers (group sessions and rebalances, transaction timeouts).
fn spawn_ticker(shared: Arc<Shared>, tick: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shared.shutdown.cancelled() => break,
                () = tokio::time::sleep(tick) => {}
            }
            let now = shared.clock.now_ms();
            if shared.lock().tick(now) {
                shared.data.notify_waiters();
            }
        }
    });
}

#[derive(Debug)]
struct BrokerRuntime {
    node_id: i32,
    addr: SocketAddr,
    /// Cancelled while the broker is down.
    token: CancellationToken,
    /// The accept loop (it owns the listening socket).
    task: Option<JoinHandle<()>>,
}

/// An in-process Kafka cluster for tests: N brokers on 127.0.0.1 sharing
/// one in-memory state. Dropping it stops every listener and connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), kafkacc_fake::FakeError> {
/// use kafkacc_fake::FakeCluster;
/// let cluster = FakeCluster::builder().brokers(3).default_partitions(4).build().await?;
/// cluster.create_topic("orders", 6)?;
/// let bootstrap = cluster.bootstrap(); // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
/// // ... point a client at `bootstrap` ...
/// cluster.move_leader("orders", 0, 2)?; // broker 1 now answers NOT_LEADER_OR_FOLLOWER
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeCluster {
    shared: Arc<Shared>,
    brokers: Mutex<Vec<BrokerRuntime>>,
    /// Whether the brokers have TCP listeners (see `without_listeners`).
    listen: bool,
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeCluster {
    /// A builder with one broker and Kafka-like defaults.
    pub fn builder() -> FakeClusterBuilder {
        FakeClusterBuilder::default()
    }

    fn runtimes(&self) -> std::sync::MutexGuard<'_, Vec<BrokerRuntime>> {
        self.brokers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every broker's `127.0.0.1:port`, comma-separated (a client's
    /// bootstrap list).
    pub fn bootstrap(&self) -> String {
        self.bootstrap_addrs()
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every broker's address, in node-id order.
    pub fn bootstrap_addrs(&self) -> Vec<SocketAddr> {
        self.runtimes().iter().map(|b| b.addr).collect()
    }

    /// The node ids (1..=n).
    pub fn broker_ids(&self) -> Vec<i32> {
        self.runtimes().iter().map(|b| b.node_id).collect()
    }

    /// The address of broker `node_id`.
    pub fn broker_addr(&self, node_id: i32) -> Option<SocketAddr> {
        self.runtimes()
            .iter()
            .find(|b| b.node_id == node_id)
            .map(|b| b.addr)
    }

    /// Creates a topic with `partitions` partitions (leaders spread over the
    /// brokers).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), FakeError> {
        self.shared
            .lock()
            .create_topic(name, partitions, -1, &[], BTreeMap::new(), false)
            .map_err(|(code, message)| FakeError::Refused { code, message })
    }

    /// Creates a topic whose partition `i` is led by `leaders[i]`.
    pub fn create_topic_with_leaders(&self, name: &str, leaders: &[i32]) -> Result<(), FakeError> {
        let assignments: Vec<Vec<i32>> = leaders.iter().map(|l| vec![*l]).collect();
        self.shared
            .lock()
            .create_topic(name, -1, -1, &assignments, BTreeMap::new(), false)
            .map_err(|(code, message)| FakeError::Refused { code, message })
    }

    /// The topics, by name.
    pub fn topics(&self) -> Vec<String> {
        self.shared.lock().topics.keys().cloned().collect()
    }

    /// The configs a topic was created with.
    pub fn topic_configs(&self, topic: &str) -> Option<BTreeMap<String, String>> {
        self.shared
            .lock()
            .topics
            .get(topic)
            .map(|t| t.configs.clone())
    }

    /// The leader of a partition.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.shared
            .lock()
            .partition(topic, partition)
            .map(|p| p.leader)
    }

    /// Moves a partition's leadership to `broker` and bumps its leader epoch.
    /// The old leader answers NOT_LEADER_OR_FOLLOWER from now on.
    pub fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<(), FakeError> {
        {
            let mut state = self.shared.lock();
            if state.broker(broker).is_none() {
                return Err(FakeError::UnknownBroker(broker));
            }
            if !state.topics.contains_key(topic) {
                return Err(FakeError::UnknownTopic(topic.to_owned()));
            }
            let p = state.partition_mut(topic, partition).ok_or_else(|| {
                FakeError::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                }
            })?;
            p.leader = broker;
            p.leader_epoch += 1;
            let start = p.log.high_watermark();
            p.epoch_starts.push((p.leader_epoch, start));
            p.replicas.retain(|r| *r != broker);
            p.replicas.insert(0, broker);
        }
        self.shared.data.notify_waiters();
        Ok(())
    }

    /// The broker coordinating `group`.
    pub fn group_coordinator(&self, group: &str) -> i32 {
        self.shared
            .lock()
            .coordinator(CoordinatorKind::Group, group)
    }

    /// Moves `group`'s coordinator to `broker` (group state and offsets
    /// move along); the old one answers NOT_COORDINATOR.
    pub fn move_group_coordinator(&self, group: &str, broker: i32) -> Result<(), FakeError> {
        self.move_coordinator(CoordinatorKind::Group, group, broker)
    }

    /// The broker coordinating transactional id `id`.
    pub fn txn_coordinator(&self, id: &str) -> i32 {
        self.shared
            .lock()
            .coordinator(CoordinatorKind::Transaction, id)
    }

    /// Moves the coordinator of transactional id `id` to `broker`.
    pub fn move_txn_coordinator(&self, id: &str, broker: i32) -> Result<(), FakeError> {
        self.move_coordinator(CoordinatorKind::Transaction, id, broker)
    }

    fn move_coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
        broker: i32,
    ) -> Result<(), FakeError> {
        let mut state = self.shared.lock();
        if state.broker(broker).is_none() {
            return Err(FakeError::UnknownBroker(broker));
        }
        state
            .coordinator_overrides
            .insert((kind, key.to_owned()), broker);
        Ok(())
    }

    /// Serves one connection to broker `node_id` over `stream` instead of
    /// TCP: an in-memory pipe, e.g. the simulated network of a
    /// deterministic simulation (with a paused tokio clock). Refused while
    /// the broker is killed; dropped when it is killed later.
    pub fn serve_stream<S>(&self, node_id: i32, stream: S) -> Result<(), FakeError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let token = {
            let runtimes = self.runtimes();
            let broker = runtimes
                .iter()
                .find(|b| b.node_id == node_id)
                .ok_or(FakeError::UnknownBroker(node_id))?;
            if broker.token.is_cancelled() {
                return Err(FakeError::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    format!("broker {node_id} is down"),
                )));
            }
            broker.token.clone()
        };
        let peer = SocketAddr::from(([0, 0, 0, 0], 0));
        tokio::spawn(crate::server::serve(
            self.shared.clone(),
            node_id,
            stream,
            peer,
            token,
        ));
        Ok(())
    }

    /// Stops broker `node_id`: its listener closes and its open
    /// connections drop. Its partitions report no leader and its
    /// coordinators COORDINATOR_NOT_AVAILABLE until it is restarted; the
    /// data stays.
    /// Returns once the listening socket is closed (new connections are
    /// refused).
    pub async fn kill_broker(&self, node_id: i32) -> Result<(), FakeError> {
        let task = {
            let mut runtimes = self.runtimes();
            let b = runtimes
                .iter_mut()
                .find(|b| b.node_id == node_id)
                .ok_or(FakeError::UnknownBroker(node_id))?;
            b.token.cancel();
            b.task.take()
        };
        if let Some(task) = task {
            let _ = task.await;
        }
        {
            let mut state = self.shared.lock();
            if let Some(b) = state.broker_mut(node_id) {
                b.alive = false;
            }
            // A restarted broker has forgotten its fetch sessions.
            state.fetch_sessions.clear_broker(node_id);
        }
        self.shared.data.notify_waiters();
        Ok(())
    }

    /// Starts a killed broker again on the same port, with the state it
    /// had. A no-op for a running broker.
    pub async fn restart_broker(&self, node_id: i32) -> Result<(), FakeError> {
        let addr = {
            let runtimes = self.runtimes();
            let b = runtimes
                .iter()
                .find(|b| b.node_id == node_id)
                .ok_or(FakeError::UnknownBroker(node_id))?;
            if !b.token.is_cancelled() {
                return Ok(());
            }
            b.addr
        };
        let token = self.shared.shutdown.child_token();
        let task = if self.listen {
            let listener = TcpListener::bind(addr).await?;
            Some(spawn_listener(
                self.shared.clone(),
                node_id,
                listener,
                token.clone(),
            ))
        } else {
            None
        };
        if let Some(b) = self.runtimes().iter_mut().find(|b| b.node_id == node_id) {
            b.token = token;
            b.task = task;
        }
        if let Some(b) = self.shared.lock().broker_mut(node_id) {
            b.alive = true;
        }
        self.shared.data.notify_waiters();
        Ok(())
    }

    /// Answers the next `count` requests of `api_key` (on any broker) with
    /// `code` in every error field, without acting on them.
    pub fn inject_error(&self, api_key: ApiKey, code: ErrorCode, count: u32) {
        self.shared.lock().faults.inject(api_key, code, count, None);
    }

    /// Like [`FakeCluster::inject_error`], only for requests to `broker`.
    pub fn inject_error_on(&self, broker: i32, api_key: ApiKey, code: ErrorCode, count: u32) {
        self.shared
            .lock()
            .faults
            .inject(api_key, code, count, Some(broker));
    }

    /// Drops every pending injected error.
    pub fn clear_injected_errors(&self) {
        self.shared.lock().faults.clear();
    }

    /// Delays every answer of `broker` by `latency` (zero to stop).
    pub fn set_latency(&self, broker: i32, latency: Duration) -> Result<(), FakeError> {
        let mut state = self.shared.lock();
        let b = state
            .broker_mut(broker)
            .ok_or(FakeError::UnknownBroker(broker))?;
        b.latency = latency;
        Ok(())
    }

    /// Throttles `broker` as a client quota would (KIP-219): every answer
    /// that has a `throttle_time_ms` field carries `throttle` (zero to
    /// stop). The answer itself is not delayed, and the fake does not mute
    /// the connection on its side: holding the next requests for that long
    /// is the client's part, so a client that ignores it is seen sending
    /// early.
    pub fn set_throttle(&self, broker: i32, throttle: Duration) -> Result<(), FakeError> {
        let mut state = self.shared.lock();
        let b = state
            .broker_mut(broker)
            .ok_or(FakeError::UnknownBroker(broker))?;
        b.throttle = throttle;
        Ok(())
    }

    /// While on, `broker` accepts connections and reads requests but never
    /// answers; a connection that swallowed a request stays silent after
    /// the black hole is lifted (the client must reconnect, as after a
    /// real network partition).
    pub fn black_hole(&self, broker: i32, on: bool) -> Result<(), FakeError> {
        let mut state = self.shared.lock();
        let b = state
            .broker_mut(broker)
            .ok_or(FakeError::UnknownBroker(broker))?;
        b.black_hole = on;
        Ok(())
    }

    /// Benchmark mode: Produce is acknowledged with increasing offsets but
    /// nothing is stored (CRC and sequences are not checked either).
    pub fn discard_produce(&self, on: bool) {
        self.shared.lock().bench.discard_produce = on;
    }

    /// Benchmark mode: every Fetch (of an existing partition, at its leader)
    /// is answered with `batch` (one encoded v2 record batch) repeated up to
    /// the size limits, base offsets rewritten from the fetch offset on, as
    /// if the log never ended. `None` turns it off.
    pub fn serve_synthetic_fetch(&self, batch: Option<Bytes>) {
        self.shared.lock().bench.synthetic_fetch = batch;
        self.shared.data.notify_waiters();
    }

    /// Moves the timer clock forward (session, rebalance and transaction
    /// timeouts fire on the next tick, within ~20 ms).
    pub fn advance_time(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The high watermark of a partition.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .lock()
            .partition(topic, partition)
            .map(|p| p.log.high_watermark())
    }

    /// The last stable offset of a partition.
    pub fn last_stable_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .lock()
            .partition(topic, partition)
            .map(|p| p.log.last_stable_offset())
    }

    /// The offset `group` committed for a partition.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .lock()
            .groups
            .get(group)?
            .offsets
            .get(&(topic.to_owned(), partition))
            .map(|c| c.offset)
    }

    /// A group's state name ("Empty", "PreparingRebalance",
    /// "CompletingRebalance", "Stable") and generation.
    pub fn group_state(&self, group: &str) -> Option<(String, i32)> {
        let state = self.shared.lock();
        let g = state.groups.get(group)?;
        Some((g.state().name().to_owned(), g.generation()))
    }

    /// The member ids of a group.
    pub fn group_members(&self, group: &str) -> Vec<String> {
        let state = self.shared.lock();
        state
            .groups
            .get(group)
            .map(|g| g.members().map(|m| m.id.clone()).collect())
            .unwrap_or_default()
    }
}
