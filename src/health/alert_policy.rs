//! When the operator hears about a check, as plain code: an alert when a check starts
//! failing, a recovery when it passes again (only after an alert was sent for it), and at
//! most one alert per check per `ALERT_COOLDOWN_MINUTES` (a check that flaps within the
//! cooldown stays quiet). The actor owns one [`AlertPolicy`] and sends what it returns.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::checks::{CheckStatus, CheckView};
use crate::notify::html_escape;

/// An e-mail to send about one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub check: &'static str,
    /// True for a recovery, false for an alert.
    pub recovered: bool,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the policy decided for one check in one round.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing changed that the operator must hear about.
    Quiet,
    /// Started failing within the cooldown of the last alert, or while an alert is open.
    Suppressed,
    /// Send this.
    Send(Alert),
}

#[derive(Debug, Default)]
struct CheckAlerts {
    /// An alert was sent for the current incident (so a recovery message follows).
    open: bool,
    last_sent: Option<Instant>,
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

    /// Decides for `check` given its status in the previous round (`None` in the first
    /// round); `now` is when the round ended, `host` names the machine in the message.
    pub fn decide(&mut self, previous: Option<CheckStatus>, check: &CheckView, now: Instant, host: &str) -> Decision {
        let was_failing = previous == Some(CheckStatus::Failing);
        let failing = check.status == CheckStatus::Failing;
        let state = self.checks.entry(check.name).or_default();
        match (was_failing, failing) {
            (false, true) => {
                let cooled = state.last_sent.is_none_or(|t| now.duration_since(t) >= self.cooldown);
                if !cooled || state.open {
                    return Decision::Suppressed;
                }
                state.open = true;
                state.last_sent = Some(now);
                Decision::Send(message(check, false, host))
            }
            (true, false) if state.open => {
                state.open = false;
                Decision::Send(message(check, true, host))
            }
            _ => Decision::Quiet,
        }
    }
}

/// The alert or recovery e-mail for `check`: plain text and HTML with the same facts.
pub fn message(check: &CheckView, recovered: bool, host: &str) -> Alert {
    let (subject, headline) = if recovered {
        (
            format!("[job-runner@{host}] RECOVERED: {}", check.name),
            format!("{} is healthy again.", check.name),
        )
    } else {
        (
            format!("[job-runner@{host}] ALERT: {}", check.name),
            format!("{} is failing.", check.name),
        )
    };
    let text = format!(
        "{headline}\n\nCheck: {}\nValue: {}\nThreshold: {}\nDetails: {}\nHost: {host}\nTime: {}\n\nSee GET /health/deep for every check.\n",
        check.name, check.value, check.threshold, check.message, check.last_change
    );
    let html = format!(
        "<p><b>{}</b></p><table><tr><td>Check</td><td>{}</td></tr><tr><td>Value</td><td>{}</td></tr><tr><td>Threshold</td><td>{}</td></tr><tr><td>Details</td><td>{}</td></tr><tr><td>Host</td><td>{}</td></tr><tr><td>Time</td><td>{}</td></tr></table><p>See <code>GET /health/deep</code> for every check.</p>",
        html_escape(&headline),
        html_escape(check.name),
        html_escape(&check.value.to_string()),
        html_escape(&check.threshold.to_string()),
        html_escape(&check.message),
        html_escape(host),
        check.last_change
    );
    Alert {
        check: check.name,
        recovered,
        subject,
        text,
        html,
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
        }
    }

    use CheckStatus::{Failing, Ok as Passing, Skipped};

    #[test]
    fn one_alert_per_incident_then_one_recovery() {
        let mut p = AlertPolicy::new(Duration::from_secs(3600));
        let t = Instant::now();
        let Decision::Send(alert) = p.decide(Some(Passing), &view(Failing), t, "box") else {
            panic!("no alert")
        };
        assert!(!alert.recovered && alert.subject == "[job-runner@box] ALERT: error_rate");
        assert!(alert.text.contains("Value: 40.0") && alert.html.contains("&lt;finished&gt;"));
        assert_eq!(p.decide(Some(Failing), &view(Failing), t, "box"), Decision::Quiet);
        let Decision::Send(recovery) = p.decide(Some(Failing), &view(Passing), t, "box") else {
            panic!("no recovery")
        };
        assert!(recovery.recovered && recovery.subject.contains("RECOVERED"));
    }

    #[test]
    fn a_check_that_fails_again_within_the_cooldown_stays_quiet_until_it_is_over() {
        let cooldown = Duration::from_secs(3600);
        let mut p = AlertPolicy::new(cooldown);
        let t0 = Instant::now();
        assert!(matches!(p.decide(None, &view(Failing), t0, "h"), Decision::Send(_)));
        assert!(matches!(
            p.decide(Some(Failing), &view(Passing), t0, "h"),
            Decision::Send(_)
        ));
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(p.decide(Some(Passing), &view(Failing), t1, "h"), Decision::Suppressed);
        // No recovery for an incident nobody was told about.
        assert_eq!(p.decide(Some(Failing), &view(Passing), t1, "h"), Decision::Quiet);
        let t2 = t0 + cooldown;
        assert!(matches!(
            p.decide(Some(Passing), &view(Failing), t2, "h"),
            Decision::Send(_)
        ));
    }

    #[test]
    fn passing_and_skipped_checks_never_alert() {
        let mut p = AlertPolicy::new(Duration::ZERO);
        let t = Instant::now();
        for (prev, now) in [
            (None, Passing),
            (Some(Passing), Skipped),
            (Some(Skipped), Passing),
            (None, Skipped),
        ] {
            assert_eq!(p.decide(prev, &view(now), t, "h"), Decision::Quiet);
        }
    }
}
