//! The LLM stages through the real daemon: a wiremock server stands in for the provider
//! (OpenAI-compatible or Anthropic) and for FireCrawl, which cannot run here. Answers are
//! chosen by the prompt's system text, so each stage gets its own. Costs are checked
//! against hand-computed values.

use std::time::Duration;

use job_runner::config::pricing::PriceTable;
use job_runner::config::{Secret, Settings};
use job_runner::pipeline::master_cv::MasterCv;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{posting, spawn_app_with, TestApp, JOB};

const KEY: &str = "sk-test-never-shown-0123456789";

use crate::model_answers::{Answers, CV, EXTRACT, FIT, LETTER, MODEL_STAGES, PAIN, RESEARCH, REVIEW, STAR};

/// The answers for the example posting and master CV.
fn answers() -> Answers {
    let master = MasterCv::parse(include_str!("../../examples/master-cv.md")).unwrap();
    crate::model_answers::answers_for(&posting(JOB, None), &master)
}

fn openai_completion(content: &str, input: u64, output: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": input, "completion_tokens": output},
    }))
}

fn anthropic_message(content: &str, input: u64, output: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "model": "claude-3-5-haiku-latest",
        "content": [{"type": "text", "text": content}],
        "usage": {"input_tokens": input, "output_tokens": output},
    }))
}

/// Mounts `answer` for the prompt containing `phrase`.
async fn answer(server: &MockServer, phrase: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(body_string_contains(phrase))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Mounts every stage's valid answer (OpenAI format), each call using 1,000 input and 200
/// output tokens.
async fn mount_all_openai(server: &MockServer, a: &Answers) {
    for (phrase, v) in a.all() {
        answer(server, phrase, openai_completion(&v.to_string(), 1000, 200)).await;
    }
}

fn openai_settings(server: &MockServer) -> impl FnOnce(&mut Settings) {
    let base = format!("{}/v1", server.uri());
    move |s: &mut Settings| {
        s.llm.openai_api_key = Some(Secret::new(KEY));
        s.llm.openai_base_url = base;
        s.llm.retry_base = Duration::from_millis(1);
    }
}

/// Requests the provider received whose body contains `phrase`.
async fn requests_with(server: &MockServer, phrase: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(phrase))
        .collect()
}

