//! `scripts/backup-mongo.sh`: namespaces, rotation and failure handling. MongoDB Database
//! Tools cannot be installed on this machine, so a stand-in `mongodump` on PATH records its
//! arguments and writes (or fails to write) the archive; the script's own logic is real.

use std::path::Path;
use std::process::{Command, Output};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backup-mongo.sh");

fn fake_mongodump(bin: &Path, succeed: bool) {
    std::fs::create_dir_all(bin).unwrap();
    let body = if succeed {
        "#!/usr/bin/env bash\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\nfor a in \"$@\"; do case \"$a\" in --archive=*) echo dump > \"${a#--archive=}\";; esac; done\n"
    } else {
        "#!/usr/bin/env bash\nfor a in \"$@\"; do case \"$a\" in --archive=*) echo partial > \"${a#--archive=}\";; esac; done\nexit 1\n"
    };
    let path = bin.join("mongodump");
    std::fs::write(&path, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(bin: &Path, out: &Path, args: &[&str]) -> Output {
    Command::new("bash")
        .arg(SCRIPT)
        .args(["--out", out.to_str().unwrap()])
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("MONGODB_URI", "mongodb://user:pw@db.example:27017")
        .env("MONGODB_DB", "jobs")
        .output()
        .unwrap()
}

fn archives(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn dumps_the_job_and_runner_collections_and_keeps_the_newest_n() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, out) = (dir.path().join("bin"), dir.path().join("out"));
    fake_mongodump(&bin, true);
    std::fs::create_dir_all(&out).unwrap();
    // Three older archives already there.
    for (i, day) in ["20260101", "20260102", "20260103"].iter().enumerate() {
        let f = out.join(format!("job-runner-jobs-{day}T000000Z.archive.gz"));
        std::fs::write(&f, "old").unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + i as u64 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    let res = run(&bin, &out, &["--keep", "2"]);
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let left = archives(&out);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&"job-runner-jobs-20260103T000000Z.archive.gz".to_owned()),
        "{left:?}"
    );
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert!(calls.contains("--nsInclude=jobs.level-2"), "{calls}");
    assert!(calls.contains("--nsInclude=jobs.runner_*"), "{calls}");
    assert!(calls.contains("--gzip"), "{calls}");
}

#[test]
fn a_failed_dump_exits_non_zero_and_leaves_no_partial_archive() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, out) = (dir.path().join("bin"), dir.path().join("out"));
    fake_mongodump(&bin, false);
    let res = run(&bin, &out, &[]);
    assert_eq!(res.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&res.stderr).contains("mongodump failed"));
    assert!(archives(&out).is_empty());
}

#[test]
fn missing_tools_and_bad_arguments_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, out) = (dir.path().join("empty-bin"), dir.path().join("out"));
    std::fs::create_dir_all(&bin).unwrap();
    let res = run(&bin, &out, &[]);
    assert_eq!(res.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&res.stderr).contains("mongodump not found"));
    let res = run(&bin, &out, &["--keep", "zero"]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--keep"));
}
