//! PipelineActor: one per running run. It loads the job, the master CV and any checkpoints,
//! drives the stage DAG, and finalises the run (store, job document, log) in one place,
//! whatever way it ended. It holds the run's slot; dropping the actor releases it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::log_hub::LogHub;
use super::messages::{CloseRunLog, OpenRunLog, SlotReleased};
use super::stage_actor::StageSet;
use crate::config::Settings;
use crate::domain::outputs::StageOutputs;
use crate::domain::{Run, RunId, RunStatus, StageStatus};
use crate::llm::run_spend::RunSpend;
use crate::pipeline::dag::{run_dag, DagOutcome, DagShared, StopReason};
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::profile::resolve_profile;
use crate::runlog::RunLog;
use crate::store::{retry_transient, DynStore, JobUpdate, LeaseState, RunFinish};

/// How often the owner renews its lease and looks for a cancel requested from another
/// runner (the lease itself lasts `RUN_LEASE_SECONDS`).
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(1);

/// What every pipeline needs, shared.
pub struct PipelineDeps {
    pub store: DynStore,
    pub settings: Arc<Settings>,
    pub hub: Addr<LogHub>,
    pub stages: StageSet,
    /// This process's id as lease owner.
    pub instance_id: String,
    /// Masks secrets in run logs and stored errors.
    pub redactor: Arc<crate::config::Redactor>,
}

impl PipelineDeps {
    /// A handle writing to `run_id`'s log through the hub.
    pub fn run_log(&self, run_id: &RunId) -> RunLog {
        RunLog::new(run_id.clone(), Arc::new(self.hub.clone()), Arc::clone(&self.redactor))
    }
}

/// Releases a run's slot when dropped, and tells the supervisor. Dropped exactly once,
/// however the run ends (including a panic unwinding the actor).
pub struct SlotGuard {
    _permit: OwnedSemaphorePermit,
    run_id: RunId,
    supervisor: Recipient<SlotReleased>,
}

impl SlotGuard {
    /// Binds a permit to a run.
    pub fn new(permit: OwnedSemaphorePermit, run_id: RunId, supervisor: Recipient<SlotReleased>) -> Self {
        Self {
            _permit: permit,
            run_id,
            supervisor,
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.supervisor.do_send(SlotReleased(self.run_id.clone()));
    }
}

/// Drives one run.
pub struct PipelineActor {
    run: Run,
    deps: Arc<PipelineDeps>,
    stop_tx: Arc<watch::Sender<Option<StopReason>>>,
    stop_rx: watch::Receiver<Option<StopReason>>,
    done_tx: watch::Sender<Option<RunStatus>>,
    /// The run's concurrency slot, held for the actor's whole life.
    _slot: SlotGuard,
}

impl PipelineActor {
    /// A pipeline for a claimed run.
    pub fn new(
        run: Run,
        deps: Arc<PipelineDeps>,
        stop_tx: Arc<watch::Sender<Option<StopReason>>>,
        done_tx: watch::Sender<Option<RunStatus>>,
        slot: SlotGuard,
    ) -> Self {
        let stop_rx = stop_tx.subscribe();
        Self {
            run,
            deps,
            stop_tx,
            stop_rx,
            done_tx,
            _slot: slot,
        }
    }
}

impl Actor for PipelineActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let fut = execute_run(self.run.clone(), Arc::clone(&self.deps), self.stop_rx.clone());
        ctx.spawn(fut.into_actor(self).map(|status, act, ctx| {
            act.done_tx.send_replace(Some(status));
            ctx.stop();
        }));
        ctx.run_interval(LEASE_RENEW_EVERY, |act, ctx| {
            let lease = act.deps.settings.run_lease;
            let (store, id, owner, stop) = (
                act.deps.store.clone(),
                act.run.run_id.clone(),
                act.deps.instance_id.clone(),
                Arc::clone(&act.stop_tx),
            );
            ctx.spawn(
                async move {
                    match store.renew_lease(&id, &owner, lease).await {
                        Ok(LeaseState::Held) => {}
                        Ok(LeaseState::CancelRequested) => {
                            tracing::info!(run_id = %id, "cancel requested through the store");
                            stop.send_if_modified(|s| match s {
                                None | Some(StopReason::Drain { .. }) => {
                                    *s = Some(StopReason::Cancel);
                                    true
                                }
                                _ => false,
                            });
                        }
                        Ok(LeaseState::Lost) => {
                            tracing::warn!(run_id = %id, "lease lost; stopping the run here");
                            stop.send_replace(Some(StopReason::LeaseLost));
                        }
                        Err(e) => tracing::warn!(run_id = %id, error = %e, "could not renew lease; will retry"),
                    }
                }
                .into_actor(act),
            );
        });
    }
}

