//! Round trips of every generated message at every valid version, driven by
//! the generated `all_message_roundtrip_checks()` list, plus decoder
//! robustness on random bytes and a few hand-checked encodings.
//!
//! Run with `cargo test -p kafkacc-protocol --features arbitrary`.

use bytes::{Bytes, BytesMut};
use kafkacc_protocol::generated::api_versions_response::{ApiVersion, FinalizedFeatureKey};
use kafkacc_protocol::generated::arbitrary_support::{RoundtripCheck, SchemaKind};
use kafkacc_protocol::generated::fetch_request::FetchPartition;
use kafkacc_protocol::generated::metadata_request::MetadataRequestTopic;
use kafkacc_protocol::generated::{RequestKind, ResponseKind, all_message_roundtrip_checks};
use kafkacc_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, ConsumerProtocolSubscription, DescribeClusterResponse,
    FetchRequest, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
};
use kafkacc_protocol::{
    ApiKey, Decode, DecodeError, Encode, EncodeError, Message, RawTaggedField, Request, StrBytes,
};
use proptest::prelude::{Strategy, any};
use proptest::test_runner::{Config, TestRunner};

/// Random cases per (message type, version).
const CASES: u32 = 32;

fn run_checks(kind: SchemaKind) {
    let checks: Vec<RoundtripCheck> = all_message_roundtrip_checks()
        .into_iter()
        .filter(|c| c.kind == kind)
        .collect();
    assert!(!checks.is_empty());
    let mut failures = Vec::new();
    let mut runs = 0;
    for check in &checks {
        for version in check.versions.min..=check.versions.max {
            runs += 1;
            if let Err(e) = (check.run)(version, CASES) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} round trips failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn requests_round_trip_at_every_version() {
    run_checks(SchemaKind::Request);
}

#[test]
fn responses_round_trip_at_every_version() {
    run_checks(SchemaKind::Response);
}

#[test]
fn headers_round_trip_at_every_version() {
    run_checks(SchemaKind::Header);
}

#[test]
fn data_schemas_round_trip_at_every_version() {
    run_checks(SchemaKind::Data);
}

#[test]
fn every_api_key_has_its_request_and_response_checked() {
    let checks = all_message_roundtrip_checks();
    for &key in ApiKey::ALL {
        for kind in [SchemaKind::Request, SchemaKind::Response] {
            let found: Vec<_> = checks
                .iter()
                .filter(|c| c.kind == kind && c.api_key == Some(key))
                .collect();
            assert_eq!(found.len(), 1, "{key:?} {kind:?}");
            assert_eq!(
                found[0].versions,
                key.versions(),
                "{key:?} {kind:?} versions"
            );
        }
    }
    let mut names: Vec<_> = checks.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), checks.len(), "duplicate check names");
    let headers = checks
        .iter()
        .filter(|c| c.kind == SchemaKind::Header)
        .count();
    let data = checks.iter().filter(|c| c.kind == SchemaKind::Data).count();
    assert_eq!((headers, data), (2, 9));
    assert_eq!(checks.len(), 2 * ApiKey::ALL.len() + headers + data);
    // 93 API keys (0-92) minus the four without versions
    assert_eq!(ApiKey::ALL.len(), 89);
}

