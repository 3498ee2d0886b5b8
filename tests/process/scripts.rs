//! The operator scripts: `smoke.sh` against a real daemon; `install.sh`/`uninstall.sh`
//! into a temporary root (no systemd as PID 1 here, so `--root` skips the system user and
//! systemctl; the unit itself is verified in systemd.rs).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use crate::serve::{Serve, BIN};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const SECRET: &str = "smoke-test-secret-01234";

#[tokio::test]
async fn smoke_passes_against_a_running_daemon_and_names_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let env = |cmd: &mut Command| {
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONFIG_DIR", dir.path().join("none"))
            .env("MASTER_CV_PATH", format!("{REPO}/examples/master-cv.md"))
            .env("RUNNER_API_SECRET", SECRET);
    };
    let mut import = Command::new(BIN);
    env(&mut import);
    assert!(import
        .args(["import", &format!("{REPO}/examples/postings/all.json")])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success());
    let mut cmd = Command::new(BIN);
    env(&mut cmd);
    let serve = Serve::start(cmd, &dir.path().join("daemon.log"), SECRET).await;
    let smoke = |secret: &str, job: Option<&str>| {
        let mut c = Command::new("bash");
        c.arg(format!("{REPO}/scripts/smoke.sh")).arg(&serve.base).arg(secret);
        if let Some(j) = job {
            c.arg(j);
        }
        c.output().unwrap()
    };
    let ok = smoke(SECRET, None);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}{}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("smoke: OK"));
    assert_eq!(
        out.matches("smoke: downloaded /artifacts/").count(),
        job_runner::artifacts::ArtifactName::ALL.len(),
        "{out}"
    );

    let bad = smoke("wrong-secret-0123456789", None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("answered 401"));
    let unknown = smoke(SECRET, Some("ffffffffffffffffffffffff"));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("answered 404"));
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_is_idempotent_keeps_settings_and_uninstall_keeps_data_unless_purged() {
    let root = tempfile::tempdir().unwrap();
    let install = || {
        Command::new("bash")
            .arg(format!("{REPO}/scripts/install.sh"))
            .args(["--binary", BIN, "--no-start", "--root"])
            .arg(root.path())
            .output()
            .unwrap()
    };
    let first = install();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let env = root.path().join("etc/job-runner/env");
    assert_eq!(mode(&env), 0o600);
    let settings = std::fs::read_to_string(&env).unwrap();
    assert!(settings.contains("ENVIRONMENT=production") && settings.contains("RUNNER_API_SECRET="));
    let secret_line = settings.lines().find(|l| l.starts_with("RUNNER_API_SECRET=")).unwrap();
    assert!(
        secret_line.len() > "RUNNER_API_SECRET=".len() + 16,
        "a strong generated secret"
    );
    assert_eq!(mode(&root.path().join("usr/local/bin/job-runner")), 0o755);
    assert!(root.path().join("etc/systemd/system/job-runner.service").is_file());
    assert!(root.path().join("etc/job-runner/default.toml").is_file());

    // Upgrade: the operator's settings survive; an env file an older install left
    // readable by the service group (0640) is made 0600 again, owned by root when the
    // installer runs as root.
    std::fs::write(&env, format!("{settings}MAX_CONCURRENCY=5\n")).unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o640)).unwrap();
    let running_as_root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if running_as_root {
        std::os::unix::fs::chown(&env, Some(0), Some(1)).unwrap();
    }
    let second = install();
    assert!(second.status.success());
    assert_eq!(mode(&env), 0o600, "env file is 0600 after an upgrade");
    if running_as_root {
        let meta = std::fs::metadata(&env).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "env file owned by root:root");
    }
    assert!(String::from_utf8_lossy(&second.stdout).contains("kept existing"));
    assert!(std::fs::read_to_string(&env).unwrap().contains("MAX_CONCURRENCY=5"));
    let version = Command::new(root.path().join("usr/local/bin/job-runner"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("job-runner "));

    std::fs::write(root.path().join("var/lib/job-runner/profiles/me.md"), "# Me").unwrap();
    let uninstall = |purge: bool| {
        let mut c = Command::new("bash");
        c.arg(format!("{REPO}/scripts/uninstall.sh"))
            .arg("--root")
            .arg(root.path());
        if purge {
            c.arg("--purge");
        }
        c.output().unwrap()
    };
    assert!(uninstall(false).status.success());
    assert!(!root.path().join("usr/local/bin/job-runner").exists());
    assert!(!root.path().join("etc/systemd/system/job-runner.service").exists());
    assert!(
        env.is_file() && root.path().join("var/lib/job-runner/profiles/me.md").is_file(),
        "data kept"
    );
    assert!(uninstall(true).status.success());
    assert!(!root.path().join("etc/job-runner").exists() && !root.path().join("var/lib/job-runner").exists());
}

/// `scripts/check_secrets.py` finds a key-shaped string in the tree and in the history
/// (also after it was deleted), names where with the value masked, and accepts what the
/// allow-list names.
#[test]
fn the_secrets_check_finds_keys_in_the_tree_and_the_history() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let check = || {
        std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check_secrets.py"))
            .arg(repo.path())
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("ok.txt"), "const KEY: &str = \"sk-test-short\";\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "clean"]);
    assert!(check().status.success(), "short fake test keys pass");
    let key = format!("sk-proj-{}", "A1b2C3d4".repeat(6));
    std::fs::write(repo.path().join("leak.env"), format!("OPENAI_API_KEY={key}\n")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "oops"]);
    std::fs::remove_file(repo.path().join("leak.env")).unwrap();
    git(&["commit", "-qam", "remove it"]);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("history") && stdout.contains("OpenAI key"), "{stdout}");
    assert!(!stdout.contains(&key), "the value is masked: {stdout}");
    std::fs::create_dir_all(repo.path().join("scripts")).unwrap();
    std::fs::write(
        repo.path().join("scripts/secret-allowlist.txt"),
        "# a fixture\nsk-proj-A1b2\n",
    )
    .unwrap();
    assert!(
        check().status.success(),
        "allowed: {}",
        String::from_utf8_lossy(&check().stdout)
    );
    // Built from parts so this file does not hold the marker itself.
    let marker = format!("-----BEGIN {} PRIVATE KEY-----", "OPENSSH");
    std::fs::write(repo.path().join("id"), format!("{marker}\nabc\n")).unwrap();
    git(&["add", "id"]);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("id: private key"));
}
