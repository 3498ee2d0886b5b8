//! The CV review without a model: a transparent rubric a hiring manager's first read
//! follows, where every point names its evidence (the CV line, the count, the missing
//! requirement):
//!
//! | criterion | points | what earns them |
//! |---|---|---|
//! | must-have coverage | 40 | share of the posting's must-haves a CV line supports |
//! | quantified bullets | 20 | share of bullets that state a number (60 % or more earns all) |
//! | recency | 15 | bullets of the most recent role that name the posting's skills (2 earn all) |
//! | length | 15 | 300–800 words earn all; 200–1,100 half |
//! | no keyword stuffing | 10 | no keyword more than 6 times, no skills line of more than 25 items |
//!
//! 75 or more is `strong`, 55 or more `consider`, below that `weak`; the first-impression
//! score is the total in tenths (1–10). Criticisms quote the CV or the posting; suggested
//! edits only move or restate what the master CV holds, never invent.

use std::collections::BTreeMap;

use crate::domain::outputs::{
    AtsAssessment, CvOutput, CvReviewOutput, ExtractedJd, FullReview, PainAlignment, PainPointsOutput, RubricPoint,
    TopThird,
};
use crate::pipeline::evidence::{self, Line, Need};
use crate::pipeline::gates;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text;

/// What the review reads.
pub struct ReviewInput<'a> {
    pub cv: &'a CvOutput,
    pub master: &'a MasterCv,
    pub jd: &'a ExtractedJd,
    pub pains: Option<&'a PainPointsOutput>,
}

/// A fingerprint of a CV text (first 16 hex digits of its SHA-256).
pub fn fingerprint(cv_text: &str) -> String {
    crate::domain::digest::sha256_hex(cv_text.trim().as_bytes(), 8)
}

fn q(s: &str, max: usize) -> String {
    format!("\"{}\"", text::shorten(s, max).replace('"', "'"))
}

/// Bullets of the CV markdown with the role heading they sit under (`None` before any).
fn bullets(cv_text: &str) -> Vec<(Option<String>, String)> {
    let mut role = None;
    let mut out = Vec::new();
    for line in cv_text.lines().map(str::trim) {
        if let Some(h) = line.strip_prefix("### ") {
            role = Some(h.trim().to_owned());
        } else if line.starts_with("## ") {
            role = None;
        } else if line.starts_with(['-', '*', '•']) {
            out.push((role.clone(), text::strip_marker(line).to_owned()));
        }
    }
    out
}

