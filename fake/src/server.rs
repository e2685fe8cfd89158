//! The network side: one TCP listener per broker, one task per connection.
//!
//! A connection reads size-prefixed frames (capped at the configured
//! maximum before anything is allocated) and answers them one at a time,
//! in order, as Kafka does (it mutes a connection while a request is in
//! flight, so pipelined requests wait in the socket buffer). Anything
//! undecodable closes the connection; nothing panics on input.

use crate::clock::Clock;
use crate::handlers::{self, Ctx, Outcome};
use crate::state::State;
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use kafkacc_protocol::api::response_header_version;
use kafkacc_protocol::frame::KafkaFrameCodec;
use kafkacc_protocol::header::decode_request_header;
use kafkacc_protocol::{ApiKey, RequestKind, ResponseKind};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

/// What every broker task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub clock: Clock,
    /// Woken on every append, marker and leader change (fetch long-polls).
    pub data: Notify,
    /// Cancelled when the cluster is dropped.
    pub shutdown: CancellationToken,
    log: Option<Mutex<std::fs::File>>,
}

impl Shared {
    pub(crate) fn new(state: State, log: Option<std::fs::File>) -> Self {
        Self {
            state: Mutex::new(state),
            clock: Clock::new(),
            data: Notify::new(),
            shutdown: CancellationToken::new(),
            log: log.map(Mutex::new),
        }
    }

    /// The state. A panic while holding the lock cannot leave it half
    /// updated in a way that matters to a test fake, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a line to the log file, if there is one.
    pub(crate) fn log(&self, line: std::fmt::Arguments<'_>) {
        if let Some(file) = &self.log {
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(file, "{} {line}", self.clock.now_ms());
        }
    }
}

/// Accepts connections for broker `node_id` until `token` is cancelled.
pub(crate) fn spawn_listener(
    shared: Arc<Shared>,
    node_id: i32,
    listener: TcpListener,
    token: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = token.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve(shared.clone(), node_id, stream, peer, token.clone()));
                }
                // Out of descriptors and the like: back off, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
}

/// Serves one connection (TCP, or any byte stream such as the in-memory
/// pipe of a simulated network) until it closes or `token` is cancelled.
pub(crate) async fn serve<S>(
    shared: Arc<Shared>,
    node_id: i32,
    stream: S,
    peer: SocketAddr,
    token: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let max = shared.lock().config.max_frame_bytes;
    let (reader, mut writer) = tokio::io::split(stream);
    let mut frames = FramedRead::new(reader, KafkaFrameCodec::new(max));
    // A black-holed connection reads and drops everything from then on.
    let mut silent = false;
    loop {
        let next = tokio::select! {
            () = token.cancelled() => return,
            next = frames.next() => next,
        };
        let frame = match next {
            Some(Ok(frame)) => frame.freeze(),
            Some(Err(e)) => {
                shared.log(format_args!(
                    "broker {node_id} {peer}: bad frame ({e}), closing"
                ));
                return;
            }
            None => return,
        };
        if silent {
            continue;
        }
        let outcome = tokio::select! {
            () = token.cancelled() => return,
            outcome = process(&shared, node_id, peer, frame) => outcome,
        };
        match outcome {
            Outcome::Respond(bytes) => {
                if writer.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Silence => silent = true,
            Outcome::Close => return,
        }
    }
}

/// Decodes one request, applies the broker's faults, runs the handler and
/// encodes the answer frame.
async fn process(
    shared: &Arc<Shared>,
    node_id: i32,
    peer: SocketAddr,
    frame: Bytes,
) -> Outcome<Bytes> {
    let mut body = frame;
    let header = match decode_request_header(&mut body) {
        Ok(h) => h,
        Err(e) => {
            shared.log(format_args!(
                "broker {node_id} {peer}: bad header ({e}), closing"
            ));
            return Outcome::Close;
        }
    };
    let (latency, throttle, black_hole, injected) = {
        let mut state = shared.lock();
        let (latency, throttle, black_hole) = state
            .broker(node_id)
            .map(|b| (b.latency, b.throttle, b.black_hole))
            .unwrap_or_default();
        let injected = if black_hole {
            None
        } else {
            state.faults.take(header.api_key, node_id)
        };
        (latency, throttle, black_hole, injected)
    };
    if black_hole {
        shared.log(format_args!(
            "broker {node_id} {peer}: black hole swallows {:?} v{}",
            header.api_key, header.api_version
        ));
        return Outcome::Silence;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let version = header.api_version;
    let request = match RequestKind::decode(header.api_key, version, &mut body) {
        Ok(r) => r,
        Err(e) => {
            if header.api_key == ApiKey::ApiVersions {
                // An ApiVersions newer than ours: answer v0 with the error
                // and our versions, so the client can retry lower.
                let response = handlers::api_versions::unsupported();
                return encode(
                    shared,
                    node_id,
                    ApiKey::ApiVersions,
                    0,
                    header.correlation_id,
                    &response,
                );
            }
            shared.log(format_args!(
                "broker {node_id} {peer}: undecodable {:?} v{version} ({e}), closing",
                header.api_key
            ));
            return Outcome::Close;
        }
    };
    let ctx = Ctx {
        broker: node_id,
        version,
        client_id: header
            .client_id
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        client_host: format!("/{}", peer.ip()),
    };
    let outcome = match injected {
        Some(_) if matches!(&request, RequestKind::Produce(p) if p.acks == 0) => {
            Outcome::NoResponse
        }
        Some(code) => {
            shared.log(format_args!(
                "broker {node_id}: injected {code:?} for {:?} v{version}",
                header.api_key
            ));
            match handlers::injected::error_response(&request, version, code) {
                Some(r) => Outcome::Respond(r),
                None => Outcome::Close,
            }
        }
        None => handlers::handle(shared, &ctx, request).await,
    };
    shared.log(format_args!(
        "broker {node_id} {peer}: {:?} v{version} corr {} -> {}",
        header.api_key,
        header.correlation_id,
        match &outcome {
            Outcome::Respond(_) => "answered",
            Outcome::NoResponse => "no response (acks=0)",
            Outcome::Silence => "silence",
            Outcome::Close => "closed",
        }
    ));
    match outcome {
        Outcome::Respond(mut response) => {
            let throttle_ms = i32::try_from(throttle.as_millis()).unwrap_or(i32::MAX);
            // Versions without the field drop it when encoding.
            if let Some(field) = response.throttle_time_ms_mut().filter(|_| throttle_ms > 0) {
                *field = throttle_ms;
            }
            encode(
                shared,
                node_id,
                header.api_key,
                version,
                header.correlation_id,
                &response,
            )
        }
        Outcome::NoResponse => Outcome::NoResponse,
        Outcome::Silence => Outcome::Silence,
        Outcome::Close => Outcome::Close,
    }
}

fn encode(
    shared: &Shared,
    node_id: i32,
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Outcome<Bytes> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    if response_header_version(api_key, version) >= 1 {
        buf.put_u8(0);
    }
    if let Err(e) = response.encode(&mut buf, version) {
        // A bug in the fake: say so in the log and drop the connection
        // rather than send something half-written.
        shared.log(format_args!(
            "broker {node_id}: cannot encode {api_key:?} v{version} response: {e}"
        ));
        eprintln!("kafkacc-fake: BUG: cannot encode {api_key:?} v{version} response: {e}");
        return Outcome::Close;
    }
    let size = i32::try_from(buf.len() - 4).unwrap_or(i32::MAX);
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Outcome::Respond(buf.freeze())
}
