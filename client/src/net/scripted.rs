//! A one-connection scripted broker for the networking unit tests: decodes
//! each request and answers what the test's handler returns.

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::api::response_header_version;
use kafkacc_protocol::generated::api_versions_response::ApiVersion;
use kafkacc_protocol::header::{RequestHeaderView, decode_request_header};
use kafkacc_protocol::messages::ApiVersionsResponse;
use kafkacc_protocol::{ApiKey, RequestKind, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Listens on 127.0.0.1; serves the first connection with `handler`
/// (`None`: close the connection). Returns the address.
pub(crate) async fn serve_one(
    mut handler: impl FnMut(&RequestHeaderView, RequestKind) -> Option<ResponseKind> + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        loop {
            let mut len = [0u8; 4];
            if stream.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
            if stream.read_exact(&mut frame).await.is_err() {
                return;
            }
            let mut body = Bytes::from(frame);
            let header = decode_request_header(&mut body).unwrap();
            let request =
                RequestKind::decode(header.api_key, header.api_version, &mut body).unwrap();
            let Some(response) = handler(&header, request) else {
                return;
            };
            let mut buf = BytesMut::new();
            buf.put_i32(0);
            buf.put_i32(header.correlation_id);
            if response_header_version(header.api_key, header.api_version) >= 1 {
                buf.put_u8(0);
            }
            response.encode(&mut buf, header.api_version).unwrap();
            let size = (buf.len() - 4) as i32;
            buf[..4].copy_from_slice(&size.to_be_bytes());
            if stream.write_all(&buf).await.is_err() {
                return;
            }
        }
    });
    addr
}

/// An ApiVersions answer offering every version the codec knows.
pub(crate) fn api_versions() -> ResponseKind {
    ResponseKind::ApiVersions(ApiVersionsResponse {
        api_keys: ApiKey::ALL
            .iter()
            .map(|k| ApiVersion {
                api_key: *k as i16,
                min_version: k.versions().min,
                max_version: k.versions().max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}
