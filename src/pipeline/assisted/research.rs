//! Company and role research from the model over the sources FireCrawl found (or the
//! posting alone). Every company signal must carry the URL it came from, and that URL must
//! be one of the sources given (or the posting's own URL): a signal without one is dropped,
//! never shown as fact.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::domain::outputs::{CompanyResearch, CompanySignal, RoleResearch};
use crate::domain::JobPosting;
use crate::firecrawl::Page;
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::gates;

/// A signal as the model wrote it (source possibly missing).
#[derive(Debug, Deserialize)]
pub struct SignalAnswer {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub source: String,
}

/// Company research as the model wrote it.
#[derive(Debug, Deserialize)]
pub struct CompanyAnswer {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub signals: Vec<SignalAnswer>,
    #[serde(default)]
    pub url: Option<String>,
}

/// The model's answer.
#[derive(Debug, Deserialize)]
pub struct ResearchAnswer {
    pub company_research: CompanyAnswer,
    pub role_research: RoleResearch,
}

impl AnswerShape for ResearchAnswer {
    fn schema() -> serde_json::Value {
        let signal = schema::object(&[
            ("type", schema::string()),
            ("description", schema::string()),
            ("date", schema::string()),
            ("source", schema::string()),
        ]);
        schema::object(&[
            (
                "company_research",
                schema::object(&[("summary", schema::string()), ("signals", schema::array_of(signal))]),
            ),
            (
                "role_research",
                schema::object(&[
                    ("summary", schema::string()),
                    ("business_impact", schema::strings()),
                    ("why_now", schema::string()),
                ]),
            ),
        ])
    }
}

fn normal(url: &str) -> String {
    url.trim().trim_end_matches('/').to_lowercase()
}

/// Problems the model can repair (sources are filtered, not repaired).
pub fn problems(a: &ResearchAnswer) -> Vec<String> {
    gates::research_content_problems(
        &a.company_research.summary,
        a.company_research.signals.iter().map(|s| s.kind.as_str()),
        &a.role_research,
    )
}

/// The answer with every signal whose source is not among `allowed` dropped; returns the
/// research and the number of dropped signals.
pub fn sourced(a: ResearchAnswer, allowed: &BTreeSet<String>) -> (CompanyResearch, RoleResearch, usize) {
    let total = a.company_research.signals.len();
    let signals: Vec<CompanySignal> = a
        .company_research
        .signals
        .into_iter()
        .filter(|s| s.source.starts_with("http") && allowed.contains(&normal(&s.source)))
        .map(|s| CompanySignal {
            kind: s.kind,
            description: s.description,
            date: if s.date.trim().is_empty() {
                "unknown".into()
            } else {
                s.date
            },
            source: s.source,
        })
        .collect();
    let dropped = total - signals.len();
    let url = a.company_research.url.filter(|u| allowed.contains(&normal(u)));
    (
        CompanyResearch {
            summary: a.company_research.summary,
            signals,
            url,
        },
        a.role_research,
        dropped,
    )
}

/// Asks the model for company and role research over `sources`.
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    job: &JobPosting,
    sources: &[Page],
) -> Result<(CompanyResearch, RoleResearch), Fallback> {
    let posting = llm.fit_input(scope, "posting", &job.full_text(), 0.35);
    let share = 0.55 / sources.len().max(1) as f64;
    let listing = if sources.is_empty() {
        "(none: no web research was done; give no company signals)".to_owned()
    } else {
        sources
            .iter()
            .map(|p| {
                format!(
                    "Source: {}\nTitle: {}\n{}",
                    p.url,
                    p.title,
                    llm.fit_input(scope, &format!("source {}", p.url), &p.text, share)
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let mut allowed: BTreeSet<String> = sources.iter().map(|p| normal(&p.url)).collect();
    if let Some(u) = &job.job_url {
        allowed.insert(normal(u));
    }
    let answer = llm
        .ask::<ResearchAnswer, _>(
            scope,
            "research",
            &[
                ("company", &job.company),
                ("title", &job.title),
                ("posting", &posting),
                ("sources", &listing),
            ],
            2,
            |a| super::verdict(problems(a)),
        )
        .await?;
    let (company, role, dropped) = sourced(answer, &allowed);
    if dropped > 0 {
        scope.log.warn(format!(
            "dropped {dropped} company signal(s) without a source URL among the pages researched"
        ));
    }
    Ok((company, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_without_a_known_source_are_dropped() {
        let a: ResearchAnswer = serde_json::from_value(serde_json::json!({
            "company_research": {"summary": "Acme ships.", "signals": [
                {"type": "funding", "description": "Raised $10M", "date": "2026-01-02", "source": "https://acme.com/news/"},
                {"type": "growth", "description": "Doubled", "date": "", "source": ""},
                {"type": "partnership", "description": "Made up", "source": "https://elsewhere.example"}
            ]},
            "role_research": {"summary": "s", "business_impact": ["a", "b", "c"], "why_now": "now"}
        }))
        .unwrap();
        assert!(problems(&a).is_empty());
        let allowed = BTreeSet::from([normal("https://acme.com/news")]);
        let (company, _, dropped) = sourced(a, &allowed);
        assert_eq!(dropped, 2);
        assert_eq!(company.signals.len(), 1);
        assert_eq!(company.signals[0].source, "https://acme.com/news/");
    }
}
