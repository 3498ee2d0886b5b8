//! Remote publishing of a completed run: after the local package is written and the run
//! is recorded as completed, its `CV.pdf` goes to the CV upload webhook
//! (`N8N_WEBHOOK_CV_UPLOAD`) in a task of its own. A failure there (auth, quota, 5xx,
//! timeout) is retried within bounds and recorded as delivery attempts on the run; it never
//! fails the run or loses the package. `POST /jobs/{run_id}/publish` starts it again.

use std::sync::Arc;

use crate::domain::Run;
use crate::notify::n8n::{CvUpload, UploadFields};
use crate::store::DynStore;

/// Why a run cannot be published now.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No remote target is configured.
    #[error("no remote publishing target is configured (set N8N_WEBHOOK_CV_UPLOAD)")]
    NoTarget,
    /// Only completed runs have a package.
    #[error("run {0} is {1}; only a completed run has a package to publish")]
    NotCompleted(String, String),
}

/// Starts uploading `run`'s `CV.pdf` in the background; the names of the targets started.
pub fn spawn(
    store: &DynStore,
    data_dir: &std::path::Path,
    upload: Option<&Arc<CvUpload>>,
    run: &Run,
) -> Result<Vec<&'static str>, PublishError> {
    let Some(upload) = upload.cloned() else {
        return Err(PublishError::NoTarget);
    };
    if run.status != crate::domain::RunStatus::Completed {
        return Err(PublishError::NotCompleted(
            run.run_id.to_string(),
            run.status.to_string(),
        ));
    }
    let (store, run) = (store.clone(), run.clone());
    let local = crate::pipeline::builtin_stages::publisher::run_artifact_dir(data_dir, run.run_id.as_ref())
        .join(crate::artifacts::ArtifactName::CvPdf.file_name());
    tokio::spawn(async move {
        // This runner's copy first, else the store's (another runner wrote the package).
        let pdf = match tokio::fs::read(&local).await {
            Ok(bytes) => Some(bytes),
            Err(_) => store
                .get_artifact(&run.run_id, crate::artifacts::ArtifactName::CvPdf.file_name())
                .await
                .ok()
                .flatten()
                .map(|a| a.bytes),
        };
        let Some(pdf) = pdf else {
            tracing::warn!(run_id = %run.run_id, "CV.pdf is not available here or in the store; nothing uploaded");
            return;
        };
        let fields = UploadFields {
            job_id: run.job_id.to_string(),
            run_id: run.run_id.to_string(),
            company: run.company.clone().unwrap_or_default(),
            title: run.job_title.clone().unwrap_or_default(),
        };
        upload.upload(&store, &run.run_id, &fields, &pdf).await;
    });
    Ok(vec![crate::notify::n8n::TARGET])
}
