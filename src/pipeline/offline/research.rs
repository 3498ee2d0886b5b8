//! Company and role research from the posting alone (no network): summaries quote what the
//! posting says and say plainly that no outside research was done; no signals are invented.

use crate::domain::outputs::{CompanyResearch, ResearchOutput, RoleResearch};
use crate::domain::JobPosting;
use crate::pipeline::offline::contacts;
use crate::pipeline::text::{self, SectionKind};

const WHY_NOW_WORDS: &[&str] = &[
    "growing",
    "growth",
    "new team",
    "expand",
    "scale",
    "scaling",
    "launch",
    "recently",
    "series",
    "funding",
    "first ",
    "build out",
    "build-out",
    "backfill",
    "newly",
    "next phase",
    "doubling",
    "hypergrowth",
];

/// Research output built from the posting.
pub fn research(job: &JobPosting) -> ResearchOutput {
    let sections = text::sections(&job.full_text());
    let about: Vec<String> = text::items_of(&sections, SectionKind::About)
        .into_iter()
        .chain(text::items_of(&sections, SectionKind::Intro))
        .collect();
    let company_lower = job.company.to_lowercase();
    let about_company: Vec<&String> = about
        .iter()
        .filter(|s| {
            let l = s.to_lowercase();
            l.contains(&company_lower) || l.starts_with("we ") || l.contains(" we ") || l.contains("our ")
        })
        .take(3)
        .collect();
    let summary = if about_company.is_empty() {
        format!(
            "{} is hiring a {}. The posting says nothing further about the company, and no outside research was done (offline mode).",
            job.company, job.title
        )
    } else {
        format!(
            "From the posting only (no outside research was done, offline mode): {}",
            about_company.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        )
    };

    let responsibilities = text::items_of(&sections, SectionKind::Responsibilities);
    let requirements = text::items_of(&sections, SectionKind::Requirements);
    let mut impact: Vec<String> = Vec::new();
    for item in responsibilities.iter().chain(requirements.iter()).chain(about.iter()) {
        if text::word_count(item) >= 3 && impact.len() < 5 && !impact.iter().any(|i| i.eq_ignore_ascii_case(item)) {
            impact.push(text::shorten(item, 120));
        }
    }
    let fallbacks = [
        format!("Adds capacity to {}'s {} work", job.company, job.title),
        format!(
            "Takes ownership of the responsibilities listed for the {} role",
            job.title
        ),
        format!("Reduces the load on the existing team at {}", job.company),
    ];
    for f in fallbacks {
        if impact.len() >= 3 {
            break;
        }
        impact.push(f);
    }

    let all_items: Vec<&String> = sections.iter().flat_map(|s| s.items.iter()).collect();
    let why_now = all_items
        .iter()
        .find(|s| {
            let l = s.to_lowercase();
            WHY_NOW_WORDS.iter().any(|w| l.contains(w))
        })
        .map(|s| format!("The posting suggests: {s}"))
        .unwrap_or_else(|| "The posting does not say why the role is open now; ask the hiring manager.".to_owned());

    let role_summary = match responsibilities.first() {
        Some(first) => format!(
            "{} at {}. The posting lists {} responsibilities, led by: {}",
            job.title,
            job.company,
            responsibilities.len(),
            text::shorten(first, 140)
        ),
        None => format!(
            "{} at {}. The posting does not list responsibilities separately.",
            job.title, job.company
        ),
    };
    let focus = responsibilities.first().cloned().unwrap_or_else(|| job.title.clone());
    let (primary_contacts, secondary_contacts) = contacts::role_based(job, &focus);
    ResearchOutput {
        company_research: CompanyResearch {
            summary,
            signals: Vec::new(),
            url: job.job_url.clone(),
        },
        role_research: RoleResearch {
            summary: role_summary,
            business_impact: impact,
            why_now,
        },
        primary_contacts,
        secondary_contacts,
        contacts_are_role_based: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::fixtures;

    #[test]
    fn research_is_marked_as_posting_only_and_passes_the_gate() {
        let out = research(&fixtures::job());
        gates::check_research(&out).unwrap();
        assert!(out.company_research.summary.contains("no outside research"));
        assert!(
            out.company_research.signals.is_empty(),
            "offline research must not invent signals"
        );
    }

    #[test]
    fn thin_postings_still_get_three_impacts() {
        let mut job = fixtures::job();
        job.job_description = "Come work with us.".into();
        let out = research(&job);
        gates::check_research(&out).unwrap();
        assert!(out.role_research.why_now.contains("does not say"));
    }
}
