//! Retries for transient LLM failures: exponential backoff with full jitter, honouring the
//! provider's `Retry-After`, bounded by a number of attempts and by a deadline (the run's
//! remaining time). Permanent failures return at once.

use std::time::Duration;

use tokio::time::Instant;

use super::{LlmClient, LlmError, LlmRequest, LlmResponse};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The longest `Retry-After` waited for; a provider asking for more is not retried (the
/// stage falls back rather than stall, and never retries earlier than asked).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// The wait before attempt `attempt + 1`: the provider's `Retry-After` when given (`None`
/// when it asks for more than [`MAX_RETRY_AFTER`]), else a random share of an
/// exponentially growing cap ("full jitter").
pub fn backoff(policy: &RetryPolicy, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
    if let Some(wait) = retry_after {
        return (wait <= MAX_RETRY_AFTER).then_some(wait);
    }
    let cap = policy
        .base
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_backoff);
    Some(Duration::from_millis(rand::random_range(0..=cap.as_millis() as u64)))
}

/// Calls `client` until it succeeds, fails permanently, runs out of attempts, or the next
/// wait would pass `deadline`. Returns the result and the number of attempts made.
pub async fn complete_with_retries(
    client: &dyn LlmClient,
    request: &LlmRequest,
    policy: &RetryPolicy,
    deadline: Instant,
) -> (Result<LlmResponse, LlmError>, u32) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = client.complete(request).await;
        let retry_after = match &result {
            Err(LlmError::Transient { retry_after, .. }) if attempt < policy.max_attempts => *retry_after,
            _ => return (result, attempt),
        };
        let Some(wait) = backoff(policy, attempt, retry_after) else {
            return (result, attempt);
        };
        if Instant::now() + wait >= deadline {
            return (result, attempt);
        }
        if let Err(e) = &result {
            tracing::warn!(provider = client.provider(), attempt, wait_ms = wait.as_millis() as u64, error = %e, "LLM call failed; retrying");
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_backoff_is_bounded() {
        let p = RetryPolicy::default();
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60)),
            "honoured even above the backoff cap"
        );
        assert_eq!(
            backoff(&p, 1, Some(Duration::from_secs(300))),
            None,
            "too long: give up"
        );
        for attempt in 1..20 {
            assert!(backoff(&p, attempt, None).unwrap() <= p.max_backoff);
        }
    }
}
