//! The OpenAI-compatible client and the retry policy against a mock provider (wiremock:
//! the provider cannot run here). Stages do not use the client yet.

use std::time::Duration;

use job_runner::config::Secret;
use job_runner::llm::openai::OpenAiCompatible;
use job_runner::llm::retry::{complete_with_retries, RetryPolicy};
use job_runner::llm::structured::extract_json;
use job_runner::llm::{LlmClient, LlmError, LlmRequest};
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{bearer_token, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-very-secret-key";

fn client(server: &MockServer, timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(
        "openai",
        "OPENAI_API_KEY",
        &format!("{}/v1", server.uri()),
        Some(Secret::new(KEY)),
        "gpt-4o-mini",
        timeout,
    )
    .unwrap()
}

fn request() -> LlmRequest {
    LlmRequest {
        system: "You mine pain points.".into(),
        user: "Posting...".into(),
        json: true,
        schema: None,
        max_tokens: 500,
        temperature: 0.2,
    }
}

fn completion(content: &str) -> serde_json::Value {
    json!({
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300}
    })
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn a_completion_returns_text_and_usage_and_asks_for_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(bearer_token(KEY))
        .and(body_partial_json(
            json!({"model": "gpt-4o-mini", "response_format": {"type": "json_object"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("```json\n{\"pain_points\": [\"a\"]}\n```")))
        .expect(1)
        .mount(&server)
        .await;
    let res = client(&server, Duration::from_secs(5))
        .complete(&request())
        .await
        .unwrap();
    assert_eq!((res.input_tokens, res.output_tokens), (1200, 300));
    assert_eq!(res.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        extract_json(&res.text),
        Some(json!({"pain_points": ["a"]})),
        "fenced JSON is accepted"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_providers_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": {"message": "slow down"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{}")))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let (res, attempts) =
        complete_with_retries(&client(&server, Duration::from_secs(5)), &request(), &fast(), far()).await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
}

#[tokio::test]
async fn a_storm_of_500s_gives_up_after_the_attempt_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .expect(3)
        .mount(&server)
        .await;
    let (res, attempts) =
        complete_with_retries(&client(&server, Duration::from_secs(5)), &request(), &fast(), far()).await;
    assert_eq!(attempts, 3);
    let err = res.unwrap_err();
    assert!(err.is_transient() && err.to_string().contains("503"), "{err}");
}

#[tokio::test]
async fn a_rejected_key_fails_at_once_naming_the_setting_not_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key provided"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (res, attempts) =
        complete_with_retries(&client(&server, Duration::from_secs(5)), &request(), &fast(), far()).await;
    assert_eq!(attempts, 1, "no retry on 401");
    let err = res.unwrap_err();
    assert!(matches!(err, LlmError::Auth { .. }));
    let text = err.to_string();
    assert!(text.contains("OPENAI_API_KEY") && !text.contains(KEY), "{text}");
}

#[tokio::test]
async fn an_unknown_model_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "model not found"}})))
        .mount(&server)
        .await;
    let err = client(&server, Duration::from_secs(5))
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("gpt-4o-mini") && err.to_string().contains("CV_MODEL"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_as_a_transient_error_and_the_deadline_bounds_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("{}"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_millis(200));
    let err = c.complete(&request()).await.unwrap_err();
    assert!(err.is_transient() && err.to_string().contains("timed out"), "{err}");
    // A Retry-After longer than the time left ends the retries at once.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let deadline = Instant::now() + Duration::from_secs(1);
    let (res, attempts) =
        complete_with_retries(&client(&server, Duration::from_secs(5)), &request(), &fast(), deadline).await;
    assert!(res.is_err());
    assert_eq!(attempts, 1);
}

#[derive(Debug, serde::Deserialize)]
struct Pains {
    pain_points: Vec<String>,
}

fn gate(p: &Pains) -> Result<(), Vec<String>> {
    if p.pain_points.is_empty() {
        Err(vec!["pain_points must have 1–8 items, has 0".into()])
    } else {
        Ok(())
    }
}

/// `Pains` from the server with the gate above and two repair turns.
async fn structured_pains(server: &MockServer) -> job_runner::llm::structured::Structured<Pains> {
    job_runner::llm::structured::complete_structured::<Pains, _>(
        &client(server, Duration::from_secs(5)),
        &request(),
        gate,
        2,
        &fast(),
        far(),
        &job_runner::llm::structured::NoHooks,
    )
    .await
}

