//! The security review's attacks against the real binary (docs/security.md): each test
//! reproduces one and shows that it fails now. These run as a process because the log
//! writer (and its redactor) only exists in the real daemon.
//!
//! Timing claims are ratios against a benign input of the same length, never absolute
//! times: quadratic work on 65,000 characters took seconds where linear work takes
//! milliseconds, so a factor of 5 (plus a small allowance for scheduling noise on tiny
//! durations) tells them apart on any machine.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::cmd;
use crate::serve::{daemon_command, Serve};

const SECRET: &str = "security-test-secret-0123";

/// The median of three timings of `f`.
async fn median_time<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[1]
}

/// Linear within a small factor: `attack` ≤ 5 × `benign` + 50 ms of scheduling noise.
fn assert_linear(what: &str, attack: Duration, benign: Duration) {
    assert!(
        attack <= benign * 5 + Duration::from_millis(50),
        "{what}: the attack input took {attack:?}, the benign input of the same length {benign:?}"
    );
}

async fn start(dir: &Path, adjust: impl FnOnce(&mut Command)) -> Serve {
    let apps = dir.join("applications");
    let mut c = daemon_command(dir, &apps, SECRET);
    adjust(&mut c);
    Serve::start(c, &dir.join("daemon.log"), SECRET).await
}

#[tokio::test]
async fn long_runs_of_phone_separators_in_paths_and_bodies_cost_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(dir.path(), |_| {}).await;
    let n = 65_000;
    let attack = "(".repeat(n);
    let benign = "a".repeat(n);

    // Without a token: an OPTIONS that is no CORS preflight needs the token now, so it is
    // refused before routing, and the path is never echoed.
    let options = |path: String| {
        let client = serve.client.clone();
        let url = format!("{}/{path}", serve.base);
        async move {
            let res = client.request(reqwest::Method::OPTIONS, url).send().await.unwrap();
            assert_eq!(res.status(), 401);
            let body = res.text().await.unwrap();
            assert!(body.len() < 200, "{body}");
        }
    };
    let t_attack = median_time(|| options(attack.clone())).await;
    let t_benign = median_time(|| options(benign.clone())).await;
    assert_linear("unauthenticated OPTIONS", t_attack, t_benign);

    // With a token: the 404 names the path, clipped, and is logged through the redactor.
    let not_found = |path: String| {
        let client = serve.client.clone();
        let url = format!("{}/{path}", serve.base);
        async move {
            let res = client.get(url).bearer_auth(SECRET).send().await.unwrap();
            assert_eq!(res.status(), 404);
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "NOT_FOUND");
            assert!(body["detail"].as_str().unwrap().len() < 400, "{body}");
        }
    };
    let t_attack = median_time(|| not_found(attack.clone())).await;
    let t_benign = median_time(|| not_found(benign.clone())).await;
    assert_linear("GET of an unknown 65,000-character path", t_attack, t_benign);

    // A body field of the wrong type quoting the input.
    let bulk = |ids: String| {
        let client = serve.client.clone();
        let url = format!("{}/jobs/run-bulk", serve.base);
        async move {
            let res = client
                .post(url)
                .bearer_auth(SECRET)
                .json(&json!({ "job_ids": ids }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 422);
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "VALIDATION_FAILED");
            assert!(body["detail"].as_str().unwrap().chars().count() < 600, "{body}");
        }
    };
    let t_attack = median_time(|| bulk(attack.clone())).await;
    let t_benign = median_time(|| bulk(benign.clone())).await;
    assert_linear("run-bulk with job_ids of 65,000 characters", t_attack, t_benign);

    // The daemon stayed responsive, and no log line holds the whole input.
    assert_eq!(
        serve
            .client
            .get(format!("{}/health", serve.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(
        log.lines().all(|l| l.len() < 40_000),
        "a log line carries the whole input"
    );
}

#[tokio::test]
async fn a_real_cors_preflight_still_passes_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(dir.path(), |c| {
        c.env("CORS_ORIGINS", "https://dash.example.com");
    })
    .await;
    let res = serve
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/jobs/run", serve.base))
        .header("Origin", "https://dash.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "preflight answered {}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "https://dash.example.com");
}

/// The example posting with another id and company.
fn posting_with_company(id: &str, company: &str) -> Value {
    let mut doc: Value = serde_json::from_str(include_str!("../../examples/postings/backend-engineer.json")).unwrap();
    doc["_id"] = json!(id);
    doc["company"] = json!(company);
    doc
}

/// Runs one job to its end; returns how long it took from the request to the end event.
async fn run_to_end(serve: &Serve, id: &str) -> Duration {
    let started = Instant::now();
    let run = serve.start_run(id).await;
    let events = crate::sse::parse_sse_whatwg(&serve.full_log(&run).await);
    let end = events.last().unwrap();
    assert_eq!(
        (end.event.as_str(), end.data.as_str()),
        ("end", "completed"),
        "{events:?}"
    );
    started.elapsed()
}

/// A provider whose every answer is a cover letter that names no company: the cover
/// letter's gate then quotes the company in its rejection, which is logged (run log and
/// daemon log) — the path by which a huge company name reached the redactor.
async fn provider_ignoring_the_company() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": "{\"cover_letter\": \"A short letter.\"}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10},
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_job_whose_company_is_200_kb_of_parentheses_runs_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200_000;
    let (warm, attack, benign) = (
        "65a1b2c3d4e5f60718290001",
        "65a1b2c3d4e5f60718290002",
        "65a1b2c3d4e5f60718290003",
    );
    let jobs = json!([
        posting_with_company(warm, "Warm Up Ltd"),
        posting_with_company(attack, &"(".repeat(n)),
        posting_with_company(benign, &"a".repeat(n)),
    ]);
    let file = dir.path().join("jobs.json");
    std::fs::write(&file, jobs.to_string()).unwrap();
    let out = cmd(dir.path())
        .env("DATA_DIR", dir.path().join("data"))
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let provider = provider_ignoring_the_company().await;
    let serve = start(dir.path(), |c| {
        c.env("OPENAI_API_KEY", "sk-company-test-000000")
            .env("OPENAI_BASE_URL", format!("{}/v1", provider.uri()))
            .env("LLM_MAX_ATTEMPTS", "1")
            // Prompts carry the 200 KB name: lift the rate limits so no call waits.
            .env("LLM_TOKENS_PER_MINUTE", "100000000")
            .env("LLM_REQUESTS_PER_MINUTE", "100000")
            .env("LOG_FORMAT", "simple");
    })
    .await;
    // Warm up (first run opens files and caches), then measure both.
    run_to_end(&serve, warm).await;
    let t_attack = run_to_end(&serve, attack).await;
    let t_benign = run_to_end(&serve, benign).await;
    assert_linear("a run with a 200 KB company name", t_attack, t_benign);
    // The rejection quoting the company was logged, cut to a bounded length.
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("does not name the company \"(((("),
        "the attack path was not taken:\n{}",
        &log[..log.len().min(4000)]
    );
    assert!(log.lines().all(|l| l.len() <= 40_000), "an unbounded log line");
}