/// Runs the example job to its end; returns the run id and its whole log.
async fn run_to_end(app: &TestApp) -> (String, String) {
    let run = app.start_run(JOB).await;
    let events = app.stream_logs(&run, None).await;
    let end = events.iter().find(|e| e.event.as_deref() == Some("end")).unwrap();
    let log = events
        .iter()
        .filter(|e| e.event.is_none())
        .map(|e| e.data.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(end.data, "completed", "{log}");
    (run, log)
}

/// Stage name → producer, from the progress endpoint.
async fn producers(app: &TestApp, run: &str) -> std::collections::BTreeMap<String, String> {
    app.stage_producers(run)
        .await
        .into_iter()
        .map(|(stage, producer, _)| (stage, producer))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[actix_web::test]
async fn with_openai_every_stage_uses_the_model_and_the_costs_add_up() {
    let server = MockServer::start().await;
    let a = answers();
    mount_all_openai(&server, &a).await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.enable_star_selector = true;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    for stage in MODEL_STAGES {
        assert_eq!(p[stage], "llm", "{stage}: {log}");
    }
    assert!(
        log.contains("output produced by openai-compatible/gpt-4o-mini"),
        "{log}"
    );
    assert!(log.contains("STAR selection: the model chose 2 of"), "{log}");
    let auth = &requests_with(&server, PAIN).await[0].headers["authorization"];
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {KEY}"));

    // Nine calls (research + outreach in the research stage, STAR + CV in the CV stage),
    // each 1,000 × $0.15/M + 200 × $0.60/M = $0.00015 + $0.00012 = $0.00027; the run:
    // 9 × 0.00027 = $0.00243.
    let detail = app.get_json(&format!("/runs/{run}")).await;
    let cost = &detail["cost"];
    assert_eq!(cost["calls"], 9, "{detail}");
    assert_eq!(cost["input_tokens"], 9000);
    assert_eq!(cost["output_tokens"], 1800);
    assert!(close(cost["cost_usd"].as_f64().unwrap(), 0.00243), "{cost}");
    assert_eq!(cost["by_stage"]["research"]["calls"], 2);
    assert_eq!(cost["by_stage"]["cv"]["calls"], 2);
    assert!(close(cost["by_stage"]["cv"]["cost_usd"].as_f64().unwrap(), 0.00054));
    assert_eq!(detail["status"], "completed", "the status document is still there");
    assert!(
        close(detail["cost_usd"].as_f64().unwrap(), 0.00243),
        "the run carries its total"
    );
    let listed = app.get_json("/runs?limit=5").await;
    assert!(
        close(listed["runs"][0]["cost_usd"].as_f64().unwrap(), 0.00243),
        "{listed}"
    );
    let progress = app.get_json(&format!("/jobs/{run}/progress")).await;
    let fit = progress["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "fit_score")
        .unwrap();
    assert!(close(fit["cost"]["cost_usd"].as_f64().unwrap(), 0.00027), "{fit}");

    let budget = app.get_json("/api/metrics/budget").await;
    assert!(
        close(budget["today"]["cost_usd"].as_f64().unwrap(), 0.00243),
        "{budget}"
    );
    assert_eq!(budget["today"]["calls"], 9);
    assert_eq!(budget["max_cost_per_run_usd"], 0.5);
    let history = app.get_json("/api/metrics/cost-history?days=7").await;
    let day = &history["by_day"][0];
    assert_eq!(day["runs"], 1, "{history}");
    assert_eq!(day["models"][0]["model"], "gpt-4o-mini");
    assert_eq!(day["models"][0]["calls"], 9);
    let bad = app.get("/api/metrics/cost-history?days=0").await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("days must be 1–365"));

    // The job document carries the model's results; the unsourced signal was dropped.
    let doc = app.job_document(JOB).await;
    assert_eq!(doc["cv_reasoning"], "Model reasoning: lead with the pipeline work.");
    assert_eq!(doc["fit_score"], 82);
    assert_eq!(doc["fit_category"], "strong", "derived from the score");
    assert_eq!(
        doc["company_research"]["signals"].as_array().unwrap().len(),
        0,
        "no sources were researched"
    );
    assert!(log.contains("dropped 2 company signal(s)"), "{log}");
    assert_eq!(doc["selected_stars"].as_array().unwrap().len(), 2);
    let contact = &doc["primary_contacts"][0];
    assert!(
        contact["email_body"].as_str().unwrap().ends_with("(model draft)"),
        "{contact}"
    );
    assert_eq!(contact["name"], "Hiring Manager");
    assert!(
        log.contains("outreach drafts for 4 contact(s) written by the model"),
        "{log}"
    );
    assert!(!log.contains(KEY));
    let metrics = app.get_text("/metrics").await;
    for needle in [
        "job_runner_stage_outputs_total{stage=\"cv\",producer=\"llm\"}",
        "job_runner_llm_calls_total{provider=\"openai-compatible\",model=\"gpt-4o-mini\",outcome=\"ok\"}",
        "job_runner_llm_cost_usd_total{provider=\"openai-compatible\",model=\"gpt-4o-mini\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from /metrics");
    }
}

#[actix_web::test]
async fn with_anthropic_every_stage_uses_the_messages_api() {
    let server = MockServer::start().await;
    let a = answers();
    for (phrase, v) in a.all() {
        Mock::given(method("POST"))
            .and(path("/v1/messages"))
            .and(body_string_contains(phrase))
            .respond_with(anthropic_message(&v.to_string(), 1000, 200))
            .mount(&server)
            .await;
    }
    let base = server.uri();
    let app = spawn_app_with(
        move |s| {
            s.llm.anthropic_api_key = Some(Secret::new(KEY));
            s.llm.openai_api_key = Some(Secret::new("sk-other"));
            s.llm.use_anthropic = true;
            s.llm.anthropic_base_url = base;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    for stage in MODEL_STAGES {
        assert_eq!(p[stage], "llm", "{stage}: {log}");
    }
    // 8 calls (research + outreach) × (1,000 × $0.80/M + 200 × $4/M) = 8 × $0.0016 = $0.0128.
    let cost = &app.get_json(&format!("/runs/{run}")).await["cost"];
    assert_eq!(cost["calls"], 8);
    assert!(close(cost["cost_usd"].as_f64().unwrap(), 0.0128), "{cost}");
    let key = &requests_with(&server, PAIN).await[0].headers["x-api-key"];
    assert_eq!(key.to_str().unwrap(), KEY);
}

#[actix_web::test]
async fn fenced_json_is_accepted_bad_json_is_repaired_and_hopeless_output_falls_back() {
    let server = MockServer::start().await;
    let a = answers();
    // Pain points: prose around a fenced block.
    answer(
        &server,
        PAIN,
        openai_completion(
            &format!("Sure! Here it is:\n```json\n{}\n```\nAnything else?", a.pain),
            10,
            10,
        ),
    )
    .await;
    answer(&server, RESEARCH, openai_completion(&a.research.to_string(), 10, 10)).await;
    // Fit score: the repair turn (which quotes the gate's complaint) gets a valid answer.
    Mock::given(method("POST"))
        .and(body_string_contains(FIT))
        .and(body_string_contains("It was rejected"))
        .respond_with(openai_completion(&a.fit.to_string(), 10, 10))
        .with_priority(1)
        .mount(&server)
        .await;
    answer(
        &server,
        FIT,
        openai_completion(r#"{"fit_score": 150, "fit_rationale": "Great."}"#, 10, 10),
    )
    .await;
    answer(&server, CV, openai_completion(&a.cv.to_string(), 10, 10)).await;
    // Cover letter: never JSON.
    answer(
        &server,
        LETTER,
        openai_completion("I would rather write a poem.", 10, 10),
    )
    .await;
    let app = spawn_app_with(openai_settings(&server), &[]).await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    assert_eq!(p["pain_points"], "llm", "{log}");
    assert_eq!(p["fit_score"], "llm", "{log}");
    assert_eq!(p["cover_letter"], "offline_fallback", "{log}");
    let fit_calls = requests_with(&server, FIT).await;
    assert_eq!(fit_calls.len(), 2, "one repair turn");
    let repair = String::from_utf8_lossy(&fit_calls[1].body).to_string();
    assert!(
        repair.contains("fit_score must be an integer 0–100, got 150"),
        "{repair}"
    );
    assert_eq!(
        requests_with(&server, LETTER).await.len(),
        3,
        "first answer and two repairs"
    );
    assert!(
        log.contains("falling back to the offline implementation (invalid output)") && log.contains("no JSON object"),
        "{log}"
    );
    let cost = &app.get_json(&format!("/runs/{run}")).await["cost"];
    assert_eq!(
        cost["by_stage"]["cover_letter"]["calls"], 3,
        "failed turns are paid for and recorded"
    );
}

#[actix_web::test]
async fn a_429_is_retried_after_the_providers_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(PAIN))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_all_openai(&server, &answers()).await;
    let app = spawn_app_with(openai_settings(&server), &[]).await;
    let (run, log) = run_to_end(&app).await;
    assert_eq!(producers(&app, &run).await["pain_points"], "llm", "{log}");
    let pain_calls = requests_with(&server, PAIN).await;
    assert_eq!(pain_calls.len(), 2, "the 429 and the retry");
    let cost = &app.get_json(&format!("/runs/{run}")).await["cost"];
    assert_eq!(cost["by_stage"]["pain_points"]["calls"], 1, "one call, retried inside");
}

#[actix_web::test]
async fn a_storm_of_500s_opens_the_circuit_and_the_run_finishes_offline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "overloaded"}})))
        .mount(&server)
        .await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.max_attempts = 2;
            s.llm.circuit_threshold = 2;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    for stage in MODEL_STAGES {
        assert_eq!(p[stage], "offline_fallback", "{stage}: {log}");
    }
    // Pain points and research fail together and open the circuit (threshold 2); the
    // later stages make no call at all.
    let total = server.received_requests().await.unwrap().len();
    assert!((2..=4).contains(&total), "{total} requests: {log}");
    for phrase in [FIT, CV, LETTER] {
        assert!(
            requests_with(&server, phrase).await.is_empty(),
            "{phrase} called with the circuit open"
        );
    }
    assert!(log.contains("circuit is open"), "{log}");
}

