//! The API versions a broker advertised, and picking the highest version
//! both sides support.

use kafkacc_protocol::{ApiKey, Request, VersionRange};
use std::collections::BTreeMap;

/// What one broker supports, from its ApiVersions response.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerVersions {
    ranges: BTreeMap<i16, VersionRange>,
}

impl BrokerVersions {
    pub(crate) fn new(ranges: impl IntoIterator<Item = (i16, VersionRange)>) -> Self {
        BrokerVersions {
            ranges: ranges.into_iter().collect(),
        }
    }

    /// The broker's range for `api`, if it offers the API.
    pub(crate) fn range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The highest version of `R` both sides support.
    pub(crate) fn pick<R: Request>(&self) -> Option<i16> {
        self.pick_for(R::API_KEY, R::VERSIONS)
    }

    /// The highest version of `api` inside `ours` the broker supports.
    pub(crate) fn pick_for(&self, api: ApiKey, ours: VersionRange) -> Option<i16> {
        let theirs = self.range(api)?;
        let mut range = ours.intersect(&theirs)?;
        // An unstable top version is never advertised by a normal broker;
        // if one does, we still avoid it.
        if api.latest_version_unstable() && range.max == api.versions().max && range.max > range.min
        {
            range.max -= 1;
        }
        Some(range.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkacc_protocol::messages::{MetadataRequest, ProduceRequest};

    #[test]
    fn picks_highest_common_version() {
        let v = BrokerVersions::new([
            (ApiKey::Metadata as i16, VersionRange { min: 0, max: 9 }),
            (ApiKey::Produce as i16, VersionRange { min: 0, max: 2 }),
        ]);
        assert_eq!(v.pick::<MetadataRequest>(), Some(9));
        // Produce 0-2 is below our floor of 3: no common version.
        assert_eq!(v.pick::<ProduceRequest>(), None);
        assert_eq!(
            v.pick_for(ApiKey::Fetch, VersionRange { min: 4, max: 18 }),
            None
        );
    }
}
