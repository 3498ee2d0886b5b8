//! The DAG runner: starts every stage whose dependencies are done (so pain points and
//! research run together, and the CV and cover letter together), retries transient stage
//! failures with backoff, gates and checkpoints each output as it arrives, and stops at
//! once on cancel, lease loss or the run deadline. On drain it starts nothing new and lets
//! the stages in flight finish until the grace deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::outputs::StageOutputs;
use crate::domain::{JobPosting, RunId, StageName, StageStatus};
use crate::pipeline::execution::StageExecutor;
use crate::pipeline::gates;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::stage_contract::{StageContext, StageError, StageErrorKind, StageResult};
use crate::pipeline::step_markers::{self, StepAnnouncer};
use crate::runlog::RunLog;
use crate::store::{retry_transient, DynStore};

/// Why a run is asked to stop early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Cancel requested.
    Cancel,
    /// Daemon shutting down: finish what runs, until the deadline.
    Drain { deadline: Instant },
    /// Another instance owns the run now.
    LeaseLost,
}

/// How the DAG ended.
#[derive(Debug)]
pub enum DagOutcome {
    /// Every stage finished.
    Completed(Box<StageOutputs>),
    /// A stage failed for good, or an output could not be checkpointed.
    Failed(String),
    /// Past `PIPELINE_TIMEOUT_SECONDS`.
    TimedOut,
    /// Cancel requested.
    Cancelled,
    /// Drained before finishing; completed stages are checkpointed.
    Requeue,
    /// The lease went to another instance.
    LeaseLost,
}

/// What every stage execution of a run shares.
pub struct DagShared {
    pub run_id: RunId,
    pub store: DynStore,
    /// Runs each stage (the stage actors in the daemon, [`InlineExecutor`] in tests).
    ///
    /// [`InlineExecutor`]: crate::pipeline::execution::InlineExecutor
    pub stages: Arc<dyn StageExecutor>,
    pub settings: Arc<Settings>,
    pub job: Arc<JobPosting>,
    pub master: Arc<MasterCv>,
    pub log: RunLog,
    /// Cancelled when the run stops, aborting stage tasks.
    pub cancel: CancellationToken,
    /// The run's LLM spend and FireCrawl calls.
    pub spend: Arc<crate::llm::run_spend::RunSpend>,
    /// When the run times out.
    pub deadline: tokio::time::Instant,
    /// Where stage executions are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The run's `use_llm` and `force_refresh`.
    pub options: crate::domain::RunOptions,
    /// The run's tier.
    pub tier: crate::pipeline::tiers::RunTier,
}

