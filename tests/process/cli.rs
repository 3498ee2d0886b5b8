//! The CLI: configuration from an old runner's `.env`, validation messages, exit codes, and
//! `run` producing a package without network or keys.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_job-runner");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// `job-runner` in `dir` with a clean environment and no config files.
pub(crate) fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONFIG_DIR", dir.join("config"));
    c
}

#[test]
fn an_old_runner_env_file_starts_job_runner_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# the old runner's .env\nENVIRONMENT=production\nRUNNER_API_SECRET=0123456789abcdefXYZ\nMAX_CONCURRENCY=5\n\
         LOG_BUFFER_LIMIT=500\nPIPELINE_TIMEOUT_SECONDS=600\nCORS_ORIGINS=https://dash.example.com,https://b.example.com\n\
         MONGODB_URI=mongodb://user:hunter2@db:27017\nOPENAI_API_KEY=sk-live-verysecret\nUSE_ANTHROPIC=1\nUSE_OPENROUTER=false\n\
         LOG_LEVEL=INFO\nLOG_FORMAT=json\nLANGCHAIN_API_KEY=ls-xyz\nLANGCHAIN_TRACING_V2=true\nREDIS_URL=redis://localhost:6379\n",
    )
    .unwrap();
    let out = cmd(dir.path()).arg("config").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "ENVIRONMENT = production",
        "MAX_CONCURRENCY = 5",
        "LOG_BUFFER_LIMIT = 500",
        "PIPELINE_TIMEOUT_SECONDS = 600",
        "CORS_ORIGINS = https://dash.example.com,https://b.example.com",
        "USE_ANTHROPIC = true",
        "LOG_FORMAT = json",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
    for secret in ["0123456789abcdefXYZ", "hunter2", "sk-live-verysecret"] {
        assert!(!stdout.contains(secret), "secret {secret} printed");
    }
    // The environment wins over .env.
    let out = cmd(dir.path())
        .arg("config")
        .env("MAX_CONCURRENCY", "7")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("MAX_CONCURRENCY = 7"));
}

#[test]
fn config_files_layer_under_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/default.toml"),
        "max_concurrency = 4\nmax_queue = 50\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config/staging.toml"),
        "max_queue = 60\nrunner_api_secret = \"staging-secret-0123456\"\n",
    )
    .unwrap();
    let out = cmd(dir.path())
        .arg("config")
        .env("ENVIRONMENT", "staging")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("MAX_CONCURRENCY = 4"));
    assert!(stdout.contains("MAX_QUEUE = 60"));
}

#[test]
fn invalid_settings_exit_3_naming_the_key_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .arg("config")
        .env("MAX_CONCURRENCY", "0")
        .env("PIPELINE_TIMEOUT_SECONDS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MAX_CONCURRENCY must be 1–20, got 0"), "{err}");
    assert!(err.contains("PIPELINE_TIMEOUT_SECONDS must be 60–3600, got 5"), "{err}");

    let out = cmd(dir.path())
        .arg("serve")
        .env("ENVIRONMENT", "production")
        .env("RUNNER_API_SECRET", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 characters"));
    let out = cmd(dir.path())
        .arg("serve")
        .env("ENVIRONMENT", "production")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUNNER_API_SECRET is required"));
}

/// `job-runner run` on the example nurse posting with the example CV, in `dir`.
fn run_example_nurse(dir: &Path) -> std::process::Output {
    cmd(dir)
        .args([
            "run",
            &format!("{EXAMPLES}/postings/registered-nurse.json"),
            "--master-cv",
            &format!("{EXAMPLES}/master-cv.md"),
        ])
        .output()
        .unwrap()
}

#[test]
fn run_builds_a_package_offline_and_prints_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_example_nurse(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Application package in"), "{stdout}");
    assert!(
        stdout.contains("LLM: no API key configured: every stage runs offline"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  cover_letter  offline"),
        "who produced each output: {stdout}"
    );
    let folder = dir
        .path()
        .join("applications/St_Helena_Hospital/Registered_Nurse_Intensive_Care");
    for f in ["CV.md", "CV.docx", "cover_letter.txt", "dossier.txt"] {
        assert!(folder.join(f).is_file(), "{f} missing");
    }
    // The stage progress was shown on stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("stage publisher completed"));

    // `--only generate-cv`: a new CV; the other stages reuse the first run's outputs.
    let again = |only: &str| {
        cmd(dir.path())
            .args([
                "run",
                &format!("{EXAMPLES}/postings/registered-nurse.json"),
                "--master-cv",
                &format!("{EXAMPLES}/master-cv.md"),
                "--only",
                only,
            ])
            .output()
            .unwrap()
    };
    let out = again("generate-cv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}
{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let produced = |stage: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(stage).map(|rest| rest.trim().to_owned()))
            .unwrap_or_default()
    };
    assert_eq!(produced("cv"), "offline", "{stdout}");
    for stage in ["pain_points", "research", "fit_score", "cover_letter"] {
        assert_eq!(produced(stage), "reused", "{stage}: {stdout}");
    }
    let out = again("make-coffee");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid operation \"make-coffee\""));
}

