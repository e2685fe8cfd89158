//! [`Client`]: the shared core every producer, consumer and admin handle
//! stands on: bootstrap, the connection pool, and the metadata cache.

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::metadata::ClusterMetadata;
use crate::net::conn::{ConnConfig, Connection};
use crate::net::pool::{Lane, Pool};
use kafkacc_protocol::generated::metadata_request::MetadataRequestTopic;
use kafkacc_protocol::messages::MetadataRequest;
use kafkacc_protocol::{ErrorCode, Request, StrBytes};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// A broker that failed a connect or a request within this window is
/// tried after the others when any broker will do (Java's least-loaded-node
/// choice skips nodes in reconnect backoff the same way).
const AVOID_FAILED_FOR: Duration = Duration::from_secs(10);

/// A connection to a Kafka cluster. Cheap to clone: clones share
/// connections and metadata.
///
/// ```no_run
/// # async fn demo() -> kafkacc::Result<()> {
/// let client = kafkacc::Client::connect(kafkacc::ClientConfig::new("localhost:9092")).await?;
/// let metadata = client.refresh_metadata(&["orders"]).await?;
/// println!("{} brokers", metadata.brokers.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    pool: Pool,
    metadata: RwLock<Arc<ClusterMetadata>>,
    /// One metadata refresh at a time; others wait and reuse its result.
    refreshing: tokio::sync::Mutex<()>,
    /// When the last refresh failed and why: callers that queued behind it
    /// get its error rather than each waiting out another timeout.
    last_refresh_failure: Mutex<Option<(Instant, Error)>>,
    /// Brokers (by address) that failed recently, tried last.
    failed_at: Mutex<BTreeMap<String, Instant>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap_servers)
            .finish()
    }
}

