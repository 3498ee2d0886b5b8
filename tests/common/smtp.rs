//! A real SMTP server for tests: aiosmtpd (from the test venv that scripts/test.sh
//! prepares) on a free loopback port, delivering into a maildir; stopped when dropped.
// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd and waits for its SMTP greeting. The port is picked free and then
    /// handed to aiosmtpd, so another test may take it in between: then aiosmtpd exits (or
    /// something else answers without `220`) and a new port is tried.
    pub fn start() -> SmtpServer {
        let python = std::env::var("JOB_RUNNER_TEST_PYTHON")
            .expect("JOB_RUNNER_TEST_PYTHON is not set: run scripts/test.sh, which installs aiosmtpd");
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let maildir = dir.path().join("maildir");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(&python)
                .args([
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                ])
                .arg(&maildir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut server = SmtpServer {
                child,
                port,
                maildir,
                _dir: dir,
            };
            if server.greets() {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("aiosmtpd did not start");
    }

    /// True once the server on our port answers with an SMTP greeting from our process.
    fn greets(&mut self) -> bool {
        use std::io::Read;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).unwrap_or(0);
                return buf[..n].starts_with(b"220") && matches!(self.child.try_wait(), Ok(None));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Every delivered message, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
    }

    /// Waits (bounded) until at least `n` messages were delivered. Async: the daemon's
    /// actors (and its mail task) share the test's thread, so it must not be blocked.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let bound = Duration::from_secs(30);
        let started = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(started.elapsed() < bound, "expected {n} e-mails, got {}", m.len());
            // Never block: the daemon's actors and its mail task share this thread.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