#[actix_web::test]
async fn a_rejected_key_is_named_never_shown_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key provided"}})),
        )
        .mount(&server)
        .await;
    let app = spawn_app_with(openai_settings(&server), &[]).await;
    let (run, log) = run_to_end(&app).await;
    assert!(log.contains("rejected the API key (OPENAI_API_KEY)"), "{log}");
    assert!(!log.contains(KEY), "the key leaked into the log");
    assert_eq!(requests_with(&server, PAIN).await.len(), 1, "a 401 is not retried");
    let p = producers(&app, &run).await;
    assert_eq!(p["pain_points"], "offline_fallback");
    let detail = app.get_text(&format!("/runs/{run}")).await;
    assert!(!detail.contains(KEY));
}

#[actix_web::test]
async fn an_exhausted_budget_switches_the_remaining_stages_offline() {
    let server = MockServer::start().await;
    let a = answers();
    // At $1/M both ways: the extraction, pain points, research and its outreach drafts cost
    // 1,000 + 200 tokens = $0.0012 each; the fit score reports 1,200,000 input tokens = $1.2, past
    // MAX_COST_PER_RUN = $1. (The fit score does not wait for research, so the pain points
    // answer is delayed to keep research's two calls ahead of the fit score's spend.)
    answer(
        &server,
        PAIN,
        openai_completion(&a.pain.to_string(), 1_000, 200).set_delay(Duration::from_millis(300)),
    )
    .await;
    answer(&server, FIT, openai_completion(&a.fit.to_string(), 1_200_000, 0)).await;
    mount_all_openai(&server, &a).await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.model = Some("pricey".into());
            s.llm.prices = PriceTable::new(&[("pricey", 1.0, 1.0)]);
            s.llm.max_cost_per_run = 1.0;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    for stage in ["extract", "pain_points", "research", "fit_score"] {
        assert_eq!(p[stage], "llm", "{stage}: {log}");
    }
    // The CV and the cover letter start together after the fit score: the first to check
    // is refused (offline_fallback), the others may already find the budget spent (offline).
    for stage in ["cv", "cv_review", "cover_letter"] {
        assert!(
            ["offline", "offline_fallback"].contains(&p[stage].as_str()),
            "{stage}: {}: {log}",
            p[stage]
        );
    }
    assert!(log.contains("LLM budget of this run exhausted"), "{log}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        5,
        "no call past the budget"
    );
    assert!(requests_with(&server, CV).await.is_empty() && requests_with(&server, LETTER).await.is_empty());
    let detail = app.get_json(&format!("/runs/{run}")).await;
    // Four calls at $0.0012 and the fit score's $1.2.
    assert!(close(detail["cost"]["cost_usd"].as_f64().unwrap(), 1.2048), "{detail}");
    assert!(close(detail["cost_usd"].as_f64().unwrap(), 1.2048), "{detail}");
}

