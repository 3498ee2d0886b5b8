//! Persistence behind one trait. The daemon holds an `Arc<dyn Store>` picked from
//! configuration at start-up; every backend passes the same contract suite
//! (`tests/store/contract.rs`). The embedded SQLite backend is the zero-set-up default.
//!
//! The store is also the durable run queue: a run is `queued` in the store until a runner
//! claims it with [`Store::claim_next_run`], an atomic compare-and-set that records the
//! claiming instance and a lease. Whoever holds the lease may finish or re-queue the run.

pub mod mongo;
mod records;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::outputs::Provenance;
use crate::domain::{JobId, JobPosting, QueueId, Run, RunId, RunStatus, StageName, StageRecord};

pub use crate::runlog::LogLine;
pub use records::{
    AlertRecord, CallOutcome, FieldValue, FinishedCounts, JobUpdate, LeaseState, LlmCall, QueueQuery, QueueView,
    RunFilter, RunFinish, RunPage, RunnerBeat, StoredArtifact,
};
pub use records::{AuditEntry, JobPurge, JobSummary, TokenRecord, WebhookDelivery};

/// Shared handle to the configured backend.
pub type DynStore = Arc<dyn Store>;

/// Errors from any backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database reported an error.
    #[error("sqlite error during {context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The backend could not be reached or its worker failed; worth retrying.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A job document that must exist does not.
    #[error("job {0} not found")]
    JobNotFound(JobId),
    /// Stored data could not be decoded.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The store was written by a newer job-runner than this one can read.
    #[error("the store's schema is version {store} and needs a job-runner that reads version {needs} or later; this binary reads up to version {binary}: upgrade job-runner (or restore a backup taken before the upgrade)")]
    SchemaTooNew {
        /// The version the store is at.
        store: u32,
        /// The lowest schema version a reader must understand.
        needs: u32,
        /// The highest version this binary understands.
        binary: u32,
    },
    /// The change is refused in the current state (a job with an active run cannot be
    /// erased).
    #[error("{0}")]
    Conflict(String),
    /// MongoDB reported an error.
    #[error("mongodb error during {context}: {source}")]
    Mongo {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: Box<mongodb::error::Error>,
    },
}

impl StoreError {
    /// True for errors a caller should retry with backoff (busy database, lost connection).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            StoreError::Mongo { source, .. } => mongo::is_transient(source),
            StoreError::JobNotFound(_)
            | StoreError::Corrupt(_)
            | StoreError::Conflict(_)
            | StoreError::SchemaTooNew { .. } => false,
        }
    }
}