#[tokio::test]
async fn forged_log_lines_are_escaped_in_the_simple_format() {
    let dir = tempfile::tempdir().unwrap();
    let serve = start(dir.path(), |c| {
        c.env("LOG_FORMAT", "simple");
    })
    .await;
    let forged = "zz\n2026-12-01T00:00:00.000000Z ERROR job_runner: FORGED line\r\nINFO FORGED two";
    let res = serve
        .client
        .post(format!("{}/jobs/run-bulk", serve.base))
        .bearer_auth(SECRET)
        .json(&json!({ "job_ids": [forged] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(!detail.contains('\n') && !detail.contains('\r'), "{detail:?}");
    // A request that logs the raw value as a span field, too.
    let res = serve
        .client
        .post(format!("{}/jobs/run", serve.base))
        .bearer_auth(SECRET)
        .json(&json!({ "job_id": forged }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Both refusals are logged (INFO) before the answer goes out.
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    let mentions: Vec<&str> = log.lines().filter(|l| l.contains("FORGED")).collect();
    assert!(!mentions.is_empty(), "the refusals were not logged:\n{log}");
    for line in mentions {
        assert!(
            line.contains("zz\\n") && !line.trim_start().starts_with("2026-12-01T00:00:00.000000Z ERROR"),
            "a forged line reached the log: {line:?}"
        );
    }
}

#[tokio::test]
async fn an_all_digit_secret_is_read_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "000012345678901234567";
    let apps = dir.path().join("applications");
    let mut c = daemon_command(dir.path(), &apps, secret);
    c.env("ENVIRONMENT", "production");
    let serve = Serve::start(c, &dir.path().join("daemon.log"), secret).await;
    let res = serve
        .client
        .get(format!("{}/runs", serve.base))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the configured all-digit secret is refused");
    let res = serve
        .client
        .get(format!("{}/runs", serve.base))
        .bearer_auth("12345678901234567")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the secret was read as a number");
}

/// `ENV` settings of the Dockerfile's final image, as `(name, value)`.
fn dockerfile_env() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let runtime = text.rsplit("\nFROM ").next().unwrap();
    let mut env = Vec::new();
    let mut in_env = false;
    for line in runtime.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let body = match line.strip_prefix("ENV ") {
            Some(rest) => rest,
            None if in_env => line,
            None => continue,
        };
        in_env = body.ends_with('\\');
        let body = body.trim_end_matches('\\').trim();
        if let Some((k, v)) = body.split_once('=') {
            env.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    env
}

#[test]
fn without_a_secret_the_daemon_refuses_to_serve_on_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    // The container as the Dockerfile configures it, started without RUNNER_API_SECRET.
    let env = dockerfile_env();
    assert!(
        env.iter().any(|(k, v)| k == "ENVIRONMENT" && v == "production"),
        "{env:?}"
    );
    assert!(env.iter().any(|(k, v)| k == "HOST" && v == "0.0.0.0"), "{env:?}");
    let mut c = cmd(dir.path());
    c.arg("config").envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RUNNER_API_SECRET is required"), "{err}");
    assert!(err.contains("openssl rand -hex 32"), "{err}");

    // Even with ENVIRONMENT unset (development), no secret on 0.0.0.0 is refused...
    let out = cmd(dir.path()).arg("config").env("HOST", "0.0.0.0").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HOST=\"0.0.0.0\" is not a loopback address"), "{err}");
    assert!(err.contains("ALLOW_NO_AUTH=true"), "{err}");
    // ...unless asked for explicitly, or the address is loopback.
    for (host, allow) in [
        ("0.0.0.0", "true"),
        ("127.0.0.1", "false"),
        ("::1", "false"),
        ("localhost", "false"),
    ] {
        let out = cmd(dir.path())
            .arg("config")
            .env("HOST", host)
            .env("ALLOW_NO_AUTH", allow)
            .output()
            .unwrap();
        assert!(out.status.success(), "{host}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn placeholder_secrets_are_refused_with_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/runner.env.example")).unwrap();
    let example_secret = example
        .lines()
        .find_map(|l| l.strip_prefix("RUNNER_API_SECRET="))
        .expect("runner.env.example names RUNNER_API_SECRET")
        .to_owned();
    for secret in [
        "change-me-to-16+chars",
        "change-me-to-a-long-random-string",
        example_secret.as_str(),
    ] {
        let out = cmd(dir.path())
            .arg("config")
            .env("ENVIRONMENT", "production")
            .env("RUNNER_API_SECRET", secret)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{secret:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("RUNNER_API_SECRET"), "{err}");
        assert!(err.contains("openssl rand -hex 32"), "{err}");
        assert!(
            secret.is_empty() || !err.contains(secret),
            "the refused secret is echoed: {err}"
        );
    }
}

#[tokio::test]
async fn credentials_in_url_settings_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://llm-user:pw-in-url-9876@127.0.0.1:9/v1";
    let out = cmd(dir.path())
        .arg("config")
        .env("OPENAI_BASE_URL", url)
        .env("FIRECRAWL_BASE_URL", "https://fc-token-5432@127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OPENAI_BASE_URL = http://llm-user:****@127.0.0.1:9/v1"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("pw-in-url-9876") && !stdout.contains("fc-token-5432"),
        "{stdout}"
    );

    // The daemon's start-up line naming the provider.
    let serve = start(dir.path(), |c| {
        c.env("OPENAI_API_KEY", "sk-url-test-0000000000")
            .env("OPENAI_BASE_URL", url)
            .env("LLM_MAX_ATTEMPTS", "1");
    })
    .await;
    let health = serve.client.get(format!("{}/health", serve.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("LLM stages enabled"), "{log}");
    assert!(!log.contains("pw-in-url-9876"), "{log}");
}

#[test]
fn dotenv_is_read_from_the_working_directory_only_and_not_under_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let concurrency = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("MAX_CONCURRENCY = ").map(str::to_owned))
            .unwrap()
    };
    // A .env in a parent directory is not read.
    std::fs::write(dir.path().join(".env"), "MAX_CONCURRENCY=7\n").unwrap();
    assert_eq!(concurrency(cmd(&work).arg("config").output().unwrap()), "3");
    // One in the working directory is...
    std::fs::write(work.join(".env"), "MAX_CONCURRENCY=5\n").unwrap();
    assert_eq!(concurrency(cmd(&work).arg("config").output().unwrap()), "5");
    // ...unless systemd started the process (its EnvironmentFile holds the settings).
    let out = cmd(&work)
        .arg("config")
        .env("INVOCATION_ID", "0123456789abcdef0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(concurrency(out), "3");
}
