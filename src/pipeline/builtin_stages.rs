//! The stage implementations the daemon wires into its stage actors. Each analysis stage
//! asks the configured model when there is one and falls back to its deterministic offline
//! implementation when there is none, when the run's budget is spent, when the provider
//! fails or its circuit is open, or when the answers never pass the gate. The producer
//! (`llm`, `offline`, `offline_fallback`) is recorded with the output.

pub mod publisher;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Datelike;
use serde::Serialize;

use crate::domain::outputs::ResearchOutput;
use crate::domain::{StageName, StageProducer};
use crate::firecrawl::{person_of, Firecrawl};
use crate::llm::service::{Fallback, LlmService};
use crate::pipeline::assisted;
use crate::pipeline::offline;
use crate::pipeline::stage_contract::{dependency, stage_result, Stage, StageContext, StageError, StageResult};

pub use publisher::Publisher;

/// The posting read into its structured parts.
pub struct ExtractStage {
    pub llm: Option<Arc<LlmService>>,
}
/// A hiring manager's first read of the tailored CV.
pub struct CvReviewStage {
    pub llm: Option<Arc<LlmService>>,
}
/// Pain points from the posting.
pub struct PainPointsStage {
    pub llm: Option<Arc<LlmService>>,
}
/// Company and role research, contacts.
pub struct ResearchStage {
    pub llm: Option<Arc<LlmService>>,
    pub firecrawl: Option<Arc<Firecrawl>>,
    /// Contact discovery through FireCrawl (off with `DISABLE_FIRECRAWL_OUTREACH`).
    pub outreach: bool,
}
/// Fit score.
pub struct FitScoreStage {
    pub llm: Option<Arc<LlmService>>,
}
/// Tailored CV.
pub struct CvStage {
    pub llm: Option<Arc<LlmService>>,
    /// `ENABLE_STAR_SELECTOR`.
    pub star_selector: bool,
}
/// Cover letter.
pub struct CoverLetterStage {
    pub llm: Option<Arc<LlmService>>,
}

fn non_empty_posting(ctx: &StageContext) -> Result<(), StageError> {
    if ctx.job.full_text().split_whitespace().count() < 3 {
        return Err(StageError::permanent(format!(
            "job {} has no usable job_description (fewer than 3 words)",
            ctx.job.id
        )));
    }
    Ok(())
}

/// The model to ask, unless an earlier call of this run spent the budget.
fn usable<'a>(ctx: &StageContext, llm: &'a Option<Arc<LlmService>>) -> Option<&'a LlmService> {
    let llm = llm.as_deref()?;
    if !ctx.options.use_llm {
        ctx.log
            .info("use_llm is false for this run: this stage runs offline, no model is asked");
        return None;
    }
    if ctx.spend.is_exhausted() {
        match ctx.spend.closed_because() {
            Some(reason) => ctx.log.warn(format!("this stage runs offline: {reason}")),
            None => ctx
                .log
                .warn("LLM budget of this run (MAX_COST_PER_RUN) is spent: this stage runs offline"),
        }
        return None;
    }
    Some(llm)
}

/// The model's output when it gave one, else the offline one (a fallback says why), with
/// who produced it.
fn choose<T>(
    ctx: &StageContext,
    llm: Option<&LlmService>,
    stage: StageName,
    attempt: Option<Result<T, Fallback>>,
    offline: impl FnOnce() -> T,
) -> (StageProducer, T) {
    match attempt {
        Some(Ok(v)) => {
            if let Some(l) = llm {
                ctx.log.info(format!(
                    "output produced by {}/{}",
                    l.provider(),
                    l.model_for(stage, Some(ctx.tier.class))
                ));
            }
            (StageProducer::Llm, v)
        }
        Some(Err(fallback)) => {
            let why = match &fallback {
                Fallback::Budget(_) => "budget",
                Fallback::Provider(_) => "provider",
                Fallback::Invalid(_) => "invalid output",
            };
            ctx.log.warn(format!(
                "falling back to the offline implementation ({why}): {fallback}"
            ));
            (StageProducer::OfflineFallback, offline())
        }
        None => (StageProducer::Offline, offline()),
    }
}

/// [`choose`], serialised into the stage's result.
fn settle<T: Serialize>(
    ctx: &StageContext,
    llm: Option<&LlmService>,
    stage: StageName,
    attempt: Option<Result<T, Fallback>>,
    offline: impl FnOnce() -> T,
) -> Result<StageResult, StageError> {
    let (producer, output) = choose(ctx, llm, stage, attempt, offline);
    with_model(ctx, stage_result(producer, &output), llm, stage)
}

