//! Cancelling a run this process does not execute, as plain code: a queued run is cancelled
//! in the store at once (and its job document says so); a run another runner executes is
//! asked to stop through the store, and the answer waits for it to end; a run claimed here
//! but not started yet is reported so the supervisor stops it as it starts. A run this
//! process executes is stopped by the supervisor directly.

use std::time::Duration;

use crate::domain::{RunId, RunStatus};
use crate::store::{DynStore, JobUpdate, StoreError};

/// Why cancel could not cancel.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("run {0} not found")]
    NotFound(RunId),
    #[error("run {run_id} already finished with status {status}")]
    AlreadyFinished { run_id: RunId, status: RunStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a cancel of a run not active here went.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelPath {
    /// It was queued and is now cancelled.
    WasQueued(RunId),
    /// A claim round here is starting it; cancel as it starts.
    ClaimedHere(RunId),
    /// Another runner was asked to cancel it, and did (or did not answer in time).
    Remote,
}

/// How long a cancel waits for another runner to stop the run, and how often it looks.
const REMOTE_WAIT: Duration = Duration::from_secs(15);
const REMOTE_POLL: Duration = Duration::from_millis(200);

/// Cancels `run_id`, which is not executing in this process (`instance_id`).
pub async fn cancel_not_active(store: &DynStore, instance_id: &str, run_id: RunId) -> Result<CancelPath, CancelError> {
    if cancel_if_queued(store, &run_id).await? {
        return Ok(CancelPath::WasQueued(run_id));
    }
    match store.get_run(&run_id).await? {
        None => Err(CancelError::NotFound(run_id)),
        Some(r) if r.status.is_terminal() => Err(CancelError::AlreadyFinished {
            run_id,
            status: r.status,
        }),
        Some(r) if r.lease_owner.as_deref().is_some_and(|o| o != instance_id) => {
            // Running on another runner: ask through the store and wait for it.
            store.request_cancel(&run_id).await?;
            match wait_for_terminal(store, &run_id).await? {
                Some(RunStatus::Cancelled) | None => Ok(CancelPath::Remote),
                Some(other) => Err(CancelError::AlreadyFinished { run_id, status: other }),
            }
        }
        // Claimed by a round still in flight here: cancel it as it starts.
        Some(_) => Ok(CancelPath::ClaimedHere(run_id)),
    }
}

/// Cancels `run_id` if it is still queued (and says so on its job document); false when
/// it is not queued (any more).
pub async fn cancel_if_queued(store: &DynStore, run_id: &RunId) -> Result<bool, StoreError> {
    if !store
        .cancel_queued_run(run_id, "cancelled by request while queued")
        .await?
    {
        return Ok(false);
    }
    if let Some(run) = store.get_run(run_id).await? {
        let update = JobUpdate {
            completed_at: run.finished_at,
            artifact_urls: Some(Default::default()),
            ..JobUpdate::new(run_id.clone(), RunStatus::Cancelled, chrono::Utc::now())
        };
        if let Err(e) = store.update_job(&run.job_id, &update).await {
            tracing::warn!(run_id = %run_id, error = %e, "could not mark job as cancelled");
        }
    }
    Ok(true)
}

/// Waits (up to [`REMOTE_WAIT`]) for a run another runner executes to end. The store is
/// the only channel between runners, so this is a bounded poll.
async fn wait_for_terminal(store: &DynStore, run_id: &RunId) -> Result<Option<RunStatus>, CancelError> {
    let started = tokio::time::Instant::now();
    while started.elapsed() < REMOTE_WAIT {
        if let Some(run) = store.get_run(run_id).await? {
            if run.status.is_terminal() {
                return Ok(Some(run.status));
            }
        }
        tokio::time::sleep(REMOTE_POLL).await;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::Run;
    use crate::pipeline::test_fixtures::example_job;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{LeaseState, RunFinish};

    const LEASE: Duration = Duration::from_secs(60);

    async fn store_with_a_queued_run() -> (tempfile::TempDir, DynStore, Run) {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let job = example_job();
        store.upsert_job(&job).await.unwrap();
        let run = Run::new_queued(job.id.clone(), None, None);
        store.insert_runs(std::slice::from_ref(&run)).await.unwrap();
        (dir, store, run)
    }

    #[tokio::test]
    async fn a_queued_run_is_cancelled_at_once_and_its_job_says_so() {
        let (_dir, store, run) = store_with_a_queued_run().await;
        let path = cancel_not_active(&store, "me", run.run_id.clone()).await.unwrap();
        assert_eq!(path, CancelPath::WasQueued(run.run_id.clone()));
        assert_eq!(
            store.get_run(&run.run_id).await.unwrap().unwrap().status,
            RunStatus::Cancelled
        );
        let doc = store.get_job_document(&run.job_id).await.unwrap().unwrap();
        assert_eq!(doc["pipeline_status"], "cancelled");
        // A second cancel finds it finished.
        let again = cancel_not_active(&store, "me", run.run_id.clone()).await.unwrap_err();
        assert!(
            matches!(
                again,
                CancelError::AlreadyFinished {
                    status: RunStatus::Cancelled,
                    ..
                }
            ),
            "{again}"
        );
    }

    #[tokio::test]
    async fn an_unknown_run_is_not_found_and_a_run_claimed_here_is_stopped_as_it_starts() {
        let (_dir, store, run) = store_with_a_queued_run().await;
        let unknown = cancel_not_active(&store, "me", RunId::generate()).await.unwrap_err();
        assert!(matches!(unknown, CancelError::NotFound(_)));
        store.claim_next_run("me", LEASE).await.unwrap().unwrap();
        let path = cancel_not_active(&store, "me", run.run_id.clone()).await.unwrap();
        assert_eq!(path, CancelPath::ClaimedHere(run.run_id));
    }

    #[tokio::test]
    async fn a_run_on_another_runner_is_asked_through_the_store_and_awaited() {
        let (_dir, store, run) = store_with_a_queued_run().await;
        store.claim_next_run("other", LEASE).await.unwrap().unwrap();
        // The other runner: renews its lease until it learns of the cancel, then stops.
        let other = {
            let (store, id) = (store.clone(), run.run_id.clone());
            tokio::spawn(async move {
                while store.renew_lease(&id, "other", LEASE, Duration::ZERO).await.unwrap()
                    != LeaseState::CancelRequested
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let finish = RunFinish {
                    status: RunStatus::Cancelled,
                    error: Some("cancelled by request".into()),
                    artifacts: Default::default(),
                    at: chrono::Utc::now(),
                    cost_usd: None,
                };
                assert!(store.finish_run(&id, "other", &finish).await.unwrap());
            })
        };
        let path = cancel_not_active(&store, "me", run.run_id.clone()).await.unwrap();
        assert_eq!(path, CancelPath::Remote);
        other.await.unwrap();
        assert_eq!(
            store.get_run(&run.run_id).await.unwrap().unwrap().status,
            RunStatus::Cancelled
        );
    }
}
