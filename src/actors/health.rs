//! HealthActor: runs the health checks every `HEALTH_CHECK_INTERVAL_SECONDS` (the next
//! round is armed only after a round finished), keeps the snapshot `/health` and
//! `/health/deep` serve, and e-mails what the [`AlertPolicy`] decides. The checks and the
//! policy are plain code in `crate::health`; this actor holds the state that needs an
//! address: machine readings across rounds, the alert state, the mailer.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix::prelude::*;
use chrono::Utc;

use crate::config::Settings;
use crate::health::alert_policy::{Alert, AlertPolicy, Decision};
use crate::health::checks::{io_checks, next_views, reading_checks, Readings};
pub use crate::health::{CheckStatus, CheckView, HealthSnapshot, SharedSnapshot};
use crate::metrics::{Metrics, RunnerStats};
use crate::notify::Mailer;
use crate::store::{AlertRecord, DynStore};

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
    alerts: AlertPolicy,
    metrics: Arc<Metrics>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct RunChecks;

impl HealthActor {
    /// A health actor; `mailer` is `None` when alerts are only logged.
    pub fn new(
        store: DynStore,
        settings: Arc<Settings>,
        stats: Arc<RunnerStats>,
        snapshot: SharedSnapshot,
        mailer: Option<Mailer>,
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
            mailer: mailer.map(Arc::new),
            llm,
            system: Arc::new(Mutex::new(sysinfo::System::new())),
            cpu_busy_rounds: 0,
        }
    }

    /// Logs the alert, records it in the alert history, and sends it, without blocking the
    /// actor (or the runs) on the store or the mail server.
    fn send(&self, alert: Alert, view: &CheckView) {
        let message = &view.message;
        let headline = alert.text.lines().next().unwrap_or_default().to_owned();
        tracing::warn!(check = alert.check, recovered = alert.recovered, "{headline} {message}");
        let record = AlertRecord {
            alert_id: uuid::Uuid::new_v4().simple().to_string(),
            level: alert_level(alert.check, alert.recovered).into(),
            source: alert.check.to_owned(),
            message: format!("{headline} {message}"),
            timestamp: chrono::Utc::now(),
            metadata: serde_json::json!({"value": view.value, "threshold": view.threshold}),
        };
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(e) = store.record_alert(&record).await {
                tracing::warn!(error = %e, "could not record the alert in the history");
            }
        });
        let Some(mailer) = self.mailer.clone() else { return };
        let metrics = Arc::clone(&self.metrics);
        actix::spawn(async move {
            match mailer.send_with_retry(&alert.subject, &alert.text, &alert.html).await {
                Ok(()) => metrics.alert_sent(alert.check),
                Err(e) => tracing::error!(check = alert.check, error = %e, "alert e-mail could not be sent"),
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
                    let now = Utc::now();
                    let previous = act.snapshot.read().unwrap_or_else(|p| p.into_inner()).checks.clone();
                    let views = next_views(&previous, outcomes, now);
                    let before: HashMap<&'static str, CheckStatus> =
                        previous.iter().map(|c| (c.name, c.status)).collect();
                    let host = crate::host::hostname();
                    for v in &views {
                        match act.alerts.decide(before.get(v.name).copied(), v, Instant::now(), &host) {
                            Decision::Send(alert) => act.send(alert, v),
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
