//! Completion webhooks (`WEBHOOK_URL`, `WEBHOOK_SECRET`): when a run ends (completed,
//! failed or cancelled) its outcome is POSTed as JSON so other tools (n8n, Zapier, a
//! tracker of one's own) can act on it without polling. Each delivery is signed the way
//! Stripe and GitHub sign theirs, so a receiver can prove it came from this daemon and is
//! fresh: `X-JobRunner-Timestamp` (Unix seconds) and `X-JobRunner-Signature:
//! sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. Network errors, 429 and 5xx are
//! retried with a doubling delay up to `WEBHOOK_MAX_ATTEMPTS`; every attempt is stored and
//! shown on `GET /runs/{id}`. Delivery runs in its own task: a slow receiver never holds a
//! run or a slot.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::delivery::{send_with_retries, RetryPolicy};
use crate::config::{PublishingSettings, Secret};
use crate::domain::{Run, RunId};
use crate::store::DynStore;

/// The delivery target name in the attempts' records.
pub const TARGET: &str = "completion";

/// The event a receiver gets.
pub const EVENT: &str = "run.finished";

/// A configured completion webhook.
pub struct CompletionHook {
    url: Secret,
    secret: Option<Secret>,
    max_attempts: u32,
    retry_base: Duration,
    http: reqwest::Client,
}

impl CompletionHook {
    /// The hook the settings describe; `Ok(None)` without `WEBHOOK_URL`.
    pub fn from_settings(p: &PublishingSettings) -> Result<Option<Self>, String> {
        let Some(url) = p.webhook_url.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(p.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Some(Self {
            url,
            secret: p.webhook_secret.clone(),
            max_attempts: p.webhook_max_attempts,
            retry_base: p.webhook_retry_base,
            http,
        }))
    }

    /// Delivers `event` for `run`, retrying within bounds and recording every attempt.
    /// Returns true when the receiver accepted it.
    pub async fn deliver(&self, store: &DynStore, run: &RunId, event: &Value) -> bool {
        let body = event.to_string();
        let policy = RetryPolicy {
            max_attempts: self.max_attempts,
            base: self.retry_base,
        };
        send_with_retries(store, run, TARGET, policy, |attempt, delivery_id| {
            let timestamp = Utc::now().timestamp().to_string();
            let mut req = self
                .http
                .post(self.url.expose())
                .header("Content-Type", "application/json")
                .header("User-Agent", concat!("job-runner/", env!("CARGO_PKG_VERSION")))
                .header("X-JobRunner-Event", EVENT)
                .header("X-JobRunner-Delivery", delivery_id)
                .header("X-JobRunner-Attempt", attempt.to_string())
                .header("X-JobRunner-Timestamp", &timestamp);
            if let Some(secret) = &self.secret {
                req = req.header("X-JobRunner-Signature", signature(secret.expose(), &timestamp, &body));
            }
            req.body(body.clone())
        })
        .await
    }
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with secret>`.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The event for the end of `run` (its finished record: status, error, cost, files, end
/// time), with the fit score and category when the run scored the fit.
pub fn event(run: &Run, fit: Option<(u8, &str)>) -> Value {
    let artifacts: std::collections::BTreeMap<&str, String> = run
        .artifacts
        .iter()
        .map(|(key, file)| (key.as_str(), crate::artifacts::url(&run.run_id, file)))
        .collect();
    json!({
        "event": EVENT,
        "run_id": run.run_id,
        "job_id": run.job_id,
        "operation": run.operation,
        "status": run.status.as_str(),
        "error": run.error,
        "company": run.company,
        "title": run.job_title,
        "fit": fit.map(|(score, category)| json!({"score": score, "category": category})),
        "artifacts": artifacts,
        "cost_usd": run.cost_usd,
        "finished_at": run.finished_at.unwrap_or_else(Utc::now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(key, b'1700000000.{"a":1}', sha256).
        assert_eq!(
            signature("whsec-test-0123456789", "1700000000", r#"{"a":1}"#),
            "sha256=ba8ec7f38c4e076a99176a1bf98ae9f2f3f4e18412b46a5913ddcf5685932c6a"
        );
        assert_ne!(
            signature("k", "1", "a"),
            signature("k", "2", "a"),
            "the timestamp is signed"
        );
        assert_ne!(signature("k", "1", "a"), signature("j", "1", "a"), "the key matters");
    }
}