#[test]
fn bad_input_files_exit_4_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\"title\": \"x\"").unwrap();
    std::fs::write(
        dir.path().join("no-company.json"),
        "{\"title\": \"x\", \"job_description\": \"y\"}",
    )
    .unwrap();
    let cv = format!("{EXAMPLES}/master-cv.md");
    let cases = [
        (vec!["run", "bad.json", "--master-cv", &cv], "not valid JSON"),
        (vec!["run", "no-company.json", "--master-cv", &cv], "\"company\""),
        (vec!["run", "missing.json", "--master-cv", &cv], "cannot read"),
        (vec!["run", "no-company.json", "--master-cv", "nowhere.md"], "master CV"),
        (vec!["import", "bad.json"], "not valid JSON"),
    ];
    for (args, needle) in cases {
        let out = cmd(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = cmd(dir.path()).arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn alert_test_sends_an_e_mail_and_reports_failures() {
    let smtp = crate::smtp::SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let send = |port: u16| {
        cmd(dir.path())
            .arg("alert-test")
            .env("SMTP_HOST", "127.0.0.1")
            .env("SMTP_PORT", port.to_string())
            .env("SMTP_TLS", "none")
            .env("SMTP_PASSWORD", "smtp-secret-value")
            .env("ALERT_FROM", "runner@example.com")
            .env("ALERT_TO", "ops@example.com")
            .output()
            .unwrap()
    };
    let out = send(smtp.port);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("TEST: alert channels"), "{}", mails[0]);
    assert!(mails[0].contains("ops@example.com"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("email: test alert sent"));
    // An unreachable server: a clear error and exit 5, no secret in the output.
    let port = smtp.port;
    drop(smtp);
    let out = send(port);
    assert_eq!(out.status.code(), Some(5));
    let (stdout, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("email: FAILED: SMTP send failed"), "{stdout}");
    assert!(err.contains("could not be sent on: email"), "{err}");
    assert!(!err.contains("smtp-secret-value") && !stdout.contains("smtp-secret-value"));
    // No channel at all: a configuration error.
    let out = cmd(dir.path()).arg("alert-test").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALERT_TO"));
}

/// `alert-test` through a webhook in each format, against a local receiver.
#[tokio::test]
async fn alert_test_posts_to_the_webhook_in_each_format() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "slack", "ntfy"] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        let url = format!("{}/hooks/secret-token-0123", server.uri());
        let mut c = cmd(dir.path());
        c.arg("alert-test")
            .env("ALERT_WEBHOOK_URL", &url)
            .env("ALERT_WEBHOOK_FORMAT", format);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{format}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("webhook ({format}): test alert sent")),
            "{stdout}"
        );
        assert!(!stdout.contains("secret-token-0123"), "the hook's URL is a secret");
        let got = server.received_requests().await.unwrap();
        let body = String::from_utf8_lossy(&got[0].body).into_owned();
        match format {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["kind"], "test");
                assert!(v["headline"].as_str().unwrap().contains("test alert"), "{v}");
            }
            "slack" => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert!(v["text"].as_str().unwrap().starts_with("*[job-runner@"), "{v}");
            }
            _ => {
                assert!(got[0].headers["title"]
                    .to_str()
                    .unwrap()
                    .contains("TEST: alert channels"));
                assert_eq!(got[0].headers["priority"], "low");
                assert!(body.starts_with("This is a test alert"), "{body}");
            }
        }
    }
    // A receiver that refuses: retried, then a clear error per channel.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let mut c = cmd(dir.path());
    c.arg("alert-test").env("ALERT_WEBHOOK_URL", server.uri());
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stdout).contains("webhook (json): FAILED: webhook answered HTTP 500"));
    let out = cmd(dir.path())
        .arg("alert-test")
        .env("ALERT_WEBHOOK_URL", "ftp://example.com/hook")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALERT_WEBHOOK_URL must be an http(s) URL"));
}

