//! 1. The ceiling ratio: `/health` and `GET /jobs/{id}/status` requests per second against
//!    a minimal actix-web server on the same machine in the same run, idle and while three
//!    runs stream their logs to SSE clients.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;

use crate::common::{Daemon, Report, SECRET};
use crate::load::{self, Load};

const CONNECTIONS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

async fn measure(port: u16, path: &str, auth: bool) -> Load {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let bearer = format!("Bearer {SECRET}");
    let headers: Vec<(&str, &str)> = if auth { vec![("Authorization", &bearer)] } else { vec![] };
    load::run(addr, load::get(path, &headers), CONNECTIONS, WARM_UP, MEASURE).await
}

pub async fn run(report: &mut Report) {
    println!("1. ceiling ratio ({CONNECTIONS} connections, {MEASURE:?} per figure)");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut minimal = Command::new(std::env::current_exe().unwrap())
        .args(["--minimal-server", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    while client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Measured before and after the daemon's idle figures; their mean is the reference,
    // so drift on a shared machine shows as spread instead of a false ratio.
    let first = measure(port, "/health", false).await;

    let daemon = Daemon::start(&[("MAX_CONCURRENCY", "3")], 1).await;
    let run = daemon.start_runs(0..1).await.remove(0);
    daemon.wait_finished(1, Duration::from_secs(30)).await;
    let health = measure(daemon.port, "/health", false).await;
    let status = measure(daemon.port, &format!("/jobs/{run}/status"), true).await;
    drop(daemon);
    let second = measure(port, "/health", false).await;
    let _ = minimal.kill();
    let _ = minimal.wait();
    let ceiling = Load {
        rps: (first.rps + second.rps) / 2.0,
        ..first
    };
    report.add(
        "ceiling: minimal actix-web (hello JSON), same machine, same run",
        "reference",
        format!("{:.0} req/s (mean of {first} and {second})", ceiling.rps),
        None,
    );
    let ratio = |l: &Load| l.rps / ceiling.rps;
    report.add(
        "`/health` vs the ceiling",
        "≥ 0.8×",
        format!("{:.2}× ({health})", ratio(&health)),
        Some(ratio(&health) >= 0.8),
    );
    report.add(
        "`GET /jobs/{id}/status` (bearer, store read) vs the ceiling",
        "≥ 0.8×",
        format!("{:.2}× ({status})", ratio(&status)),
        Some(ratio(&status) >= 0.8),
    );

    let reads = store_reads_per_second().await;
    report.add(
        "a store read alone (SQLite `get_run`, in-process, 2 at a time): what bounds the status route",
        "reference",
        format!(
            "{reads:.0} reads/s ({:.2}× the ceiling's requests/s)",
            reads / ceiling.rps
        ),
        None,
    );

    // Three runs streaming: stages slowed so the runs last through the measurement.
    let daemon = Daemon::start(&[("MAX_CONCURRENCY", "3"), ("OFFLINE_STAGE_DELAY_MS", "2500")], 3).await;
    let runs = daemon.start_runs(0..3).await;
    let mut streams = Vec::new();
    for run in &runs {
        let res = daemon
            .client
            .get(format!("{}/jobs/{run}/logs", daemon.base))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap();
        streams.push(tokio::spawn(async move {
            let mut body = res.bytes_stream();
            let mut bytes = 0usize;
            while let Some(Ok(chunk)) = body.next().await {
                bytes += chunk.len();
            }
            bytes
        }));
    }
    let health_busy = measure(daemon.port, "/health", false).await;
    let status_busy = measure(daemon.port, &format!("/jobs/{}/status", runs[0]), true).await;
    let still_running = daemon.get("/runs?status=running&limit=1").await["total"]
        .as_u64()
        .unwrap_or(0);
    drop(daemon);
    for s in streams {
        s.abort();
    }
    report.add(
        "`/health` while 3 runs stream logs vs the ceiling",
        "≥ 0.8×",
        format!(
            "{:.2}× ({health_busy}; {still_running} runs still running at the end)",
            ratio(&health_busy)
        ),
        Some(ratio(&health_busy) >= 0.8),
    );
    report.add(
        "`GET /jobs/{id}/status` while 3 runs stream logs vs the ceiling",
        "≥ 0.8×",
        format!("{:.2}× ({status_busy})", ratio(&status_busy)),
        Some(ratio(&status_busy) >= 0.8),
    );
}

/// Store reads alone, in-process (no HTTP): `get_run` on SQLite, two tasks at a time as
/// the daemon's two workers would issue them. The status route cannot answer faster than
/// this, whatever the HTTP layer does.
async fn store_reads_per_second() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store: job_runner::store::DynStore =
        std::sync::Arc::new(job_runner::store::sqlite::SqliteStore::open(dir.path()).await.unwrap());
    let run = job_runner::domain::Run::new_queued(crate::common::posting(0).id, None, None);
    store.insert_runs(std::slice::from_ref(&run)).await.unwrap();
    const READS: usize = 20_000;
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (store, id) = (store.clone(), run.run_id.clone());
            tokio::spawn(async move {
                for _ in 0..READS / 2 {
                    store.get_run(&id).await.unwrap().expect("the run");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    READS as f64 / started.elapsed().as_secs_f64()
}
