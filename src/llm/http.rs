//! What every HTTP provider shares: sending with timeouts mapped to transient errors, and
//! classifying the answer's status (401/403 → key, 404 → model, 408/409/429/5xx →
//! transient with `Retry-After`, other errors permanent). Messages never echo the key.

use std::time::Duration;

use serde_json::Value;

use super::LlmError;

/// `Retry-After` in seconds (HTTP dates are treated as absent).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The provider's error message from an error body, shortened.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let msg = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
        })
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    msg.chars().take(300).collect()
}

/// A transient error for `provider`.
pub fn transient(provider: &str, message: String, retry_after: Option<Duration>) -> LlmError {
    LlmError::Transient {
        provider: provider.to_owned(),
        message,
        retry_after,
    }
}

/// Sends a request, mapping timeouts and connection failures to transient errors.
pub async fn send(req: reqwest::RequestBuilder, provider: &str) -> Result<reqwest::Response, LlmError> {
    req.send().await.map_err(|e| {
        if e.is_timeout() {
            transient(provider, "request timed out".into(), None)
        } else {
            transient(provider, format!("connection failed: {}", e.without_url()), None)
        }
    })
}

/// The body of a successful answer, or the error its status means.
pub async fn check(res: reqwest::Response, provider: &str, key_setting: &str, model: &str) -> Result<String, LlmError> {
    let status = res.status().as_u16();
    let wait = retry_after(res.headers());
    let text = res.text().await.map_err(|e| {
        transient(
            provider,
            format!("reading the answer failed: {}", e.without_url()),
            None,
        )
    })?;
    let provider = provider.to_owned();
    match status {
        200..=299 => Ok(text),
        401 | 403 => Err(LlmError::Auth {
            provider,
            key_setting: key_setting.to_owned(),
            message: error_message(&text),
        }),
        404 => Err(LlmError::NotFound {
            provider,
            model: model.to_owned(),
            message: error_message(&text),
        }),
        408 | 409 | 429 | 500..=599 => Err(LlmError::Transient {
            provider,
            message: format!("HTTP {status}: {}", error_message(&text)),
            retry_after: wait,
        }),
        _ => Err(LlmError::Permanent {
            provider,
            message: format!("HTTP {status}: {}", error_message(&text)),
        }),
    }
}