/// Reviews the tailored CV against the posting.
pub fn review(input: &ReviewInput<'_>, reviewed_at: &str) -> CvReviewOutput {
    let cv_text = &input.cv.cv_text;
    let lines = evidence::lines_of(cv_text);
    let master_lines = evidence::lines_of(&input.master.text);
    let mut rubric = Vec::new();
    let mut strengths = Vec::new();
    let mut weaknesses = Vec::new();
    let mut edits = Vec::new();

    // 1. Must-have coverage.
    let must: Vec<Need> = input
        .jd
        .qualifications
        .iter()
        .map(|r| Need::new(r))
        .filter(|n| !n.is_empty())
        .take(12)
        .collect();
    let mut covered = Vec::new();
    let mut missing = Vec::new();
    for need in &must {
        match need.best(&lines) {
            Some((line, _)) => covered.push((need, line)),
            None => missing.push(need),
        }
    }
    let coverage_points = if must.is_empty() {
        20.0
    } else {
        40.0 * covered.len() as f64 / must.len() as f64
    };
    let mut ev = if must.is_empty() {
        "the posting lists no must-haves to check, so half the points are given".to_owned()
    } else {
        format!("{} of {} must-haves are backed by a CV line", covered.len(), must.len())
    };
    if let Some((need, line)) = covered.first() {
        ev.push_str(&format!("; e.g. {} ← {}", q(&need.text, 60), q(&line.text, 80)));
    }
    if !missing.is_empty() {
        ev.push_str(&format!(
            "; not shown: {}",
            missing
                .iter()
                .take(3)
                .map(|n| q(&n.text, 60))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    rubric.push(point("must-have coverage", coverage_points, 40.0, ev));
    for (need, line) in covered.iter().take(3) {
        strengths.push(format!("{} is backed by {}", q(&need.text, 60), q(&line.text, 90)));
    }
    for need in missing.iter().take(4) {
        weaknesses.push(format!("No line of the CV shows {}", q(&need.text, 80)));
        // The master CV may hold what the tailored CV left out.
        if let Some((line, _)) = need.best(&master_lines) {
            edits.push(format!(
                "Add {} from your master CV: it answers {}",
                q(&line.text, 90),
                q(&need.text, 60)
            ));
        }
    }

    // 2. Quantified bullets.
    let all_bullets = bullets(cv_text);
    let quantified: Vec<&(Option<String>, String)> = all_bullets
        .iter()
        .filter(|(_, b)| !text::metric_numbers(b).is_empty())
        .collect();
    let share = if all_bullets.is_empty() {
        0.0
    } else {
        quantified.len() as f64 / all_bullets.len() as f64
    };
    let mut ev = format!("{} of {} bullets state a number", quantified.len(), all_bullets.len());
    if let Some((_, b)) = quantified.first() {
        ev.push_str(&format!(", e.g. {}", q(b, 80)));
    }
    rubric.push(point("quantified bullets", 20.0 * (share / 0.6).min(1.0), 20.0, ev));
    if share >= 0.5 {
        strengths.push(format!(
            "{} of {} bullets state a result in numbers",
            quantified.len(),
            all_bullets.len()
        ));
    } else if let Some((_, b)) = all_bullets.iter().find(|(_, b)| text::metric_numbers(b).is_empty()) {
        weaknesses.push(format!(
            "Only {} of {} bullets state a number",
            quantified.len(),
            all_bullets.len()
        ));
        edits.push(format!(
            "State the scale or result of {} if your master CV or records give one",
            q(b, 80)
        ));
    }

    // 3. Recency: the most recent role speaks to the posting.
    let skill_needs: Vec<Need> = input
        .jd
        .technical_skills
        .iter()
        .chain(&input.jd.top_keywords)
        .map(|s| Need::new(s))
        .filter(|n| !n.is_empty())
        .collect();
    let recent_role = all_bullets.iter().find_map(|(r, _)| r.clone());
    let recent: Vec<&String> = all_bullets
        .iter()
        .filter(|(r, _)| r.is_some() && *r == recent_role)
        .map(|(_, b)| b)
        .collect();
    let relevant: Vec<&&String> = recent
        .iter()
        .filter(|b| {
            let line = Line::new(b);
            skill_needs.iter().any(|n| n.coverage(&line) >= evidence::SUPPORTS)
        })
        .collect();
    let ev = match &recent_role {
        Some(role) => {
            let mut e = format!(
                "the most recent role, {}, has {} of {} bullets naming the posting's skills",
                q(role, 60),
                relevant.len(),
                recent.len()
            );
            if let Some(b) = relevant.first() {
                e.push_str(&format!(", e.g. {}", q(b, 70)));
            }
            e
        }
        None => "the CV has no role heading with bullets".to_owned(),
    };
    rubric.push(point(
        "recency",
        15.0 * (relevant.len() as f64 / 2.0).min(1.0),
        15.0,
        ev,
    ));
    if relevant.is_empty() {
        if let Some(role) = &recent_role {
            weaknesses.push(format!(
                "The most recent role, {}, names none of the posting's skills",
                q(role, 60)
            ));
        }
    }

    // 4. Length.
    let words = text::word_count(cv_text);
    let length_points = match words {
        300..=800 => 15.0,
        200..=1100 => 7.5,
        _ => 3.0,
    };
    rubric.push(point(
        "length",
        length_points,
        15.0,
        format!("{words} words, about {:.1} page(s)", words as f64 / 450.0),
    ));
    if words > 800 {
        edits.push(format!(
            "Cut the CV from {words} to about 700 words: drop the oldest roles' weakest bullets"
        ));
    } else if words < 300 {
        weaknesses.push(format!(
            "At {words} words the CV leaves out evidence a reader looks for"
        ));
    }

    // 5. Keyword stuffing.
    let lower_words: Vec<String> = cv_text
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '+' | '#' | '.')))
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for k in &input.jd.top_keywords {
        let k = k.to_lowercase();
        if !k.contains(' ') {
            counts.insert(k.clone(), lower_words.iter().filter(|w| **w == k).count());
        }
    }
    let most = counts.iter().max_by_key(|(_, n)| **n).map(|(k, n)| (k.clone(), *n));
    let longest_list = cv_text.lines().map(|l| l.split(',').count()).max().unwrap_or(0);
    let stuffed = most.as_ref().is_some_and(|(_, n)| *n > 6) || longest_list > 25;
    let ev = match &most {
        Some((k, n)) => {
            format!("the most repeated keyword is {k:?} ({n} times); the longest list has {longest_list} items")
        }
        None => format!("no single-word keyword to count; the longest list has {longest_list} items"),
    };
    rubric.push(point("no keyword stuffing", if stuffed { 2.0 } else { 10.0 }, 10.0, ev));
    if let Some((k, n)) = most.filter(|_| stuffed) {
        edits.push(format!(
            "Name {k:?} fewer times ({n} now): repetition reads as keyword stuffing"
        ));
    }

    let total: f64 = rubric.iter().map(|p| p.points).sum();
    let verdict = if total >= 75.0 {
        "strong"
    } else if total >= 55.0 {
        "consider"
    } else {
        "weak"
    };

    // Pain points answered.
    let (addressed, unanswered): (Vec<String>, Vec<String>) = input
        .pains
        .map(|p| p.pain_points.clone())
        .unwrap_or_else(|| input.jd.implied_pain_points.clone())
        .into_iter()
        .partition(|p| Need::new(p).best(&lines).is_some());
    let ratio = if addressed.len() + unanswered.len() == 0 {
        0.0
    } else {
        addressed.len() as f64 / (addressed.len() + unanswered.len()) as f64
    };

    // Keywords an applicant tracking system looks for.
    let keywords: Vec<&String> = input.jd.top_keywords.iter().take(15).collect();
    let cv_lower = cv_text.to_lowercase();
    let missing_keywords: Vec<String> = keywords
        .iter()
        .filter(|k| !cv_lower.contains(&k.to_lowercase()) && Need::new(k).best(&lines).is_none())
        .map(|k| (*k).clone())
        .collect();
    let found = keywords.len() - missing_keywords.len();

    let flags = match gates::check_cv(input.cv, input.master) {
        Ok(()) => Vec::new(),
        Err(v) => {
            v.0.iter()
                .map(|issue| serde_json::json!({"claim": text::shorten(issue, 80), "issue": issue, "severity": "high"}))
                .collect()
        }
    };

    let headline = input
        .master
        .header
        .iter()
        .map(|h| h.trim())
        .find(|h| !h.is_empty() && !h.contains('@'))
        .map(|h| h.to_owned());
    let headline_verdict = match &headline {
        Some(h) => {
            let line = Line::new(h);
            let speaks = skill_needs.iter().any(|n| n.coverage(&line) >= evidence::SUPPORTS);
            if speaks {
                format!("The headline {} names skills the posting asks for", q(h, 80))
            } else {
                format!("The headline {} names none of the posting's top skills", q(h, 80))
            }
        }
        None => "The CV has no headline under the name".to_owned(),
    };
    let first_impression_score = ((total / 10.0).round() as u8).clamp(1, 10);
    let summary = format!(
        "{} of {} must-haves shown, {} of {} bullets quantified, {} words: {}.",
        covered.len(),
        must.len(),
        quantified.len(),
        all_bullets.len(),
        words,
        match verdict {
            "strong" => "worth an interview on paper",
            "consider" => "a possible interview; the gaps below decide it",
            _ => "unlikely to pass a first read without the edits below",
        }
    );
    CvReviewOutput {
        verdict: verdict.into(),
        would_interview: total >= 60.0,
        confidence: if must.len() >= 3 { 0.6 } else { 0.4 },
        first_impression_score,
        full_review: FullReview {
            strengths,
            weaknesses,
            rewrite_suggestions: edits,
            top_third_assessment: TopThird {
                first_impression_summary: summary,
                headline_verdict,
                achievements_verdict: format!("{} of {} bullets state a number", quantified.len(), all_bullets.len()),
            },
            pain_point_alignment: PainAlignment {
                addressed,
                missing: unanswered,
                coverage_ratio: (ratio * 100.0).round() / 100.0,
            },
            ats_assessment: AtsAssessment {
                keyword_coverage: format!("{found} of {} top keywords", keywords.len()),
                ats_survival_likely: keywords.is_empty() || found * 10 >= keywords.len() * 6,
                missing_critical_keywords: missing_keywords,
            },
            hallucination_flags: flags,
            rubric,
        },
        model: "offline".into(),
        reviewed_at: reviewed_at.to_owned(),
        cv_fingerprint: fingerprint(cv_text),
    }
}

