//! A `job-runner serve` child process for the process tests: started on a free port, waited
//! for until `/health` answers, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_job-runner");

/// `job-runner` in `dir` with a clean environment: no config files, data in `dir/data`,
/// packages in `applications`, the example master CV, `secret` as bearer, JSON logs.
pub fn daemon_command(dir: &Path, applications: &Path, secret: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONFIG_DIR", dir.join("no-config"))
        .env("DATA_DIR", dir.join("data"))
        .env("APPLICATIONS_DIR", applications)
        .env(
            "MASTER_CV_PATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/master-cv.md"),
        )
        .env("RUNNER_API_SECRET", secret)
        .env("LOG_FORMAT", "json");
    cmd
}

/// Imports `examples/postings/all.json` (the three example jobs) with the CLI.
pub fn import_examples(dir: &Path, applications: &Path, secret: &str) {
    let imported = daemon_command(dir, applications, secret)
        .args([
            "import",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postings/all.json"),
        ])
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

/// A free loopback port (released again before the daemon binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `data:` lines of an SSE body.
pub fn data_lines(sse: &str) -> Vec<&str> {
    sse.lines().filter_map(|l| l.strip_prefix("data: ")).collect()
}

/// A running daemon.
pub struct Serve {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
    secret: String,
}

impl Serve {
    /// Runs `cmd` (a prepared `job-runner` command) as `serve` on a free port, appending its
    /// stderr to `log`, and waits until `/health` answers 200 (bounded retries while the
    /// listener is not bound yet).
    pub async fn start(cmd: Command, log: &Path, secret: &str) -> Serve {
        Self::start_on(cmd, log, secret, free_port()).await
    }

    /// [`Serve::start`] on a given port (a restart on the port clients already use).
    pub async fn start_on(mut cmd: Command, log: &Path, secret: &str, port: u16) -> Serve {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        cmd.arg("serve")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file));
        let serve = Serve {
            child: cmd.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            secret: secret.to_owned(),
        };
        for _ in 0..400 {
            if let Ok(res) = serve.client.get(format!("{}/health", serve.base)).send().await {
                if res.status().is_success() {
                    return serve;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "daemon did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a run and returns its id.
    pub async fn start_run(&self, job: &str) -> String {
        let res = self.post("/jobs/run", serde_json::json!({"job_id": job})).await;
        assert!(res.status().is_success(), "POST /jobs/run: {}", res.status());
        res.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The whole SSE log of a run (returns when the run has ended).
    pub async fn full_log(&self, run: &str) -> String {
        self.client
            .get(format!("{}/jobs/{run}/logs", self.base))
            .bearer_auth(&self.secret)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Reads the live SSE stream until a data line contains `needle`.
    pub async fn wait_for_line(&self, run: &str, needle: &str) -> Vec<String> {
        let res = self
            .client
            .get(format!("{}/jobs/{run}/logs", self.base))
            .bearer_auth(&self.secret)
            .send()
            .await
            .unwrap();
        crate::sse::read_until(res, needle)
            .await
            .into_iter()
            .map(|e| e.data)
            .collect()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