#[test]
fn api_keys_convert_both_ways() {
    for &key in ApiKey::ALL {
        assert_eq!(ApiKey::try_from(key as i16), Ok(key));
        assert_eq!(i16::from(key), key as i16);
        assert!(key.versions().min <= key.versions().max);
    }
    assert_eq!(ApiKey::Produce as i16, 0);
    assert_eq!(ApiKey::ApiVersions as i16, 18);
    assert_eq!(ApiKey::DeleteShareGroupOffsets as i16, 92);
    for unknown in [-1, 4, 5, 6, 7, 93, i16::MAX] {
        assert_eq!(
            ApiKey::try_from(unknown),
            Err(DecodeError::UnknownApiKey(unknown))
        );
    }
    assert_eq!(ApiKey::ApiVersions.name(), "ApiVersions");
    assert_eq!(ApiKey::Fetch.flexible_from(), Some(12));
    assert!(ApiKey::Fetch.is_flexible(12) && !ApiKey::Fetch.is_flexible(11));
    assert!(!ApiKey::SaslHandshake.is_flexible(1));
    assert!(ApiKey::OffsetCommit.latest_version_unstable());
    assert!(!ApiKey::Produce.latest_version_unstable());
    assert_eq!(
        <ApiVersionsRequest as Request>::API_KEY,
        ApiKey::ApiVersions
    );
    assert_eq!(
        <ApiVersionsResponse as Message>::NAME,
        "ApiVersionsResponse"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(any::<u8>(), 0..256).prop_map(Bytes::from);
    for &key in ApiKey::ALL {
        let versions = key.versions();
        for version in versions.min..=versions.max {
            let result = runner.run(&strategy, |bytes| {
                let _ = RequestKind::decode(key, version, &mut bytes.clone());
                let _ = ResponseKind::decode(key, version, &mut bytes.clone());
                Ok(())
            });
            assert!(result.is_ok(), "{key:?} v{version}: {result:?}");
        }
    }
}

#[test]
fn versions_outside_the_range_are_refused() {
    let mut buf = BytesMut::new();
    assert_eq!(
        MetadataRequest::default().encode(&mut buf, 14),
        Err(EncodeError::UnsupportedVersion {
            message: "MetadataRequest",
            version: 14
        })
    );
    assert!(matches!(
        RequestKind::decode(ApiKey::Produce, 2, &mut Bytes::new()),
        Err(DecodeError::UnsupportedVersion {
            message: "ProduceRequest",
            version: 2
        })
    ));
}

/// FACTS.md section 3: ApiVersions v3 request, correlation id 1, client id
/// "test", ClientSoftwareName "x", ClientSoftwareVersion "1".
#[test]
fn api_versions_v3_request_matches_the_worked_example() {
    let version = 3;
    let header = RequestHeader {
        request_api_key: ApiKey::ApiVersions as i16,
        request_api_version: version,
        correlation_id: 1,
        client_id: Some(StrBytes::from_static("test")),
        ..Default::default()
    };
    let body = ApiVersionsRequest {
        client_software_name: StrBytes::from_static("x"),
        client_software_version: StrBytes::from_static("1"),
        ..Default::default()
    };
    let header_version = ApiVersionsRequest::request_header_version(version);
    assert_eq!(header_version, 2);
    let mut frame = BytesMut::new();
    header
        .encode(&mut frame, header_version)
        .expect("header encodes");
    body.encode(&mut frame, version).expect("body encodes");
    let mut expected: Vec<u8> = vec![0x00, 0x00, 0x00, 0x14];
    expected.extend([0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    expected.extend([0x00, 0x04, b't', b'e', b's', b't']);
    expected.extend([0x00]);
    expected.extend([0x02, b'x', 0x02, b'1', 0x00]);
    let size = i32::try_from(frame.len()).expect("small frame");
    let mut sized = size.to_be_bytes().to_vec();
    sized.extend_from_slice(&frame);
    assert_eq!(sized, expected);

    // and back
    let mut input = Bytes::from(sized).split_off(4);
    assert_eq!(
        RequestHeader::decode(&mut input, header_version),
        Ok(header)
    );
    assert_eq!(ApiVersionsRequest::decode(&mut input, version), Ok(body));
    assert!(input.is_empty());
}

#[test]
fn response_header_v1_has_a_tagged_section() {
    let header = ResponseHeader {
        correlation_id: 7,
        ..Default::default()
    };
    let mut v0 = BytesMut::new();
    header.encode(&mut v0, 0).expect("v0");
    assert_eq!(&v0[..], &[0, 0, 0, 7]);
    let mut v1 = BytesMut::new();
    header.encode(&mut v1, 1).expect("v1");
    assert_eq!(&v1[..], &[0, 0, 0, 7, 0]);
}

#[test]
fn spec_defaults_are_applied() {
    let d = DescribeClusterResponse::default();
    assert_eq!(d.controller_id, -1);
    assert_eq!(d.cluster_authorized_operations, i32::MIN);
    assert_eq!(d.endpoint_type, 1);
    assert_eq!(d.error_message, None);
    let s = ConsumerProtocolSubscription::default();
    assert_eq!(s.generation_id, -1);
    assert_eq!(s.rack_id, None);
    let f = FetchRequest::default();
    assert_eq!(f.cluster_id, None);
    assert_eq!(FetchPartition::default().high_watermark, i64::MAX);
    let m = MetadataResponse::default();
    assert_eq!(m.cluster_authorized_operations, i32::MIN);
}

#[test]
fn field_absent_from_a_version() {
    // ClusterAuthorizedOperations exists in MetadataResponse v8-10 only and is
    // not ignorable: a non-default value cannot be sent at v11.
    let m = MetadataResponse {
        cluster_authorized_operations: 5,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    assert!(matches!(
        m.encode(&mut buf, 11),
        Err(EncodeError::FieldNotInVersion {
            field: "MetadataResponse.ClusterAuthorizedOperations",
            version: 11
        })
    ));
    let mut buf = BytesMut::new();
    assert_eq!(m.encode(&mut buf, 10), Ok(()));
    // The default value is fine, and decoding gives the default back.
    let m = MetadataResponse::default();
    let mut buf = BytesMut::new();
    m.encode(&mut buf, 11).expect("default encodes");
    assert_eq!(MetadataResponse::decode(&mut buf.freeze(), 11), Ok(m));
    // ErrorCode (v13+) is ignorable: silently dropped at v12.
    let mut buf = BytesMut::new();
    let with_error = MetadataResponse {
        error_code: 3,
        ..Default::default()
    };
    assert_eq!(
        with_error.encode(&mut buf, 12),
        Ok(()),
        "ErrorCode (13+) is ignorable"
    );
    let decoded = MetadataResponse::decode(&mut buf.freeze(), 12).expect("decodes");
    assert_eq!(decoded.error_code, 0);
}

#[test]
fn nulls_follow_nullable_versions() {
    // MetadataRequest.Topics is nullable from v1 only.
    let all_topics = MetadataRequest {
        topics: None,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    assert_eq!(
        all_topics.encode(&mut buf, 0),
        Err(EncodeError::NullNotAllowed("MetadataRequest.Topics"))
    );
    let mut buf = BytesMut::new();
    all_topics.encode(&mut buf, 1).expect("null topics at v1");
    assert_eq!(&buf[..], &[0xff, 0xff, 0xff, 0xff]);
    // a null count at v0 is refused when decoding
    let mut input = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        MetadataRequest::decode(&mut input, 0),
        Err(DecodeError::UnexpectedNull("MetadataRequest.Topics"))
    );
    // topic names are nullable from v10 (topic ids instead)
    let by_id = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: None,
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    assert_eq!(
        by_id.encode(&mut buf, 9),
        Err(EncodeError::NullNotAllowed("MetadataRequestTopic.Name"))
    );
    let mut buf = BytesMut::new();
    by_id.encode(&mut buf, 10).expect("null name at v10");
    assert_eq!(MetadataRequest::decode(&mut buf.freeze(), 10), Ok(by_id));
}

#[test]
fn tagged_fields_known_and_unknown() {
    let response = ApiVersionsResponse {
        api_keys: vec![ApiVersion {
            api_key: 18,
            min_version: 0,
            max_version: 4,
            ..Default::default()
        }],
        finalized_features_epoch: 5,
        finalized_features: vec![FinalizedFeatureKey {
            name: StrBytes::from_static("f"),
            max_version_level: 1,
            min_version_level: 1,
            ..Default::default()
        }],
        unknown_tagged_fields: vec![RawTaggedField {
            tag: 9,
            data: Bytes::from_static(b"zz"),
        }],
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    response.encode(&mut buf, 3).expect("encodes");
    let bytes = buf.freeze();
    // error code, api keys (compact count 2, one entry + its empty tags), throttle
    let mut expected: Vec<u8> = vec![0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0];
    // 3 tagged fields: tag 1 (epoch, 8 bytes), tag 2 (features), tag 9 (unknown)
    expected.extend([3, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]);
    expected.extend([2, 8, 2, 2, b'f', 0, 1, 0, 1, 0]);
    expected.extend([9, 2, b'z', b'z']);
    assert_eq!(&bytes[..], &expected[..]);
    assert_eq!(
        ApiVersionsResponse::decode(&mut bytes.clone(), 3),
        Ok(response.clone())
    );
    // not flexible at v2: tagged fields are not on the wire, and non-default
    // ignorable ones are dropped, but unknown tagged fields cannot be sent
    let mut buf = BytesMut::new();
    assert!(matches!(
        response.encode(&mut buf, 2),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
    let plain = ApiVersionsResponse {
        unknown_tagged_fields: Vec::new(),
        ..response
    };
    let mut buf = BytesMut::new();
    plain
        .encode(&mut buf, 2)
        .expect("tagged fields are ignorable");
    assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0]);
}

#[test]
fn request_header_client_id_is_never_compact() {
    let header = RequestHeader {
        request_api_key: 3,
        request_api_version: 12,
        correlation_id: 9,
        client_id: None,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    header.encode(&mut buf, 2).expect("encodes");
    assert_eq!(&buf[..], &[0, 3, 0, 12, 0, 0, 0, 9, 0xff, 0xff, 0]);
}

#[test]
fn dispatch_enums_round_trip() {
    let request = RequestKind::from(ApiVersionsRequest::default());
    assert_eq!(request.api_key(), ApiKey::ApiVersions);
    let mut buf = BytesMut::new();
    request.encode(&mut buf, 4).expect("encodes");
    let decoded = RequestKind::decode(ApiKey::ApiVersions, 4, &mut buf.freeze()).expect("decodes");
    assert_eq!(decoded, request);
    let response = ResponseKind::from(ApiVersionsResponse::default());
    assert_eq!(response.api_key(), ApiKey::ApiVersions);
}

/// The strategies must reach deep values, tagged fields and unknown tags,
/// or the round trips above prove little.
#[test]
fn strategies_reach_nested_and_tagged_values() {
    use kafkacc_protocol::messages::FetchResponse;
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::deterministic();
    let strategy = FetchResponse::arbitrary_for_version(16);
    let (mut partitions, mut tagged, mut unknown, mut null_records) = (0, 0, 0, 0);
    for _ in 0..200 {
        let value = strategy.new_tree(&mut runner).expect("value").current();
        for topic in &value.responses {
            for p in &topic.partitions {
                partitions += 1;
                tagged += usize::from(p.current_leader != Default::default());
                unknown += usize::from(!p.unknown_tagged_fields.is_empty());
                null_records += usize::from(p.records.is_none());
            }
        }
        tagged += usize::from(!value.node_endpoints.is_empty());
        unknown += usize::from(!value.unknown_tagged_fields.is_empty());
    }
    assert!(partitions > 100, "{partitions} partitions");
    assert!(
        tagged > 20 && unknown > 20 && null_records > 20,
        "{tagged} {unknown} {null_records}"
    );
    // not flexible: no unknown tagged fields, no tagged values
    let strategy = FetchResponse::arbitrary_for_version(11);
    for _ in 0..50 {
        let value = strategy.new_tree(&mut runner).expect("value").current();
        assert!(value.unknown_tagged_fields.is_empty() && value.node_endpoints.is_empty());
    }
}
