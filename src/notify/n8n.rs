//! The CV upload the newest dashboard's deployments use (`N8N_WEBHOOK_CV_UPLOAD`): after a
//! run completes, its `CV.pdf` is POSTed as `multipart/form-data` (a `file` part plus the
//! job's identifiers as fields) to an n8n webhook, which stores it wherever that workflow
//! says (Google Drive, typically). Retried within bounds like the completion webhook;
//! every attempt is recorded on the run. The URL is a secret and never logged.

use super::delivery::{send_with_retries, RetryPolicy};
use crate::config::{PublishingSettings, Secret};
use crate::domain::RunId;
use crate::store::DynStore;

/// The delivery target name in the attempts' records.
pub const TARGET: &str = "n8n-cv-upload";

/// What identifies the upload to the workflow.
#[derive(Debug, Clone)]
pub struct UploadFields {
    pub job_id: String,
    pub run_id: String,
    pub company: String,
    pub title: String,
}

/// A configured upload webhook.
pub struct CvUpload {
    url: Secret,
    policy: RetryPolicy,
    http: reqwest::Client,
}

impl CvUpload {
    /// The upload the settings describe; `Ok(None)` without `N8N_WEBHOOK_CV_UPLOAD`.
    pub fn from_settings(p: &PublishingSettings) -> Result<Option<Self>, String> {
        let Some(url) = p.n8n_webhook_cv_upload.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(p.webhook_timeout.max(std::time::Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the upload client: {e}"))?;
        Ok(Some(Self {
            url,
            policy: RetryPolicy {
                max_attempts: p.webhook_max_attempts,
                base: p.webhook_retry_base,
            },
            http,
        }))
    }

    /// Uploads `pdf` (the run's `CV.pdf`) with `fields`; true when the workflow took it.
    pub async fn upload(&self, store: &DynStore, run: &RunId, fields: &UploadFields, pdf: &[u8]) -> bool {
        let file_name = format!(
            "CV_{}_{}.pdf",
            crate::artifacts::folder_name(&fields.company),
            crate::artifacts::folder_name(&fields.title)
        );
        send_with_retries(store, run, TARGET, self.policy, |attempt, delivery_id| {
            let part = reqwest::multipart::Part::bytes(pdf.to_vec())
                .file_name(file_name.clone())
                .mime_str("application/pdf")
                .expect("a valid MIME type");
            let form = reqwest::multipart::Form::new()
                .text("job_id", fields.job_id.clone())
                .text("run_id", fields.run_id.clone())
                .text("company", fields.company.clone())
                .text("title", fields.title.clone())
                .text("file_name", file_name.clone())
                .part("file", part);
            self.http
                .post(self.url.expose())
                .header("User-Agent", concat!("job-runner/", env!("CARGO_PKG_VERSION")))
                .header("X-JobRunner-Delivery", delivery_id)
                .header("X-JobRunner-Attempt", attempt.to_string())
                .multipart(form)
        })
        .await
    }
}
