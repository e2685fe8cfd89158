//! One connection to one broker: TCP, optionally TLS, optionally SASL.
//!
//! Requests are pipelined: callers encode a frame with a fresh correlation
//! id and hand it to the writer task; the reader task matches each response
//! to the *oldest* outstanding request and checks the ids agree (a mismatch
//! poisons the connection, as in the Java client). Reading and writing run
//! in separate tasks so a large write never stops responses from draining.
//!
//! ```text
//!  caller ──frame──▶ writer task ──bytes──▶ socket ──frames──▶ reader task ──▶ caller
//!                        └──── expected (id, reply) queue ───────▶┘
//! ```
//!
//! Any failure (I/O error, bad frame, timeout seen by a caller) cancels both
//! tasks and fails every outstanding request with `Disconnected`; the pool
//! then opens a new connection on next use.
//!
//! Opening a connection: TCP connect (to the address the
//! [`BrokerAddressMap`] gives, if any), the TLS handshake when configured,
//! ApiVersions, then SASL when configured. The tasks are generic over the
//! stream, so plain TCP and TLS share them. When the broker limits the SASL
//! session (KIP-368), a third task re-authenticates before it expires; it
//! holds the send gate for the whole exchange so no other request is
//! written between its SaslHandshake and SaslAuthenticate requests.
//!
//! A response with `throttle_time_ms` > 0 (the broker's client quota,
//! KIP-219) holds the writer: nothing more goes out on the connection until
//! that time has passed (at most the request timeout). The response itself
//! is delivered at once. Answers at versions from before KIP-219 are not
//! held on: those brokers delayed the answer instead.