/// Names the stage's model on a result the model produced.
fn with_model(
    ctx: &StageContext,
    result: Result<StageResult, StageError>,
    llm: Option<&LlmService>,
    stage: StageName,
) -> Result<StageResult, StageError> {
    result.map(|mut r| {
        if r.producer == StageProducer::Llm {
            r.model = llm.map(|l| format!("{}/{}", l.provider(), l.model_for(stage, Some(ctx.tier.class))));
        }
        r
    })
}

#[async_trait]
impl Stage for ExtractStage {
    fn name(&self) -> StageName {
        StageName::Extract
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        non_empty_posting(ctx)?;
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => Some(assisted::extract::ask(l, &ctx.call_scope(self.name()), &ctx.job).await),
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || offline::extract::extract(&ctx.job))?;
        let n = |k: &str| res.output.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
        ctx.log.info(format!(
            "Extracted {} responsibilities, {} must-haves, {} nice-to-haves and {} technical skills (role category {}, seniority {})",
            n("responsibilities"),
            n("qualifications"),
            n("nice_to_haves"),
            n("technical_skills"),
            res.output["role_category"].as_str().unwrap_or("?"),
            res.output["seniority_level"].as_str().unwrap_or("?"),
        ));
        Ok(res)
    }
}

#[async_trait]
impl Stage for CvReviewStage {
    fn name(&self) -> StageName {
        StageName::CvReview
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let jd = dependency(&ctx.outputs.extract, StageName::Extract)?;
        let cv = dependency(&ctx.outputs.cv, StageName::Cv)?;
        let reviewed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let base = offline::cv_review::review(
            &offline::cv_review::ReviewInput {
                cv,
                master: &ctx.master_cv,
                jd,
                pains: ctx.outputs.pain_points.as_ref(),
            },
            &reviewed_at,
        );
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => {
                let model = format!("{}/{}", l.provider(), l.model_for(self.name(), Some(ctx.tier.class)));
                Some(
                    assisted::cv_review::ask(
                        l,
                        &ctx.call_scope(self.name()),
                        &assisted::cv_review::ReviewRequest {
                            posting: &ctx.job.title_and_text(),
                            must_haves: &jd.qualifications,
                            cv_text: &cv.cv_text,
                            master: &ctx.master_cv,
                            base: &base,
                            model: &model,
                        },
                    )
                    .await,
                )
            }
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || base.clone())?;
        ctx.log.info(format!(
            "CV review: {} (first impression {}/10, would interview: {})",
            res.output["verdict"].as_str().unwrap_or("?"),
            res.output["first_impression_score"],
            res.output["would_interview"]
        ));
        Ok(res)
    }
}

#[async_trait]
impl Stage for PainPointsStage {
    fn name(&self) -> StageName {
        StageName::PainPoints
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        non_empty_posting(ctx)?;
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => Some(
                assisted::pain_points::ask(l, &ctx.call_scope(self.name()), &ctx.job, ctx.outputs.extract.as_ref())
                    .await,
            ),
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || offline::pain_points::mine(&ctx.job))?;
        let n = |k: &str| res.output.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
        ctx.log.info(format!(
            "mined {} pain points, {} strategic needs",
            n("pain_points"),
            n("strategic_needs")
        ));
        Ok(res)
    }
}

impl ResearchStage {
    /// Pages about the company (empty without FireCrawl or when it fails).
    async fn sources(&self, ctx: &StageContext) -> Vec<crate::firecrawl::Page> {
        let Some(fc) = &self.firecrawl else {
            return Vec::new();
        };
        let query = format!("\"{}\" company news funding product", ctx.job.company);
        match fc
            .search(&query, 5, &ctx.spend, &ctx.log, ctx.options.force_refresh)
            .await
        {
            Ok(pages) => {
                ctx.log.info(format!(
                    "web research: {} source page(s) about {}",
                    pages.len(),
                    ctx.job.company
                ));
                pages
            }
            Err(e) => {
                ctx.log.warn(format!("web research skipped: {e}"));
                Vec::new()
            }
        }
    }

