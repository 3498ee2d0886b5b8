//! The dossier: one plain-text file a job seeker reads before applying, with the sections
//! COMPAT.md lists.

use std::fmt::Write;

use crate::domain::outputs::{
    CoverLetterOutput, CvOutput, CvReviewOutput, ExtractedJd, FitOutput, PainPointsOutput, Provenance, ResearchOutput,
};
use crate::domain::{JobPosting, RunId, StageName, StageProducer};

/// One pain point with the CV's proof for it and a plan line of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct PainProof {
    pub pain: String,
    /// Achievements that prove it (empty when the CV has none).
    pub proof: Vec<String>,
    pub plan: String,
}

/// Everything the dossier is written from.
pub struct DossierInput<'a> {
    pub run_id: &'a RunId,
    pub job: &'a JobPosting,
    pub pains: &'a PainPointsOutput,
    pub research: &'a ResearchOutput,
    pub fit: &'a FitOutput,
    pub cv: &'a CvOutput,
    pub letter: &'a CoverLetterOutput,
    /// The posting's parts.
    pub jd: &'a ExtractedJd,
    /// The hiring manager's first read of the CV.
    pub review: &'a CvReviewOutput,
    pub outreach: &'a [serde_json::Value],
    /// Pain → proof → plan, paired by the pipeline.
    pub pairs: &'a [PainProof],
    /// Who produced each stage's output.
    pub provenance: &'a std::collections::BTreeMap<StageName, Provenance>,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

fn heading(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "\n{}\n{}\n",
        title.to_uppercase(),
        "=".repeat(title.chars().count())
    );
}

fn list(out: &mut String, items: &[String]) {
    for i in items {
        let _ = writeln!(out, "  - {i}");
    }
}

