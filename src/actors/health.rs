//! HealthActor: runs the health checks every `HEALTH_CHECK_INTERVAL_SECONDS` (the next
//! round is armed only after a round finished), keeps the snapshot `/health` and
//! `/health/deep` serve, and e-mails what the [`AlertPolicy`] decides. The checks and the
//! policy are plain code in `crate::health`; this actor holds the state that needs an
//! address: machine readings across rounds, the alert state, the mailer.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::prelude::*;
use chrono::Utc;

use crate::config::Settings;
use crate::health::alert_policy::{AlertPolicy, Decision};
use crate::health::alert_text;
use crate::health::checks::{io_checks, next_views, reading_checks, skip_dependents, Readings};
pub use crate::health::{CheckStatus, CheckView, HealthSnapshot, SharedSnapshot};
use crate::metrics::{Metrics, RunnerStats};
use crate::notify::{Notice, NoticeKind, Notifier};
use crate::store::{AlertRecord, DynStore};

/// The health actor.
pub struct HealthActor {
    store: DynStore,
    settings: Arc<Settings>,
    stats: Arc<RunnerStats>,
    snapshot: SharedSnapshot,
    /// E-mail and webhook (either may be absent; alerts are always logged and recorded).
    notifier: Arc<Notifier>,
    /// The LLM layer, when configured (its provider's circuit state is a check).
    llm: Option<Arc<crate::llm::service::LlmService>>,
    /// CPU and memory readings; CPU use is measured between two refreshes (two rounds).
    system: Arc<Mutex<sysinfo::System>>,
    cpu_busy_rounds: u32,
    alerts: AlertPolicy,
    metrics: Arc<Metrics>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct RunChecks;

impl HealthActor {
    /// A health actor; with an empty `notifier`, alerts are only logged and recorded.
    pub fn new(
        store: DynStore,
        settings: Arc<Settings>,
        stats: Arc<RunnerStats>,
        snapshot: SharedSnapshot,
        notifier: Notifier,
        llm: Option<Arc<crate::llm::service::LlmService>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            metrics,
            alerts: AlertPolicy::new(settings.alerts.cooldown),
            store,
            settings,
            stats,
            snapshot,
            notifier: Arc::new(notifier),
            llm,
            system: Arc::new(Mutex::new(sysinfo::System::new())),
            cpu_busy_rounds: 0,
        }
    }

    /// Logs the notice, records it in the alert history, and sends it on every channel,
    /// without blocking the actor (or the runs) on the store, the mail server or a hook.
    fn send(&self, notice: Notice) {
        let recovered = notice.kind == NoticeKind::Recovery;
        tracing::warn!(check = %notice.check, recovered, "{} {}", notice.headline, notice.details);
        let record = AlertRecord {
            alert_id: uuid::Uuid::new_v4().simple().to_string(),
            level: alert_level(&notice.check, recovered).into(),
            source: notice.check.clone(),
            message: format!("{} {}", notice.headline, notice.details),
            timestamp: chrono::Utc::now(),
            metadata: serde_json::json!({"value": notice.value, "threshold": notice.threshold, "since": notice.since}),
        };
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.record_alert(&record).await {
                tracing::warn!(error = %e, "could not record the alert in the history");
            }
        });
        if self.notifier.is_empty() {
            return;
        }
        let (notifier, metrics) = (Arc::clone(&self.notifier), Arc::clone(&self.metrics));
        actix::spawn(async move {
            for (channel, result) in notifier.send_all(&notice).await {
                match result {
                    Ok(()) => metrics.alert_sent(&notice.check),
                    Err(e) => tracing::error!(check = %notice.check, channel, error = %e, "alert could not be sent"),
                }
            }
        });
    }

    fn readings(&self) -> Readings {
        let mut sys = self.system.lock().unwrap_or_else(|p| p.into_inner());
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        let total = sys.total_memory().max(1);
        Readings {
            cpu_percent: sys.global_cpu_usage() as f64,
            memory_percent: sys.used_memory() as f64 * 100.0 / total as f64,
            queued: self.stats.queued.load(Ordering::SeqCst),
        }
    }
}

/// How serious an alert is: the store failing is critical (the daemon cannot run anything),
/// any other failing check a warning, a recovery information.
fn alert_level(check: &str, recovered: bool) -> &'static str {
    match (recovered, check) {
        (true, _) => "info",
        (false, "store") => "critical",
        (false, _) => "warning",
    }
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
        let readings = self.readings();
        let (store, settings) = (self.store.clone(), Arc::clone(&self.settings));
        ctx.spawn(
            io_checks(store, settings)
                .into_actor(self)
                .map(move |mut outcomes, act, ctx| {
                    outcomes.extend(reading_checks(
                        &act.settings,
                        readings,
                        &mut act.cpu_busy_rounds,
                        act.llm.as_deref(),
                    ));
                    // One cause, one alert: checks reading through a failing one are skipped.
                    skip_dependents(&mut outcomes);
                    let now = Utc::now();
                    let previous = act.snapshot.read().unwrap_or_else(|p| p.into_inner()).checks.clone();
                    let views = next_views(&previous, outcomes, now);
                    if let Some(stuck) = views
                        .iter()
                        .find(|v| v.name == "stuck_runs")
                        .and_then(|v| v.value.as_i64())
                    {
                        act.metrics.stuck_runs.set(stuck);
                    }
                    let host = crate::host::hostname();
                    let port = act.settings.server.port;
                    for v in &views {
                        match act.alerts.decide(v, Instant::now()) {
                            Decision::Send {
                                recovered,
                                failing_since,
                            } => act.send(alert_text::notice(v, recovered, failing_since, now, &host, port)),
                            Decision::Suppressed => {
                                tracing::info!(check = v.name, "alert suppressed (cooldown or already open)")
                            }
                            Decision::Quiet => {}
                        }
                    }
                    {
                        let mut snap = act.snapshot.write().unwrap_or_else(|p| p.into_inner());
                        snap.checked_at = Some(now);
                        snap.rounds += 1;
                        snap.checks = views;
                    }
                    // Re-arm only now that this round finished: rounds never overlap.
                    ctx.notify_later(RunChecks, act.settings.alerts.health_check_interval);
                }),
        );
    }
}
