//! The health checks as plain code: each check's verdict, the I/O checks (store, error
//! rate, cost, stuck runs, disk) each under its own timeout, the checks of readings the
//! actor takes (CPU over several rounds, memory, queue depth, the LLM circuit), and how a
//! round's outcomes become the snapshot `/health` and `/health/deep` serve.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::domain::RunStatus;
use crate::store::{DynStore, RunFilter};

/// How long one check may take before it counts as failing.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Failing,
    Skipped,
}

/// One check's latest result, as `/health/deep` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub name: &'static str,
    pub status: CheckStatus,
    pub value: Value,
    pub threshold: Value,
    pub latency_ms: u64,
    pub message: String,
    /// When the status last changed.
    pub last_change: DateTime<Utc>,
    /// Rounds in a row with this status (1 in the round it changed).
    #[serde(default)]
    pub rounds: u32,
}

/// The latest round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthSnapshot {
    pub checked_at: Option<DateTime<Utc>>,
    pub rounds: u64,
    pub checks: Vec<CheckView>,
}

impl HealthSnapshot {
    /// True when a check other than the store's is failing (the store decides "unhealthy").
    pub fn degraded(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.status == CheckStatus::Failing && c.name != "store")
    }
}

/// Shared handle to the snapshot.
pub type SharedSnapshot = Arc<RwLock<HealthSnapshot>>;

/// One check's result in a round.
pub struct Outcome {
    pub name: &'static str,
    pub status: CheckStatus,
    pub value: Value,
    pub threshold: Value,
    pub latency: Duration,
    pub message: String,
}

/// `f` under [`CHECK_TIMEOUT`], with its latency.
async fn timed<F: std::future::Future<Output = Outcome>>(name: &'static str, threshold: Value, f: F) -> Outcome {
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(mut o) => {
            o.latency = started.elapsed();
            o
        }
        Err(_) => Outcome {
            name,
            status: CheckStatus::Failing,
            value: Value::Null,
            threshold,
            latency: started.elapsed(),
            message: format!("check timed out after {} s", CHECK_TIMEOUT.as_secs()),
        },
    }
}

/// A check's result from a failing flag.
pub fn outcome(name: &'static str, failing: bool, value: Value, threshold: Value, message: String) -> Outcome {
    let status = if failing { CheckStatus::Failing } else { CheckStatus::Ok };
    Outcome {
        name,
        status,
        value,
        threshold,
        latency: Duration::ZERO,
        message,
    }
}

/// A check that does not apply here.
pub fn skipped(name: &'static str, message: &str) -> Outcome {
    Outcome {
        name,
        status: CheckStatus::Skipped,
        value: Value::Null,
        threshold: Value::Null,
        latency: Duration::ZERO,
        message: message.into(),
    }
}

/// Checks that read through another one. While that one fails they are not run but
/// `skipped` with the reason, and never alert: one cause, one alert. (No check reads
/// through the model provider today; its circuit is its own check, `llm_provider`.)
pub const DEPENDS_ON: &[(&str, &str)] = &[
    ("error_rate", "store"),
    ("cost_per_run", "store"),
    ("stuck_runs", "store"),
];

/// What a dependent check says while the check it reads through fails.
fn skipped_for(name: &'static str, cause: &str) -> Outcome {
    let reason = match cause {
        "store" => "the store is unreachable",
        "llm_provider" => "the model provider's circuit is open",
        _ => "a check it depends on is failing",
    };
    Outcome {
        message: format!("not checked: {reason} (the {cause} check alerts for it)"),
        ..skipped(name, "")
    }
}

/// Skips every check whose dependency ([`DEPENDS_ON`]) is failing in `outcomes`.
pub fn skip_dependents(outcomes: &mut [Outcome]) {
    let failing: Vec<&'static str> = outcomes
        .iter()
        .filter(|o| o.status == CheckStatus::Failing)
        .map(|o| o.name)
        .collect();
    for o in outcomes.iter_mut() {
        if let Some((_, cause)) = DEPENDS_ON.iter().find(|(n, c)| *n == o.name && failing.contains(c)) {
            *o = skipped_for(o.name, cause);
        }
    }
}

