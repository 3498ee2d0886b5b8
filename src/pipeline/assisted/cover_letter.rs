//! The cover letter from the model, held to COMPAT.md's gate: 3–4 paragraphs, 220–380
//! words, the company named, a metric from the master CV and no number from anywhere else.

use super::bullet_list;
use crate::domain::outputs::{CoverLetterOutput, PainPointsOutput, ResearchOutput};
use crate::domain::JobPosting;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;
use crate::pipeline::master_cv::MasterCv;

impl AnswerShape for CoverLetterOutput {
    fn schema() -> serde_json::Value {
        schema::object(&[("cover_letter", schema::string())])
    }
}

/// Asks the model for the cover letter.
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    job: &JobPosting,
    master: &MasterCv,
    pains: &PainPointsOutput,
    research: &ResearchOutput,
) -> Result<CoverLetterOutput, Fallback> {
    let cv = llm.fit_input(scope, "master CV", &master.text, 0.7);
    let company = llm.fit_input(scope, "company research", &research.company_research.summary, 0.1);
    llm.ask::<CoverLetterOutput, _>(
        scope,
        "cover_letter",
        &[
            ("company", &job.company),
            ("title", &job.title),
            ("company_summary", &company),
            ("pain_points", &bullet_list(&pains.pain_points)),
            ("master_cv", &cv),
        ],
        2,
        |out| gates::check_cover_letter(out, &job.company, &job.title_and_text(), master).map_err(|g| g.0),
    )
    .await
}
