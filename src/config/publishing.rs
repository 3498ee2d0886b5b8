//! The `publishing` section: the PDF page size, completion webhooks, and the old runner's
//! remote publishing switches (Google Drive and Sheets), accepted so its `.env` works.

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{masked, non_blank, secret, shown, Problems};
use super::Secret;

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_remote_publishing: bool,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub google_application_credentials: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub google_drive_folder_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub google_sheet_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub pdf_page_size: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_secret: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub webhook_max_attempts: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub webhook_retry_base_ms: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub webhook_timeout_seconds: i64,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub n8n_webhook_cv_upload: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub google_drive_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub google_sheets_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub google_token_url: String,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct PublishingSettings {
    pub enable_remote_publishing: bool,
    pub google_application_credentials: Option<String>,
    pub google_drive_folder_id: Option<String>,
    pub google_sheet_id: Option<String>,
    /// `PDF_PAGE_SIZE`: paper of `CV.pdf` and `cover_letter.pdf`.
    pub pdf_page_size: crate::domain::PageSize,
    /// `WEBHOOK_URL`: where every run's end is posted (a secret: it may carry a token).
    pub webhook_url: Option<Secret>,
    /// `WEBHOOK_SECRET`: signs each delivery (HMAC-SHA256).
    pub webhook_secret: Option<Secret>,
    /// `WEBHOOK_MAX_ATTEMPTS`: deliveries tried per run end.
    pub webhook_max_attempts: u32,
    /// `WEBHOOK_RETRY_BASE_MS`: the first retry's delay, doubled each time (at most 5 minutes).
    pub webhook_retry_base: std::time::Duration,
    /// `WEBHOOK_TIMEOUT_SECONDS`: one delivery attempt's limit.
    pub webhook_timeout: std::time::Duration,
    /// `N8N_WEBHOOK_CV_UPLOAD`: where each completed run's `CV.pdf` is uploaded.
    pub n8n_webhook_cv_upload: Option<Secret>,
    /// `GOOGLE_DRIVE_BASE_URL` (tests and proxies point it elsewhere).
    pub google_drive_base_url: String,
    /// `GOOGLE_SHEETS_BASE_URL`.
    pub google_sheets_base_url: String,
    /// `GOOGLE_TOKEN_URL`: the OAuth2 token endpoint (the JWT's audience).
    pub google_token_url: String,
}

impl PublishingSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        let webhook_url = secret(raw.webhook_url);
        if let Some(url) = &webhook_url {
            if !(url.expose().starts_with("https://") || url.expose().starts_with("http://")) {
                p.push("WEBHOOK_URL must be an http:// or https:// URL".to_owned());
            }
        }
        let webhook_secret = secret(raw.webhook_secret);
        if webhook_secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
            p.push("WEBHOOK_SECRET must be at least 16 characters (`openssl rand -hex 32`)".to_owned());
        }
        let n8n_webhook_cv_upload = secret(raw.n8n_webhook_cv_upload);
        if let Some(url) = &n8n_webhook_cv_upload {
            if !(url.expose().starts_with("https://") || url.expose().starts_with("http://")) {
                p.push("N8N_WEBHOOK_CV_UPLOAD must be an http:// or https:// URL".to_owned());
            }
        }
        if raw.enable_remote_publishing {
            if non_blank(raw.google_application_credentials.clone()).is_none() {
                p.push("ENABLE_REMOTE_PUBLISHING needs GOOGLE_APPLICATION_CREDENTIALS (the service account's JSON key file)".to_owned());
            }
            if non_blank(raw.google_drive_folder_id.clone()).is_none() {
                p.push("ENABLE_REMOTE_PUBLISHING needs GOOGLE_DRIVE_FOLDER_ID (the folder shared with the service account)".to_owned());
            }
        }
        Self {
            google_drive_base_url: raw.google_drive_base_url.trim().to_owned(),
            google_sheets_base_url: raw.google_sheets_base_url.trim().to_owned(),
            google_token_url: raw.google_token_url.trim().to_owned(),
            n8n_webhook_cv_upload,
            webhook_url,
            webhook_secret,
            webhook_max_attempts: p.ranged("WEBHOOK_MAX_ATTEMPTS", raw.webhook_max_attempts, 1, 20) as u32,
            webhook_retry_base: std::time::Duration::from_millis(p.ranged(
                "WEBHOOK_RETRY_BASE_MS",
                raw.webhook_retry_base_ms,
                10,
                60_000,
            ) as u64),
            webhook_timeout: std::time::Duration::from_secs(p.ranged(
                "WEBHOOK_TIMEOUT_SECONDS",
                raw.webhook_timeout_seconds,
                1,
                120,
            ) as u64),
            pdf_page_size: crate::domain::PageSize::parse(&raw.pdf_page_size).unwrap_or_else(|e| {
                p.push(e);
                crate::domain::PageSize::A4
            }),
            enable_remote_publishing: raw.enable_remote_publishing,
            google_application_credentials: non_blank(raw.google_application_credentials),
            google_drive_folder_id: non_blank(raw.google_drive_folder_id),
            google_sheet_id: non_blank(raw.google_sheet_id),
        }
    }

    /// The section as `NAME = value` rows.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ENABLE_REMOTE_PUBLISHING", self.enable_remote_publishing.to_string()),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                shown(&self.google_application_credentials),
            ),
            ("GOOGLE_DRIVE_FOLDER_ID", shown(&self.google_drive_folder_id)),
            ("GOOGLE_SHEET_ID", shown(&self.google_sheet_id)),
            ("PDF_PAGE_SIZE", self.pdf_page_size.as_str().to_owned()),
            ("WEBHOOK_URL", masked(&self.webhook_url)),
            ("WEBHOOK_SECRET", masked(&self.webhook_secret)),
            ("WEBHOOK_MAX_ATTEMPTS", self.webhook_max_attempts.to_string()),
            ("WEBHOOK_RETRY_BASE_MS", self.webhook_retry_base.as_millis().to_string()),
            ("WEBHOOK_TIMEOUT_SECONDS", self.webhook_timeout.as_secs().to_string()),
            ("N8N_WEBHOOK_CV_UPLOAD", masked(&self.n8n_webhook_cv_upload)),
            ("GOOGLE_DRIVE_BASE_URL", self.google_drive_base_url.clone()),
            ("GOOGLE_SHEETS_BASE_URL", self.google_sheets_base_url.clone()),
            ("GOOGLE_TOKEN_URL", self.google_token_url.clone()),
        ]
    }
}
