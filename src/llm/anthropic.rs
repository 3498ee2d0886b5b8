//! Anthropic's Messages API (`ANTHROPIC_BASE_URL`, default `https://api.anthropic.com`).
//! It has no JSON mode, so a JSON request adds the instruction to the system prompt.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{LlmClient, LlmError, LlmRequest, LlmResponse};
use crate::config::Secret;

/// The API version header the client speaks.
const API_VERSION: &str = "2023-06-01";

/// An Anthropic client.
pub struct Anthropic {
    base_url: String,
    key: Secret,
    model: String,
    http: reqwest::Client,
}

impl Anthropic {
    /// A client for `base_url` (e.g. `https://api.anthropic.com`).
    pub fn new(base_url: &str, key: Secret, model: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            model: model.to_owned(),
            http,
        })
    }
}

#[async_trait]
impl LlmClient for Anthropic {
    fn provider(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let system = if request.json {
            format!(
                "{}\n\nReply with a single JSON object and nothing else.",
                request.system
            )
        } else {
            request.system.clone()
        };
        let body = json!({
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "system": system,
            "messages": [{"role": "user", "content": request.user}],
        });
        let req = self
            .http
            .post(format!("{}/v1/messages", self.base_url))
            .header("x-api-key", self.key.expose())
            .header("anthropic-version", API_VERSION)
            .json(&body);
        let res = super::http::send(req, "anthropic").await?;
        let text = super::http::check(res, "anthropic", "ANTHROPIC_API_KEY", &self.model).await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| super::http::transient("anthropic", format!("answer is not JSON: {e}"), None))?;
        let content: String = v
            .get("content")
            .and_then(Value::as_array)
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b.get("text").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if content.is_empty() {
            return Err(LlmError::Permanent {
                provider: "anthropic".into(),
                message: "answer has no text content".into(),
            });
        }
        let tokens = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        Ok(LlmResponse {
            text: content,
            input_tokens: tokens("/usage/input_tokens"),
            output_tokens: tokens("/usage/output_tokens"),
            model: v.get("model").and_then(Value::as_str).unwrap_or(&self.model).to_owned(),
            truncated: v.get("stop_reason").and_then(Value::as_str) == Some("max_tokens"),
        })
    }
}
