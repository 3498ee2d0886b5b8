//! Retention: finished runs older than `RETENTION_DAYS` are deleted with everything that
//! belongs to them (log lines, stage checkpoints, LLM call records, stored files, the run's
//! own artifact folder). Job documents and the user's application folders stay: they are the
//! user's, not the runner's bookkeeping. The supervisor purges hourly; `job-runner purge`
//! does it on demand.

use crate::config::Settings;
use crate::store::{DynStore, StoreError};

/// Runs deleted per store call (a bounded transaction each).
const BATCH: usize = 500;

/// Deletes every finished run that ended more than `days` days ago; returns how many.
pub async fn purge(store: &DynStore, settings: &Settings, days: u32) -> Result<usize, StoreError> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let mut total = 0;
    loop {
        let ids = store.purge_finished_runs(cutoff, BATCH).await?;
        if ids.is_empty() {
            break;
        }
        for id in &ids {
            let dir =
                crate::pipeline::builtin_stages::publisher::run_artifact_dir(&settings.paths.data_dir, id.as_ref());
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(run_id = %id, error = %e, "could not remove the run's folder"),
            }
        }
        total += ids.len();
        if ids.len() < BATCH {
            break;
        }
    }
    Ok(total)
}
