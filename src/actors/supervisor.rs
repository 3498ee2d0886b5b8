//! RunSupervisor: admission into the durable queue (the store), the concurrency slots,
//! cancel, and drain on shutdown. A slot is a semaphore permit moved into the run's
//! [`super::run_actor::SlotGuard`]: it is released exactly once, when the run's
//! actor is dropped, however the run ended.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};

use super::messages::{
    AdmissionError, CancelError, CancelQueuedRun, CancelRun, CloseRunLog, Drain, Heartbeat, OpenRunLog, Pump,
    RetryError, RetryRun, SlotReleased, SubmitRuns,
};
pub use crate::metrics::RunnerStats;

use super::run_actor::{PipelineActor, PipelineDeps, SlotGuard};
use crate::domain::{Run, RunId, RunStatus};
use crate::pipeline::admission::{admit, readmit_failed};
use crate::pipeline::cancellation::{cancel_if_queued, cancel_not_active, CancelPath};
use crate::pipeline::dag::StopReason;

struct ActiveRun {
    stop: Arc<watch::Sender<Option<StopReason>>>,
    done: watch::Receiver<Option<RunStatus>>,
}

/// The supervisor actor.
pub struct RunSupervisor {
    deps: Arc<PipelineDeps>,
    /// `MAX_CONCURRENCY` permits.
    slots: Arc<Semaphore>,
    stats: Arc<RunnerStats>,
    /// Runs started by this process and not yet ended.
    active: HashMap<RunId, ActiveRun>,
    /// Cancels for runs being claimed right now; applied when they start.
    pending_cancels: HashSet<RunId>,
    /// Set by [`Drain`]: nothing new is admitted or started.
    drain_deadline: Option<Instant>,
    drain_waiters: Vec<oneshot::Sender<()>>,
    /// A claim round is in progress; `pump_again` asks for another one after it.
    pumping: bool,
    pump_again: bool,
    /// When this runner started (its heartbeat says so).
    started_at: chrono::DateTime<chrono::Utc>,
}

impl RunSupervisor {
    /// A supervisor with `MAX_CONCURRENCY` slots.
    pub fn new(deps: Arc<PipelineDeps>, stats: Arc<RunnerStats>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(stats.max_concurrency)),
            deps,
            stats,
            active: HashMap::new(),
            pending_cancels: HashSet::new(),
            started_at: chrono::Utc::now(),
            drain_deadline: None,
            drain_waiters: Vec::new(),
            pumping: false,
            pump_again: false,
        }
    }

    fn launch(&mut self, run: Run, permit: OwnedSemaphorePermit, ctx: &mut Context<Self>) {
        let (stop_tx, _) = watch::channel(None);
        let stop_tx = Arc::new(stop_tx);
        let (done_tx, done_rx) = watch::channel(None);
        if self.pending_cancels.remove(&run.run_id) {
            stop_tx.send_replace(Some(StopReason::Cancel));
        } else if let Some(deadline) = self.drain_deadline {
            stop_tx.send_replace(Some(StopReason::Drain { deadline }));
        }
        let guard = SlotGuard::new(permit, run.run_id.clone(), ctx.address().recipient());
        self.active.insert(
            run.run_id.clone(),
            ActiveRun {
                stop: Arc::clone(&stop_tx),
                done: done_rx,
            },
        );
        self.stats.active.store(self.active.len(), Ordering::SeqCst);
        PipelineActor::new(run, Arc::clone(&self.deps), stop_tx, done_tx, guard).start();
    }

    /// A queued run was cancelled: say so in its log, end its stream, count it out.
    fn cancelled_while_queued(&mut self, run_id: RunId) {
        self.deps.run.run_log(&run_id).info("run cancelled while queued");
        crate::pipeline::lifecycle::announce_stored_end(
            &self.deps.run.store,
            self.deps.run.completion.as_ref(),
            run_id.clone(),
        );
        self.deps.hub.do_send(CloseRunLog {
            run_id,
            status: Some(RunStatus::Cancelled),
        });
        let _ = self
            .stats
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| q.checked_sub(1));
    }
}

