//! [`GroupConsumer::subscribe_pattern`]: subscription to every topic whose
//! name matches a regular expression (the whole name, as Java's
//! `Pattern.matcher(topic).matches()`), internal topics excluded.
//!
//! The pattern is evaluated against the cluster's topic list in `poll`:
//! right after subscribing, then every `metadata_max_age` (the client's
//! metadata refresh interval, as Java re-evaluates on metadata updates).
//! When the matching set changes, the member subscribes to the new set and
//! the group rebalances.

use super::{Command, GroupConsumer};
use crate::error::{Error, Result};
use regex::Regex;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// A pattern subscription's state.
#[derive(Debug)]
pub(crate) struct PatternSubscription {
    regex: Regex,
    /// The topics last subscribed to (None before the first evaluation).
    matched: Option<BTreeSet<String>>,
    next_check: Instant,
    interval: Duration,
}

impl PatternSubscription {
    pub(crate) fn new(pattern: &str, interval: Duration) -> Result<Self> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::Config(format!("invalid topic pattern {pattern:?}: {e}")))?;
        Ok(PatternSubscription {
            regex,
            matched: None,
            next_check: Instant::now(),
            interval,
        })
    }

    /// The topics among `topics` (name, is_internal) the pattern selects.
    pub(crate) fn select<'a>(
        &self,
        topics: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> BTreeSet<String> {
        topics
            .into_iter()
            .filter(|(name, internal)| !internal && self.regex.is_match(name))
            .map(|(name, _)| name.to_owned())
            .collect()
    }
}

impl GroupConsumer {
    /// Subscribes to every topic whose whole name matches the regular
    /// expression `pattern` (Rust `regex` syntax), excluding internal
    /// topics, replacing any earlier subscription. The topic list is
    /// checked in [`GroupConsumer::poll`]: at once, then every
    /// `metadata_max_age` of the client's config; topics created or
    /// deleted later join or leave the subscription then.
    pub fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        self.check_open()?;
        let interval = self.consumer.client().config().metadata_max_age;
        self.pattern = Some(PatternSubscription::new(pattern, interval)?);
        Ok(())
    }

    /// The topics the pattern subscription matched at its last check
    /// (empty without a pattern subscription or before the first check).
    pub fn pattern_topics(&self) -> Vec<String> {
        self.pattern
            .as_ref()
            .and_then(|p| p.matched.as_ref())
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Re-evaluates the pattern when due; subscribes to the matching set
    /// when it changed. A failed metadata request is retried next time.
    pub(crate) async fn refresh_pattern(&mut self) -> Result<()> {
        let due = self
            .pattern
            .as_ref()
            .is_some_and(|p| Instant::now() >= p.next_check);
        if !due {
            return Ok(());
        }
        let metadata = match self.consumer.client().refresh_all_metadata().await {
            Ok(m) => m,
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "metadata for the topic pattern failed; retrying");
                if let Some(p) = self.pattern.as_mut() {
                    p.next_check = Instant::now() + self.retry_backoff;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(p) = self.pattern.as_mut() else {
            return Ok(());
        };
        p.next_check = Instant::now() + p.interval;
        let topics = p.select(
            metadata
                .topics
                .values()
                .filter(|t| !t.partitions.is_empty())
                .map(|t| (t.name.as_str(), t.is_internal)),
        );
        if p.matched.as_ref() == Some(&topics) {
            return Ok(());
        }
        tracing::debug!(?topics, "topic pattern matches");
        p.matched = Some(topics.clone());
        self.command(Command::Subscribe(topics.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_names_and_skips_internal_topics() {
        let p = PatternSubscription::new("orders-.*|audit", Duration::from_secs(1)).expect("valid");
        let selected = p.select([
            ("orders-eu", false),
            ("orders-us", false),
            ("old-orders-eu", false),
            ("audit", false),
            ("audit-log", false),
            ("__consumer_offsets", true),
        ]);
        let expected: BTreeSet<String> = ["audit", "orders-eu", "orders-us"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(selected, expected);
        let all = PatternSubscription::new(".*", Duration::from_secs(1)).expect("valid");
        assert!(all.select([("__consumer_offsets", true)]).is_empty());
    }

    #[test]
    fn an_invalid_pattern_is_a_config_error() {
        assert!(matches!(
            PatternSubscription::new("orders-(", Duration::from_secs(1)),
            Err(Error::Config(_))
        ));
    }
}
