//! The actors of the daemon (actix 0.13, inside the actix-web process): thin shells around
//! the state that needs an address. What they run is plain code below them (`pipeline`,
//! `health`), testable without an actor system.
//!
//! - [`supervisor::RunSupervisor`] owns slots and drain, and calls admission and
//!   cancellation;
//! - [`run_actor::PipelineActor`], one per running run, runs its lifecycle and renews its
//!   lease;
//! - [`stage_actor::StageActor`], one per stage, executes its stage in an isolated task;
//! - [`log_hub::LogHub`] numbers, buffers, fans out and persists run log lines (the
//!   `LogSink` of every `RunLog`); [`log_follow::LogFollower`] reads them back;
//! - [`health::HealthActor`] runs the health checks and sends what the alert policy decides.
//!
//! All message types live in [`messages`], grouped by receiver.

pub mod health;
pub mod log_follow;
pub mod log_hub;
pub mod messages;
pub mod run_actor;
pub mod stage_actor;
pub mod supervisor;