impl RunSupervisor {
    /// With a shared store, any runner may execute a queued run: once its "queued" line is
    /// stored, this runner stops tracking its log, so readers here follow the stored log
    /// (and the runner that claims it opens it again) instead of waiting for lines that
    /// another runner writes.
    fn release_log_if_shared(&self, run_id: &RunId) {
        if self.deps.run.store.is_shared() {
            self.deps.hub.do_send(CloseRunLog {
                run_id: run_id.clone(),
                status: None,
            });
        }
    }

    /// The retention sweep (see `pipeline::retention`): finished runs and audit entries
    /// older than `RETENTION_DAYS`, expired run tokens.
    fn sweep(&self, ctx: &mut Context<Self>) {
        let (store, settings) = (self.deps.run.store.clone(), Arc::clone(&self.deps.run.settings));
        ctx.spawn(
            async move {
                let days = settings.queue.retention_days;
                match crate::pipeline::retention::sweep(&store, &settings, days).await {
                    Ok(s) if s == Default::default() => {}
                    Ok(s) => tracing::info!(
                        runs = s.runs,
                        tokens = s.tokens,
                        audit = s.audit,
                        days,
                        "retention sweep: purged finished runs and audit entries past RETENTION_DAYS, expired run tokens"
                    ),
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed; will retry in an hour"),
                }
            }
            .into_actor(self),
        );
    }

