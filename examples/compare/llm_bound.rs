//! 3. LLM-bound runs: a local fake model (OpenAI-compatible, wiremock) answers every stage
//!    validly after a fixed latency per call plus a time per output token, as a provider
//!    does. Measured: one run's wall time against the sum of its stages (what the stage
//!    graph gains by running independent stages side by side); the makespan of 20 runs at
//!    `MAX_CONCURRENCY=3` against the ideal; and, under a tight request limit and per-run
//!    budget, that neither is ever exceeded.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use job_runner::pipeline::master_cv::MasterCv;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{posting, Daemon, Report};
use crate::model_answers::answers_for;

/// Every call's fixed latency.
const CALL_LATENCY: Duration = Duration::from_millis(800);
/// Generation time per output token.
const PER_TOKEN: Duration = Duration::from_micros(1500);
/// Input tokens each answer reports (sets the cost).
const INPUT_TOKENS: u64 = 2000;

/// A provider answering every stage validly after its latency; the answers' output tokens.
async fn fake_model() -> MockServer {
    let server = MockServer::start().await;
    let master = MasterCv::parse(include_str!("../master-cv.md")).unwrap();
    let answers = answers_for(&posting(0), &master);
    for (phrase, answer) in answers.all() {
        let content = answer.to_string();
        let output_tokens = (content.len() / 4) as u64;
        let delay = CALL_LATENCY + PER_TOKEN * output_tokens as u32;
        Mock::given(method("POST"))
            .and(body_string_contains(phrase))
            .respond_with(ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": output_tokens},
            })))
            .mount(&server)
            .await;
    }
    server
}

fn provider_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("OPENAI_API_KEY", "sk-bench-fake-model-0000000000".into()),
        ("OPENAI_BASE_URL", format!("{}/v1", server.uri())),
        ("MAX_CONCURRENCY", "3".into()),
    ]
}

async fn daemon(server: &MockServer, extra: &[(&'static str, &str)], jobs: usize) -> Daemon {
    let mut env = provider_env(server);
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Daemon::start(&refs, jobs).await
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()?.parse().ok()
}

pub async fn run(report: &mut Report) {
    println!("3. LLM-bound runs (fake model: {CALL_LATENCY:?} per call + {PER_TOKEN:?} per output token)");
    let server = fake_model().await;
    let generous = [
        ("LLM_REQUESTS_PER_MINUTE", "100000"),
        ("LLM_TOKENS_PER_MINUTE", "100000000"),
        ("MAX_COST_PER_RUN", "100"),
    ];
    let d = daemon(&server, &generous, 21).await;

    // One run alone: its wall time against the sum of its stages.
    let run = d.start_runs(20..21).await.remove(0);
    d.wait_finished(1, Duration::from_secs(180)).await;
    let progress = d.get(&format!("/jobs/{run}/progress")).await;
    let stages = progress["stages"].as_array().unwrap();
    let sum_ms: f64 = stages.iter().filter_map(|s| s["duration_ms"].as_f64()).sum();
    let by_model = stages.iter().filter(|s| s["producer"] == "llm").count();
    let status = d.get(&format!("/jobs/{run}/status")).await;
    let wall =
        (time(&status["finished_at"]).unwrap() - time(&status["running_since"]).unwrap()).num_milliseconds() as f64;
    report.add(
        "one LLM-bound run: wall time against the sum of its stages",
        "< 1 (the graph overlaps stages)",
        format!(
            "{:.2} ({:.1} s wall, {:.1} s of stages; {by_model} of {} stages by the model, {} calls)",
            wall / sum_ms,
            wall / 1000.0,
            sum_ms / 1000.0,
            stages.len(),
            progress["cost"]["calls"]
        ),
        Some(wall < sum_ms),
    );

    // Twenty runs, three at a time.
    let started = Instant::now();
    let runs = d.start_runs(0..20).await;
    d.wait_finished(21, Duration::from_secs(600)).await;
    let makespan = started.elapsed().as_secs_f64();
    let ideal = (20f64 / 3.0).ceil() * wall / 1000.0;
    let mut completed_by_model = 0;
    for r in &runs {
        let p = d.get(&format!("/jobs/{r}/progress")).await;
        if p["status"] == "completed"
            && p["stages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["producer"] == "llm")
                .count()
                == by_model
        {
            completed_by_model += 1;
        }
    }
    report.add(
        "makespan of 20 LLM-bound runs at MAX_CONCURRENCY=3 against the ideal (⌈20/3⌉ × one run's wall time)",
        "≤ 1.05×",
        format!("{:.3}× ({makespan:.1} s against {ideal:.1} s; {completed_by_model}/20 completed with every model stage by the model)", makespan / ideal),
        Some(makespan / ideal <= 1.05),
    );
    drop(d);

    // A tight request limit and per-run budget under the same load.
    let server = fake_model().await;
    let rpm = 20u32;
    let cap = 0.01;
    let d = daemon(
        &server,
        &[
            ("LLM_REQUESTS_PER_MINUTE", &rpm.to_string()),
            ("LLM_TOKENS_PER_MINUTE", "100000000"),
            ("MAX_COST_PER_RUN", &cap.to_string()),
        ],
        9,
    )
    .await;
    let window = Duration::from_secs(45);
    let started = Instant::now();
    let runs = d.start_runs(0..9).await;
    let _ = tokio::time::timeout(window, d.wait_finished(9, window * 2)).await;
    let elapsed = started.elapsed();
    let (mut max_cost, mut offline_stages) = (0.0f64, 0);
    for r in &runs {
        let detail = d.get(&format!("/runs/{r}")).await;
        max_cost = max_cost.max(detail["cost"]["cost_usd"].as_f64().unwrap_or(0.0));
        let progress = d.get(&format!("/jobs/{r}/progress")).await;
        offline_stages += progress["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] != "publisher" && s["producer"].as_str().is_some_and(|p| p != "llm"))
            .count();
    }
    let total_calls = server.received_requests().await.unwrap_or_default().len();
    // governor's quota: a burst of `rpm`, then one more every 60/rpm s.
    let allowed = rpm as f64 + elapsed.as_secs_f64() * rpm as f64 / 60.0;
    report.add(
        format!(
            "LLM_REQUESTS_PER_MINUTE={rpm} under 9 queued runs ({:.0} s)",
            elapsed.as_secs_f64()
        ),
        format!("≤ {allowed:.0} calls (burst {rpm} + {rpm}/min)"),
        format!("{total_calls} calls"),
        Some(total_calls as f64 <= allowed + 1.0),
    );
    report.add(
        format!("MAX_COST_PER_RUN={cap} under the same load"),
        format!("every run ≤ ${cap}"),
        format!("most expensive run ${max_cost:.5}; {offline_stages} stages left to their offline implementation by the budget or the limit"),
        Some(max_cost <= cap + 1e-9),
    );
}
