//! Operations run part of the stage graph. Before a run of an operation starts, every
//! stage it needs but does not execute takes the job's latest completed output from an
//! earlier run (any runner's: the store is shared), checkpointed in this run with producer
//! `reused` and the source run, so progress, the log and the dossier say where it came
//! from. A needed stage whose output was never produced for the job is executed too, and
//! the log says so. The publisher always runs: the dossier holds every stage.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::domain::outputs::{Provenance, StageOutputs};
use crate::domain::{Operation, Run, StageName, StageProducer};
use crate::runlog::RunLog;
use crate::store::{retry_transient, DynStore};

/// What [`prepare`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReusePlan {
    /// Stages this run executes (those already checkpointed by an earlier attempt aside).
    pub execute: BTreeSet<StageName>,
    /// Stages taken from earlier runs.
    pub reused: BTreeSet<StageName>,
}

/// Fills `outputs` with the outputs `op` reuses (see the module docs) and returns the plan.
/// Stages already in `outputs` (checkpoints of an earlier attempt of this run) stay as they
/// are.
pub async fn prepare(
    store: &DynStore,
    run: &Run,
    op: Operation,
    outputs: &mut StageOutputs,
    log: &RunLog,
) -> Result<ReusePlan, String> {
    let stages = op
        .stages()
        .ok_or_else(|| format!("operation {op} is not one job-runner executes"))?;
    let mut plan = ReusePlan {
        execute: stages.iter().copied().chain([StageName::Publisher]).collect(),
        reused: BTreeSet::new(),
    };
    if op == Operation::FULL_RUN {
        return Ok(plan);
    }
    loop {
        let needed: BTreeSet<StageName> = plan
            .execute
            .iter()
            .flat_map(|s| s.dependencies())
            .copied()
            .filter(|d| !plan.execute.contains(d) && !outputs.has(*d))
            .collect();
        if needed.is_empty() {
            break;
        }
        for stage in needed {
            let found = retry_transient("latest_stage_output", || {
                store.latest_stage_output(&run.job_id, stage, &run.run_id)
            })
            .await
            .map_err(|e| format!("could not look up earlier outputs of stage {stage}: {e}"))?;
            let Some((holder, record)) = found else {
                log.info(format!(
                    "stage {stage} has no earlier output for job {}: operation {op} runs it too",
                    run.job_id
                ));
                plan.execute.insert(stage);
                continue;
            };
            // Credit the run that produced it, also when that run reused it itself.
            let source = match record.producer {
                Some(StageProducer::Reused) => record.source_run.clone().unwrap_or(holder),
                _ => holder,
            };
            let output = record.output.unwrap_or_default();
            outputs
                .insert(stage, output.clone())
                .map_err(|e| format!("the earlier output of stage {stage} (run {source}) is unreadable: {e}"))?;
            let provenance = Provenance {
                producer: StageProducer::Reused,
                model: record.model.clone(),
                source_run: Some(source.clone()),
            };
            retry_transient("stage_completed", || {
                store.stage_completed(
                    &run.run_id,
                    stage,
                    &provenance,
                    &output,
                    chrono::Utc::now(),
                    Duration::ZERO,
                )
            })
            .await
            .map_err(|e| format!("could not checkpoint the reused output of stage {stage}: {e}"))?;
            log.info(format!(
                "stage {stage} reused from run {source} (operation {op} does not run it)"
            ));
            outputs.provenance.insert(stage, provenance);
            plan.reused.insert(stage);
        }
    }
    log.info(format!(
        "operation {op}: running {}",
        plan.execute
            .iter()
            .filter(|s| !outputs.has(**s))
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(plan)
}
