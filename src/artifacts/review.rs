//! `cv_review.md`: the CV review as a job seeker reads it before sending the CV: the
//! verdict, what works, what is missing, the edits to make, and the rubric with the
//! evidence behind every point. A review of an earlier version of the CV (reused by an
//! operation that rewrote the CV but did not review it again) says so at the top.

use std::fmt::Write;

use crate::domain::outputs::CvReviewOutput;

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## {title}\n");
    for i in items {
        let _ = writeln!(out, "- {i}");
    }
}

/// Renders the review; `current_fingerprint` is the fingerprint of the CV being published.
pub fn render_cv_review(r: &CvReviewOutput, current_fingerprint: &str) -> String {
    let mut o = String::from("# CV review\n\n");
    if r.cv_fingerprint != current_fingerprint {
        o.push_str(
            "> This review is of an earlier version of the CV. Run the `cv-review` operation to review this one.\n\n",
        );
    }
    let _ = writeln!(
        o,
        "**Verdict:** {} · **would interview:** {} · **first impression:** {}/10 · **confidence:** {:.0} %",
        r.verdict,
        if r.would_interview { "yes" } else { "no" },
        r.first_impression_score,
        r.confidence * 100.0
    );
    let _ = writeln!(o, "\nReviewed by {} at {}.", r.model, r.reviewed_at);
    let t = &r.full_review.top_third_assessment;
    let _ = writeln!(
        o,
        "\n{}\n\n- {}\n- {}",
        t.first_impression_summary, t.headline_verdict, t.achievements_verdict
    );
    list(&mut o, "Strengths", &r.full_review.strengths);
    list(&mut o, "Gaps", &r.full_review.weaknesses);
    list(&mut o, "Edits to make", &r.full_review.rewrite_suggestions);
    let pa = &r.full_review.pain_point_alignment;
    let _ = writeln!(
        o,
        "\n## Pain points\n\n{:.0} % of the employer's pain points have a CV line that answers them.",
        pa.coverage_ratio * 100.0
    );
    for p in &pa.missing {
        let _ = writeln!(o, "- not answered: {p}");
    }
    let ats = &r.full_review.ats_assessment;
    let _ = writeln!(o, "\n## Keywords\n\n{}.", ats.keyword_coverage);
    if !ats.missing_critical_keywords.is_empty() {
        let _ = writeln!(o, "Missing: {}.", ats.missing_critical_keywords.join(", "));
    }
    if !r.full_review.hallucination_flags.is_empty() {
        let _ = writeln!(o, "\n## Claims the master CV does not hold\n");
        for f in &r.full_review.hallucination_flags {
            let _ = writeln!(o, "- {}", f.get("issue").and_then(|v| v.as_str()).unwrap_or(""));
        }
    }
    if !r.full_review.rubric.is_empty() {
        let _ = writeln!(o, "\n## Rubric\n\n| criterion | points | evidence |\n|---|---|---|");
        for p in &r.full_review.rubric {
            let _ = writeln!(
                o,
                "| {} | {} / {} | {} |",
                p.criterion,
                p.points,
                p.max_points,
                p.evidence.replace('|', "/")
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outputs::FullReview;

    #[test]
    fn a_review_of_an_earlier_cv_says_so() {
        let r = CvReviewOutput {
            verdict: "consider".into(),
            would_interview: true,
            confidence: 0.6,
            first_impression_score: 6,
            full_review: FullReview::default(),
            model: "offline".into(),
            reviewed_at: "2026-12-02T00:00:00Z".into(),
            cv_fingerprint: "aaaa".into(),
        };
        assert!(!render_cv_review(&r, "aaaa").contains("earlier version"));
        let stale = render_cv_review(&r, "bbbb");
        assert!(
            stale.contains("earlier version of the CV") && stale.contains("`cv-review`"),
            "{stale}"
        );
        assert!(stale.contains("**Verdict:** consider"));
    }
}