#[actix_web::test]
async fn a_cv_that_invents_an_employer_or_a_metric_is_rejected_by_the_fact_check() {
    let server = MockServer::start().await;
    let a = answers();
    let mut invented = a.cv.clone();
    invented["cv_text"] = json!(format!(
        "{}\n\n### Staff Engineer, Globex Corporation\n- Cut cloud costs by 97%\n",
        a.cv["cv_text"].as_str().unwrap()
    ));
    answer(&server, CV, openai_completion(&invented.to_string(), 10, 10)).await;
    for (phrase, v) in [
        (PAIN, &a.pain),
        (RESEARCH, &a.research),
        (FIT, &a.fit),
        (LETTER, &a.letter),
    ] {
        answer(&server, phrase, openai_completion(&v.to_string(), 10, 10)).await;
    }
    let app = spawn_app_with(openai_settings(&server), &[]).await;
    let (run, log) = run_to_end(&app).await;
    let cv_calls = requests_with(&server, CV).await;
    assert_eq!(
        cv_calls.len(),
        3,
        "two repair turns listing the violations, then the fallback"
    );
    let repair = String::from_utf8_lossy(&cv_calls[1].body).to_string();
    assert!(
        repair.contains("Globex Corporation") && repair.contains("which the master CV does not contain"),
        "{repair}"
    );
    assert!(
        repair.contains("97%") && repair.contains("is not in the master CV"),
        "{repair}"
    );
    // Each rejected turn is explained in the run's own log, with the gate's reasons.
    let rejected: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("LLM call") && l.contains("for cv (turn") && l.contains("rejected:"))
        .collect();
    assert_eq!(rejected.len(), 3, "{log}");
    assert!(rejected.iter().all(|l| l.contains("globex")), "{rejected:?}");
    assert!(rejected[0].contains("97%"), "{}", rejected[0]);
    // GET /runs/{id} explains the stage: producer, model, turns and each turn's reasons.
    let detail = app.get_json(&format!("/runs/{run}")).await;
    let cv = &detail["stages"]["cv"];
    assert_eq!(cv["producer"], "offline_fallback", "{cv}");
    assert_eq!(
        (cv["turns"].clone(), cv["rejected_turns"].clone()),
        (json!(3), json!(3)),
        "{cv}"
    );
    assert!(cv["model"].is_string(), "{cv}");
    assert!(cv["calls"][2]["reasons"].as_str().unwrap().contains("globex"), "{cv}");
    assert_eq!(detail["stages"]["pain_points"]["rejected_turns"], 0);
    assert_eq!(producers(&app, &run).await["cv"], "offline_fallback", "{log}");
    let doc = app.job_document(JOB).await;
    let cv_text = doc["cv_text"].as_str().unwrap_or_default();
    assert!(!cv_text.contains("Globex") && !cv_text.contains("97%"), "{cv_text}");
}

/// FireCrawl answers: company news with a URL, and public profiles.
async fn mount_firecrawl(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .and(body_string_contains("linkedin.com/in"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": [
            {"url": "https://www.linkedin.com/in/jane-doe", "title": "Jane Doe - Engineering Manager - Northwind Logistics | LinkedIn", "description": "Engineering"},
            {"url": "https://northwind.example/careers", "title": "Careers", "description": "not a person"}
        ]})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": [
            {"url": "https://news.example/northwind-series-b", "title": "Northwind raises Series B", "markdown": "Northwind Logistics raised a Series B in March 2026."}
        ]})))
        .mount(server)
        .await;
}

fn firecrawl_settings(llm: &MockServer, fc: &MockServer, cap: u32) -> impl FnOnce(&mut Settings) {
    let (llm_settings, fc_base) = (openai_settings(llm), fc.uri());
    move |s: &mut Settings| {
        llm_settings(s);
        s.firecrawl.api_key = Some(Secret::new("fc-test-key"));
        s.firecrawl.base_url = fc_base;
        s.firecrawl.max_calls_per_run = cap;
    }
}

#[actix_web::test]
async fn firecrawl_sources_ground_the_signals_find_contacts_and_are_cached() {
    let (llm, fc) = (MockServer::start().await, MockServer::start().await);
    mount_all_openai(&llm, &answers()).await;
    mount_firecrawl(&fc).await;
    let app = spawn_app_with(firecrawl_settings(&llm, &fc, 20), &[]).await;
    let (_, log) = run_to_end(&app).await;
    assert_eq!(
        fc.received_requests().await.unwrap().len(),
        2,
        "company search and contact search"
    );
    let auth = &fc.received_requests().await.unwrap()[0].headers["authorization"];
    assert_eq!(auth.to_str().unwrap(), "Bearer fc-test-key");
    let research_prompt = String::from_utf8_lossy(&requests_with(&llm, RESEARCH).await[0].body).to_string();
    assert!(
        research_prompt.contains("https://news.example/northwind-series-b"),
        "sources reach the model"
    );
    let doc = app.job_document(JOB).await;
    let signals = doc["company_research"]["signals"].as_array().unwrap();
    assert_eq!(signals.len(), 1, "the signal without a source is dropped: {log}");
    assert_eq!(signals[0]["source"], "https://news.example/northwind-series-b");
    let primary = doc["primary_contacts"].as_array().unwrap();
    assert_eq!(primary[0]["name"], "Jane Doe", "{log}");
    assert_eq!(primary[0]["linkedin_url"], "https://www.linkedin.com/in/jane-doe");
    assert!(primary[0]["linkedin_message"]
        .as_str()
        .unwrap()
        .starts_with("Hello Jane"));

    // The same company again: both answers come from the cache, nothing is paid.
    let (_, log) = run_to_end(&app).await;
    assert_eq!(fc.received_requests().await.unwrap().len(), 2, "{log}");
    assert_eq!(log.matches("research cache hit").count(), 2, "{log}");
    let metrics = app.get_text("/metrics").await;
    assert!(metrics.contains("job_runner_firecrawl_requests_total{outcome=\"cache_hit\"}"));
}

