//! What a follower of a run's log receives.

use super::LogLine;
use crate::domain::{RunStatus, StageName, StageStatus};

/// An event on a run's live log.
#[derive(Debug, Clone)]
pub enum LogEvent {
    Line(LogLine),
    Stage { stage: StageName, status: StageStatus },
    End(RunStatus),
}
