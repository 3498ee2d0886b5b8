//! Real `job-runner serve` processes on the MongoDB wire server the test command starts:
//! two runners sharing one database, a runner killed mid-run, the database going away
//! and coming back, a job deleted during its run.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::daemon::sigterm;
use crate::queue_view::queue_ids;
use crate::serve::{daemon_command, data_lines, free_port, Serve};

const SECRET: &str = "mongo-test-secret-0123";

fn mongo_uri() -> String {
    std::env::var("JOB_RUNNER_TEST_MONGO_URI")
        .expect("JOB_RUNNER_TEST_MONGO_URI is not set: run scripts/test.sh, which starts the MongoDB wire server")
}

/// Environment shared by the runners of one test: its own database.
struct Env {
    dir: tempfile::TempDir,
    uri: String,
    db: String,
}

impl Env {
    fn new(uri: String) -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
            uri,
            db: format!("p_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        }
    }

    fn command(&self, name: &str) -> Command {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = daemon_command(&dir, &self.dir.path().join("applications"), SECRET);
        cmd.env("MONGODB_URI", &self.uri)
            .env("MONGODB_DB", &self.db)
            .env("MONGODB_JOBS_COLLECTION", "level_2")
            .env("MONGODB_SERVER_SELECTION_TIMEOUT_MS", "1000");
        cmd
    }

    /// Imports `n` copies of the backend posting with ids 1..=n.
    fn import(&self, n: u32) -> Vec<String> {
        let ids: Vec<String> = (1..=n)
            .map(|i| format!("{:024x}", 0x5eed_0000_u64 + i as u64))
            .collect();
        let docs: Vec<Value> = ids.iter().map(|id| backend_posting(id, None)).collect();
        self.import_docs(&docs);
        ids
    }

