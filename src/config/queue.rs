//! The `queue` section: how many runs execute and wait, how long a run may take, how often
//! it is retried or resumed, leases between runners, and the test-only fault injection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::Problems;
use crate::domain::{JobId, StageName};

/// Deliberate stage failures for tests (never loaded from files or the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageFault {
    /// The stage panics.
    Panic,
    /// The stage fails with a transient error this many times, then succeeds.
    TransientFailures(u32),
    /// The stage never finishes (until the run is stopped).
    Hang,
}

/// Where a [`StageFault`] applies: a stage, optionally only for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub stage: StageName,
    pub job: Option<JobId>,
    pub fault: StageFault,
}

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::int")]
    pub max_concurrency: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_queue: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub pipeline_timeout_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub shutdown_grace_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_run_attempts: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub stage_max_retries: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub offline_stage_delay_ms: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub run_lease_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub global_max_concurrency: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub retention_days: i64,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub max_concurrency: usize,
    pub max_queue: usize,
    pub pipeline_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_run_attempts: u32,
    pub stage_max_retries: u32,
    /// Artificial delay per offline stage, for demos and crash tests.
    pub offline_stage_delay: Duration,
    /// How long a run's claim lasts without renewal; another runner may take it over after.
    pub run_lease: Duration,
    /// Cap on running runs across all runners sharing the store (0 = none).
    pub global_max_concurrency: usize,
    /// `RETENTION_DAYS`: finished runs older than this are purged with their logs, stages,
    /// LLM call records and files (0 = keep everything).
    pub retention_days: u32,
    /// Test-only fault injection; always empty when loaded from configuration.
    pub stage_faults: Vec<FaultRule>,
}

impl QueueSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        Self {
            max_concurrency: p.ranged("MAX_CONCURRENCY", raw.max_concurrency, 1, 20) as usize,
            max_queue: p.ranged("MAX_QUEUE", raw.max_queue, 1, 100_000) as usize,
            pipeline_timeout: Duration::from_secs(p.ranged(
                "PIPELINE_TIMEOUT_SECONDS",
                raw.pipeline_timeout_seconds,
                60,
                3600,
            ) as u64),
            shutdown_grace: Duration::from_secs(
                p.ranged("SHUTDOWN_GRACE_SECONDS", raw.shutdown_grace_seconds, 0, 3600) as u64,
            ),
            max_run_attempts: p.ranged("MAX_RUN_ATTEMPTS", raw.max_run_attempts, 1, 20) as u32,
            stage_max_retries: p.ranged("STAGE_MAX_RETRIES", raw.stage_max_retries, 0, 10) as u32,
            offline_stage_delay: Duration::from_millis(p.ranged(
                "OFFLINE_STAGE_DELAY_MS",
                raw.offline_stage_delay_ms,
                0,
                600_000,
            ) as u64),
            run_lease: Duration::from_secs(p.ranged("RUN_LEASE_SECONDS", raw.run_lease_seconds, 5, 3600) as u64),
            global_max_concurrency: p.ranged("GLOBAL_MAX_CONCURRENCY", raw.global_max_concurrency, 0, 1000) as usize,
            retention_days: p.ranged("RETENTION_DAYS", raw.retention_days, 0, 3650) as u32,
            stage_faults: Vec::new(),
        }
    }

    /// The section as `NAME = value` rows.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MAX_CONCURRENCY", self.max_concurrency.to_string()),
            ("MAX_QUEUE", self.max_queue.to_string()),
            ("PIPELINE_TIMEOUT_SECONDS", self.pipeline_timeout.as_secs().to_string()),
            ("SHUTDOWN_GRACE_SECONDS", self.shutdown_grace.as_secs().to_string()),
            ("MAX_RUN_ATTEMPTS", self.max_run_attempts.to_string()),
            ("STAGE_MAX_RETRIES", self.stage_max_retries.to_string()),
            (
                "OFFLINE_STAGE_DELAY_MS",
                self.offline_stage_delay.as_millis().to_string(),
            ),
            ("RUN_LEASE_SECONDS", self.run_lease.as_secs().to_string()),
            ("GLOBAL_MAX_CONCURRENCY", self.global_max_concurrency.to_string()),
            ("RETENTION_DAYS", self.retention_days.to_string()),
        ]
    }
}
