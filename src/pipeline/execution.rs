//! Executing one stage, as plain code: the [`StageExecutor`] the DAG runner calls, the
//! guard every execution runs under ([`run_guarded`]: own task, panic captured as a typed
//! error, aborted at once on cancel), the test-only fault injection and demo delay as a
//! wrapper stage ([`FaultyStage`]), and an [`InlineExecutor`] that runs stages without an
//! actor system (tests, tools). The daemon's stage actors implement [`StageExecutor`] by
//! calling [`run_guarded`] for their stage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::stage_contract::{Stage, StageContext, StageError, StageErrorKind, StageResult};
use crate::config::{FaultRule, StageFault};
use crate::domain::StageName;

/// Runs a stage for a run; what the DAG runner calls for every stage execution.
#[async_trait]
pub trait StageExecutor: Send + Sync {
    /// One execution of `stage` (no retry: the DAG retries transient failures). Ends with
    /// a `Cancelled` error as soon as `cancel` fires.
    async fn execute(
        &self,
        stage: StageName,
        ctx: Arc<StageContext>,
        cancel: CancellationToken,
    ) -> Result<StageResult, StageError>;
}

fn panic_text(what: Box<dyn std::any::Any + Send>) -> String {
    what.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| what.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `stage` in its own tokio task: a panic becomes a `Panicked` error (the caller
/// survives), and `cancel` aborts the task at once with a `Cancelled` error.
pub async fn run_guarded(
    stage: Arc<dyn Stage>,
    ctx: Arc<StageContext>,
    cancel: CancellationToken,
) -> Result<StageResult, StageError> {
    let task = tokio::spawn(async move { stage.run(&ctx).await });
    let abort = task.abort_handle();
    tokio::select! {
        _ = cancel.cancelled() => {
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
}

/// A stage with a delay before every execution (`OFFLINE_STAGE_DELAY_MS`, for demos and
/// crash tests) and the test-only fault rules (`Settings::stage_faults`: panic, hang, a
/// number of transient failures, optionally for one job only).
pub struct FaultyStage {
    inner: Arc<dyn Stage>,
    delay: Duration,
    /// Each rule with its remaining transient failures.
    faults: Vec<(FaultRule, AtomicU32)>,
}

impl FaultyStage {
    /// `inner` as is when there is no delay and no rule for it; else wrapped.
    pub fn wrap(inner: Arc<dyn Stage>, delay: Duration, rules: Vec<FaultRule>) -> Arc<dyn Stage> {
        if delay.is_zero() && rules.is_empty() {
            return inner;
        }
        let faults = rules
            .into_iter()
            .map(|f| {
                let n = match f.fault {
                    StageFault::TransientFailures(n) => n,
                    _ => 0,
                };
                (f, AtomicU32::new(n))
            })
            .collect();
        Arc::new(Self { inner, delay, faults })
    }
}

#[async_trait]
impl Stage for FaultyStage {
    fn name(&self) -> StageName {
        self.inner.name()
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let rule = self
            .faults
            .iter()
            .find(|(r, _)| r.job.as_ref().is_none_or(|j| *j == ctx.job.id));
        match rule {
            Some((r, _)) if r.fault == StageFault::Panic => {
                panic!("injected fault: stage {} panics", self.name())
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
        self.inner.run(ctx).await
    }
}

/// Wraps each stage for its delay and fault rules (the publisher gets no delay).
pub fn with_faults(stages: Vec<Arc<dyn Stage>>, delay: Duration, faults: &[FaultRule]) -> Vec<Arc<dyn Stage>> {
    stages
        .into_iter()
        .map(|s| {
            let name = s.name();
            let rules = faults.iter().filter(|f| f.stage == name).cloned().collect();
            let delay = if name == StageName::Publisher {
                Duration::ZERO
            } else {
                delay
            };
            FaultyStage::wrap(s, delay, rules)
        })
        .collect()
}

/// The error for a stage no implementation was registered for.
pub fn unregistered(stage: StageName) -> StageError {
    StageError::permanent(format!("no implementation registered for stage {stage}"))
}

/// Runs stages in the caller's runtime, each under [`run_guarded`]: the DAG without actors.
pub struct InlineExecutor(HashMap<StageName, Arc<dyn Stage>>);

impl InlineExecutor {
    /// An executor for these stage implementations.
    pub fn new(stages: Vec<Arc<dyn Stage>>) -> Self {
        Self(stages.into_iter().map(|s| (s.name(), s)).collect())
    }
}

#[async_trait]
impl StageExecutor for InlineExecutor {
    async fn execute(
        &self,
        stage: StageName,
        ctx: Arc<StageContext>,
        cancel: CancellationToken,
    ) -> Result<StageResult, StageError> {
        match self.0.get(&stage) {
            Some(s) => run_guarded(Arc::clone(s), ctx, cancel).await,
            None => Err(unregistered(stage)),
        }
    }
}