/// The checks that need I/O, each under its own timeout: the store first; the checks that
/// read through it only when it answers (concurrently), else skipped.
pub async fn io_checks(store: DynStore, settings: Arc<Settings>) -> Vec<Outcome> {
    let a = &settings.alerts;
    let store_check = timed("store", json!("answers"), async {
        let t = Instant::now();
        match store.ping().await {
            Ok(()) => outcome(
                "store",
                false,
                json!(t.elapsed().as_millis() as u64),
                json!("answers"),
                format!("{} ping ok (value = ms)", store.backend()),
            ),
            Err(e) => outcome(
                "store",
                true,
                Value::Null,
                json!("answers"),
                format!("{} unreachable: {e}", store.backend()),
            ),
        }
    });
    let error_rate = timed("error_rate", json!(a.error_rate_percent), async {
        match store.finished_since(Utc::now() - chrono::Duration::hours(1)).await {
            Ok(c) => {
                let judged = c.completed + c.failed;
                let rate = if judged == 0 {
                    0.0
                } else {
                    c.failed as f64 * 100.0 / judged as f64
                };
                outcome(
                    "error_rate",
                    rate > a.error_rate_percent as f64,
                    json!((rate * 10.0).round() / 10.0),
                    json!(a.error_rate_percent),
                    format!("{} failed of {} finished in the last hour (percent)", c.failed, judged),
                )
            }
            Err(e) => outcome(
                "error_rate",
                true,
                Value::Null,
                json!(a.error_rate_percent),
                format!("cannot read runs: {e}"),
            ),
        }
    });
    let cost = timed("cost_per_run", json!(a.cost_per_run_usd), async {
        let page = store
            .list_runs(&RunFilter {
                status: Some(RunStatus::Completed),
                limit: a.cost_window_runs,
                ..Default::default()
            })
            .await;
        match page {
            Ok(page) if page.runs.is_empty() => outcome(
                "cost_per_run",
                false,
                json!(0.0),
                json!(a.cost_per_run_usd),
                "no completed run yet".into(),
            ),
            Ok(page) => {
                // Each run carries its spend (known prices), written when it ended.
                let total: f64 = page.runs.iter().filter_map(|r| r.cost_usd).sum();
                let avg = total / page.runs.len() as f64;
                outcome(
                    "cost_per_run",
                    avg > a.cost_per_run_usd,
                    json!((avg * 10_000.0).round() / 10_000.0),
                    json!(a.cost_per_run_usd),
                    format!("average LLM cost (USD) of the last {} completed runs", page.runs.len()),
                )
            }
            Err(e) => outcome(
                "cost_per_run",
                true,
                Value::Null,
                json!(a.cost_per_run_usd),
                format!("cannot read runs: {e}"),
            ),
        }
    });
    let stuck_after = settings.queue.pipeline_timeout + settings.queue.shutdown_grace + Duration::from_secs(60);
    let stuck = timed("stuck_runs", json!(0), async {
        match store
            .list_runs(&RunFilter {
                status: Some(RunStatus::Running),
                limit: 500,
                ..Default::default()
            })
            .await
        {
            Ok(page) => {
                let limit = chrono::Duration::from_std(stuck_after).unwrap_or(chrono::Duration::hours(1));
                let stuck: Vec<String> = page
                    .runs
                    .iter()
                    .filter(|r| Utc::now() - r.updated_at > limit)
                    .map(|r| r.run_id.to_string())
                    .collect();
                outcome(
                    "stuck_runs",
                    !stuck.is_empty(),
                    json!(stuck.len()),
                    json!(0),
                    if stuck.is_empty() {
                        "no run is running past its timeout".into()
                    } else {
                        format!("running past the timeout: {}", stuck.join(", "))
                    },
                )
            }
            Err(e) => outcome(
                "stuck_runs",
                true,
                Value::Null,
                json!(0),
                format!("cannot read runs: {e}"),
            ),
        }
    });
    let applications = settings.paths.applications_dir.clone();
    let disk_threshold = a.disk_free_percent;
    let disk = timed("disk", json!(disk_threshold), async move {
        match tokio::task::spawn_blocking(move || crate::host::disk_free_percent(&applications)).await {
            Ok(Ok(free)) => outcome(
                "disk",
                free < disk_threshold as f64,
                json!((free * 10.0).round() / 10.0),
                json!(disk_threshold),
                "free space (percent) on the artifacts' file system".into(),
            ),
            Ok(Err(e)) => outcome(
                "disk",
                true,
                Value::Null,
                json!(disk_threshold),
                format!("statvfs failed: {e}"),
            ),
            Err(e) => outcome(
                "disk",
                true,
                Value::Null,
                json!(disk_threshold),
                format!("disk check failed: {e}"),
            ),
        }
    });
    let s = store_check.await;
    if s.status == CheckStatus::Failing {
        let d = disk.await;
        let mut out = vec![s];
        out.extend(
            DEPENDS_ON
                .iter()
                .filter(|(_, cause)| *cause == "store")
                .map(|(name, _)| skipped_for(name, "store")),
        );
        out.push(d);
        return out;
    }
    let (e, c, st, d) = tokio::join!(error_rate, cost, stuck, disk);
    vec![s, e, c, st, d]
}

