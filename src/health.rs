//! Health as plain code, below the actor that schedules it: the checks and the snapshot
//! they make ([`checks`]), and when the operator is told ([`alert_policy`]). The health
//! actor (`actors::health`) owns the state that needs an address: the machine readings,
//! the round timer, the mailer.

pub mod alert_policy;
pub mod checks;

pub use checks::{CheckStatus, CheckView, HealthSnapshot, SharedSnapshot};
