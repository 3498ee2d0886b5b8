//! Pain points from the model: the four arrays, each item grounded in the posting (it must
//! share a significant word with it) and free of stock phrases.

use crate::domain::outputs::PainPointsOutput;
use crate::domain::JobPosting;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;
use crate::pipeline::text;

impl AnswerShape for PainPointsOutput {
    fn schema() -> serde_json::Value {
        schema::object(&[
            ("pain_points", schema::strings()),
            ("strategic_needs", schema::strings()),
            ("risks_if_unfilled", schema::strings()),
            ("success_metrics", schema::strings()),
        ])
    }
}

/// Items of the answer that share no significant word with the posting.
pub fn ungrounded(out: &PainPointsOutput, posting: &str) -> Vec<String> {
    let words = text::token_set(posting);
    [
        ("pain_points", &out.pain_points),
        ("strategic_needs", &out.strategic_needs),
    ]
    .into_iter()
    .flat_map(|(name, items)| {
        items
            .iter()
            .filter(|i| text::token_set(i).is_disjoint(&words))
            .map(move |i| format!("{name} item {i:?} is not grounded in the posting"))
    })
    .collect()
}

/// Asks the model for the pain points of `job`.
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    job: &JobPosting,
    jd: Option<&crate::domain::outputs::ExtractedJd>,
) -> Result<PainPointsOutput, Fallback> {
    let posting = llm.fit_input(scope, "posting", &job.full_text(), 0.8);
    let structure = match jd {
        Some(jd) => super::bullet_list(jd.responsibilities.iter().chain(&jd.qualifications)),
        None => "(not read)".to_owned(),
    };
    let full = &job.title_and_text();
    llm.ask::<PainPointsOutput, _>(
        scope,
        "pain_points",
        &[
            ("company", &job.company),
            ("title", &job.title),
            ("posting", &posting),
            ("structure", &structure),
        ],
        2,
        |out| {
            let mut v = gates::check_pain_points(out).err().map(|g| g.0).unwrap_or_default();
            v.extend(ungrounded(out, full));
            super::verdict(v)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_without_a_word_of_the_posting_are_ungrounded() {
        let out = PainPointsOutput {
            pain_points: vec![
                "Billing pipeline fails at month end".into(),
                "Blockchain strategy".into(),
            ],
            strategic_needs: vec!["Reliable billing".into()],
            risks_if_unfilled: vec!["x".into()],
            success_metrics: vec!["y".into()],
        };
        let v = ungrounded(&out, "We need someone to fix our billing pipeline.");
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("Blockchain"));
    }
}
