//! systemd integration (`Type=notify`): `READY=1` once the listener is bound and the store
//! answers, `WATCHDOG=1` from a heartbeat that proves the supervisor's mailbox is alive,
//! `STOPPING=1` when a drain starts. Without `NOTIFY_SOCKET` every call is a no-op.

use std::time::Duration;

use actix::Addr;
use sd_notify::NotifyState;

use crate::actors::messages::Heartbeat;
use crate::actors::supervisor::RunSupervisor;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

/// Tells systemd the daemon serves.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the daemon is draining.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("draining: finishing running stages"),
    ]);
}

/// When systemd enabled the watchdog (`WatchdogSec=`), pings it at half the interval for as
/// long as the supervisor answers a heartbeat within a second. A wedged actor system stops
/// the pings, and systemd restarts the service.
pub fn spawn_watchdog(supervisor: Addr<RunSupervisor>) {
    let Some(timeout) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (timeout / 2).max(Duration::from_millis(100));
    tracing::info!(interval_ms = every.as_millis() as u64, "systemd watchdog enabled");
    actix::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match supervisor.send(Heartbeat).timeout(Duration::from_secs(1)).await {
                Ok(()) => send(&[NotifyState::Watchdog]),
                Err(e) => tracing::error!(error = %e, "supervisor missed its heartbeat; not pinging the watchdog"),
            }
        }
    });
}
