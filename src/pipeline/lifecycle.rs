//! A run's lifecycle, as plain code: start its log where the numbering continues, load the
//! job, the master CV (with an optional knowledge base) and the checkpoints, run the stage
//! DAG, and finalise the run in one place whatever way it ended: the job document, the run
//! record (status, error, artifacts, spend) and the last log lines. The pipeline actor calls
//! [`execute_run`]; tests call it with an inline executor and a memory sink.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{Redactor, Settings};
use crate::domain::outputs::StageOutputs;
use crate::domain::{Run, RunId, RunStatus, StageStatus};
use crate::llm::run_spend::RunSpend;
use crate::pipeline::dag::{run_dag, DagOutcome, DagShared, StopReason};
use crate::pipeline::execution::StageExecutor;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::profile::resolve_profile;
use crate::pipeline::step_markers;
use crate::runlog::{LogSink, RunLog};
use crate::store::{retry_transient, DynStore, JobUpdate, RunFinish};

/// What a run needs, shared by every run of the process.
pub struct RunDeps {
    pub store: DynStore,
    pub settings: Arc<Settings>,
    /// Executes the stages (the stage actors in the daemon).
    pub stages: Arc<dyn StageExecutor>,
    /// Where run logs go (the log hub in the daemon).
    pub log_sink: Arc<dyn LogSink>,
    /// This process's id as lease owner.
    pub instance_id: String,
    /// Masks secrets in run logs and stored errors.
    pub redactor: Arc<Redactor>,
    /// Where runs and stages are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Posts every run's end (`WEBHOOK_URL`), when configured.
    pub completion: Option<Arc<crate::notify::completion::CompletionHook>>,
    /// Where completed runs are published besides the local folder (CV upload, Drive).
    pub remote: crate::pipeline::remote_publish::RemoteTargets,
}

/// Announces the end of `run` (its finished record) on the completion webhook, in its own
/// task (retries must not hold the run or its slot).
pub fn announce_end(
    store: &DynStore,
    hook: Option<&Arc<crate::notify::completion::CompletionHook>>,
    run: &Run,
    fit: Option<(u8, &str)>,
) {
    if let Some(hook) = hook {
        let (hook, store, run_id) = (Arc::clone(hook), store.clone(), run.run_id.clone());
        let event = crate::notify::completion::event(run, fit);
        tokio::spawn(async move { hook.deliver(&store, &run_id, &event).await });
    }
}

/// Announces the end of a run that never executed (cancelled while queued), from its record.
pub fn announce_stored_end(
    store: &DynStore,
    hook: Option<&Arc<crate::notify::completion::CompletionHook>>,
    run_id: RunId,
) {
    let Some(hook) = hook.cloned() else {
        return;
    };
    let store = store.clone();
    tokio::spawn(async move {
        match store.get_run(&run_id).await {
            Ok(Some(run)) => announce_end(&store, Some(&hook), &run, None),
            Ok(None) => {}
            Err(e) => tracing::warn!(run_id = %run_id, error = %e, "cannot read a cancelled run to announce its end"),
        }
    });
}

impl RunDeps {
    /// A handle writing to `run_id`'s log.
    pub fn run_log(&self, run_id: &RunId) -> RunLog {
        let redactor = Arc::clone(&self.redactor);
        let mask: Arc<dyn crate::runlog::Mask> = Arc::new(move |text: &str| redactor.redact_secrets(text));
        RunLog::new(run_id.clone(), Arc::clone(&self.log_sink), mask)
    }
}

/// Why the run's stages must run offline because a daily or monthly budget over all runs
/// is spent (`DAILY_BUDGET_USD`, `MONTHLY_BUDGET_USD`), if one is.
async fn spent_tracker(store: &DynStore, settings: &Settings) -> Option<String> {
    let l = &settings.llm;
    if l.daily_budget_usd <= 0.0 && l.monthly_budget_usd <= 0.0 {
        return None;
    }
    let now = chrono::Utc::now();
    let (_, month) = crate::llm::costs::day_and_month_start(now);
    let calls = store.llm_calls_since(month).await.ok()?;
    crate::llm::costs::trackers(l.daily_budget_usd, l.monthly_budget_usd, &calls, now)
        .iter()
        .find_map(|t| t.refusal())
}

