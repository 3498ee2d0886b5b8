//! HealthActor: runs the health checks every `HEALTH_CHECK_INTERVAL_SECONDS` (the next
//! round is armed only after a round finished, and every check has its own timeout), keeps
//! the snapshot `/health` and `/health/deep` serve, and e-mails the operator when a check
//! starts failing and when it recovers, at most once per check per cooldown.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::supervisor::RunnerStats;
use crate::config::Settings;
use crate::domain::RunStatus;
use crate::notify::{html_escape, Mailer};
use crate::store::{DynStore, RunFilter};

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

struct Outcome {
    name: &'static str,
    status: CheckStatus,
    value: Value,
    threshold: Value,
    latency: Duration,
    message: String,
}

/// Alert state of one check.
#[derive(Default)]
struct AlertState {
    /// An alert was sent for the current incident (so a recovery message follows).
    open: bool,
    last_sent: Option<Instant>,
}

/// The health actor.
pub struct HealthActor {
    store: DynStore,
    settings: Arc<Settings>,
    stats: Arc<RunnerStats>,
    snapshot: SharedSnapshot,
    mailer: Option<Arc<Mailer>>,
    /// The LLM layer, when configured (its provider's circuit state is a check).
    llm: Option<Arc<crate::llm::service::LlmService>>,
    /// CPU and memory readings; CPU use is measured between two refreshes (two rounds).
    system: Arc<Mutex<sysinfo::System>>,
    cpu_busy_rounds: u32,
    alerts: HashMap<&'static str, AlertState>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct RunChecks;

const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

impl HealthActor {
    /// A health actor; `mailer` is `None` when alerts are only logged.
    pub fn new(
        store: DynStore,
        settings: Arc<Settings>,
        stats: Arc<RunnerStats>,
        snapshot: SharedSnapshot,
        mailer: Option<Mailer>,
        llm: Option<Arc<crate::llm::service::LlmService>>,
    ) -> Self {
        Self {
            store,
            settings,
            stats,
            snapshot,
            mailer: mailer.map(Arc::new),
            llm,
            system: Arc::new(Mutex::new(sysinfo::System::new())),
            cpu_busy_rounds: 0,
            alerts: HashMap::new(),
        }
    }

    fn alert(&mut self, check: &CheckView, recovered: bool) {
        let state = self.alerts.entry(check.name).or_default();
        let host = crate::host::hostname();
        let (subject, headline) = if recovered {
            if !state.open {
                return;
            }
            state.open = false;
            (
                format!("[job-runner@{host}] RECOVERED: {}", check.name),
                format!("{} is healthy again.", check.name),
            )
        } else {
            let cooled = state
                .last_sent
                .is_none_or(|t| t.elapsed() >= self.settings.alerts.cooldown);
            if !cooled || state.open {
                tracing::info!(check = check.name, "alert suppressed (cooldown or already open)");
                return;
            }
            state.open = true;
            state.last_sent = Some(Instant::now());
            (
                format!("[job-runner@{host}] ALERT: {}", check.name),
                format!("{} is failing.", check.name),
            )
        };
        tracing::warn!(check = check.name, recovered, "{headline} {}", check.message);
        let Some(mailer) = self.mailer.clone() else { return };
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
            html_escape(&host),
            check.last_change
        );
        let name = check.name;
        // Never block the actor (or the runs) on the mail server.
        actix::spawn(async move {
            match mailer.send_with_retry(&subject, &text, &html).await {
                Ok(()) => crate::metrics::global().alert_sent(name),
                Err(e) => tracing::error!(check = name, error = %e, "alert e-mail could not be sent"),
            }
        });
    }
}

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

fn outcome(name: &'static str, failing: bool, value: Value, threshold: Value, message: String) -> Outcome {
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

fn skipped(name: &'static str, message: &str) -> Outcome {
    Outcome {
        name,
        status: CheckStatus::Skipped,
        value: Value::Null,
        threshold: Value::Null,
        latency: Duration::ZERO,
        message: message.into(),
    }
}

/// The checks that need I/O, run concurrently, each under its own timeout.
async fn io_checks(store: DynStore, settings: Arc<Settings>) -> Vec<Outcome> {
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
    let stuck_after = settings.pipeline_timeout + settings.shutdown_grace + Duration::from_secs(60);
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
    let applications = settings.applications_dir.clone();
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
    let (s, e, c, st, d) = tokio::join!(store_check, error_rate, cost, stuck, disk);
    vec![s, e, c, st, d]
}

impl Actor for HealthActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(RunChecks);
    }
}

