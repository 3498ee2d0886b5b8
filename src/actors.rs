//! The actors of the daemon (actix 0.13, inside the actix-web process):
//!
//! - [`supervisor::RunSupervisor`] owns admission, slots, cancel and drain;
//! - [`pipeline::PipelineActor`], one per running run, drives the stage DAG;
//! - [`stage::StageActor`], one per stage, executes its stage in an isolated task;
//! - [`log_hub::LogHub`] buffers, fans out and persists run log lines;
//! - [`health::HealthActor`] runs the health checks and sends alert e-mails.
//!
//! All message types live in [`messages`], grouped by receiver.

pub mod health;
pub mod log_follow;
pub mod log_hub;
pub mod messages;
pub mod run_actor;
pub mod stage_actor;
pub mod supervisor;
