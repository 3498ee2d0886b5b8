//! Daemon logs: JSON lines with run_id/stage, a rotated file in LOG_DIR flushed on exit,
//! and no secret, e-mail address or phone number in any line.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::serve::{Serve, BIN};

const SECRET: &str = "log-test-bearer-secret-XYZ";
const OPENAI: &str = "sk-test-openai-key-QWERTY";
const SMTP_PASSWORD: &str = "smtp-password-ASDFGH";
const JOB: &str = "65a1b2c3d4e5f60718293a4b";

#[tokio::test]
async fn a_full_run_logs_json_to_a_rotated_file_without_secrets_or_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    // The key is used for real: calls go to a closed local port (never the internet), fail,
    // and the stages fall back offline; the key must still appear nowhere.
    let llm_url = format!("http://127.0.0.1:{}/v1", crate::serve::free_port());
    let base = |cmd: &mut Command| {
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONFIG_DIR", dir.path().join("none"))
            .env(
                "MASTER_CV_PATH",
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/master-cv.md"),
            )
            .env("RUNNER_API_SECRET", SECRET)
            .env("OPENAI_API_KEY", OPENAI)
            .env("OPENAI_BASE_URL", &llm_url)
            .env("LLM_MAX_ATTEMPTS", "1")
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_USER", "alerts")
            .env("SMTP_PASSWORD", SMTP_PASSWORD)
            .env("ALERT_TO", "ops@example.com")
            .env("LOG_FORMAT", "json")
            .env("LOG_DIR", dir.path().join("logs"));
    };
    let mut import = Command::new(BIN);
    base(&mut import);
    let out = import
        .args([
            "import",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postings/all.json"),
        ])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());

    let mut cmd = Command::new(BIN);
    base(&mut cmd);
    let stderr_path = dir.path().join("stderr.log");
    let serve = Serve::start(cmd, &stderr_path, SECRET).await;
    let run = serve.start_run(JOB).await;
    let run_log = serve.full_log(&run).await;
    assert!(run_log.ends_with("data: completed\n\n"));
    assert!(
        run_log.contains("falling back to the offline implementation (provider)"),
        "the configured key was used: {run_log}"
    );
    // Input that ends up in a log line: a refused request naming a secret and personal data.
    let res = serve
        .post(
            "/jobs/run",
            json!({"job_id": JOB, "profile_ref": format!("../{OPENAI} jane.doe@example.com +1 (555) 123-4567")}),
        )
        .await;
    assert_eq!(res.status(), 400);

    // SIGTERM: drain, flush the file writer, exit.
    let mut serve = serve;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(serve.child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || serve.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("job-runner.") && name.ends_with(".log"), "{name}");
    let file = std::fs::read_to_string(&files[0]).unwrap();
    for text in [&stderr, &file] {
        for secret in [SECRET, OPENAI, SMTP_PASSWORD, "jane.doe@example.com", "123-4567"] {
            assert!(!text.contains(secret), "{secret} leaked into the log");
        }
        assert!(
            text.contains("****") && text.contains("[email]") && text.contains("[phone]"),
            "masking not applied"
        );
    }
    let lines: Vec<Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 10);
    for l in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(l.get(field).is_some(), "{l}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l["run_id"] == run.as_str() && l["stage"] == "publisher"),
        "no line carries run_id and stage"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().is_some_and(|m| m.contains("job-runner stopped"))),
        "not flushed on exit"
    );
}