/// Everything job-runner persists. Implementations must make each method atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs and `/health` (`sqlite`, `mongodb`).
    fn backend(&self) -> &'static str;

    /// True when several runner processes may share this store (runs owned by another
    /// instance are then followed through the store, and expired leases are recovered
    /// periodically rather than only at start-up).
    fn is_shared(&self) -> bool;

    /// A cheap round trip proving the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- job documents -------------------------------------------------------------

    /// Inserts or replaces a job document (import); returns true when it was new.
    async fn upsert_job(&self, job: &JobPosting) -> Result<bool, StoreError>;

    /// The parsed posting, or `None` when no document has this id.
    async fn get_job(&self, id: &JobId) -> Result<Option<JobPosting>, StoreError> {
        match self.get_job_document(id).await? {
            None => Ok(None),
            Some(doc) => JobPosting::from_document(&doc, false)
                .map(Some)
                .map_err(StoreError::Corrupt),
        }
    }

    /// The raw document including every field the runner wrote.
    async fn get_job_document(&self, id: &JobId) -> Result<Option<Map<String, Value>>, StoreError>;

    /// `$set`s the update's fields on an existing document (never creates one).
    async fn update_job(&self, id: &JobId, update: &JobUpdate) -> Result<(), StoreError>;

    // ---- runs -----------------------------------------------------------------------

    /// Inserts new runs, all or none.
    async fn insert_runs(&self, runs: &[Run]) -> Result<(), StoreError>;

    /// One run.
    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError>;

    /// Runs matching a filter, newest first.
    async fn list_runs(&self, filter: &RunFilter) -> Result<RunPage, StoreError>;

    /// How many runs are in a status.
    async fn count_runs(&self, status: RunStatus) -> Result<u64, StoreError>;

    /// How many runs reached each terminal status at or after `since`.
    async fn finished_since(&self, since: DateTime<Utc>) -> Result<FinishedCounts, StoreError>;

    /// The queued or running run of a job, if any.
    async fn active_run_for_job(&self, job: &JobId) -> Result<Option<Run>, StoreError>;

    /// Atomically moves the oldest queued run to `running`, owned by `owner` until the lease
    /// expires; increments `attempts`; sets `started_at` on the first claim.
    async fn claim_next_run(&self, owner: &str, lease: Duration) -> Result<Option<Run>, StoreError>;

    /// [`Store::claim_next_run`] while fewer than `global_cap` runs run across every runner
    /// sharing the store (0 = no cap). The default counts running runs first, which is exact
    /// for a store one process owns (SQLite); MongoDB claims a slot atomically with the run.
    async fn claim_next_run_within(
        &self,
        owner: &str,
        lease: Duration,
        global_cap: usize,
    ) -> Result<Option<Run>, StoreError> {
        if global_cap > 0 && self.count_runs(RunStatus::Running).await? as usize >= global_cap {
            return Ok(None);
        }
        self.claim_next_run(owner, lease).await
    }

    /// Extends the lease of a run `owner` holds and adds `ran` to its execution time,
    /// reporting whether it still holds it and whether a cancel was requested (from any
    /// instance).
    async fn renew_lease(
        &self,
        id: &RunId,
        owner: &str,
        lease: Duration,
        ran: Duration,
    ) -> Result<LeaseState, StoreError>;

    /// Asks whoever runs a `running` run to cancel it; false when it is not running.
    async fn request_cancel(&self, id: &RunId) -> Result<bool, StoreError>;

    /// Moves a run `owner` holds to a terminal status; false when it does not hold it.
    async fn finish_run(&self, id: &RunId, owner: &str, finish: &RunFinish) -> Result<bool, StoreError>;

    /// Cancels a run that is still queued; false when it is not queued.
    async fn cancel_queued_run(&self, id: &RunId, reason: &str) -> Result<bool, StoreError>;

    /// Puts a run `owner` holds back in the queue (shutdown before it finished).
    async fn requeue_run(&self, id: &RunId, owner: &str) -> Result<bool, StoreError>;

    /// Re-queues `running` runs whose lease expired before `now`, or every running run when
    /// `sole_instance` (the caller holds the only lock on this store). Returns their ids.
    async fn recover_runs(&self, now: DateTime<Utc>, sole_instance: bool) -> Result<Vec<RunId>, StoreError>;

    // ---- the queue view -------------------------------------------------------------

    /// The runs as the dashboard's queue shows them (see [`QueueQuery`]).
    async fn queue_view(&self, query: &QueueQuery) -> Result<QueueView, StoreError>;

    /// How many queued runs will be claimed before `run` (0 = it is next).
    async fn queued_ahead(&self, run: &Run) -> Result<u64, StoreError>;

    /// The run with this queue id.
    async fn run_by_queue_id(&self, id: &QueueId) -> Result<Option<Run>, StoreError>;

    /// Retries a failed run as a new run: `retry` (built by the caller from the failed run:
    /// same job, operation, options and queue id, `retry_count` + 1) is inserted queued;
    /// every stage the failed run completed (the publisher aside) is checkpointed in it as
    /// `reused` with its source run, so only the rest executes; the failed run keeps its
    /// record, log and cost, records `retried_by`, hands its queue id over (taking
    /// `retired_queue_id`) and leaves the queue view. Returns the new run; `None` when the
    /// run is not failed, was retried already, or its job has another queued or running run.
    async fn retry_failed_run(
        &self,
        failed: &RunId,
        retry: &Run,
        retired_queue_id: &QueueId,
        at: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError>;

    /// Moves a failed run from the queue's failed list to its history; false when it is
    /// not a failed run still in that list.
    async fn dismiss_failed_run(&self, id: &RunId, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Removes finished runs that ended before `finished_before` from the queue view (their
    /// data stays); returns how many of each outcome.
    async fn hide_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<FinishedCounts, StoreError>;

    // ---- retention --------------------------------------------------------------------

    /// Deletes up to `limit` finished runs (completed, failed, cancelled) that ended before
    /// `finished_before`, with their log lines, stage checkpoints, LLM call records and
    /// stored files; job documents stay. Returns the ids deleted (callers loop until it is
    /// empty, and remove the runs' local folders).
    async fn purge_finished_runs(&self, finished_before: DateTime<Utc>, limit: usize)
        -> Result<Vec<RunId>, StoreError>;

    // ---- the runners ------------------------------------------------------------------

    /// Records a runner's heartbeat (one record per runner, replaced each time).
    async fn heartbeat(&self, beat: &RunnerBeat) -> Result<(), StoreError>;

    /// Every runner that ever beat, newest heartbeat first.
    async fn runners(&self) -> Result<Vec<RunnerBeat>, StoreError>;

    // ---- artifacts ------------------------------------------------------------------

    /// True when the store keeps a finished run's files itself (MongoDB: a GridFS bucket),
    /// so any runner can serve them; SQLite leaves them in the runner's data folder.
    fn keeps_artifacts(&self) -> bool {
        false
    }

    /// Keeps one artifact (replacing an earlier copy of the same run and name).
    async fn put_artifact(&self, _artifact: &StoredArtifact) -> Result<(), StoreError> {
        Ok(())
    }

    /// One artifact of a run, with its bytes; `None` when the store has none.
    async fn get_artifact(&self, _run: &RunId, _name: &str) -> Result<Option<StoredArtifact>, StoreError> {
        Ok(None)
    }

    // ---- stage checkpoints ----------------------------------------------------------

    /// Records that a stage started (status running, attempts + 1).
    async fn stage_started(&self, run: &RunId, stage: StageName, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Checkpoints a stage's output with who produced it.
    async fn stage_completed(
        &self,
        run: &RunId,
        stage: StageName,
        produced: &Provenance,
        output: &Value,
        finished_at: DateTime<Utc>,
        duration: Duration,
    ) -> Result<(), StoreError>;

    /// Records a stage's failure.
    async fn stage_failed(
        &self,
        run: &RunId,
        stage: StageName,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The latest completed output of `stage` for `job` from any run but `except`, with the
    /// run that holds it (any runner's: the store is shared).
    async fn latest_stage_output(
        &self,
        job: &JobId,
        stage: StageName,
        except: &RunId,
    ) -> Result<Option<(RunId, StageRecord)>, StoreError>;

    /// Every stage record of a run (stages never started are absent).
    async fn load_stages(&self, run: &RunId) -> Result<Vec<StageRecord>, StoreError>;

    // ---- run logs -------------------------------------------------------------------

    /// Appends log lines (any runs) in one batch; a line already stored is ignored.
    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError>;

    /// Lines of a run with `seq > after`, oldest first, at most `limit`.
    async fn read_logs(&self, run: &RunId, after: u64, limit: usize) -> Result<Vec<LogLine>, StoreError>;

    /// The highest stored sequence number of a run (0 when none).
    async fn last_log_seq(&self, run: &RunId) -> Result<u64, StoreError>;

    // ---- LLM calls ------------------------------------------------------------------

    /// Records one LLM call.
    async fn record_llm_call(&self, call: &LlmCall) -> Result<(), StoreError>;

    /// The LLM calls of a run, oldest first.
    async fn llm_calls(&self, run: &RunId) -> Result<Vec<LlmCall>, StoreError>;

    /// Every LLM call made at or after `since`, oldest first (for spend summaries).
    async fn llm_calls_since(&self, since: DateTime<Utc>) -> Result<Vec<LlmCall>, StoreError>;

    // ---- research cache -------------------------------------------------------------

    /// A cached research answer (a scraped page, a search result) unless it expired by `now`.
    async fn cache_get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Value>, StoreError>;

    /// Caches `value` under `key` until `expires_at` (replacing any previous value).
    async fn cache_put(&self, key: &str, value: &Value, expires_at: DateTime<Utc>) -> Result<(), StoreError>;

    // ---- alert history --------------------------------------------------------------

    /// Records an alert or recovery.
    async fn record_alert(&self, alert: &AlertRecord) -> Result<(), StoreError>;

    /// The latest alerts, newest first, at most `limit`.
    async fn recent_alerts(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError>;

    // ---- run tokens -----------------------------------------------------------------

    /// Records issued run tokens.
    async fn record_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError>;

    /// The record of token `jti`, if it was issued and has not been purged.
    async fn get_token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Marks token `jti` revoked (kept until it expires); the record after the change,
    /// `None` when no such token is recorded. Revoking twice keeps the first time.
    async fn revoke_token(&self, jti: &str, at: DateTime<Utc>) -> Result<Option<TokenRecord>, StoreError>;

    /// Deletes the records of run tokens, and the revocations of console sessions, that
    /// expired before `now`; returns how many.
    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    // ---- console sessions -----------------------------------------------------------

    /// Records that console session `jti` (valid until `expires_at`) was ended by logout:
    /// every runner refuses its cookie from now on. Recording it twice changes nothing.
    async fn revoke_session(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// True when console session `jti` was revoked (and the revocation not yet purged).
    async fn session_revoked(&self, jti: &str) -> Result<bool, StoreError>;

    // ---- job search -----------------------------------------------------------------

    /// Jobs whose company or title contains `text` (case-insensitive; every job when
    /// `text` is empty), newest first, at most `limit`: what the console offers to start.
    async fn search_jobs(&self, text: &str, limit: usize) -> Result<Vec<JobSummary>, StoreError>;

    // ---- audit trail ----------------------------------------------------------------

    /// Appends one entry to the audit trail.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest audit entries, newest first, at most `limit`.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Deletes audit entries older than `before`, and beyond the newest `keep`; returns how many.
    async fn purge_audit(&self, before: DateTime<Utc>, keep: usize) -> Result<u64, StoreError>;

    /// Sets `fields` on job `id` (`$set`), nothing else; the remote publication's fields.
    async fn set_job_fields(&self, id: &JobId, fields: &[(String, FieldValue)]) -> Result<(), StoreError>;

    // ---- completion webhooks ---------------------------------------------------------

    /// Records one delivery attempt of a run's completion webhook.
    async fn record_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError>;

    /// A run's delivery attempts, oldest first.
    async fn deliveries(&self, run: &RunId) -> Result<Vec<WebhookDelivery>, StoreError>;

    // ---- erasure --------------------------------------------------------------------

    /// Erases everything held about job `job`: its runs with their logs, checkpoints, LLM
    /// call records, stored files and tokens, and with `with_job` the job document too.
    /// Refused ([`StoreError::Conflict`]) while one of its runs is queued or running.
    async fn purge_job(&self, job: &JobId, with_job: bool) -> Result<JobPurge, StoreError>;
}

/// How long [`retry_transient`] keeps retrying: long enough to ride out a database
/// restart; the run's own timeout still bounds the run.
pub const RETRY_BUDGET: Duration = Duration::from_secs(120);

/// Retries `op` on transient store errors with jittered exponential backoff
/// ([`crate::backoff::delay`]: 100 ms doubling, at most 2 s between tries) until
/// [`RETRY_BUDGET`] is spent; other errors return at once. Each retry is logged with its
/// cause.
pub async fn retry_transient<T, F, Fut>(what: &str, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut attempt = 1;
    loop {
        let delay = crate::backoff::delay(attempt, Duration::from_millis(100), Duration::from_secs(2));
        match op().await {
            Err(e) if e.is_transient() && started.elapsed() + delay < RETRY_BUDGET => {
                tracing::warn!(error = %e, attempt, "store call {what} failed; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