#[test]
fn the_newest_dashboards_setting_names_are_aliases_and_ours_win() {
    let dir = tempfile::tempdir().unwrap();
    let show = |envs: &[(&str, &str)]| {
        let out = cmd(dir.path())
            .arg("config")
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = show(&[("MONGO_URI", "mongodb://127.0.0.1:9/x"), ("MONGO_DB_NAME", "their_db")]);
    assert!(out.contains("MONGODB_URI = **** (set"), "{out}");
    assert!(out.contains("MONGODB_DB = their_db"), "{out}");
    let out = show(&[("MONGODB_DATABASE", "other_db"), ("MONGODB_DB", "our_db")]);
    assert!(out.contains("MONGODB_DB = our_db"), "ours win: {out}");
    let out = show(&[]);
    assert!(
        out.contains("MONGODB_URI = (unset)") && out.contains("MONGODB_DB = jobs"),
        "{out}"
    );
}

#[tokio::test]
async fn settings_the_newest_deployments_set_but_job_runner_does_not_use_are_named_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let apps = dir.path().join("applications");
    let mut c = crate::serve::daemon_command(dir.path(), &apps, "start-up-test-secret-0123");
    c.env("REDIS_URL", "redis://127.0.0.1:6379")
        .env("PDF_SERVICE_URL", "http://127.0.0.1:9");
    let log = dir.path().join("daemon.log");
    let serve = crate::serve::Serve::start(c, &log, "start-up-test-secret-0123").await;
    drop(serve);
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("accepts but does not use"))
        .unwrap_or_else(|| panic!("no warning in {text}"));
    assert!(line.contains("PDF_SERVICE_URL") && line.contains("REDIS_URL"), "{line}");
}

/// `job-runner purge` deletes finished runs with their folders and data, keeps the user's
/// application folder, and asks for an age when RETENTION_DAYS is off; `export` then finds
/// no run.
#[test]
fn purge_deletes_finished_runs_and_their_folders_but_not_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_example_nurse(dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs = dir.path().join("data/runs");
    let run_dirs: Vec<_> = std::fs::read_dir(&runs).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(run_dirs.len(), 1, "{run_dirs:?}");
    let run_id = run_dirs[0].file_name().unwrap().to_string_lossy().into_owned();

    let refused = cmd(dir.path()).arg("purge").output().unwrap();
    assert_eq!(refused.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--older-than-days"));
    // A day's retention keeps a run that just finished.
    let kept = cmd(dir.path())
        .args(["purge", "--older-than-days", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&kept.stdout).contains("purged 0 finished run(s)"));
    assert!(run_dirs[0].is_dir());

    let purged = cmd(dir.path())
        .args(["purge", "--older-than-days", "0"])
        .output()
        .unwrap();
    assert!(purged.status.success(), "{}", String::from_utf8_lossy(&purged.stderr));
    assert!(String::from_utf8_lossy(&purged.stdout).contains("purged 1 finished run(s)"));
    assert!(!run_dirs[0].exists(), "the run's folder is gone");
    let package = dir
        .path()
        .join("applications/St_Helena_Hospital/Registered_Nurse_Intensive_Care/CV.md");
    assert!(package.is_file(), "the user's application folder stays");
    let export = cmd(dir.path())
        .args(["export", "--run", &run_id, "out"])
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&export.stderr).contains("no completed run"));
}

