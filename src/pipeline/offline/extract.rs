//! JD extraction without a model: the posting's own sections (responsibilities,
//! must-haves, nice-to-haves) read under the headings job boards use, the skills it names
//! found with the concepts lexicon (in the posting's own words), its profession family and
//! seniority from the title, and its years and education asks as it states them. Nothing
//! here is invented: every item is a phrase of the posting.

use std::collections::BTreeSet;

use crate::domain::outputs::ExtractedJd;
use crate::domain::JobPosting;
use crate::pipeline::lexicon::{self, ConceptKind};
use crate::pipeline::offline::pain_points;
use crate::pipeline::profession;
use crate::pipeline::text::{self, SectionKind};

/// Items cut at this many characters (a sentence of a posting, not a paragraph).
const ITEM_CHARS: usize = 200;

/// Words that mark a degree or training ask.
const EDUCATION_WORDS: &[&str] = &[
    "degree",
    "bachelor",
    "master's",
    "masters",
    "bsc",
    "b.sc",
    "msc",
    "phd",
    "diploma",
    "qualified",
    "certification",
    "certificate",
    "licence",
    "license",
    "registration",
    "registered with",
    "gcse",
    "a-level",
    "nvq",
];

/// Words of an item that asks for experience or knowledge, for a posting without headings.
const ASK_MARKERS: &[&str] = &[
    "experience",
    "knowledge",
    "proficien",
    "familiar",
    "degree",
    "years",
    "skills in",
    "background in",
    "you have",
    "you are",
    "ability to",
];

fn distinct(items: impl IntoIterator<Item = String>, max: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .map(|i| text::shorten(&i, ITEM_CHARS))
        .filter(|i| !i.is_empty() && seen.insert(i.to_lowercase()))
        .take(max)
        .collect()
}

/// True for a sentence that states a duty in the second person ("You will administer ...").
fn states_duty(item: &str) -> bool {
    let l = item.trim_start().to_lowercase().replace('’', "'");
    [
        "you will ",
        "you'll ",
        "your day ",
        "in this role you will ",
        "in this role, you will ",
        "as our ",
    ]
    .iter()
    .any(|p| l.starts_with(p))
}

