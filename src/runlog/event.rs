//! What a follower of a run's log receives.

use super::SharedLine;
use crate::domain::{RunStatus, StageName, StageStatus};

/// An event on a run's live log.
#[derive(Debug, Clone)]
pub enum LogEvent {
    /// A line, with its SSE frame formatted once for every subscriber.
    Line(SharedLine),
    Stage {
        stage: StageName,
        status: StageStatus,
    },
    End(RunStatus),
}
