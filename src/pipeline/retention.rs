//! Retention: finished runs older than `RETENTION_DAYS` are deleted with everything that
//! belongs to them (log lines, stage checkpoints, LLM call records, stored files, the run's
//! own artifact folder). Job documents and the user's application folders stay: they are the
//! user's, not the runner's bookkeeping. The supervisor sweeps hourly (expired run tokens
//! and the audit trail too); `job-runner purge` does it on demand, and
//! `job-runner purge --job <id>` erases everything held about one job.

use crate::config::Settings;
use crate::domain::{JobId, JobPosting};
use crate::store::{DynStore, JobPurge, StoreError};

/// The most audit entries kept, whatever their age.
pub const MAX_AUDIT_ENTRIES: usize = 100_000;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Finished runs past `RETENTION_DAYS` (0 when retention is off).
    pub runs: usize,
    /// Expired run-token records.
    pub tokens: u64,
    /// Audit entries past `RETENTION_DAYS` or beyond [`MAX_AUDIT_ENTRIES`].
    pub audit: u64,
}

/// The hourly sweep: finished runs and audit entries older than `days` (none when 0, but
/// the audit trail is still capped), and every expired run token.
pub async fn sweep(store: &DynStore, settings: &Settings, days: u32) -> Result<Swept, StoreError> {
    let now = chrono::Utc::now();
    let runs = if days > 0 {
        purge(store, settings, days).await?
    } else {
        0
    };
    let tokens = store.purge_expired_tokens(now).await?;
    let before = if days > 0 {
        now - chrono::Duration::days(i64::from(days))
    } else {
        chrono::DateTime::<chrono::Utc>::MIN_UTC
    };
    let audit = store.purge_audit(before, MAX_AUDIT_ENTRIES).await?;
    Ok(Swept { runs, tokens, audit })
}

/// What `erase_job` removed, with the folders.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Erased {
    /// What the store removed.
    pub store: JobPurge,
    /// Run folders removed from this runner's data folder.
    pub run_folders: usize,
    /// The published application folder, when `with_job` removed it.
    pub application_folder: Option<std::path::PathBuf>,
}

/// Erases everything job-runner holds about `job`: its runs with their logs, checkpoints,
/// LLM call records, stored files, tokens and run folders; with `with_job` also the job
/// document and its published application folder. Refused while a run of it is active.
pub async fn erase_job(
    store: &DynStore,
    settings: &Settings,
    job: &JobId,
    with_job: bool,
) -> Result<Erased, StoreError> {
    // Read the posting before it goes: its company and title name the application folder.
    let posting: Option<JobPosting> = if with_job { store.get_job(job).await? } else { None };
    let purged = store.purge_job(job, with_job).await?;
    let mut out = Erased::default();
    for id in &purged.runs {
        if remove_dir(&crate::pipeline::builtin_stages::publisher::run_artifact_dir(
            &settings.paths.data_dir,
            id.as_ref(),
        ))
        .await
        {
            out.run_folders += 1;
        }
    }
    if let Some(p) = posting {
        let root = &settings.paths.applications_dir;
        if let Some(dir) = crate::artifacts::find_application_dir(root, &p.company, &p.title, job.as_ref()) {
            if remove_dir(&dir).await {
                out.application_folder = Some(dir);
            }
        }
    }
    out.store = purged;
    Ok(out)
}

/// Removes a folder; true when it existed and is gone (other failures are logged).
async fn remove_dir(dir: &std::path::Path) -> bool {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a folder");
            false
        }
    }
}

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
            remove_dir(&crate::pipeline::builtin_stages::publisher::run_artifact_dir(
                &settings.paths.data_dir,
                id.as_ref(),
            ))
            .await;
        }
        total += ids.len();
        if ids.len() < BATCH {
            break;
        }
    }
    Ok(total)
}