/// What the actor reads from the machine and the runner each round.
#[derive(Debug, Clone, Copy)]
pub struct Readings {
    /// CPU use since the last round (percent).
    pub cpu_percent: f64,
    /// Memory in use (percent).
    pub memory_percent: f64,
    /// Runs waiting.
    pub queued: usize,
}

/// The checks judged from readings: CPU (failing after `ALERT_CPU_ROUNDS` busy rounds in a
/// row; `busy_rounds` is the count so far, updated here), memory, queue depth (90 % of
/// `MAX_QUEUE`), the LLM provider's circuit (no paid probe) and FireCrawl (judged by use).
pub fn reading_checks(
    settings: &Settings,
    readings: Readings,
    busy_rounds: &mut u32,
    llm: Option<&crate::llm::service::LlmService>,
) -> Vec<Outcome> {
    let a = &settings.alerts;
    let cpu = readings.cpu_percent;
    *busy_rounds = if cpu > a.cpu_percent as f64 {
        *busy_rounds + 1
    } else {
        0
    };
    let queue_limit = (settings.queue.max_queue * 9).div_ceil(10);
    vec![
        outcome(
            "cpu",
            *busy_rounds >= a.cpu_rounds,
            json!((cpu * 10.0).round() / 10.0),
            json!(a.cpu_percent),
            format!(
                "CPU use (percent); {} consecutive busy round(s), alert after {}",
                busy_rounds, a.cpu_rounds
            ),
        ),
        outcome(
            "memory",
            readings.memory_percent > a.memory_percent as f64,
            json!((readings.memory_percent * 10.0).round() / 10.0),
            json!(a.memory_percent),
            "memory in use (percent)".into(),
        ),
        outcome(
            "queue_depth",
            readings.queued >= queue_limit,
            json!(readings.queued),
            json!(queue_limit),
            format!("runs waiting (MAX_QUEUE={})", settings.queue.max_queue),
        ),
        match llm {
            Some(llm) => outcome(
                "llm_provider",
                llm.circuit_open(),
                json!(if llm.circuit_open() {
                    "circuit open"
                } else {
                    "circuit closed"
                }),
                json!("circuit closed"),
                format!(
                    "{} ({}); stages run offline while the circuit is open",
                    llm.provider(),
                    llm.models_summary()
                ),
            ),
            None => skipped("llm_provider", "no LLM key configured: stages run offline"),
        },
        skipped(
            "firecrawl",
            if settings.firecrawl.api_key.is_some() {
                "FireCrawl is judged by use: its failures are logged in the runs and research falls back to the posting"
            } else {
                "FIRECRAWL_API_KEY not set"
            },
        ),
    ]
}

