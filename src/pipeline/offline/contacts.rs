//! Role-based contacts (COMPAT.md): when nobody was discovered, four primary and four
//! secondary roles to approach, chosen for the posting's field, with outreach drafts.

use crate::domain::outputs::Contact;
use crate::domain::JobPosting;
use crate::pipeline::offline::prose;
use crate::pipeline::text;

struct Field {
    keywords: &'static [&'static str],
    primary: [&'static str; 4],
    secondary: [&'static str; 4],
}

const FIELDS: &[Field] = &[
    Field {
        keywords: &[
            "engineer",
            "developer",
            "devops",
            "sre",
            "software",
            "platform",
            "backend",
            "frontend",
            "data",
            "machine learning",
        ],
        primary: [
            "Hiring Manager",
            "VP Engineering",
            "Technical Recruiter",
            "Engineering Director / CTO",
        ],
        secondary: [
            "Product Manager",
            "Senior Engineer",
            "DevOps Lead",
            "Engineering Team Lead",
        ],
    },
    Field {
        keywords: &["nurse", "clinical", "patient", "health", "care", "medical", "pharmac"],
        primary: [
            "Hiring Manager",
            "Director of Nursing",
            "Healthcare Recruiter",
            "Clinical Services Manager",
        ],
        secondary: [
            "Charge Nurse",
            "Ward Manager",
            "Clinical Educator",
            "HR Business Partner",
        ],
    },
    Field {
        keywords: &[
            "marketing",
            "brand",
            "content",
            "growth",
            "seo",
            "communications",
            "campaign",
        ],
        primary: [
            "Hiring Manager",
            "Head of Marketing",
            "Talent Acquisition Partner",
            "Chief Marketing Officer",
        ],
        secondary: [
            "Product Marketing Manager",
            "Content Lead",
            "Growth Lead",
            "Sales Director",
        ],
    },
    Field {
        keywords: &["sales", "account", "business development", "customer success"],
        primary: [
            "Hiring Manager",
            "VP Sales",
            "Talent Acquisition Partner",
            "Chief Revenue Officer",
        ],
        secondary: [
            "Sales Team Lead",
            "Customer Success Lead",
            "Sales Operations Manager",
            "Account Executive",
        ],
    },
];

const GENERIC: Field = Field {
    keywords: &[],
    primary: [
        "Hiring Manager",
        "Department Head",
        "Recruiter",
        "Director of Operations",
    ],
    secondary: [
        "Team Lead",
        "Senior Team Member",
        "HR Business Partner",
        "Operations Manager",
    ],
};

fn field_for(job: &JobPosting) -> &'static Field {
    let title = job.title.to_lowercase();
    let text = format!("{title} {}", job.job_description.to_lowercase());
    // The title decides first; the description breaks ties.
    FIELDS
        .iter()
        .find(|f| f.keywords.iter().any(|k| title.contains(k)))
        .or_else(|| {
            FIELDS
                .iter()
                .max_by_key(|f| f.keywords.iter().filter(|k| text.contains(*k)).count())
                .filter(|f| f.keywords.iter().any(|k| text.contains(k)))
        })
        .unwrap_or(&GENERIC)
}

fn contact(job: &JobPosting, role: &str, focus: &str, primary: bool) -> Contact {
    let why = if primary {
        format!(
            "The {role} is likely to decide on or screen for the {} hire.",
            job.title
        )
    } else {
        format!(
            "The {role} would work closely with the new {} and can speak to the team's needs.",
            job.title
        )
    };
    let reasoning = format!(
        "Role-based contact: no contact discovery ran, so this targets whoever holds the {role} role at {}.",
        job.company
    );
    draft(job, role, role, "", why, reasoning, focus)
}

/// A contact found by web search (name, role and profile URL as the search returned them),
/// with the same outreach drafts as role-based ones.
pub fn discovered(job: &JobPosting, name: &str, role: &str, url: &str, focus: &str) -> Contact {
    let focus = text::shorten(focus, 120);
    let why = format!(
        "{name} ({role}) works at {} and is close to the {} hire.",
        job.company, job.title
    );
    let reasoning = format!("Found by web search of public profiles; source: {url}");
    draft(job, name, role, url, why, reasoning, &focus)
}

fn draft(job: &JobPosting, name: &str, role: &str, url: &str, why: String, reasoning: String, focus: &str) -> Contact {
    let greeting = if name == role {
        "Hello".to_owned()
    } else {
        format!("Hello {}", name.split_whitespace().next().unwrap_or(name))
    };
    Contact {
        name: name.to_owned(),
        role: role.to_owned(),
        linkedin_url: url.to_owned(),
        why_relevant: why,
        recent_signals: Vec::new(),
        // The focus is a posting item (an instruction): quoted, never spliced in.
        linkedin_message: text::shorten(
            &match prose::quoted(&job.full_text(), focus, 120) {
                Some(q) => format!(
                    "{greeting}, I have applied for the {} role at {}. The posting lists {q} among the first needs, and my CV shows comparable work; I would value a short conversation.",
                    job.title, job.company
                ),
                None => format!(
                    "{greeting}, I have applied for the {} role at {}. My CV shows work comparable to what the posting describes; I would value a short conversation.",
                    job.title, job.company
                ),
            },
            300,
        ),
        email_subject: format!("{} application at {}", job.title, job.company),
        email_body: format!(
            "{greeting},\n\nI have applied for the {} role at {}. {} \
             Could we talk for 15 minutes about what the team needs most in the first months?\n\nThank you for your time.",
            job.title,
            job.company,
            match prose::quoted(&job.full_text(), focus, 120) {
                Some(q) => format!("The posting puts this at the centre of the role: {q}. My CV shows comparable work."),
                None => "My CV shows work comparable to what the posting describes.".to_owned(),
            }
        ),
        reasoning,
    }
}

/// Four primary and four secondary role-based contacts; `focus` is the top pain point.
pub fn role_based(job: &JobPosting, focus: &str) -> (Vec<Contact>, Vec<Contact>) {
    let field = field_for(job);
    let focus = text::lower_first(&text::shorten(focus, 90));
    (
        field.primary.iter().map(|r| contact(job, r, &focus, true)).collect(),
        field.secondary.iter().map(|r| contact(job, r, &focus, false)).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::offline::fixtures;

    #[test]
    fn engineering_postings_get_engineering_roles() {
        let (p, s) = role_based(&fixtures::job(), "Scale the pipeline");
        assert_eq!(p.len(), 4);
        assert_eq!(s.len(), 4);
        assert_eq!(p[1].role, "VP Engineering");
        assert!(p[0].email_body.contains("Northwind Logistics"));
    }

    #[test]
    fn other_fields_get_their_own_roles() {
        let mut job = fixtures::job();
        job.title = "Registered Nurse".into();
        let (p, _) = role_based(&job, "Patient care");
        assert_eq!(p[1].role, "Director of Nursing");
    }
}
