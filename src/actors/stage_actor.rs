//! StageActor: one per stage, a thin shell with an address around the stage
//! implementation. It executes its stage for any run under
//! [`crate::pipeline::execution::run_guarded`] (own task, panic captured,
//! aborted on cancel); [`StageSet`] is the DAG's [`StageExecutor`] in the daemon.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::messages::ExecuteStage;
use crate::config::FaultRule;
use crate::domain::StageName;
use crate::pipeline::execution::{run_guarded, unregistered, with_faults, StageExecutor};
use crate::pipeline::stage_contract::{Stage, StageContext, StageError, StageResult};

/// Executes one stage.
pub struct StageActor {
    stage: Arc<dyn Stage>,
}

impl Actor for StageActor {
    type Context = Context<Self>;
}

impl Handler<ExecuteStage> for StageActor {
    type Result = ResponseFuture<Result<StageResult, StageError>>;

    fn handle(&mut self, msg: ExecuteStage, _: &mut Context<Self>) -> Self::Result {
        Box::pin(run_guarded(Arc::clone(&self.stage), msg.ctx, msg.cancel))
    }
}

/// The started stage actors, by stage.
#[derive(Clone)]
pub struct StageSet(HashMap<StageName, Addr<StageActor>>);

impl StageSet {
    /// Starts one actor per stage implementation (on the current arbiter), each stage
    /// wrapped for `OFFLINE_STAGE_DELAY_MS` and the test-only fault rules.
    pub fn start(stages: Vec<Arc<dyn Stage>>, delay: Duration, faults: &[FaultRule]) -> Self {
        let map = with_faults(stages, delay, faults)
            .into_iter()
            .map(|stage| (stage.name(), StageActor { stage }.start()))
            .collect();
        Self(map)
    }
}

#[async_trait]
impl StageExecutor for StageSet {
    async fn execute(
        &self,
        stage: StageName,
        ctx: Arc<StageContext>,
        cancel: CancellationToken,
    ) -> Result<StageResult, StageError> {
        match self.0.get(&stage) {
            Some(addr) => addr
                .send(ExecuteStage { ctx, cancel })
                .await
                .unwrap_or_else(|e| Err(StageError::transient(format!("stage actor unavailable: {e}")))),
            None => Err(unregistered(stage)),
        }
    }
}