/// Runs the remaining stages of a run.
pub async fn run_dag(
    shared: Arc<DagShared>,
    mut outputs: StageOutputs,
    mut stop: watch::Receiver<Option<StopReason>>,
    deadline: tokio::time::Instant,
) -> DagOutcome {
    let mut started: HashSet<StageName> = StageName::ALL.into_iter().filter(|s| outputs.has(*s)).collect();
    // The dashboard's step tracker: intake is done (the job is loaded), and so is every
    // stage a resumed run has a checkpoint of.
    let mut steps = StepAnnouncer::default();
    shared.log.info("LAYER 1: intake_processor: Processing the job posting");
    let mut markers = steps.intake_done();
    for stage in StageName::ALL.into_iter().filter(|s| outputs.has(*s)) {
        markers.extend(steps.stage_done(stage));
    }
    markers.into_iter().for_each(|m| shared.log.info(m));
    let mut in_flight = FuturesUnordered::new();
    let mut drain_deadline: Option<Instant> = None;
    let mut stop_open = true;
    // A stop sent before the DAG started counts too.
    match *stop.borrow_and_update() {
        Some(StopReason::Cancel) => return DagOutcome::Cancelled,
        Some(StopReason::LeaseLost) => return DagOutcome::LeaseLost,
        Some(StopReason::Drain { .. }) => return DagOutcome::Requeue,
        None => {}
    }
    loop {
        if drain_deadline.is_none() {
            for stage in StageName::ALL {
                if !started.contains(&stage) && stage.dependencies().iter().all(|d| outputs.has(*d)) {
                    started.insert(stage);
                    in_flight.push(execute_stage(Arc::clone(&shared), stage, outputs.clone()));
                }
            }
        }
        if in_flight.is_empty() {
            break;
        }
        let drain_sleep = tokio::time::sleep_until(
            drain_deadline
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| deadline + Duration::from_secs(1)),
        );
        tokio::select! {
            Some((stage, result)) = in_flight.next() => {
                match result {
                    Ok((res, elapsed)) => {
                        if let Err(reason) = accept_output(&shared, &mut outputs, stage, res, elapsed).await {
                            return DagOutcome::Failed(reason);
                        }
                        steps.stage_done(stage).into_iter().for_each(|m| shared.log.info(m));
                    }
                    Err(e) if e.kind == StageErrorKind::Cancelled => return DagOutcome::Cancelled,
                    Err(e) => return DagOutcome::Failed(format!("stage {stage} failed: {}", e.message)),
                }
            }
            changed = stop.changed(), if stop_open => {
                if changed.is_err() {
                    stop_open = false;
                    continue;
                }
                let reason = *stop.borrow_and_update();
                match reason {
                    Some(StopReason::Cancel) => return DagOutcome::Cancelled,
                    Some(StopReason::LeaseLost) => return DagOutcome::LeaseLost,
                    Some(StopReason::Drain { deadline }) => {
                        shared.log.warn(format!(
                            "daemon is shutting down: finishing {} running stage(s), starting no new ones",
                            in_flight.len()
                        ));
                        drain_deadline = Some(deadline);
                    }
                    None => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => return DagOutcome::TimedOut,
            _ = drain_sleep, if drain_deadline.is_some() => return DagOutcome::Requeue,
        }
    }
    if drain_deadline.is_some() && !outputs.has(StageName::Publisher) {
        return DagOutcome::Requeue;
    }
    DagOutcome::Completed(Box::new(outputs))
}

/// Parses, gates and checkpoints a stage's output.
#[tracing::instrument(name = "checkpoint", skip_all, fields(run_id = %shared.run_id, stage = %stage))]
async fn accept_output(
    shared: &DagShared,
    outputs: &mut StageOutputs,
    stage: StageName,
    res: StageResult,
    elapsed: Duration,
) -> Result<(), String> {
    let log = shared.log.for_stage(stage);
    let fail = |reason: String| async move {
        let reason = log.scrub(&reason);
        log.error(reason.clone());
        let _ = shared
            .store
            .stage_failed(&shared.run_id, stage, &reason, chrono::Utc::now())
            .await;
        log.stage_changed(stage, StageStatus::Failed);
        reason
    };
    if let Err(e) = outputs.insert(stage, res.output.clone()) {
        return Err(fail(format!("stage {stage} produced malformed output: {e}")).await);
    }
    let produced = crate::domain::outputs::Provenance::produced(res.producer, res.model.clone());
    outputs.provenance.insert(stage, produced.clone());
    if let Err(v) = gates::check_stage(stage, outputs, &shared.job, &shared.master) {
        return Err(fail(format!("stage {stage} output rejected: {v}")).await);
    }
    let saved = retry_transient("stage_completed", || {
        shared.store.stage_completed(
            &shared.run_id,
            stage,
            &produced,
            &res.output,
            chrono::Utc::now(),
            elapsed,
        )
    })
    .await;
    if let Err(e) = saved {
        return Err(fail(format!("could not checkpoint stage {stage}: {e}")).await);
    }
    let log = shared.log.for_stage(stage);
    log.info(format!(
        "stage {stage} completed in {} ms (checkpointed)",
        elapsed.as_millis()
    ));
    log.stage_changed(stage, StageStatus::Completed);
    shared.metrics.stage_finished(stage.as_str(), "completed", elapsed);
    shared.metrics.stage_produced(stage.as_str(), res.producer.as_str());
    Ok(())
}

/// Executes one stage with retries for transient failures.
#[tracing::instrument(name = "stage", skip_all, fields(run_id = %shared.run_id, stage = %stage))]
async fn execute_stage(
    shared: Arc<DagShared>,
    stage: StageName,
    outputs: StageOutputs,
) -> (StageName, Result<(StageResult, Duration), StageError>) {
    let log = shared.log.for_stage(stage);
    let max_retries = shared.settings.queue.stage_max_retries;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if let Err(e) = retry_transient("stage_started", || {
            shared.store.stage_started(&shared.run_id, stage, chrono::Utc::now())
        })
        .await
        {
            return (
                stage,
                Err(StageError::permanent(format!(
                    "could not record the start of stage {stage}: {e}"
                ))),
            );
        }
        log.stage_changed(stage, StageStatus::Running);
        let retry = (attempt > 1).then_some((attempt - 1, max_retries));
        for line in step_markers::start_lines(stage, retry) {
            log.info(line);
        }
        let ctx = Arc::new(StageContext {
            run_id: shared.run_id.clone(),
            job: Arc::clone(&shared.job),
            master_cv: Arc::clone(&shared.master),
            outputs: outputs.clone(),
            settings: Arc::clone(&shared.settings),
            log: log.clone(),
            spend: Arc::clone(&shared.spend),
            deadline: shared.deadline,
            options: shared.options,
            tier: shared.tier.clone(),
        });
        let began = Instant::now();
        let result = shared.stages.execute(stage, ctx, shared.cancel.child_token()).await;
        match result {
            Ok(res) => return (stage, Ok((res, began.elapsed()))),
            Err(e) if e.kind == StageErrorKind::Transient && attempt <= max_retries => {
                shared.metrics.stage_retry(stage.as_str());
                let backoff = backoff(attempt);
                log.warn(format!(
                    "stage {stage} failed with a transient error: {}; retrying in {} ms",
                    e.message,
                    backoff.as_millis()
                ));
                tokio::time::sleep(backoff).await;
            }
            Err(e) => {
                if e.kind != StageErrorKind::Cancelled {
                    shared.metrics.stage_finished(stage.as_str(), "failed", began.elapsed());
                    let kind = match e.kind {
                        StageErrorKind::Transient => "transient, retries exhausted",
                        StageErrorKind::Panicked => "panic",
                        _ => "permanent",
                    };
                    log.error(format!("stage {stage} failed ({kind}): {}", e.message));
                    let _ = shared
                        .store
                        .stage_failed(&shared.run_id, stage, &log.scrub(&e.message), chrono::Utc::now())
                        .await;
                    log.stage_changed(stage, StageStatus::Failed);
                }
                return (stage, Err(e));
            }
        }
    }
}

/// Before a stage's retry: 200 ms doubling per attempt, at most 5 s, jittered.
fn backoff(attempt: u32) -> Duration {
    crate::backoff::delay(attempt, Duration::from_millis(200), Duration::from_secs(5))
}

#[cfg(test)]
mod tests;
