//! The stage implementations the daemon wires into its stage actors. For now every stage
//! is the offline one; the LLM-backed variants slot in behind the same [`Stage`] trait.

pub mod publisher;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Datelike;

use crate::domain::StageName;
use crate::pipeline::offline;
use crate::pipeline::stage::{dependency, offline_result, Stage, StageContext, StageError, StageResult};

pub use publisher::Publisher;

/// Pain points from the posting.
pub struct OfflinePainPoints;
/// Research from the posting.
pub struct OfflineResearch;
/// Fit score by lexical evidence.
pub struct OfflineFitScore;
/// CV re-ordered and trimmed.
pub struct OfflineCv;
/// Cover letter from the CV's evidence.
pub struct OfflineCoverLetter;

fn non_empty_posting(ctx: &StageContext) -> Result<(), StageError> {
    if ctx.job.full_text().split_whitespace().count() < 3 {
        return Err(StageError::permanent(format!(
            "job {} has no usable job_description (fewer than 3 words)",
            ctx.job.id
        )));
    }
    Ok(())
}

#[async_trait]
impl Stage for OfflinePainPoints {
    fn name(&self) -> StageName {
        StageName::PainPoints
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        non_empty_posting(ctx)?;
        let out = offline::pain_points::mine(&ctx.job);
        ctx.log.info(format!(
            "mined {} pain points, {} strategic needs",
            out.pain_points.len(),
            out.strategic_needs.len()
        ));
        offline_result(&out)
    }
}

#[async_trait]
impl Stage for OfflineResearch {
    fn name(&self) -> StageName {
        StageName::Research
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        non_empty_posting(ctx)?;
        let out = offline::research::research(&ctx.job);
        ctx.log
            .info("company and role research taken from the posting only (offline: no web research)");
        offline_result(&out)
    }
}

#[async_trait]
impl Stage for OfflineFitScore {
    fn name(&self) -> StageName {
        StageName::FitScore
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let out = offline::fit_score::score(&ctx.job, &ctx.master_cv, chrono::Utc::now().year() as u32);
        ctx.log.info(format!(
            "fit score {} ({}): {} requirements matched, {} missing",
            out.fit_score,
            out.fit_category,
            out.matched_requirements.len(),
            out.missing_requirements.len()
        ));
        offline_result(&out)
    }
}

#[async_trait]
impl Stage for OfflineCv {
    fn name(&self) -> StageName {
        StageName::Cv
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let fit = dependency(&ctx.outputs.fit, StageName::FitScore)?;
        let out = offline::cv::tailor(&ctx.master_cv, pains, fit);
        ctx.log.info(format!(
            "tailored CV: {} words, {} achievements selected",
            crate::pipeline::text::word_count(&out.cv_text),
            out.selected_stars.len()
        ));
        offline_result(&out)
    }
}

#[async_trait]
impl Stage for OfflineCoverLetter {
    fn name(&self) -> StageName {
        StageName::CoverLetter
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let research = dependency(&ctx.outputs.research, StageName::Research)?;
        let fit = dependency(&ctx.outputs.fit, StageName::FitScore)?;
        let out = offline::cover_letter::write(&ctx.job, &ctx.master_cv, pains, research, fit);
        ctx.log.info(format!(
            "cover letter written: {} words",
            crate::pipeline::text::word_count(&out.cover_letter)
        ));
        offline_result(&out)
    }
}

/// The stage set the daemon runs: offline analysis plus the publisher.
pub fn default_stages() -> Vec<Arc<dyn Stage>> {
    vec![
        Arc::new(OfflinePainPoints),
        Arc::new(OfflineResearch),
        Arc::new(OfflineFitScore),
        Arc::new(OfflineCv),
        Arc::new(OfflineCoverLetter),
        Arc::new(Publisher),
    ]
}