/// An operation's body options, per run: `force_refresh` makes fresh FireCrawl calls where
/// the cache would answer; `use_llm: false` asks no model.
#[actix_web::test]
async fn force_refresh_and_use_llm_are_honoured_per_run() {
    let (llm, fc) = (MockServer::start().await, MockServer::start().await);
    mount_all_openai(&llm, &answers()).await;
    mount_firecrawl(&fc).await;
    let app = spawn_app_with(firecrawl_settings(&llm, &fc, 20), &[]).await;
    run_to_end(&app).await;
    assert_eq!(fc.received_requests().await.unwrap().len(), 2);
    let op = |op: &'static str, body: Value| {
        let app = &app;
        async move {
            let res = app.post(&format!("/api/jobs/{JOB}/operations/{op}/queue"), &body).await;
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["success"], true, "{v}");
            let run = v["run_id"].as_str().unwrap().to_owned();
            assert_eq!(app.wait_for_end(&run).await, "completed");
            run
        }
    };
    // Without force_refresh the cache answers; with it, FireCrawl is asked again.
    let cached = op("research-company", json!({})).await;
    assert_eq!(fc.received_requests().await.unwrap().len(), 2);
    let fresh = op("research-company", json!({"force_refresh": true})).await;
    assert_eq!(fc.received_requests().await.unwrap().len(), 4, "fresh calls");
    let log: Vec<String> = app
        .stream_logs(&fresh, None)
        .await
        .into_iter()
        .map(|e| e.data)
        .collect();
    assert!(
        log.iter()
            .any(|l| l.contains("force_refresh: the research cache is not read")),
        "{log:?}"
    );
    assert_ne!(cached, fresh);
    // use_llm false: the CV is written offline and no model is asked for it.
    let before = requests_with(&llm, CV).await.len();
    let offline = op("generate-cv", json!({"use_llm": false})).await;
    assert_eq!(requests_with(&llm, CV).await.len(), before, "no model call");
    assert_eq!(producers(&app, &offline).await["cv"], "offline");
    let status = app.get_json(&format!("/jobs/{offline}/status")).await;
    assert_eq!(status["operation"], "generate-cv");
}

#[actix_web::test]
async fn the_per_run_firecrawl_cap_stops_further_calls() {
    let (llm, fc) = (MockServer::start().await, MockServer::start().await);
    mount_all_openai(&llm, &answers()).await;
    mount_firecrawl(&fc).await;
    let app = spawn_app_with(firecrawl_settings(&llm, &fc, 1), &[]).await;
    let (_, log) = run_to_end(&app).await;
    assert_eq!(fc.received_requests().await.unwrap().len(), 1, "{log}");
    assert!(log.contains("MAX_FIRECRAWL_CALLS_PER_RUN (1) reached"), "{log}");
    let doc = app.job_document(JOB).await;
    assert_eq!(
        doc["primary_contacts"][0]["name"], "Hiring Manager",
        "role-based contacts"
    );
}

#[actix_web::test]
async fn a_provider_that_times_out_leaves_the_run_to_the_offline_stages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_completion("{}", 1, 1).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.timeout = Duration::from_millis(300);
            s.llm.max_attempts = 2;
            // Every stage times out: keep the circuit closed so each is tried.
            s.llm.circuit_threshold = 100;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    assert!(log.contains("request timed out"), "{log}");
    assert_eq!(producers(&app, &run).await["pain_points"], "offline_fallback", "{log}");
    assert_eq!(requests_with(&server, PAIN).await.len(), 2, "a timeout is retried");
}

#[actix_web::test]
async fn with_openrouter_the_openai_compatible_client_goes_to_openrouter() {
    let server = MockServer::start().await;
    mount_all_openai(&server, &answers()).await;
    let base = format!("{}/api/v1", server.uri());
    let app = spawn_app_with(
        move |s| {
            s.llm.openrouter_api_key = Some(Secret::new("sk-or-test-key"));
            s.llm.openai_api_key = Some(Secret::new(KEY));
            s.llm.use_openrouter = true;
            s.llm.openrouter_base_url = base;
            s.llm.model = Some("openai/gpt-4o-mini".into());
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    assert!(
        log.contains("output produced by openrouter/openai/gpt-4o-mini"),
        "{log}"
    );
    assert_eq!(producers(&app, &run).await["cover_letter"], "llm");
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| r.url.path() == "/api/v1/chat/completions"));
    assert_eq!(
        requests[0].headers["authorization"].to_str().unwrap(),
        "Bearer sk-or-test-key"
    );
    // 8 calls × (1,000 × $0.15/M + 200 × $0.60/M) = $0.00216 at the table's OpenRouter price.
    let cost = &app.get_json(&format!("/runs/{run}")).await["cost"];
    assert!(close(cost["cost_usd"].as_f64().unwrap(), 0.00216), "{cost}");
}

#[actix_web::test]
async fn long_inputs_are_cut_to_the_stage_budget_and_the_cut_is_logged() {
    let server = MockServer::start().await;
    mount_all_openai(&server, &answers()).await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            // Below the configurable minimum, to cut the short example posting.
            s.llm.input_tokens = 100;
        },
        &[],
    )
    .await;
    let (_, log) = run_to_end(&app).await;
    assert!(log.contains("input cut for the model: posting from ~"), "{log}");
    assert!(log.contains("input cut for the model: master CV from ~"), "{log}");
    let body = String::from_utf8_lossy(&requests_with(&server, PAIN).await[0].body).to_string();
    assert!(body.contains("Northwind"), "the start of the posting is sent");
    assert!(!body.contains("Competitive salary"), "its end is cut: {body}");
}

