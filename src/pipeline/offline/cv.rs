//! CV tailoring without a model: the master CV re-ordered and trimmed toward the posting.
//! Nothing is added; bullets are only moved and (in older roles) dropped, so the fact
//! check passes by construction.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::outputs::{CvOutput, FitOutput, PainPointsOutput, Star};
use crate::pipeline::evidence::{self, Line, Need};
use crate::pipeline::master_cv::{CvEntry, MasterCv};
use crate::pipeline::text;

/// The words the tailoring aims at: pain points plus matched requirements.
pub fn target_terms(pains: &PainPointsOutput, fit: Option<&FitOutput>) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for p in pains
        .pain_points
        .iter()
        .chain(&pains.strategic_needs)
        .chain(&pains.success_metrics)
    {
        terms.extend(text::token_set(p));
    }
    if let Some(f) = fit {
        for r in f.matched_requirements.iter().chain(&f.missing_requirements) {
            terms.extend(text::token_set(r));
        }
    }
    terms
}

/// Relevance of a text to the target terms (shared terms, plus a bonus for a metric).
pub fn relevance(item: &str, terms: &BTreeSet<String>) -> usize {
    let shared = text::token_set(item).intersection(terms).count();
    let metric = usize::from(!text::metric_numbers(item).is_empty());
    shared * 2 + metric
}

fn sort_by_relevance(items: &[String], terms: &BTreeSet<String>) -> Vec<String> {
    let mut scored: Vec<(usize, usize, &String)> = items
        .iter()
        .enumerate()
        .map(|(i, b)| (relevance(b, terms), i, b))
        .collect();
    // Most relevant first; ties keep the master CV's order.
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, b)| b.clone()).collect()
}

/// Every achievement of the master CV, most relevant to `terms` first (ties keep the CV's
/// order), as stars numbered in that order.
pub fn ranked_stars(cv: &MasterCv, terms: &BTreeSet<String>) -> Vec<Star> {
    let mut ranked: Vec<(usize, usize, crate::pipeline::master_cv::Achievement)> = cv
        .star_records()
        .into_iter()
        .enumerate()
        .map(|(i, a)| (relevance(&a.text, terms), i, a))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, a))| Star {
            id: format!("star-{}", i + 1),
            role: a.role,
            text: a.text,
            has_metric: a.has_metric,
        })
        .collect()
}

/// The achievement that best proves a pain point is met, by the evidence matcher the fit
/// score and the review use (concepts first, then words); `None` when no achievement
/// supports it.
pub fn proof_for<'a>(
    records: &'a [crate::pipeline::master_cv::Achievement],
    pain: &str,
) -> Option<&'a crate::pipeline::master_cv::Achievement> {
    let need = Need::new(pain);
    let lines: Vec<Line> = records.iter().map(|a| Line::new(&a.text)).collect();
    let (best, _) = need.best(&lines)?;
    records.iter().find(|a| a.text == best.text)
}

/// Star id → the pain points it answers (those the matcher says it supports).
fn map_stars_to_pains(stars: &[Star], pains: &PainPointsOutput) -> BTreeMap<String, Vec<String>> {
    let needs: Vec<Need> = pains.pain_points.iter().map(|p| Need::new(p)).collect();
    stars
        .iter()
        .filter_map(|s| {
            let line = Line::new(&s.text);
            let answered: Vec<String> = needs
                .iter()
                .filter(|n| n.coverage(&line) >= evidence::SUPPORTS)
                .map(|n| n.text.clone())
                .collect();
            (!answered.is_empty()).then(|| (s.id.clone(), answered))
        })
        .collect()
}

/// The three achievements that best answer the pain points (summed matcher coverage, a
/// stated result breaking ties, then the relevance order), with star id → pain points.
pub fn select_stars(
    cv: &MasterCv,
    pains: &PainPointsOutput,
    terms: &BTreeSet<String>,
) -> (Vec<Star>, BTreeMap<String, Vec<String>>) {
    let needs: Vec<Need> = pains.pain_points.iter().map(|p| Need::new(p)).collect();
    let mut ranked: Vec<(f64, usize, Star)> = ranked_stars(cv, terms)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let line = Line::new(&s.text);
            let answers: f64 = needs.iter().map(|n| n.coverage(&line)).sum();
            (answers + if s.has_metric { 0.05 } else { 0.0 }, i, s)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let stars: Vec<Star> = ranked.into_iter().take(3).map(|(_, _, s)| s).collect();
    let mapping = map_stars_to_pains(&stars, pains);
    (stars, mapping)
}