use crate::config::{BrokerAddressMap, parse_host_port};
use crate::error::{Error, Result};
use crate::net::sasl;
use crate::net::throttle::{Throttle, throttle_time_ms};
use crate::net::tls::{self, TlsConnector};
use crate::net::versions::BrokerVersions;
use crate::security::SaslConfig;
use bytes::Bytes;
use futures::StreamExt;
use kafkacc_protocol::frame::{FrameError, KafkaFrameCodec};
use kafkacc_protocol::header::{decode_response_header, encode_request_chunks};
use kafkacc_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafkacc_protocol::{ApiKey, Decode, ErrorCode, Request, StrBytes, VersionRange};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{RwLock, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

/// Correlation ids from here up are reserved by the Java client for SASL;
/// we wrap before them.
const MAX_CORRELATION_ID: i32 = i32::MAX - 8;
/// Requests queued for the writer before `send` waits.
const QUEUE_DEPTH: usize = 64;

/// Settings a connection needs.
#[derive(Debug, Clone)]
pub(crate) struct ConnConfig {
    pub client_id: Arc<str>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_response_size: usize,
    /// Maps the broker address to the one actually dialed.
    pub address_map: Option<BrokerAddressMap>,
    /// TLS, when configured.
    pub tls: Option<Arc<TlsConnector>>,
    /// SASL, when configured.
    pub sasl: Option<SaslConfig>,
    /// Opens streams instead of TCP, when configured.
    pub dialer: Option<Arc<dyn crate::net::dialer::Dialer>>,
}

type Reply = oneshot::Sender<Result<Bytes>>;

/// A response the reader expects, in send order.
struct Expected {
    correlation_id: i32,
    reply: Reply,
}

/// A frame for the writer, in buffers written one after the other (a
/// produce request's batches are referenced, not copied into the frame).
/// `expected` is None for Produce with acks=0, whose caller is told once
/// the bytes are written.
struct Outgoing {
    frame: Vec<Bytes>,
    expected: Option<Expected>,
    written: Option<Reply>,
}

/// A request queued by [`Connection::queue_request`], awaiting its response.
#[derive(Debug)]
pub(crate) struct Pending {
    rx: oneshot::Receiver<Result<Bytes>>,
    version: i16,
}

/// A live connection; cheap to share behind an `Arc`.
pub(crate) struct Connection {
    addr: String,
    config: ConnConfig,
    next_correlation_id: AtomicI32,
    queue: mpsc::Sender<Outgoing>,
    cancel: CancellationToken,
    versions: OnceLock<BrokerVersions>,
    /// Requests take it shared to enqueue; SASL re-authentication takes it
    /// exclusively for its whole exchange.
    gate: RwLock<()>,
    /// Set by the reader when TLS ended the connection (e.g. the broker
    /// refused our certificate), so the connect error can say so.
    tls_failure: Arc<OnceLock<String>>,
    /// The broker's KIP-219 throttle, honoured by the writer.
    throttle: Arc<Throttle>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Connects to `addr`, starts the I/O tasks and negotiates API versions.
    pub(crate) async fn connect(addr: &str, config: ConnConfig) -> Result<Arc<Connection>> {
        let started = Instant::now();
        let connect_error = |reason: String| Error::Connect {
            addr: addr.to_owned(),
            reason,
        };
        let (host, port) = parse_host_port(addr).map_err(|e| connect_error(e.to_string()))?;
        let (dial_host, dial_port) = match &config.address_map {
            Some(map) => {
                let mapped = map.map(&host, port);
                tracing::debug!(broker = addr, dial = %format_args!("{}:{}", mapped.0, mapped.1), "broker address mapped");
                mapped
            }
            None => (host, port),
        };
        if let Some(dialer) = config.dialer.clone() {
            if config.tls.is_some() {
                return Err(Error::Config(
                    "TLS over a custom dialer is not supported".into(),
                ));
            }
            let stream =
                tokio::time::timeout(config.connect_timeout, dialer.dial(&dial_host, dial_port))
                    .await
                    .map_err(|_| {
                        connect_error(format!("timed out after {:?}", config.connect_timeout))
                    })?
                    .map_err(|e| connect_error(e.to_string()))?;
            let (read_half, write_half) = tokio::io::split(stream);
            let conn = Connection::start(addr.to_owned(), read_half, write_half, config);
            return Self::finish_connect(Arc::new(conn), addr, started).await;
        }
        let dial = TcpStream::connect((dial_host.as_str(), dial_port));
        let stream = tokio::time::timeout(config.connect_timeout, dial)
            .await
            .map_err(|_| connect_error(format!("timed out after {:?}", config.connect_timeout)))?
            .map_err(|e| connect_error(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| connect_error(e.to_string()))?;
        let conn = match config.tls.clone() {
            None => {
                let (read_half, write_half) = stream.into_split();
                Connection::start(addr.to_owned(), read_half, write_half, config)
            }
            Some(tls) => {
                let host = host_of(addr);
                let handshake = tls.connect(addr, &host, stream);
                let stream = tokio::time::timeout(config.connect_timeout, handshake)
                    .await
                    .map_err(|_| connect_error("TLS handshake timed out".into()))??;
                let (read_half, write_half) = tokio::io::split(stream);
                Connection::start(addr.to_owned(), read_half, write_half, config)
            }
        };
        Self::finish_connect(Arc::new(conn), addr, started).await
    }

    /// ApiVersions (and SASL) on a freshly opened connection.
    async fn finish_connect(
        conn: Arc<Connection>,
        addr: &str,
        started: Instant,
    ) -> Result<Arc<Connection>> {
        match conn.handshake().await {
            Ok(()) => {
                tracing::debug!(broker = addr, elapsed = ?started.elapsed(), "connected");
                Ok(conn)
            }
            Err(e) => {
                conn.close();
                Err(match conn.tls_failure.get() {
                    Some(reason) => Error::Tls {
                        addr: addr.to_owned(),
                        reason: reason.clone(),
                    },
                    None => e,
                })
            }
        }
    }

    /// ApiVersions, then SASL if configured (and re-authentication when the
    /// broker limits the session).
    async fn handshake(self: &Arc<Self>) -> Result<()> {
        let versions = self.negotiate_versions().await?;
        let _ = self.versions.set(versions);
        if let Some(sasl) = &self.config.sasl {
            if let Some(lifetime) = sasl::authenticate(self, sasl, false).await? {
                tokio::spawn(reauthenticate(
                    Arc::downgrade(self),
                    sasl.clone(),
                    lifetime,
                    self.cancel.clone(),
                ));
            }
        }
        Ok(())
    }

    fn start<R, W>(addr: String, read_half: R, write_half: W, config: ConnConfig) -> Connection
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let (queue, queue_rx) = mpsc::channel(QUEUE_DEPTH);
        let (expected_tx, expected_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let tls_failure = Arc::new(OnceLock::new());
        let throttle = Arc::new(Throttle::default());
        tokio::spawn(write_loop(
            write_half,
            queue_rx,
            expected_tx,
            cancel.clone(),
            addr.clone(),
            throttle.clone(),
        ));
        tokio::spawn(read_loop(
            read_half,
            expected_rx,
            cancel.clone(),
            addr.clone(),
            config.max_response_size,
            tls_failure.clone(),
        ));
        Connection {
            addr,
            config,
            next_correlation_id: AtomicI32::new(0),
            queue,
            cancel,
            versions: OnceLock::new(),
            gate: RwLock::new(()),
            tls_failure,
            throttle,
        }
    }

    /// The broker's address, as the client names it.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection has failed or been closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.cancel.is_cancelled() || self.queue.is_closed()
    }

    /// Closes the connection; outstanding requests fail with `Disconnected`.
    pub(crate) fn close(&self) {
        self.cancel.cancel();
    }

    /// The broker's advertised versions (empty before negotiation).
    pub(crate) fn versions(&self) -> &BrokerVersions {
        static EMPTY: OnceLock<BrokerVersions> = OnceLock::new();
        self.versions
            .get()
            .unwrap_or_else(|| EMPTY.get_or_init(BrokerVersions::default))
    }

    /// The version of `R` to use with this broker.
    pub(crate) fn version_of<R: Request>(&self) -> Result<i16> {
        self.versions()
            .pick::<R>()
            .ok_or_else(|| Error::UnsupportedVersion {
                addr: self.addr.clone(),
                api: R::API_KEY,
                broker: self.versions().range(R::API_KEY),
            })
    }

    /// Sends `request` at the best common version and waits for its response.
    pub(crate) async fn send<R: Request>(&self, request: &R) -> Result<R::Response> {
        let version = self.version_of::<R>()?;
        self.send_at(request, version).await
    }

    /// Sends `request` at `version` and waits for its response.
    pub(crate) async fn send_at<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        let started = Instant::now();
        let frame = self.round_trip(request, version).await?;
        let response = self.decode_response::<R>(frame, version)?;
        tracing::trace!(broker = %self.addr, api = ?R::API_KEY, version, elapsed = ?started.elapsed(), "request done");
        Ok(response)
    }

    /// Sends `request` at `version` and waits at most `timeout` for its
    /// response (JoinGroup may legitimately wait for a whole rebalance).
    pub(crate) async fn send_at_timeout<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let pending = self.queue_request(request, version).await?;
        let frame = self.await_reply_within(pending.rx, timeout).await?;
        self.decode_response::<R>(frame, version)
    }

    /// Queues `request` at `version` for writing and returns once it is in
    /// the connection's queue, so requests started one after another go
    /// out in that order (the producer relies on it for sequence order).
    /// [`Connection::finish`] waits for the response.
    pub(crate) async fn queue_request<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<Pending> {
        let (frame, correlation_id) = self.encode(request, version)?;
        let (tx, rx) = oneshot::channel();
        self.enqueue(Outgoing {
            frame,
            expected: Some(Expected {
                correlation_id,
                reply: tx,
            }),
            written: None,
        })
        .await?;
        Ok(Pending { rx, version })
    }

    /// Waits for the response of a request [`Connection::queue_request`] queued.
    pub(crate) async fn finish<R: Request>(&self, pending: Pending) -> Result<R::Response> {
        let frame = self.await_reply(pending.rx).await?;
        self.decode_response::<R>(frame, pending.version)
    }

    /// Sends a request that gets no response (Produce with acks=0); returns
    /// once the bytes are written.
    pub(crate) async fn send_no_response<R: Request>(&self, request: &R) -> Result<()> {
        let version = self.version_of::<R>()?;
        let (frame, _) = self.encode(request, version)?;
        let (tx, rx) = oneshot::channel();
        self.enqueue(Outgoing {
            frame,
            expected: None,
            written: Some(tx),
        })
        .await?;
        self.await_reply(rx).await.map(drop)
    }

    fn encode<R: Request>(&self, request: &R, version: i16) -> Result<(Vec<Bytes>, i32)> {
        let correlation_id = self.next_correlation_id();
        let frame = encode_request_chunks(
            version,
            correlation_id,
            Some(&self.config.client_id),
            request,
        )?;
        Ok((frame, correlation_id))
    }

    async fn round_trip<R: Request>(&self, request: &R, version: i16) -> Result<Bytes> {
        let pending = self.queue_request(request, version).await?;
        self.await_reply(pending.rx).await
    }

    async fn enqueue(&self, outgoing: Outgoing) -> Result<()> {
        let _shared = self.gate.read().await;
        self.enqueue_exclusive(outgoing).await
    }

    /// Enqueues without the gate: for the SASL exchange, whose caller holds
    /// the gate (re-authentication) or owns the connection alone (connect).
    async fn enqueue_exclusive(&self, outgoing: Outgoing) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(self.disconnected("connection closed"));
        }
        self.queue
            .send(outgoing)
            .await
            .map_err(|_| self.disconnected("connection closed"))
    }

    /// Sends `request` at `version` past the gate and waits for its response
    /// (the SASL exchange; see [`Connection::enqueue_exclusive`]).
    pub(crate) async fn send_exclusive<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response> {
        let (frame, correlation_id) = self.encode(request, version)?;
        let (tx, rx) = oneshot::channel();
        self.enqueue_exclusive(Outgoing {
            frame,
            expected: Some(Expected {
                correlation_id,
                reply: tx,
            }),
            written: None,
        })
        .await?;
        let frame = self.await_reply(rx).await?;
        self.decode_response::<R>(frame, version)
    }

    async fn await_reply(&self, rx: oneshot::Receiver<Result<Bytes>>) -> Result<Bytes> {
        self.await_reply_within(rx, self.config.request_timeout)
            .await
    }

    async fn await_reply_within(
        &self,
        rx: oneshot::Receiver<Result<Bytes>>,
        timeout: Duration,
    ) -> Result<Bytes> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(self.disconnected("connection closed")),
            Err(_) => {
                // The connection's state is unknown now (the broker may still
                // answer); like the Java client, drop it and start afresh.
                tracing::debug!(broker = %self.addr, "request timed out; closing connection");
                self.close();
                Err(Error::Timeout {
                    op: "request",
                    after: timeout,
                })
            }
        }
    }

    fn decode_response<R: Request>(&self, mut frame: Bytes, version: i16) -> Result<R::Response> {
        decode_response_header(&mut frame, R::API_KEY, version)
            .map_err(|e| self.decode_error(e))?;
        let response =
            R::Response::decode(&mut frame, version).map_err(|e| self.decode_error(e))?;
        self.note_throttle(R::API_KEY, throttle_time_ms::<R>(&response, version));
        Ok(response)
    }

    /// A response said the broker throttles us (KIP-219): hold the
    /// connection's next requests for that long, at most a request timeout.
    fn note_throttle(&self, api: ApiKey, throttle_ms: i32) {
        let Ok(ms) = u64::try_from(throttle_ms) else {
            return;
        };
        if ms == 0 {
            return;
        }
        let hold = Duration::from_millis(ms).min(self.config.request_timeout);
        tracing::debug!(broker = %self.addr, ?api, throttle_ms, ?hold, "throttled by the broker; holding further requests on this connection");
        self.throttle.hold_for(hold);
    }

    fn decode_error(&self, source: kafkacc_protocol::DecodeError) -> Error {
        // Bytes we cannot parse leave the stream in an unknown state.
        self.close();
        Error::Decode {
            addr: self.addr.clone(),
            source,
        }
    }

    fn disconnected(&self, reason: &str) -> Error {
        Error::Disconnected {
            addr: self.addr.clone(),
            reason: reason.to_owned(),
        }
    }

    fn next_correlation_id(&self) -> i32 {
        let id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        if id >= MAX_CORRELATION_ID {
            // Racing callers may each reset; any value below the cap is fine
            // because responses are matched by order, ids only double-check.
            self.next_correlation_id.store(1, Ordering::Relaxed);
            return 0;
        }
        id
    }

    /// ApiVersions handshake. Asks at v3; a broker that does not know v3
    /// answers UNSUPPORTED_VERSION in a v0 body carrying its own range, and
    /// we ask again at the highest version it named.
    async fn negotiate_versions(&self) -> Result<BrokerVersions> {
        const FIRST_TRY: i16 = 3;
        let request = ApiVersionsRequest {
            client_software_name: StrBytes::from_static("kafkacc"),
            client_software_version: StrBytes::from_static(env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let frame = self.round_trip(&request, FIRST_TRY).await?;
        // An older broker answers in a v0 body, which may not parse as v3.
        let response = match decode_frame::<ApiVersionsRequest>(frame.clone(), FIRST_TRY) {
            Ok(r) if r.error_code == ErrorCode::UNSUPPORTED_VERSION.0 => None,
            Ok(r) => {
                self.note_throttle(
                    ApiKey::ApiVersions,
                    throttle_time_ms::<ApiVersionsRequest>(&r, FIRST_TRY),
                );
                Some(r)
            }
            Err(_) => None,
        };
        let response = match response {
            Some(r) => r,
            None => {
                let fallback = self.decode_response::<ApiVersionsRequest>(frame, 0)?;
                let theirs = fallback
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                    .map_or(0, |k| k.max_version.min(FIRST_TRY));
                self.send_at(&request, theirs).await?
            }
        };
        if response.error_code != 0 {
            return Err(Error::broker(
                ErrorCode(response.error_code),
                format!("ApiVersions {}", self.addr),
                None,
            ));
        }
        Ok(versions_from(&response))
    }
}

/// Decodes a response frame (header and body) for a request of type `R`.
fn decode_frame<R: Request>(
    mut frame: Bytes,
    version: i16,
) -> Result<R::Response, kafkacc_protocol::DecodeError> {
    decode_response_header(&mut frame, R::API_KEY, version)?;
    R::Response::decode(&mut frame, version)
}

fn versions_from(response: &ApiVersionsResponse) -> BrokerVersions {
    BrokerVersions::new(response.api_keys.iter().map(|k| {
        (
            k.api_key,
            VersionRange {
                min: k.min_version,
                max: k.max_version,
            },
        )
    }))
}

/// Re-authenticates (KIP-368) at 85–95 % of each session lifetime, as the
/// Java client does, until the connection closes. A failure closes the
/// connection: the broker would close it at expiry anyway.
async fn reauthenticate(
    conn: std::sync::Weak<Connection>,
    sasl: SaslConfig,
    mut lifetime: Duration,
    cancel: CancellationToken,
) {
    loop {
        let wait = lifetime.mul_f64(crate::determinism::random_f64(0.85..0.95));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let Some(conn) = conn.upgrade() else { return };
        let result = {
            let _exclusive = conn.gate.write().await;
            sasl::authenticate(&conn, &sasl, true).await
        };
        match result {
            Ok(Some(next)) => lifetime = next,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(broker = %conn.addr, error = %e, "SASL re-authentication failed; closing the connection");
                conn.close();
                return;
            }
        }
    }
}

