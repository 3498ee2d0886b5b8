//! What the comparison benchmarks share: the daemon as a separate process (as it runs in
//! production), raw socket helpers, percentiles and the report table.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use job_runner::domain::{JobId, JobPosting};
use serde_json::Value;

/// Runs `fut` on a multi-thread tokio runtime of its own with `threads` workers (clients
/// and load generators, kept off the runtime that drives the bench) and returns its output.
pub async fn on_own_runtime<F, T>(threads: usize, fut: F) -> T
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    })
    .await
    .unwrap()
}

/// The API secret every benchmark daemon uses.
pub const SECRET: &str = "bench-secret-0123456789abcdef";

/// The example backend posting as job `n`.
pub fn posting(n: usize) -> JobPosting {
    let doc: Value = serde_json::from_str(include_str!("../postings/backend-engineer.json")).unwrap();
    let mut job = JobPosting::from_document(doc.as_object().unwrap(), false).unwrap();
    job.id = JobId::parse(&format!("{:024x}", 0xc0_0000_0000_u64 + n as u64)).unwrap();
    job
}

/// The `p` quantile (0–1) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Resident memory of a process (KiB).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The release binary next to this example.
fn daemon_binary() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("job-runner")
}

/// Lets this process and its children open many sockets (1,000 SSE clients and their
/// server ends).
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A `job-runner serve` process on a temporary data folder with `jobs` imported postings.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts the daemon with `env` on top of the bench defaults and waits for `/health`.
    pub async fn start(env: &[(&str, &str)], jobs: usize) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let postings: Vec<Value> = (0..jobs).map(|n| Value::Object(posting(n).to_document())).collect();
        std::fs::write(
            dir.path().join("postings.json"),
            serde_json::to_string(&postings).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("master-cv.md"), include_str!("../master-cv.md")).unwrap();
        let command = |args: &[&str]| {
            let mut cmd = Command::new(daemon_binary());
            cmd.current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("CONFIG_DIR", dir.path().join("none"))
                .env("RUNNER_API_SECRET", SECRET)
                .env("MAX_QUEUE", "5000")
                .env("LOG_LEVEL", "warn")
                .env("RATE_LIMIT_PER_MINUTE", "0")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd
        };
        if jobs > 0 {
            assert!(command(&["import", "postings.json"]).status().unwrap().success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = command(&["serve"]).env("PORT", port.to_string()).spawn().unwrap();
        let daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            _dir: dir,
        };
        let started = Instant::now();
        while !daemon
            .client
            .get(format!("{}/health", daemon.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(started.elapsed() < Duration::from_secs(20), "the daemon did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(SECRET)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "POST {path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// Queues full runs of jobs `range` in one request; their run ids in order.
    pub async fn start_runs(&self, range: std::ops::Range<usize>) -> Vec<String> {
        let ids: Vec<String> = range.map(|n| posting(n).id.to_string()).collect();
        let answer = self.post("/jobs/run-bulk", serde_json::json!({"job_ids": ids})).await;
        answer["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits until `n` runs have finished (any outcome), polling every 50 ms.
    pub async fn wait_finished(&self, n: u64, limit: Duration) {
        let started = Instant::now();
        loop {
            let mut done = 0;
            for status in ["completed", "failed", "cancelled"] {
                done += self.get(&format!("/runs?status={status}&limit=1")).await["total"]
                    .as_u64()
                    .unwrap_or(0);
            }
            if done >= n {
                return;
            }
            assert!(started.elapsed() < limit, "{done} of {n} runs finished in {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// One figure of the report.
pub struct Row {
    pub figure: String,
    pub goal: String,
    pub measured: String,
    /// `Some(true)` met, `Some(false)` missed, `None` informational.
    pub met: Option<bool>,
}

/// The figures of one benchmark run, printed as they come and as a table at the end.
#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    pub fn add(
        &mut self,
        figure: impl Into<String>,
        goal: impl Into<String>,
        measured: impl Into<String>,
        met: Option<bool>,
    ) {
        let row = Row {
            figure: figure.into(),
            goal: goal.into(),
            measured: measured.into(),
            met,
        };
        println!(
            "  {} | goal: {} | measured: {} {}",
            row.figure,
            row.goal,
            row.measured,
            verdict(row.met)
        );
        self.rows.push(row);
    }

    /// The table in Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| Figure | Goal | Measured | |\n|---|---|---|---|\n");
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.figure,
                r.goal,
                r.measured,
                verdict(r.met)
            ));
        }
        out
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "",
    }
}
