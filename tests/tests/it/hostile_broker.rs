//! A broker that misbehaves must give typed errors in bounded time, never a
//! panic or a hang; and an old broker's ApiVersions fallback must work.

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc::{Client, ClientConfig, Error};
use kafkacc_protocol::generated::api_versions_response::ApiVersion;
use kafkacc_protocol::header::RequestHeaderView;
use kafkacc_protocol::messages::ApiVersionsResponse;
use kafkacc_protocol::{ApiKey, ErrorCode, RequestKind, ResponseKind};
use kafkacc_tests::script::{
    Reply, ScriptedBroker, api_versions_response, metadata_response, response_frame,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

async fn connect(addr: &str) -> (Result<Client, Error>, Duration) {
    let config = ClientConfig::new(addr)
        .request_timeout(Duration::from_millis(500))
        .bootstrap_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let result = Client::connect(config).await;
    (result, started.elapsed())
}

fn failure_reason(result: Result<Client, Error>) -> String {
    match result {
        Err(Error::NoBrokerReachable { attempts }) => attempts
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>()
            .join("; "),
        Err(other) => panic!("expected NoBrokerReachable, got {other:?}"),
        Ok(_) => panic!("a misbehaving broker must not be accepted"),
    }
}

/// A broker that answers ApiVersions with `reply` and nothing else.
async fn broker_answering_api_versions(
    reply: impl Fn(&RequestHeaderView) -> Reply + Send + Sync + 'static,
) -> ScriptedBroker {
    ScriptedBroker::start(move |header, request| match request {
        RequestKind::ApiVersions(_) => reply(header),
        _ => Reply::Close,
    })
    .await
}

#[tokio::test]
async fn garbage_instead_of_a_response_is_a_decode_error() {
    let broker = broker_answering_api_versions(|_| {
        Reply::Raw(Bytes::from_static(&[0, 0, 0, 6, 0, 0, 0, 0, 0xff, 0xff]))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let reason = failure_reason(result);
    assert!(
        reason.contains("protocol error") || reason.contains("correlation"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_two_gib_frame_length_is_refused_before_allocating() {
    let broker = broker_answering_api_versions(|_| {
        Reply::Raw(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let reason = failure_reason(result);
    assert!(reason.contains("bad frame"), "{reason}");
}

#[tokio::test]
async fn a_wrong_correlation_id_poisons_the_connection() {
    let broker = broker_answering_api_versions(|header| {
        let wrong = RequestHeaderView {
            correlation_id: header.correlation_id + 1000,
            ..header.clone()
        };
        Reply::Raw(response_frame(&wrong, &api_versions_response()))
    })
    .await;
    let (result, _) = connect(&broker.addr).await;
    let reason = failure_reason(result);
    assert!(reason.contains("correlation id"), "{reason}");
}

#[tokio::test]
async fn a_truncated_body_is_a_decode_error() {
    let broker = broker_answering_api_versions(|header| {
        let full = response_frame(header, &api_versions_response());
        // Keep the size prefix honest but cut the body short.
        let cut = &full[4..full.len() / 2];
        let mut frame = BytesMut::new();
        frame.put_i32(cut.len() as i32);
        frame.put_slice(cut);
        Reply::Raw(frame.freeze())
    })
    .await;
    let (result, _) = connect(&broker.addr).await;
    let reason = failure_reason(result);
    assert!(reason.contains("protocol error"), "{reason}");
}

#[tokio::test]
async fn no_common_metadata_version_is_a_typed_error() {
    let broker = broker_answering_api_versions(|_| {
        let api_keys = vec![
            ApiVersion {
                api_key: ApiKey::ApiVersions as i16,
                min_version: 0,
                max_version: 3,
                ..Default::default()
            },
            ApiVersion {
                api_key: ApiKey::Metadata as i16,
                min_version: 100,
                max_version: 200,
                ..Default::default()
            },
        ];
        Reply::respond(ResponseKind::ApiVersions(ApiVersionsResponse {
            api_keys,
            ..Default::default()
        }))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5));
    match result {
        Err(Error::UnsupportedVersion { api, .. }) => assert_eq!(api, ApiKey::Metadata),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[tokio::test]
async fn an_old_broker_answering_api_versions_v0_is_asked_again() {
    let port = Arc::new(AtomicI32::new(0));
    let port_in_handler = port.clone();
    let broker = ScriptedBroker::start(move |header, request| match request {
        RequestKind::ApiVersions(_) if header.api_version > 2 => {
            // What a broker that only knows ApiVersions 0-2 sends: a v0 body
            // with UNSUPPORTED_VERSION and its own ApiVersions range.
            let body = ApiVersionsResponse {
                error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                api_keys: vec![ApiVersion {
                    api_key: ApiKey::ApiVersions as i16,
                    min_version: 0,
                    max_version: 2,
                    ..Default::default()
                }],
                ..Default::default()
            };
            let v0 = RequestHeaderView {
                api_version: 0,
                ..header.clone()
            };
            Reply::Raw(response_frame(&v0, &ResponseKind::ApiVersions(body)))
        }
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(metadata_response(
            port_in_handler.load(Ordering::SeqCst),
            &[],
        )),
        _ => Reply::Close,
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    let (result, _) = connect(&broker.addr).await;
    let client = result.expect("the client falls back to the broker's ApiVersions range");
    assert_eq!(client.metadata().brokers.len(), 1);
}
