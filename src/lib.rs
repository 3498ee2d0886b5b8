//! job-runner turns job postings into application packages: it mines the employer's pain
//! points, researches the company and role, scores the candidate's fit, tailors the CV,
//! writes a cover letter, publishes the files and results, and streams every log line live.
//! It is a drop-in replacement for the old Python runner (see `docs/compat.md`).
//!
//! # Layout
//!
//! - [`config`]: layered settings (defaults → `config/*.toml` → `.env` → environment),
//!   validated into [`config::Settings`].
//! - [`telemetry`]: tracing setup.
//! - [`domain`]: parsed newtypes and records (`JobId`, `RunId`, `Run`, `StageName`, ...).
//! - [`store`]: the `Store` trait (also the durable run queue) and its SQLite backend.
//! - [`actors`]: `RunSupervisor` (admission, slots, cancel, drain), `PipelineActor` (one
//!   run), `StageActor` (one stage), `LogHub` (live logs).
//! - [`pipeline`]: the stage DAG runner, stage outputs, quality gates, offline stages.
//! - [`llm`]: the LLM client layer (not yet used by the stages).
//! - [`artifacts`]: folder naming, atomic writes, markdown → Word, the dossier.
//! - [`http`]: the HTTP API; [`error`]: its error bodies and stable codes;
//!   [`metrics`]: the Prometheus registry behind `/metrics`.
//! - [`startup`]: `Runtime` (actors + store) and `Application` (plus HTTP), used by the
//!   binary and by the tests.
//! - [`host`]: host name and free disk space.
//! - [`systemd`]: readiness, watchdog and stopping notifications; [`notify`]: alert e-mail.
//! - [`cli`]: the `job-runner` subcommands.

pub mod actors;
pub mod artifacts;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod host;
pub mod http;
pub mod llm;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod research;
pub mod startup;
pub mod store;
pub mod systemd;
pub mod telemetry;
