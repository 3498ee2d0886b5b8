//! The CV review gate: values in range and consistent, and every quotation is a phrase of
//! the posting or the master CV (a review that misquotes the CV misleads its reader).

use super::GateViolations;
use crate::domain::outputs::CvReviewOutput;
use crate::pipeline::master_cv::MasterCv;

/// The verdicts a review may give.
pub const VERDICTS: [&str; 3] = ["strong", "consider", "weak"];

/// Checks a review of `cv_text` (the tailored CV) against the posting and the master CV.
pub fn check_cv_review(
    r: &CvReviewOutput,
    master: &MasterCv,
    posting: &str,
    cv_text: &str,
) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    if !VERDICTS.contains(&r.verdict.as_str()) {
        v.push(format!(
            "verdict must be one of strong, consider, weak; got {:?}",
            r.verdict
        ));
    }
    if !(1..=10).contains(&r.first_impression_score) {
        v.push(format!(
            "first_impression_score must be 1–10, got {}",
            r.first_impression_score
        ));
    }
    if !(r.confidence.is_finite() && (0.0..=1.0).contains(&r.confidence)) {
        v.push(format!("confidence must be 0–1, got {}", r.confidence));
    }
    if r.verdict == "weak" && r.would_interview {
        v.push("a weak verdict cannot say would_interview".into());
    }
    if r.verdict == "strong" && !r.would_interview {
        v.push("a strong verdict must say would_interview".into());
    }
    if r.cv_fingerprint != crate::pipeline::offline::cv_review::fingerprint(cv_text) {
        v.push("cv_fingerprint is not the reviewed CV's".into());
    }
    let fr = &r.full_review;
    let texts = fr
        .strengths
        .iter()
        .map(|s| ("strengths", s))
        .chain(fr.weaknesses.iter().map(|s| ("weaknesses", s)))
        .chain(fr.rewrite_suggestions.iter().map(|s| ("rewrite_suggestions", s)))
        .chain([
            (
                "first_impression_summary",
                &fr.top_third_assessment.first_impression_summary,
            ),
            ("headline_verdict", &fr.top_third_assessment.headline_verdict),
            ("achievements_verdict", &fr.top_third_assessment.achievements_verdict),
        ]);
    for (field, text) in texts {
        if text.trim().is_empty() {
            v.push(format!("{field} has an empty item"));
        }
        v.extend(super::quote_problems(field, text, posting, master));
    }
    super::verdict(v)
}
