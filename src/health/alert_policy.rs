//! When the operator hears about a check, as plain code: an alert when a check starts
//! failing, a recovery when it passes again (only after an alert was sent for it), and at
//! most one alert per check per `ALERT_COOLDOWN_MINUTES` (a check that flaps within the
//! cooldown stays quiet; one still failing when the cooldown is over is alerted then). A
//! skipped check (one reading through a failing store) changes nothing: its incident, if
//! any, stays open until it passes again. The actor owns one [`AlertPolicy`] and sends
//! what it decides on every channel; `super::alert_text` writes the message.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::checks::{CheckStatus, CheckView};

/// What the policy decided for one check in one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing the operator must hear about.
    Quiet,
    /// Started failing within the cooldown of the last alert (logged once).
    Suppressed,
    /// Send an alert (`recovered: false`) or a recovery; `failing_since` is when the
    /// incident began.
    Send {
        recovered: bool,
        failing_since: DateTime<Utc>,
    },
}

#[derive(Debug, Default)]
struct CheckAlerts {
    /// An alert was sent for the current incident (so a recovery message follows), and
    /// since when the check fails.
    open_since: Option<DateTime<Utc>>,
    last_sent: Option<Instant>,
    /// A suppression was reported for the current failure.
    suppressed: bool,
}

/// The alert state of every check.
#[derive(Debug)]
pub struct AlertPolicy {
    cooldown: Duration,
    checks: HashMap<&'static str, CheckAlerts>,
}

impl AlertPolicy {
    /// A policy with `ALERT_COOLDOWN_MINUTES` as `cooldown`.
    pub fn new(cooldown: Duration) -> Self {
        Self {
            cooldown,
            checks: HashMap::new(),
        }
    }

    /// Decides for `check` after a round that ended at `now`.
    pub fn decide(&mut self, check: &CheckView, now: Instant) -> Decision {
        let state = self.checks.entry(check.name).or_default();
        match check.status {
            CheckStatus::Skipped => Decision::Quiet,
            CheckStatus::Ok => {
                state.suppressed = false;
                match state.open_since.take() {
                    Some(since) => Decision::Send {
                        recovered: true,
                        failing_since: since,
                    },
                    None => Decision::Quiet,
                }
            }
            CheckStatus::Failing if state.open_since.is_some() => Decision::Quiet,
            CheckStatus::Failing => {
                let cooled = state.last_sent.is_none_or(|t| now.duration_since(t) >= self.cooldown);
                if !cooled {
                    return if std::mem::replace(&mut state.suppressed, true) {
                        Decision::Quiet
                    } else {
                        Decision::Suppressed
                    };
                }
                state.suppressed = false;
                state.open_since = Some(check.last_change);
                state.last_sent = Some(now);
                Decision::Send {
                    recovered: false,
                    failing_since: check.last_change,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(status: CheckStatus) -> CheckView {
        CheckView {
            name: "error_rate",
            status,
            value: serde_json::json!(40.0),
            threshold: serde_json::json!(10),
            latency_ms: 1,
            message: "4 failed of 10 <finished>".into(),
            last_change: chrono::Utc::now(),
            rounds: 1,
        }
    }

    use CheckStatus::{Failing, Ok as Passing, Skipped};

    fn sent(d: Decision) -> Option<bool> {
        match d {
            Decision::Send { recovered, .. } => Some(recovered),
            _ => None,
        }
    }

    #[test]
    fn one_alert_per_incident_then_one_recovery() {
        let mut p = AlertPolicy::new(Duration::from_secs(3600));
        let t = Instant::now();
        assert_eq!(sent(p.decide(&view(Failing), t)), Some(false));
        assert_eq!(p.decide(&view(Failing), t), Decision::Quiet);
        assert_eq!(sent(p.decide(&view(Passing), t)), Some(true));
        assert_eq!(p.decide(&view(Passing), t), Decision::Quiet);
    }

    #[test]
    fn a_skipped_round_keeps_the_incident_open_and_alerts_nothing() {
        let mut p = AlertPolicy::new(Duration::from_secs(3600));
        let t = Instant::now();
        assert_eq!(sent(p.decide(&view(Failing), t)), Some(false));
        assert_eq!(p.decide(&view(Skipped), t), Decision::Quiet);
        assert_eq!(p.decide(&view(Failing), t), Decision::Quiet, "the same incident");
        assert_eq!(p.decide(&view(Skipped), t), Decision::Quiet);
        assert_eq!(
            sent(p.decide(&view(Passing), t)),
            Some(true),
            "its recovery still comes"
        );
        // Skipped without an incident: nothing at all.
        assert_eq!(p.decide(&view(Skipped), t), Decision::Quiet);
        assert_eq!(p.decide(&view(Passing), t), Decision::Quiet);
    }

    #[test]
    fn a_check_that_fails_again_within_the_cooldown_stays_quiet_until_it_is_over() {
        let cooldown = Duration::from_secs(3600);
        let mut p = AlertPolicy::new(cooldown);
        let t0 = Instant::now();
        assert_eq!(sent(p.decide(&view(Failing), t0)), Some(false));
        assert_eq!(sent(p.decide(&view(Passing), t0)), Some(true));
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(p.decide(&view(Failing), t1), Decision::Suppressed);
        assert_eq!(p.decide(&view(Failing), t1), Decision::Quiet, "reported once");
        // Still failing when the cooldown is over: the operator hears now.
        assert_eq!(sent(p.decide(&view(Failing), t0 + cooldown)), Some(false));
        assert_eq!(sent(p.decide(&view(Passing), t0 + cooldown)), Some(true));
    }

    #[test]
    fn passing_and_skipped_checks_never_alert() {
        let mut p = AlertPolicy::new(Duration::ZERO);
        let t = Instant::now();
        for now in [Passing, Skipped, Passing, Skipped] {
            assert_eq!(p.decide(&view(now), t), Decision::Quiet);
        }
    }
}
