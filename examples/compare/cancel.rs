//! 6. Cancel across runners (issue 17): two `serve` processes on one MongoDB (the wire
//!    server); runner A executes the runs, each cancel is sent to runner B, and the time
//!    until B reports the run cancelled is measured (B only writes the request to the store;
//!    A must notice it, stop the run and record the outcome).

use std::time::{Duration, Instant};

use crate::common::{percentile, Daemon, Report};

const RUNS: usize = 5;

pub async fn run(report: &mut Report) {
    println!("6. cancel across runners ({RUNS} runs on runner A, cancelled through runner B)");
    let Ok(uri) = std::env::var("JOB_RUNNER_TEST_MONGO_URI") else {
        report.add(
            "cancel across runners",
            "",
            "skipped: JOB_RUNNER_TEST_MONGO_URI not set",
            None,
        );
        return;
    };
    let db = format!("cancel_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let env = [
        ("MONGODB_URI", uri.as_str()),
        ("MONGODB_DB", db.as_str()),
        // The wire server takes no hyphen in a collection name (the dashboard's is `level-2`).
        ("MONGODB_JOBS_COLLECTION", "level_2"),
        ("OFFLINE_STAGE_DELAY_MS", "20000"),
        ("MAX_CONCURRENCY", "5"),
    ];
    let a = Daemon::start(&env, RUNS).await;
    let runs = a.start_runs(0..RUNS).await;
    // Every run is claimed by A before B starts.
    let started = Instant::now();
    while a.get("/runs?status=running&limit=1").await["total"]
        .as_u64()
        .unwrap_or(0)
        < RUNS as u64
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "runner A did not start the runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = Daemon::start(&env, 0).await;
    let mut ms = Vec::new();
    for run in &runs {
        let t = Instant::now();
        b.post(&format!("/jobs/{run}/cancel"), serde_json::json!({})).await;
        loop {
            let status = b.get(&format!("/jobs/{run}/status")).await;
            if status["status"] == "cancelled" {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "run {run} was not cancelled: {status}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let worst = ms[ms.len() - 1];
    report.add(
        "cancel through runner B of a run executing on runner A (MongoDB wire server)",
        "≤ 1 s",
        format!(
            "median {:.0} ms, worst {worst:.0} ms over {RUNS} runs",
            percentile(&ms, 0.5)
        ),
        Some(worst <= 1000.0),
    );
}