    /// People found by a public-profile search (empty when discovery is off or fails).
    async fn discover(&self, ctx: &StageContext, focus: &str) -> Vec<crate::domain::outputs::Contact> {
        let Some(fc) = self.firecrawl.as_ref().filter(|_| self.outreach) else {
            return Vec::new();
        };
        let query = format!(
            "site:linkedin.com/in \"{}\" (\"hiring manager\" OR recruiter OR \"{}\")",
            ctx.job.company, ctx.job.title
        );
        match fc
            .search(&query, 10, &ctx.spend, &ctx.log, ctx.options.force_refresh)
            .await
        {
            Ok(pages) => {
                let mut seen = std::collections::BTreeSet::new();
                let people: Vec<_> = pages
                    .iter()
                    .filter_map(|p| person_of(p).map(|(name, role)| (name, role, p.url.clone())))
                    .filter(|(name, _, _)| seen.insert(name.to_lowercase()))
                    .take(4)
                    .map(|(name, role, url)| offline::contacts::discovered(&ctx.job, &name, &role, &url, focus))
                    .collect();
                ctx.log
                    .info(format!("people search found {} person(s) to address", people.len()));
                people
            }
            Err(e) => {
                ctx.log.warn(format!("people search skipped: {e}"));
                Vec::new()
            }
        }
    }
}

#[async_trait]
impl Stage for ResearchStage {
    fn name(&self) -> StageName {
        StageName::Research
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        non_empty_posting(ctx)?;
        let base = offline::research::research(&ctx.job);
        let llm = usable(ctx, &self.llm);
        // Pages only help a model; the offline research reads the posting alone.
        let sources = match llm {
            Some(_) => self.sources(ctx).await,
            None => Vec::new(),
        };
        let attempt = match llm {
            Some(l) => Some(assisted::research::ask(l, &ctx.call_scope(self.name()), &ctx.job, &sources).await),
            None => None,
        };
        let focus = base
            .role_research
            .business_impact
            .first()
            .cloned()
            .unwrap_or_else(|| ctx.job.title.clone());
        let people = self.discover(ctx, &focus).await;
        let merge = |(company, role): (
            crate::domain::outputs::CompanyResearch,
            crate::domain::outputs::RoleResearch,
        )| {
            ResearchOutput {
                company_research: company,
                role_research: role,
                ..base.clone()
            }
        };
        let (producer, mut out) = choose(ctx, llm, self.name(), attempt.map(|a| a.map(merge)), || base.clone());
        if !people.is_empty() {
            out.primary_contacts = people;
            out.contacts_are_role_based = false;
        } else if self.firecrawl.is_none() || !self.outreach {
            ctx.log
                .info("contacts are role-based: FIRECRAWL_API_KEY is not set or DISABLE_FIRECRAWL_OUTREACH is on");
        }
        // Drafts from the model when it wrote the research; the template drafts otherwise.
        if let Some(l) = llm.filter(|_| producer == StageProducer::Llm && !ctx.spend.is_exhausted()) {
            match assisted::outreach::ask(l, &ctx.call_scope(self.name()), &ctx.job, &ctx.master_cv, &out).await {
                Ok(contacts) => {
                    ctx.log.info(format!(
                        "outreach drafts for {} contact(s) written by the model",
                        contacts.len()
                    ));
                    out.primary_contacts = contacts;
                }
                Err(why) => ctx.log.warn(format!(
                    "outreach drafts by the model rejected ({why}); keeping the template drafts"
                )),
            }
        }
        // The tier decides how many contacts the package keeps.
        if let Some(n) = ctx.tier.contacts {
            let kept = n.max(1);
            if out.primary_contacts.len() > kept || out.secondary_contacts.len() > kept {
                out.primary_contacts.truncate(kept);
                out.secondary_contacts.truncate(kept);
                ctx.log
                    .info(format!("the run's tier keeps {kept} contact(s) of each kind"));
            }
        }
        with_model(ctx, stage_result(producer, &out), llm, self.name())
    }
}

#[async_trait]
impl Stage for FitScoreStage {
    fn name(&self) -> StageName {
        StageName::FitScore
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => {
                Some(assisted::fit_score::ask(l, &ctx.call_scope(self.name()), &ctx.job, &ctx.master_cv, pains).await)
            }
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || {
            let year = chrono::Utc::now().year() as u32;
            match &ctx.outputs.extract {
                Some(jd) => offline::fit_score::score_with(&ctx.job, &ctx.master_cv, jd, year),
                None => offline::fit_score::score(&ctx.job, &ctx.master_cv, year),
            }
        })?;
        ctx.log.info(format!(
            "fit score {} ({})",
            res.output["fit_score"], res.output["fit_category"]
        ));
        Ok(res)
    }
}

#[async_trait]
impl Stage for CvStage {
    fn name(&self) -> StageName {
        StageName::Cv
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let fit = dependency(&ctx.outputs.fit, StageName::FitScore)?;
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => Some(
                assisted::cv::ask(
                    l,
                    &ctx.call_scope(self.name()),
                    &ctx.master_cv,
                    pains,
                    fit,
                    self.star_selector,
                )
                .await,
            ),
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || {
            offline::cv::tailor(&ctx.master_cv, pains, fit)
        })?;
        ctx.log.info(format!(
            "tailored CV: {} words, {} achievements selected",
            crate::pipeline::text::word_count(res.output["cv_text"].as_str().unwrap_or("")),
            res.output["selected_stars"].as_array().map_or(0, Vec::len)
        ));
        Ok(res)
    }
}