impl Client {
    /// Connects to the cluster: tries the bootstrap addresses in turn until
    /// one answers a Metadata request, for at most `bootstrap_timeout`.
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        config.validate()?;
        let conn_config = ConnConfig {
            client_id: config.client_id.as_str().into(),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_response_size: config.max_response_size,
            address_map: config.broker_address_map.clone(),
            tls: crate::net::tls::connector(config.tls.as_ref())?,
            sasl: config.sasl.clone(),
            dialer: config.dialer.clone(),
        };
        let pool = Pool::new(
            conn_config,
            config.reconnect_backoff,
            config.reconnect_backoff_max,
        );
        let client = Client {
            inner: Arc::new(Inner {
                config,
                pool,
                metadata: RwLock::new(Arc::new(ClusterMetadata::default())),
                refreshing: tokio::sync::Mutex::new(()),
                last_refresh_failure: Mutex::new(None),
                failed_at: Mutex::new(BTreeMap::new()),
            }),
        };
        client.refresh_metadata(&[]).await?;
        Ok(client)
    }

    /// Metadata no older than `metadata_max_age`, refreshed if needed
    /// (the producer and consumer look up leaders through this).
    pub(crate) async fn current_metadata(&self) -> Arc<ClusterMetadata> {
        let cached = self.metadata();
        if cached
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.inner.config.metadata_max_age)
        {
            return cached;
        }
        match self.refresh(Some(&[]), false).await {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::debug!(error = %e, "periodic metadata refresh failed");
                cached
            }
        }
    }

    /// The partition count of `topic` from fresh-enough cached metadata,
    /// without waiting (the producer's per-record fast path).
    pub(crate) fn cached_partition_count(&self, topic: &str, now: Instant) -> Option<i32> {
        let cached = self
            .inner
            .metadata
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let fresh = cached
            .fetched_at
            .is_some_and(|t| now.saturating_duration_since(t) < self.inner.config.metadata_max_age);
        if !fresh {
            return None;
        }
        cached
            .topic(topic)
            .map(|t| t.partitions.len() as i32)
            .filter(|n| *n > 0)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The latest metadata snapshot (may be stale; see [`Client::refresh_metadata`]).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetches fresh metadata for `topics` (and the broker list) and merges
    /// it into the cache. Does not create topics.
    pub async fn refresh_metadata(&self, topics: &[&str]) -> Result<Arc<ClusterMetadata>> {
        self.refresh(Some(topics), false).await
    }

    /// Fetches metadata for every topic in the cluster.
    pub async fn refresh_all_metadata(&self) -> Result<Arc<ClusterMetadata>> {
        self.refresh(None, false).await
    }

    /// Metadata for `topic`, refreshed if it is not cached. With
    /// `auto_create`, brokers that allow it create a missing topic (the
    /// Java producer's behaviour).
    pub(crate) async fn topic_metadata(
        &self,
        topic: &str,
        auto_create: bool,
    ) -> Result<Arc<ClusterMetadata>> {
        let cached = self.metadata();
        if cached
            .topic(topic)
            .is_some_and(|t| !t.partitions.is_empty())
        {
            return Ok(cached);
        }
        let fresh = self.refresh(Some(&[topic]), auto_create).await?;
        match fresh.topic(topic) {
            Some(t) if !t.partitions.is_empty() => Ok(fresh),
            // TOPIC_AUTHORIZATION_FAILED, INVALID_TOPIC_EXCEPTION, ...: no
            // wait will fix these, say so rather than "unknown".
            Some(t)
                if !t.error.is_ok()
                    && crate::error::code_recovery(t.error) == crate::Recovery::Fatal =>
            {
                Err(Error::broker(
                    t.error,
                    format!("Metadata for topic {topic}"),
                    None,
                ))
            }
            _ => Err(Error::UnknownTopic(topic.to_owned())),
        }
    }

    async fn refresh(
        &self,
        topics: Option<&[&str]>,
        auto_create: bool,
    ) -> Result<Arc<ClusterMetadata>> {
        let requested_at = Instant::now();
        let _guard = self.inner.refreshing.lock().await;
        // Someone refreshed while we waited: their answer is fresh enough
        // for a request of all topics or of topics it covers.
        let current = self.metadata();
        if current.fetched_at.is_some_and(|t| t >= requested_at)
            && topics.is_some_and(|ts| ts.iter().all(|t| current.topic(t).is_some()))
        {
            return Ok(current);
        }
        if let Some((at, error)) = lock(&self.inner.last_refresh_failure).clone()
            && at >= requested_at
        {
            return Err(error);
        }
        let fetched = self.fetch_metadata(topics, auto_create).await;
        if let Err(e) = &fetched {
            *lock(&self.inner.last_refresh_failure) = Some((Instant::now(), e.clone()));
        }
        fetched
    }

    /// One Metadata request to any broker, stored in the cache.
    async fn fetch_metadata(
        &self,
        topics: Option<&[&str]>,
        auto_create: bool,
    ) -> Result<Arc<ClusterMetadata>> {
        let request = MetadataRequest {
            topics: topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(StrBytes::from(*t)),
                        ..Default::default()
                    })
                    .collect()
            }),
            allow_auto_topic_creation: auto_create,
            ..Default::default()
        };
        let response = self.send_any_idempotent(&request).await?;
        if response.error_code != 0 {
            return Err(Error::broker(
                ErrorCode(response.error_code),
                "Metadata",
                None,
            ));
        }
        let previous = self.metadata();
        let fresh = Arc::new(ClusterMetadata::from_response(
            &response,
            Some(&previous),
            Instant::now(),
        ));
        *self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        tracing::debug!(
            brokers = fresh.brokers.len(),
            topics = fresh.topics.len(),
            "metadata refreshed"
        );
        Ok(fresh)
    }

    /// Sends `request` to any reachable broker: known brokers first, then the
    /// bootstrap list, until `bootstrap_timeout` has passed.
    pub(crate) async fn send_any<R: Request>(&self, request: &R) -> Result<R::Response> {
        let conn = self.any_connection(Lane::Default).await?;
        let answer = conn.send(request).await;
        if answer.as_ref().is_err_and(broker_failed) {
            self.note_failure(conn.addr());
        }
        answer
    }

    /// [`Client::send_any`] for a request that is safe to repeat (Metadata),
    /// a few times at most: a connection that drops mid-request (a reset,
    /// not a timeout: a broker that stopped answering has had its chance) is
    /// retried on a fresh connection, and a broker that answers garbage or
    /// offers no version of the request is passed over for the next one
    /// (it sorts last now), so one bad broker in the bootstrap list does not
    /// stop the client.
    async fn send_any_idempotent<R: Request>(&self, request: &R) -> Result<R::Response> {
        const ATTEMPTS: u32 = 3;
        let mut attempt = 1;
        loop {
            match self.send_any(request).await {
                Err(
                    e @ (Error::Disconnected { .. }
                    | Error::Decode { .. }
                    | Error::UnsupportedVersion { .. }),
                ) if attempt < ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "request failed on this broker; trying again");
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    /// Remembers that the broker at `addr` just failed.
    fn note_failure(&self, addr: &str) {
        let mut failed = lock(&self.inner.failed_at);
        failed.retain(|_, at| at.elapsed() < AVOID_FAILED_FOR);
        failed.insert(addr.to_owned(), Instant::now());
    }

    /// Did the broker at `addr` fail within [`AVOID_FAILED_FOR`]?
    fn failed_recently(&self, addr: &str) -> bool {
        lock(&self.inner.failed_at)
            .get(addr)
            .is_some_and(|at| at.elapsed() < AVOID_FAILED_FOR)
    }

    /// A connection to any live broker.
    pub(crate) async fn any_connection(&self, lane: Lane) -> Result<Arc<Connection>> {
        let deadline = Instant::now() + self.inner.config.bootstrap_timeout;
        let mut attempts: Vec<(String, String)> = Vec::new();
        let mut round = 0u32;
        loop {
            let mut candidates: Vec<String> =
                self.metadata().brokers.values().map(|b| b.addr()).collect();
            candidates.sort();
            for addr in &self.inner.config.bootstrap_servers {
                if !candidates.contains(addr) {
                    candidates.push(addr.clone());
                }
            }
            // Brokers that just failed go last (a stable sort keeps the
            // order otherwise), so one dead broker costs one timeout, not
            // one per refresh.
            candidates.sort_by_key(|addr| self.failed_recently(addr));
            for addr in candidates {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(Error::NoBrokerReachable { attempts });
                }
                match tokio::time::timeout(remaining, self.inner.pool.get(&addr, lane)).await {
                    Ok(Ok(conn)) => return Ok(conn),
                    // Wrong credentials or certificates fail the same way on
                    // every broker and every retry: say so at once.
                    Ok(Err(e @ (Error::Authentication { .. } | Error::Tls { .. }))) => {
                        return Err(e);
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(broker = %addr, error = %e, "bootstrap attempt failed");
                        self.note_failure(&addr);
                        attempts.retain(|(a, _)| a != &addr);
                        attempts.push((addr, e.to_string()));
                    }
                    Err(_) => return Err(Error::NoBrokerReachable { attempts }),
                }
            }
            let pause = crate::retry::backoff(
                self.inner.config.retry_backoff,
                self.inner.config.retry_backoff_max,
                round,
            );
            round += 1;
            if Instant::now() + pause >= deadline {
                return Err(Error::NoBrokerReachable { attempts });
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// A connection to broker `node_id`.
    pub(crate) async fn broker_connection(
        &self,
        node_id: i32,
        lane: Lane,
    ) -> Result<Arc<Connection>> {
        let mut addr = self.metadata().broker_addr(node_id);
        if addr.is_none() {
            addr = self.refresh_metadata(&[]).await?.broker_addr(node_id);
        }
        let addr = addr.ok_or_else(|| Error::Connect {
            addr: format!("node {node_id}"),
            reason: "broker not in metadata".into(),
        })?;
        self.inner.pool.get(&addr, lane).await
    }

    /// A connection to the broker at `addr` (`host:port`), e.g. a group
    /// coordinator named by FindCoordinator.
    pub(crate) async fn addr_connection(&self, addr: &str, lane: Lane) -> Result<Arc<Connection>> {
        self.inner.pool.get(addr, lane).await
    }

    /// Closes the connections of one lane (a group member finished).
    pub(crate) fn close_lane(&self, lane: Lane) {
        self.inner.pool.close_lane(lane);
    }

    /// Sends `request` to broker `node_id`.
    pub(crate) async fn send_to<R: Request>(
        &self,
        node_id: i32,
        lane: Lane,
        request: &R,
    ) -> Result<R::Response> {
        self.broker_connection(node_id, lane)
            .await?
            .send(request)
            .await
    }

    /// Closes every connection.
    pub fn close(&self) {
        self.inner.pool.close_all();
    }
}

/// Locks a mutex, ignoring poisoning (every critical section here is a
/// plain state update).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether an error says the broker itself is unreachable or unresponsive
/// (rather than that it answered with an error).
fn broker_failed(error: &Error) -> bool {
    matches!(
        error,
        Error::Connect { .. }
            | Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::Decode { .. }
            | Error::UnsupportedVersion { .. }
    )
}
