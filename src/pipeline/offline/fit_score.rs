//! Fit score from lexical evidence: each requirement of the posting is matched against the
//! master CV; the score is the weighted share of requirements with evidence.

use std::collections::BTreeSet;

use crate::domain::outputs::{fit_category, FitOutput};
use crate::domain::JobPosting;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text::{self, SectionKind};

/// One requirement and how well the CV covers it.
#[derive(Debug, Clone)]
struct Requirement {
    text: String,
    weight: f64,
    coverage: f64,
    evidence: Option<String>,
    missing_terms: Vec<String>,
}

fn requirement_items(job: &JobPosting) -> Vec<(String, f64)> {
    let sections = text::sections(&job.full_text());
    let mut reqs: Vec<(String, f64)> = text::items_of(&sections, SectionKind::Requirements)
        .into_iter()
        .map(|r| (r, 1.0))
        .collect();
    reqs.extend(
        text::items_of(&sections, SectionKind::Preferred)
            .into_iter()
            .map(|r| (r, 0.5)),
    );
    if reqs.is_empty() {
        let markers = [
            "experience",
            "knowledge",
            "proficien",
            "familiar",
            "degree",
            "years",
            "skills in",
            "background in",
        ];
        reqs = sections
            .iter()
            .flat_map(|s| s.items.iter())
            .filter(|i| markers.iter().any(|m| i.to_lowercase().contains(m)))
            .map(|r| (r.clone(), 1.0))
            .collect();
    }
    reqs.retain(|(r, _)| !text::token_set(r).is_empty());
    reqs.truncate(15);
    reqs
}

/// A short quote that cannot end a sentence early.
fn quote(s: &str, max: usize) -> String {
    text::shorten(s, max).replace(". ", ", ").replace(['!', '?'], "")
}

/// Scores the candidate against the posting.
pub fn score(job: &JobPosting, cv: &MasterCv, current_year: u32) -> FitOutput {
    let cv_tokens = text::token_set(&cv.text);
    let cv_years = cv.years_of_experience(current_year);
    let achievements = cv.achievements();
    let mut reqs: Vec<Requirement> = Vec::new();
    for (req, weight) in requirement_items(job) {
        let terms = text::token_set(&req);
        let found: BTreeSet<&String> = terms.iter().filter(|t| cv_tokens.contains(*t)).collect();
        let mut coverage = found.len() as f64 / terms.len() as f64;
        // A named technology or credential (capitalised mid-sentence: PostgreSQL, AWS) the
        // CV also names is strong evidence on its own.
        let named = req
            .split_whitespace()
            .skip(1)
            .filter(|w| w.chars().any(|c| c.is_uppercase()));
        if named.flat_map(text::tokens).any(|t| cv_tokens.contains(&t)) {
            coverage = coverage.max(0.6);
        }
        if let Some(years) = text::required_years(&req) {
            // A years requirement is met by the span of the CV's roles, but only in its
            // field: "2 years of Class 1 experience" needs "Class" in the CV too.
            let specific: Vec<&String> = terms
                .iter()
                .filter(|t| {
                    ![
                        "year",
                        "years",
                        "least",
                        "minimum",
                        "plus",
                        "experience",
                        "professional",
                    ]
                    .contains(&t.as_str())
                })
                .filter(|t| !t.chars().all(|c| c.is_ascii_digit() || c == '+'))
                .collect();
            let in_field = specific.iter().filter(|t| cv_tokens.contains(**t)).count() * 2 >= specific.len();
            coverage = if !in_field {
                coverage.min(0.4)
            } else if cv_years >= years {
                coverage.max(0.75)
            } else {
                (coverage.min(0.5) * cv_years as f64 / years as f64).min(0.5)
            };
        }
        let evidence = achievements
            .iter()
            .map(|a| {
                (
                    text::token_set(&a.text).iter().filter(|t| terms.contains(*t)).count(),
                    a,
                )
            })
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n)
            .map(|(_, a)| a.text.clone());
        let missing_terms = terms.iter().filter(|t| !cv_tokens.contains(*t)).cloned().collect();
        reqs.push(Requirement {
            text: req,
            weight,
            coverage,
            evidence,
            missing_terms,
        });
    }

    if reqs.is_empty() {
        return FitOutput {
            fit_score: 50,
            fit_rationale: "No requirement could be read from the posting, so the score is a neutral 50. Read the posting yourself before applying.".into(),
            fit_category: fit_category(50).into(),
            matched_requirements: Vec::new(),
            missing_requirements: Vec::new(),
        };
    }

    let total: f64 = reqs.iter().map(|r| r.weight).sum();
    let covered: f64 = reqs.iter().map(|r| r.weight * r.coverage).sum();
    let share = covered / total;
    // Lexical matching undercounts paraphrases; map full coverage to 100 and none to 20.
    let fit_score = (20.0 + 80.0 * share).round().clamp(0.0, 100.0) as u8;

    let matched: Vec<&Requirement> = reqs.iter().filter(|r| r.coverage >= 0.5).collect();
    let missing: Vec<&Requirement> = reqs.iter().filter(|r| r.coverage < 0.5).collect();
    let mut rationale = format!(
        "The master CV shows evidence for {} of {} requirements read from the posting",
        matched.len(),
        reqs.len()
    );
    if let Some(best) = matched.iter().find(|r| r.evidence.is_some()) {
        rationale.push_str(&format!(
            ", for example \"{}\" is backed by \"{}\".",
            quote(&best.text, 70),
            quote(best.evidence.as_deref().unwrap_or_default(), 90)
        ));
    } else {
        rationale.push('.');
    }
    if missing.is_empty() {
        rationale.push_str(" No requirement is without evidence.");
    } else {
        let terms: Vec<String> = missing
            .iter()
            .flat_map(|r| r.missing_terms.iter().take(2).cloned())
            .take(5)
            .collect();
        rationale.push_str(&format!(
            " Missing or unclear: {} (terms not found in the CV: {}).",
            missing
                .iter()
                .take(3)
                .map(|r| format!("\"{}\"", quote(&r.text, 50)))
                .collect::<Vec<_>>()
                .join(", "),
            terms.join(", ")
        ));
    }
    rationale.push_str(&format!(
        " Score {fit_score} is the weighted requirement coverage (offline lexical match)."
    ));

    FitOutput {
        fit_score,
        fit_rationale: rationale,
        fit_category: fit_category(fit_score).into(),
        matched_requirements: matched.iter().map(|r| r.text.clone()).collect(),
        missing_requirements: missing.iter().map(|r| r.text.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::fixtures;

    #[test]
    fn a_matching_cv_scores_higher_than_an_unrelated_one() {
        let job = fixtures::job();
        let good = score(&job, &fixtures::cv(), 2026);
        gates::check_fit(&good).unwrap();
        let unrelated =
            MasterCv::parse("# Bob\n## Experience\n### Baker — Bakery (2020–2024)\n- Baked 300 loaves a day\n")
                .unwrap();
        let bad = score(&job, &unrelated, 2026);
        gates::check_fit(&bad).unwrap();
        assert!(
            good.fit_score > bad.fit_score + 20,
            "{} vs {}",
            good.fit_score,
            bad.fit_score
        );
        assert!(!bad.missing_requirements.is_empty());
    }
}