#[async_trait]
impl Stage for CoverLetterStage {
    fn name(&self) -> StageName {
        StageName::CoverLetter
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let research = dependency(&ctx.outputs.research, StageName::Research)?;
        let fit = dependency(&ctx.outputs.fit, StageName::FitScore)?;
        let llm = usable(ctx, &self.llm);
        let attempt = match llm {
            Some(l) => Some(
                assisted::cover_letter::ask(
                    l,
                    &ctx.call_scope(self.name()),
                    &ctx.job,
                    &ctx.master_cv,
                    pains,
                    research,
                )
                .await,
            ),
            None => None,
        };
        let res = settle(ctx, llm, self.name(), attempt, || {
            offline::cover_letter::write(&ctx.job, &ctx.master_cv, pains, research, fit)
        })?;
        ctx.log.info(format!(
            "cover letter written: {} words",
            crate::pipeline::text::word_count(res.output["cover_letter"].as_str().unwrap_or(""))
        ));
        Ok(res)
    }
}

/// What the stages may use besides the run's own inputs.
#[derive(Clone, Default)]
pub struct StageServices {
    pub llm: Option<Arc<LlmService>>,
    pub firecrawl: Option<Arc<Firecrawl>>,
    pub outreach: bool,
    pub star_selector: bool,
}

/// The stage set the daemon runs: the analysis stages (with the model when configured)
/// plus the publisher.
pub fn default_stages(services: &StageServices) -> Vec<Arc<dyn Stage>> {
    let llm = || services.llm.clone();
    vec![
        Arc::new(ExtractStage { llm: llm() }),
        Arc::new(PainPointsStage { llm: llm() }),
        Arc::new(ResearchStage {
            llm: llm(),
            firecrawl: services.firecrawl.clone(),
            outreach: services.outreach,
        }),
        Arc::new(FitScoreStage { llm: llm() }),
        Arc::new(CvStage {
            llm: llm(),
            star_selector: services.star_selector,
        }),
        Arc::new(CvReviewStage { llm: llm() }),
        Arc::new(CoverLetterStage { llm: llm() }),
        Arc::new(Publisher),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Settings;
    use crate::domain::outputs::StageOutputs;
    use crate::domain::StageProducer;
    use crate::pipeline::gates;
    use crate::pipeline::test_fixtures::{context, example_job, example_master, offline_stages};
    use crate::runlog::MemorySink;

    /// Each stage's offline path, called directly in dependency order (no actor, no DAG):
    /// producer `offline`, output accepted by the stage's gate, a log line said what it did.
    #[tokio::test]
    async fn every_offline_stage_produces_gated_output_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Arc::new(Settings::for_root(dir.path()));
        let job = Arc::new(example_job());
        let master = example_master();
        let stages = offline_stages();
        let mut outputs = StageOutputs::default();
        for name in StageName::ALL {
            let stage = stages.iter().find(|s| s.name() == name).expect("every stage is wired");
            let sink = Arc::new(MemorySink::default());
            let ctx = context(&settings, &job, &outputs, name, &sink);
            let res = stage.run(&ctx).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(res.producer, StageProducer::Offline, "{name}");
            outputs.insert(name, res.output).unwrap();
            gates::check_stage(name, &outputs, &job, &master).unwrap_or_else(|v| panic!("{name}: {v}"));
            assert!(!sink.messages().is_empty(), "{name} logged nothing");
        }
        // The publisher wrote the package for the user.
        let published: Vec<_> = walk(&settings.paths.applications_dir);
        assert!(published.iter().any(|p| p.ends_with("CV.docx")), "{published:?}");
    }

    /// A stage that needs the posting refuses an empty one with a permanent error.
    #[tokio::test]
    async fn an_empty_posting_is_refused_permanently() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Arc::new(Settings::for_root(dir.path()));
        let mut job = example_job();
        job.job_description = "   ".into();
        let job = Arc::new(job);
        let sink = Arc::new(MemorySink::default());
        let stage = offline_stages()
            .into_iter()
            .find(|s| s.name() == StageName::PainPoints)
            .unwrap();
        let ctx = context(&settings, &job, &StageOutputs::default(), StageName::PainPoints, &sink);
        let err = stage.run(&ctx).await.unwrap_err();
        assert_eq!(
            err.kind,
            crate::pipeline::stage_contract::StageErrorKind::Permanent,
            "{err}"
        );
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
