//! The `logging` section: the daemon's own log (level, format, rotated files) and how many
//! run-log lines stay in memory for live streaming.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{non_blank, Problems};

/// Log line format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Simple,
}

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::string")]
    pub log_level: String,
    #[serde(deserialize_with = "lenient::string")]
    pub log_format: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub log_dir: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub log_keep_files: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub log_buffer_limit: i64,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct LoggingSettings {
    /// A level or a tracing filter (`info,job_runner=debug`).
    pub log_level: String,
    pub log_format: LogFormat,
    /// Directory for daily-rotated log files; `None` = stderr only.
    pub log_dir: Option<PathBuf>,
    /// Rotated log files kept.
    pub log_keep_files: usize,
    /// Run-log lines kept in memory per run for live streaming (all are stored).
    pub log_buffer_limit: usize,
}

impl LoggingSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        let log_format = match raw.log_format.trim().to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "simple" | "text" | "pretty" | "" => LogFormat::Simple,
            other => {
                p.push(format!("LOG_FORMAT must be json or simple, got {other:?}"));
                LogFormat::Simple
            }
        };
        let log_level = raw.log_level.trim().to_ascii_lowercase();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            p.push(format!(
                "LOG_LEVEL must be a level (error, warn, info, debug, trace) or a filter, got {log_level:?}"
            ));
        }
        Self {
            log_level,
            log_format,
            log_dir: non_blank(raw.log_dir).map(PathBuf::from),
            log_keep_files: p.ranged("LOG_KEEP_FILES", raw.log_keep_files, 1, 3650) as usize,
            log_buffer_limit: p.ranged("LOG_BUFFER_LIMIT", raw.log_buffer_limit, 100, 10_000) as usize,
        }
    }

    /// The section as `NAME = value` rows.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LOG_LEVEL", self.log_level.clone()),
            (
                "LOG_FORMAT",
                match self.log_format {
                    LogFormat::Json => "json",
                    LogFormat::Simple => "simple",
                }
                .into(),
            ),
            (
                "LOG_DIR",
                self.log_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            ("LOG_KEEP_FILES", self.log_keep_files.to_string()),
            ("LOG_BUFFER_LIMIT", self.log_buffer_limit.to_string()),
        ]
    }
}
