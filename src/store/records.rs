//! Plain records the store reads and writes besides the domain types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{JobId, Run, RunId, RunStatus, StageName};

/// The fields a status change `$set`s on a job document (COMPAT.md).
#[derive(Debug, Clone, PartialEq)]
pub struct JobUpdate {
    /// `pipeline_run_id`.
    pub run_id: RunId,
    /// `pipeline_status` (written as [`RunStatus::job_status`]: queued, running,
    /// completed, pipeline_failed, cancelled).
    pub pipeline_status: RunStatus,
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
    /// This run's entry in the job's `pipeline_runs` list (must hold `run_id`); it replaces
    /// an earlier entry of the same run, so writing it twice leaves one.
    pub run_entry: Option<Map<String, Value>>,
}

/// A value a job update sets, typed so each backend writes it its own way (MongoDB
/// dates as BSON dates, SQLite as RFC 3339 text).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Time(DateTime<Utc>),
    Json(Value),
}

impl JobUpdate {
    /// An update to `status` for `run_id` at `at`, setting nothing else.
    pub fn new(run_id: RunId, status: RunStatus, at: DateTime<Utc>) -> Self {
        Self {
            run_id,
            pipeline_status: status,
            started_at: None,
            updated_at: at,
            completed_at: None,
            failure: None,
            artifact_urls: None,
            results: None,
            run_entry: None,
        }
    }

    /// The job's `pipeline_runs` after this update, from what it holds now: this run's
    /// entry replaces an earlier one of the same run, else it is appended. `None` when the
    /// update carries no entry.
    pub fn merged_runs(&self, existing: Option<&Value>) -> Option<Value> {
        let entry = self.run_entry.as_ref()?;
        let mut list = existing.and_then(Value::as_array).cloned().unwrap_or_default();
        list.retain(|r| r.get("run_id") != entry.get("run_id"));
        list.push(Value::Object(entry.clone()));
        Some(Value::Array(list))
    }

    /// Every field this update sets, by its name in the job document: the one mapping of
    /// COMPAT.md's job fields, shared by both backends. Null result fields are dropped.
    pub fn fields(&self) -> Vec<(String, FieldValue)> {
        use FieldValue::{Json, Text, Time};
        let mut out = vec![
            ("pipeline_run_id".to_owned(), Text(self.run_id.to_string())),
            (
                "pipeline_status".to_owned(),
                Text(self.pipeline_status.job_status().to_owned()),
            ),
            ("pipeline_updated_at".to_owned(), Time(self.updated_at)),
            ("updatedAt".to_owned(), Time(self.updated_at)),
        ];
        if let Some(s) = self.started_at {
            out.push(("pipeline_started_at".into(), Time(s)));
        }
        if let Some(c) = self.completed_at {
            out.push(("pipeline_completed_at".into(), Time(c)));
        }
        if let Some((err, at)) = &self.failure {
            out.push(("pipeline_error".into(), Text(err.clone())));
            out.push(("pipeline_failed_at".into(), Time(*at)));
        }
        if let Some(urls) = &self.artifact_urls {
            let urls = urls
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            out.push(("artifact_urls".into(), Json(Value::Object(urls))));
        }
        if let Some(results) = &self.results {
            out.extend(
                results
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), Json(v.clone()))),
            );
        }
        out
    }
}

/// A run's file as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    pub run_id: RunId,
    pub job_id: JobId,
    /// The file name (`CV.md`, ...).
    pub name: String,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of the bytes (the HTTP `ETag`).
    pub sha256: String,
}

impl StoredArtifact {
    /// An artifact of `bytes`, its digest computed.
    pub fn new(run_id: RunId, job_id: JobId, name: &str, bytes: Vec<u8>) -> Self {
        let sha256 = crate::domain::digest::sha256_hex(&bytes, 32);
        Self {
            run_id,
            job_id,
            name: name.to_owned(),
            bytes,
            sha256,
        }
    }
}

/// A runner's heartbeat: who it is and what it is doing, as of `last_seen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerBeat {
    pub runner_id: String,
    pub host: String,
    /// The binary's version.
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Runs holding one of its slots.
    pub active_runs: u32,
    /// True once it began shutting down.
    pub draining: bool,
}

impl RunnerBeat {
    /// How often a runner beats.
    pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
    /// Missed beats after which a runner is shown as lost (its runs are taken over by the
    /// lease rules, not by this).
    pub const LOST_AFTER_BEATS: u32 = 3;

    /// True when the runner has not beaten for [`Self::LOST_AFTER_BEATS`] intervals.
    pub fn is_lost(&self, now: DateTime<Utc>) -> bool {
        let limit = Self::INTERVAL * Self::LOST_AFTER_BEATS;
        now.signed_duration_since(self.last_seen)
            .to_std()
            .is_ok_and(|d| d > limit)
    }
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

/// How many runs of each list the queue view holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueQuery {
    /// Queued runs, next to run first.
    pub pending: usize,
    /// Running runs (every runner), longest running first.
    pub running: usize,
    /// Failed runs neither dismissed nor hidden, newest first.
    pub failed: usize,
    /// Completed, cancelled and dismissed failed runs not hidden, newest first.
    pub history: usize,
}

/// The run queue as the dashboard shows it: runs in four lists plus totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueView {
    pub pending: Vec<Run>,
    pub running: Vec<Run>,
    pub failed: Vec<Run>,
    pub history: Vec<Run>,
    /// Every queued run (the list holds at most [`QueueQuery::pending`]).
    pub total_pending: u64,
    /// Every running run.
    pub total_running: u64,
    /// Every failed run still in the failed list.
    pub total_failed: u64,
}

