//! Alert and recovery messages a person reads on a phone: the first line says what is
//! wrong and since when, in plain words ("The MongoDB store has been unreachable since
//! 21:58 UTC (3 checks)."); then what to do, naming the runbook section for the check, and
//! the command to look closer; the raw error last, shortened to one line. The subject keeps
//! the host and the check, so mail filters keep working.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::checks::CheckView;
use crate::domain::untrusted::clip_to_line;
use crate::notify::{html_escape, Notice, NoticeKind};

/// How much of the raw error a message keeps.
const DETAILS_CHARS: usize = 300;

/// A time as a person reads it in a message: `21:58 UTC` today, else with the date.
fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

fn num(v: &Value) -> String {
    match v {
        // 100.0 reads as "100"; 12.5 stays.
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The store backend a store check names ("mongodb unreachable: ..." → "MongoDB").
fn backend(check: &CheckView) -> &'static str {
    match check.message.split_whitespace().next() {
        Some("mongodb") => "MongoDB",
        Some("sqlite") => "SQLite",
        _ => "run",
    }
}

/// What is wrong, in plain words (without the "since").
fn problem(c: &CheckView) -> String {
    let (v, t) = (num(&c.value), num(&c.threshold));
    match c.name {
        "store" => format!("The {} store has been unreachable", backend(c)),
        "error_rate" => format!("Runs are failing: {v}% of those that finished in the last hour (threshold {t}%),"),
        "cost_per_run" => format!("Runs cost ${v} each on average (threshold ${t}),"),
        "stuck_runs" => format!("{v} run(s) have been running past their timeout"),
        "disk" => format!("The artifacts' disk is nearly full: {v}% free (threshold {t}%),"),
        "cpu" => format!("The CPU is busy: {v}% (threshold {t}%),"),
        "memory" => format!("Memory is short: {v}% in use (threshold {t}%),"),
        "queue_depth" => format!("The queue is filling up: {v} runs waiting (threshold {t}),"),
        "llm_provider" => "The model provider's circuit has been open (stages run offline)".into(),
        other => format!("The {other} check has been failing"),
    }
}

/// What healthy looks like again.
fn healthy(c: &CheckView) -> String {
    match c.name {
        "store" => format!("The {} store is reachable again", backend(c)),
        "error_rate" => format!("The error rate is back under its threshold ({}%)", num(&c.value)),
        "cost_per_run" => format!(
            "The average cost per run is back under its threshold (${})",
            num(&c.value)
        ),
        "stuck_runs" => "No run is running past its timeout any more".into(),
        "disk" => format!("The artifacts' disk has {}% free again", num(&c.value)),
        "cpu" => "The CPU is back under its threshold".into(),
        "memory" => "Memory use is back under its threshold".into(),
        "queue_depth" => "The queue is back under its threshold".into(),
        "llm_provider" => "The model provider answers again; its circuit is closed".into(),
        other => format!("The {other} check passes again"),
    }
}

/// The runbook section for a check and what to do first.
fn advice(check: &str) -> (&'static str, &'static str) {
    match check {
        "store" => (
            "store",
            "check that the database is up and reachable from this host; running runs retry their writes and continue when it is back",
        ),
        "error_rate" => ("error_rate", "list the failed runs and read their errors"),
        "cost_per_run" => ("cost_per_run", "look at the cost per stage of the latest runs and pick cheaper models"),
        "stuck_runs" => ("stuck_runs", "find which runner holds the stuck runs; restart it if it is wedged"),
        "disk" => ("disk", "delete old application packages and rotated logs"),
        "cpu" | "memory" => ("cpu_memory", "lower MAX_CONCURRENCY or find the other process using the box"),
        "queue_depth" => ("queue_depth", "more work arrives than the slots finish; raise MAX_CONCURRENCY or wait"),
        "llm_provider" => ("llm_provider", "nothing urgent: stages run offline until a probe succeeds; check the provider's status page"),
        _ => ("symptoms", "see the runbook"),
    }
}

/// The command to look closer, against this runner's port.
fn command(check: &str, port: u16) -> String {
    let api =
        |path: &str| format!("curl -s -H \"Authorization: Bearer $RUNNER_API_SECRET\" http://127.0.0.1:{port}{path}");
    match check {
        "error_rate" => api("/runs?status=failed&limit=5"),
        "stuck_runs" => api("/runs?status=running"),
        "cost_per_run" => api("/api/metrics/budget"),
        "store" => "journalctl -u job-runner -n 50 --no-pager".into(),
        "disk" => "df -h /var/lib/job-runner".into(),
        _ => api("/health/deep"),
    }
}

/// The alert (or recovery) for `check`, which has failed since `failing_since`; `now` is
/// when the round ended, `port` this runner's HTTP port.
pub fn notice(
    check: &CheckView,
    recovered: bool,
    failing_since: DateTime<Utc>,
    now: DateTime<Utc>,
    host: &str,
    port: u16,
) -> Notice {
    let headline = if recovered {
        format!(
            "{} (it failed from {} to {}).",
            healthy(check),
            when(failing_since, now),
            when(check.last_change, now)
        )
    } else {
        let rounds = check.rounds.max(1);
        format!(
            "{} since {} ({rounds} check{}).",
            problem(check),
            when(failing_since, now),
            if rounds == 1 { "" } else { "s" }
        )
    };
    let (section, todo) = advice(check.name);
    let advice = if recovered {
        format!("Nothing to do. What happened is in the runbook, section \"{section}\" (docs/runbook.md).")
    } else {
        format!("What to do: {todo}. Runbook: docs/runbook.md, section \"{section}\".")
    };
    let command = command(check.name, port);
    let details = clip_to_line(&check.message, DETAILS_CHARS);
    let (kind, word) = if recovered {
        (NoticeKind::Recovery, "RECOVERED")
    } else {
        (NoticeKind::Alert, "ALERT")
    };
    let subject = format!("[job-runner@{host}] {word}: {}", check.name);
    let facts = format!(
        "Check: {} · value: {} · threshold: {} · host: {host}",
        check.name,
        num(&check.value),
        num(&check.threshold)
    );
    let text = format!("{headline}\n\n{advice}\nLook closer: {command}\n\n{facts}\nDetails: {details}\n");
    let html = format!(
        "<p><b>{}</b></p><p>{}<br>Look closer: <code>{}</code></p><p style=\"color:#666\">{}<br>Details: {}</p>",
        html_escape(&headline),
        html_escape(&advice),
        html_escape(&command),
        html_escape(&facts),
        html_escape(&details)
    );
    Notice {
        kind,
        check: check.name.to_owned(),
        host: host.to_owned(),
        subject,
        headline,
        advice,
        command,
        details,
        since: Some(failing_since),
        value: check.value.clone(),
        threshold: check.threshold.clone(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CheckStatus;
    use chrono::TimeZone;

    fn store_view(status: CheckStatus, at: DateTime<Utc>, rounds: u32) -> CheckView {
        CheckView {
            name: "store",
            status,
            value: Value::Null,
            threshold: serde_json::json!("answers"),
            latency_ms: 5000,
            message: "mongodb unreachable: Kind: Server selection timeout: No available servers.\nTopology: { Type: Single, Servers: [ ... ] }".into(),
            last_change: at,
            rounds,
        }
    }

    #[test]
    fn the_first_line_says_what_and_since_when_and_the_raw_error_comes_last() {
        let since = Utc.with_ymd_and_hms(2026, 12, 1, 21, 58, 0).unwrap();
        let now = since + chrono::Duration::minutes(1);
        let n = notice(
            &store_view(CheckStatus::Failing, since, 3),
            false,
            since,
            now,
            "vps1",
            8000,
        );
        let first = n.text.lines().next().unwrap();
        assert_eq!(
            first,
            "The MongoDB store has been unreachable since 21:58 UTC (3 checks)."
        );
        assert_eq!(n.subject, "[job-runner@vps1] ALERT: store");
        assert!(
            n.text.contains("Runbook: docs/runbook.md, section \"store\""),
            "{}",
            n.text
        );
        assert!(n.text.contains("Look closer: journalctl -u job-runner"), "{}", n.text);
        let details = n.text.lines().last().unwrap();
        assert!(details.starts_with("Details: mongodb unreachable: Kind: Server selection timeout"));
        assert!(!details.contains('\n') && details.len() < 330);
        assert!(n
            .html
            .contains("<b>The MongoDB store has been unreachable since 21:58 UTC (3 checks).</b>"));
    }

    #[test]
    fn a_recovery_says_how_long_it_failed() {
        let since = Utc.with_ymd_and_hms(2026, 12, 1, 21, 58, 0).unwrap();
        let back = since + chrono::Duration::minutes(3);
        let n = notice(&store_view(CheckStatus::Ok, back, 1), true, since, back, "vps1", 8000);
        assert_eq!(
            n.text.lines().next().unwrap(),
            "The MongoDB store is reachable again (it failed from 21:58 UTC to 22:01 UTC)."
        );
        assert_eq!(n.subject, "[job-runner@vps1] RECOVERED: store");
        assert_eq!(n.kind, NoticeKind::Recovery);
    }
}
