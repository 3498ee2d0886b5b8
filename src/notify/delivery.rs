//! Sending something of a run to a remote receiver with bounded retries, recording every
//! attempt: the completion webhook and the CV upload share it. Network errors, timeouts,
//! 408, 429 and 5xx are retried with a doubling, jittered delay; any other answer is final.
//! Errors are described without the URL (it may carry a token).

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::domain::RunId;
use crate::store::{DynStore, WebhookDelivery};

/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub max_attempts: u32,
    /// The first retry's delay, doubled each time (at most 5 minutes).
    pub base: Duration,
}

/// Sends the request `build(attempt, delivery_id)` makes until the receiver takes it or
/// the policy gives up; records each attempt under `target`. True when delivered.
pub async fn send_with_retries(
    store: &DynStore,
    run: &RunId,
    target: &str,
    policy: RetryPolicy,
    build: impl Fn(u32, &str) -> reqwest::RequestBuilder,
) -> bool {
    let delivery_id = uuid::Uuid::new_v4().simple().to_string();
    let attempts = policy.max_attempts.max(1);
    for attempt in 1..=attempts {
        let started = Instant::now();
        let (status, error, retry) = match build(attempt, &delivery_id).send().await {
            Ok(res) if res.status().is_success() => (Some(res.status().as_u16()), None, false),
            Ok(res) => {
                let code = res.status();
                let retry = code.is_server_error() || matches!(code.as_u16(), 408 | 429);
                (
                    Some(code.as_u16()),
                    Some(format!("the receiver answered {code}")),
                    retry,
                )
            }
            Err(e) => (None, Some(transport_error(&e)), true),
        };
        let delivered = error.is_none();
        let record = WebhookDelivery {
            run_id: run.clone(),
            target: target.to_owned(),
            delivery_id: delivery_id.clone(),
            attempt,
            at: Utc::now(),
            status,
            error: error.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            delivered,
        };
        if let Err(e) = store.record_delivery(&record).await {
            tracing::warn!(run_id = %run, target, error = %e, "could not record a delivery attempt");
        }
        if delivered {
            tracing::info!(run_id = %run, target, attempt, "delivered");
            return true;
        }
        let error = error.unwrap_or_default();
        if !retry || attempt == attempts {
            tracing::warn!(run_id = %run, target, attempt, error = %error, "not delivered; giving up");
            return false;
        }
        tracing::info!(run_id = %run, target, attempt, error = %error, "delivery failed; retrying");
        tokio::time::sleep(crate::backoff::delay(attempt, policy.base, MAX_DELAY)).await;
    }
    false
}

/// What went wrong on the wire, without the URL.
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else {
        "the request to the receiver failed".into()
    }
}
