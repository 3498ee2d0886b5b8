//! 2. SSE fan-out: one run's log delivered to 1, 100, 500 and 1,000 subscribers of the real
//!    daemon process. Each subscriber is a raw-socket Rust client on a runtime of its own;
//!    latency is from the line's publication (its stored timestamp, taken by the log hub
//!    when it publishes the line) to the moment the client read it; memory per subscriber is
//!    the daemon's RSS growth with the subscribers connected and idle, divided by their
//!    number.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{percentile, rss_kib, Daemon, Report, SECRET};

/// Reads one run's stream; every line's sequence number with the time it was read.
async fn subscriber(port: u16, run: String, connected: Arc<AtomicUsize>) -> Vec<(u64, DateTime<Utc>)> {
    let mut seen = Vec::new();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await else {
        return seen;
    };
    let _ = s.set_nodelay(true);
    let req = format!("GET /jobs/{run}/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SECRET}\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return seen;
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut headers_done = false;
    let mut scanned = 0;
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Utc::now();
        buf.extend_from_slice(&chunk[..n]);
        if !headers_done {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                assert!(
                    buf.starts_with(b"HTTP/1.1 200"),
                    "{}",
                    String::from_utf8_lossy(&buf[..pos])
                );
                headers_done = true;
                scanned = pos + 4;
                connected.fetch_add(1, Ordering::SeqCst);
            } else {
                continue;
            }
        }
        // Whole lines only; chunk-size lines end in `\r` and never start with `id: `.
        let Some(last_nl) = buf[scanned..].iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[scanned..scanned + last_nl + 1]).into_owned();
        scanned += last_nl + 1;
        let mut ended = false;
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("id: ") {
                if let Ok(seq) = id.trim().parse() {
                    seen.push((seq, now));
                }
            } else if line == "event: end" {
                ended = true;
            }
        }
        if ended {
            break;
        }
        if scanned > 1 << 20 {
            buf.drain(..scanned);
            scanned = 0;
        }
    }
    seen
}

pub async fn run(report: &mut Report) {
    println!("2. SSE fan-out (one run, N subscribers)");
    let daemon = Daemon::start(
        &[
            ("MAX_CONCURRENCY", "1"),
            ("OFFLINE_STAGE_DELAY_MS", "300"),
            ("MAX_SSE_STREAMS", "5000"),
        ],
        2,
    )
    .await;
    let mut finished = 0;
    for n in [1usize, 100, 500, 1000] {
        // A run holding the only slot while the subscribers connect to the next one.
        let runs = daemon.start_runs(0..2).await;
        let target = runs[1].clone();
        let before = rss_kib(daemon.pid());
        let connected = Arc::new(AtomicUsize::new(0));
        let port = daemon.port;
        let clients = {
            let (connected, target) = (Arc::clone(&connected), target.clone());
            // Spawned: the subscribers must run while this task waits for them to connect.
            tokio::spawn(crate::common::on_own_runtime(2, async move {
                let tasks: Vec<_> = (0..n)
                    .map(|_| tokio::spawn(subscriber(port, target.clone(), Arc::clone(&connected))))
                    .collect();
                let mut all = Vec::with_capacity(n);
                for t in tasks {
                    all.push(t.await.unwrap());
                }
                all
            }))
        };
        while connected.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready = Utc::now();
        let with_subscribers = rss_kib(daemon.pid());
        let seen = clients.await.unwrap();
        finished += 2;
        daemon.wait_finished(finished, Duration::from_secs(120)).await;
        let stored = daemon.get(&format!("/api/logs/{target}?limit=1000")).await;
        let published: HashMap<u64, DateTime<Utc>> = stored["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["seq"].as_u64().unwrap(), l["ts"].as_str().unwrap().parse().unwrap()))
            .collect();
        let mut latencies: Vec<f64> = seen
            .iter()
            .flatten()
            .filter_map(|(seq, at)| {
                let ts = published.get(seq)?;
                (*ts > ready).then(|| (*at - *ts).num_microseconds().unwrap_or(0) as f64 / 1000.0)
            })
            .collect();
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let complete = seen.iter().filter(|s| s.len() >= published.len()).count();
        let per_sub = (with_subscribers.saturating_sub(before)) as f64 / n as f64;
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        let goal = if n == 500 { "p99 < 5 ms" } else { "" };
        report.add(
            format!("SSE emit → client, {n} subscriber{}", if n == 1 { "" } else { "s" }),
            goal,
            format!(
                "p50 {p50:.2} ms, p99 {p99:.2} ms ({} deliveries timed; {complete}/{n} clients got every line); {per_sub:.1} KiB RSS per subscriber",
                latencies.len()
            ),
            (n == 500).then_some(p99 < 5.0),
        );
    }
}