/// This run's entry in the job document's `pipeline_runs` (the newest dashboard's history).
fn run_entry(
    run: &Run,
    status: RunStatus,
    cost_usd: Option<f64>,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Map<String, serde_json::Value> {
    let entry = serde_json::json!({
        "run_id": run.run_id,
        "status": status.job_status(),
        "tier": run.processing_tier,
        "source": run.source,
        "cost_usd": cost_usd,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "completed_at": at,
        "attempts": run.attempts,
    });
    entry.as_object().cloned().unwrap_or_default()
}

/// What the job's earlier runs spent (known prices), for `total_cost_usd`; 0 when the
/// store cannot say.
async fn job_cost_before(store: &DynStore, run: &Run) -> f64 {
    let filter = crate::store::RunFilter {
        job_id: Some(run.job_id.clone()),
        limit: 1000,
        ..Default::default()
    };
    match store.list_runs(&filter).await {
        Ok(page) => page
            .runs
            .iter()
            .filter(|r| r.run_id != run.run_id)
            .filter_map(|r| r.cost_usd)
            .sum(),
        Err(_) => 0.0,
    }
}

/// The job document's update to `status` for `run`, now.
pub fn job_update(run: &Run, status: RunStatus) -> JobUpdate {
    JobUpdate {
        started_at: run.started_at,
        ..JobUpdate::new(run.run_id.clone(), status, chrono::Utc::now())
    }
}

/// Loads the master CV the run asked for.
fn load_master(settings: &Settings, profile_ref: Option<&str>) -> Result<MasterCv, String> {
    let path = match profile_ref {
        Some(p) => resolve_profile(&settings.paths.profiles_dir, p).map_err(|e| e.to_string())?,
        None => settings.paths.master_cv_path.clone(),
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
pub async fn execute_run(run: Run, deps: Arc<RunDeps>, stop: watch::Receiver<Option<StopReason>>) -> RunStatus {
    let store = &deps.store;
    let settings = &deps.settings;
    let started = Instant::now();
    // The timeout covers the whole run: what earlier attempts ran counts.
    let already = Duration::from_millis(run.elapsed_ms);
    let deadline = tokio::time::Instant::now() + settings.queue.pipeline_timeout.saturating_sub(already);
    // Continue the log's numbering (past any line a crashed process may have streamed).
    let last = store.last_log_seq(&run.run_id).await.unwrap_or(0);
    let next_seq = crate::runlog::next_seq(last, run.attempts > 1);
    deps.log_sink.open(&run.run_id, next_seq);
    let log = deps.run_log(&run.run_id);
    log.info(format!(
        "run started for job {} on {} (attempt {} of {}, timeout {} s)",
        run.job_id,
        deps.instance_id,
        run.attempts,
        settings.queue.max_run_attempts,
        settings.queue.pipeline_timeout.as_secs()
    ));
    if !already.is_zero() {
        log.info(format!(
            "this run already executed {} s in earlier attempts: {} s of PIPELINE_TIMEOUT_SECONDS={} remain",
            already.as_secs(),
            settings.queue.pipeline_timeout.saturating_sub(already).as_secs(),
            settings.queue.pipeline_timeout.as_secs()
        ));
    }
    let running = job_update(&run, RunStatus::Running);
    if let Err(e) = retry_transient("update_job", || store.update_job(&run.job_id, &running)).await {
        log.warn(format!("could not mark the job document as running: {e}"));
    }

    let prepared = async {
        if run.attempts > settings.queue.max_run_attempts {
            return Err(format!(
                "run was interrupted {} times (MAX_RUN_ATTEMPTS={}); giving up",
                run.attempts - 1,
                settings.queue.max_run_attempts
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
                    if let Some(producer) = r.producer {
                        let provenance = crate::domain::outputs::Provenance {
                            producer,
                            model: r.model.clone(),
                            source_run: r.source_run.clone(),
                        };
                        outputs.provenance.insert(r.stage, provenance);
                    }
                }
            }
        }
        // An operation runs part of the graph: the rest comes from the job's earlier runs.
        let op = crate::domain::Operation::lookup(&run.operation).unwrap_or(crate::domain::Operation::FULL_RUN);
        crate::pipeline::reuse::prepare(store, &run, op, &mut outputs, &log).await?;
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
            let tier = crate::pipeline::tiers::resolve(store, settings, &run, &log).await;
            let spend = Arc::new(RunSpend::new(settings.llm.max_cost_per_run, spent, 0));
            if let Some(reason) = spent_tracker(store, settings).await {
                log.warn(&reason);
                spend.close(reason);
            }
            let shared = Arc::new(DagShared {
                run_id: run.run_id.clone(),
                store: store.clone(),
                stages: Arc::clone(&deps.stages),
                settings: Arc::clone(settings),
                job: Arc::new(job),
                master: Arc::new(master),
                log: log.clone(),
                cancel: CancellationToken::new(),
                spend,
                deadline,
                metrics: Arc::clone(&deps.metrics),
                options: run.options,
                tier,
            });
            let outcome = run_dag(Arc::clone(&shared), outputs, stop, deadline).await;
            shared.cancel.cancel();
            outcome
        }
    };
    finalize(&run, &deps, &log, outcome, started.elapsed()).await
}

/// Copies a finished run's files into the store when it keeps them (MongoDB), before the
/// run is reported completed, so every runner can serve them.
async fn keep_artifacts(
    store: &crate::store::DynStore,
    run: &Run,
    publish: &crate::domain::outputs::PublishOutput,
    log: &RunLog,
) -> Result<(), String> {
    if !store.keeps_artifacts() {
        return Ok(());
    }
    let dir = std::path::PathBuf::from(&publish.run_dir);
    for file in publish.artifacts.values() {
        let bytes = tokio::fs::read(dir.join(file))
            .await
            .map_err(|e| format!("could not read artifact {file} to keep it in the store: {e}"))?;
        let artifact = crate::store::StoredArtifact::new(run.run_id.clone(), run.job_id.clone(), file, bytes);
        retry_transient("put_artifact", || store.put_artifact(&artifact))
            .await
            .map_err(|e| format!("could not keep artifact {file} in the store: {e}"))?;
    }
    log.info(format!(
        "{} file(s) kept in the store: any runner can serve them",
        publish.artifacts.len()
    ));
    Ok(())
}

/// Records how the run ended: job document, run record, log. Returns the final status.
async fn finalize(run: &Run, deps: &RunDeps, log: &RunLog, outcome: DagOutcome, elapsed: Duration) -> RunStatus {
    let store = &deps.store;
    let now = chrono::Utc::now();
    let owner = deps.instance_id.as_str();
    let fit = match &outcome {
        DagOutcome::Completed(o) => o.fit.as_ref().map(|f| (f.fit_score, f.fit_category.clone())),
        _ => None,
    };
    let (status, error, artifacts, results) = match outcome {
        DagOutcome::Completed(outputs) => match outputs.publish {
            Some(p) => match keep_artifacts(store, run, &p, log).await {
                Ok(()) => (RunStatus::Completed, None, p.artifacts, Some(p.results)),
                Err(e) => (RunStatus::Failed, Some(e), BTreeMap::new(), None),
            },
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
                deps.settings.queue.pipeline_timeout.as_secs()
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
            let _ = store.update_job(&run.job_id, &job_update(run, RunStatus::Queued)).await;
            log.warn("daemon shutting down: run re-queued; completed stages are checkpointed and will not run again");
            deps.log_sink.close(&run.run_id, None).await;
            return RunStatus::Queued;
        }
        DagOutcome::LeaseLost => {
            log.warn("another runner took over this run; stopping here without writing results");
            deps.log_sink.close(&run.run_id, None).await;
            return RunStatus::Running;
        }
    };
    let error = error.map(|e| log.scrub(&e));
    let urls: BTreeMap<String, String> = artifacts
        .iter()
        .map(|(k, file)| (k.clone(), crate::artifacts::url(&run.run_id, file)))
        .collect();
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
    let mut update = job_update(run, status);
    // The newest dashboard's fields: this run in `pipeline_runs`, the job's spend over all
    // its runs, and on success what was produced.
    update.run_entry = Some(run_entry(run, status, cost_usd, now));
    // (The job's earlier runs are read only when there are results to write.)
    let results = match results {
        Some(mut r) => {
            for flag in ["generated_cv", "processed_jd", "has_research"] {
                r.insert(flag.into(), serde_json::Value::Bool(true));
            }
            let total = job_cost_before(store, run).await + cost_usd.unwrap_or(0.0);
            r.insert("total_cost_usd".into(), serde_json::json!(total));
            Some(r)
        }
        None => None,
    };
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
    // The dashboard's tracker reads the whole run's end from this line (a cancel is told
    // by the stream's end event).
    match status {
        RunStatus::Completed => log.info(step_markers::run_end_line(true, None)),
        RunStatus::Failed => log.error(step_markers::run_end_line(false, error.as_deref())),
        _ => {}
    }
    deps.metrics.run_finished(status.as_str());
    // The run as it ended, for what follows it: remote publishing and the announcement.
    let mut done = run.clone();
    done.status = status;
    done.error = error;
    done.cost_usd = cost_usd;
    done.finished_at = Some(now);
    done.artifacts = finish.artifacts;
    if status == RunStatus::Completed && deps.remote.any() {
        // Remote publishing follows the written package; its failures never fail the run.
        if let Ok(targets) =
            crate::pipeline::remote_publish::spawn(store, &deps.settings.paths.data_dir, &deps.remote, &done)
        {
            log.info(format!(
                "publishing to {} in the background (attempts on GET /runs/<id>)",
                targets.join(", ")
            ));
        }
    }
    announce_end(
        store,
        deps.completion.as_ref(),
        &done,
        fit.as_ref().map(|(s, c)| (*s, c.as_str())),
    );
    deps.log_sink.close(&run.run_id, Some(status)).await;
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::execution::InlineExecutor;
    use crate::pipeline::test_fixtures::{example_job, offline_stages};
    use crate::runlog::MemorySink;
    use crate::store::sqlite::SqliteStore;

    /// A claimed run of the example job, with its deps over a real SQLite store.
    async fn claimed_run(dir: &tempfile::TempDir) -> (Run, Arc<RunDeps>, Arc<MemorySink>) {
        let mut settings = Settings::for_root(dir.path());
        std::fs::write(
            &settings.paths.master_cv_path,
            include_str!("../../examples/master-cv.md"),
        )
        .unwrap();
        settings.queue.run_lease = Duration::from_secs(60);
        let store: DynStore = Arc::new(SqliteStore::open(&settings.paths.data_dir).await.unwrap());
        let job = example_job();
        store.upsert_job(&job).await.unwrap();
        store
            .insert_runs(&[Run::new_queued(job.id.clone(), None, None)])
            .await
            .unwrap();
        let run = store
            .claim_next_run("test-owner", settings.queue.run_lease)
            .await
            .unwrap()
            .unwrap();
        let sink = Arc::new(MemorySink::default());
        let deps = Arc::new(RunDeps {
            store,
            settings: Arc::new(settings),
            stages: Arc::new(InlineExecutor::new(offline_stages())),
            log_sink: sink.clone(),
            instance_id: "test-owner".into(),
            redactor: Arc::new(Redactor::default()),
            metrics: Arc::default(),
            completion: None,
            remote: Default::default(),
        });
        (run, deps, sink)
    }

    /// The timeout covers the whole run: a resumed run whose earlier attempts used it up
    /// is stopped at once, and its log says why.
    #[tokio::test]
    async fn a_resumed_run_that_used_up_its_timeout_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let (run, deps, sink) = claimed_run(&dir).await;
        // Earlier attempts ran for the whole timeout (the lease renewals counted it).
        let timeout = deps.settings.queue.pipeline_timeout;
        let state = deps
            .store
            .renew_lease(&run.run_id, "test-owner", Duration::from_secs(60), timeout)
            .await
            .unwrap();
        assert_eq!(state, crate::store::LeaseState::Held);
        let run = deps.store.get_run(&run.run_id).await.unwrap().unwrap();
        assert_eq!(run.elapsed_ms, timeout.as_millis() as u64);
        let (_stop, rx) = watch::channel(None);
        let status = execute_run(run.clone(), Arc::clone(&deps), rx).await;
        assert_eq!(status, RunStatus::Failed, "{:?}", sink.messages());
        let messages = sink.messages().join("\n");
        assert!(messages.contains("already executed"), "{messages}");
        let stored = deps.store.get_run(&run.run_id).await.unwrap().unwrap();
        assert!(stored.error.unwrap_or_default().contains("PIPELINE_TIMEOUT_SECONDS"));
    }

    #[tokio::test]
    async fn a_run_executes_and_is_finalised_without_actors() {
        let dir = tempfile::tempdir().unwrap();
        let (run, deps, sink) = claimed_run(&dir).await;
        let (_stop, rx) = watch::channel(None);
        let status = execute_run(run.clone(), Arc::clone(&deps), rx).await;
        assert_eq!(status, RunStatus::Completed, "{:?}", sink.messages());
        let stored = deps.store.get_run(&run.run_id).await.unwrap().unwrap();
        assert_eq!(stored.status, RunStatus::Completed);
        assert_eq!(
            stored.artifacts.len(),
            crate::artifacts::ArtifactName::ALL.len(),
            "{:?}",
            stored.artifacts
        );
        let doc = deps.store.get_job_document(&run.job_id).await.unwrap().unwrap();
        assert_eq!(doc["pipeline_status"], "completed");
        // What the newest dashboard reads on the job.
        for flag in ["generated_cv", "processed_jd", "has_research"] {
            assert_eq!(doc[flag], true, "{flag}");
        }
        assert_eq!(doc["total_cost_usd"], 0.0);
        let runs = doc["pipeline_runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["run_id"], run.run_id.to_string());
        assert_eq!(runs[0]["status"], "completed");
        assert_eq!(sink.ends(), vec![Some(RunStatus::Completed)]);
        assert!(sink.messages().iter().any(|m| m.starts_with("run completed in")));
        // The runtime's metrics counted the run and every stage's output.
        let m = &deps.metrics;
        let completed = crate::metrics::OutcomeLabel {
            outcome: "completed".into(),
        };
        assert_eq!(m.runs_finished.get_or_create(&completed).get(), 1);
        for stage in crate::domain::StageName::ALL {
            let produced = crate::metrics::ProducerLabels {
                stage: stage.as_str().into(),
                producer: "offline".into(),
            };
            assert_eq!(m.stage_outputs.get_or_create(&produced).get(), 1, "{stage}");
        }
    }

    #[tokio::test]
    async fn a_missing_master_cv_fails_the_run_with_the_reason_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (run, deps, sink) = claimed_run(&dir).await;
        std::fs::remove_file(&deps.settings.paths.master_cv_path).unwrap();
        let (_stop, rx) = watch::channel(None);
        assert_eq!(execute_run(run.clone(), Arc::clone(&deps), rx).await, RunStatus::Failed);
        let stored = deps.store.get_run(&run.run_id).await.unwrap().unwrap();
        assert!(stored.error.unwrap().contains("MASTER_CV_PATH"));
        let doc = deps.store.get_job_document(&run.job_id).await.unwrap().unwrap();
        assert_eq!(doc["pipeline_status"], "pipeline_failed");
        assert_eq!(doc["pipeline_runs"][0]["status"], "pipeline_failed");
        assert!(doc.get("generated_cv").is_none(), "nothing was generated");
        assert_eq!(sink.ends(), vec![Some(RunStatus::Failed)]);
    }

    #[tokio::test]
    async fn a_drained_run_goes_back_to_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (run, deps, sink) = claimed_run(&dir).await;
        let (_stop, rx) = watch::channel(Some(StopReason::Drain {
            deadline: Instant::now(),
        }));
        assert_eq!(execute_run(run.clone(), Arc::clone(&deps), rx).await, RunStatus::Queued);
        let stored = deps.store.get_run(&run.run_id).await.unwrap().unwrap();
        assert_eq!(stored.status, RunStatus::Queued);
        assert_eq!(sink.ends(), vec![None]);
    }
}
