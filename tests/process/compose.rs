//! `docker-compose.runner.yml` validates (`docker-compose config`, Debian's package, needs no
//! engine) and the Dockerfile builds a non-root, multi-stage image. No Docker engine runs
//! on these machines, so the image itself is not built here.

use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_compose_file_is_valid_and_binds_the_runner_to_loopback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{REPO}/docker-compose.runner.yml"),
        dir.path().join("docker-compose.runner.yml"),
    )
    .unwrap();
    std::fs::copy(format!("{REPO}/runner.env.example"), dir.path().join("runner.env")).unwrap();
    let out = Command::new("docker-compose")
        .args(["-f", "docker-compose.runner.yml", "config"])
        .current_dir(dir.path())
        .output()
        .expect("docker-compose must be installed (scripts/test.sh installs Debian's docker-compose)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("127.0.0.1:8000:8000"),
        "runner not bound to loopback:\n{text}"
    );
    assert!(
        text.contains("mongo-data") && text.contains("runner-data"),
        "volumes:\n{text}"
    );
    assert!(
        text.contains("service_healthy"),
        "runner waits for a healthy MongoDB:\n{text}"
    );
}

#[test]
fn the_dockerfile_is_multi_stage_and_runs_as_non_root() {
    let text = std::fs::read_to_string(format!("{REPO}/Dockerfile")).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("FROM ")).count(),
        2,
        "multi-stage"
    );
    let user = text.lines().rfind(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    assert!(text.contains("HEALTHCHECK"));
}
