//! The traits that tie a message type to its versions, and a request to its
//! API key and response type.

use crate::error::{DecodeError, DecodeResult};
use crate::generated::ApiKey;
use crate::wire::{Decode, Encode};
use bytes::{Buf, Bytes};
use std::fmt::Debug;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` is inside the range.
    pub const fn contains(&self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }

    /// The versions both ranges contain, if any.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(VersionRange { min, max })
    }
}

/// `v0–v12` (an en dash between the bounds), or `v3` for a single version.
impl std::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "v{}", self.min)
        } else {
            write!(f, "v{}–v{}", self.min, self.max)
        }
    }
}

/// A top-level schema: a request, a response, a header or a data schema
/// (consumer-protocol subscription, control records...).
pub trait Message:
    Encode + Decode + Default + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The schema's name as the spec spells it.
    const NAME: &'static str;
    /// Every version the spec defines.
    const VERSIONS: VersionRange;
    /// The lowest flexible version (compact encodings, tagged fields), if any.
    const FLEXIBLE_FROM: Option<i16>;

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        Self::FLEXIBLE_FROM.is_some_and(|from| version >= from)
    }

    /// The `throttle_time_ms` of a response that has the field (0 when the
    /// decoded version lacks it); `None` for every other message.
    fn throttle_time_ms(&self) -> Option<i32> {
        None
    }

    /// Decodes bytes that start with their own int16 version, as the data
    /// schemas inside other messages do (consumer-protocol subscriptions
    /// and assignments). A version newer than this crate knows is read as
    /// the newest it knows: newer writers only append fields.
    fn decode_versioned(buf: &mut Bytes) -> DecodeResult<Self> {
        if buf.len() < 2 {
            return Err(DecodeError::Truncated {
                needed: 2,
                remaining: buf.len(),
            });
        }
        let version = buf.get_i16();
        if version < 0 {
            return Err(DecodeError::InvalidLength(version.into()));
        }
        Self::decode(buf, version.min(Self::VERSIONS.max))
    }
}

/// A request, tied to its API key and its response type.
pub trait Request: Message {
    /// The API key this request is sent with.
    const API_KEY: ApiKey;
    /// The response the broker answers with.
    type Response: Message;

    /// Request header version for `version`: 2 when flexible, else 1.
    fn request_header_version(version: i16) -> i16 {
        if Self::is_flexible(version) { 2 } else { 1 }
    }

    /// Response header version for `version`: 1 when flexible, else 0,
    /// except ApiVersions whose response header is always version 0 (so a
    /// client can read it before it knows what the broker supports).
    fn response_header_version(version: i16) -> i16 {
        response_header_version(Self::API_KEY, version)
    }
}

/// Request header version for any API key and version.
pub fn request_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key.is_flexible(version) { 2 } else { 1 }
}

/// Response header version for any API key and version (see
/// [`Request::response_header_version`]).
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key != ApiKey::ApiVersions && api_key.is_flexible(version) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::VersionRange;

    #[test]
    fn version_ranges_display_as_v_min_to_v_max() {
        assert_eq!(VersionRange { min: 0, max: 12 }.to_string(), "v0–v12");
        assert_eq!(VersionRange { min: 3, max: 3 }.to_string(), "v3");
    }
}