/// `job-runner purge --job` erases one job's runs, their folders and data and leaves the
/// package; with `--with-job` the job document and the package go too. Everything removed
/// is printed.
#[actix_web::test]
async fn purge_job_erases_one_job_and_with_job_its_document_and_package() {
    use job_runner::store::Store as _;
    let dir = tempfile::tempdir().unwrap();
    let out = run_example_nurse(dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job = "65a1b2c3d4e5f60718293a4c";
    let run_dirs: Vec<_> = std::fs::read_dir(dir.path().join("data/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(run_dirs.len(), 1);
    let package = dir
        .path()
        .join("applications/St_Helena_Hospital/Registered_Nurse_Intensive_Care");
    assert!(package.join("CV.md").is_file());

    let bad = cmd(dir.path()).args(["purge", "--job", "not-an-id"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--job"));
    let both = cmd(dir.path())
        .args(["purge", "--job", job, "--older-than-days", "3"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "clap refuses --job with --older-than-days");

    let erased = cmd(dir.path()).args(["purge", "--job", job]).output().unwrap();
    let text = String::from_utf8_lossy(&erased.stdout);
    assert!(erased.status.success(), "{}", String::from_utf8_lossy(&erased.stderr));
    assert!(text.contains("runs: 1") && text.contains("run folders: 1"), "{text}");
    assert!(text.contains("job document: kept"), "{text}");
    assert!(!text.contains("log lines: 0"), "the run had log lines: {text}");
    assert!(!run_dirs[0].exists(), "the run's folder is gone");
    assert!(package.join("CV.md").is_file(), "without --with-job the package stays");
    {
        let store = job_runner::store::sqlite::SqliteStore::open(&dir.path().join("data"))
            .await
            .unwrap();
        let id = job_runner::domain::JobId::parse(job).unwrap();
        assert!(store.get_job(&id).await.unwrap().is_some());
        assert!(store.active_run_for_job(&id).await.unwrap().is_none());
    }

    let with_job = cmd(dir.path())
        .args(["purge", "--job", job, "--with-job"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&with_job.stdout);
    assert!(
        with_job.status.success(),
        "{}",
        String::from_utf8_lossy(&with_job.stderr)
    );
    assert!(
        text.contains("job document: removed") && text.contains("application folder:"),
        "{text}"
    );
    assert!(!package.exists(), "the package is erased with the job");
    let store = job_runner::store::sqlite::SqliteStore::open(&dir.path().join("data"))
        .await
        .unwrap();
    assert!(store
        .get_job(&job_runner::domain::JobId::parse(job).unwrap())
        .await
        .unwrap()
        .is_none());
}

/// `job-runner token` mints a recorded read token for an existing run; it needs
/// JWT_SECRET, a known run and a sane lifetime.
#[actix_web::test]
async fn token_mints_a_recorded_read_token_for_one_run() {
    use job_runner::store::Store as _;
    const KEY: &str = "cli-jwt-key-0123456789abcdef-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let out = run_example_nurse(dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = std::fs::read_dir(dir.path().join("data/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();

    let no_key = cmd(dir.path()).args(["token", "--run", &run]).output().unwrap();
    assert_eq!(no_key.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("JWT_SECRET"));
    for (ttl, needle) in [
        ("10x", "unknown unit"),
        ("30", "60 s – 7 days"),
        ("8d", "60 s – 7 days"),
        ("abc", "--ttl"),
    ] {
        let bad = cmd(dir.path())
            .env("JWT_SECRET", KEY)
            .args(["token", "--run", &run, "--ttl", ttl])
            .output()
            .unwrap();
        assert_eq!(bad.status.code(), Some(4), "{ttl}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains(needle),
            "{ttl}: {}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
    let unknown = cmd(dir.path())
        .env("JWT_SECRET", KEY)
        .args(["token", "--run", "0123456789abcdef0123456789abcdef"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    let minted = cmd(dir.path())
        .env("JWT_SECRET", KEY)
        .args(["token", "--run", &run, "--ttl", "1h"])
        .output()
        .unwrap();
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    let token = String::from_utf8_lossy(&minted.stdout).trim().to_owned();
    let tokens = job_runner::tokens::RunTokens::new(KEY.as_bytes(), std::time::Duration::from_secs(60));
    let claims = tokens.verify(&token, &run).expect("a valid token for the run");
    assert_eq!(claims.exp - claims.iat, 3600);
    assert!(String::from_utf8_lossy(&minted.stderr).contains(&claims.jti));
    let store = job_runner::store::sqlite::SqliteStore::open(&dir.path().join("data"))
        .await
        .unwrap();
    let record = store.get_token(&claims.jti).await.unwrap().expect("recorded");
    assert_eq!(
        (record.run_id.as_ref(), record.issued_by.as_str()),
        (run.as_str(), "cli")
    );
}

/// Remote publishing switched on without its key file or folder is a configuration error
/// naming both, and a key file that is no service account key stops the daemon at start.
#[test]
fn remote_publishing_needs_a_key_file_and_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .env("ENABLE_REMOTE_PUBLISHING", "true")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GOOGLE_APPLICATION_CREDENTIALS") && err.contains("GOOGLE_DRIVE_FOLDER_ID"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("key.json"),
        r#"{"client_email": "x@y", "private_key": "not a key"}"#,
    )
    .unwrap();
    let out = cmd(dir.path())
        .env("ENABLE_REMOTE_PUBLISHING", "true")
        .env("GOOGLE_APPLICATION_CREDENTIALS", dir.path().join("key.json"))
        .env("GOOGLE_DRIVE_FOLDER_ID", "folder")
        .env("PORT", "0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not an RSA PEM key") && !err.contains("not a key"),
        "{err}"
    );
}
