//! 5. Soak: 2,000 runs through `serve` while 100 SSE clients keep connecting to runs,
//!    reading a little and leaving. The daemon's RSS and open file descriptors are sampled
//!    throughout; the RSS slope is fitted over the second half (after the allocator has
//!    warmed up) against the runs completed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{fd_count, rss_kib, Daemon, Report, SECRET};

const RUNS: usize = 2000;
/// SSE clients (`SOAK_CLIENTS` overrides, e.g. 0 to see the daemon without them).
fn clients() -> usize {
    std::env::var("SOAK_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// The first answer a client did not expect, for the report.
static FIRST_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn note_error(errors: &AtomicU64, what: String) {
    errors.fetch_add(1, Ordering::SeqCst);
    let mut first = FIRST_ERROR.lock().unwrap();
    if first.is_none() {
        *first = Some(what);
    }
}

/// One client: connects to a run's stream, reads for up to 200 ms, leaves; again and again.
async fn client(
    port: u16,
    runs: Arc<Vec<String>>,
    n: usize,
    stop: Arc<AtomicBool>,
    visits: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
) {
    let mut i = n;
    let mut buf = vec![0u8; 8192];
    while !stop.load(Ordering::SeqCst) {
        i = (i * 7 + 13) % runs.len();
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
            errors.fetch_add(1, Ordering::SeqCst);
            continue;
        };
        let req = format!(
            "GET /jobs/{}/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\r\n",
            runs[i]
        );
        if s.write_all(req.as_bytes()).await.is_err() {
            errors.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let mut first = true;
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            if first && !buf.starts_with(b"HTTP/1.1 200") {
                let head = String::from_utf8_lossy(&buf[..n.min(300)]).into_owned();
                note_error(
                    &errors,
                    head.lines().next().unwrap_or("").to_owned() + " " + head.lines().last().unwrap_or(""),
                );
                break;
            }
            first = false;
        }
        visits.fetch_add(1, Ordering::SeqCst);
    }
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var == 0.0 {
        0.0
    } else {
        cov / var
    }
}

pub async fn run(report: &mut Report) {
    println!(
        "5. soak ({RUNS} runs, {} SSE clients connecting and leaving)",
        clients()
    );
    // `SOAK_KEEP_ALIVE` sets SSE_KEEP_ALIVE_SECONDS (how soon a departed client is noticed).
    let keep_alive = std::env::var("SOAK_KEEP_ALIVE").unwrap_or_else(|_| "15".into());
    let daemon = Daemon::start(
        &[
            ("MAX_CONCURRENCY", "3"),
            ("MAX_SSE_STREAMS", "1000"),
            ("SSE_KEEP_ALIVE_SECONDS", &keep_alive),
        ],
        RUNS,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss0, fd0) = (rss_kib(daemon.pid()), fd_count(daemon.pid()));
    let started = Instant::now();
    let mut runs = Vec::with_capacity(RUNS);
    for chunk in (0..RUNS).collect::<Vec<_>>().chunks(500) {
        runs.extend(daemon.start_runs(chunk[0]..chunk[chunk.len() - 1] + 1).await);
    }
    let runs = Arc::new(runs);
    let stop = Arc::new(AtomicBool::new(false));
    let (visits, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client_tasks = {
        let (runs, stop, visits, errors) = (
            Arc::clone(&runs),
            Arc::clone(&stop),
            Arc::clone(&visits),
            Arc::clone(&errors),
        );
        let port = daemon.port;
        // Spawned: the clients run while this task samples the daemon.
        tokio::spawn(crate::common::on_own_runtime(1, async move {
            let tasks: Vec<_> = (0..clients())
                .map(|n| {
                    tokio::spawn(client(
                        port,
                        Arc::clone(&runs),
                        n,
                        Arc::clone(&stop),
                        Arc::clone(&visits),
                        Arc::clone(&errors),
                    ))
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        }))
    };
    let mut samples = Vec::new();
    let mut peak_fd = 0;
    loop {
        let done = daemon.get("/runs?status=completed&limit=1").await["total"]
            .as_u64()
            .unwrap_or(0);
        let failed = daemon.get("/runs?status=failed&limit=1").await["total"]
            .as_u64()
            .unwrap_or(0);
        let rss = rss_kib(daemon.pid());
        peak_fd = peak_fd.max(fd_count(daemon.pid()));
        samples.push((done as f64, rss as f64));
        if done + failed >= RUNS as u64 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "the soak did not finish");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    client_tasks.await.unwrap();
    // Let the daemon notice the last clients left.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_end, fd_end) = (rss_kib(daemon.pid()), fd_count(daemon.pid()));
    let failed = daemon.get("/runs?status=failed&limit=1").await["total"]
        .as_u64()
        .unwrap_or(0);
    let second_half = &samples[samples.len() / 2..];
    let kib_per_run = slope(second_half);
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    report.add(
        format!(
            "soak: {RUNS} runs through serve, {} SSE clients coming and going",
            clients()
        ),
        "no error, no failed run",
        format!(
            "{:.0} s; {failed} failed runs; {} stream visits, {} client errors{}",
            elapsed,
            visits.load(Ordering::SeqCst),
            errors.load(Ordering::SeqCst),
            FIRST_ERROR
                .lock()
                .unwrap()
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ),
        Some(failed == 0 && errors.load(Ordering::SeqCst) == 0),
    );
    report.add(
        "soak: RSS slope over the second half",
        "flat (< 1 MB per 1,000 runs)",
        format!(
            "{:+.2} MB per 1,000 runs (RSS {:.1} MB idle → {:.1} MB peak → {:.1} MB at the end)",
            kib_per_run * 1000.0 / 1024.0,
            rss0 as f64 / 1024.0,
            peak / 1024.0,
            rss_end as f64 / 1024.0
        ),
        Some((kib_per_run * 1000.0 / 1024.0).abs() < 1.0),
    );
    report.add(
        "soak: open file descriptors",
        "back to the idle count",
        format!("{fd0} idle → {peak_fd} peak → {fd_end} after"),
        Some(fd_end <= fd0 + 2),
    );
}
