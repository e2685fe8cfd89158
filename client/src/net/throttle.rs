//! KIP-219 client-side throttling: a broker over a client quota answers at
//! once with `throttle_time_ms` set, and the client holds further requests
//! on that connection for that long (the Java client "mutes the channel").
//!
//! [`throttle_time_ms`] reads the field from any decoded response that has
//! it; [`Throttle`] is the connection's hold, noted by the callers that
//! decode responses and honoured by the writer task before it writes.

use kafkacc_protocol::{ApiKey, Message, Request};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The version of each API from which brokers answer a throttled request
/// at once and leave the wait to the client (KIP-219, Kafka 2.0); before
/// it, the broker delayed the answer itself, so the client must not wait
/// again. APIs not named here came later and always do (or have no
/// `throttle_time_ms`).
fn client_throttles_from(api: ApiKey) -> i16 {
    match api {
        ApiKey::Produce => 6,
        ApiKey::Fetch => 8,
        ApiKey::ListOffsets => 3,
        ApiKey::Metadata => 6,
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => 4,
        ApiKey::JoinGroup | ApiKey::CreateTopics => 3,
        ApiKey::FindCoordinator
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::SyncGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups
        | ApiKey::ApiVersions
        | ApiKey::DeleteTopics
        | ApiKey::DescribeConfigs => 2,
        ApiKey::DeleteRecords
        | ApiKey::InitProducerId
        | ApiKey::AddPartitionsToTxn
        | ApiKey::AddOffsetsToTxn
        | ApiKey::EndTxn
        | ApiKey::TxnOffsetCommit
        | ApiKey::DescribeAcls
        | ApiKey::CreateAcls
        | ApiKey::DeleteAcls
        | ApiKey::AlterConfigs
        | ApiKey::AlterReplicaLogDirs
        | ApiKey::DescribeLogDirs
        | ApiKey::CreatePartitions
        | ApiKey::CreateDelegationToken
        | ApiKey::RenewDelegationToken
        | ApiKey::ExpireDelegationToken
        | ApiKey::DescribeDelegationToken
        | ApiKey::DeleteGroups => 1,
        _ => 0,
    }
}

/// How long the client must hold the connection after this response to
/// an `R` at `version`: its `throttle_time_ms`, or 0 when the API has no
/// such field, the version lacks it, or the broker already delayed the
/// answer (before KIP-219).
pub(crate) fn throttle_time_ms<R: Request>(response: &R::Response, version: i16) -> i32 {
    if version < client_throttles_from(R::API_KEY) {
        return 0;
    }
    response.throttle_time_ms().unwrap_or(0)
}

/// A connection's hold: no request is written before `until`.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    until: Mutex<Option<Instant>>,
}

impl Throttle {
    /// Holds the connection for `hold` from now (a longer hold already in
    /// place stays).
    pub(crate) fn hold_for(&self, hold: Duration) {
        let until = Instant::now() + hold;
        let mut current = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if current.is_none_or(|t| t < until) {
            *current = Some(until);
        }
    }

    /// When the hold ends, if one is in place (an expired one is forgotten).
    pub(crate) fn until(&self) -> Option<Instant> {
        let mut current = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        match *current {
            Some(t) if t > Instant::now() => Some(t),
            _ => {
                *current = None;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkacc_protocol::messages::*;

    #[test]
    fn the_field_is_read_from_the_response_of_the_request_sent() {
        let produce = ProduceResponse {
            throttle_time_ms: 300,
            ..Default::default()
        };
        assert_eq!(throttle_time_ms::<ProduceRequest>(&produce, 9), 300);
        // Before KIP-219 the broker delayed the answer itself.
        assert_eq!(throttle_time_ms::<ProduceRequest>(&produce, 5), 0);
        let metadata = MetadataResponse {
            throttle_time_ms: 20,
            ..Default::default()
        };
        assert_eq!(throttle_time_ms::<MetadataRequest>(&metadata, 12), 20);
        // SaslHandshake has no throttle field.
        let handshake = SaslHandshakeResponse::default();
        assert_eq!(throttle_time_ms::<SaslHandshakeRequest>(&handshake, 1), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_ends_at_its_time_and_a_shorter_one_does_not_shorten_it() {
        let throttle = Throttle::default();
        assert_eq!(throttle.until(), None);
        let start = Instant::now();
        throttle.hold_for(Duration::from_millis(300));
        throttle.hold_for(Duration::from_millis(100));
        assert_eq!(throttle.until(), Some(start + Duration::from_millis(300)));
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(throttle.until(), None);
    }
}
