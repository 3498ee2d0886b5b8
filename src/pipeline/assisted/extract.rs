//! JD extraction by the model: the typed `extracted_jd`, checked by the extraction gate
//! (every item in the posting's words or grounded in them, every skill named by the
//! posting, years the posting states) and by the vocabularies the rest of the pipeline
//! reads (`role_category` one of the profession families, a known seniority).

use crate::domain::outputs::ExtractedJd;
use crate::domain::JobPosting;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;
use crate::pipeline::profession::{self, Family};

impl AnswerShape for ExtractedJd {
    fn schema() -> serde_json::Value {
        schema::object(&[
            ("role_category", schema::string()),
            ("seniority_level", schema::string()),
            ("responsibilities", schema::strings()),
            ("qualifications", schema::strings()),
            ("nice_to_haves", schema::strings()),
            ("technical_skills", schema::strings()),
            ("soft_skills", schema::strings()),
            ("top_keywords", schema::strings()),
            ("implied_pain_points", schema::strings()),
            ("success_metrics", schema::strings()),
            ("years_experience_required", schema::optional_integer()),
            ("education_requirements", schema::optional_string()),
        ])
    }
}

/// The role categories the model may answer with.
pub fn categories() -> String {
    Family::ALL
        .iter()
        .map(|f| f.as_str())
        .chain(["other"])
        .collect::<Vec<_>>()
        .join(", ")
}

/// Problems of an answer.
pub fn problems(jd: &ExtractedJd, posting: &str) -> Vec<String> {
    let mut v = gates::check_extract(jd, posting).err().map(|g| g.0).unwrap_or_default();
    if jd.role_category != "other" && Family::parse(&jd.role_category).is_none() {
        v.push(format!(
            "role_category must be one of {}; got {:?}",
            categories(),
            jd.role_category
        ));
    }
    if jd.qualifications.is_empty() && jd.responsibilities.is_empty() {
        v.push("qualifications and responsibilities are both empty; list what the posting asks for".into());
    }
    v
}

/// Asks the model to read the posting.
pub async fn ask(llm: &LlmService, scope: &CallScope<'_>, job: &JobPosting) -> Result<ExtractedJd, Fallback> {
    let posting = llm.fit_input(scope, "posting", &job.full_text(), 0.9);
    let full = job.title_and_text();
    llm.ask::<ExtractedJd, _>(
        scope,
        "extract",
        &[
            ("title", &job.title),
            ("company", &job.company),
            ("categories", &categories()),
            ("seniorities", &profession::SENIORITY.join(", ")),
            ("posting", &posting),
        ],
        2,
        |jd| super::verdict(problems(jd, &full)),
    )
    .await
}
