//! The OpenAPI document against the live daemon: schemathesis (from the test venv) fuzzes
//! every route but the SSE streams with a fixed seed and checks that no answer is a server
//! error and that every status, content type and body is the one documented; headless
//! Chromium renders `/docs` and the route list appears.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::serve::{daemon_command, Serve};

const SECRET: &str = "fuzz-secret-0123456789abcdef";
const JWT: &str = "fuzz-jwt-key-0123456789abcdef0123456789";

/// The daemon on a temp dir with the example postings imported.
async fn daemon(dir: &Path) -> Serve {
    let apps = dir.join("applications");
    crate::serve::import_examples(dir, &apps, SECRET);
    let mut cmd = daemon_command(dir, &apps, SECRET);
    cmd.env("JWT_SECRET", JWT).env("RATE_LIMIT_PER_MINUTE", "0");
    Serve::start(cmd, &dir.join("daemon.log"), SECRET).await
}

/// A tool the test command installs: `name` in the test venv.
fn venv_tool(name: &str) -> PathBuf {
    let python = std::env::var("JOB_RUNNER_TEST_PYTHON")
        .expect("JOB_RUNNER_TEST_PYTHON is set by scripts/test.sh (it installs schemathesis in the test venv)");
    Path::new(&python).with_file_name(name)
}

#[actix_web::test]
async fn schemathesis_finds_no_answer_that_breaks_the_documented_contract() {
    let dir = tempfile::tempdir().unwrap();
    let serve = daemon(dir.path()).await;
    // A finished run gives the run routes something real to answer about.
    let run = serve.start_run("65a1b2c3d4e5f60718293a4b").await;
    serve.full_log(&run).await;
    let out = Command::new(venv_tool("schemathesis"))
        .current_dir(dir.path())
        .args([
            "run",
            &format!("{}/openapi.json", serve.base),
            "--header",
            &format!("Authorization: Bearer {SECRET}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            // The two SSE streams stay open until their run ends: not for a fuzzer.
            "--exclude-path-regex",
            "/logs$",
            "--seed",
            "20261202",
            "--max-examples",
            "25",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{report}\n{}\ndaemon log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
    );
    assert!(
        report.contains("Tested: 3"),
        "every route but the streams was tested: {report}"
    );
}

#[actix_web::test]
async fn the_docs_page_renders_the_route_list_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let serve = daemon(dir.path()).await;
    let chromium = std::env::var("JOB_RUNNER_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", dir.path().join("chromium").display()),
            "--virtual-time-budget=15000",
            "--dump-dom",
            &format!("{}/docs/", serve.base),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{chromium} (installed by scripts/test.sh): {e}"));
    let dom = String::from_utf8_lossy(&out.stdout);
    for path in [
        "/jobs/run",
        "/jobs/{run_id}/logs",
        "/tokens/revoke",
        "/audit",
        "/health",
    ] {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{path} is not in the rendered page:\n{}",
            &dom[..dom.len().min(3000)]
        );
    }
}
