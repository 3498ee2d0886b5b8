//! `spawn_app()` and request helpers shared by the API tests.

use std::path::PathBuf;
use std::time::Duration;

use job_runner::config::{Secret, Settings};
use job_runner::domain::{JobId, JobPosting};
use job_runner::startup::Application;
use job_runner::store::sqlite::SqliteStore;
use job_runner::store::Store;
use serde_json::{json, Value};

pub use crate::sse::{parse_sse, read_until, SseEvent};

pub const SECRET: &str = "test-secret-0123456789";
/// The backend example posting's id.
pub const JOB: &str = "65a1b2c3d4e5f60718293a4b";

/// A running daemon and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub root: tempfile::TempDir,
    pub data_dir: PathBuf,
}

fn init_tracing() {
    if std::env::var("TEST_LOG").is_ok() {
        job_runner::telemetry::init_with("info", job_runner::config::LogFormat::Simple);
    }
}

/// The example backend posting with another id (and optionally another description).
pub fn posting(id: &str, description: Option<&str>) -> JobPosting {
    let doc: Value = serde_json::from_str(include_str!("../../examples/postings/backend-engineer.json")).unwrap();
    let mut job = JobPosting::from_document(doc.as_object().unwrap(), false).unwrap();
    job.id = JobId::parse(id).unwrap();
    if let Some(d) = description {
        job.job_description = d.to_owned();
    }
    job
}

/// A 24-hex job id from a small number.
pub fn job_id(n: u32) -> String {
    format!("{:024x}", 0xabc0_0000_u64 + n as u64)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}, &[]).await
}

/// Starts the daemon with adjusted settings and extra job documents.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings), jobs: &[JobPosting]) -> TestApp {
    init_tracing();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("master-cv.md"),
        include_str!("../../examples/master-cv.md"),
    )
    .unwrap();
    let mut settings = Settings::for_root(root.path());
    settings.server.runner_api_secret = Some(Secret::new(SECRET));
    adjust(&mut settings);
    let data_dir = settings.paths.data_dir.clone();
    {
        let store = SqliteStore::open(&data_dir).await.unwrap();
        store.upsert_job(&posting(JOB, None)).await.unwrap();
        for j in jobs {
            store.upsert_job(j).await.unwrap();
        }
    }
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_in_background());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        root,
        data_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A GET with the dashboard's headers.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(SECRET)
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(SECRET)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Starts a run the way the dashboard does and returns its run id.
    pub async fn start_run(&self, job: &str) -> String {
        let res = self.post("/jobs/run", &json!({"job_id": job, "level": 2})).await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Reads the SSE stream until the server closes it (after `event: end`).
    pub async fn stream_logs(&self, run_id: &str, last_event_id: Option<u64>) -> Vec<SseEvent> {
        let mut req = self
            .client
            .get(self.url(&format!("/jobs/{run_id}/logs")))
            .bearer_auth(SECRET);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        parse_sse(&res.text().await.unwrap())
    }

    /// Waits (on the log stream, no polling) for the run to end; returns its status.
    pub async fn wait_for_end(&self, run_id: &str) -> String {
        let events = self.stream_logs(run_id, None).await;
        let end = events
            .iter()
            .find(|e| e.event.as_deref() == Some("end"))
            .expect("stream ends with an end event");
        end.data.clone()
    }

    /// Reads the live stream until a data line contains `needle` (then drops the stream).
    pub async fn wait_for_line(&self, run_id: &str, needle: &str) -> Vec<SseEvent> {
        let res = self
            .client
            .get(self.url(&format!("/jobs/{run_id}/logs")))
            .bearer_auth(SECRET)
            .send()
            .await
            .unwrap();
        read_until(res, needle).await
    }

    /// The body of a GET.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Each stage's (name, producer, source run) from the progress endpoint.
    pub async fn stage_producers(&self, run: &str) -> Vec<(String, String, Value)> {
        let p = self.get_json(&format!("/jobs/{run}/progress")).await;
        p["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["producer"].as_str().unwrap_or("").to_owned(),
                    s["source_run"].clone(),
                )
            })
            .collect()
    }

    pub fn store_path(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// The job document `id` as the runs left it (read from the SQLite file).
    pub async fn job_document(&self, id: &str) -> serde_json::Map<String, Value> {
        let store = SqliteStore::open(&self.data_dir).await.unwrap();
        store
            .get_job_document(&JobId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("the job document exists")
    }
}

/// Sends a raw HTTP/1.1 GET (no client-side path normalisation) and returns the status.
pub async fn raw_get_status(address: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {SECRET}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line")
}
