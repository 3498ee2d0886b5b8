//! Speed and memory benchmark (see docs/benchmarks.md). Run with `scripts/bench.sh`.
//!
//! 1. One run end to end (store, checkpoints, logs, all four artifacts) with the offline
//!    stages: median and p95 over many runs, in-process.
//! 2. Start-up to serving, and idle RSS, of the real `job-runner serve` process.
//! 3. 200 runs queued at once on that process: drain time and peak RSS while draining.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use job_runner::actors::log_follow::LogFollower;
use job_runner::actors::messages::{RunRequest, SubmitRuns};
use job_runner::config::Settings;
use job_runner::domain::{JobId, JobPosting};
use job_runner::runlog::LogEvent;
use job_runner::startup::Runtime;

const SECRET: &str = "bench-secret-0123456789";

/// Percentiles and process memory, shared with the comparisons.
#[path = "compare/common.rs"]
#[allow(dead_code)]
mod common;
use common::{percentile, rss_kib};

fn posting(n: usize) -> JobPosting {
    let doc: serde_json::Value = serde_json::from_str(include_str!("postings/backend-engineer.json")).unwrap();
    let mut job = JobPosting::from_document(doc.as_object().unwrap(), false).unwrap();
    job.id = JobId::parse(&format!("{:024x}", 0xbe00_0000 + n)).unwrap();
    job
}

/// Submits one run of `op` for `job` and waits for its end; milliseconds from submit to end.
async fn timed_run(rt: &Runtime, job: job_runner::domain::JobId, op: job_runner::domain::Operation) -> f64 {
    let started = Instant::now();
    let req = RunRequest {
        job_id: job,
        profile_ref: None,
        source: Some("bench".into()),
        processing_tier: None,
        operation: op,
        options: Default::default(),
    };
    let run = rt
        .supervisor
        .send(SubmitRuns(vec![req]))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let mut events = LogFollower::new(rt.hub.clone(), rt.store.clone()).follow(run.run_id, 0);
    loop {
        match events.recv().await {
            Some(Ok(LogEvent::End(status))) => {
                assert_eq!(status.as_str(), "completed");
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the run's log failed: {e}"),
            None => panic!("the run's log closed before its end"),
        }
    }
    started.elapsed().as_secs_f64() * 1000.0
}

/// An operation after a full run against the full run, each stage taking `latency` (the
/// simulated model call; the publisher calls no model and takes none).
async fn operation_vs_full(latency: Duration) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("master-cv.md"), include_str!("master-cv.md")).unwrap();
    let mut settings = Settings::for_root(dir.path());
    settings.queue.offline_stage_delay = latency;
    let rt = Runtime::start(settings).await.unwrap();
    let job = posting(0);
    rt.store.upsert_job(&job).await.unwrap();
    let full = timed_run(&rt, job.id.clone(), job_runner::domain::Operation::FULL_RUN).await;
    let cv = timed_run(&rt, job.id.clone(), job_runner::domain::Operation::GenerateCv).await;
    println!(
        "generate-cv after a full run ({} ms per stage): {cv:.0} ms against {full:.0} ms, {:.0} % of the full run's wall time",
        latency.as_millis(),
        cv * 100.0 / full
    );
    rt.shutdown().await;
}

async fn run_latency(runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("master-cv.md"), include_str!("master-cv.md")).unwrap();
    let mut settings = Settings::for_root(dir.path());
    settings.queue.max_queue = 10_000;
    let rt = Runtime::start(settings).await.unwrap();
    for n in 0..runs {
        rt.store.upsert_job(&posting(n)).await.unwrap();
    }
    let mut samples = Vec::with_capacity(runs);
    for n in 0..runs {
        samples.push(timed_run(&rt, posting(n).id, job_runner::domain::Operation::FULL_RUN).await);
    }
    let warm: Vec<f64> = samples[5.min(samples.len() - 1)..].to_vec();
    let mut sorted = warm.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "run end to end (offline, {} runs after 5 warm-up): median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        sorted.len(),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.95),
        sorted[sorted.len() - 1]
    );
    rt.shutdown().await;
}