    /// Records this runner's heartbeat: id, host, version, start, active runs, draining.
    fn beat(&self, ctx: &mut Context<Self>) {
        let beat = crate::store::RunnerBeat {
            runner_id: self.deps.run.instance_id.clone(),
            host: crate::host::hostname(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at,
            last_seen: chrono::Utc::now(),
            active_runs: self.stats.active.load(Ordering::SeqCst) as u32,
            draining: self.stats.draining.load(Ordering::SeqCst),
        };
        let store = self.deps.run.store.clone();
        let metrics = self.deps.run.metrics.clone();
        ctx.spawn(
            async move {
                if let Err(e) = store.heartbeat(&beat).await {
                    tracing::warn!(error = %e, "could not record the runner's heartbeat; will retry");
                }
                if let Ok(beats) = store.runners().await {
                    let now = chrono::Utc::now();
                    metrics
                        .runners_live
                        .set(beats.iter().filter(|b| !b.is_lost(now)).count() as i64);
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for RunSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.notify(Pump);
        // Safety net: pick up runs queued by other processes (`job-runner import`, a second
        // instance) and retry after store outages.
        ctx.run_interval(Duration::from_secs(2), |_, ctx| ctx.notify(Pump));
        // Store health for /health; re-armed only after each ping finished.
        ctx.notify(CheckStore);
        // Retention: finished runs and audit entries past RETENTION_DAYS, and expired run
        // tokens, are purged at start and hourly.
        self.sweep(ctx);
        ctx.run_interval(Duration::from_secs(3600), |act, ctx| act.sweep(ctx));
        // The runner's heartbeat (`GET /runners`), now and every interval.
        self.beat(ctx);
        ctx.run_interval(crate::store::RunnerBeat::INTERVAL, |act, ctx| act.beat(ctx));
        // With a shared store, runs whose runner died are re-queued once their lease expires.
        if self.deps.run.store.is_shared() {
            let every = (self.deps.run.settings.queue.run_lease / 2).max(Duration::from_secs(1));
            ctx.run_interval(every, |act, ctx| {
                let store = act.deps.run.store.clone();
                ctx.spawn(
                    async move {
                        match store.recover_runs(chrono::Utc::now(), false).await {
                            Ok(ids) if !ids.is_empty() => {
                                tracing::warn!(
                                    count = ids.len(),
                                    "re-queued runs whose lease expired (their runner stopped)"
                                );
                                true
                            }
                            Ok(_) => false,
                            Err(e) => {
                                tracing::warn!(error = %e, "could not recover expired runs; will retry");
                                false
                            }
                        }
                    }
                    .into_actor(act)
                    .map(|recovered, _, ctx| {
                        if recovered {
                            ctx.notify(Pump);
                        }
                    }),
                );
            });
        }
    }
}

/// Pings the store and records the result for `/health`.
#[derive(Message)]
#[rtype(result = "()")]
struct CheckStore;

/// How often the store is pinged for `/health`.
const STORE_CHECK_EVERY: Duration = Duration::from_secs(5);

impl Handler<CheckStore> for RunSupervisor {
    type Result = ();

    fn handle(&mut self, _: CheckStore, ctx: &mut Context<Self>) {
        let store = self.deps.run.store.clone();
        ctx.spawn(
            async move { store.ping().await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    let ok = result.is_ok();
                    let was = act.stats.store_ok.swap(ok, Ordering::SeqCst);
                    match (&result, was) {
                        (Err(e), true) => {
                            tracing::error!(error = %e, "store unreachable: no run starts until it is back")
                        }
                        (Ok(()), false) => {
                            tracing::info!("store reachable again");
                            ctx.notify(Pump);
                        }
                        _ => {}
                    }
                    ctx.notify_later(CheckStore, STORE_CHECK_EVERY);
                }),
        );
    }
}

impl Handler<Pump> for RunSupervisor {
    type Result = ();

    fn handle(&mut self, _: Pump, ctx: &mut Context<Self>) {
        if self.drain_deadline.is_some() {
            return;
        }
        if self.pumping {
            self.pump_again = true;
            return;
        }
        self.pumping = true;
        let (slots, store, owner) = (
            Arc::clone(&self.slots),
            self.deps.run.store.clone(),
            self.deps.run.instance_id.clone(),
        );
        let (lease, global) = (
            self.deps.run.settings.queue.run_lease,
            self.deps.run.settings.queue.global_max_concurrency,
        );
        ctx.spawn(
            async move {
                let mut claimed = Vec::new();
                while let Ok(permit) = Arc::clone(&slots).try_acquire_owned() {
                    // `GLOBAL_MAX_CONCURRENCY` holds across every runner sharing the store.
                    match store.claim_next_run_within(&owner, lease, global).await {
                        Ok(Some(run)) => claimed.push((run, permit)),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not claim queued runs; will retry");
                            break;
                        }
                    }
                }
                let queued = store.count_runs(RunStatus::Queued).await.ok();
                (claimed, queued)
            }
            .into_actor(self)
            .map(|(claimed, queued), act, ctx| {
                for (run, permit) in claimed {
                    act.launch(run, permit, ctx);
                }
                if let Some(q) = queued {
                    act.stats.queued.store(q as usize, Ordering::SeqCst);
                }
                act.pumping = false;
                if std::mem::take(&mut act.pump_again) {
                    ctx.notify(Pump);
                }
            }),
        );
    }
}

impl Handler<SubmitRuns> for RunSupervisor {
    type Result = AtomicResponse<Self, Result<Vec<Run>, AdmissionError>>;

    fn handle(&mut self, msg: SubmitRuns, _: &mut Context<Self>) -> Self::Result {
        let draining = self.drain_deadline.is_some();
        let deps = Arc::clone(&self.deps);
        // Atomic: admissions are checked against the queue one at a time.
        AtomicResponse::new(Box::pin(
            async move {
                if draining {
                    return Err(AdmissionError::ShuttingDown);
                }
                let admitted = admit(&deps.run.store, &deps.run.settings, &msg.0).await?;
                Ok((admitted.answer, admitted.fresh, admitted.queued_before))
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                let (answer, fresh, queued) = result?;
                for (i, run) in fresh.iter().enumerate() {
                    act.deps.hub.do_send(OpenRunLog {
                        run_id: run.run_id.clone(),
                        next_seq: 1,
                    });
                    act.deps.run.run_log(&run.run_id).info(format!(
                        "run queued for job {} (position {} in queue, {} of {} slots busy)",
                        run.job_id,
                        queued + i + 1,
                        act.active.len(),
                        act.stats.max_concurrency
                    ));
                    act.release_log_if_shared(&run.run_id);
                }
                act.stats.queued.store(queued + fresh.len(), Ordering::SeqCst);
                if !fresh.is_empty() {
                    ctx.notify(Pump);
                }
                Ok(answer)
            }),
        ))
    }
}

impl Handler<Heartbeat> for RunSupervisor {
    type Result = ();
    fn handle(&mut self, _: Heartbeat, _: &mut Context<Self>) {}
}

impl Handler<SlotReleased> for RunSupervisor {
    type Result = ();

    fn handle(&mut self, msg: SlotReleased, ctx: &mut Context<Self>) {
        self.active.remove(&msg.0);
        self.stats.active.store(self.active.len(), Ordering::SeqCst);
        if self.drain_deadline.is_some() {
            if self.active.is_empty() {
                for w in self.drain_waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        } else {
            ctx.notify(Pump);
        }
    }
}

impl Handler<CancelRun> for RunSupervisor {
    type Result = ResponseActFuture<Self, Result<RunStatus, CancelError>>;

