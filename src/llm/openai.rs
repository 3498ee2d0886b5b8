//! Any OpenAI-compatible chat-completions endpoint: OpenAI, OpenRouter, and local servers
//! (Ollama, vLLM, llama.cpp) through the same code; the base URL comes from
//! `OPENAI_BASE_URL` (or the provider's default).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{LlmClient, LlmError, LlmRequest, LlmResponse};
use crate::config::Secret;

/// An OpenAI-compatible client.
pub struct OpenAiCompatible {
    provider: String,
    /// Which setting holds the key, named in authentication errors.
    key_setting: String,
    base_url: String,
    key: Option<Secret>,
    model: String,
    http: reqwest::Client,
    schema_mode: super::SchemaMode,
}

impl OpenAiCompatible {
    /// A client for `base_url` (e.g. `https://api.openai.com/v1`). `key` may be `None` for
    /// local servers.
    pub fn new(
        provider: &str,
        key_setting: &str,
        base_url: &str,
        key: Option<Secret>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            provider: provider.to_owned(),
            key_setting: key_setting.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            model: model.to_owned(),
            http,
            schema_mode: super::SchemaMode::Off,
        })
    }

    /// Sends the expected answer's JSON Schema as `mode` says.
    pub fn with_schema_mode(mut self, mode: super::SchemaMode) -> Self {
        self.schema_mode = mode;
        self
    }
}

#[async_trait]
impl LlmClient for OpenAiCompatible {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let mut body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        });
        if request.json {
            body["response_format"] = self.schema_mode.response_format(request.schema.as_ref());
        }
        let mut req = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key.expose());
        }
        let res = super::http::send(req, &self.provider).await?;
        let text = super::http::check(res, &self.provider, &self.key_setting, &self.model).await?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| super::http::transient(&self.provider, format!("answer is not JSON: {e}"), None))?;
        let content = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::Permanent {
                provider: self.provider.clone(),
                message: "answer has no choices[0].message.content".into(),
            })?;
        let tokens = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        Ok(LlmResponse {
            text: content.to_owned(),
            input_tokens: tokens("/usage/prompt_tokens"),
            output_tokens: tokens("/usage/completion_tokens"),
            model: v.get("model").and_then(Value::as_str).unwrap_or(&self.model).to_owned(),
            truncated: v.pointer("/choices/0/finish_reason").and_then(Value::as_str) == Some("length"),
        })
    }
}
