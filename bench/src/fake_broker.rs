//! A fake broker that acknowledges Produce without storing anything, so a
//! producer's own cost shows apart from a real broker's.
//!
//! It runs in a child process (`peer-bench fake-broker`) so that the
//! benchmark's getrusage of its own process counts only the client. Each
//! connection gets a blocking thread: read a frame, answer it, and flush the
//! answers only when no further request is already buffered (pipelined
//! requests get their responses in one write).
//!
//! Answers: ApiVersions (only the APIs below, so clients don't try others),
//! Metadata (every topic asked for exists with [`PARTITIONS`] partitions led
//! by this broker), InitProducerId (for idempotent producers), Produce
//! (base offsets counted per partition from the batches' record counts;
//! nothing answered for acks=0). Anything else closes the connection.

use bytes::{Buf, Bytes, BytesMut};
use kafkacc_protocol::generated::api_versions_response::ApiVersion;
use kafkacc_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkacc_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkacc_protocol::header::{RequestHeaderView, decode_request_header};
use kafkacc_protocol::messages::{
    ApiVersionsResponse, InitProducerIdResponse, MetadataResponse, ProduceRequest, ProduceResponse,
};
use kafkacc_protocol::{ApiKey, RequestKind, ResponseKind, StrBytes, Uuid};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Partitions of every topic the fake broker knows.
pub const PARTITIONS: i32 = 6;

/// Entry point of `peer-bench fake-broker`: prints `PORT <n>` and serves
/// until its standard input closes (the parent exited or closed it).
pub fn serve_forever() -> ! {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("local addr").port();
    println!("PORT {port}");
    std::io::stdout().flush().expect("stdout");
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
    let state = Arc::new(State::default());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, i32::from(port), &state);
        });
    }
    std::process::exit(0)
}

/// The child process running a fake broker; killed on drop.
pub struct FakeBroker {
    /// `127.0.0.1:port`.
    pub addr: String,
    child: Child,
}

impl FakeBroker {
    /// Starts `peer-bench fake-broker` and waits for its port.
    pub fn spawn() -> std::io::Result<FakeBroker> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("fake-broker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .ok_or_else(|| std::io::Error::other(format!("fake broker said {line:?}")))?;
        Ok(FakeBroker {
            addr: format!("127.0.0.1:{port}"),
            child,
        })
    }

    /// The fake broker's process id (for profiling it separately).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct State {
    /// Next offset per (topic, partition); a topic is keyed by name, or by
    /// its id for Produce v13+.
    offsets: Mutex<HashMap<(Bytes, i32), Arc<AtomicI64>>>,
}

impl State {
    fn next_offset(&self, topic: Bytes, partition: i32, records: i64) -> i64 {
        let counter = self
            .offsets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((topic, partition))
            .or_default()
            .clone();
        counter.fetch_add(records, Ordering::Relaxed)
    }
}

fn topic_id(name: &str) -> Uuid {
    // A stable non-zero id per name (FNV-1a twice), so Produce v13 works.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let lo = h;
    let hi = h.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&hi.to_be_bytes());
    id[8..].copy_from_slice(&lo.to_be_bytes());
    Uuid(id)
}

fn serve(stream: TcpStream, port: i32, state: &State) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone()?);
    let mut writer = BufWriter::with_capacity(1 << 16, stream);
    let mut out = BytesMut::with_capacity(1 << 16);
    loop {
        let mut len = [0u8; 4];
        if reader.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let len = i32::from_be_bytes(len);
        if !(0..=100 << 20).contains(&len) {
            return Ok(());
        }
        let mut frame = vec![0u8; len as usize];
        reader.read_exact(&mut frame)?;
        let mut body = Bytes::from(frame);
        let Ok(header) = decode_request_header(&mut body) else {
            return Ok(());
        };
        out.clear();
        if !answer(&header, body, port, state, &mut out) {
            return Ok(());
        }
        writer.write_all(&out)?;
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
}

