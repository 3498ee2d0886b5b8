//! `job-runner serve` killed with SIGKILL resumes its runs from their last checkpoint;
//! SIGTERM drains and exits 0.

use std::path::Path;
use std::process::{Child, Command};

use crate::serve::{daemon_command, data_lines, free_port, Serve};

const SECRET: &str = "process-test-secret-0123";
const JOB: &str = "65a1b2c3d4e5f60718293a4b";
const JOB2: &str = "65a1b2c3d4e5f60718293a4d";

fn command(dir: &Path) -> Command {
    daemon_command(dir, &dir.join("applications"), SECRET)
}

fn import(dir: &Path) {
    let out = command(dir)
        .args([
            "import",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/postings/all.json"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn start(dir: &Path, extra: &[(&str, &str)]) -> Serve {
    let mut cmd = command(dir);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Serve::start(cmd, &dir.join("daemon.log"), SECRET).await
}

#[tokio::test]
async fn a_killed_daemon_resumes_runs_from_their_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path());
    let slow = [("OFFLINE_STAGE_DELAY_MS", "400"), ("MAX_CONCURRENCY", "1")];
    let mut daemon = start(dir.path(), &slow).await;
    let first = daemon.start_run(JOB).await;
    let second = daemon.start_run(JOB2).await;

    // Kill it hard once the fit score is checkpointed (the CV and letter are not yet done).
    let before = daemon.wait_for_line(&first, "stage fit_score completed").await;
    daemon.kill();
    let done_before: Vec<&str> = ["extract", "pain_points", "research", "fit_score"]
        .into_iter()
        .filter(|s| before.iter().any(|l| l.contains(&format!("stage {s} completed"))))
        .collect();
    assert_eq!(done_before, ["extract", "pain_points", "research", "fit_score"]);

    let daemon = start(dir.path(), &slow).await;
    // The queued run stayed queued (it was never started).
    let s2 = daemon.get(&format!("/jobs/{second}/status")).await;
    assert!(["queued", "running"].contains(&s2["status"].as_str().unwrap()), "{s2}");

    let log = daemon.full_log(&first).await;
    assert!(log.ends_with("event: end\ndata: completed\n\n"), "{log}");
    let lines = data_lines(&log);
    assert!(
        lines
            .iter()
            .any(|l| l
                .contains("resuming from checkpoint; already completed: extract, pain_points, research, fit_score")),
        "{log}"
    );
    for stage in done_before {
        let starts = lines
            .iter()
            .filter(|l| l.contains(&format!("stage {stage} started")))
            .count();
        assert_eq!(starts, 1, "{stage} ran again after the restart:\n{log}");
    }
    let status = daemon.get(&format!("/jobs/{first}/status")).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["attempts"], 2);
    assert_eq!(
        status["artifacts"].as_object().unwrap().len(),
        job_runner::artifacts::ArtifactName::ALL.len()
    );
    // Sequence numbers never go backwards across the crash.
    let ids: Vec<u64> = log
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    assert!(daemon.full_log(&second).await.ends_with("data: completed\n\n"));
    let mut daemon = daemon;
    daemon.kill();
}

/// A run the daemon keeps resuming is still stopped by `PIPELINE_TIMEOUT_SECONDS`: the time
/// its earlier attempts ran counts. Each of the run's five delayed layers takes 16 s (80 s in
/// all); the daemon is killed once two layers are checkpointed (32 s in). The 48 s left would
/// fit in a fresh 60 s attempt, so a timeout per attempt would let the run complete; counted
/// over the whole run, about 28 s remain and the run is stopped. The outcome, not a clock,
/// tells the two apart.
#[tokio::test]
async fn a_resumed_run_is_stopped_by_the_timeout_counted_over_all_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path());
    let slow = [
        ("OFFLINE_STAGE_DELAY_MS", "16000"),
        ("PIPELINE_TIMEOUT_SECONDS", "60"),
        ("MAX_CONCURRENCY", "1"),
    ];
    let mut daemon = start(dir.path(), &slow).await;
    let run = daemon.start_run(JOB).await;
    daemon.wait_for_line(&run, "stage pain_points completed").await;
    daemon.kill();

    let mut daemon = start(dir.path(), &slow).await;
    let log = daemon.full_log(&run).await;
    assert!(log.ends_with("event: end\ndata: failed\n\n"), "{log}");
    let lines = data_lines(&log);
    // The resumed attempt starts with the first attempt's time counted (two 16 s layers).
    let carried: u64 = lines
        .iter()
        .find_map(|l| l.split("this run already executed ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the resumed attempt does not say what earlier attempts ran:\n{log}"));
    assert!(carried >= 30, "only {carried} s carried over:\n{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("run timed out: exceeded PIPELINE_TIMEOUT_SECONDS=60")),
        "{log}"
    );
    let status = daemon.get(&format!("/jobs/{run}/status")).await;
    assert_eq!(
        (status["status"].as_str(), status["attempts"].as_u64()),
        (Some("failed"), Some(2)),
        "{status}"
    );
    daemon.kill();
}

pub fn sigterm(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

#[tokio::test]
async fn sigterm_drains_checkpoints_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path());
    let slow = [("OFFLINE_STAGE_DELAY_MS", "500"), ("SHUTDOWN_GRACE_SECONDS", "10")];
    let daemon = start(dir.path(), &slow).await;
    let run = daemon.start_run(JOB).await;
    daemon.wait_for_line(&run, "stage pain_points started").await;
    sigterm(&daemon.child);
    let status = tokio::task::spawn_blocking(move || {
        let mut daemon = daemon;
        daemon.child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status {status:?}");

    // The stages in flight finished and were checkpointed; the run resumes on restart.
    let mut daemon = start(dir.path(), &[]).await;
    let log = daemon.full_log(&run).await;
    assert!(log.ends_with("data: completed\n\n"), "{log}");
    let lines = data_lines(&log);
    assert!(lines.iter().any(|l| l.contains("daemon is shutting down")), "{log}");
    assert!(lines.iter().any(|l| l.contains("re-queued")), "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("already completed: extract, pain_points, research")),
        "{log}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("stage pain_points started")).count(),
        1,
        "{log}"
    );
    daemon.kill();
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(dir.path(), &[]).await;
    let out = command(dir.path())
        .arg("serve")
        .env("PORT", free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another job-runner process is using DATA_DIR"));
    first.kill();
}