    /// Imports job documents with `job-runner import`.
    fn import_docs(&self, docs: &[Value]) {
        let file = self.dir.path().join("postings.json");
        std::fs::write(&file, serde_json::to_string(docs).unwrap()).unwrap();
        let out = self.command("import").arg("import").arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    async fn runner(&self, name: &str, extra: &[(&str, &str)]) -> Serve {
        let mut cmd = self.command(name);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Serve::start(cmd, &self.dir.path().join(format!("{name}.log")), SECRET).await
    }
}

/// The backend posting with another id (and optionally another description).
fn backend_posting(id: &str, description: Option<&str>) -> Value {
    let mut doc: Value = serde_json::from_str(include_str!("../../examples/postings/backend-engineer.json")).unwrap();
    doc["_id"] = json!(id);
    if let Some(d) = description {
        doc["job_description"] = json!(d);
    }
    doc
}

#[tokio::test]
async fn two_runners_share_the_queue_and_a_killed_one_is_taken_over() {
    let env = Env::new(mongo_uri());
    let ids = env.import(30);
    let opts = [
        ("MAX_CONCURRENCY", "3"),
        ("OFFLINE_STAGE_DELAY_MS", "300"),
        ("RUN_LEASE_SECONDS", "5"),
    ];
    let a = env.runner("a", &opts).await;
    let mut b = env.runner("b", &opts).await;
    let b_id = runner_id(&b).await;

    let runs = run_bulk(&a, &ids).await;

    // Wait (bounded) until runner B is executing something, then kill it hard.
    let running_on_b = |list: &Value| -> Vec<String> {
        list["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["runner"] == b_id.as_str())
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let started = Instant::now();
    while running_on_b(&a.get("/runs?status=running&limit=100").await).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "runner B never claimed a run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.kill();
    // Dead, B claims nothing more: its runs stay `running` under its id until their leases
    // expire, so this is the complete list.
    let on_b = running_on_b(&a.get("/runs?status=running&limit=100").await);
    assert!(!on_b.is_empty());

    // Runner A finishes everything, including B's runs once their leases expire.
    for run in &runs {
        let log = a.full_log(run).await;
        assert!(
            log.ends_with("event: end\ndata: completed\n\n"),
            "run {run} did not complete:\n{log}"
        );
        assert_no_stage_twice(run, &log);
        let progress = a.get(&format!("/jobs/{run}/progress")).await;
        let status = a.get(&format!("/jobs/{run}/status")).await;
        if status["attempts"] == 1 {
            for s in progress["stages"].as_array().unwrap() {
                assert_eq!(s["attempts"], 1, "run {run} ran stage {} twice: {progress}", s["name"]);
            }
        } else {
            assert!(
                on_b.contains(run),
                "only runs of the killed runner are resumed: {status}"
            );
        }
    }
    for run in &on_b {
        let status = a.get(&format!("/jobs/{run}/status")).await;
        assert_eq!(status["attempts"], 2, "{status}");
        assert_ne!(status["runner"], b_id.as_str());
    }
    let completed = a.get("/runs?status=completed&limit=1").await;
    assert_eq!(completed["total"], 30);
}

#[tokio::test]
async fn cancel_status_and_logs_work_from_the_runner_that_does_not_own_the_run() {
    let env = Env::new(mongo_uri());
    let ids = env.import(1);
    // Stages take 8 s, so a cancel that only took effect after a stage would show.
    let a = env.runner("a", &[("OFFLINE_STAGE_DELAY_MS", "8000")]).await;
    let b = env.runner("b", &[("OFFLINE_STAGE_DELAY_MS", "8000")]).await;
    let run = a.start_run(&ids[0]).await;
    // Whichever runner claimed it, talk to the other one.
    let started = Instant::now();
    let owner = loop {
        let status = a.get(&format!("/jobs/{run}/status")).await;
        if let Some(owner) = status["runner"].as_str() {
            break owner.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "nobody claimed the run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let other = if runner_id(&a).await == owner { &b } else { &a };
    // The other runner follows the owner's log through the store.
    other.wait_for_line(&run, "stage extract started").await;
    let asked = Instant::now();
    let res = other.post(&format!("/jobs/{run}/cancel"), json!({})).await;
    let code = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    // The owner stopped the stage in flight (it renews its lease every second and sees the
    // cancel then), long before the 8 s stage could have ended.
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "cancel took {:?}",
        asked.elapsed()
    );
    let log = other.full_log(&run).await;
    assert!(log.ends_with("event: end\ndata: cancelled\n\n"), "{log}");
    let lines = data_lines(&log);
    assert!(lines.iter().any(|l| l.contains("stage extract started")));
    assert!(!lines.iter().any(|l| l.contains("stage extract completed")), "{log}");
    assert_eq!(a.get(&format!("/jobs/{run}/status")).await["status"], "cancelled");
    assert_eq!(b.get(&format!("/jobs/{run}/status")).await["status"], "cancelled");
}

/// The runner's lease-owner id, from `/health`.
/// Queues a run for each job through `POST /jobs/run-bulk`; the run ids.
async fn run_bulk(r: &Serve, ids: &[String]) -> Vec<String> {
    let res = r.post("/jobs/run-bulk", json!({"job_ids": ids})).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect()
}

/// No stage of the run's log completed twice (a resumed run skips what it checkpointed).
fn assert_no_stage_twice(run: &str, log: &str) {
    let lines = data_lines(log);
    for stage in job_runner::domain::StageName::ALL.map(|s| s.as_str()) {
        let completed = lines
            .iter()
            .filter(|l| l.contains(&format!("stage {stage} completed")))
            .count();
        assert!(
            completed <= 1,
            "run {run}: stage {stage} completed {completed} times:\n{log}"
        );
    }
}

async fn runner_id(r: &Serve) -> String {
    r.get("/health").await["runner_id"].as_str().unwrap().to_owned()
}

/// A wire server of the test's own, so it can be stopped and started again.
struct OwnServer {
    bin: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnServer {
    fn start(&self) {
        let status = Command::new(&self.bin)
            .args(["-d", "--host", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--log-file")
            .arg(self.dir.path().join("nx.log"))
            .arg("--pid-file")
            .arg(self.dir.path().join("nx.pid"))
            .status()
            .unwrap();
        assert!(status.success());
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("wire server did not start");
    }

    fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nx.pid")) {
            // SAFETY: signalling a process this test started.
            unsafe { libc::kill(pid.trim().parse().unwrap(), libc::SIGKILL) };
        }
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_health(r: &Serve, status: u16) {
    let started = Instant::now();
    loop {
        let res = r.client.get(format!("{}/health", r.base)).send().await.unwrap();
        if res.status().as_u16() == status {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "health never became {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_database_outage_is_reported_and_the_run_resumes_when_it_is_back() {
    let bin = std::env::var("JOB_RUNNER_TEST_NX_BIN").expect("JOB_RUNNER_TEST_NX_BIN is not set: run scripts/test.sh");
    let server = OwnServer {
        bin,
        port: free_port(),
        dir: tempfile::tempdir().unwrap(),
    };
    server.start();
    let env = Env::new(format!("mongodb://127.0.0.1:{}/?directConnection=true", server.port));
    let ids = env.import(2);
    let smtp = crate::smtp::SmtpServer::start();
    let smtp_port = smtp.port.to_string();
    let a = env
        .runner(
            "a",
            &[
                ("OFFLINE_STAGE_DELAY_MS", "700"),
                ("HEALTH_CHECK_INTERVAL_SECONDS", "1"),
                ("SMTP_HOST", "127.0.0.1"),
                ("SMTP_PORT", &smtp_port),
                ("SMTP_TLS", "none"),
                ("ALERT_TO", "ops@example.com"),
                // Only the outage may alert here, not the machine's load.
                ("ALERT_CPU_PERCENT", "100"),
                ("ALERT_MEMORY_PERCENT", "100"),
                ("ALERT_DISK_FREE_PERCENT", "0"),
            ],
        )
        .await;
    let run = a.start_run(&ids[0]).await;
    a.wait_for_line(&run, "stage pain_points started").await;

    server.stop();
    wait_health(&a, 503).await;
    let health = a.get("/health").await;
    assert_eq!(health["status"], "unhealthy");
    // New work is refused quickly with a clear code.
    let res = a.post("/jobs/run", json!({"job_id": ids[1]})).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "STORE_UNAVAILABLE");

    server.start();
    wait_health(&a, 200).await;
    let log = a.full_log(&run).await;
    assert!(log.ends_with("event: end\ndata: completed\n\n"), "{log}");
    let lines = data_lines(&log);
    for stage in job_runner::domain::StageName::ALL.map(|s| s.as_str()) {
        assert!(
            lines.iter().any(|l| l.contains(&format!("stage {stage} completed"))),
            "line of {stage} lost:\n{log}"
        );
    }
    let ids_seen: Vec<u64> = log
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(ids_seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        a.get(&format!("/jobs/{run}/status")).await["artifacts"]
            .as_object()
            .unwrap()
            .len(),
        job_runner::artifacts::ArtifactName::ALL.len()
    );

    // One outage, one alert and one recovery: the checks that read through the store were
    // skipped while it was down, not alerted.
    smtp.wait_for(2).await;
    let rounds = |deep: &Value| deep["rounds"].as_u64();
    let seen = rounds(&a.get("/health/deep").await).expect("/health/deep counts rounds");
    let started = Instant::now();
    while rounds(&a.get("/health/deep").await).unwrap() < seen + 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "health rounds stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mails: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| m.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
        .collect();
    let subjects: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject: ")))
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects[0].ends_with("ALERT: store") && subjects[1].ends_with("RECOVERED: store"),
        "{subjects:?}"
    );
    let body = &mails[0];
    let first = body
        .lines()
        .find(|l| l.starts_with("The MongoDB store"))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        first.starts_with("The MongoDB store has been unreachable since ") && first.contains(" UTC ("),
        "{first}"
    );
    assert!(body.contains("Runbook: docs/runbook.md, section \"store\""), "{body}");
    assert!(
        mails[1].contains("The MongoDB store is reachable again (it failed from "),
        "{}",
        mails[1]
    );
}

#[tokio::test]
async fn a_job_deleted_during_its_run_fails_the_run_cleanly() {
    let env = Env::new(mongo_uri());
    let ids = env.import(1);
    let a = env.runner("a", &[("OFFLINE_STAGE_DELAY_MS", "500")]).await;
    let run = a.start_run(&ids[0]).await;
    // Delete the document while the stages work: the run cannot write its results.
    a.wait_for_line(&run, "stage pain_points started").await;
    let client = mongodb::Client::with_uri_str(&env.uri).await.unwrap();
    let jobs = client
        .database(&env.db)
        .collection::<mongodb::bson::Document>("level_2");
    let oid = mongodb::bson::oid::ObjectId::parse_str(&ids[0]).unwrap();
    let deleted = jobs.delete_one(mongodb::bson::doc! {"_id": oid}).await.unwrap();
    assert_eq!(deleted.deleted_count, 1);
    let log = a.full_log(&run).await;
    assert!(log.ends_with("event: end\ndata: failed\n\n"), "{log}");
    let status = a.get(&format!("/jobs/{run}/status")).await;
    let error = status["error"].as_str().unwrap();
    assert!(error.contains(&ids[0]), "{error}");
    // The runner never re-created the document.
    assert_eq!(jobs.count_documents(mongodb::bson::doc! {"_id": oid}).await.unwrap(), 0);
}

/// Three runners of three slots each share a global cap of 2: over twelve runs, never more
/// than two run at once (the peak of the runs' own start and end times), and all complete.
#[tokio::test]
async fn the_global_cap_holds_across_three_runners() {
    let env = Env::new(mongo_uri());
    let ids = env.import(12);
    let opts = [
        ("MAX_CONCURRENCY", "3"),
        ("GLOBAL_MAX_CONCURRENCY", "2"),
        ("OFFLINE_STAGE_DELAY_MS", "40"),
    ];
    let a = env.runner("a", &opts).await;
    let b = env.runner("b", &opts).await;
    let c = env.runner("c", &opts).await;
    let runs = run_bulk(&a, &ids).await;
    assert_eq!(runs.len(), 12);
    for (i, run) in runs.iter().enumerate() {
        let r = [&a, &b, &c][i % 3];
        assert!(r.full_log(run).await.ends_with("data: completed\n\n"), "{run}");
    }
    // The peak of simultaneous runs, from each run's own running span.
    let list = b.get("/runs?limit=100").await;
    let mut events: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for r in list["runs"].as_array().unwrap() {
        events.push((r["running_since"].as_str().unwrap().parse().unwrap(), 1));
        events.push((r["finished_at"].as_str().unwrap().parse().unwrap(), -1));
    }
    // Ends before starts at the same instant.
    events.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in &events {
        now += d;
        peak = peak.max(now);
    }
    assert!(
        peak <= 2,
        "{peak} runs overlapped under GLOBAL_MAX_CONCURRENCY=2: {list}"
    );
    assert!(peak >= 1);
}

/// The dashboard's queue poller: `/queue/state` without a bearer.
async fn poll_queue(r: &Serve) -> Value {
    let res = r.client.get(format!("{}/queue/state", r.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Both runners' views once nothing moves: the same, with the same version.
async fn settled_views(a: &Serve, b: &Serve) -> (Value, Value) {
    let (va, vb) = (poll_queue(a).await, poll_queue(b).await);
    assert_eq!(
        va["state_version"], vb["state_version"],
        "one queue, one version:\n{va}\n{vb}"
    );
    for list in ["pending", "running", "failed", "history"] {
        assert_eq!(va[list], vb[list], "{list}");
    }
    (va, vb)
}

#[tokio::test]
async fn two_runners_show_one_queue_whose_version_moves_for_both() {
    let env = Env::new(mongo_uri());
    let ids = env.import(3);
    let thin = format!("{:024x}", 0x5eed_00ff_u64);
    env.import_docs(&[backend_posting(&thin, Some("Hi."))]);
    // One slot each and stages of 400 ms: with jobs 1 and 2 holding both slots, the third
    // run queued waits (claims are FIFO) until one of them ends, seconds later.
    let opts = [
        ("OPEN_READ_ROUTES", "true"),
        ("OFFLINE_STAGE_DELAY_MS", "400"),
        ("MAX_CONCURRENCY", "1"),
    ];
    let a = env.runner("a", &opts).await;
    let b = env.runner("b", &opts).await;

    let mut items = Vec::new();
    for (runner, job) in [(&a, &ids[0]), (&b, &ids[1]), (&a, &ids[2]), (&a, &thin)] {
        let path = format!("/api/jobs/{job}/operations/batch-pipeline/queue");
        let res = runner.post(&path, json!({"tier": "quality"})).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["success"], true, "{body}");
        items.push((
            body["queue_id"].as_str().unwrap().to_owned(),
            body["run_id"].as_str().unwrap().to_owned(),
        ));
    }
    // Runner B sees A's waiting item and cancels it.
    let waiting = poll_queue(&b).await;
    assert!(
        queue_ids(&waiting["pending"]).contains(&items[2].0.as_str()),
        "{waiting}"
    );
    let res = b.post(&format!("/queue/{}/cancel", items[2].0), json!({})).await;
    assert_eq!(res.status(), 200);
    let cancelled = a.get(&format!("/jobs/{}/status", items[2].1)).await;
    assert_eq!(cancelled["status"], "cancelled");
    let cancelled_q = items.remove(2).0;

    // Each run is followed to its end from the runner that did not queue it.
    let ends: Vec<String> = futures_util::future::join_all([
        b.full_log(&items[0].1),
        a.full_log(&items[1].1),
        b.full_log(&items[2].1),
    ])
    .await;
    assert!(ends[0].ends_with("data: completed\n\n") && ends[1].ends_with("data: completed\n\n"));
    assert!(ends[2].ends_with("data: failed\n\n"), "{}", ends[2]);

    let (q1, q2, q3) = (items[0].0.as_str(), items[1].0.as_str(), items[2].0.as_str());
    let (before, _) = settled_views(&a, &b).await;
    let mut history = queue_ids(&before["history"]);
    history.sort();
    let mut expected = vec![q1, q2, cancelled_q.as_str()];
    expected.sort();
    assert_eq!(history, expected, "each runner shows the other's runs");
    assert_eq!(queue_ids(&before["failed"]), [q3]);
    assert_eq!(before["stats"]["total_completed_today"], 2);

    // Runner B dismisses the failure: A's version moves with B's.
    let res = b.post(&format!("/queue/{q3}/dismiss"), json!({})).await;
    assert_eq!(res.status(), 200);
    let (dismissed, _) = settled_views(&a, &b).await;
    assert_ne!(dismissed["state_version"], before["state_version"]);
    assert_eq!(dismissed["failed"], json!([]));
    assert!(queue_ids(&dismissed["history"]).contains(&q3));

    // Runner A retries it; it fails again (the posting is still too thin), now with one retry.
    let res = a.post(&format!("/queue/{q3}/retry"), json!({})).await;
    assert_eq!(res.status(), 200);
    let retried: Value = res.json().await.unwrap();
    assert_eq!(retried["item"]["retry_count"], 1);
    let retry_run = retried["item"]["run_id"].as_str().unwrap().to_owned();
    assert_ne!(retry_run, items[2].1, "a new run");
    let log = b.full_log(&retry_run).await;
    assert!(log.ends_with("data: failed\n\n"), "{log}");
    assert!(log.contains(&format!("retry 1 of failed run {}", items[2].1)), "{log}");
    let (failed_again, _) = settled_views(&a, &b).await;
    assert_ne!(failed_again["state_version"], dismissed["state_version"]);
    assert_eq!(queue_ids(&failed_again["failed"]), [q3]);
    assert_eq!(failed_again["failed"][0]["retry_count"], 1);

    // Runner B clears the finished items: both views are empty, at a new version.
    let res = b.post("/queue/clear", json!({})).await;
    assert_eq!(res.status(), 200);
    let cleared: Value = res.json().await.unwrap();
    assert_eq!(cleared["stats"]["total_cleaned"], 4, "{cleared}");
    let (after, _) = settled_views(&a, &b).await;
    assert_ne!(after["state_version"], failed_again["state_version"]);
    assert_eq!(
        (after["history"].clone(), after["failed"].clone()),
        (json!([]), json!([]))
    );
    // The runs themselves are untouched.
    assert_eq!(
        a.get(&format!("/jobs/{}/status", items[0].1)).await["status"],
        "completed"
    ); // Stderr is a file here: plain text, no colour codes.
    let stderr = std::fs::read_to_string(env.dir.path().join("a.log")).unwrap();
    assert!(
        stderr.contains("INFO") && !stderr.contains('\u{1b}'),
        "ANSI codes in a file"
    );
}

/// An operation on MongoDB reuses what another runner produced: runner A runs the whole
/// pipeline, runner B is asked for a new CV; whoever executes it takes the other stages from
/// A's run.
#[tokio::test]
async fn an_operation_reuses_outputs_another_runner_produced() {
    let env = Env::new(mongo_uri());
    let ids = env.import(1);
    let a = env.runner("a", &[]).await;
    let b = env.runner("b", &[]).await;
    let full = a.start_run(&ids[0]).await;
    assert!(b.full_log(&full).await.ends_with("data: completed\n\n"));
    let res = b
        .post(
            &format!("/api/jobs/{}/operations/generate-cv/queue", ids[0]),
            json!({"tier": "B"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let run = res.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = a.full_log(&run).await;
    assert!(log.ends_with("data: completed\n\n"), "{log}");
    assert!(log.contains(&format!("stage research reused from run {full}")), "{log}");
    let progress = b.get(&format!("/jobs/{run}/progress")).await;
    for stage in progress["stages"].as_array().unwrap() {
        let (name, producer) = (stage["name"].as_str().unwrap(), stage["producer"].as_str().unwrap());
        match name {
            "cv" | "publisher" => assert_eq!(producer, "offline", "{name}"),
            _ => {
                assert_eq!(producer, "reused", "{name}");
                assert_eq!(stage["source_run"], full.as_str(), "{name}");
            }
        }
    }
    let per_op = a.get(&format!("/api/jobs/{}/queue-status", ids[0])).await;
    assert_eq!(per_op["operations"]["generate-cv"]["run_id"], run.as_str());
}

/// A finished run's files are kept in the store: the runner that did not write them serves
/// them byte for byte (with the same ETag, a range, a 304), and `job-runner export` writes
/// the package from the store alone.
#[tokio::test]
async fn every_runner_serves_every_runs_files_and_export_reads_the_store() {
    let env = Env::new(mongo_uri());
    let ids = env.import(1);
    let a = env.runner("a", &[]).await;
    let b = env.runner("b", &[]).await;
    let run = a.start_run(&ids[0]).await;
    assert!(a.full_log(&run).await.ends_with("data: completed\n\n"));
    let status = b.get(&format!("/jobs/{run}/status")).await;
    let files: Vec<String> = status["artifacts"]
        .as_object()
        .unwrap()
        .values()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), job_runner::artifacts::ArtifactName::ALL.len(), "{status}");
    let fetch = |r: &Serve, url: &str, headers: &[(&str, &str)]| {
        let mut req = r.client.get(format!("{}{url}", r.base)).bearer_auth(SECRET);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    for url in &files {
        let from_a = fetch(&a, url, &[]).await.unwrap();
        let from_b = fetch(&b, url, &[]).await.unwrap();
        assert_eq!(
            (from_a.status().as_u16(), from_b.status().as_u16()),
            (200, 200),
            "{url}"
        );
        let etag = from_b.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(from_a.headers()["etag"].to_str().unwrap(), etag, "{url}");
        let (bytes_a, bytes_b) = (from_a.bytes().await.unwrap(), from_b.bytes().await.unwrap());
        assert!(!bytes_a.is_empty());
        assert_eq!(bytes_a, bytes_b, "{url} differs between runners");
        let partial = fetch(&b, url, &[("range", "bytes=0-9")]).await.unwrap();
        assert_eq!(partial.status().as_u16(), 206);
        assert_eq!(partial.bytes().await.unwrap(), bytes_a.slice(0..10));
        let cached = fetch(&b, url, &[("if-none-match", &etag)]).await.unwrap();
        assert_eq!(cached.status().as_u16(), 304);
    }
    // Export through runner B's configuration: its data folder has none of A's files.
    let out = env.dir.path().join("exported");
    let export = env
        .command("b")
        .arg("export")
        .arg("--run")
        .arg(&run)
        .arg(&out)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let cv_from_b = fetch(&b, &format!("/artifacts/{run}/CV.md"), &[])
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(std::fs::read(out.join("CV.md")).unwrap(), cv_from_b.to_vec());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), files.len());
    let by_job = env
        .command("b")
        .arg("export")
        .arg("--job")
        .arg(&ids[0])
        .arg(env.dir.path().join("by-job"))
        .output()
        .unwrap();
    assert!(by_job.status.success(), "{}", String::from_utf8_lossy(&by_job.stderr));
    let unknown = env
        .command("b")
        .arg("export")
        .arg("--run")
        .arg("0123456789abcdef0123456789abcdef")
        .arg(env.dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no completed run"));
}

/// Every runner beats into the store: `GET /runners` on any of them lists all, marks the one
/// answering, shows a drained runner as draining and a silent one as lost; `/health/deep` and
/// the metrics count the live ones.
#[tokio::test]
async fn runners_are_listed_with_their_heartbeat_and_a_silent_one_is_lost() {
    let env = Env::new(mongo_uri());
    env.import(1);
    let a = env.runner("a", &[]).await;
    let b = env.runner("b", &[]).await;
    let (id_a, id_b) = (runner_id(&a).await, runner_id(&b).await);
    // A runner long gone: its last beat is a minute old.
    let client = mongodb::Client::with_uri_str(&env.uri).await.unwrap();
    client
        .database(&env.db)
        .collection::<mongodb::bson::Document>("runner_runners")
        .insert_one(mongodb::bson::doc! {
            "_id": "gone-1", "host": "old-vm", "version": "0.0.9",
            "started_at": mongodb::bson::DateTime::from_millis(chrono::Utc::now().timestamp_millis() - 3_600_000),
            "last_seen": mongodb::bson::DateTime::from_millis(chrono::Utc::now().timestamp_millis() - 60_000),
            "last_seen_ms": chrono::Utc::now().timestamp_millis() - 60_000,
            "active_runs": 1_i64, "draining": false,
        })
        .await
        .unwrap();
    let listed = a.get("/runners").await;
    let runners = listed["runners"].as_array().unwrap();
    let by_id = |id: &str| {
        runners
            .iter()
            .find(|r| r["runner_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id}: {listed}"))
    };
    assert_eq!(by_id(&id_a)["status"], "alive");
    assert_eq!(by_id(&id_a)["this"], true);
    assert_eq!(by_id(&id_b)["status"], "alive");
    assert_eq!(by_id(&id_b)["this"], false);
    assert_eq!(by_id(&id_b)["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(by_id("gone-1")["status"], "lost");
    assert_eq!(listed["live"], 2, "{listed}");
    let deep = b.get("/health/deep").await;
    assert_eq!(deep["runners_live"], 2, "{deep}");
    // Without the bearer, nothing.
    let anon = a.client.get(format!("{}/runners", a.base)).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 401);
    // B drains (SIGTERM): A sees it draining, then lost once it is gone for good.
    sigterm(&b.child);
    let mut seen_draining = false;
    for _ in 0..200 {
        let listed = a.get("/runners").await;
        let rb = listed["runners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["runner_id"] == id_b.as_str())
            .cloned()
            .unwrap();
        if rb["draining"] == true {
            seen_draining = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen_draining, "a drained runner says so");
    let metrics = a
        .client
        .get(format!("{}/metrics", a.base))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("job_runner_runners_live"), "{metrics}");
}

/// A runner refuses to start on a store written by a job-runner it cannot read, and says
/// why (rolling upgrades go forward, not back).
#[tokio::test]
async fn a_runner_refuses_a_store_newer_than_it_can_read() {
    let env = Env::new(mongo_uri());
    env.import(1);
    let client = mongodb::Client::with_uri_str(&env.uri).await.unwrap();
    client
        .database(&env.db)
        .collection::<mongodb::bson::Document>("runner_meta")
        .replace_one(
            mongodb::bson::doc! {"_id": "schema"},
            mongodb::bson::doc! {"_id": "schema", "version": 50_i64, "readable_from": 50_i64},
        )
        .await
        .unwrap();
    let out = env
        .command("old")
        .arg("serve")
        .env("PORT", free_port().to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schema is version 50") && stderr.contains("upgrade job-runner"),
        "{stderr}"
    );
}

/// Three runners while runs flow: two of them are killed (SIGKILL) while executing and
/// started again, one of them twice. Every run completes, no stage completes twice, and
/// every runner serves every run's files, byte for byte.
#[tokio::test]
async fn three_runners_with_kills_and_restarts_complete_every_run_once_and_serve_every_file() {
    let env = Env::new(mongo_uri());
    let ids = env.import(12);
    let opts = [
        ("MAX_CONCURRENCY", "2"),
        ("OFFLINE_STAGE_DELAY_MS", "150"),
        ("RUN_LEASE_SECONDS", "5"),
    ];
    let a = env.runner("a", &opts).await;
    let mut b = env.runner("b", &opts).await;
    let mut c = env.runner("c", &opts).await;
    let runs = run_bulk(&a, &ids).await;
    // Kills B, then C, then the new B, each once it is executing a run.
    async fn kill_when_busy(watcher: &Serve, victim: &mut Serve) {
        let id = runner_id(victim).await;
        let started = Instant::now();
        loop {
            let list = watcher.get("/runs?status=running&limit=100").await;
            let busy = list["runs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["runner"] == id.as_str());
            let left = watcher.get("/runs?status=queued&limit=1").await["total"]
                .as_u64()
                .unwrap_or(0);
            if busy || left == 0 || started.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        victim.kill();
    }
    kill_when_busy(&a, &mut b).await;
    kill_when_busy(&a, &mut c).await;
    b = env.runner("b", &opts).await;
    c = env.runner("c", &opts).await;
    kill_when_busy(&a, &mut b).await;
    b = env.runner("b", &opts).await;

    // Bounded wait for every run to end, showing the runs if they do not.
    let started = Instant::now();
    loop {
        let done = a.get("/runs?status=completed&limit=1").await["total"]
            .as_u64()
            .unwrap_or(0);
        if done == 12 {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            panic!("{done} of 12 completed: {}", a.get("/runs?limit=100").await);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for run in &runs {
        let log = a.full_log(run).await;
        assert!(log.ends_with("event: end\ndata: completed\n\n"), "run {run}:\n{log}");
        assert_no_stage_twice(run, &log);
    }
    assert_eq!(a.get("/runs?status=completed&limit=1").await["total"], 12);
    for run in &runs {
        let mut copies = Vec::new();
        for r in [&a, &b, &c] {
            let res = r
                .client
                .get(format!("{}/artifacts/{run}/CV.docx", r.base))
                .bearer_auth(SECRET)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200, "{run} from {}", r.base);
            copies.push(res.bytes().await.unwrap());
        }
        assert!(
            copies.windows(2).all(|w| w[0] == w[1]),
            "{run}: the runners serve different bytes"
        );
    }
}
