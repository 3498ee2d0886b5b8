//! Fit score from the model: the score and rationale are the model's, the category is
//! derived from the score (never taken from the model), and every requirement it claims as
//! matched must have evidence in the master CV.

use serde::Deserialize;

use super::bullet_list;
use crate::domain::outputs::{fit_category, FitOutput, PainPointsOutput};
use crate::domain::JobPosting;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text;

/// The model's answer.
#[derive(Debug, Deserialize)]
pub struct FitAnswer {
    pub fit_score: f64,
    pub fit_rationale: String,
    #[serde(default)]
    pub matched_requirements: Vec<String>,
    #[serde(default)]
    pub missing_requirements: Vec<String>,
}

impl AnswerShape for FitAnswer {
    fn schema() -> serde_json::Value {
        schema::object(&[
            ("fit_score", schema::integer()),
            ("fit_rationale", schema::string()),
            ("matched_requirements", schema::strings()),
            ("missing_requirements", schema::strings()),
        ])
    }
}

impl FitAnswer {
    /// The stage output, category derived from the score.
    pub fn to_output(&self) -> FitOutput {
        let score = self.fit_score.round().clamp(0.0, 100.0) as u8;
        FitOutput {
            fit_score: score,
            fit_rationale: self.fit_rationale.trim().to_owned(),
            fit_category: fit_category(score).to_owned(),
            matched_requirements: self.matched_requirements.clone(),
            missing_requirements: self.missing_requirements.clone(),
            evidence: Vec::new(),
        }
    }
}

/// Problems of an answer: out-of-range score, the fit gate, matches without evidence.
pub fn problems(a: &FitAnswer, master: &MasterCv, posting: &str) -> Vec<String> {
    let mut v = Vec::new();
    if !(0.0..=100.0).contains(&a.fit_score) {
        v.push(format!("fit_score must be an integer 0–100, got {}", a.fit_score));
    }
    if let Err(g) = gates::check_fit(&a.to_output()) {
        v.extend(g.0);
    }
    v.extend(gates::quote_problems(
        "fit_rationale",
        &a.fit_rationale,
        posting,
        master,
    ));
    let cv_words = text::token_set(&master.evidence());
    for m in &a.matched_requirements {
        if text::token_set(m).is_disjoint(&cv_words) {
            v.push(format!(
                "matched requirement {m:?} has no evidence in the master CV; list it as missing"
            ));
        }
    }
    v
}

/// Asks the model to score the fit.
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    job: &JobPosting,
    master: &MasterCv,
    pains: &PainPointsOutput,
) -> Result<FitOutput, Fallback> {
    let posting = llm.fit_input(scope, "posting", &job.full_text(), 0.4);
    let cv = llm.fit_input(scope, "master CV", &master.text, 0.5);
    let answer = llm
        .ask::<FitAnswer, _>(
            scope,
            "fit_score",
            &[
                ("posting", &posting),
                ("pain_points", &bullet_list(&pains.pain_points)),
                ("master_cv", &cv),
            ],
            2,
            |a| super::verdict(problems(a, master, &job.title_and_text())),
        )
        .await?;
    let mut out = answer.to_output();
    // The CV line behind each matched requirement, by the same matcher the offline score uses.
    let lines = crate::pipeline::evidence::lines_of(&master.evidence());
    out.evidence = out
        .matched_requirements
        .iter()
        .filter_map(|r| {
            crate::pipeline::evidence::Need::new(r).best(&lines).map(|(l, _)| {
                crate::domain::outputs::RequirementEvidence {
                    requirement: r.clone(),
                    cv_line: l.text.clone(),
                }
            })
        })
        .collect();
    Ok(out)
}