    fn handle(&mut self, msg: CancelRun, _: &mut Context<Self>) -> Self::Result {
        let run_id = msg.0;
        if let Some(active) = self.active.get(&run_id) {
            active.stop.send_replace(Some(StopReason::Cancel));
            let mut done = active.done.clone();
            return Box::pin(
                async move {
                    let status = match done.wait_for(Option::is_some).await {
                        Ok(s) => s.unwrap_or(RunStatus::Cancelled),
                        Err(_) => RunStatus::Cancelled,
                    };
                    match status {
                        RunStatus::Cancelled => Ok(status),
                        other => Err(CancelError::AlreadyFinished { run_id, status: other }),
                    }
                }
                .into_actor(self),
            );
        }
        let deps = Arc::clone(&self.deps);
        Box::pin(
            async move { cancel_not_active(&deps.run.store, &deps.run.instance_id, run_id).await }
                .into_actor(self)
                .map(|result, act, _| {
                    match result? {
                        CancelPath::ClaimedHere(id) => {
                            if let Some(active) = act.active.get(&id) {
                                active.stop.send_replace(Some(StopReason::Cancel));
                            } else {
                                act.pending_cancels.insert(id);
                            }
                        }
                        CancelPath::WasQueued(run_id) => act.cancelled_while_queued(run_id),
                        CancelPath::Remote => {}
                    }
                    Ok(RunStatus::Cancelled)
                }),
        )
    }
}

impl Handler<CancelQueuedRun> for RunSupervisor {
    type Result = ResponseActFuture<Self, Result<bool, crate::store::StoreError>>;

    fn handle(&mut self, msg: CancelQueuedRun, _: &mut Context<Self>) -> Self::Result {
        let store = self.deps.run.store.clone();
        let run_id = msg.0;
        Box::pin(
            async move {
                cancel_if_queued(&store, &run_id)
                    .await
                    .map(|done| done.then_some(run_id))
            }
            .into_actor(self)
            .map(|result, act, _| {
                let cancelled = result?;
                let was_queued = cancelled.is_some();
                if let Some(run_id) = cancelled {
                    act.cancelled_while_queued(run_id);
                }
                Ok(was_queued)
            }),
        )
    }
}

impl Handler<RetryRun> for RunSupervisor {
    type Result = AtomicResponse<Self, Result<Run, RetryError>>;

    fn handle(&mut self, msg: RetryRun, _: &mut Context<Self>) -> Self::Result {
        let draining = self.drain_deadline.is_some();
        let deps = Arc::clone(&self.deps);
        // Atomic like admission: the queue's room is checked one request at a time.
        AtomicResponse::new(Box::pin(
            async move {
                if draining {
                    return Err(AdmissionError::ShuttingDown.into());
                }
                readmit_failed(&deps.run.store, &deps.run.settings, &msg.0).await
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                let readmitted = result?;
                let run = readmitted.run;
                act.deps.hub.do_send(OpenRunLog {
                    run_id: run.run_id.clone(),
                    next_seq: readmitted.next_seq,
                });
                let reused: Vec<&str> = readmitted.reused.iter().map(|s| s.as_str()).collect();
                act.deps.run.run_log(&run.run_id).info(format!(
                    "run queued by request as retry {} of failed run {} (position {} in queue); it reuses the stages that run completed ({}) and runs the rest",
                    run.retry_count,
                    readmitted.retry_of,
                    readmitted.queued_before + 1,
                    if reused.is_empty() { "none".to_owned() } else { reused.join(", ") }
                ));
                act.release_log_if_shared(&run.run_id);
                act.stats.queued.store(readmitted.queued_before + 1, Ordering::SeqCst);
                ctx.notify(Pump);
                Ok(run)
            }),
        ))
    }
}

impl Handler<Drain> for RunSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.drain_deadline = Some(msg.deadline);
        self.stats.draining.store(true, Ordering::SeqCst);
        // Other runners and the operator see the drain at once.
        self.beat(ctx);
        for active in self.active.values() {
            active
                .stop
                .send_replace(Some(StopReason::Drain { deadline: msg.deadline }));
        }
        if self.active.is_empty() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.drain_waiters.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
