//! Captures real Fetch response frames for the codec's golden tests: the
//! Java client (kafka-clients 4.1.1) writes 20 keyed records with each codec
//! to the test broker, and the raw Fetch response (v12: topic names) for
//! them is saved to `protocol/tests/data/fetch-v12-<codec>.bin`.
//!
//! `cargo run -p kafkacc-tests --example capture_frames` (rerun only to
//! refresh the committed files).

use bytes::{BufMut, BytesMut};
use kafkacc::{Admin, Client, ClientConfig, NewTopic};
use kafkacc_protocol::generated::fetch_request::{FetchPartition, FetchTopic};
use kafkacc_protocol::header::encode_request_frame;
use kafkacc_protocol::messages::FetchRequest;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker = kafkacc_tests::broker();
    let client = Client::connect(ClientConfig::new(&broker.bootstrap)).await?;
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/tests/data");
    std::fs::create_dir_all(&out_dir)?;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("golden-{codec}");
        Admin::new(client.clone())
            .create_topic(NewTopic::new(&topic, 1))
            .await?;
        kafkacc_tests::java::run_interop(&["produce", &broker.bootstrap, &topic, "20", codec]);

        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: 100,
            min_bytes: 1,
            max_bytes: 1 << 20,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: topic.as_str().into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: 0,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut frame = BytesMut::new();
        encode_request_frame(&mut frame, 12, 7, Some("capture"), &request)?;
        let mut stream = tokio::net::TcpStream::connect(&broker.bootstrap).await?;
        stream.write_all(&frame).await?;
        let size = stream.read_i32().await?;
        let mut body = vec![0u8; usize::try_from(size)?];
        stream.read_exact(&mut body).await?;
        let mut file = BytesMut::new();
        file.put_i32(size);
        file.put_slice(&body);
        let path = out_dir.join(format!("fetch-v12-{codec}.bin"));
        std::fs::write(&path, &file)?;
        println!("wrote {} ({} bytes)", path.display(), file.len());
    }
    Ok(())
}
