//! ApiVersions (18): the implemented APIs and their version ranges.

use super::{Ctx, SUPPORTED};
use kafkacc_protocol::generated::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafkacc_protocol::messages::ApiVersionsResponse;
use kafkacc_protocol::{ErrorCode, ResponseKind};

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .filter_map(|(key, min, max)| {
            let codec = key.versions();
            let min = (*min).max(codec.min);
            let max = (*max).min(codec.max);
            (min <= max).then(|| ApiVersion {
                api_key: *key as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            })
        })
        .collect()
}

/// The answer. From v3 it names the features: `transaction.version` 2
/// finalized (KIP-890 part 2, the Kafka 4.x default), so clients may run
/// the transaction protocol without AddPartitionsToTxn.
pub(crate) fn handle(ctx: &Ctx) -> ResponseKind {
    let mut response = ApiVersionsResponse {
        api_keys: api_keys(),
        ..Default::default()
    };
    if ctx.version >= 3 {
        response.supported_features = vec![SupportedFeatureKey {
            name: "transaction.version".into(),
            min_version: 0,
            max_version: 2,
            ..Default::default()
        }];
        response.finalized_features_epoch = 1;
        response.finalized_features = vec![FinalizedFeatureKey {
            name: "transaction.version".into(),
            max_version_level: 2,
            min_version_level: 2,
            ..Default::default()
        }];
    }
    ResponseKind::ApiVersions(response)
}

/// The answer to an ApiVersions of a version newer than ours (sent as v0).
pub(crate) fn unsupported() -> ResponseKind {
    ResponseKind::ApiVersions(ApiVersionsResponse {
        error_code: ErrorCode::UNSUPPORTED_VERSION.0,
        api_keys: api_keys(),
        ..Default::default()
    })
}