/// Renders the dossier text.
pub fn render_dossier(d: &DossierInput<'_>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "APPLICATION DOSSIER: {} at {}", d.job.title, d.job.company);
    let _ = writeln!(o, "Fit: {}/100 ({})", d.fit.fit_score, d.fit.fit_category);
    if let Some(url) = &d.job.job_url {
        let _ = writeln!(o, "Posting: {url}");
    }

    heading(&mut o, "Pain → proof → plan");
    for (i, p) in d.pairs.iter().enumerate() {
        let _ = writeln!(o, "{}. Pain:  {}", i + 1, p.pain);
        let _ = writeln!(
            o,
            "   Proof: {}",
            if p.proof.is_empty() {
                "no direct achievement in the CV; address it in conversation".to_owned()
            } else {
                p.proof.join(" | ")
            }
        );
        let _ = writeln!(o, "   Plan:  {}", p.plan);
    }

    heading(&mut o, "Job summary");
    let _ = writeln!(o, "{} at {}", d.job.title, d.job.company);
    let _ = writeln!(o, "{}", d.research.role_research.summary);
    let _ = writeln!(
        o,
        "Role category: {}; seniority: {}{}",
        d.jd.role_category,
        d.jd.seniority_level,
        d.jd.years_experience_required
            .map(|y| format!("; asks for {y}+ years"))
            .unwrap_or_default()
    );
    let _ = writeln!(o, "Must-haves:");
    list(&mut o, &d.jd.qualifications);
    if !d.jd.nice_to_haves.is_empty() {
        let _ = writeln!(o, "Nice to have:");
        list(&mut o, &d.jd.nice_to_haves);
    }
    if !d.jd.technical_skills.is_empty() {
        let _ = writeln!(o, "Skills named: {}", d.jd.technical_skills.join(", "));
    }

    heading(&mut o, "Pain points");
    let _ = writeln!(o, "Pain points:");
    list(&mut o, &d.pains.pain_points);
    let _ = writeln!(o, "Strategic needs:");
    list(&mut o, &d.pains.strategic_needs);
    let _ = writeln!(o, "Risks if unfilled:");
    list(&mut o, &d.pains.risks_if_unfilled);
    let _ = writeln!(o, "Success metrics:");
    list(&mut o, &d.pains.success_metrics);

    heading(&mut o, "Role research");
    let _ = writeln!(o, "{}", d.research.role_research.summary);
    let _ = writeln!(o, "Business impact:");
    list(&mut o, &d.research.role_research.business_impact);
    let _ = writeln!(o, "Why now: {}", d.research.role_research.why_now);

    heading(&mut o, "Selected achievements");
    for s in &d.cv.selected_stars {
        let _ = writeln!(o, "  [{}] {} ({})", s.id, s.text, s.role);
    }

    heading(&mut o, "Company");
    let _ = writeln!(o, "{}", d.research.company_research.summary);
    if d.research.company_research.signals.is_empty() {
        let _ = writeln!(o, "Signals: none found.");
    }
    for s in &d.research.company_research.signals {
        let _ = writeln!(o, "  - [{}] {} ({}; {})", s.kind, s.description, s.date, s.source);
    }

    heading(&mut o, "Fit analysis");
    let _ = writeln!(o, "{}", d.fit.fit_rationale);
    let _ = writeln!(o, "Matched:");
    for m in &d.fit.matched_requirements {
        match d.fit.evidence.iter().find(|e| &e.requirement == m) {
            Some(e) => {
                let _ = writeln!(o, "  - {m}\n      evidence: {}", e.cv_line);
            }
            None => {
                let _ = writeln!(o, "  - {m}");
            }
        }
    }
    let _ = writeln!(o, "Missing or unclear:");
    list(&mut o, &d.fit.missing_requirements);

    heading(&mut o, "CV review");
    let _ = writeln!(
        o,
        "Verdict: {} (first impression {}/10; would interview: {}; by {})",
        d.review.verdict,
        d.review.first_impression_score,
        if d.review.would_interview { "yes" } else { "no" },
        d.review.model
    );
    let _ = writeln!(
        o,
        "{}",
        d.review.full_review.top_third_assessment.first_impression_summary
    );
    if !d.review.full_review.weaknesses.is_empty() {
        let _ = writeln!(o, "Gaps:");
        list(&mut o, &d.review.full_review.weaknesses);
    }
    if !d.review.full_review.rewrite_suggestions.is_empty() {
        let _ = writeln!(o, "Edits to make:");
        list(&mut o, &d.review.full_review.rewrite_suggestions);
    }

    heading(&mut o, "Contacts and outreach");
    if d.research.contacts_are_role_based {
        let _ = writeln!(o, "No people were discovered; these are the roles to approach.");
    }
    for c in d.research.primary_contacts.iter().chain(&d.research.secondary_contacts) {
        let _ = writeln!(o, "  - {} — {}", c.role, c.why_relevant);
    }
    for p in d.outreach.iter().take(2) {
        let _ = writeln!(
            o,
            "\n  Draft ({}, {}):\n  {}",
            p.get("contact_role").and_then(|v| v.as_str()).unwrap_or(""),
            p.get("channel").and_then(|v| v.as_str()).unwrap_or(""),
            p.get("message")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .replace('\n', "\n  ")
        );
    }

    heading(&mut o, "Cover letter");
    let _ = writeln!(o, "{}", d.letter.cover_letter);

    heading(&mut o, "Metadata");
    let _ = writeln!(o, "Run: {}", d.run_id);
    let _ = writeln!(o, "Job id: {}", d.job.id);
    let _ = writeln!(o, "Generated: {}", d.generated_at.to_rfc3339());
    let _ = writeln!(o, "Produced by: job-runner {}", env!("CARGO_PKG_VERSION"));
    for stage in StageName::ALL.into_iter().filter(|s| *s != StageName::Publisher) {
        let _ = writeln!(o, "  {stage}: {}", produced_by(d.provenance.get(&stage)));
    }
    o
}

/// One stage's "Produced by" line: the model, or which offline path and why.
fn produced_by(p: Option<&Provenance>) -> String {
    match p {
        None => "not recorded".into(),
        Some(Provenance {
            producer: StageProducer::Llm,
            model,
            ..
        }) => format!("model {}", model.as_deref().unwrap_or("(name not recorded)")),
        Some(Provenance {
            producer: StageProducer::Offline,
            ..
        }) => "offline (deterministic; no model was asked)".into(),
        Some(Provenance {
            producer: StageProducer::OfflineFallback,
            ..
        }) => "offline fallback (the model's answer could not be used; the run log says why)".into(),
        Some(Provenance {
            producer: StageProducer::Reused,
            source_run,
            model,
        }) => format!(
            "reused from run {}{}",
            source_run.as_ref().map_or("(unknown)".to_owned(), |r| r.to_string()),
            model.as_deref().map(|m| format!(" (model {m})")).unwrap_or_default()
        ),
    }
}
