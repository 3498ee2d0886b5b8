//! The operator console in a real browser: `tests/browser/console.cjs` drives Debian's
//! headless chromium through playwright-core (both installed by scripts/test.sh) against
//! the daemon started here, with every other host blocked. Runs are slowed a little
//! (`OFFLINE_STAGE_DELAY_MS`) and one run at a time (`MAX_CONCURRENCY=1`), so the test can
//! watch a run's log stream in and cancel a run that is still waiting. Mid-run the script
//! asks (on stdout) for the daemon to be killed and restarted on the same port; the page
//! must reconnect its log stream and resume after the last line it showed.
//!
//! Screenshots go to a temporary folder; with `JOB_RUNNER_SCREENSHOTS=docs/images` they
//! refresh the ones the README shows.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::serve::{daemon_command, Serve};

const SECRET: &str = "console-secret-0123456789abcdef";

/// The screenshots the README shows.
const SCREENSHOTS: [&str; 7] = [
    "console-login.png",
    "console-start.png",
    "console-run.png",
    "console-cv-preview.png",
    "console-runs.png",
    "console-health.png",
    "console-phone.png",
];

fn playwright_core() -> PathBuf {
    PathBuf::from(
        std::env::var("JOB_RUNNER_TEST_PLAYWRIGHT")
            .expect("JOB_RUNNER_TEST_PLAYWRIGHT is set by scripts/test.sh (it installs playwright-core from npm)"),
    )
}

async fn daemon(dir: &Path) -> Serve {
    crate::serve::import_examples(dir, &dir.join("applications"), SECRET);
    Serve::start(serve_command(dir), &dir.join("daemon.log"), SECRET).await
}

/// The daemon's command: stages slowed a little, one run at a time.
fn serve_command(dir: &Path) -> Command {
    let mut cmd = daemon_command(dir, &dir.join("applications"), SECRET);
    cmd.env("OFFLINE_STAGE_DELAY_MS", "400")
        .env("MAX_CONCURRENCY", "1")
        .env("RATE_LIMIT_PER_MINUTE", "0");
    cmd
}

#[actix_web::test]
async fn the_console_works_in_a_real_browser_and_fetches_nothing_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let serve = daemon(dir.path()).await;
    let shots = match std::env::var("JOB_RUNNER_SCREENSHOTS") {
        Ok(d) => Path::new(env!("CARGO_MANIFEST_DIR")).join(d),
        Err(_) => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let chromium = std::env::var("JOB_RUNNER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut node = Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.cjs"))
        .env("BASE_URL", &serve.base)
        .env("SECRET", SECRET)
        .env("CHROMIUM", &chromium)
        .env("PLAYWRIGHT_CORE", playwright_core())
        .env("SCREENSHOT_DIR", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node (installed by scripts/test.sh): {e}"));
    let (lines, mut stderr) = (node.stdout.take().unwrap(), node.stderr.take().unwrap());
    let mut answers = node.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(lines).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut serve = serve;
    let mut transcript = String::new();
    let mut restarts = 0;
    // The script's requests, until it ends (its stdout closes).
    while let Some(line) = rx.recv().await {
        transcript.push_str(&line);
        transcript.push('\n');
        if line == "restart-daemon" {
            let port: u16 = serve.base.rsplit(':').next().unwrap().parse().unwrap();
            serve.kill();
            serve = Serve::start_on(serve_command(dir.path()), &dir.path().join("daemon.log"), SECRET, port).await;
            restarts += 1;
            writeln!(answers, "restarted").unwrap();
        }
    }
    let status = node.wait().unwrap();
    assert!(
        status.success() && transcript.contains("console test passed"),
        "{transcript}\n{}\ndaemon log (tail):\n{}",
        errors.join().unwrap_or_default(),
        tail(
            &std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default(),
            60
        )
    );
    assert_eq!(restarts, 1, "{transcript}");
    for name in SCREENSHOTS {
        let png = std::fs::read(shots.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{name} is not a real screenshot"
        );
    }
    // The daemon saw the whole session: the login, the logout, nothing refused on the way.
    // A new connection: the pooled one from start-up may have been closed while idle.
    let audit: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/audit?limit=200", serve.base))
        .bearer_auth(SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let paths: Vec<(String, String, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or("").to_owned(),
                e["path"].as_str().unwrap_or("").to_owned(),
                e["status"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    for (method, path) in [("POST", "/session"), ("DELETE", "/session")] {
        assert!(
            paths.iter().any(|(m, p, s)| m == method && p == path && *s == 200),
            "{method} {path} not in the audit trail: {paths:?}"
        );
    }
    assert!(
        entries.iter().all(|e| e["status"].as_i64().unwrap_or(0) < 400),
        "a console request was refused: {paths:?}"
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
