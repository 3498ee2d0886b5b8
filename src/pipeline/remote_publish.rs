//! Remote publishing of a completed run: after the local package is written and the run
//! is recorded as completed, its files go to the remote targets in a task of their own:
//! the CV upload webhook (`N8N_WEBHOOK_CV_UPLOAD`) and Google Drive and Sheets
//! (`ENABLE_REMOTE_PUBLISHING`). A failure there (auth, quota, 5xx, timeout) is retried
//! within bounds and recorded on the run (delivery attempts by target, `remote_publishing`
//! on the job); it never fails the run or loses the package. `POST /jobs/{run_id}/publish`
//! starts it again.

use std::sync::Arc;

use serde_json::json;

use crate::artifacts::ArtifactName;
use crate::domain::Run;
use crate::google::{DriveFile, Google};
use crate::notify::n8n::{CvUpload, UploadFields};
use crate::store::{DynStore, FieldValue, WebhookDelivery};

/// The delivery target name of a Drive and Sheets publication.
pub const GOOGLE_TARGET: &str = "google-drive";

/// Where completed runs are published besides the local folder.
#[derive(Clone, Default)]
pub struct RemoteTargets {
    /// The n8n CV upload.
    pub cv_upload: Option<Arc<CvUpload>>,
    /// Google Drive and Sheets.
    pub google: Option<Arc<Google>>,
}

impl RemoteTargets {
    /// The targets the settings configure.
    pub fn from_settings(p: &crate::config::PublishingSettings) -> Result<Self, String> {
        Ok(Self {
            cv_upload: CvUpload::from_settings(p)?.map(Arc::new),
            google: Google::from_settings(p)?.map(Arc::new),
        })
    }

    /// True when at least one target is configured.
    pub fn any(&self) -> bool {
        self.cv_upload.is_some() || self.google.is_some()
    }
}

/// Why a run cannot be published now.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No remote target is configured.
    #[error("no remote publishing target is configured (set N8N_WEBHOOK_CV_UPLOAD or ENABLE_REMOTE_PUBLISHING)")]
    NoTarget,
    /// Only completed runs have a package.
    #[error("run {0} is {1}; only a completed run has a package to publish")]
    NotCompleted(String, String),
}

/// A package file: this runner's copy first, else the store's (another runner wrote it).
async fn package_file(store: &DynStore, data_dir: &std::path::Path, run: &Run, name: ArtifactName) -> Option<Vec<u8>> {
    let local = crate::pipeline::builtin_stages::publisher::run_artifact_dir(data_dir, run.run_id.as_ref())
        .join(name.file_name());
    match tokio::fs::read(&local).await {
        Ok(bytes) => Some(bytes),
        Err(_) => store
            .get_artifact(&run.run_id, name.file_name())
            .await
            .ok()
            .flatten()
            .map(|a| a.bytes),
    }
}

