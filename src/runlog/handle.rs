//! [`RunLog`], the handle stages, the pipeline and the LLM layer write a run's log through,
//! and [`LogSink`], where its lines go. The handle masks secrets and bounds every message
//! before anything sees it; the sink (the log hub in the daemon) numbers, stores and
//! streams the lines. Code below the actors writes logs without knowing about actors.

use std::sync::Arc;

use super::LogLevel;
use crate::domain::untrusted::{clip, clip_to_line, escape_controls, RUN_LOG_MESSAGE_CHARS};
use crate::domain::{RunId, RunStatus, StageName, StageStatus};

/// A boxed future, as the sink's `close` returns it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How many characters of an error a run stores (run record, job document, stage record).
pub const STORED_ERROR_CHARS: usize = 2_000;

/// Masks secrets in a text before a run logs or stores it (in the daemon: the configured
/// redactor's secret pass). Any `Fn(&str) -> String` is one.
pub trait Mask: Send + Sync {
    /// `text` with its secrets masked.
    fn mask(&self, text: &str) -> String;
}

impl<F: Fn(&str) -> String + Send + Sync> Mask for F {
    fn mask(&self, text: &str) -> String {
        self(text)
    }
}

/// Masks nothing (tests, tools without secrets).
pub fn no_mask() -> Arc<dyn Mask> {
    Arc::new(|text: &str| text.to_owned())
}

/// Where a run's log lines and stage changes go.
pub trait LogSink: Send + Sync {
    /// A run starts (again): its numbering continues at `next_seq` (see
    /// [`next_seq`](super::next_seq)).
    fn open(&self, _run_id: &RunId, _next_seq: u64) {}

    /// The run ended for this process (`status`), or stopped without an end here (`None`:
    /// re-queued, or taken over); resolves once its lines are stored.
    fn close(&self, _run_id: &RunId, _status: Option<RunStatus>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }

    /// One message (the sink splits it into lines and numbers them).
    fn publish(&self, run_id: &RunId, level: LogLevel, stage: Option<StageName>, message: String);
    /// A stage's new state, for live progress displays.
    fn stage_changed(&self, run_id: &RunId, stage: StageName, status: StageStatus);
}

/// A cheap handle stages and the pipeline use to write to a run's log. Every line also
/// goes to the daemon's own tracing output with the run id. Secrets (configured keys,
/// credentials in URLs, bearer tokens a provider echoed) are masked before a line goes
/// anywhere, and so is every error a run stores ([`RunLog::scrub`]).
#[derive(Clone)]
pub struct RunLog {
    run_id: RunId,
    stage: Option<StageName>,
    sink: Arc<dyn LogSink>,
    mask: Arc<dyn Mask>,
}

impl RunLog {
    /// A log for a run writing to `sink` (the log hub in the daemon, a [`MemorySink`](super::MemorySink) in
    /// tests), masking secrets with `mask`.
    pub fn new(run_id: RunId, sink: Arc<dyn LogSink>, mask: Arc<dyn Mask>) -> Self {
        Self {
            run_id,
            stage: None,
            sink,
            mask,
        }
    }

    /// The run this log belongs to.
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// `text` as a run may store it (an error on the run, the job or a stage): secrets
    /// masked, cut to [`STORED_ERROR_CHARS`], control characters escaped.
    pub fn scrub(&self, text: &str) -> String {
        clip_to_line(&self.mask.mask(text), STORED_ERROR_CHARS)
    }

    /// The same log, tagged with a stage.
    pub fn for_stage(&self, stage: StageName) -> Self {
        Self {
            stage: Some(stage),
            ..self.clone()
        }
    }

    fn emit(&self, level: LogLevel, message: String) {
        let message = clip(&self.mask.mask(&message), RUN_LOG_MESSAGE_CHARS).into_owned();
        let stage = self.stage.map(|s| s.as_str()).unwrap_or("");
        let text = escape_controls(&message);
        match level {
            LogLevel::Info => tracing::info!(run_id = %self.run_id, stage, "{text}"),
            LogLevel::Warn => tracing::warn!(run_id = %self.run_id, stage, "{text}"),
            LogLevel::Error => tracing::error!(run_id = %self.run_id, stage, "{text}"),
        }
        self.sink.publish(&self.run_id, level, self.stage, message);
    }

    /// An informational line.
    pub fn info(&self, message: impl Into<String>) {
        self.emit(LogLevel::Info, message.into());
    }

    /// A warning line.
    pub fn warn(&self, message: impl Into<String>) {
        self.emit(LogLevel::Warn, message.into());
    }

    /// An error line.
    pub fn error(&self, message: impl Into<String>) {
        self.emit(LogLevel::Error, message.into());
    }

    /// Announces a stage's new state to live subscribers.
    pub fn stage_changed(&self, stage: StageName, status: StageStatus) {
        self.sink.stage_changed(&self.run_id, stage, status);
    }
}
