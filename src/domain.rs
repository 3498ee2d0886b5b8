//! Parsed domain types: every value that crosses the HTTP, CLI or store edge becomes one of
//! these before the core sees it, so the rest of the crate never re-checks raw strings.

pub mod digest;
mod ids;
mod job;
pub mod markup;
mod operation;
pub mod outputs;
mod paper;
mod run;
mod stage;
mod tier;
pub mod untrusted;

pub use ids::{JobId, QueueId, RunId};
pub use job::JobPosting;
pub use operation::{Operation, OperationError};
pub use paper::PageSize;
pub use run::{Run, RunOptions, RunStatus};
pub use stage::{StageName, StageProducer, StageRecord, StageStatus};
pub use tier::Tier;
