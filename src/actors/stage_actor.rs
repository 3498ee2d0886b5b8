//! StageActor: one per stage. It owns the stage implementation and executes it for any run
//! in its own tokio task, so a panicking stage becomes a typed error (the actor survives)
//! and a stopped run aborts the task at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::messages::ExecuteStage;
use crate::config::{FaultRule, StageFault};
use crate::domain::StageName;
use crate::pipeline::stage_contract::{Stage, StageError, StageErrorKind, StageResult};

/// Executes one stage.
pub struct StageActor {
    /// The implementation (offline today; LLM-backed later).
    stage: Arc<dyn Stage>,
    /// Added before every execution (`OFFLINE_STAGE_DELAY_MS`), for demos and crash tests.
    delay: Duration,
    /// Test-only fault rules for this stage, each with its remaining transient failures.
    faults: Arc<Vec<(FaultRule, AtomicU32)>>,
}

impl StageActor {
    /// An actor for `stage`.
    pub fn new(stage: Arc<dyn Stage>, delay: Duration, faults: Vec<FaultRule>) -> Self {
        let faults = faults
            .into_iter()
            .map(|f| {
                let n = match f.fault {
                    StageFault::TransientFailures(n) => n,
                    _ => 0,
                };
                (f, AtomicU32::new(n))
            })
            .collect();
        Self {
            stage,
            delay,
            faults: Arc::new(faults),
        }
    }
}

impl Actor for StageActor {
    type Context = Context<Self>;
}

fn panic_text(what: Box<dyn std::any::Any + Send>) -> String {
    what.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| what.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Handler<ExecuteStage> for StageActor {
    type Result = ResponseFuture<Result<StageResult, StageError>>;

    fn handle(&mut self, msg: ExecuteStage, _: &mut Context<Self>) -> Self::Result {
        let stage = Arc::clone(&self.stage);
        let (delay, faults) = (self.delay, Arc::clone(&self.faults));
        Box::pin(async move {
            let ctx = msg.ctx;
            let task = tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let rule = faults
                    .iter()
                    .find(|(r, _)| r.job.as_ref().is_none_or(|j| *j == ctx.job.id));
                match rule {
                    Some((r, _)) if r.fault == StageFault::Panic => {
                        panic!("injected fault: stage {} panics", stage.name())
                    }
                    Some((r, _)) if r.fault == StageFault::Hang => std::future::pending::<()>().await,
                    Some((_, left))
                        if left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok() =>
                    {
                        return Err(StageError::transient("injected fault: transient failure"));
                    }
                    _ => {}
                }
                stage.run(&ctx).await
            });
            let abort = task.abort_handle();
            tokio::select! {
                _ = msg.cancel.cancelled() => {
                    abort.abort();
                    Err(StageError { kind: StageErrorKind::Cancelled, message: "stage stopped: run cancelled".into() })
                }
                joined = task => match joined {
                    Ok(result) => result,
                    Err(e) if e.is_panic() => Err(StageError {
                        kind: StageErrorKind::Panicked,
                        message: format!("stage panicked: {}", panic_text(e.into_panic())),
                    }),
                    Err(_) => Err(StageError { kind: StageErrorKind::Cancelled, message: "stage task was cancelled".into() }),
                },
            }
        })
    }
}

/// The started stage actors, by stage.
#[derive(Clone)]
pub struct StageSet(HashMap<StageName, Addr<StageActor>>);

impl StageSet {
    /// Starts one actor per stage implementation (on the current arbiter).
    pub fn start(stages: Vec<Arc<dyn Stage>>, delay: Duration, faults: &[FaultRule]) -> Self {
        let map = stages
            .into_iter()
            .map(|s| {
                let name = s.name();
                let rules = faults.iter().filter(|f| f.stage == name).cloned().collect();
                let delay = if name == StageName::Publisher {
                    Duration::ZERO
                } else {
                    delay
                };
                (name, StageActor::new(s, delay, rules).start())
            })
            .collect();
        Self(map)
    }

    /// The actor of a stage.
    pub fn get(&self, stage: StageName) -> Option<&Addr<StageActor>> {
        self.0.get(&stage)
    }
}
