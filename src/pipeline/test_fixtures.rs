//! Fixtures for the pipeline's unit tests: the example posting and master CV, and a stage
//! context over a real SQLite store, logging into a [`MemorySink`]. No actor system.

use std::sync::Arc;
use std::time::Duration;

use super::builtin_stages::{default_stages, StageServices};
use super::master_cv::MasterCv;
use super::stage_contract::{Stage, StageContext};
use crate::config::Settings;
use crate::domain::outputs::StageOutputs;
use crate::domain::{JobId, JobPosting, RunId, StageName};
use crate::runlog::{MemorySink, RunLog};

/// The example backend posting (`examples/postings/backend-engineer.json`).
pub fn example_job() -> JobPosting {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/postings/backend-engineer.json")).unwrap();
    let mut job = JobPosting::from_document(doc.as_object().unwrap(), false).unwrap();
    job.id = JobId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
    job
}

/// The example master CV (`examples/master-cv.md`).
pub fn example_master() -> MasterCv {
    MasterCv::parse(include_str!("../../examples/master-cv.md")).unwrap()
}

/// The daemon's stages with no model and no FireCrawl: every stage offline.
pub fn offline_stages() -> Vec<Arc<dyn Stage>> {
    default_stages(&StageServices {
        llm: None,
        firecrawl: None,
        outreach: false,
        star_selector: false,
    })
}

/// A log handle for `run_id` writing into `sink`, masking nothing.
pub fn memory_log(run_id: &RunId, sink: &Arc<MemorySink>) -> RunLog {
    RunLog::new(run_id.clone(), sink.clone(), crate::runlog::no_mask())
}

/// A context for `stage` of a run of `job`, with the outputs so far.
pub fn context(
    settings: &Arc<Settings>,
    job: &Arc<JobPosting>,
    outputs: &StageOutputs,
    stage: StageName,
    sink: &Arc<MemorySink>,
) -> StageContext {
    let run_id = RunId::generate();
    StageContext {
        log: memory_log(&run_id, sink).for_stage(stage),
        run_id,
        job: Arc::clone(job),
        master_cv: Arc::new(example_master()),
        outputs: outputs.clone(),
        settings: Arc::clone(settings),
        spend: Arc::new(crate::llm::run_spend::RunSpend::new(0.5, 0.0, 0)),
        deadline: tokio::time::Instant::now() + Duration::from_secs(60),
        options: Default::default(),
        tier: Default::default(),
    }
}
