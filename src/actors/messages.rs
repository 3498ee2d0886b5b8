//! Every message between actors, grouped by receiver, each with its typed result.

use std::time::Instant;

use actix::Message;
use tokio::sync::broadcast;

use crate::domain::{Run, RunId, RunStatus, StageName, StageStatus};
use crate::pipeline::stage_contract::{StageError, StageResult};
use crate::runlog::{LogEvent, LogLevel, SharedLine};

// ---- LogHub ---------------------------------------------------------------------------

/// Starts tracking a run's log; `next_seq` is where numbering continues. Idempotent: an
/// already tracked run keeps the larger of the two.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OpenRunLog {
    pub run_id: RunId,
    pub next_seq: u64,
}

/// One log line for a run (multi-line messages become several lines).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PublishLine {
    pub run_id: RunId,
    pub level: LogLevel,
    pub stage: Option<StageName>,
    pub message: String,
}

/// A stage changed state (for live progress displays).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StageChanged {
    pub run_id: RunId,
    pub stage: StageName,
    pub status: StageStatus,
}

/// The run reached a final state for this process: flush its lines, tell subscribers, and
/// stop tracking it. Answers once the lines are persisted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseRunLog {
    pub run_id: RunId,
    /// The terminal status to announce, or `None` when the run was only re-queued.
    pub status: Option<RunStatus>,
}

/// Persists every buffered line now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushLogs;

/// Subscribes to a run's live log from `after` (exclusive).
#[derive(Message)]
#[rtype(result = "Subscription")]
pub struct SubscribeLog {
    pub run_id: RunId,
    pub after: u64,
}

/// Answer to [`SubscribeLog`].
pub enum Subscription {
    /// The run is tracked: lines after `after` still in memory, then live events. Lines
    /// between `after` and `backlog_from` (exclusive) were evicted and must come from the
    /// store.
    Live {
        backlog: Vec<SharedLine>,
        backlog_from: u64,
        events: broadcast::Receiver<LogEvent>,
    },
    /// Not tracked by this process (finished, or never started here).
    NotTracked,
}

// ---- StageActor -----------------------------------------------------------------------

/// Executes the actor's stage for one run.
#[derive(Message)]
#[rtype(result = "Result<StageResult, StageError>")]
pub struct ExecuteStage {
    pub ctx: std::sync::Arc<crate::pipeline::stage_contract::StageContext>,
    /// Cancelled when the run stops; the stage task is aborted.
    pub cancel: tokio_util::sync::CancellationToken,
}

// ---- RunSupervisor ---------------------------------------------------------------------

pub use crate::pipeline::admission::{AdmissionError, RunRequest};

/// Admits runs: all of them queued, or none. A job that already has a queued or running
/// run gets that run back instead of a second one.
#[derive(Message)]
#[rtype(result = "Result<Vec<Run>, AdmissionError>")]
pub struct SubmitRuns(pub Vec<RunRequest>);

pub use crate::pipeline::admission::RetryError;

/// Queues a failed run again (the queue's retry); answers with the queued run.
#[derive(Message)]
#[rtype(result = "Result<Run, RetryError>")]
pub struct RetryRun(pub RunId);

/// Cancels a run only while it is still queued; answers whether it was.
#[derive(Message)]
#[rtype(result = "Result<bool, crate::store::StoreError>")]
pub struct CancelQueuedRun(pub RunId);

pub use crate::pipeline::cancellation::CancelError;

/// Cancels a queued or running run; answers with the final status.
#[derive(Message)]
#[rtype(result = "Result<RunStatus, CancelError>")]
pub struct CancelRun(pub RunId);

/// Shutdown: admit nothing more, let running stages finish until `deadline`, then
/// checkpoint and re-queue what is left. Answers when every run has stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain {
    pub deadline: Instant,
}

/// A run's slot was released (sent by the slot guard's `Drop`, exactly once per run).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SlotReleased(pub RunId);

/// Answered at once by a live supervisor (systemd watchdog heartbeat).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Heartbeat;

/// Look for queued runs to start.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Pump;
