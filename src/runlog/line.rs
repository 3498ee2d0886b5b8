//! One line of a run's log and its severity: what the hub numbers, stores and streams.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{RunId, StageName};

/// Severity of a run log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// As written in the line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    /// The level written as `INFO`, `WARN` or `ERROR` (any case); `None` otherwise.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_uppercase().as_str() {
            "INFO" => Some(LogLevel::Info),
            "WARN" | "WARNING" => Some(LogLevel::Warn),
            "ERROR" => Some(LogLevel::Error),
            _ => None,
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The run it belongs to.
    pub run_id: RunId,
    /// Position in the run's log, from 1, strictly increasing (gaps allowed).
    pub seq: u64,
    /// When it was produced.
    pub ts: DateTime<Utc>,
    /// `INFO`, `WARN`, `ERROR`.
    pub level: LogLevel,
    /// The stage that produced it, if any.
    pub stage: Option<StageName>,
    /// The message (one line).
    pub message: String,
}

impl LogLine {
    /// The line as streamed to the dashboard: `HH:MM:SS LEVEL [stage] message`.
    pub fn render(&self) -> String {
        match &self.stage {
            Some(stage) => format!(
                "{} {} [{}] {}",
                self.ts.format("%H:%M:%S"),
                self.level,
                stage,
                self.message
            ),
            None => format!("{} {} {}", self.ts.format("%H:%M:%S"), self.level, self.message),
        }
    }
}