#[actix_web::test]
async fn the_answer_schema_is_sent_only_when_the_schema_mode_asks_for_it() {
    for (mode, expected) in [
        (job_runner::llm::SchemaMode::Off, None),
        (job_runner::llm::SchemaMode::JsonObjectSchema, Some("json_object")),
        (job_runner::llm::SchemaMode::JsonSchema, Some("json_schema")),
    ] {
        let server = MockServer::start().await;
        mount_all_openai(&server, &answers()).await;
        let app = spawn_app_with(
            |s| {
                openai_settings(&server)(s);
                s.llm.schema_mode = mode;
            },
            &[],
        )
        .await;
        run_to_end(&app).await;
        let body: Value = serde_json::from_slice(&requests_with(&server, PAIN).await[0].body).unwrap();
        let format = &body["response_format"];
        match expected {
            None => assert_eq!(format, &json!({"type": "json_object"})),
            Some("json_object") => {
                assert_eq!(format["type"], "json_object");
                assert_eq!(format["schema"]["required"][0], "pain_points", "{format}");
            }
            Some(_) => {
                assert_eq!(format["type"], "json_schema");
                let schema = &format["json_schema"]["schema"];
                assert_eq!(
                    schema["properties"]["success_metrics"]["items"]["type"], "string",
                    "{format}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn a_spent_daily_budget_sends_new_runs_offline_and_the_widget_shows_it() {
    let server = MockServer::start().await;
    mount_all_openai(&server, &answers()).await;
    let base = openai_settings(&server);
    let app = spawn_app_with(
        move |s| {
            base(s);
            // The first run (calls of 1,000 + 200 tokens each) spends more than this.
            s.llm.daily_budget_usd = 0.001;
            s.llm.monthly_budget_usd = 1.0;
        },
        &[],
    )
    .await;
    let (first, _) = run_to_end(&app).await;
    assert_eq!(producers(&app, &first).await["cv"], "llm");
    let calls = server.received_requests().await.unwrap().len();

    let budget = app.get_json("/api/metrics/budget").await;
    assert_eq!(budget["by_tracker"]["daily"]["status"], "exceeded", "{budget}");
    assert_eq!(budget["by_tracker"]["daily"]["is_exceeded"], true);
    assert_eq!(budget["by_tracker"]["monthly"]["status"], "ok");
    assert_eq!(budget["trackers_exceeded"], 1);
    assert!(close(budget["total_budget_usd"].as_f64().unwrap(), 1.001));
    let used = budget["by_tracker"]["daily"]["used_usd"].as_f64().unwrap();
    assert!(
        used > 0.001 && close(used, budget["today"]["cost_usd"].as_f64().unwrap()),
        "{budget}"
    );

    let (second, log) = run_to_end(&app).await;
    assert!(log.contains("the daily LLM budget is spent"), "{log}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        calls,
        "no call after the budget"
    );
    let p = producers(&app, &second).await;
    for stage in MODEL_STAGES {
        assert_eq!(p[stage], "offline", "{stage} did not even try the model");
    }
}

/// A careful model's CV for the example master CV: its own section headings, hyphens
/// where the master CV has en dashes, roles written "Title - Employer (years)".
const HONEST_CV: &str = "# Maria Keller\n\nBerlin, Germany · maria.keller@example.com\n\n\
## Professional Summary\n\nBackend engineer with eleven years of experience building and operating high-volume services in Rust, Go and Python.\n\n\
## Key Achievements\n\n\
- Raised throughput of the shipment-tracking event pipeline from 4,000 to 30,000 events per second on Kafka and Rust\n\
- Cut p99 API latency by 45% with request coalescing and a PostgreSQL read replica strategy\n\
- Defined service-level objectives for 14 services and reduced paging incidents by 60% in one year\n\n\
## Professional Experience\n\n\
### Staff Backend Engineer - Freightline GmbH (2021 - Present)\n\n\
- Led the redesign of the shipment-tracking event pipeline on Kafka and Rust\n\
- Migrated 3 legacy Python services to Rust with zero customer-facing downtime\n\
- Mentored 5 engineers, two of whom were promoted to senior\n\n\
### Senior Software Engineer - Parcelify AG (2017-2021)\n\n\
- Built the route-optimisation API in Go serving 2 million requests per day\n\
- Introduced Kubernetes and Terraform for all services, shortening deploys from 40 minutes to 6 minutes\n\
- Designed the PostgreSQL partitioning scheme that kept query times flat while data grew 10x\n\n\
### Software Engineer - Datenwerk Solutions (2013-2017)\n\n\
- Developed ETL jobs in Python that fed the customer analytics warehouse\n\n\
## Education\n\n\
### MSc Computer Science - Technische Universität München (2011-2013)\n\
### BSc Computer Science - Universität Stuttgart (2008-2011)\n\n\
## Core Skills\n\n- Rust, Go, Python, SQL; Kafka, PostgreSQL; Kubernetes, Terraform, AWS\n";

/// A rationale quoting the posting's "microservices vs. monoliths", with an "e.g.": three
/// sentences.
const HONEST_RATIONALE: &str =
    "The CV matched the core requirements, e.g. Rust and Kafka in production at Freightline GmbH. \
Its migration of 3 legacy Python services bears on the posting's \"microservices vs. monoliths\" question. \
Missing: logistics-specific tooling beyond that role.";

fn honest_posting() -> job_runner::domain::JobPosting {
    let mut job = posting(JOB, None);
    job.job_description
        .push_str("\n\nWe are deciding microservices vs. monoliths for the pricing engine.");
    job
}

/// Mounts every answer of `a` with `cv` as the CV answer and `rationale` as the fit's.
async fn mount_with(server: &MockServer, a: &Answers, cv: &str, rationale: &str) {
    let mut fit = a.fit.clone();
    fit["fit_rationale"] = json!(rationale);
    let cv = json!({"cv_text": cv, "cv_reasoning": "Led with the pipeline work the posting asks for."});
    for (phrase, v) in a.all() {
        let v = match phrase {
            CV => &cv,
            FIT => &fit,
            _ => v,
        };
        answer(server, phrase, openai_completion(&v.to_string(), 100, 50)).await;
    }
}

/// Honest answers worded differently from the master CV pass on the first turn.
#[actix_web::test]
async fn honest_answers_in_their_own_words_pass_on_the_first_turn() {
    let server = MockServer::start().await;
    let a = answers();
    mount_with(&server, &a, HONEST_CV, HONEST_RATIONALE).await;
    let app = spawn_app_with(openai_settings(&server), &[honest_posting()]).await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    for stage in MODEL_STAGES {
        assert_eq!(p[stage], "llm", "{stage}: {log}");
    }
    assert_eq!(requests_with(&server, CV).await.len(), 1, "no repair turn: {log}");
    assert_eq!(requests_with(&server, FIT).await.len(), 1, "no repair turn: {log}");
    assert!(!log.contains("rejected:"), "{log}");
    let doc = app.job_document(JOB).await;
    assert!(doc["cv_text"].as_str().unwrap().contains("## Key Achievements"));
    // The dossier names each stage's producer and model.
    let dossier = app.get_text(&format!("/artifacts/{run}/dossier.txt")).await;
    for stage in MODEL_STAGES {
        assert!(
            dossier.contains(&format!("  {stage}: model openai-compatible/gpt-4o-mini")),
            "{stage}: {dossier}"
        );
    }
    assert!(!dossier.contains("offline"), "{dossier}");
}

/// Dishonest CVs, side by side with the honest one: each is rejected on every turn, the
/// reason is in the run log, and the offline CV is published instead.
#[actix_web::test]
async fn invented_employers_dates_degrees_and_numbers_are_still_rejected() {
    let cases = [
        (
            HONEST_CV.replace("Parcelify AG (2017-2021)", "Globex AG (2017-2021)"),
            "\"globex\"",
        ),
        (
            HONEST_CV.replace("Parcelify AG (2017-2021)", "Parcelify AG (2016-2021)"),
            "date 2016 is not in the master CV",
        ),
        (
            HONEST_CV.replace(
                "### BSc Computer Science",
                "### PhD Distributed Systems - Universität Stuttgart (2013-2017)\n### BSc Computer Science",
            ),
            "\"phd\"",
        ),
        (
            HONEST_CV.replace("by 45%", "by 70%"),
            "number \"70%\" is not in the master CV",
        ),
    ];
    for (cv, reason) in cases {
        let server = MockServer::start().await;
        let a = answers();
        mount_with(&server, &a, &cv, HONEST_RATIONALE).await;
        let app = spawn_app_with(openai_settings(&server), &[honest_posting()]).await;
        let (run, log) = run_to_end(&app).await;
        assert_eq!(producers(&app, &run).await["cv"], "offline_fallback", "{reason}: {log}");
        let dossier = app.get_text(&format!("/artifacts/{run}/dossier.txt")).await;
        assert!(dossier.contains("  cv: offline fallback"), "{dossier}");
        assert!(dossier.contains("  fit_score: model "), "{dossier}");
        assert_eq!(requests_with(&server, CV).await.len(), 3, "{reason}");
        let rejected: Vec<&str> = log.lines().filter(|l| l.contains("for cv (turn")).collect();
        assert_eq!(rejected.len(), 3, "{log}");
        assert!(
            rejected.iter().all(|l| l.contains("rejected:") && l.contains(reason)),
            "{reason}: {rejected:?}"
        );
    }
}

/// A failing helper call does not sink its stage: the STAR choice fails with a provider
/// error, the lexical choice is used, and the model is still asked for the CV.
#[actix_web::test]
async fn a_failed_star_choice_still_leaves_the_cv_to_the_model() {
    let server = MockServer::start().await;
    let a = answers();
    answer(
        &server,
        STAR,
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad request for this model"}})),
    )
    .await;
    for (phrase, v) in a.all().into_iter().filter(|(p, _)| *p != STAR) {
        answer(&server, phrase, openai_completion(&v.to_string(), 100, 50)).await;
    }
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.enable_star_selector = true;
        },
        &[],
    )
    .await;
    let (run, log) = run_to_end(&app).await;
    assert_eq!(requests_with(&server, STAR).await.len(), 1);
    assert!(
        log.contains("STAR selection by the model failed") && log.contains("still asking the model for the CV"),
        "{log}"
    );
    assert_eq!(requests_with(&server, CV).await.len(), 1);
    assert_eq!(producers(&app, &run).await["cv"], "llm", "{log}");
}

/// Tiers choose each stage's model from the table and how many contacts the package
/// keeps; `auto` goes by the job's latest fit score.
#[actix_web::test]
async fn tiers_choose_the_models_and_auto_follows_the_fit_score() {
    use job_runner::config::{TierClass, TierSettings};
    let server = MockServer::start().await;
    let a = answers();
    mount_all_openai(&server, &a).await;
    let app = spawn_app_with(
        |s| {
            openai_settings(&server)(s);
            s.llm.tiers.insert(
                TierClass::Quality,
                TierSettings {
                    model: None,
                    stage_models: [(job_runner::domain::StageName::Cv, "gpt-quality".to_owned())].into(),
                    contacts: 5,
                },
            );
            s.llm.tiers.insert(
                TierClass::Fast,
                TierSettings {
                    model: Some("gpt-fast".into()),
                    stage_models: Default::default(),
                    contacts: 2,
                },
            );
        },
        &[],
    )
    .await;
    let model_of = |r: &Request| {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["model"].as_str().unwrap().to_owned()
    };
    let start = |tier: &'static str| {
        let app = &app;
        async move {
            let res = app
                .post("/jobs/run", &json!({"job_id": JOB, "processing_tier": tier}))
                .await;
            let run = res.json::<Value>().await.unwrap()["run_id"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(app.wait_for_end(&run).await, "completed");
            run
        }
    };
    let quality = start("quality").await;
    assert_eq!(model_of(&requests_with(&server, CV).await[0]), "gpt-quality");
    assert_eq!(
        model_of(&requests_with(&server, PAIN).await[0]),
        "gpt-4o-mini",
        "the stage's own model"
    );
    let dossier = app.get_text(&format!("/artifacts/{quality}/dossier.txt")).await;
    assert!(
        dossier.contains("  cv: model openai-compatible/gpt-quality"),
        "{dossier}"
    );

    let fast = start("D").await;
    for phrase in [PAIN, CV, LETTER] {
        assert_eq!(
            model_of(requests_with(&server, phrase).await.last().unwrap()),
            "gpt-fast",
            "{phrase}"
        );
    }
    let doc = app.job_document(JOB).await;
    assert_eq!(
        doc["primary_contacts"].as_array().unwrap().len(),
        1,
        "tier D keeps one contact"
    );
    let log: Vec<String> = app.stream_logs(&fast, None).await.into_iter().map(|e| e.data).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("tier D: fast models, up to 1 contact(s)")),
        "{log:?}"
    );

    // auto: the latest fit score (82 in the model's answer) is tier B, balanced models.
    let auto = start("auto").await;
    let log: Vec<String> = app.stream_logs(&auto, None).await.into_iter().map(|e| e.data).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("the job's latest fit score is 82, so tier B")),
        "{log:?}"
    );
    assert_eq!(
        model_of(requests_with(&server, CV).await.last().unwrap()),
        "gpt-4o-mini"
    );
}