/// Starts publishing `run` to every configured target in the background; the names of the
/// targets started.
pub fn spawn(
    store: &DynStore,
    data_dir: &std::path::Path,
    targets: &RemoteTargets,
    run: &Run,
) -> Result<Vec<&'static str>, PublishError> {
    if !targets.any() {
        return Err(PublishError::NoTarget);
    }
    if run.status != crate::domain::RunStatus::Completed {
        return Err(PublishError::NotCompleted(
            run.run_id.to_string(),
            run.status.to_string(),
        ));
    }
    let mut started = Vec::new();
    if let Some(upload) = targets.cv_upload.clone() {
        started.push(crate::notify::n8n::TARGET);
        let (store, run, dir) = (store.clone(), run.clone(), data_dir.to_owned());
        tokio::spawn(async move {
            let Some(pdf) = package_file(&store, &dir, &run, ArtifactName::CvPdf).await else {
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
    }
    if let Some(google) = targets.google.clone() {
        started.push(GOOGLE_TARGET);
        let (store, run, dir) = (store.clone(), run.clone(), data_dir.to_owned());
        tokio::spawn(async move { publish_to_google(&google, &store, &dir, &run).await });
    }
    Ok(started)
}

/// Drive and Sheets for one run; the outcome recorded on the run and the job.
async fn publish_to_google(google: &Google, store: &DynStore, dir: &std::path::Path, run: &Run) {
    let started = std::time::Instant::now();
    let names = [
        ArtifactName::CvPdf,
        ArtifactName::CvDocx,
        ArtifactName::CoverLetterPdf,
        ArtifactName::Dossier,
    ];
    let mut files = Vec::new();
    for name in names {
        match package_file(store, dir, run, name).await {
            Some(bytes) => files.push((name, bytes)),
            None => {
                tracing::warn!(run_id = %run.run_id, file = name.file_name(), "package file missing; not published")
            }
        }
    }
    let drive_files: Vec<DriveFile<'_>> = files
        .iter()
        .map(|(name, bytes)| DriveFile {
            name: name.file_name(),
            mime: name
                .content_type()
                .split(';')
                .next()
                .unwrap_or("application/octet-stream"),
            bytes,
        })
        .collect();
    let job = store
        .get_job_document(&run.job_id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = |k: &str| {
        job.get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    let (company, title) = (
        run.company.clone().unwrap_or_default(),
        run.job_title.clone().unwrap_or_default(),
    );
    let now = chrono::Utc::now();
    // Date, company, title, fit score, category, the Drive folder, the posting, the run.
    let row = |folder_url: &str| {
        vec![
            now.format("%Y-%m-%d").to_string(),
            company.clone(),
            title.clone(),
            text("fit_score"),
            text("fit_category"),
            folder_url.to_owned(),
            text("job_url"),
            run.run_id.to_string(),
        ]
    };
    let outcome = google.publish(&company, &title, &drive_files, row).await;
    let (delivered, status, error) = match &outcome {
        Ok(_) => (true, Some(200), None),
        Err(e) => (false, e.status, Some(e.message.clone())),
    };
    let record = WebhookDelivery {
        run_id: run.run_id.clone(),
        target: GOOGLE_TARGET.into(),
        delivery_id: uuid::Uuid::new_v4().simple().to_string(),
        attempt: 1,
        at: chrono::Utc::now(),
        status,
        error: error.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        delivered,
    };
    if let Err(e) = store.record_delivery(&record).await {
        tracing::warn!(run_id = %run.run_id, error = %e, "could not record the Drive publication");
    }
    let fields: Vec<(String, FieldValue)> = match outcome {
        Ok(p) => {
            tracing::info!(run_id = %run.run_id, files = p.files.len(), "published to Google Drive");
            let mut f = vec![
                ("gdrive_uploaded_at".to_owned(), FieldValue::Time(now)),
                ("dossier_gdrive_uploaded_at".to_owned(), FieldValue::Time(now)),
                ("drive_folder_url".to_owned(), FieldValue::Text(p.folder_url.clone())),
                (
                    "remote_publishing".to_owned(),
                    FieldValue::Json(
                        json!({"status": "published", "run_id": run.run_id, "at": now, "folder_url": p.folder_url}),
                    ),
                ),
            ];
            if let Some(range) = p.sheet_range {
                f.push(("sheet_row_id".to_owned(), FieldValue::Text(range)));
            }
            f
        }
        Err(e) => {
            tracing::warn!(run_id = %run.run_id, error = %e, "Google Drive publication failed; the local package is complete");
            vec![(
                "remote_publishing".to_owned(),
                FieldValue::Json(json!({"status": "failed", "run_id": run.run_id, "at": now, "error": e.message})),
            )]
        }
    };
    if let Err(e) = store.set_job_fields(&run.job_id, &fields).await {
        tracing::warn!(run_id = %run.run_id, error = %e, "could not record the publication on the job");
    }
}
