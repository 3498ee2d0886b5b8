//! The per-provider protections every call passes through, whichever stage or run makes
//! it: a circuit breaker (a failing provider is left alone and stages run offline instead
//! of waiting on it) and governor rate limits on requests and tokens per minute (so a burst
//! of runs stays inside the provider's quota instead of collecting 429s).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::circuit::CircuitBreaker;
use super::{LlmClient, LlmError, LlmRequest, LlmResponse};
use crate::metrics::Metrics;

/// One provider's breaker and limiters, shared by all of its clients (one per model).
pub struct ProviderGuard {
    provider: String,
    circuit: CircuitBreaker,
    requests: DefaultDirectRateLimiter,
    tokens: DefaultDirectRateLimiter,
    tokens_per_minute: u32,
    metrics: Arc<Metrics>,
}

impl ProviderGuard {
    /// A guard opening after `threshold` consecutive failures for `cool_down`, letting
    /// `requests_per_minute` requests and `tokens_per_minute` tokens through.
    pub fn new(
        provider: &str,
        threshold: u32,
        cool_down: Duration,
        requests_per_minute: u32,
        tokens_per_minute: u32,
        metrics: Arc<Metrics>,
    ) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least 1"));
        Self {
            provider: provider.to_owned(),
            circuit: CircuitBreaker::new(threshold, cool_down),
            requests: RateLimiter::direct(per_minute(requests_per_minute)),
            tokens: RateLimiter::direct(per_minute(tokens_per_minute)),
            tokens_per_minute: tokens_per_minute.max(1),
            metrics,
        }
    }

    /// True while the circuit refuses calls.
    pub fn circuit_open(&self) -> bool {
        self.circuit.is_open()
    }
}

/// Frees the breaker's probe slot when a call is abandoned mid-flight.
struct Pending<'a>(Option<&'a CircuitBreaker>);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.abandon();
        }
    }
}

/// A client behind its provider's guard.
pub struct GuardedClient {
    inner: Box<dyn LlmClient>,
    guard: Arc<ProviderGuard>,
}

impl GuardedClient {
    /// Wraps `inner` (whose provider `guard` protects).
    pub fn new(inner: Box<dyn LlmClient>, guard: Arc<ProviderGuard>) -> Self {
        Self { inner, guard }
    }
}

#[async_trait]
impl LlmClient for GuardedClient {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let g = &self.guard;
        if !g.circuit.allow() {
            return Err(LlmError::CircuitOpen {
                provider: g.provider.clone(),
            });
        }
        g.requests.until_ready().await;
        let tokens = request.estimated_input_tokens() + u64::from(request.max_tokens);
        // A request larger than a minute's allowance waits for the whole allowance.
        let n = NonZeroU32::new(tokens.clamp(1, u64::from(g.tokens_per_minute)) as u32).expect("at least 1");
        let _ = g.tokens.until_n_ready(n).await;
        // If this future is dropped (the run was cancelled) before the outcome is recorded,
        // the guard frees a half-open probe slot, so the breaker cannot stay stuck.
        let mut pending = Pending(Some(&g.circuit));
        let result = self.inner.complete(request).await;
        pending.0 = None;
        // Failures that say the provider (not this request) is in trouble count; a 400 or an
        // unknown model does not trip the breaker for everyone else.
        let provider_failed = matches!(result, Err(LlmError::Transient { .. } | LlmError::Auth { .. }));
        let was_open = g.circuit.is_open();
        let open = g.circuit.record(!provider_failed);
        // The gauge follows every outcome, so a successful probe after the cool-down resets it.
        g.metrics.llm_circuit(&g.provider, open);
        if open && !was_open {
            tracing::error!(provider = %g.provider, "LLM circuit opened after repeated failures; stages run offline until a probe succeeds");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Always fails with a 500; counts its calls.
    struct Failing(Arc<AtomicU32>);

    #[async_trait]
    impl LlmClient for Failing {
        fn provider(&self) -> &str {
            "test"
        }
        fn model(&self) -> &str {
            "m"
        }
        async fn complete(&self, _: &LlmRequest) -> Result<LlmResponse, LlmError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(LlmError::Transient {
                provider: "test".into(),
                message: "HTTP 500".into(),
                retry_after: None,
            })
        }
    }

    #[tokio::test]
    async fn the_circuit_opens_after_the_threshold_and_stops_calling() {
        let guard = Arc::new(ProviderGuard::new(
            "test",
            3,
            Duration::from_secs(60),
            1000,
            1_000_000,
            Arc::default(),
        ));
        let calls = Arc::new(AtomicU32::new(0));
        let client = GuardedClient::new(Box::new(Failing(Arc::clone(&calls))), Arc::clone(&guard));
        let req = LlmRequest {
            system: "s".into(),
            user: "u".into(),
            json: true,
            schema: None,
            max_tokens: 10,
            temperature: 0.0,
        };
        for _ in 0..3 {
            assert!(client.complete(&req).await.unwrap_err().is_transient());
        }
        assert!(guard.circuit_open());
        assert!(matches!(client.complete(&req).await, Err(LlmError::CircuitOpen { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no call while open");
    }

    #[tokio::test]
    async fn requests_and_tokens_per_minute_are_limited_per_provider() {
        let guard = Arc::new(ProviderGuard::new(
            "test",
            5,
            Duration::from_secs(60),
            2,
            1_000,
            Arc::default(),
        ));
        struct Ok1;
        #[async_trait]
        impl LlmClient for Ok1 {
            fn provider(&self) -> &str {
                "test"
            }
            fn model(&self) -> &str {
                "m"
            }
            async fn complete(&self, _: &LlmRequest) -> Result<LlmResponse, LlmError> {
                Ok(LlmResponse {
                    text: "{}".into(),
                    input_tokens: 1,
                    output_tokens: 1,
                    model: "m".into(),
                    truncated: false,
                })
            }
        }
        // Two clients (two stages' models) share the provider's allowance.
        let a = GuardedClient::new(Box::new(Ok1), Arc::clone(&guard));
        let b = GuardedClient::new(Box::new(Ok1), Arc::clone(&guard));
        let req = LlmRequest {
            system: "s".repeat(400),
            user: "u".into(),
            json: true,
            schema: None,
            max_tokens: 300,
            temperature: 0.0,
        };
        a.complete(&req).await.unwrap();
        b.complete(&req).await.unwrap();
        assert!(guard.requests.check().is_err(), "a third request this minute must wait");
        // Each call took ~401 estimated tokens of the 1,000 per minute: 802 used, 300 more do not fit.
        let n = NonZeroU32::new(300).unwrap();
        assert!(
            matches!(guard.tokens.check_n(n), Ok(Err(_))),
            "the token allowance is spent too"
        );
    }
}
