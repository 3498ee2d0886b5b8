//! job-runner turns job postings into application packages: it mines the employer's pain
//! points, researches the company and role, scores the candidate's fit, tailors the CV,
//! writes a cover letter, publishes the files and results, and streams every log line live.
//! It is a drop-in replacement for the old Python runner (see `docs/compat.md`).
//!
//! # Layout
//!
//! Layers, lowest first (see `docs/architecture.md`, checked by `scripts/check-layers.sh`):
//!
//! - [`domain`]: parsed newtypes and records (`JobId`, `RunId`, `Run`, `StageName`, ...) and
//!   the handling of outside text (`domain::untrusted`).
//! - [`config`]: layered settings (defaults → `config/*.toml` → `.env` → environment),
//!   validated into [`config::Settings`]; secrets and URL credentials masked.
//! - [`tokens`]: run-scoped read tokens (JWT, HS256) for browsers that must not hold the
//!   API secret.
//! - [`store`]: the `Store` trait (also the durable run queue) with its SQLite and MongoDB
//!   backends.
//! - [`artifacts`]: folder naming, atomic writes, markdown → Word, the dossier.
//! - [`llm`]: the model providers, the provider guard, a run's budget, structured answers;
//!   [`firecrawl`]: the FireCrawl client used by research.
//! - [`pipeline`]: the stage contract, the stage DAG runner, stage outputs, quality gates,
//!   the offline and model-assisted stage implementations.
//! - [`actors`]: `RunSupervisor` (admission, slots, cancel, drain), `PipelineActor` (one
//!   run), `StageActor` (one stage), `LogHub` (live logs), `HealthActor` (checks, alerts).
//! - [`http`]: the HTTP API and its error bodies; [`metrics`]: the Prometheus registry
//!   behind `/metrics`; [`telemetry`]: tracing setup (its redactor lives in
//!   [`config`]).
//! - [`startup`]: `Runtime` (actors + store) and `Application` (plus HTTP), used by the
//!   binary and by the tests; [`cli`]: the `job-runner` subcommands.
//! - Around them: [`host`] (host name, free disk), [`systemd`] (readiness, watchdog,
//!   stopping), [`notify`] (alert e-mail).

pub mod actors;
pub mod artifacts;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod domain;
pub mod firecrawl;
pub mod google;
pub mod health;
pub mod host;
pub mod http;
pub mod llm;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod runlog;
pub mod startup;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod tokens;
