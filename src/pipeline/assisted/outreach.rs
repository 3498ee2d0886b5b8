//! Outreach drafts from the model for the research stage's primary contacts (discovered
//! people or role-based contacts): a LinkedIn note, an e-mail subject and body each,
//! addressed to the contact, naming the company, and citing no number that is not in the
//! candidate's record or the posting. Rejected drafts leave the template drafts in place.

use serde::Deserialize;

use crate::domain::outputs::{Contact, ResearchOutput};
use crate::domain::JobPosting;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::offline;
use crate::pipeline::text;

/// One contact's drafts as the model wrote them.
#[derive(Debug, Deserialize)]
pub struct Draft {
    pub name: String,
    pub linkedin_message: String,
    pub email_subject: String,
    pub email_body: String,
}

/// The model's answer.
#[derive(Debug, Deserialize)]
pub struct OutreachAnswer {
    pub messages: Vec<Draft>,
}

impl AnswerShape for OutreachAnswer {
    fn schema() -> serde_json::Value {
        schema::object(&[(
            "messages",
            schema::array_of(schema::object(&[
                ("name", schema::string()),
                ("linkedin_message", schema::string()),
                ("email_subject", schema::string()),
                ("email_body", schema::string()),
            ])),
        )])
    }
}

/// Problems of the drafts for `contacts`.
pub fn problems(a: &OutreachAnswer, contacts: &[Contact], company: &str, evidence: &str, posting: &str) -> Vec<String> {
    let mut v = Vec::new();
    if a.messages.len() != contacts.len() {
        v.push(format!(
            "messages must have one entry per contact ({}), has {}",
            contacts.len(),
            a.messages.len()
        ));
    }
    for (d, c) in a.messages.iter().zip(contacts) {
        let who = &c.name;
        if !d.name.trim().eq_ignore_ascii_case(who) {
            v.push(format!(
                "entry {:?} should be for {who:?} (same order as given)",
                d.name
            ));
        }
        let n = d.linkedin_message.chars().count();
        if n == 0 || n > 300 {
            v.push(format!(
                "linkedin_message for {who:?} must be 1–300 characters, has {n}"
            ));
        }
        let n = d.email_subject.chars().count();
        if n == 0 || n > 120 {
            v.push(format!("email_subject for {who:?} must be 1–120 characters, has {n}"));
        }
        let words = text::word_count(&d.email_body);
        if !(40..=200).contains(&words) {
            v.push(format!(
                "email_body for {who:?} must be 40–200 words (aim for 60–150), has {words}"
            ));
        }
        if !d.email_body.to_lowercase().contains(&company.to_lowercase()) {
            v.push(format!("email_body for {who:?} does not name {company:?}"));
        }
        let all = format!("{} {} {}", d.linkedin_message, d.email_subject, d.email_body);
        for num in text::metric_numbers(&all) {
            if !evidence.contains(&num) && !posting.contains(&num) {
                v.push(format!(
                    "the message for {who:?} cites {num:?}, which is in neither the candidate's record nor the posting"
                ));
            }
        }
        let stock = text::stock_phrases_in(&all);
        if !stock.is_empty() {
            v.push(format!(
                "the message for {who:?} uses stock phrases ({})",
                stock.join(", ")
            ));
        }
    }
    v
}

/// Asks the model for drafts for the primary contacts of `research`; returns them with the
/// drafts replaced.
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    job: &JobPosting,
    master: &MasterCv,
    research: &ResearchOutput,
) -> Result<Vec<Contact>, Fallback> {
    let contacts = &research.primary_contacts;
    let terms = text::token_set(&job.full_text());
    let highlights = offline::cv::ranked_stars(master, &terms)
        .into_iter()
        .take(3)
        .map(|s| format!("- {} ({})", s.text, s.role))
        .collect::<Vec<_>>()
        .join("\n");
    let listing = contacts
        .iter()
        .map(|c| format!("- {} — {}", c.name, c.role))
        .collect::<Vec<_>>()
        .join("\n");
    let summary = llm.fit_input(scope, "company research", &research.company_research.summary, 0.2);
    let evidence = master.evidence();
    let answer = llm
        .ask::<OutreachAnswer, _>(
            scope,
            "outreach",
            &[
                ("company", &job.company),
                ("title", &job.title),
                ("company_summary", &summary),
                ("why_now", &research.role_research.why_now),
                ("contacts", &listing),
                ("highlights", &highlights),
            ],
            1,
            |a| super::verdict(problems(a, contacts, &job.company, &evidence, &job.title_and_text())),
        )
        .await?;
    Ok(contacts
        .iter()
        .zip(answer.messages)
        .map(|(c, d)| Contact {
            linkedin_message: d.linkedin_message.trim().to_owned(),
            email_subject: d.email_subject.trim().to_owned(),
            email_body: d.email_body.trim().to_owned(),
            ..c.clone()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_must_match_the_contacts_and_invent_no_numbers() {
        let job = offline::fixtures::job();
        let (contacts, _) = offline::contacts::role_based(&job, "Scale the pipeline");
        let body = format!(
            "Hello, I applied to {} and led the platform migration that cut incidents by 40%. {}",
            job.company,
            "I would value a short conversation about the team's plans. ".repeat(6)
        );
        let drafts = |n: usize, body: &str| OutreachAnswer {
            messages: contacts
                .iter()
                .take(n)
                .map(|c| Draft {
                    name: c.name.clone(),
                    linkedin_message: "Hello, short note.".into(),
                    email_subject: "Application".into(),
                    email_body: body.to_owned(),
                })
                .collect(),
        };
        assert!(problems(&drafts(4, &body), &contacts, &job.company, "cut incidents by 40%", "").is_empty());
        let v = problems(&drafts(3, &body), &contacts, &job.company, "", "");
        assert!(v[0].contains("one entry per contact (4), has 3"), "{v:?}");
        assert!(v.iter().any(|p| p.contains("\"40%\"")), "{v:?}");
    }
}
