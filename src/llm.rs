//! The language-model layer: one [`LlmClient`] trait in front of providers, typed errors
//! that say what is wrong without ever printing a key, retries with backoff that honour
//! `Retry-After`, structured-output extraction, and the price table for cost accounting.
//!
//! [`service::LlmService`] puts it together for the stages: provider selection from the
//! settings, a circuit breaker and rate limits per provider, the per-run budget, and a
//! record of every call in the store.

pub mod anthropic;
pub mod circuit;
pub mod costs;
pub mod guard;
mod http;
pub mod openai;
pub mod prompts;
pub mod retry;
pub mod run_spend;
pub mod schema;
pub mod service;
pub mod structured;
pub mod token_budget;

use std::time::Duration;

use async_trait::async_trait;

/// One chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub system: String,
    pub user: String,
    /// Ask the provider for a JSON object.
    pub json: bool,
    /// The JSON Schema of the expected object, sent when the schema mode asks for it.
    pub schema: Option<serde_json::Value>,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl LlmRequest {
    /// Estimated input tokens of the request (system and user parts).
    pub fn estimated_input_tokens(&self) -> u64 {
        (token_budget::estimate_tokens(&self.system) + token_budget::estimate_tokens(&self.user)) as u64
    }
}

pub use crate::config::SchemaMode;

/// A completion and what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmResponse {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub model: String,
    /// The provider stopped at the output limit (`finish_reason: length`, Anthropic's
    /// `stop_reason: max_tokens`): the answer is cut, not wrong.
    pub truncated: bool,
}

/// Why a call failed, with the failures worth retrying marked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// Timeouts, connection errors, 408/409/429/5xx: worth retrying.
    #[error("{provider} is temporarily unavailable: {message}")]
    Transient {
        provider: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// 401/403: the key is wrong or lacks access (the key itself is never shown).
    #[error("{provider} rejected the API key ({key_setting}): {message}")]
    Auth {
        provider: String,
        key_setting: String,
        message: String,
    },
    /// 404: the model or endpoint does not exist.
    #[error("{provider} does not know model {model:?} (check CV_MODEL / the base URL): {message}")]
    NotFound {
        provider: String,
        model: String,
        message: String,
    },
    /// 400 and other permanent failures.
    #[error("{provider} refused the request: {message}")]
    Permanent { provider: String, message: String },
    /// The provider's circuit is open after repeated failures: no call was made.
    #[error("{provider} failed repeatedly; its circuit is open and calls are paused until a probe succeeds")]
    CircuitOpen { provider: String },
}

impl LlmError {
    /// True for failures a retry may fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, LlmError::Transient { .. })
    }
}

/// A chat-completion provider.
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// Provider name for logs, metrics and cost records (`openai`, `openrouter`, ...).
    fn provider(&self) -> &str;

    /// The model requests go to.
    fn model(&self) -> &str;

    /// One attempt, no retry.
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError>;
}
