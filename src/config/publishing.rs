//! The `publishing` section: the PDF page size, and the old runner's remote publishing
//! switches (Google Drive and Sheets), accepted so its `.env` works.

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{non_blank, shown, Problems};

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
}

impl PublishingSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        Self {
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
        ]
    }
}
