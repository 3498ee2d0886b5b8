//! The run record: one pipeline execution for one job, as stored and as reported.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{JobId, Operation, QueueId, RunId};

/// Lifecycle of a run. `queued → running → completed | failed | cancelled`; a running run
/// goes back to `queued` only when the daemon stops or crashes before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Waiting for a free slot.
    Queued,
    /// Holding a slot and executing stages.
    Running,
    /// Every stage finished and the results were published.
    Completed,
    /// A stage failed permanently, the run timed out, or its input was bad.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The wire name (`queued`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The job document's `pipeline_status` for this state (COMPAT.md): the same names,
    /// except that a failed run is `pipeline_failed`.
    pub fn job_status(self) -> &'static str {
        match self {
            RunStatus::Failed => "pipeline_failed",
            other => other.as_str(),
        }
    }

    /// True once the run can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!("unknown run status {s:?}; expected one of queued, running, completed, failed, cancelled")
        })
    }
}

/// How a run may work, from the request (`use_llm`, `force_refresh` of the operations
/// routes); kept with the run so whichever runner claims it honours them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// False: every stage of the run works offline, whatever model is configured.
    pub use_llm: bool,
    /// True: web research ignores cached answers (and caches the fresh ones).
    pub force_refresh: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            use_llm: true,
            force_refresh: false,
        }
    }
}

/// One pipeline run as persisted by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id.
    pub run_id: RunId,
    /// The job document this run processes.
    pub job_id: JobId,
    /// Current lifecycle state.
    pub status: RunStatus,
    /// Profile (master CV) chosen for this run, relative to `PROFILES_DIR`; `None` = default.
    pub profile_ref: Option<String>,
    /// Free-text origin of the request (dashboard, cli, bulk, ...).
    pub source: Option<String>,
    /// When the run was requested.
    pub created_at: DateTime<Utc>,
    /// When the run first got a slot.
    pub started_at: Option<DateTime<Utc>>,
    /// Last change of any kind.
    pub updated_at: DateTime<Utc>,
    /// When the run reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the run failed or was cancelled.
    pub error: Option<String>,
    /// Artifact key (`cv_md_url`, ...) → file name inside the run's artifact folder.
    pub artifacts: BTreeMap<String, String>,
    /// How many times a runner has claimed this run (1 on the first start, +1 per resume).
    pub attempts: u32,
    /// Instance currently executing the run, while `running`.
    pub lease_owner: Option<String>,
    /// The owner must renew its claim before this instant or lose it.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// USD its LLM calls cost (known prices only), written when the run ends.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// The processing tier the request named (`tier` / `processing_tier`), if any.
    #[serde(default)]
    pub processing_tier: Option<String>,
    /// The run as a dashboard queue item (`q_` + 12 hex), fixed at creation.
    pub queue_id: QueueId,
    /// The operation it executes ([`Operation::as_str`]).
    pub operation: String,
    /// How many times a failed run was queued again by request.
    pub retry_count: u32,
    /// When it (last) entered the queue: the queue's order, oldest first.
    pub queued_at: DateTime<Utc>,
    /// When a failed run was dismissed from the queue's failed list into its history.
    pub dismissed_at: Option<DateTime<Utc>>,
    /// When a finished run was removed from the queue view (cleanup or clear); its data stays.
    pub hidden_at: Option<DateTime<Utc>>,
    /// The job's title when the run was requested (for the queue view without a job read).
    pub job_title: Option<String>,
    /// The job's company when the run was requested.
    pub company: Option<String>,
    /// `use_llm` and `force_refresh` as requested.
    #[serde(default)]
    pub options: RunOptions,
    /// Milliseconds the run has executed in all its attempts so far (counted by the lease
    /// renewals): `PIPELINE_TIMEOUT_SECONDS` covers the whole run, across resumes.
    #[serde(default)]
    pub elapsed_ms: u64,
}

impl Run {
    /// A new queued run.
    pub fn new_queued(job_id: JobId, profile_ref: Option<String>, source: Option<String>) -> Self {
        let now = Utc::now();
        Self {
            run_id: RunId::generate(),
            job_id,
            status: RunStatus::Queued,
            profile_ref,
            source,
            created_at: now,
            started_at: None,
            updated_at: now,
            finished_at: None,
            error: None,
            artifacts: BTreeMap::new(),
            attempts: 0,
            lease_owner: None,
            lease_expires_at: None,
            cost_usd: None,
            processing_tier: None,
            queue_id: QueueId::generate(),
            operation: Operation::FULL_RUN.as_str().to_owned(),
            retry_count: 0,
            queued_at: now,
            dismissed_at: None,
            hidden_at: None,
            job_title: None,
            company: None,
            options: RunOptions::default(),
            elapsed_ms: 0,
        }
    }

    /// The run that retries this (failed) one: a new queued run of the same job, operation,
    /// options, tier and queue item, with `retry_count` + 1 and nothing of this run's
    /// execution (times, error, artifacts, lease, cost).
    pub fn retry(&self, now: DateTime<Utc>) -> Run {
        let fresh = Run::new_queued(self.job_id.clone(), self.profile_ref.clone(), self.source.clone());
        Run {
            created_at: now,
            updated_at: now,
            queued_at: now,
            processing_tier: self.processing_tier.clone(),
            queue_id: self.queue_id.clone(),
            operation: self.operation.clone(),
            retry_count: self.retry_count + 1,
            job_title: self.job_title.clone(),
            company: self.company.clone(),
            options: self.options,
            ..fresh
        }
    }

    /// The dashboard queue's status word for this run: `pending` while queued, else the
    /// run's own status.
    pub fn queue_status(&self) -> &'static str {
        match self.status {
            RunStatus::Queued => "pending",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for st in RunStatus::ALL {
            assert_eq!(st.as_str().parse::<RunStatus>().unwrap(), st);
        }
        assert!("done".parse::<RunStatus>().is_err());
    }

    #[test]
    fn only_finished_states_are_terminal() {
        assert!(!RunStatus::Queued.is_terminal());
        assert!(!RunStatus::Running.is_terminal());
        assert!(RunStatus::Cancelled.is_terminal());
    }
}