/// One page of runs plus the total matching the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, newest first.
    pub runs: Vec<Run>,
    /// How many runs match the filter in all.
    pub total: u64,
}

/// How one model call (with its retries) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The answer parsed and passed validation.
    Ok,
    /// The answer was rejected (no JSON, wrong shape, failed the gate).
    InvalidOutput,
    /// The provider failed.
    Error,
    /// The answer was cut at the output limit (`finish_reason: length`).
    Truncated,
}

impl CallOutcome {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::InvalidOutput => "invalid_output",
            CallOutcome::Error => "error",
            CallOutcome::Truncated => "truncated",
        }
    }

    /// The outcome stored as `name`; `None` for an unknown name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ok" => Some(CallOutcome::Ok),
            "invalid_output" => Some(CallOutcome::InvalidOutput),
            "error" => Some(CallOutcome::Error),
            "truncated" => Some(CallOutcome::Truncated),
            _ => None,
        }
    }
}

/// One call to a language model (recorded by the LLM layer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    /// Run that paid for it.
    pub run_id: RunId,
    /// Stage that made it.
    pub stage: StageName,
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
    pub outcome: CallOutcome,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The prompt it answered (`cv`, `star_selection`, ...); empty for calls recorded
    /// before prompts were kept.
    #[serde(default)]
    pub prompt: String,
    /// 1 for the first answer, 2 for the first repair turn, ...
    #[serde(default)]
    pub turn: u32,
    /// Why the answer was rejected (the gate's reasons, shortened) or why the call failed.
    #[serde(default)]
    pub detail: Option<String>,
}

/// One alert or recovery the health actor decided on (kept whether or not e-mail is set up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Unique id.
    pub alert_id: String,
    /// `critical`, `warning` or `info` (a recovery).
    pub level: String,
    /// The health check it is about.
    pub source: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
    /// Value and threshold of the check.
    pub metadata: Value,
}

/// A run token the daemon issued, kept until it expires so it can be revoked (a token
/// without a record is refused: the store is the list of live tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The run it reads.
    pub run_id: RunId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires (`exp`).
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who issued it: `api` (a run request) or `cli` (`job-runner token`).
    pub issued_by: String,
}

/// One state-changing request as the audit trail keeps it: who, what, and the outcome.
/// (Its schema is part of the API document: `GET /audit` answers these.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When the answer was sent.
    pub at: DateTime<Utc>,
    /// The request id (`X-Request-Id`).
    pub request_id: String,
    /// Who: the credential's kind and a short hash (`secret:1a2b…`, `bearer:1a2b…` for one
    /// the guard did not accept, `run-token:<jti>`, `none`, `open`); never the credential.
    pub actor: String,
    /// The client's address as the rate limiter sees it.
    pub client: String,
    /// The method.
    pub method: String,
    /// The path (clipped, control characters escaped).
    pub path: String,
    /// The route pattern it matched (`/jobs/{run_id}/cancel`), or `unmatched`.
    pub route: String,
    /// The HTTP status answered.
    pub status: u16,
    /// `ok` (2xx/3xx), `refused` (4xx) or `error` (5xx).
    pub outcome: String,
    /// The stable error code of a refusal or error.
    pub code: Option<String>,
}

/// One job as a search lists it: enough to recognise and pick it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobSummary {
    /// The job's id (24 hexadecimal characters).
    #[schema(value_type = String)]
    pub job_id: JobId,
    /// The employer.
    pub company: String,
    /// The role.
    pub title: String,
    /// Where, when the posting says.
    pub location: Option<String>,
    /// The dashboard's status of the job (`under processing`, `ready for applying`, ...).
    pub status: Option<String>,
}

impl JobSummary {
    /// The summary of a stored job document (`None` when its id is not an ObjectId).
    pub fn from_document(doc: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let text = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let id = match doc.get("_id")? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(o) => o.get("$oid")?.as_str()?.to_owned(),
            _ => return None,
        };
        Some(Self {
            job_id: JobId::parse(&id).ok()?,
            company: text("company").unwrap_or_default(),
            title: text("title").unwrap_or_default(),
            location: text("location"),
            status: text("status"),
        })
    }
}

/// What `purge_job` removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobPurge {
    /// The runs removed (their folders are the caller's to remove).
    pub runs: Vec<RunId>,
    /// Log lines removed.
    pub log_lines: u64,
    /// Stage checkpoints removed.
    pub stages: u64,
    /// LLM call records removed.
    pub llm_calls: u64,
    /// Stored files removed (MongoDB).
    pub stored_files: u64,
    /// Run tokens removed.
    pub tokens: u64,
    /// True when the job document itself was removed.
    pub job_document: bool,
}

/// One attempt to deliver something of a run to a remote receiver: its completion webhook
/// or its CV upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    /// The run whose end was announced or whose files were sent.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// Where to: `completion` (`WEBHOOK_URL`) or `n8n-cv-upload` (`N8N_WEBHOOK_CV_UPLOAD`).
    pub target: String,
    /// The delivery's id (`X-JobRunner-Delivery`, the same for every attempt).
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt was sent.
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed (network error, status), clipped.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// True when the receiver accepted it (2xx).
    pub delivered: bool,
}