/// A round's outcomes as the views the snapshot keeps: `last_change` moves only when a
/// check's status changed since `previous`.
pub fn next_views(previous: &[CheckView], outcomes: Vec<Outcome>, now: DateTime<Utc>) -> Vec<CheckView> {
    let previous: HashMap<&'static str, &CheckView> = previous.iter().map(|c| (c.name, c)).collect();
    outcomes
        .into_iter()
        .map(|o| {
            let (last_change, rounds) = match previous.get(o.name) {
                Some(p) if p.status == o.status => (p.last_change, p.rounds.saturating_add(1)),
                _ => (now, 1),
            };
            CheckView {
                name: o.name,
                status: o.status,
                value: o.value,
                threshold: o.threshold,
                latency_ms: o.latency.as_millis() as u64,
                message: o.message,
                last_change,
                rounds,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let mut s = Settings::for_root(std::path::Path::new("/tmp/unused"));
        s.alerts.cpu_percent = 80;
        s.alerts.cpu_rounds = 3;
        s.queue.max_queue = 10;
        s
    }

    fn status_of(outcomes: &[Outcome], name: &str) -> CheckStatus {
        outcomes.iter().find(|o| o.name == name).unwrap().status
    }

    #[test]
    fn cpu_fails_only_after_enough_busy_rounds_in_a_row() {
        let s = settings();
        let mut rounds = 0;
        let busy = Readings {
            cpu_percent: 95.0,
            memory_percent: 10.0,
            queued: 0,
        };
        let idle = Readings {
            cpu_percent: 5.0,
            ..busy
        };
        for expected in [CheckStatus::Ok, CheckStatus::Ok, CheckStatus::Failing] {
            assert_eq!(status_of(&reading_checks(&s, busy, &mut rounds, None), "cpu"), expected);
        }
        assert_eq!(
            status_of(&reading_checks(&s, idle, &mut rounds, None), "cpu"),
            CheckStatus::Ok
        );
        assert_eq!(rounds, 0, "a quiet round resets the count");
    }

    #[test]
    fn queue_depth_fails_at_ninety_percent_and_the_llm_is_skipped_without_a_key() {
        let s = settings();
        let mut rounds = 0;
        let r = |queued| Readings {
            cpu_percent: 0.0,
            memory_percent: 10.0,
            queued,
        };
        assert_eq!(
            status_of(&reading_checks(&s, r(8), &mut rounds, None), "queue_depth"),
            CheckStatus::Ok
        );
        let full = reading_checks(&s, r(9), &mut rounds, None);
        assert_eq!(status_of(&full, "queue_depth"), CheckStatus::Failing);
        assert_eq!(status_of(&full, "llm_provider"), CheckStatus::Skipped);
    }

    #[test]
    fn last_change_moves_only_when_the_status_changes() {
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(30);
        let first = next_views(&[], vec![outcome("disk", false, json!(50), json!(10), "x".into())], t0);
        let same = next_views(
            &first,
            vec![outcome("disk", false, json!(49), json!(10), "x".into())],
            t1,
        );
        assert_eq!((same[0].last_change, same[0].rounds), (t0, 2));
        let changed = next_views(&same, vec![outcome("disk", true, json!(5), json!(10), "x".into())], t1);
        assert_eq!((changed[0].last_change, changed[0].rounds), (t1, 1));
    }

    #[test]
    fn checks_reading_through_a_failing_store_are_skipped_with_the_reason() {
        let mut outcomes = vec![
            outcome(
                "store",
                true,
                Value::Null,
                json!("answers"),
                "mongodb unreachable".into(),
            ),
            outcome("error_rate", true, Value::Null, json!(10), "cannot read runs".into()),
            outcome("disk", false, json!(50), json!(10), "ok".into()),
        ];
        skip_dependents(&mut outcomes);
        assert_eq!(status_of(&outcomes, "error_rate"), CheckStatus::Skipped);
        assert!(
            outcomes[1].message.contains("the store is unreachable"),
            "{}",
            outcomes[1].message
        );
        assert_eq!(status_of(&outcomes, "store"), CheckStatus::Failing);
        assert_eq!(status_of(&outcomes, "disk"), CheckStatus::Ok);
    }
}
