//! Tests that run the real `job-runner` binary as a separate process: crash and resume,
//! graceful drain, configuration from an old `.env`, CLI exit codes, MongoDB with several
//! runners, backups, systemd integration.

mod api_docs;
mod backup;
mod cli;
mod compose;
mod console;
mod daemon;
mod docx;
mod logs;
mod mongo;
mod pdf;
#[path = "../common/queue_view.rs"]
mod queue_view;
mod scripts;
mod security;
mod serve;
#[path = "../common/smtp.rs"]
mod smtp;
#[path = "../common/sse.rs"]
mod sse;
mod systemd;
