//! Plain records the store reads and writes besides the domain types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{JobId, Run, RunId, RunStatus};

/// The fields a status change `$set`s on a job document (COMPAT.md).
#[derive(Debug, Clone, PartialEq)]
pub struct JobUpdate {
    /// `pipeline_run_id`.
    pub run_id: RunId,
    /// `pipeline_status`: queued, running, completed, pipeline_failed, cancelled.
    pub pipeline_status: String,
    /// `pipeline_started_at`, when known.
    pub started_at: Option<DateTime<Utc>>,
    /// `pipeline_updated_at` and `updatedAt`.
    pub updated_at: DateTime<Utc>,
    /// `pipeline_completed_at`, when the run ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// `pipeline_error` and `pipeline_failed_at`, on failure.
    pub failure: Option<(String, DateTime<Utc>)>,
    /// `artifact_urls`, when the run ended.
    pub artifact_urls: Option<BTreeMap<String, String>>,
    /// Result fields written on success (`status`, `pain_points`, ...); nulls are dropped.
    pub results: Option<Map<String, Value>>,
}

/// Runs that ended in a period, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FinishedCounts {
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// What renewing a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Still ours.
    Held,
    /// Still ours, and someone asked to cancel the run.
    CancelRequested,
    /// Not ours any more (expired and taken over, or finished elsewhere).
    Lost,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFinish {
    /// Completed, failed or cancelled.
    pub status: RunStatus,
    /// Failure or cancellation reason.
    pub error: Option<String>,
    /// Artifact key → file name.
    pub artifacts: BTreeMap<String, String>,
    /// When it ended.
    pub at: DateTime<Utc>,
    /// USD its LLM calls cost (known prices only).
    pub cost_usd: Option<f64>,
}

/// Filter and page for listing runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Only runs of this job.
    pub job_id: Option<JobId>,
    /// Page size.
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
}

/// One page of runs plus the total matching the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, newest first.
    pub runs: Vec<Run>,
    /// How many runs match the filter in all.
    pub total: u64,
}

/// One call to a language model (recorded by the LLM layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    /// Run that paid for it.
    pub run_id: RunId,
    /// Stage that made it.
    pub stage: String,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost in USD; `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// Wall time of the call.
    pub latency_ms: u64,
    /// ok, invalid_output, error, ...
    pub outcome: String,
    /// When it was made.
    pub at: DateTime<Utc>,
}
