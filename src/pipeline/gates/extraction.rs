//! The JD extraction gate: every item is a phrase of the posting or grounded in it, every
//! skill is named by the posting (in its words or as a lexicon synonym of them), and the
//! years and seniority are values the posting supports.

use std::collections::BTreeSet;

use super::GateViolations;
use crate::domain::outputs::ExtractedJd;
use crate::pipeline::{fact_check, lexicon, profession, text};

/// Share of an item's significant words the posting must contain.
const GROUNDED_SHARE: f64 = 0.6;
/// The same for implied pain points and success metrics, which rephrase.
const INFERRED_SHARE: f64 = 0.34;

fn grounded(item: &str, posting_tokens: &BTreeSet<String>, share: f64) -> bool {
    let words = text::token_set(item);
    if words.is_empty() {
        return false;
    }
    let found = words.iter().filter(|w| posting_tokens.contains(*w)).count();
    found as f64 / words.len() as f64 >= share
}

/// True when the posting names `skill`: its words, or a concept it shares with it.
pub fn posting_names(skill: &str, folded_posting: &str, posting_concepts: &BTreeSet<&str>) -> bool {
    let s = fact_check::fold(skill.trim());
    !s.is_empty()
        && (folded_posting.contains(&s) || lexicon::concepts(skill).iter().any(|c| posting_concepts.contains(c)))
}

/// Checks an extraction against the posting it was read from.
pub fn check_extract(jd: &ExtractedJd, posting: &str) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    let posting_tokens = text::token_set(posting);
    let folded = fact_check::fold(posting);
    let concepts = lexicon::concepts(posting);
    if jd.role_category.trim().is_empty() {
        v.push("role_category is empty".into());
    }
    if !profession::SENIORITY.contains(&jd.seniority_level.as_str()) {
        v.push(format!(
            "seniority_level must be one of {}, got {:?}",
            profession::SENIORITY.join(", "),
            jd.seniority_level
        ));
    }
    for (name, items, share, max) in [
        ("responsibilities", &jd.responsibilities, GROUNDED_SHARE, 12),
        ("qualifications", &jd.qualifications, GROUNDED_SHARE, 15),
        ("nice_to_haves", &jd.nice_to_haves, GROUNDED_SHARE, 10),
        ("implied_pain_points", &jd.implied_pain_points, INFERRED_SHARE, 8),
        ("success_metrics", &jd.success_metrics, INFERRED_SHARE, 8),
    ] {
        if items.len() > max {
            v.push(format!("{name} has {} items, at most {max}", items.len()));
        }
        let mut seen = BTreeSet::new();
        for item in items {
            if item.trim().is_empty() {
                v.push(format!("{name} has an empty item"));
            } else if !seen.insert(item.trim().to_lowercase()) {
                v.push(format!("{name} repeats {item:?}"));
            } else if item.chars().count() > 300 {
                v.push(format!(
                    "{name} item {:?} is longer than 300 characters",
                    text::shorten(item, 60)
                ));
            } else if !grounded(item, &posting_tokens, share) {
                v.push(format!(
                    "{name} item {item:?} is not in the posting; use the posting's words"
                ));
            }
        }
    }
    for (name, items, max) in [
        ("technical_skills", &jd.technical_skills, 25),
        ("soft_skills", &jd.soft_skills, 12),
        ("top_keywords", &jd.top_keywords, 20),
    ] {
        if items.len() > max {
            v.push(format!("{name} has {} items, at most {max}", items.len()));
        }
        for item in items.iter().filter(|s| !posting_names(s, &folded, &concepts)) {
            v.push(format!("{name} names {item:?}, which the posting does not mention"));
        }
    }
    if let Some(years) = jd.years_experience_required {
        let stated = (1..=50).any(|n| n == years && posting_states_years(posting, n));
        if !stated {
            v.push(format!(
                "years_experience_required is {years}, but the posting asks for no such number of years"
            ));
        }
    }
    if let Some(e) = &jd.education_requirements {
        if !grounded(e, &posting_tokens, GROUNDED_SHARE) {
            v.push(format!("education_requirements {e:?} is not in the posting"));
        }
    }
    super::verdict(v)
}

/// True when some requirement of the posting asks for `n` years.
fn posting_states_years(posting: &str, n: u32) -> bool {
    let numbers = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    let lower = posting.to_lowercase();
    text::sentences(&lower)
        .iter()
        .flat_map(|s| s.split(['\n', ';', ',']).map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| s.contains("year"))
        .any(|s| {
            text::required_years(&s) == Some(n)
                || s.contains(&format!("{n} "))
                || s.contains(&format!("{n}+"))
                || numbers.get(n as usize - 1).is_some_and(|w| s.contains(w))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_items_skills_and_years_are_named() {
        let posting = "Requirements:\n- 5+ years of Golang\n- Postgres at scale\n";
        let good = ExtractedJd {
            role_category: "software_engineering".into(),
            seniority_level: "senior".into(),
            qualifications: vec!["5+ years of Golang".into()],
            technical_skills: vec!["Go".into(), "Postgres".into()],
            years_experience_required: Some(5),
            ..ExtractedJd::default()
        };
        check_extract(&good, posting).unwrap();
        let bad = ExtractedJd {
            seniority_level: "guru".into(),
            qualifications: vec!["Experience with quantum annealing".into()],
            technical_skills: vec!["Haskell".into()],
            years_experience_required: Some(8),
            ..good
        };
        let v = check_extract(&bad, posting).unwrap_err().0.join("\n");
        for needle in [
            "seniority_level",
            "quantum annealing",
            "Haskell",
            "years_experience_required is 8",
        ] {
            assert!(v.contains(needle), "{needle}: {v}");
        }
    }
}