fn job_update(run: &Run, status: &str) -> JobUpdate {
    JobUpdate {
        run_id: run.run_id.clone(),
        pipeline_status: status.to_owned(),
        started_at: run.started_at,
        updated_at: chrono::Utc::now(),
        completed_at: None,
        failure: None,
        artifact_urls: None,
        results: None,
    }
}

/// Loads the master CV the run asked for.
fn load_master(settings: &Settings, profile_ref: Option<&str>) -> Result<MasterCv, String> {
    let path = match profile_ref {
        Some(p) => resolve_profile(&settings.profiles_dir, p).map_err(|e| e.to_string())?,
        None => settings.master_cv_path.clone(),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the master CV at {}: {e} (set MASTER_CV_PATH)",
            path.display()
        )
    })?;
    let master = MasterCv::parse(&text).map_err(|e| format!("master CV at {}: {e}", path.display()))?;
    // Achievement records beyond the CV, for STAR selection (optional).
    let kb = path.with_file_name("knowledge-base.md");
    Ok(match std::fs::read_to_string(&kb) {
        Ok(records) => master.with_knowledge_base(records),
        Err(_) => master,
    })
}

#[tracing::instrument(name = "run", skip_all, fields(run_id = %run.run_id, job_id = %run.job_id))]
async fn execute_run(run: Run, deps: Arc<PipelineDeps>, stop: watch::Receiver<Option<StopReason>>) -> RunStatus {
    let store = &deps.store;
    let settings = &deps.settings;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + settings.pipeline_timeout;
    // Continue the log's numbering (past any line a crashed process may have streamed).
    let last = store.last_log_seq(&run.run_id).await.unwrap_or(0);
    let next_seq = crate::runlog::next_seq(last, run.attempts > 1);
    deps.hub.do_send(OpenRunLog {
        run_id: run.run_id.clone(),
        next_seq,
    });
    let log = deps.run_log(&run.run_id);
    log.info(format!(
        "run started for job {} on {} (attempt {} of {}, timeout {} s)",
        run.job_id,
        deps.instance_id,
        run.attempts,
        settings.max_run_attempts,
        settings.pipeline_timeout.as_secs()
    ));
    let running = job_update(&run, "running");
    if let Err(e) = retry_transient("update_job", || store.update_job(&run.job_id, &running)).await {
        log.warn(format!("could not mark the job document as running: {e}"));
    }

    let prepared = async {
        if run.attempts > settings.max_run_attempts {
            return Err(format!(
                "run was interrupted {} times (MAX_RUN_ATTEMPTS={}); giving up",
                run.attempts - 1,
                settings.max_run_attempts
            ));
        }
        let job = retry_transient("get_job", || store.get_job(&run.job_id))
            .await
            .map_err(|e| format!("could not load job {}: {e}", run.job_id))?
            .ok_or_else(|| format!("job {} no longer exists", run.job_id))?;
        let master = load_master(settings, run.profile_ref.as_deref())?;
        let records = retry_transient("load_stages", || store.load_stages(&run.run_id))
            .await
            .map_err(|e| format!("could not load checkpoints: {e}"))?;
        // What earlier attempts of this run already spent counts against its budget.
        let spent: f64 = retry_transient("llm_calls", || store.llm_calls(&run.run_id))
            .await
            .map_err(|e| format!("could not load the run's LLM spend: {e}"))?
            .iter()
            .filter_map(|c| c.cost_usd)
            .sum();
        let mut outputs = StageOutputs::default();
        let mut resumed = Vec::new();
        for r in records.into_iter().filter(|r| r.status == StageStatus::Completed) {
            if let Some(out) = r.output {
                if outputs.insert(r.stage, out).is_ok() {
                    resumed.push(r.stage.as_str());
                }
            }
        }
        Ok((job, master, outputs, resumed, spent))
    }
    .await;

    let outcome = match prepared {
        Err(reason) => DagOutcome::Failed(reason),
        Ok((job, master, outputs, resumed, spent)) => {
            if master.knowledge_base.is_some() {
                log.info(format!(
                    "knowledge-base.md found next to the master CV: {} achievement records in all",
                    master.star_records().len()
                ));
            }
            if !resumed.is_empty() {
                log.info(format!(
                    "resuming from checkpoint; already completed: {}",
                    resumed.join(", ")
                ));
            }
            let shared = Arc::new(DagShared {
                run_id: run.run_id.clone(),
                store: store.clone(),
                stages: Arc::new(deps.stages.clone()),
                settings: Arc::clone(settings),
                job: Arc::new(job),
                master: Arc::new(master),
                log: log.clone(),
                cancel: CancellationToken::new(),
                spend: Arc::new(RunSpend::new(settings.llm.max_cost_per_run, spent, 0)),
                deadline,
            });
            let outcome = run_dag(Arc::clone(&shared), outputs, stop, deadline).await;
            shared.cancel.cancel();
            outcome
        }
    };
    finalize(&run, &deps, &log, outcome, started.elapsed()).await
}