/// Reads the posting into `extracted_jd`.
pub fn extract(job: &JobPosting) -> ExtractedJd {
    let posting = job.full_text();
    let sections = text::sections(&posting);
    let mut responsibilities = text::items_of(&sections, SectionKind::Responsibilities);
    if responsibilities.is_empty() {
        responsibilities = sections
            .iter()
            .filter(|s| matches!(s.kind, SectionKind::Intro | SectionKind::About))
            .flat_map(|s| s.items.iter())
            .filter(|i| pain_points::starts_with_action(i) || states_duty(i))
            .flat_map(|i| text::inline_items(i))
            .collect();
    }
    let mut qualifications = text::items_of(&sections, SectionKind::Requirements);
    let nice_to_haves = text::items_of(&sections, SectionKind::Preferred);
    if qualifications.is_empty() {
        qualifications = sections
            .iter()
            .filter(|s| !matches!(s.kind, SectionKind::Benefits | SectionKind::Preferred))
            .flat_map(|s| s.items.iter())
            .filter(|i| {
                let l = i.to_lowercase();
                ASK_MARKERS.iter().any(|m| l.contains(m))
            })
            .cloned()
            .collect();
    }
    let asks: Vec<&String> = qualifications
        .iter()
        .chain(&nice_to_haves)
        .chain(&responsibilities)
        .collect();
    let ask_text = asks.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n");
    // The intro of a prose posting says what the person is like ("a compassionate nurse").
    let intro = text::items_of(&sections, SectionKind::Intro).join("\n");
    // Skills in the posting's own words, from what it asks for first, then the title.
    let skills = |kind: ConceptKind, max: usize| {
        let hits = lexicon::find(&format!("{}\n{ask_text}\n{intro}", job.title), &[kind]);
        distinct(hits.into_iter().map(|h| h.surface), max)
    };
    let technical_skills = skills(ConceptKind::Technical, 20);
    // Ways of working by their plain names ("collaboration", not "Collaborate with").
    let soft_skills = distinct(
        lexicon::find(&format!("{ask_text}\n{intro}"), &[ConceptKind::Soft])
            .into_iter()
            .map(|h| h.concept.name.to_owned()),
        10,
    );

    let pains = pain_points::mine(job);
    let years_experience_required = qualifications.iter().filter_map(|q| text::required_years(q)).min();
    let education_requirements = qualifications
        .iter()
        .chain(&nice_to_haves)
        .find(|q| {
            let l = q.to_lowercase();
            EDUCATION_WORDS.iter().any(|w| l.contains(w))
        })
        .map(|e| text::shorten(e, ITEM_CHARS));

    let family = profession::family_of_posting(&job.title, &ask_text);
    let mut keywords: Vec<String> = technical_skills.clone();
    // Named things the lexicon does not know: capitalised words inside a requirement
    // ("Kafka", "SAP", "NMC") that are not the first word of the item.
    for q in qualifications.iter().chain(&nice_to_haves) {
        for w in q.split_whitespace().skip(1) {
            let w = w.trim_matches(|c: char| !(c.is_alphanumeric() || c == '+' || c == '#'));
            let named = w.chars().count() >= 2
                && w.chars().next().is_some_and(char::is_uppercase)
                && w.chars().skip(1).any(|c| c.is_uppercase() || c.is_ascii_digit())
                || (w.len() >= 3 && w.chars().all(|c| c.is_ascii_uppercase()));
            if named {
                keywords.push(w.to_owned());
            }
        }
    }
    keywords.extend(soft_skills.iter().cloned());
    let top_keywords = distinct(keywords, 15);

    ExtractedJd {
        role_category: family.map_or("other", profession::Family::as_str).to_owned(),
        seniority_level: profession::seniority_of_title(&job.title).to_owned(),
        responsibilities: distinct(responsibilities, 10),
        qualifications: distinct(qualifications, 12),
        nice_to_haves: distinct(nice_to_haves, 8),
        technical_skills,
        soft_skills,
        top_keywords,
        implied_pain_points: pains.pain_points,
        success_metrics: pains.success_metrics,
        years_experience_required,
        education_requirements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::fixtures;

    fn posting(title: &str, body: &str) -> JobPosting {
        let doc = serde_json::json!({"_id": "0123456789abcdef01234567", "title": title, "company": "Acme", "job_description": body});
        JobPosting::from_document(doc.as_object().unwrap(), false).unwrap()
    }

    #[test]
    fn the_example_backend_posting_is_read_into_its_parts() {
        let job = fixtures::job();
        let jd = extract(&job);
        gates::check_extract(&jd, &job.title_and_text()).unwrap();
        assert_eq!(jd.role_category, "software_engineering");
        assert!(
            !jd.responsibilities.is_empty() && !jd.qualifications.is_empty(),
            "{jd:#?}"
        );
        assert!(!jd.technical_skills.is_empty(), "{jd:#?}");
    }

    #[test]
    fn a_board_posting_with_tags_and_odd_headings() {
        let job = posting(
            "Senior Backend Engineer (Go)",
            "About Acme\nWe move money for 2M people.\n\nWhat you’ll be doing\n• Design and run our Golang payment services\n• Improve stability, performance, and scalability\n\nWhat you'll need\n• 5+ years of professional experience leveraging Go\n• Strong Postgres and Kafka skills\n• BSc in Computer Science or equivalent\n• Clear written communication\n\nBonus points\n• Kubernetes\n\nWe are an equal opportunity employer.\n#LI-DNI #LI-Remote",
        );
        let jd = extract(&job);
        gates::check_extract(&jd, &job.title_and_text()).unwrap();
        assert_eq!(jd.seniority_level, "senior");
        assert_eq!(jd.years_experience_required, Some(5));
        assert_eq!(
            jd.education_requirements.as_deref(),
            Some("BSc in Computer Science or equivalent")
        );
        assert_eq!(jd.nice_to_haves, ["Kubernetes"]);
        assert_eq!(jd.responsibilities.len(), 2);
        for s in ["Go", "Postgres", "Kafka", "Kubernetes"] {
            assert!(
                jd.technical_skills.iter().any(|t| t == s) || jd.top_keywords.iter().any(|t| t == s),
                "{s}: {jd:#?}"
            );
        }
        assert!(
            jd.soft_skills.iter().any(|s| s == "communication"),
            "{:?}",
            jd.soft_skills
        );
        let all = serde_json::to_string(&jd).unwrap();
        assert!(!all.contains("#LI") && !all.contains("equal opportunity"), "{all}");
    }

    #[test]
    fn other_professions_and_prose_postings() {
        let nurse = posting(
            "Registered Nurse - Night Shift",
            "Our ward needs a compassionate nurse. You will administer medication, assess patients and keep care plans current. You have current NMC registration and at least two years of acute care experience.",
        );
        let jd = extract(&nurse);
        gates::check_extract(&jd, &nurse.title_and_text()).unwrap();
        assert_eq!(jd.role_category, "nursing");
        assert_eq!(jd.years_experience_required, Some(2));
        assert!(
            jd.technical_skills
                .iter()
                .any(|s| s.to_lowercase().contains("medication")),
            "{jd:#?}"
        );
    }
}