/// Encodes the answer to one request into `out` (empty for acks=0);
/// false closes the connection.
fn answer(
    header: &RequestHeaderView,
    mut body: Bytes,
    port: i32,
    state: &State,
    out: &mut BytesMut,
) -> bool {
    let response = match header.api_key {
        ApiKey::ApiVersions => {
            let api_keys = [
                ApiKey::Produce,
                ApiKey::Metadata,
                ApiKey::ApiVersions,
                ApiKey::InitProducerId,
            ]
            .iter()
            .map(|k| ApiVersion {
                api_key: *k as i16,
                min_version: k.versions().min,
                max_version: k.versions().max,
                ..Default::default()
            })
            .collect();
            // A version newer than ours is answered with v0 and an error,
            // as a broker does; clients retry at a version we know.
            if !ApiKey::ApiVersions.versions().contains(header.api_version) {
                let response = ApiVersionsResponse {
                    error_code: 35, // UNSUPPORTED_VERSION
                    api_keys,
                    ..Default::default()
                };
                let v0 = RequestHeaderView {
                    api_version: 0,
                    ..header.clone()
                };
                return encode(&v0, &ResponseKind::ApiVersions(response), out);
            }
            ResponseKind::ApiVersions(ApiVersionsResponse {
                api_keys,
                ..Default::default()
            })
        }
        ApiKey::Produce => {
            // Decoding the request keeps each batch as a `Bytes` slice: no copy.
            let Ok(RequestKind::Produce(request)) =
                RequestKind::decode(header.api_key, header.api_version, &mut body)
            else {
                return false;
            };
            let Some(response) = produce_response(&request, state) else {
                return true; // acks=0: no response
            };
            ResponseKind::Produce(response)
        }
        ApiKey::Metadata => {
            let Ok(RequestKind::Metadata(request)) =
                RequestKind::decode(header.api_key, header.api_version, &mut body)
            else {
                return false;
            };
            let names: Vec<String> = request
                .topics
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
                .collect();
            ResponseKind::Metadata(metadata_response(port, &names))
        }
        ApiKey::InitProducerId => ResponseKind::InitProducerId(InitProducerIdResponse {
            producer_id: 1000,
            producer_epoch: 0,
            ongoing_txn_producer_id: -1,
            ongoing_txn_producer_epoch: -1,
            ..Default::default()
        }),
        _ => return false,
    };
    encode(header, &response, out)
}

fn encode(header: &RequestHeaderView, response: &ResponseKind, out: &mut BytesMut) -> bool {
    let frame = kafkacc_tests::script::response_frame(header, response);
    out.extend_from_slice(&frame);
    true
}

fn produce_response(request: &ProduceRequest, state: &State) -> Option<ProduceResponse> {
    if request.acks == 0 {
        return None;
    }
    let responses = request
        .topic_data
        .iter()
        .map(|topic| {
            let key = if topic.topic_id.is_zero() {
                Bytes::copy_from_slice(topic.name.as_bytes())
            } else {
                Bytes::copy_from_slice(&topic.topic_id.0)
            };
            TopicProduceResponse {
                name: topic.name.clone(),
                topic_id: topic.topic_id,
                partition_responses: topic
                    .partition_data
                    .iter()
                    .map(|p| {
                        let records = p.records.as_ref().map_or(0, record_count);
                        PartitionProduceResponse {
                            index: p.index,
                            error_code: 0,
                            base_offset: state.next_offset(key.clone(), p.index, records),
                            log_append_time_ms: -1,
                            log_start_offset: 0,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    Some(ProduceResponse {
        responses,
        ..Default::default()
    })
}

/// Records in a run of RecordBatch v2 (the count at byte 57 of each batch).
fn record_count(batches: &Bytes) -> i64 {
    let mut rest = &batches[..];
    let mut total = 0i64;
    while rest.len() >= 61 {
        let length = (&rest[8..12]).get_i32();
        let count = (&rest[57..61]).get_i32();
        total += i64::from(count.max(0));
        let size = 12 + length.max(0) as usize;
        if size > rest.len() {
            break;
        }
        rest = &rest[size..];
    }
    total
}

fn metadata_response(port: i32, names: &[String]) -> MetadataResponse {
    let topics = names
        .iter()
        .map(|name| MetadataResponseTopic {
            name: Some(StrBytes::from(name.clone())),
            topic_id: topic_id(name),
            partitions: (0..PARTITIONS)
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
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".into(),
            port,
            ..Default::default()
        }],
        cluster_id: Some("fake-cluster".into()),
        controller_id: 1,
        topics,
        ..Default::default()
    }
}