/// Records how the run ended: job document, run record, log. Returns the final status.
async fn finalize(run: &Run, deps: &PipelineDeps, log: &RunLog, outcome: DagOutcome, elapsed: Duration) -> RunStatus {
    let store = &deps.store;
    let now = chrono::Utc::now();
    let owner = deps.instance_id.as_str();
    let (status, error, artifacts, results) = match outcome {
        DagOutcome::Completed(outputs) => match outputs.publish {
            Some(p) => (RunStatus::Completed, None, p.artifacts, Some(p.results)),
            None => (
                RunStatus::Failed,
                Some("publisher produced no output".to_owned()),
                BTreeMap::new(),
                None,
            ),
        },
        DagOutcome::Failed(reason) => (RunStatus::Failed, Some(reason), BTreeMap::new(), None),
        DagOutcome::TimedOut => (
            RunStatus::Failed,
            Some(format!(
                "run timed out: exceeded PIPELINE_TIMEOUT_SECONDS={} and was stopped",
                deps.settings.pipeline_timeout.as_secs()
            )),
            BTreeMap::new(),
            None,
        ),
        DagOutcome::Cancelled => (
            RunStatus::Cancelled,
            Some("cancelled by request".to_owned()),
            BTreeMap::new(),
            None,
        ),
        DagOutcome::Requeue => {
            let _ = retry_transient("requeue_run", || store.requeue_run(&run.run_id, owner)).await;
            let _ = store.update_job(&run.job_id, &job_update(run, "queued")).await;
            log.warn("daemon shutting down: run re-queued; completed stages are checkpointed and will not run again");
            let _ = deps
                .hub
                .send(CloseRunLog {
                    run_id: run.run_id.clone(),
                    status: None,
                })
                .await;
            return RunStatus::Queued;
        }
        DagOutcome::LeaseLost => {
            log.warn("another runner took over this run; stopping here without writing results");
            let _ = deps
                .hub
                .send(CloseRunLog {
                    run_id: run.run_id.clone(),
                    status: None,
                })
                .await;
            return RunStatus::Running;
        }
    };
    let error = error.map(|e| log.scrub(&e));
    let urls: BTreeMap<String, String> = artifacts
        .iter()
        .map(|(k, file)| (k.clone(), format!("/artifacts/{}/{file}", run.run_id)))
        .collect();
    let mut update = job_update(
        run,
        match status {
            RunStatus::Completed => "completed",
            RunStatus::Cancelled => "cancelled",
            _ => "pipeline_failed",
        },
    );
    update.completed_at = Some(now);
    update.artifact_urls = Some(urls);
    if let Some(e) = &error {
        if status == RunStatus::Failed {
            update.failure = Some((e.clone(), now));
        }
    }
    update.results = results;
    let (mut status, mut error, mut artifacts) = (status, error, artifacts);
    if let Err(e) = retry_transient("update_job", || store.update_job(&run.job_id, &update)).await {
        if status == RunStatus::Completed {
            // The results could not be written; the run did not achieve its purpose.
            status = RunStatus::Failed;
            error = Some(log.scrub(&format!("could not write results to job {}: {e}", run.job_id)));
            artifacts.clear();
        } else {
            log.warn(format!("could not update job {}: {e}", run.job_id));
        }
    }
    let cost_usd = match store.llm_calls(&run.run_id).await {
        Ok(calls) if calls.is_empty() => None,
        Ok(calls) => {
            let cost = crate::llm::costs::run_cost(&calls).total;
            log.info(format!(
                "LLM spend of this run: ${:.6} over {} call(s){}",
                cost.cost_usd,
                cost.calls,
                if cost.unknown_cost_calls > 0 {
                    format!(", {} of unknown price", cost.unknown_cost_calls)
                } else {
                    String::new()
                }
            ));
            Some(cost.cost_usd)
        }
        Err(e) => {
            log.warn(format!("could not total the run's LLM spend: {e}"));
            None
        }
    };
    let finish = RunFinish {
        status,
        error: error.clone(),
        artifacts,
        at: now,
        cost_usd,
    };
    match retry_transient("finish_run", || store.finish_run(&run.run_id, owner, &finish)).await {
        Ok(true) => {}
        Ok(false) => log.warn("run record was no longer held by this runner when finishing"),
        Err(e) => log.error(format!("could not record the end of the run: {e}")),
    }
    match (&status, &error) {
        (RunStatus::Completed, _) => log.info(format!("run completed in {:.1} s", elapsed.as_secs_f64())),
        (_, Some(e)) => log.error(format!("run {status}: {e}")),
        _ => log.info(format!("run {status}")),
    }
    crate::metrics::global().run_finished(status.as_str());
    let _ = deps
        .hub
        .send(CloseRunLog {
            run_id: run.run_id.clone(),
            status: Some(status),
        })
        .await;
    status
}