/// The extraction and the CV review through the model: an extraction naming a skill the
/// posting never mentions is repaired on the next turn; a review that states a number the
/// CV does not hold and criticises without quoting is rejected on every turn and the
/// offline rubric is published instead, with the reason in the log.
#[actix_web::test]
async fn extraction_is_repaired_and_a_dishonest_review_falls_back_to_the_rubric() {
    let server = MockServer::start().await;
    let a = answers();
    let mut invented = a.extract.clone();
    invented["technical_skills"] = json!(["Haskell", "Kafka"]);
    Mock::given(method("POST"))
        .and(body_string_contains(EXTRACT))
        .and(body_string_contains("It was rejected"))
        .respond_with(openai_completion(&a.extract.to_string(), 10, 10))
        .with_priority(1)
        .mount(&server)
        .await;
    answer(&server, EXTRACT, openai_completion(&invented.to_string(), 10, 10)).await;
    let mut dishonest = a.review.clone();
    dishonest["strengths"] = json!(["Cut cloud costs by 73% at Freightline GmbH"]);
    dishonest["weaknesses"] = json!(["Too vague overall"]);
    answer(&server, REVIEW, openai_completion(&dishonest.to_string(), 10, 10)).await;
    for (phrase, v) in a.all() {
        if phrase != EXTRACT && phrase != REVIEW {
            answer(&server, phrase, openai_completion(&v.to_string(), 10, 10)).await;
        }
    }
    let app = spawn_app_with(openai_settings(&server), &[]).await;
    let (run, log) = run_to_end(&app).await;
    let p = producers(&app, &run).await;
    assert_eq!(p["extract"], "llm", "{log}");
    let extract_calls = requests_with(&server, EXTRACT).await;
    assert_eq!(extract_calls.len(), 2, "one repair turn: {log}");
    let repair = String::from_utf8_lossy(&extract_calls[1].body).to_string();
    assert!(
        repair.contains("Haskell"),
        "the repair names the invented skill: {repair}"
    );

    assert_eq!(p["cv_review"], "offline_fallback", "{log}");
    assert_eq!(
        requests_with(&server, REVIEW).await.len(),
        3,
        "two repair turns, then the rubric"
    );
    assert!(log.contains("73%"), "the rejection is logged with its reason: {log}");
    assert!(log.contains("quotes nothing"), "{log}");

    let doc = app.job_document(JOB).await;
    let review = &doc["cv_review"];
    assert_eq!(review["model"], "offline", "{review}");
    assert!(["strong", "consider", "weak"].contains(&review["verdict"].as_str().unwrap()));
    assert_eq!(review["full_review"]["rubric"].as_array().unwrap().len(), 5);
    assert!(!review.to_string().contains("73%"));
    let jd = &doc["extracted_jd"];
    assert_eq!(jd["role_category"], "software_engineering", "{jd}");
    assert!(!jd.to_string().contains("Haskell"));
    assert_eq!(doc["processed_jd"], true);
    let file = app.get_text(&format!("/artifacts/{run}/cv_review.md")).await;
    assert!(
        file.starts_with("# CV review") && file.contains("| must-have coverage |"),
        "{file}"
    );
}
