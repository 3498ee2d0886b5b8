//! A small HTTP/1.1 load generator over raw keep-alive sockets (like `wrk`): each
//! connection sends one request, reads the whole answer (by `Content-Length`), records the
//! latency, and sends the next, until the time is up. It runs on its own two-thread
//! runtime, so the server under test and the generator share the machine the same way for
//! every server measured; that is what makes the ratios fair.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::percentile;

/// What a load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
            self.rps,
            self.p50_ms,
            self.p99_ms,
            if self.errors > 0 {
                format!(", {} errors", self.errors)
            } else {
                String::new()
            }
        )
    }
}

/// A GET request for `path` with extra header lines.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Loads `addr` with `request` over `connections` keep-alive connections for `duration`
/// (after `warm_up` that is not counted).
pub async fn run(
    addr: SocketAddr,
    request: Vec<u8>,
    connections: usize,
    warm_up: Duration,
    duration: Duration,
) -> Load {
    crate::common::on_own_runtime(2, async move {
        let request = Arc::new(request);
        let begin = Instant::now() + warm_up;
        let end = begin + duration;
        let tasks: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(connection(addr, Arc::clone(&request), begin, end)))
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap();
            latencies.extend(l);
            errors += e;
        }
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Load {
            rps: latencies.len() as f64 / duration.as_secs_f64(),
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            errors,
        }
    })
    .await
}

/// One connection's loop: latencies (ms) of the answers completed between `begin` and
/// `end`, and the count of errors (non-200, broken connections).
async fn connection(addr: SocketAddr, request: Arc<Vec<u8>>, begin: Instant, end: Instant) -> (Vec<f64>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut stream = None;
    while Instant::now() < end {
        if stream.is_none() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(s);
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let s = stream.as_mut().unwrap();
        let started = Instant::now();
        let ok = exchange(s, &request, &mut buf).await;
        let counted = started >= begin && Instant::now() <= end;
        match ok {
            Ok(true) if counted => latencies.push(started.elapsed().as_secs_f64() * 1000.0),
            Ok(true) => {}
            Ok(false) => errors += u64::from(counted),
            Err(_) => {
                errors += u64::from(counted);
                stream = None;
            }
        }
    }
    (latencies, errors)
}

/// Sends the request and reads one whole answer; `Ok(true)` for a 200.
async fn exchange(s: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> std::io::Result<bool> {
    s.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| std::io::Error::other("answer without Content-Length"))?;
            break (pos + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf.starts_with(b"HTTP/1.1 200"))
}

/// The ceiling: a minimal actix-web server (two workers, like the daemon on this machine)
/// answering a small JSON object on every path. Runs in this binary's own process
/// (`compare --minimal-server <port>`), so it is measured exactly like the daemon.
pub fn minimal_server(port: u16) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        actix_web::HttpServer::new(|| {
            actix_web::App::new().default_service(actix_web::web::to(|| async {
                actix_web::HttpResponse::Ok().json(serde_json::json!({"status": "healthy"}))
            }))
        })
        .workers(2)
        .bind(("127.0.0.1", port))?
        .run()
        .await
    })
}
