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

/// A published line with its Server-Sent Events frame, formatted once when the hub
/// publishes it and shared (reference-counted) by every subscriber: fanning a line out to a
/// thousand streams copies no text and formats nothing per stream.
#[derive(Debug, Clone)]
pub struct SharedLine(std::sync::Arc<(LogLine, bytes::Bytes)>);

impl SharedLine {
    /// `line` with its frame.
    pub fn new(line: LogLine) -> Self {
        let frame = line.sse_frame();
        Self(std::sync::Arc::new((line, frame)))
    }

    /// The line.
    pub fn line(&self) -> &LogLine {
        &self.0 .0
    }

    /// Its SSE frame: `id: <seq>`, `data: <rendered line>` (see [`LogLine::sse_frame`]).
    pub fn sse_frame(&self) -> bytes::Bytes {
        self.0 .1.clone()
    }
}

impl std::ops::Deref for SharedLine {
    type Target = LogLine;
    fn deref(&self) -> &LogLine {
        self.line()
    }
}

impl LogLine {
    /// The line as one SSE event: `id: <seq>` and `data: <rendered line>`. The hub publishes
    /// lines without control characters; lines stored before it did (or written by another
    /// runner) are escaped all the same, so no text can end the `data:` field and forge
    /// `id:` or `event:` fields.
    pub fn sse_frame(&self) -> bytes::Bytes {
        let data = crate::domain::untrusted::escape_controls(&self.render()).into_owned();
        bytes::Bytes::from(format!("id: {}\ndata: {}\n\n", self.seq, data))
    }

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