/// Tailors the master CV.
pub fn tailor(cv: &MasterCv, pains: &PainPointsOutput, fit: &FitOutput) -> CvOutput {
    let terms = target_terms(pains, Some(fit));
    let mut md = String::new();
    if let Some(name) = &cv.name {
        md.push_str(&format!("# {name}\n\n"));
    }
    for line in &cv.header {
        md.push_str(line);
        md.push_str("  \n");
    }
    if !cv.header.is_empty() {
        md.push('\n');
    }
    let mut moved = Vec::new();
    let mut trimmed = 0usize;
    let mut role_index = 0usize;
    for section in &cv.sections {
        if !section.title.is_empty() {
            md.push_str(&format!("## {}\n\n", section.title));
        }
        let experience = MasterCv::is_experience(section);
        let skills = section.title.to_lowercase().contains("skill");
        for entry in &section.entries {
            let mut bullets = entry.bullets.clone();
            if experience {
                let sorted = sort_by_relevance(&bullets, &terms);
                if sorted.first() != bullets.first() {
                    if let Some(first) = sorted.first() {
                        moved.push(text::shorten(first, 70));
                    }
                }
                // Recent roles keep everything; older ones keep their strongest bullets.
                let keep = if role_index < 2 {
                    sorted.len()
                } else {
                    sorted.len().min(3)
                };
                trimmed += sorted.len() - keep;
                bullets = sorted.into_iter().take(keep).collect();
                role_index += 1;
            } else if skills {
                bullets = sort_by_relevance(&bullets, &terms);
            }
            write_entry(&mut md, entry, &bullets);
        }
    }
    let (selected_stars, star_to_pain_mapping) = select_stars(cv, pains, &terms);
    let focus: Vec<String> = pains
        .pain_points
        .iter()
        .take(3)
        .map(|p| format!("\"{}\"", text::shorten(p, 60)))
        .collect();
    let mut reasoning = format!(
        "Tailored offline from the master CV toward the posting's pain points ({}). ",
        focus.join(", ")
    );
    if moved.is_empty() {
        reasoning.push_str("The master CV's bullet order already led with the most relevant evidence. ");
    } else {
        reasoning.push_str(&format!(
            "Moved to the top of their roles: {}. ",
            moved.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join("; ")
        ));
    }
    if trimmed > 0 {
        reasoning.push_str(&format!("Dropped {trimmed} less relevant bullets from older roles. "));
    }
    reasoning.push_str("Nothing was added: every employer, title, date and number comes from the master CV.");
    CvOutput {
        cv_text: md.trim_end().to_owned() + "\n",
        cv_reasoning: reasoning,
        selected_stars,
        star_to_pain_mapping,
    }
}

fn write_entry(md: &mut String, entry: &CvEntry, bullets: &[String]) {
    if let Some(h) = &entry.heading {
        md.push_str(&format!("### {h}\n\n"));
    }
    for line in &entry.lines {
        md.push_str(line);
        md.push_str("\n\n");
    }
    for b in bullets {
        md.push_str(&format!("- {b}\n"));
    }
    if !bullets.is_empty() {
        md.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::{fit_score, fixtures, pain_points};

    #[test]
    fn tailored_cv_passes_the_fact_check_and_explains_itself() {
        let (job, cv) = (fixtures::job(), fixtures::cv());
        let pains = pain_points::mine(&job);
        let fit = fit_score::score(&job, &cv, 2026);
        let out = tailor(&cv, &pains, &fit);
        gates::check_cv(&out, &cv).unwrap();
        assert!(out.cv_reasoning.contains("Nothing was added"));
        assert_eq!(out.selected_stars.len(), 3);
        for role in cv.roles().iter().take(2) {
            assert!(out.cv_text.contains(role.as_str()), "role {role} dropped");
        }
    }
}
