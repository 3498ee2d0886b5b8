//! Admission, as plain code: which run requests become queued runs. All of them or none:
//! every profile must resolve inside `PROFILES_DIR`, every job must exist, and the queue
//! must have room for the new runs; a job that already has a queued or running run gets
//! that run back (one active run per job). The supervisor actor calls [`admit`] one
//! request batch at a time.

use std::collections::HashMap;

use crate::config::Settings;
use crate::domain::untrusted::clip;
use crate::domain::{JobId, Run, RunId, RunStatus};
use crate::pipeline::profile::resolve_profile;
use crate::store::{DynStore, JobUpdate, StoreError};

/// One run request after parsing.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub job_id: JobId,
    pub profile_ref: Option<String>,
    pub source: Option<String>,
    /// The processing tier the request named, kept with the run.
    pub processing_tier: Option<crate::domain::Tier>,
    /// What the run executes (`batch-pipeline`: everything).
    pub operation: crate::domain::Operation,
    /// `use_llm`, `force_refresh`.
    pub options: crate::domain::RunOptions,
}

/// Why admission refused a request.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error("{0}")]
    Profile(#[from] crate::pipeline::profile::ProfileError),
    #[error("job(s) not found: {}", .0.iter().map(|j| j.to_string()).collect::<Vec<_>>().join(", "))]
    JobsNotFound(Vec<JobId>),
    #[error("the run queue is full ({queued} queued, MAX_QUEUE={max}); retry later")]
    QueueFull { queued: usize, max: usize },
    #[error("the runner is shutting down and accepts no new runs")]
    ShuttingDown,
    #[error("job {job_id} already has a {active_operation} run queued or running ({active}); one run per job at a time, so queue {requested} once it ended")]
    JobBusy {
        job_id: JobId,
        active: crate::domain::RunId,
        active_operation: String,
        requested: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`admit`] decided.
#[derive(Debug)]
pub struct Admitted {
    /// One run per request, in request order (an existing run for a job that had one).
    pub answer: Vec<Run>,
    /// The runs created now (already stored as queued).
    pub fresh: Vec<Run>,
    /// Runs that were queued before these.
    pub queued_before: usize,
}

/// Admits `requests` (see the module docs), storing the new runs as queued and marking
/// their jobs `queued`.
pub async fn admit(store: &DynStore, settings: &Settings, requests: &[RunRequest]) -> Result<Admitted, AdmissionError> {
    for req in requests {
        if let Some(p) = &req.profile_ref {
            resolve_profile(&settings.paths.profiles_dir, p)?;
        }
    }
    let mut missing = Vec::new();
    // Title and company of each job, kept with its run for the queue view.
    let mut labels: HashMap<&JobId, (Option<String>, Option<String>)> = HashMap::new();
    for req in requests {
        if labels.contains_key(&req.job_id) || missing.contains(&req.job_id) {
            continue;
        }
        match store.get_job_document(&req.job_id).await? {
            None => missing.push(req.job_id.clone()),
            Some(doc) => {
                let text = |key: &str| doc.get(key).and_then(|v| v.as_str()).map(|s| clip(s, 200).into_owned());
                labels.insert(&req.job_id, (text("title"), text("company")));
            }
        }
    }
    if !missing.is_empty() {
        return Err(AdmissionError::JobsNotFound(missing));
    }
    // One active run per job: repeat requests get the existing run back.
    let mut answer = Vec::with_capacity(requests.len());
    let mut fresh: Vec<Run> = Vec::new();
    let mut by_job: HashMap<JobId, Run> = HashMap::new();
    for req in requests {
        if let Some(run) = by_job.get(&req.job_id) {
            answer.push(run.clone());
            continue;
        }
        let run = match store.active_run_for_job(&req.job_id).await? {
            // The same (job, operation) pending or running: that item. Another operation
            // waits: two runs of one job would write its document at once.
            Some(existing) if existing.operation == req.operation.as_str() => existing,
            Some(other) => {
                return Err(AdmissionError::JobBusy {
                    job_id: req.job_id.clone(),
                    active: other.run_id,
                    active_operation: other.operation,
                    requested: req.operation.as_str().to_owned(),
                })
            }
            None => {
                let mut run = Run::new_queued(req.job_id.clone(), req.profile_ref.clone(), req.source.clone());
                run.processing_tier = req.processing_tier.map(|t| t.as_str().to_owned());
                run.operation = req.operation.as_str().to_owned();
                run.options = req.options;
                if let Some((title, company)) = labels.get(&req.job_id) {
                    run.job_title.clone_from(title);
                    run.company.clone_from(company);
                }
                fresh.push(run.clone());
                run
            }
        };
        by_job.insert(req.job_id.clone(), run.clone());
        answer.push(run);
    }
    let queued = store.count_runs(RunStatus::Queued).await? as usize;
    let max = settings.queue.max_queue;
    if queued + fresh.len() > max {
        return Err(AdmissionError::QueueFull { queued, max });
    }
    store.insert_runs(&fresh).await?;
    for run in &fresh {
        let update = JobUpdate::new(run.run_id.clone(), RunStatus::Queued, run.created_at);
        if let Err(e) = store.update_job(&run.job_id, &update).await {
            tracing::warn!(run_id = %run.run_id, error = %e, "could not mark job as queued");
        }
    }
    Ok(Admitted {
        answer,
        fresh,
        queued_before: queued,
    })
}

/// Why a failed run could not be queued again.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("run {0} not found")]
    NotFound(RunId),
    #[error("run {run_id} is {status}; only a failed run can be retried")]
    NotFailed { run_id: RunId, status: RunStatus },
    #[error("job {job_id} already has a queued or running run ({active}); retry once it ended")]
    JobBusy { job_id: JobId, active: RunId },
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

impl From<StoreError> for RetryError {
    fn from(e: StoreError) -> Self {
        RetryError::Admission(AdmissionError::Store(e))
    }
}

/// A failed run retried by [`readmit_failed`].
#[derive(Debug)]
pub struct Readmitted {
    /// The new run, queued.
    pub run: Run,
    /// The failed run it retries.
    pub retry_of: RunId,
    /// The stages it reuses from the failed run.
    pub reused: Vec<crate::domain::StageName>,
    /// Where its log numbering continues.
    pub next_seq: u64,
    /// Runs queued before it.
    pub queued_before: usize,
}

/// Retries the failed run `run_id` (the queue's retry, `POST /runs/{id}/retry`) as a new
/// run of the same operation, options and queue item, at the back of the queue, that reuses
/// every stage the failed run completed: only the failed stage and those after it execute.
/// The failed run stays in the history with its log. Needs room in the queue and no other
/// active run of its job. Marks the job `queued`.
pub async fn readmit_failed(store: &DynStore, settings: &Settings, run_id: &RunId) -> Result<Readmitted, RetryError> {
    let run = store
        .get_run(run_id)
        .await?
        .ok_or_else(|| RetryError::NotFound(run_id.clone()))?;
    if run.status != RunStatus::Failed {
        return Err(RetryError::NotFailed {
            run_id: run.run_id,
            status: run.status,
        });
    }
    let queued = store.count_runs(RunStatus::Queued).await? as usize;
    let max = settings.queue.max_queue;
    if queued >= max {
        return Err(AdmissionError::QueueFull { queued, max }.into());
    }
    let now = chrono::Utc::now();
    let retry = run.retry(now);
    let retired = crate::domain::QueueId::generate();
    let Some(new_run) = store.retry_failed_run(run_id, &retry, &retired, now).await? else {
        // Lost a race, or the job has another active run: say which.
        if let Some(active) = store.active_run_for_job(&run.job_id).await? {
            return Err(RetryError::JobBusy {
                job_id: run.job_id,
                active: active.run_id,
            });
        }
        let status = store.get_run(run_id).await?.map_or(RunStatus::Failed, |r| r.status);
        return Err(RetryError::NotFailed {
            run_id: run_id.clone(),
            status,
        });
    };
    let update = JobUpdate::new(new_run.run_id.clone(), RunStatus::Queued, now);
    if let Err(e) = store.update_job(&new_run.job_id, &update).await {
        tracing::warn!(run_id = %new_run.run_id, error = %e, "could not mark job as queued");
    }
    let reused = store
        .load_stages(&new_run.run_id)
        .await?
        .into_iter()
        .filter(|r| r.status == crate::domain::StageStatus::Completed)
        .map(|r| r.stage)
        .collect();
    let next_seq = crate::runlog::next_seq(store.last_log_seq(&new_run.run_id).await?, false);
    Ok(Readmitted {
        run: new_run,
        retry_of: run.run_id,
        reused,
        next_seq,
        queued_before: queued,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::pipeline::test_fixtures::example_job;
    use crate::store::sqlite::SqliteStore;

    async fn setup(max_queue: usize) -> (tempfile::TempDir, DynStore, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_root(dir.path());
        settings.queue.max_queue = max_queue;
        std::fs::create_dir_all(&settings.paths.profiles_dir).unwrap();
        std::fs::write(settings.paths.profiles_dir.join("me.md"), "# Me").unwrap();
        let store: DynStore = Arc::new(SqliteStore::open(&settings.paths.data_dir).await.unwrap());
        store.upsert_job(&example_job()).await.unwrap();
        (dir, store, settings)
    }

    fn request(job: &str, profile: Option<&str>) -> RunRequest {
        RunRequest {
            job_id: JobId::parse(job).unwrap(),
            profile_ref: profile.map(str::to_owned),
            source: None,
            processing_tier: None,
            operation: crate::domain::Operation::FULL_RUN,
            options: Default::default(),
        }
    }

    const JOB: &str = "65a1b2c3d4e5f60718293a4b";
    const MISSING: &str = "0000000000000000000000aa";

    #[tokio::test]
    async fn a_request_becomes_a_queued_run_and_a_repeat_gets_the_same_run() {
        let (_dir, store, settings) = setup(10).await;
        let first = admit(&store, &settings, &[request(JOB, Some("me.md"))]).await.unwrap();
        assert_eq!((first.fresh.len(), first.queued_before), (1, 0));
        assert_eq!(first.answer[0].status, RunStatus::Queued);
        let again = admit(&store, &settings, &[request(JOB, None), request(JOB, None)])
            .await
            .unwrap();
        assert!(again.fresh.is_empty(), "one active run per job");
        assert!(again.answer.iter().all(|r| r.run_id == first.answer[0].run_id));
        let doc = store
            .get_job_document(&JobId::parse(JOB).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(doc["pipeline_status"], "queued");
    }

    #[tokio::test]
    async fn nothing_is_queued_when_any_job_is_missing_or_a_profile_escapes() {
        let (_dir, store, settings) = setup(10).await;
        let err = admit(&store, &settings, &[request(JOB, None), request(MISSING, None)])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdmissionError::JobsNotFound(ids) if ids.len() == 1),
            "{err}"
        );
        let err = admit(&store, &settings, &[request(JOB, Some("../etc/passwd"))])
            .await
            .unwrap_err();
        assert!(matches!(err, AdmissionError::Profile(_)), "{err}");
        assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 0, "all or none");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_the_whole_batch() {
        let (_dir, store, settings) = setup(1).await;
        let mut other = example_job();
        other.id = JobId::parse("65a1b2c3d4e5f60718293a4c").unwrap();
        store.upsert_job(&other).await.unwrap();
        admit(&store, &settings, &[request(JOB, None)]).await.unwrap();
        let err = admit(&store, &settings, &[request("65a1b2c3d4e5f60718293a4c", None)])
            .await
            .unwrap_err();
        assert!(matches!(err, AdmissionError::QueueFull { queued: 1, max: 1 }), "{err}");
        assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 1);
    }
}