fn point(criterion: &str, points: f64, max_points: f64, evidence: String) -> RubricPoint {
    RubricPoint {
        criterion: criterion.into(),
        points: (points * 10.0).round() / 10.0,
        max_points,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::offline::cv as tailor;
    use crate::pipeline::offline::{extract, fit_score, fixtures, pain_points};

    fn reviewed(master: &MasterCv, job: &crate::domain::JobPosting) -> CvReviewOutput {
        let jd = extract::extract(job);
        let pains = pain_points::mine(job);
        let fit = fit_score::score(job, master, 2026);
        let cv = tailor::tailor(master, &pains, &fit);
        review(
            &ReviewInput {
                cv: &cv,
                master,
                jd: &jd,
                pains: Some(&pains),
            },
            "2026-12-02T00:00:00Z",
        )
    }

    #[test]
    fn every_point_names_its_evidence_and_the_review_passes_its_gate() {
        let job = fixtures::job();
        let master = fixtures::cv();
        let r = reviewed(&master, &job);
        gates::check_cv_review(&r, &master, &job.full_text(), &fixtures_cv_text(&master, &job)).unwrap();
        assert_eq!(r.full_review.rubric.len(), 5);
        for p in &r.full_review.rubric {
            assert!(!p.evidence.is_empty() && p.points <= p.max_points, "{p:?}");
        }
        let total: f64 = r.full_review.rubric.iter().map(|p| p.points).sum();
        assert_eq!(r.first_impression_score, ((total / 10.0).round() as u8).clamp(1, 10));
        assert!(r.full_review.hallucination_flags.is_empty());
        assert_eq!(r.model, "offline");
    }

    #[test]
    fn a_cv_from_another_profession_is_weak_and_says_what_is_missing() {
        let job = fixtures::job();
        let baker = MasterCv::parse(
            "# Bob Baker\nArtisan baker\n## Experience\n### Head Baker — Crumb & Co (2019–2024)\n- Baked 300 loaves a day\n- Ran the morning shift of 4 bakers\n",
        )
        .unwrap();
        let r = reviewed(&baker, &job);
        assert_eq!(r.verdict, "weak", "{r:#?}");
        assert!(!r.would_interview);
        assert!(r
            .full_review
            .weaknesses
            .iter()
            .any(|w| w.starts_with("No line of the CV shows")));
        gates::check_cv_review(&r, &baker, &job.full_text(), &fixtures_cv_text(&baker, &job)).unwrap();
    }

    fn fixtures_cv_text(master: &MasterCv, job: &crate::domain::JobPosting) -> String {
        let pains = pain_points::mine(job);
        let fit = fit_score::score(job, master, 2026);
        tailor::tailor(master, &pains, &fit).cv_text
    }
}
