//! The stage contract: what a stage gets (a [`StageContext`]) and returns, and how it
//! fails. Transient failures are retried by the DAG runner; permanent ones fail the run.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::config::Settings;
use crate::domain::outputs::StageOutputs;
use crate::domain::{JobPosting, RunId, StageName, StageProducer};
use crate::llm::run_spend::RunSpend;
use crate::llm::service::CallScope;
use crate::pipeline::master_cv::MasterCv;
use crate::runlog::RunLog;

/// Everything a stage may read.
pub struct StageContext {
    pub run_id: RunId,
    pub job: Arc<JobPosting>,
    pub master_cv: Arc<MasterCv>,
    /// Outputs of the stages this one depends on (and any others already finished).
    pub outputs: StageOutputs,
    pub settings: Arc<Settings>,
    /// Log handle tagged with the stage.
    pub log: RunLog,
    /// The run's LLM spend and FireCrawl calls so far (shared by its stages).
    pub spend: Arc<RunSpend>,
    /// When the run times out (bounds LLM retries).
    pub deadline: tokio::time::Instant,
    /// The run's `use_llm` and `force_refresh`.
    pub options: crate::domain::RunOptions,
    /// The run's tier: its stages' models and the contacts research keeps.
    pub tier: crate::pipeline::tiers::RunTier,
}

impl StageContext {
    /// The scope of an LLM call made by `stage` for this run.
    pub fn call_scope(&self, stage: StageName) -> CallScope<'_> {
        CallScope {
            run_id: &self.run_id,
            stage,
            tier: Some(self.tier.class),
            spend: &self.spend,
            log: &self.log,
            deadline: self.deadline,
        }
    }
}

/// How a stage failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageErrorKind {
    /// Worth retrying (network, store busy, provider overload).
    Transient,
    /// Retrying cannot help (bad input, missing master CV, output failing its gate).
    Permanent,
    /// The stage's code panicked; treated as permanent.
    Panicked,
    /// The run was stopped while the stage ran.
    Cancelled,
}

/// A stage failure with its cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    pub kind: StageErrorKind,
    pub message: String,
}

impl StageError {
    /// A retryable failure.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: StageErrorKind::Transient,
            message: message.into(),
        }
    }

    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: StageErrorKind::Permanent,
            message: message.into(),
        }
    }
}

/// A stage's output and who produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageResult {
    pub producer: StageProducer,
    /// The model that wrote the output, when a model did.
    pub model: Option<String>,
    pub output: Value,
}

/// One pipeline stage.
#[async_trait]
pub trait Stage: Send + Sync + 'static {
    /// Which stage this implements.
    fn name(&self) -> StageName;

    /// Produces the stage's output.
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError>;
}

/// The output of a dependency, or a permanent error naming it.
pub fn dependency<T>(value: &Option<T>, stage: StageName) -> Result<&T, StageError> {
    value
        .as_ref()
        .ok_or_else(|| StageError::permanent(format!("output of stage {stage} is missing")))
}

/// Serialises a typed output into a [`StageResult`] from `producer`.
pub fn stage_result<T: serde::Serialize>(producer: StageProducer, output: &T) -> Result<StageResult, StageError> {
    serde_json::to_value(output)
        .map(|output| StageResult {
            producer,
            model: None,
            output,
        })
        .map_err(|e| StageError::permanent(format!("could not serialise stage output: {e}")))
}

/// Serialises a typed output into a [`StageResult`] produced offline.
pub fn offline_result<T: serde::Serialize>(output: &T) -> Result<StageResult, StageError> {
    stage_result(StageProducer::Offline, output)
}