async fn daemon(queued: usize) {
    let dir = tempfile::tempdir().unwrap();
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("job-runner");
    let postings: Vec<serde_json::Value> = (0..queued)
        .map(|n| serde_json::Value::Object(posting(n).to_document()))
        .collect();
    std::fs::write(
        dir.path().join("postings.json"),
        serde_json::to_string(&postings).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("master-cv.md"), include_str!("master-cv.md")).unwrap();
    let env = |cmd: &mut Command| {
        cmd.current_dir(dir.path())
            .env("CONFIG_DIR", dir.path().join("none"))
            .env("RUNNER_API_SECRET", SECRET)
            .env("MAX_QUEUE", "1000")
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut import = Command::new(&bin);
    env(&mut import);
    assert!(import.args(["import", "postings.json"]).status().unwrap().success());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut serve = Command::new(&bin);
    env(&mut serve);
    let started = Instant::now();
    let mut child = serve.arg("serve").env("PORT", port.to_string()).spawn().unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(started.elapsed() < Duration::from_secs(10), "daemon did not start");
    }
    println!(
        "start-up to serving (spawn → first /health 200): {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("idle RSS after 2 s: {:.1} MB", rss_kib(child.id()) as f64 / 1024.0);

    let ids: Vec<String> = (0..queued).map(|n| posting(n).id.to_string()).collect();
    let t = Instant::now();
    let res = client
        .post(format!("{base}/jobs/run-bulk"))
        .bearer_auth(SECRET)
        .json(&serde_json::json!({"job_ids": ids}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    println!(
        "bulk request of {queued} answered in {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut peak = 0u64;
    loop {
        peak = peak.max(rss_kib(child.id()));
        let page: serde_json::Value = client
            .get(format!("{base}/runs?status=completed&limit=1"))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["total"].as_u64().unwrap() as usize >= queued {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "{queued} queued runs drained in {:.1} s; peak RSS while draining {:.1} MB; RSS after {:.1} MB",
        t.elapsed().as_secs_f64(),
        peak as f64 / 1024.0,
        rss_kib(child.id()) as f64 / 1024.0
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}

/// MongoDB store work against the wire server: per-run claim + complete, and log lines
/// persisted per second in the LogHub's batch size.
async fn mongo(uri: &str, runs: usize) {
    use job_runner::domain::{Run, StageName, StageProducer};
    use job_runner::store::mongo::{MongoConfig, MongoStore};
    use job_runner::store::{JobUpdate, LogLine, RunFinish, Store};

    let config = MongoConfig {
        database: format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        jobs_collection: "level_2".into(),
        prefix: "runner_".into(),
        server_selection_timeout: Duration::from_secs(5),
    };
    let store = MongoStore::connect(uri, &config).await.unwrap();
    let lease = Duration::from_secs(60);
    let (mut claim_complete, mut full) = (Vec::new(), Vec::new());
    for n in 0..runs {
        let job = posting(n);
        store.upsert_job(&job).await.unwrap();
        store
            .insert_runs(&[Run::new_queued(job.id.clone(), None, None)])
            .await
            .unwrap();
        let t = Instant::now();
        let run = store.claim_next_run("bench", lease).await.unwrap().unwrap();
        let finish = RunFinish {
            status: job_runner::domain::RunStatus::Completed,
            error: None,
            artifacts: Default::default(),
            at: chrono::Utc::now(),
            cost_usd: None,
        };
        let t_stages = Instant::now();
        let output = serde_json::json!({"pain_points": ["a", "b", "c"], "text": "x".repeat(2000)});
        for stage in StageName::ALL {
            store
                .stage_started(&run.run_id, stage, chrono::Utc::now())
                .await
                .unwrap();
            store
                .stage_completed(
                    &run.run_id,
                    stage,
                    &job_runner::domain::outputs::Provenance::produced(StageProducer::Offline, None),
                    &output,
                    chrono::Utc::now(),
                    Duration::from_millis(1),
                )
                .await
                .unwrap();
        }
        let stages_time = t_stages.elapsed();
        let update = JobUpdate {
            run_id: run.run_id.clone(),
            pipeline_status: job_runner::domain::RunStatus::Completed,
            started_at: run.started_at,
            updated_at: chrono::Utc::now(),
            completed_at: Some(chrono::Utc::now()),
            failure: None,
            artifact_urls: Some(Default::default()),
            results: Some(
                serde_json::json!({"fit_score": 70, "status": "ready for applying"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            run_entry: None,
        };
        store.update_job(&job.id, &update).await.unwrap();
        assert!(store.finish_run(&run.run_id, "bench", &finish).await.unwrap());
        let total = t.elapsed();
        claim_complete.push((total - stages_time).as_secs_f64() * 1000.0);
        full.push(total.as_secs_f64() * 1000.0);
    }
    for v in [&mut claim_complete, &mut full] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    println!(
        "mongodb (wire server): claim + job update + finish per run: median {:.2} ms, p95 {:.2} ms ({runs} runs)",
        percentile(&claim_complete, 0.5),
        percentile(&claim_complete, 0.95)
    );
    println!(
        "mongodb (wire server): a run's whole store work incl. 6 stage starts + checkpoints: median {:.2} ms, p95 {:.2} ms",
        percentile(&full, 0.5),
        percentile(&full, 0.95)
    );
    let run_id = job_runner::domain::RunId::generate();
    let total_lines = 20_000u64;
    let t = Instant::now();
    for batch in 0..(total_lines / 256 + 1) {
        let lines: Vec<LogLine> = (0..256u64)
            .map(|i| batch * 256 + i + 1)
            .filter(|seq| *seq <= total_lines)
            .map(|seq| LogLine {
                run_id: run_id.clone(),
                seq,
                ts: chrono::Utc::now(),
                level: job_runner::runlog::LogLevel::Info,
                stage: Some(job_runner::domain::StageName::Cv),
                message: format!("log line {seq} with a realistic amount of text in it for the benchmark"),
            })
            .collect();
        store.append_logs(&lines).await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(store.last_log_seq(&run_id).await.unwrap(), total_lines);
    println!(
        "mongodb (wire server): {total_lines} log lines persisted in batches of 256: {:.0} lines/s",
        total_lines as f64 / secs
    );
}

/// Claims and log lines per second through one MongoDB with 1, 2 and 3 runners (one client
/// each, two claim loops per runner as `MAX_CONCURRENCY` would), for docs/scaling.md.
async fn cluster(uri: &str) {
    use job_runner::domain::{Run, RunId, RunStatus};
    use job_runner::store::mongo::{MongoConfig, MongoStore};
    use job_runner::store::{LogLine, RunFinish, Store};
    use std::sync::Arc;
    const RUNS: usize = 300;
    const LINES: u64 = 20_000;
    for runners in 1..=3usize {
        let config = MongoConfig {
            database: format!("cluster_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            jobs_collection: "level_2".into(),
            prefix: "runner_".into(),
            server_selection_timeout: Duration::from_secs(5),
        };
        let mut stores = Vec::new();
        for _ in 0..runners {
            stores.push(Arc::new(MongoStore::connect(uri, &config).await.unwrap()));
        }
        let queued: Vec<Run> = (0..RUNS).map(|n| Run::new_queued(posting(n).id, None, None)).collect();
        stores[0].insert_runs(&queued).await.unwrap();
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (r, store) in stores.iter().enumerate() {
            for lane in 0..2 {
                let store = store.clone();
                let owner = format!("r{r}-{lane}");
                tasks.push(tokio::spawn(async move {
                    let mut n = 0;
                    while let Some(run) = store
                        .claim_next_run_within(&owner, Duration::from_secs(60), 4)
                        .await
                        .unwrap()
                    {
                        let finish = RunFinish {
                            status: RunStatus::Completed,
                            error: None,
                            artifacts: Default::default(),
                            at: chrono::Utc::now(),
                            cost_usd: None,
                        };
                        store.finish_run(&run.run_id, &owner, &finish).await.unwrap();
                        n += 1;
                    }
                    n
                }));
            }
        }
        let mut claimed = 0;
        for task in tasks {
            claimed += task.await.unwrap();
        }
        let claim_secs = t.elapsed().as_secs_f64();
        assert_eq!(claimed, RUNS);
        // Log lines: each runner writes its own run's log in batches of 256.
        let t = Instant::now();
        let mut tasks = Vec::new();
        for store in &stores {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let run = RunId::generate();
                let per = LINES / runners as u64;
                let mut seq = 0;
                while seq < per {
                    let batch: Vec<LogLine> = (0..256.min(per - seq))
                        .map(|i| LogLine {
                            run_id: run.clone(),
                            seq: seq + i + 1,
                            ts: chrono::Utc::now(),
                            level: job_runner::runlog::LogLevel::Info,
                            stage: None,
                            message: "stage pain_points started (bench line of ordinary length)".into(),
                        })
                        .collect();
                    seq += batch.len() as u64;
                    store.append_logs(&batch).await.unwrap();
                }
                per
            }));
        }
        let mut lines = 0;
        for task in tasks {
            lines += task.await.unwrap();
        }
        let log_secs = t.elapsed().as_secs_f64();
        println!(
            "cluster on one MongoDB (wire server), {runners} runner(s): {:.0} claims/s (claim + finish, cap 4), {:.0} log lines/s",
            RUNS as f64 / claim_secs,
            lines as f64 / log_secs
        );
    }
}

#[actix_web::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("cluster") {
        let uri =
            std::env::var("JOB_RUNNER_TEST_MONGO_URI").expect("JOB_RUNNER_TEST_MONGO_URI (scripts/bench.sh sets it)");
        cluster(&uri).await;
        return;
    }
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    run_latency(runs).await;
    operation_vs_full(Duration::from_millis(500)).await;
    daemon(200).await;
    match std::env::var("JOB_RUNNER_TEST_MONGO_URI") {
        Ok(uri) => mongo(&uri, runs).await,
        Err(_) => println!("mongodb part skipped: JOB_RUNNER_TEST_MONGO_URI not set (scripts/bench.sh sets it)"),
    }
}
