//! 4. Scale of the store: claim + complete and log-append throughput on SQLite and on
//!    MongoDB (the wire server) with 10,000 and then 100,000 finished runs stored. Claims use
//!    the `(status, created)` index and logs the `(run_id, seq)` key, so neither should
//!    slow down as history grows: the ratio at 100k against 10k says whether it does.

use std::time::{Duration, Instant};

use chrono::Utc;
use job_runner::domain::{Run, RunStatus};
use job_runner::runlog::LogLevel;
use job_runner::store::{DynStore, LogLine, RunFinish};

use crate::common::{posting, Report};

const CLAIMS: usize = 300;
const LINES: u64 = 20_000;
const BATCH: usize = 256;

/// Adds finished runs until `total` are stored.
async fn fill(store: &DynStore, from: usize, total: usize) {
    let job = posting(0).id;
    let mut n = from;
    while n < total {
        let batch: Vec<Run> = (n..(n + 1000).min(total))
            .map(|_| {
                let mut r = Run::new_queued(job.clone(), None, Some("history".into()));
                r.status = RunStatus::Completed;
                r.started_at = Some(r.created_at);
                r.finished_at = Some(r.created_at);
                r
            })
            .collect();
        n += batch.len();
        store.insert_runs(&batch).await.unwrap();
    }
}

/// Claims and completes `CLAIMS` runs (queued untimed); appends `LINES` log lines in the
/// hub's batch size. Returns (claims/s, lines/s).
async fn measure(store: &DynStore) -> (f64, f64) {
    let job = posting(0).id;
    let queued: Vec<Run> = (0..CLAIMS).map(|_| Run::new_queued(job.clone(), None, None)).collect();
    store.insert_runs(&queued).await.unwrap();
    let t = Instant::now();
    for _ in 0..CLAIMS {
        let run = store
            .claim_next_run("bench", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("a queued run");
        let finish = RunFinish {
            status: RunStatus::Completed,
            error: None,
            artifacts: Default::default(),
            at: Utc::now(),
            cost_usd: None,
        };
        assert!(store.finish_run(&run.run_id, "bench", &finish).await.unwrap());
    }
    let claims = CLAIMS as f64 / t.elapsed().as_secs_f64();
    let run = queued[0].run_id.clone();
    let t = Instant::now();
    let mut seq = 1;
    while seq <= LINES {
        let batch: Vec<LogLine> = (seq..(seq + BATCH as u64).min(LINES + 1))
            .map(|s| LogLine {
                run_id: run.clone(),
                seq: s,
                ts: Utc::now(),
                level: LogLevel::Info,
                stage: None,
                message: format!("bench line {s} with some ordinary text of a typical length"),
            })
            .collect();
        seq += batch.len() as u64;
        store.append_logs(&batch).await.unwrap();
    }
    let lines = LINES as f64 / t.elapsed().as_secs_f64();
    assert_eq!(store.last_log_seq(&run).await.unwrap(), LINES);
    (claims, lines)
}

/// Median milliseconds of counting the queued runs: a query the `(status, …)` index
/// answers without reading the history. A server that scans shows it here.
async fn count_probe(store: &DynStore) -> f64 {
    let mut ms: Vec<f64> = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        store.count_runs(RunStatus::Queued).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    ms[ms.len() / 2]
}

/// `name` at `small` then `large` stored runs.
async fn backend(report: &mut Report, name: &str, store: DynStore, (small, large): (usize, usize)) {
    let label = |n: usize| format!("{}k", n / 1000);
    fill(&store, 0, small).await;
    let (c1, l1) = measure(&store).await;
    let p1 = count_probe(&store).await;
    let t = Instant::now();
    fill(&store, small, large).await;
    let filled = t.elapsed().as_secs_f64();
    let (c2, l2) = measure(&store).await;
    let p2 = count_probe(&store).await;
    let levels = format!("{} → {}", label(small), label(large));
    report.add(
        format!("{name}: claim + complete with {levels} runs stored"),
        format!("flat (≥ 0.8× at {})", label(large)),
        format!(
            "{c1:.0} → {c2:.0} claims/s ({:.2}×); counting queued runs (index-only query) {p1:.2} → {p2:.2} ms",
            c2 / c1
        ),
        Some(c2 / c1 >= 0.8),
    );
    report.add(
        format!("{name}: log lines appended (batches of {BATCH}) with {levels} runs stored"),
        format!("flat (≥ 0.8× at {})", label(large)),
        format!(
            "{l1:.0} → {l2:.0} lines/s ({:.2}×; {} runs inserted in {filled:.1} s)",
            l2 / l1,
            large - small
        ),
        Some(l2 / l1 >= 0.8),
    );
}

pub async fn run(report: &mut Report) {
    println!("4. scale of the store ({CLAIMS} claims and {LINES} log lines at 10k and 100k stored runs)");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = job_runner::store::sqlite::SqliteStore::open(dir.path()).await.unwrap();
    backend(report, "SQLite", std::sync::Arc::new(sqlite), (10_000, 100_000)).await;
    match std::env::var("JOB_RUNNER_TEST_MONGO_URI") {
        Ok(uri) => {
            let config = job_runner::store::mongo::MongoConfig {
                database: format!("scale_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                jobs_collection: "level_2".into(),
                prefix: "runner_".into(),
                server_selection_timeout: Duration::from_secs(5),
            };
            let mongo = job_runner::store::mongo::MongoStore::connect(&uri, &config)
                .await
                .unwrap();
            // The wire server (Python over SQLite) inserts ~300 runs/s: 100k would take this
            // part past the suite's 15 minutes, so it is measured at 1k → 10k.
            backend(
                report,
                "MongoDB (wire server)",
                std::sync::Arc::new(mongo),
                (1_000, 10_000),
            )
            .await;
        }
        Err(_) => report.add("MongoDB scale", "", "skipped: JOB_RUNNER_TEST_MONGO_URI not set", None),
    }
}
