//! Injected errors: "answer the next N requests of API key K (optionally
//! only on broker B) with error code E".

use kafkacc_protocol::{ApiKey, ErrorCode};

#[derive(Debug, Clone)]
struct Injected {
    api_key: ApiKey,
    broker: Option<i32>,
    code: ErrorCode,
    remaining: u32,
}

/// The pending injections, consumed in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    injected: Vec<Injected>,
}

impl Faults {
    /// Adds an injection.
    pub(crate) fn inject(
        &mut self,
        api_key: ApiKey,
        code: ErrorCode,
        count: u32,
        broker: Option<i32>,
    ) {
        if count > 0 {
            self.injected.push(Injected {
                api_key,
                broker,
                code,
                remaining: count,
            });
        }
    }

    /// The error for a request of `api_key` arriving at `broker`, if one
    /// is pending (consuming one use of it).
    pub(crate) fn take(&mut self, api_key: ApiKey, broker: i32) -> Option<ErrorCode> {
        let i = self
            .injected
            .iter()
            .position(|f| f.api_key == api_key && f.broker.is_none_or(|b| b == broker))?;
        let f = self.injected.get_mut(i)?;
        f.remaining -= 1;
        let code = f.code;
        if f.remaining == 0 {
            self.injected.remove(i);
        }
        Some(code)
    }

    /// Drops every pending injection.
    pub(crate) fn clear(&mut self) {
        self.injected.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_are_counted_and_scoped_to_a_broker() {
        let mut f = Faults::default();
        f.inject(
            ApiKey::Produce,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            2,
            Some(2),
        );
        assert_eq!(f.take(ApiKey::Produce, 1), None);
        assert_eq!(f.take(ApiKey::Fetch, 2), None);
        assert_eq!(
            f.take(ApiKey::Produce, 2),
            Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        );
        assert_eq!(
            f.take(ApiKey::Produce, 2),
            Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        );
        assert_eq!(f.take(ApiKey::Produce, 2), None);
    }
}
