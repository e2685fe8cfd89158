//! A scripted broker for client tests that a real broker cannot stage: a
//! broker that stops answering, answers garbage, or misbehaves on purpose.
//! Built on `kafkacc-protocol`, it decodes each request and asks a handler
//! what to do with it.

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::api::response_header_version;
use kafkacc_protocol::generated::api_versions_response::ApiVersion;
use kafkacc_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkacc_protocol::header::{RequestHeaderView, decode_request_header};
use kafkacc_protocol::messages::{ApiVersionsResponse, MetadataResponse};
use kafkacc_protocol::{ApiKey, RequestKind, ResponseKind, StrBytes};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the scripted broker does with one request.
#[derive(Debug)]
pub enum Reply {
    /// Answer with this body.
    Respond(Box<ResponseKind>),
    /// Never answer (a black hole), but keep the connection open.
    Silence,
    /// Close the connection.
    Close,
    /// Write these raw bytes instead of a response.
    Raw(Bytes),
}

impl Reply {
    /// Answer with `response`.
    pub fn respond(response: ResponseKind) -> Reply {
        Reply::Respond(Box::new(response))
    }
}

type Handler = dyn Fn(&RequestHeaderView, RequestKind) -> Reply + Send + Sync;

/// A broker on 127.0.0.1 that answers as its handler says. Stops when
/// dropped, closing its connections.
pub struct ScriptedBroker {
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The port (for metadata that advertises this broker).
    pub port: i32,
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Drop for ScriptedBroker {
    fn drop(&mut self) {
        self.task.abort();
        self.close_connections();
    }
}

impl ScriptedBroker {
    /// Starts listening; each request goes to `handler`.
    pub async fn start(
        handler: impl Fn(&RequestHeaderView, RequestKind) -> Reply + Send + Sync + 'static,
    ) -> ScriptedBroker {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let local = listener.local_addr().expect("local addr");
        let handler: Arc<Handler> = Arc::new(handler);
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let open = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let served = tokio::spawn(serve(stream, handler.clone()));
                let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
                open.retain(|c| !c.is_finished());
                open.push(served.abort_handle());
            }
        });
        ScriptedBroker {
            addr: local.to_string(),
            port: i32::from(local.port()),
            task,
            connections,
        }
    }

    /// Closes every connection accepted so far (as a broker restart
    /// would); the broker keeps accepting new ones.
    pub fn close_connections(&self) {
        let open = std::mem::take(&mut *self.connections.lock().unwrap_or_else(|p| p.into_inner()));
        for connection in open {
            connection.abort();
        }
    }
}

async fn serve(mut stream: TcpStream, handler: Arc<Handler>) {
    let mut held_open = false;
    loop {
        let mut len = [0u8; 4];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let len = i32::from_be_bytes(len);
        if !(0..=100 << 20).contains(&len) {
            return;
        }
        let mut frame = vec![0u8; len as usize];
        if stream.read_exact(&mut frame).await.is_err() {
            return;
        }
        if held_open {
            continue; // a black-holed connection swallows everything after
        }
        let mut body = Bytes::from(frame);
        let Ok(header) = decode_request_header(&mut body) else {
            return;
        };
        let Ok(request) = RequestKind::decode(header.api_key, header.api_version, &mut body) else {
            return;
        };
        let out = match handler(&header, request) {
            Reply::Respond(response) => response_frame(&header, &response),
            Reply::Silence => {
                held_open = true;
                continue;
            }
            Reply::Close => return,
            Reply::Raw(bytes) => bytes,
        };
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Encodes a full response frame for `header`'s request.
pub fn response_frame(header: &RequestHeaderView, response: &ResponseKind) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    buf.put_i32(header.correlation_id);
    if response_header_version(header.api_key, header.api_version) >= 1 {
        buf.put_u8(0);
    }
    response
        .encode(&mut buf, header.api_version)
        .expect("scripted response encodes");
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}

/// An ApiVersions answer offering every version this codec knows.
pub fn api_versions_response() -> ResponseKind {
    let api_keys = ApiKey::ALL
        .iter()
        .map(|k| {
            let v = k.versions();
            ApiVersion {
                api_key: *k as i16,
                min_version: v.min,
                max_version: v.max,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::ApiVersions(ApiVersionsResponse {
        api_keys,
        ..Default::default()
    })
}

/// A Metadata answer: this broker is node 1 and leads every partition of
/// the given topics.
pub fn metadata_response(port: i32, topics: &[(&str, i32)]) -> ResponseKind {
    let topics = topics
        .iter()
        .map(|(name, partitions)| MetadataResponseTopic {
            name: Some(StrBytes::from(*name)),
            partitions: (0..*partitions)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 1,
                    replica_nodes: [1].into(),
                    isr_nodes: [1].into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::Metadata(MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        }],
        controller_id: 1,
        topics,
        ..Default::default()
    })
}
