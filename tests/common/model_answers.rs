//! Valid model answers for a posting and master CV, chosen by a phrase of each prompt's
//! system text: the offline stages' outputs pass the gates, so they serve as a model's
//! answers. Shared by the LLM API tests (wiremock provider) and the LLM-bound benchmark
//! (a fake provider with a fixed latency per call).

#![allow(dead_code)] // each user takes what it needs

use job_runner::domain::JobPosting;
use job_runner::pipeline::master_cv::MasterCv;
use job_runner::pipeline::offline;
use serde_json::{json, Value};

/// A phrase of each prompt's system text (config/prompts/*.md).
pub const PAIN: &str = "You analyse job postings";
pub const RESEARCH: &str = "You research a company";
pub const FIT: &str = "You score how well";
pub const STAR: &str = "You choose, for a job seeker";
pub const CV: &str = "You tailor a CV";
pub const LETTER: &str = "You write a cover letter";
pub const OUTREACH: &str = "You write short outreach messages";
pub const EXTRACT: &str = "You read job postings into their structured parts";
pub const REVIEW: &str = "You are the hiring manager for this role";

/// Every stage that asks a model.
pub const MODEL_STAGES: [&str; 7] = [
    "extract",
    "pain_points",
    "research",
    "fit_score",
    "cv",
    "cv_review",
    "cover_letter",
];

/// Valid answers for the example posting and master CV (the offline outputs pass the gates,
/// so they serve as a model's answers).
pub struct Answers {
    pub pain: Value,
    pub research: Value,
    pub fit: Value,
    pub star: Value,
    pub cv: Value,
    pub letter: Value,
    pub outreach: Value,
    pub extract: Value,
    pub review: Value,
}

pub fn answers_for(job: &JobPosting, master: &MasterCv) -> Answers {
    let pains = offline::pain_points::mine(job);
    let fit = offline::fit_score::score(job, master, 2026);
    let research = offline::research::research(job);
    let cv = offline::cv::tailor(master, &pains, &fit);
    let letter = offline::cover_letter::write(job, master, &pains, &research, &fit);
    let jd = offline::extract::extract(job);
    let first_bullet = cv
        .cv_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("- "))
        .expect("the tailored CV has bullets")
        .to_owned();
    let first_ask = jd.qualifications[0].clone();
    Answers {
        extract: json!(jd),
        review: json!({
            "verdict": "strong",
            "would_interview": true,
            "confidence": 0.7,
            "first_impression_score": 8,
            "first_impression_summary": "The CV leads with the delivery work the posting asks for (model review).",
            "headline_verdict": "The headline names the backend work of the role.",
            "achievements_verdict": "Most bullets state a result.",
            "strengths": [format!("\"{first_bullet}\" answers the posting directly")],
            "weaknesses": [format!("The posting asks for \"{first_ask}\"; say where the CV shows it")],
            "rewrite_suggestions": [format!("Keep \"{first_bullet}\" first in its role")],
        }),
        pain: json!(pains),
        research: json!({
            "company_research": {
                "summary": "Northwind Logistics runs freight software (model summary).",
                "signals": [
                    {"type": "funding", "description": "Raised a Series B", "date": "2026-03-01", "source": "https://news.example/northwind-series-b"},
                    {"type": "growth", "description": "Doubled headcount", "date": "unknown", "source": ""}
                ],
                "url": "https://northwind.example"
            },
            "role_research": {
                "summary": "The role owns the shipment pipeline (model summary).",
                "business_impact": ["Fewer failed shipments", "Faster billing", "Lower on-call load"],
                "why_now": "Volume grows faster than the platform."
            }
        }),
        fit: json!({
            "fit_score": 82,
            "fit_rationale": "The CV shows matched evidence for the core requirements. Nothing essential is missing.",
            "matched_requirements": fit.matched_requirements,
            "missing_requirements": fit.missing_requirements,
        }),
        star: json!({
            "selected": ["star-1", "star-2"],
            "star_to_pain_mapping": {"star-1": [pains.pain_points[0]]}
        }),
        cv: json!({"cv_text": cv.cv_text, "cv_reasoning": "Model reasoning: lead with the pipeline work."}),
        letter: json!(letter),
        outreach: json!({"messages": research.primary_contacts.iter().map(|c| json!({
            "name": c.name,
            "linkedin_message": format!("Hello, I applied for the {} role at {}; my pipeline work fits what you need now (model draft).", job.title, job.company),
            "email_subject": format!("{} application", job.title),
            "email_body": format!(
                "Hello,\n\nI applied for the {} role at {}. {} Could we speak for a quarter of an hour about the team's plans? (model draft)",
                job.title,
                job.company,
                "My recent work on backend services and delivery pipelines matches what the posting describes. ".repeat(4)
            ),
        })).collect::<Vec<_>>()}),
    }
}

impl Answers {
    /// Each prompt's phrase with its valid answer.
    pub fn all(&self) -> [(&'static str, &Value); 9] {
        [
            (EXTRACT, &self.extract),
            (REVIEW, &self.review),
            (PAIN, &self.pain),
            (RESEARCH, &self.research),
            (FIT, &self.fit),
            (STAR, &self.star),
            (CV, &self.cv),
            (LETTER, &self.letter),
            (OUTREACH, &self.outreach),
        ]
    }
}
