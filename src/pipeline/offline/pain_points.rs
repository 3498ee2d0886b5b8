//! Pain points mined from the posting's responsibility and requirement statements.

use std::collections::BTreeSet;

use crate::domain::outputs::PainPointsOutput;
use crate::domain::JobPosting;
use crate::pipeline::text::{self, SectionKind};

const STRATEGIC_WORDS: &[&str] = &[
    "scale",
    "scaling",
    "growth",
    "grow",
    "expand",
    "launch",
    "migrat",
    "moderni",
    "transform",
    "international",
    "platform",
    "reliab",
    "complian",
    "security",
    "revenue",
    "customers",
    "cost",
    "automat",
    "strategy",
    "roadmap",
    "new market",
    "efficien",
    "quality",
    "safety",
    "regulat",
];

const MEASURABLE_WORDS: &[&str] = &[
    "latency",
    "uptime",
    "availability",
    "sla",
    "slo",
    "%",
    "revenue",
    "conversion",
    "retention",
    "nps",
    "time to",
    "time-to",
    "incident",
    "cost",
    "throughput",
    "accuracy",
    "satisfaction",
    "error rate",
    "on-time",
    "kpi",
    "okr",
    "per day",
    "per second",
    "million",
    "billion",
];

fn acceptable(item: &str) -> bool {
    let words = text::word_count(item);
    (4..=40).contains(&words) && text::stock_phrases_in(item).is_empty()
}

fn push_distinct(out: &mut Vec<String>, seen: &mut BTreeSet<String>, item: String, max: usize) {
    if out.len() >= max {
        return;
    }
    let key = item.to_lowercase();
    if !item.is_empty() && seen.insert(key) {
        out.push(item);
    }
}

/// Mines the four arrays of COMPAT.md from the posting.
pub fn mine(job: &JobPosting) -> PainPointsOutput {
    let sections = text::sections(&job.full_text());
    let mut responsibilities = text::items_of(&sections, SectionKind::Responsibilities);
    let requirements = text::items_of(&sections, SectionKind::Requirements);
    let intro: Vec<String> = text::items_of(&sections, SectionKind::Intro)
        .into_iter()
        .chain(text::items_of(&sections, SectionKind::About))
        .collect();
    if responsibilities.is_empty() {
        // No headed section: take action statements from anywhere in the posting.
        responsibilities = sections
            .iter()
            .filter(|s| s.kind != SectionKind::Benefits)
            .flat_map(|s| s.items.iter())
            .filter(|i| starts_with_action(i))
            .cloned()
            .collect();
    }

    // Prefer action statements ("Design and operate ...") over context ("You will join ...").
    let actions: Vec<&String> = responsibilities.iter().filter(|i| starts_with_action(i)).collect();
    let primary: Vec<&String> = if actions.is_empty() {
        responsibilities.iter().collect()
    } else {
        actions
    };
    let mut seen = BTreeSet::new();
    let mut pain_points = Vec::new();
    for item in primary.into_iter().filter(|i| acceptable(i)) {
        push_distinct(&mut pain_points, &mut seen, text::shorten(item, 120), 6);
    }
    if pain_points.is_empty() {
        for item in requirements.iter().chain(intro.iter()).filter(|i| acceptable(i)) {
            push_distinct(&mut pain_points, &mut seen, text::shorten(item, 120), 4);
        }
    }
    if pain_points.is_empty() {
        pain_points.push(format!("Fill the {} role at {}", job.title, job.company));
    }

    let mut strategic_needs = Vec::new();
    for item in intro.iter().chain(responsibilities.iter()).chain(requirements.iter()) {
        let lower = item.to_lowercase();
        if acceptable(item) && STRATEGIC_WORDS.iter().any(|w| lower.contains(w)) {
            push_distinct(&mut strategic_needs, &mut seen, text::shorten(item, 120), 5);
        }
    }
    if strategic_needs.is_empty() {
        // The item goes after a colon: it is an instruction, not a noun.
        strategic_needs.push(format!(
            "Someone to own this work end to end as {}: {}",
            job.title,
            text::lower_first(&text::shorten(&pain_points[0], 80))
        ));
    }

    let risk_templates: [fn(&str) -> String; 3] = [
        |p| {
            format!(
                "No one owns this work, so it lands on an already busy team: {}",
                text::lower_first(p)
            )
        },
        |p| format!("Delays and rework in: {}", text::lower_first(p)),
        |p| format!("Without this hire, this keeps slipping: {}", text::lower_first(p)),
    ];
    let risks_if_unfilled: Vec<String> = pain_points
        .iter()
        .take(3)
        .zip(risk_templates.iter())
        .map(|(p, t)| t(&text::shorten(p, 80)))
        .collect();

    let mut success_metrics = Vec::new();
    for item in responsibilities.iter().chain(requirements.iter()).chain(intro.iter()) {
        let lower = item.to_lowercase();
        if acceptable(item) && MEASURABLE_WORDS.iter().any(|w| lower.contains(w)) {
            push_distinct(&mut success_metrics, &mut seen, text::shorten(item, 120), 5);
        }
    }
    if success_metrics.is_empty() {
        for p in pain_points.iter().take(3) {
            push_distinct(
                &mut success_metrics,
                &mut seen,
                format!(
                    "Visible progress within 90 days on: {}",
                    text::lower_first(&text::shorten(p, 80))
                ),
                3,
            );
        }
    }

    PainPointsOutput {
        pain_points,
        strategic_needs,
        risks_if_unfilled,
        success_metrics,
    }
}

const ACTION_VERBS: &[&str] = &[
    "build",
    "design",
    "lead",
    "own",
    "develop",
    "drive",
    "manage",
    "improve",
    "scale",
    "maintain",
    "create",
    "implement",
    "support",
    "deliver",
    "run",
    "operate",
    "partner",
    "collaborate",
    "define",
    "ship",
    "mentor",
    "analy",
    "coordinate",
    "plan",
    "write",
    "care",
    "monitor",
    "conduct",
    "prepare",
    "oversee",
    "establish",
    "optimi",
    "automate",
    "migrate",
    "architect",
    "champion",
    "advise",
    "teach",
    "assess",
    "provide",
];

/// True when an item starts with an action verb ("Design", "Collaborate").
pub fn starts_with_action(item: &str) -> bool {
    let first = item.split_whitespace().next().unwrap_or("").to_lowercase();
    ACTION_VERBS.iter().any(|v| first.starts_with(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::fixtures;

    #[test]
    fn mines_grounded_items_that_pass_the_gate() {
        let job = fixtures::job();
        let out = mine(&job);
        gates::check_pain_points(&out).unwrap();
        let posting = job.job_description.to_lowercase();
        // Every pain point is taken from the posting.
        for p in &out.pain_points {
            assert!(posting.contains(&p.to_lowercase()), "{p:?} is not in the posting");
        }
    }

    #[test]
    fn unstructured_postings_still_yield_valid_output() {
        let mut job = fixtures::job();
        job.job_description = "We need someone. Great team player wanted.".into();
        let out = mine(&job);
        gates::check_pain_points(&out).unwrap();
        assert!(out.pain_points[0].contains("Senior Backend Engineer"));
    }
}
