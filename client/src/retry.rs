//! Exponential backoff with jitter, as the Java client computes it:
//! `initial × 2^attempt × random[0.8, 1.2)`, capped at `max`.

use std::time::Duration;

/// The backoff before retry number `attempt` (0 = first retry).
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    if max <= initial {
        return initial;
    }
    let exp = initial.as_secs_f64() * 2f64.powi(attempt.min(31) as i32);
    let jitter = crate::determinism::random_f64(0.8..1.2);
    Duration::from_secs_f64((exp * jitter).min(max.as_secs_f64()))
}

/// Runs `attempt` until it succeeds, fails with an error that retrying
/// cannot fix, or `within` has passed. Errors that say metadata is stale
/// refresh it before the next try. For idempotent operations only (reads,
/// lookups): a produce must not be retried this way.
pub(crate) async fn retry_idempotent<T, F, Fut>(
    client: &crate::Client,
    topics: &[&str],
    within: Duration,
    mut attempt: F,
) -> crate::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let config = client.config();
    let mut tries = 0u32;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let recovery = error.recovery();
        let pause = backoff(config.retry_backoff, config.retry_backoff_max, tries);
        if recovery == crate::Recovery::Fatal || tokio::time::Instant::now() + pause >= deadline {
            return Err(error);
        }
        tracing::debug!(%error, tries, "retrying");
        tokio::time::sleep(pause).await;
        if recovery == crate::Recovery::RefreshMetadata {
            let _ = client.refresh_metadata(topics).await;
        }
        tries += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for _ in 0..100 {
            let first = backoff(initial, max, 0);
            assert!(first >= Duration::from_millis(80) && first < Duration::from_millis(120));
            let third = backoff(initial, max, 2);
            assert!(third >= Duration::from_millis(320) && third < Duration::from_millis(480));
            assert!(backoff(initial, max, 30) <= max);
        }
        assert_eq!(backoff(max, initial, 5), max);
    }
}
