//! Getting a typed, validated object out of a model: the JSON object is found whether it
//! comes plain, in a code fence or surrounded by prose (small local models do all three);
//! it is parsed into the stage's type and checked by the stage's gate; on failure the
//! errors are sent back for at most `max_repairs` repair turns. A stage that still has no
//! valid output falls back to its offline implementation.

use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::retry::{complete_with_retries, RetryPolicy};
use super::{LlmClient, LlmError, LlmRequest, LlmResponse};

/// How a structured completion ended. `calls` lists every completed call (for cost).
pub enum Structured<T> {
    /// A value that parsed and passed validation.
    Valid { value: T, calls: Vec<LlmResponse> },
    /// No valid value after the repair turns, or the provider failed.
    Failed {
        reason: String,
        calls: Vec<LlmResponse>,
        provider_error: Option<LlmError>,
    },
}

pub use crate::store::CallOutcome;

/// The largest output limit a cut answer's second try asks for.
pub const MAX_OUTPUT_TOKENS: u32 = 16_384;

/// What one call came to, for the hooks.
#[derive(Debug, Clone, Copy)]
pub struct CallReport<'a> {
    pub outcome: CallOutcome,
    /// 1 for the first answer, then one more per repair turn or retry of a cut answer.
    pub turn: u32,
    pub latency: Duration,
    /// Why the answer was not used: the gate's reasons, the cut, or the provider's error.
    pub detail: Option<&'a str>,
}

/// What the caller does around each call: check the budget before, record cost after.
#[async_trait]
pub trait CallHooks: Send + Sync {
    /// Called before each call (first turn and repairs); an error stops without calling.
    async fn before_call(&self, request: &LlmRequest) -> Result<(), String>;

    /// Called once per call, with the answer (or error) and how it was judged.
    async fn after_call(&self, result: Result<&LlmResponse, &LlmError>, report: CallReport<'_>);
}

/// Hooks that do nothing (tests, tools).
pub struct NoHooks;

#[async_trait]
impl CallHooks for NoHooks {
    async fn before_call(&self, _: &LlmRequest) -> Result<(), String> {
        Ok(())
    }
    async fn after_call(&self, _: Result<&LlmResponse, &LlmError>, _: CallReport<'_>) {}
}

/// Asks for JSON, parses it into `T`, validates it, and repairs up to `max_repairs` times.
/// An answer cut at the output limit is not a wrong answer: it is asked again once with
/// twice the limit (at most [`MAX_OUTPUT_TOKENS`]) without using a repair turn; cut twice,
/// the completion fails.
#[allow(clippy::too_many_arguments)]
pub async fn complete_structured<T, V>(
    client: &dyn LlmClient,
    request: &LlmRequest,
    validate: V,
    max_repairs: u32,
    policy: &RetryPolicy,
    deadline: Instant,
    hooks: &dyn CallHooks,
) -> Structured<T>
where
    T: DeserializeOwned,
    V: Fn(&T) -> Result<(), Vec<String>>,
{
    let mut calls = Vec::new();
    let mut req = request.clone();
    let (mut turn, mut repairs, mut extended) = (0u32, 0u32, false);
    loop {
        turn += 1;
        if let Err(refused) = hooks.before_call(&req).await {
            return Structured::Failed {
                reason: refused,
                calls,
                provider_error: None,
            };
        }
        let began = std::time::Instant::now();
        let (result, _) = complete_with_retries(client, &req, policy, deadline).await;
        let report = |outcome, detail| CallReport {
            outcome,
            turn,
            latency: began.elapsed(),
            detail,
        };
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                let detail = e.to_string();
                hooks
                    .after_call(Err(&e), report(CallOutcome::Error, Some(&detail)))
                    .await;
                return Structured::Failed {
                    reason: detail,
                    calls,
                    provider_error: Some(e),
                };
            }
        };
        if response.truncated {
            let detail = format!("the answer was cut at the output limit of {} tokens", req.max_tokens);
            hooks
                .after_call(Ok(&response), report(CallOutcome::Truncated, Some(&detail)))
                .await;
            calls.push(response);
            if extended || req.max_tokens >= MAX_OUTPUT_TOKENS {
                return Structured::Failed {
                    reason: format!("{detail}, also after raising it from {}", request.max_tokens),
                    calls,
                    provider_error: None,
                };
            }
            extended = true;
            req.max_tokens = req.max_tokens.saturating_mul(2).min(MAX_OUTPUT_TOKENS);
            continue;
        }
        let problems: Vec<String> = match extract_json(&response.text) {
            None => vec!["the answer contains no JSON object".into()],
            Some(v) => match serde_json::from_value::<T>(v) {
                Err(e) => vec![format!("the JSON does not have the required shape: {e}")],
                Ok(value) => match validate(&value) {
                    Ok(()) => {
                        hooks.after_call(Ok(&response), report(CallOutcome::Ok, None)).await;
                        calls.push(response);
                        return Structured::Valid { value, calls };
                    }
                    Err(problems) => problems,
                },
            },
        };
        let reason = problems.join("; ");
        hooks
            .after_call(Ok(&response), report(CallOutcome::InvalidOutput, Some(&reason)))
            .await;
        tracing::info!(provider = client.provider(), turn, reason = %reason, "LLM output rejected");
        if repairs == max_repairs {
            calls.push(response);
            return Structured::Failed {
                reason: format!("no valid output after {max_repairs} repair turns: {reason}"),
                calls,
                provider_error: None,
            };
        }
        repairs += 1;
        req.user = format!(
            "{}\n\nYour previous answer was:\n{}\n\nIt was rejected: {}. Reply with only the corrected JSON object.",
            request.user, response.text, reason
        );
        calls.push(response);
    }
}

/// The first JSON object in `text`, wherever it is.
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    // A fenced block: ```json ... ``` or ``` ... ```.
    if let Some(start) = t.find("```") {
        let after = &t[start + 3..];
        let body = after
            .strip_prefix("json")
            .or_else(|| after.strip_prefix("JSON"))
            .unwrap_or(after);
        if let Some(end) = body.find("```") {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(body[..end].trim()) {
                return Some(v);
            }
        }
    }
    // The first balanced {...} (string-aware).
    let bytes: Vec<char> = t.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if *c != '{' {
            continue;
        }
        let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
        for (j, ch) in bytes.iter().enumerate().skip(i) {
            if in_string {
                match (escaped, ch) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match ch {
                '"' => in_string = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        let candidate: String = bytes[i..=j].iter().collect();
                        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&candidate) {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_fenced_and_prose_wrapped_objects_are_found() {
        assert_eq!(extract_json(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(
            extract_json("Here you go:\n```json\n{\"a\": [1, 2]}\n```\nDone."),
            Some(json!({"a": [1, 2]}))
        );
        assert_eq!(
            extract_json("Sure! {\"a\": \"x } y\", \"b\": {\"c\": 2}} Hope it helps"),
            Some(json!({"a": "x } y", "b": {"c": 2}}))
        );
        assert_eq!(extract_json("no json here"), None);
        assert_eq!(extract_json("[1, 2]"), None, "only objects");
    }
}
