//! `GET /metrics`: Prometheus text that `promtool check metrics` accepts, with the families
//! an operator graphs, reflecting a finished run.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{spawn_app, JOB, SECRET};

#[actix_web::test]
async fn metrics_pass_promtool_and_reflect_a_run() {
    let app = spawn_app().await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    app.get(&format!("/jobs/{run}/status")).await;

    let unauthorised = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    for needle in [
        r#"job_runner_http_requests_total{method="POST",route="/jobs/run",status="200"}"#,
        r#"job_runner_http_request_duration_seconds_bucket{method="GET",route="/jobs/{run_id}/status",le="+Inf"}"#,
        r#"job_runner_runs_finished_total{outcome="completed"}"#,
        r#"job_runner_stage_duration_seconds_count{stage="publisher",outcome="completed"}"#,
        "job_runner_active_runs 0",
        "job_runner_max_concurrency 3",
        "job_runner_queue_depth",
        "job_runner_store_up 1",
        "# HELP job_runner_llm_tokens_total",
        "# HELP job_runner_alerts_sent_total",
        "# HELP job_runner_llm_circuit_open",
        "# HELP job_runner_stage_retries_total",
        "job_runner_sse_subscribers",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // Routes are recorded by pattern, never by raw path (no unbounded label values).
    assert!(!text.contains(&run), "a run id leaked into a label");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (scripts/test.sh installs Debian's prometheus package)");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `job_runner_*` series named in `text`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("job_runner_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// True when a live `/metrics` exposes `name` (a histogram's `_bucket`, `_sum` and `_count`
/// belong to its family).
fn exposed(metrics: &str, name: &str) -> bool {
    let described = |n: &str| metrics.contains(&format!("# HELP {n} "));
    described(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(&described))
}

/// The shipped Prometheus rules pass `promtool check rules` and their unit tests, and they
/// and the Grafana dashboard name only series a live `/metrics` exposes.
#[actix_web::test]
async fn monitoring_rules_and_dashboard_use_only_real_metrics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config/monitoring");
    for args in [
        vec!["check", "rules", "job-runner-rules.yml"],
        vec!["test", "rules", "job-runner-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(dir)
            .output()
            .expect("promtool must be installed (scripts/test.sh installs Debian's prometheus package)");
        assert!(
            out.status.success(),
            "promtool {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let app = spawn_app().await;
    let metrics = app.get_text("/metrics").await;
    let rules = std::fs::read_to_string(format!("{dir}/job-runner-rules.yml")).unwrap();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/grafana-dashboard.json")).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 15, "the dashboard has its panels");
    let mut named = metric_names(&rules);
    assert!(named.len() >= 7, "{named:?}");
    named.extend(exprs.iter().flat_map(|e| metric_names(e)));
    let missing: Vec<&String> = named.iter().filter(|n| !exposed(&metrics, n)).collect();
    assert!(missing.is_empty(), "not in /metrics: {missing:?}\n{metrics}");
}
