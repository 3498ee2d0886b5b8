//! A [`LogSink`] that keeps what it receives in memory: for pipeline and stage tests that
//! run without an actor system, and for tools that print a run's log themselves.

use std::sync::Mutex;

use super::handle::BoxFuture;
use super::{LogLevel, LogSink};
use crate::domain::untrusted::run_log_lines;
use crate::domain::{RunId, RunStatus, StageName, StageStatus};

/// One line as a [`MemorySink`] received it (already split like the hub splits it).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryLine {
    pub level: LogLevel,
    pub stage: Option<StageName>,
    pub message: String,
}

/// Lines and stage changes, in the order they arrived.
#[derive(Debug, Default)]
pub struct MemorySink {
    lines: Mutex<Vec<MemoryLine>>,
    stages: Mutex<Vec<(StageName, StageStatus)>>,
    ends: Mutex<Vec<Option<RunStatus>>>,
}

impl MemorySink {
    /// The lines so far.
    pub fn lines(&self) -> Vec<MemoryLine> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The messages so far, one per line.
    pub fn messages(&self) -> Vec<String> {
        self.lines().into_iter().map(|l| l.message).collect()
    }

    /// How the run was closed, each time it was.
    pub fn ends(&self) -> Vec<Option<RunStatus>> {
        self.ends.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The stage changes so far.
    pub fn stage_changes(&self) -> Vec<(StageName, StageStatus)> {
        self.stages.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl LogSink for MemorySink {
    fn publish(&self, _run_id: &RunId, level: LogLevel, stage: Option<StageName>, message: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.extend(
            run_log_lines(&message)
                .into_iter()
                .map(|message| MemoryLine { level, stage, message }),
        );
    }

    fn close(&self, _run_id: &RunId, status: Option<RunStatus>) -> BoxFuture<'static, ()> {
        self.ends.lock().unwrap_or_else(|p| p.into_inner()).push(status);
        Box::pin(async {})
    }

    fn stage_changed(&self, _run_id: &RunId, stage: StageName, status: StageStatus) {
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((stage, status));
    }
}
