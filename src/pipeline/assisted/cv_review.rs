//! The CV review by the model (`CV_REVIEW_MODEL`): its verdict, scores and prose, gated so
//! that every criticism and edit quotes the CV or the posting, every quotation is real, and
//! no number appears that neither the CV nor the posting holds. The counted parts (pain
//! point alignment, keyword coverage, the fact check's flags, the rubric) stay the
//! deterministic review's, so the dashboard's numbers never depend on the model.

use serde::Deserialize;

use super::bullet_list;
use crate::domain::outputs::{CvReviewOutput, TopThird};
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text;

/// The model's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ReviewAnswer {
    pub verdict: String,
    pub would_interview: bool,
    pub confidence: f64,
    pub first_impression_score: i64,
    pub first_impression_summary: String,
    pub headline_verdict: String,
    pub achievements_verdict: String,
    #[serde(default)]
    pub strengths: Vec<String>,
    #[serde(default)]
    pub weaknesses: Vec<String>,
    #[serde(default)]
    pub rewrite_suggestions: Vec<String>,
}

impl AnswerShape for ReviewAnswer {
    fn schema() -> serde_json::Value {
        schema::object(&[
            ("verdict", schema::string()),
            ("would_interview", schema::boolean()),
            ("confidence", schema::number()),
            ("first_impression_score", schema::integer()),
            ("first_impression_summary", schema::string()),
            ("headline_verdict", schema::string()),
            ("achievements_verdict", schema::string()),
            ("strengths", schema::strings()),
            ("weaknesses", schema::strings()),
            ("rewrite_suggestions", schema::strings()),
        ])
    }
}

impl ReviewAnswer {
    /// The review: the model's judgement over the deterministic review's counted parts.
    pub fn merge(&self, base: &CvReviewOutput, model: &str) -> CvReviewOutput {
        let mut out = base.clone();
        out.verdict = self.verdict.trim().to_lowercase();
        out.would_interview = self.would_interview;
        out.confidence = self.confidence;
        out.first_impression_score = self.first_impression_score.clamp(0, 255) as u8;
        out.full_review.strengths = self.strengths.clone();
        out.full_review.weaknesses = self.weaknesses.clone();
        out.full_review.rewrite_suggestions = self.rewrite_suggestions.clone();
        out.full_review.top_third_assessment = TopThird {
            first_impression_summary: self.first_impression_summary.trim().to_owned(),
            headline_verdict: self.headline_verdict.trim().to_owned(),
            achievements_verdict: self.achievements_verdict.trim().to_owned(),
        };
        out.model = model.to_owned();
        out
    }
}

/// Problems of an answer beyond the review gate: criticisms without a quotation, numbers
/// neither the CV nor the posting holds.
pub fn problems(
    a: &ReviewAnswer,
    merged: &CvReviewOutput,
    master: &MasterCv,
    posting: &str,
    cv_text: &str,
) -> Vec<String> {
    let mut v = gates::check_cv_review(merged, master, posting, cv_text)
        .err()
        .map(|g| g.0)
        .unwrap_or_default();
    if !(1..=10).contains(&a.first_impression_score) {
        v.push(format!(
            "first_impression_score must be 1–10, got {}",
            a.first_impression_score
        ));
    }
    for (field, items) in [
        ("weaknesses", &a.weaknesses),
        ("rewrite_suggestions", &a.rewrite_suggestions),
    ] {
        for item in items.iter().filter(|i| text::quoted_phrases(i).is_empty()) {
            v.push(format!(
                "{field} item {item:?} quotes nothing; quote the CV line (or the posting requirement) it is about"
            ));
        }
    }
    let known = format!("{cv_text}\n{}\n{posting}", master.evidence());
    let known_numbers = text::metric_numbers(&known);
    for item in a
        .strengths
        .iter()
        .chain(&a.weaknesses)
        .chain(&a.rewrite_suggestions)
        .chain([&a.first_impression_summary, &a.achievements_verdict])
    {
        for n in text::metric_numbers(item) {
            let small_count = n.parse::<u32>().is_ok_and(|k| k <= 20);
            if !small_count && !known_numbers.iter().any(|k| k == &n) {
                v.push(format!(
                    "{item:?} states {n}, which neither the CV nor the posting holds"
                ));
            }
        }
    }
    v
}

/// What the review asks about.
pub struct ReviewRequest<'a> {
    pub posting: &'a str,
    /// The must-haves read from the posting.
    pub must_haves: &'a [String],
    /// The tailored CV.
    pub cv_text: &'a str,
    pub master: &'a MasterCv,
    /// The deterministic review whose counted parts the answer keeps.
    pub base: &'a CvReviewOutput,
    /// `<provider>/<model>`, recorded on the review.
    pub model: &'a str,
}

/// Asks the model for its first read of the tailored CV.
pub async fn ask(llm: &LlmService, scope: &CallScope<'_>, r: &ReviewRequest<'_>) -> Result<CvReviewOutput, Fallback> {
    let cut_posting = llm.fit_input(scope, "posting", r.posting, 0.4);
    let cv = llm.fit_input(scope, "tailored CV", r.cv_text, 0.5);
    let answer = llm
        .ask::<ReviewAnswer, _>(
            scope,
            "cv_review",
            &[
                ("posting", &cut_posting),
                ("must_haves", &bullet_list(r.must_haves)),
                ("cv", &cv),
            ],
            2,
            |a| super::verdict(problems(a, &a.merge(r.base, r.model), r.master, r.posting, r.cv_text)),
        )
        .await?;
    Ok(answer.merge(r.base, r.model))
}