#[tokio::test]
async fn invalid_output_is_repaired_with_the_gates_errors() {
    use job_runner::llm::structured::Structured;
    use wiremock::matchers::body_string_contains;
    let server = MockServer::start().await;
    // First answer: valid JSON that fails the gate. The repair turn names the problem.
    Mock::given(method("POST"))
        .and(body_string_contains("has 0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            "Here:\n```json\n{\"pain_points\": [\"Scale billing\"]}\n```",
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"pain_points\": []}")))
        .mount(&server)
        .await;
    match structured_pains(&server).await {
        Structured::Valid { value, calls } => {
            assert_eq!(value.pain_points, ["Scale billing"]);
            assert_eq!(calls.len(), 2, "one repair turn");
        }
        Structured::Failed { reason, .. } => panic!("{reason}"),
    }
}

#[tokio::test]
async fn output_still_invalid_after_two_repairs_fails_for_the_offline_fallback() {
    use job_runner::llm::structured::Structured;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("I cannot help with JSON today.")))
        .expect(3)
        .mount(&server)
        .await;
    match structured_pains(&server).await {
        Structured::Valid { .. } => panic!("accepted prose"),
        Structured::Failed {
            reason,
            calls,
            provider_error,
        } => {
            assert_eq!(calls.len(), 3, "the first answer and two repairs are all paid for");
            assert!(provider_error.is_none());
            assert!(reason.contains("no JSON object"), "{reason}");
        }
    }
}

/// A completion cut at the output limit (`finish_reason: length`).
fn cut_completion(content: &str) -> serde_json::Value {
    let mut c = completion(content);
    c["choices"][0]["finish_reason"] = json!("length");
    c
}

#[tokio::test]
async fn a_cut_answer_is_asked_again_with_twice_the_limit_not_repaired() {
    use job_runner::llm::structured::Structured;
    use wiremock::matchers::body_partial_json;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"max_tokens": 500})))
        .respond_with(ResponseTemplate::new(200).set_body_json(cut_completion("{\"pain_points\": [\"Scale bil")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"max_tokens": 1000})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"pain_points\": [\"Scale billing\"]}")))
        .expect(1)
        .mount(&server)
        .await;
    match structured_pains(&server).await {
        Structured::Valid { value, calls } => {
            assert_eq!(value.pain_points, ["Scale billing"]);
            assert!(calls[0].truncated && !calls[1].truncated);
            let bodies = server.received_requests().await.unwrap();
            let second = String::from_utf8_lossy(&bodies[1].body).to_string();
            assert!(
                !second.contains("rejected"),
                "no repair message for a cut answer: {second}"
            );
        }
        Structured::Failed { reason, .. } => panic!("{reason}"),
    }
}

#[tokio::test]
async fn an_answer_cut_twice_fails_for_the_offline_fallback() {
    use job_runner::llm::structured::Structured;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(cut_completion("{\"pain_points\": [")))
        .expect(2)
        .mount(&server)
        .await;
    match structured_pains(&server).await {
        Structured::Valid { .. } => panic!("accepted a cut answer"),
        Structured::Failed { reason, calls, .. } => {
            assert_eq!(calls.len(), 2);
            assert!(reason.contains("cut at the output limit of 1000 tokens"), "{reason}");
            assert!(reason.contains("raising it from 500"), "{reason}");
        }
    }
}

#[tokio::test]
async fn the_anthropic_client_speaks_the_messages_api() {
    use job_runner::llm::anthropic::Anthropic;
    use wiremock::matchers::header;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_partial_json(
            json!({"model": "claude-3-5-haiku", "max_tokens": 500}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "claude-3-5-haiku",
            "content": [{"type": "text", "text": "{\"pain_points\": [\"x\"]}"}],
            "stop_reason": "max_tokens",
            "usage": {"input_tokens": 900, "output_tokens": 120}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = Anthropic::new(
        &server.uri(),
        Secret::new(KEY),
        "claude-3-5-haiku",
        Duration::from_secs(5),
    )
    .unwrap();
    let res = c.complete(&request()).await.unwrap();
    assert_eq!((res.input_tokens, res.output_tokens), (900, 120));
    assert_eq!(extract_json(&res.text), Some(json!({"pain_points": ["x"]})));
    assert!(res.truncated, "stop_reason max_tokens is a cut answer");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        ))
        .mount(&server)
        .await;
    let c = Anthropic::new(
        &server.uri(),
        Secret::new(KEY),
        "claude-3-5-haiku",
        Duration::from_secs(5),
    )
    .unwrap();
    let err = c.complete(&request()).await.unwrap_err().to_string();
    assert!(err.contains("ANTHROPIC_API_KEY") && !err.contains(KEY), "{err}");
}