impl Handler<RunChecks> for HealthActor {
    type Result = ();

    fn handle(&mut self, _: RunChecks, ctx: &mut Context<Self>) {
        let (cpu, mem_percent) = {
            let mut sys = self.system.lock().unwrap_or_else(|p| p.into_inner());
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            let total = sys.total_memory().max(1);
            (
                sys.global_cpu_usage() as f64,
                sys.used_memory() as f64 * 100.0 / total as f64,
            )
        };
        let (store, settings) = (self.store.clone(), Arc::clone(&self.settings));
        ctx.spawn(
            io_checks(store, settings)
                .into_actor(self)
                .map(move |mut outcomes, act, ctx| {
                    let a = &act.settings.alerts;
                    act.cpu_busy_rounds = if cpu > a.cpu_percent as f64 {
                        act.cpu_busy_rounds + 1
                    } else {
                        0
                    };
                    outcomes.push(outcome(
                        "cpu",
                        act.cpu_busy_rounds >= a.cpu_rounds,
                        json!((cpu * 10.0).round() / 10.0),
                        json!(a.cpu_percent),
                        format!(
                            "CPU use (percent); {} consecutive busy round(s), alert after {}",
                            act.cpu_busy_rounds, a.cpu_rounds
                        ),
                    ));
                    outcomes.push(outcome(
                        "memory",
                        mem_percent > a.memory_percent as f64,
                        json!((mem_percent * 10.0).round() / 10.0),
                        json!(a.memory_percent),
                        "memory in use (percent)".into(),
                    ));
                    let queued = act.stats.queued.load(Ordering::SeqCst);
                    let queue_limit = (act.settings.max_queue * 9).div_ceil(10);
                    outcomes.push(outcome(
                        "queue_depth",
                        queued >= queue_limit,
                        json!(queued),
                        json!(queue_limit),
                        format!("runs waiting (MAX_QUEUE={})", act.settings.max_queue),
                    ));
                    // Judged by the calls runs make (no paid probe): failing while the
                    // provider's circuit is open.
                    outcomes.push(match &act.llm {
                        Some(llm) => outcome(
                            "llm_provider",
                            llm.circuit_open(),
                            json!(if llm.circuit_open() { "circuit open" } else { "circuit closed" }),
                            json!("circuit closed"),
                            format!("{} ({}); stages run offline while the circuit is open", llm.provider(), llm.models_summary()),
                        ),
                        None => skipped("llm_provider", "no LLM key configured: stages run offline"),
                    });
                    outcomes.push(skipped(
                        "firecrawl",
                        if act.settings.firecrawl_api_key.is_some() {
                            "FireCrawl is judged by use: its failures are logged in the runs and research falls back to the posting"
                        } else {
                            "FIRECRAWL_API_KEY not set"
                        },
                    ));

                    let now = Utc::now();
                    let previous: HashMap<&'static str, CheckView> = {
                        let snap = act.snapshot.read().unwrap_or_else(|p| p.into_inner());
                        snap.checks.iter().map(|c| (c.name, c.clone())).collect()
                    };
                    let views: Vec<CheckView> = outcomes
                        .into_iter()
                        .map(|o| {
                            let changed = previous.get(o.name).is_none_or(|p| p.status != o.status);
                            CheckView {
                                name: o.name,
                                status: o.status,
                                value: o.value,
                                threshold: o.threshold,
                                latency_ms: o.latency.as_millis() as u64,
                                message: o.message,
                                last_change: if changed { now } else { previous[o.name].last_change },
                            }
                        })
                        .collect();
                    for v in &views {
                        let was_failing = previous.get(v.name).is_some_and(|p| p.status == CheckStatus::Failing);
                        match (was_failing, v.status == CheckStatus::Failing) {
                            (false, true) => act.alert(v, false),
                            (true, false) => act.alert(v, true),
                            _ => {}
                        }
                    }
                    {
                        let mut snap = act.snapshot.write().unwrap_or_else(|p| p.into_inner());
                        snap.checked_at = Some(now);
                        snap.rounds += 1;
                        snap.checks = views;
                    }
                    // Re-arm only now that this round finished: rounds never overlap.
                    ctx.notify_later(RunChecks, act.settings.health_check_interval);
                }),
        );
    }
}
