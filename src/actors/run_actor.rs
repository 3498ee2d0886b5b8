//! PipelineActor: one per running run, a thin shell around
//! [`crate::pipeline::lifecycle::execute_run`]: it holds the run's slot
//! (dropping the actor releases it), renews the run's lease every second and turns a cancel
//! requested through the store or a lost lease into a stop signal.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::log_hub::LogHub;
use super::messages::SlotReleased;
use crate::domain::{Run, RunId, RunStatus};
use crate::pipeline::dag::StopReason;
use crate::pipeline::lifecycle::{execute_run, RunDeps};
use crate::store::LeaseState;

/// How often the owner renews its lease and looks for a cancel requested from another
/// runner (the lease itself lasts `RUN_LEASE_SECONDS`). Half a second keeps a cancel sent
/// through any runner under one second (measured by `scripts/bench.sh compare cancel`: at
/// 1 s it took 1.03 s median); it costs two small writes a second per running run.
const LEASE_RENEW_EVERY: Duration = Duration::from_millis(500);

/// What every pipeline actor needs, shared: what a run needs (`run`) and the log hub.
pub struct PipelineDeps {
    /// Store, settings, stage executor, log sink, owner id, redactor.
    pub run: Arc<RunDeps>,
    pub hub: Addr<LogHub>,
}

/// Releases a run's slot when dropped, and tells the supervisor. Dropped exactly once,
/// however the run ends (including a panic unwinding the actor).
pub struct SlotGuard {
    _permit: OwnedSemaphorePermit,
    run_id: RunId,
    supervisor: Recipient<SlotReleased>,
}

impl SlotGuard {
    /// Binds a permit to a run.
    pub fn new(permit: OwnedSemaphorePermit, run_id: RunId, supervisor: Recipient<SlotReleased>) -> Self {
        Self {
            _permit: permit,
            run_id,
            supervisor,
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.supervisor.do_send(SlotReleased(self.run_id.clone()));
    }
}

/// Drives one run.
pub struct PipelineActor {
    run: Run,
    deps: Arc<PipelineDeps>,
    stop_tx: Arc<watch::Sender<Option<StopReason>>>,
    stop_rx: watch::Receiver<Option<StopReason>>,
    done_tx: watch::Sender<Option<RunStatus>>,
    /// The run's concurrency slot, held for the actor's whole life.
    _slot: SlotGuard,
}

impl PipelineActor {
    /// A pipeline for a claimed run.
    pub fn new(
        run: Run,
        deps: Arc<PipelineDeps>,
        stop_tx: Arc<watch::Sender<Option<StopReason>>>,
        done_tx: watch::Sender<Option<RunStatus>>,
        slot: SlotGuard,
    ) -> Self {
        let stop_rx = stop_tx.subscribe();
        Self {
            run,
            deps,
            stop_tx,
            stop_rx,
            done_tx,
            _slot: slot,
        }
    }
}

impl Actor for PipelineActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let fut = execute_run(self.run.clone(), Arc::clone(&self.deps.run), self.stop_rx.clone());
        ctx.spawn(fut.into_actor(self).map(|status, act, ctx| {
            act.done_tx.send_replace(Some(status));
            ctx.stop();
        }));
        ctx.run_interval(LEASE_RENEW_EVERY, |act, ctx| {
            let lease = act.deps.run.settings.queue.run_lease;
            let (store, id, owner, stop) = (
                act.deps.run.store.clone(),
                act.run.run_id.clone(),
                act.deps.run.instance_id.clone(),
                Arc::clone(&act.stop_tx),
            );
            ctx.spawn(
                async move {
                    // Each renewal counts one interval of execution towards the run's timeout.
                    match store.renew_lease(&id, &owner, lease, LEASE_RENEW_EVERY).await {
                        Ok(LeaseState::Held) => {}
                        Ok(LeaseState::CancelRequested) => {
                            tracing::info!(run_id = %id, "cancel requested through the store");
                            stop.send_if_modified(|s| match s {
                                None | Some(StopReason::Drain { .. }) => {
                                    *s = Some(StopReason::Cancel);
                                    true
                                }
                                _ => false,
                            });
                        }
                        Ok(LeaseState::Lost) => {
                            tracing::warn!(run_id = %id, "lease lost; stopping the run here");
                            stop.send_replace(Some(StopReason::LeaseLost));
                        }
                        Err(e) => tracing::warn!(run_id = %id, error = %e, "could not renew lease; will retry"),
                    }
                }
                .into_actor(act),
            );
        });
    }
}
