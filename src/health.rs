//! Health as plain code, below the actor that schedules it: the checks and the snapshot
//! they make ([`checks`]), when the operator is told ([`alert_policy`]) and in what words
//! ([`alert_text`]). The health actor (`actors::health`) owns the state that needs an
//! address: the machine readings, the round timer, the notifier.

pub mod alert_policy;
pub mod alert_text;
pub mod checks;

pub use checks::{CheckStatus, CheckView, HealthSnapshot, SharedSnapshot};
