//! The `paths` section: where the embedded store, the published packages, the master CV
//! and the profiles live.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::Problems;

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::string")]
    pub data_dir: String,
    #[serde(deserialize_with = "lenient::string")]
    pub applications_dir: String,
    #[serde(deserialize_with = "lenient::string")]
    pub master_cv_path: String,
    #[serde(deserialize_with = "lenient::string")]
    pub profiles_dir: String,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct PathSettings {
    /// The SQLite store and each run's own artifact copies.
    pub data_dir: PathBuf,
    /// Published packages: `<Company>/<Title>/`.
    pub applications_dir: PathBuf,
    /// The master CV used when a run names no profile.
    pub master_cv_path: PathBuf,
    /// A run's `profile_ref` may only name a file in here.
    pub profiles_dir: PathBuf,
}

impl PathSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        for (name, value) in [
            ("DATA_DIR", &raw.data_dir),
            ("APPLICATIONS_DIR", &raw.applications_dir),
            ("MASTER_CV_PATH", &raw.master_cv_path),
            ("PROFILES_DIR", &raw.profiles_dir),
        ] {
            p.not_empty(name, value);
        }
        Self {
            data_dir: PathBuf::from(raw.data_dir),
            applications_dir: PathBuf::from(raw.applications_dir),
            master_cv_path: PathBuf::from(raw.master_cv_path),
            profiles_dir: PathBuf::from(raw.profiles_dir),
        }
    }

    /// The section as `NAME = value` rows.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("APPLICATIONS_DIR", self.applications_dir.display().to_string()),
            ("MASTER_CV_PATH", self.master_cv_path.display().to_string()),
            ("PROFILES_DIR", self.profiles_dir.display().to_string()),
        ]
    }
}