/// The host part of `host:port` (brackets of an IPv6 host removed).
fn host_of(addr: &str) -> String {
    parse_host_port(addr).map_or_else(|_| addr.to_owned(), |(host, _)| host)
}

/// Writes a frame's buffers in order. Small ones gather in the writer's
/// buffer; one at least as large as that buffer goes to the socket as is.
async fn write_chunks<W: AsyncWrite + Unpin>(
    writer: &mut BufWriter<W>,
    frame: &[Bytes],
) -> std::io::Result<()> {
    for chunk in frame {
        writer.write_all(chunk).await?;
    }
    Ok(())
}

async fn write_loop<W: AsyncWrite + Unpin>(
    write_half: W,
    mut queue: mpsc::Receiver<Outgoing>,
    expected: mpsc::UnboundedSender<Expected>,
    cancel: CancellationToken,
    addr: String,
    throttle: Arc<Throttle>,
) {
    let mut writer = BufWriter::with_capacity(64 * 1024, write_half);
    let mut written = Vec::new();
    'outer: loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => break,
            next = queue.recv() => match next { Some(o) => o, None => break },
        };
        // A throttled connection writes nothing until the hold ends (it may
        // grow while we wait: another response said so).
        while let Some(until) = throttle.until() {
            tokio::select! {
                _ = cancel.cancelled() => break 'outer,
                () = tokio::time::sleep_until(until) => {}
            }
        }
        // Drain whatever else is queued so one flush carries many frames.
        let mut batch = vec![first];
        while batch.len() < QUEUE_DEPTH {
            match queue.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        for outgoing in batch {
            if let Some(e) = outgoing.expected {
                if let Err(mpsc::error::SendError(e)) = expected.send(e) {
                    let _ = e.reply.send(Err(Error::Disconnected {
                        addr: addr.clone(),
                        reason: "connection closed".into(),
                    }));
                    break 'outer;
                }
            }
            if let Some(w) = outgoing.written {
                written.push(w);
            }
            let result = tokio::select! {
                _ = cancel.cancelled() => break 'outer,
                r = write_chunks(&mut writer, &outgoing.frame) => r,
            };
            if let Err(e) = result {
                tracing::debug!(broker = %addr, error = %e, "write failed");
                break 'outer;
            }
        }
        let flushed = tokio::select! {
            _ = cancel.cancelled() => break,
            r = writer.flush() => r,
        };
        if let Err(e) = flushed {
            tracing::debug!(broker = %addr, error = %e, "flush failed");
            break;
        }
        for w in written.drain(..) {
            let _ = w.send(Ok(Bytes::new()));
        }
    }
    cancel.cancel();
    for w in written.drain(..) {
        let _ = w.send(Err(Error::Disconnected {
            addr: addr.clone(),
            reason: "write failed".into(),
        }));
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    read_half: R,
    mut expected: mpsc::UnboundedReceiver<Expected>,
    cancel: CancellationToken,
    addr: String,
    max_response_size: usize,
    tls_failure: Arc<OnceLock<String>>,
) {
    let mut frames = FramedRead::with_capacity(
        read_half,
        KafkaFrameCodec::new(max_response_size),
        64 * 1024,
    );
    let reason: String = loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => break "connection closed".into(),
            next = frames.next() => next,
        };
        let frame = match next {
            None => break "closed by broker".into(),
            Some(Err(FrameError::Io(e))) => match tls::tls_failure(&e) {
                Some(reason) => {
                    let _ = tls_failure.set(reason.clone());
                    break format!("TLS: {reason}");
                }
                None => break format!("bad frame: i/o error: {e}"),
            },
            Some(Err(e)) => break format!("bad frame: {e}"),
            Some(Ok(frame)) => frame.freeze(),
        };
        let Some(correlation_id) = frame
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        else {
            break "response shorter than its header".into();
        };
        let Ok(waiting) = expected.try_recv() else {
            break format!("unexpected response with correlation id {correlation_id}");
        };
        if waiting.correlation_id != correlation_id {
            let reason = format!(
                "correlation id {correlation_id}, expected {}",
                waiting.correlation_id
            );
            let _ = waiting.reply.send(Err(Error::Disconnected {
                addr: addr.clone(),
                reason: reason.clone(),
            }));
            break reason;
        }
        let _ = waiting.reply.send(Ok(frame));
    };
    tracing::debug!(broker = %addr, %reason, "connection closed");
    cancel.cancel();
    expected.close();
    while let Ok(waiting) = expected.try_recv() {
        let _ = waiting.reply.send(Err(Error::Disconnected {
            addr: addr.clone(),
            reason: reason.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::scripted::{api_versions, serve_one};
    use kafkacc_protocol::RequestKind;
    use std::sync::Mutex;

    #[tokio::test]
    async fn the_address_map_decides_where_to_dial() {
        let real = serve_one(|_, request| match request {
            RequestKind::ApiVersions(_) => Some(api_versions()),
            _ => None,
        })
        .await;
        let (real_host, real_port) = parse_host_port(&real).unwrap();
        let asked: Arc<Mutex<Vec<(String, u16)>>> = Arc::default();
        let record = asked.clone();
        let config = ConnConfig {
            client_id: "test".into(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            max_response_size: 1 << 20,
            address_map: Some(BrokerAddressMap::new(move |host, port| {
                record.lock().unwrap().push((host.to_owned(), port));
                (real_host.clone(), real_port)
            })),
            tls: None,
            sasl: None,
            dialer: None,
        };
        let conn = Connection::connect("[::1]:9", config).await.unwrap();
        // The connection keeps the broker's own name.
        assert_eq!(conn.addr(), "[::1]:9");
        assert_eq!(*asked.lock().unwrap(), vec![("::1".to_owned(), 9)]);
    }
}
