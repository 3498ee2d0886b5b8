//! Typed outputs of each stage, in the shapes COMPAT.md gives for the job document. They
//! are checkpointed as JSON and rebuilt from it when a run resumes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::StageName;

/// Output of JD extraction: the job document's `extracted_jd` (COMPAT-DASHBOARD.md §9).
/// Every item is a phrase of the posting or grounded in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtractedJd {
    /// The profession family (`software_engineering`, `engineering_management`, `nursing`,
    /// ...; see `pipeline::profession`).
    pub role_category: String,
    /// `intern | junior | mid | senior | staff | principal | manager | director | vp | c_level`.
    pub seniority_level: String,
    pub responsibilities: Vec<String>,
    /// Must-haves.
    pub qualifications: Vec<String>,
    pub nice_to_haves: Vec<String>,
    pub technical_skills: Vec<String>,
    pub soft_skills: Vec<String>,
    /// The terms an applicant tracking system would match, most important first.
    pub top_keywords: Vec<String>,
    pub implied_pain_points: Vec<String>,
    pub success_metrics: Vec<String>,
    /// The smallest number of years the posting asks for, when it names one.
    pub years_experience_required: Option<u32>,
    /// The degree or training the posting asks for, as it says it.
    pub education_requirements: Option<String>,
}

/// Output of the CV review: the job document's `cv_review` (COMPAT-DASHBOARD.md §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReviewOutput {
    /// `strong | consider | weak`.
    pub verdict: String,
    pub would_interview: bool,
    /// 0–1: how sure the reviewer is (the offline rubric is sure of what it can count).
    pub confidence: f64,
    /// 1–10.
    pub first_impression_score: u8,
    pub full_review: FullReview,
    /// `offline` or `<provider>/<model>`.
    pub model: String,
    /// RFC 3339.
    pub reviewed_at: String,
    /// A fingerprint of the CV text reviewed, so a review of an earlier CV is told apart.
    pub cv_fingerprint: String,
}

/// The review's detail: what works, what is missing, and what to change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FullReview {
    pub strengths: Vec<String>,
    /// Gaps against the posting (the dashboard's `weaknesses`).
    pub weaknesses: Vec<String>,
    /// Concrete edits, each naming what to change.
    pub rewrite_suggestions: Vec<String>,
    pub top_third_assessment: TopThird,
    pub pain_point_alignment: PainAlignment,
    pub ats_assessment: AtsAssessment,
    /// Claims of the CV that the master CV does not hold (empty when the fact check passed).
    pub hallucination_flags: Vec<Value>,
    /// The rubric's points, each with its evidence (offline review).
    #[serde(default)]
    pub rubric: Vec<RubricPoint>,
}

/// The first third of the page, as a recruiter reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopThird {
    pub first_impression_summary: String,
    pub headline_verdict: String,
    pub achievements_verdict: String,
}

/// Which of the employer's pain points the CV answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PainAlignment {
    pub addressed: Vec<String>,
    pub missing: Vec<String>,
    pub coverage_ratio: f64,
}

/// How the CV fares with an applicant tracking system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AtsAssessment {
    /// e.g. `"9 of 12 top keywords"`.
    pub keyword_coverage: String,
    pub missing_critical_keywords: Vec<String>,
    pub ats_survival_likely: bool,
}

/// One criterion of the offline rubric: its points and the evidence that earned them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RubricPoint {
    pub criterion: String,
    pub points: f64,
    pub max_points: f64,
    pub evidence: String,
}

/// Output of the pain-point miner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PainPointsOutput {
    pub pain_points: Vec<String>,
    pub strategic_needs: Vec<String>,
    pub risks_if_unfilled: Vec<String>,
    pub success_metrics: Vec<String>,
}

/// A dated, sourced fact about the company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanySignal {
    /// funding, acquisition, leadership_change, product_launch, partnership, growth.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// ISO date or `"unknown"`.
    pub date: String,
    /// URL the signal came from.
    pub source: String,
}

/// `company_research`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompanyResearch {
    pub summary: String,
    pub signals: Vec<CompanySignal>,
    pub url: Option<String>,
}

/// `role_research`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleResearch {
    pub summary: String,
    pub business_impact: Vec<String>,
    pub why_now: String,
}

/// A person (or role) to reach out to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub role: String,
    pub linkedin_url: String,
    pub why_relevant: String,
    pub recent_signals: Vec<String>,
    pub linkedin_message: String,
    pub email_subject: String,
    pub email_body: String,
    pub reasoning: String,
}

/// Output of the research stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResearchOutput {
    pub company_research: CompanyResearch,
    pub role_research: RoleResearch,
    pub primary_contacts: Vec<Contact>,
    pub secondary_contacts: Vec<Contact>,
    /// True when contacts are role-based placeholders rather than discovered people.
    pub contacts_are_role_based: bool,
}

/// Output of the fit scorer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOutput {
    pub fit_score: u8,
    pub fit_rationale: String,
    pub fit_category: String,
    /// Requirements the CV shows evidence for.
    pub matched_requirements: Vec<String>,
    /// Requirements without evidence.
    pub missing_requirements: Vec<String>,
    /// For each matched requirement, the CV line that backs it (the evidence matcher's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<RequirementEvidence>,
}

/// A requirement of the posting and the CV line that backs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementEvidence {
    pub requirement: String,
    pub cv_line: String,
}

/// One achievement record chosen from the master CV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Star {
    pub id: String,
    /// The role heading it sits under in the master CV.
    pub role: String,
    /// The achievement, verbatim from the master CV.
    pub text: String,
    pub has_metric: bool,
}

/// Output of the CV tailor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvOutput {
    pub cv_text: String,
    pub cv_reasoning: String,
    pub selected_stars: Vec<Star>,
    /// Star id → the pain points that achievement answers.
    pub star_to_pain_mapping: BTreeMap<String, Vec<String>>,
}

/// Output of the cover-letter writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverLetterOutput {
    pub cover_letter: String,
}

/// Output of the publisher: where the files are and the job document's result fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishOutput {
    /// Artifact key (`cv_md_url`, ...) → file name in the run's artifact folder.
    pub artifacts: BTreeMap<String, String>,
    /// The run's own artifact folder (served by `/artifacts`).
    pub run_dir: String,
    /// The published application folder (`applications/<Company>/<Title>/`).
    pub application_dir: String,
    /// Result fields for the job document (`$set` on success).
    pub results: serde_json::Map<String, Value>,
}

/// Who produced a stage's output: the producer, and the model when a model wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub producer: crate::domain::StageProducer,
    pub model: Option<String>,
    /// For a reused output: the run that produced it.
    pub source_run: Option<crate::domain::RunId>,
}

impl Provenance {
    /// Produced in this run by `producer`, with `model` when a model wrote it.
    pub fn produced(producer: crate::domain::StageProducer, model: Option<String>) -> Self {
        Self {
            producer,
            model,
            source_run: None,
        }
    }
}

/// Every stage's output so far within one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageOutputs {
    /// Who produced each output present (for the dossier's "Produced by").
    pub provenance: std::collections::BTreeMap<StageName, Provenance>,
    pub extract: Option<ExtractedJd>,
    pub pain_points: Option<PainPointsOutput>,
    pub research: Option<ResearchOutput>,
    pub fit: Option<FitOutput>,
    pub cv: Option<CvOutput>,
    pub cv_review: Option<CvReviewOutput>,
    pub cover_letter: Option<CoverLetterOutput>,
    pub publish: Option<PublishOutput>,
}

impl StageOutputs {
    /// Stores a stage's checkpointed JSON in its typed slot.
    pub fn insert(&mut self, stage: StageName, value: Value) -> Result<(), serde_json::Error> {
        match stage {
            StageName::Extract => self.extract = Some(serde_json::from_value(value)?),
            StageName::PainPoints => self.pain_points = Some(serde_json::from_value(value)?),
            StageName::Research => self.research = Some(serde_json::from_value(value)?),
            StageName::FitScore => self.fit = Some(serde_json::from_value(value)?),
            StageName::Cv => self.cv = Some(serde_json::from_value(value)?),
            StageName::CvReview => self.cv_review = Some(serde_json::from_value(value)?),
            StageName::CoverLetter => self.cover_letter = Some(serde_json::from_value(value)?),
            StageName::Publisher => self.publish = Some(serde_json::from_value(value)?),
        }
        Ok(())
    }

    /// True when the stage's output is present.
    pub fn has(&self, stage: StageName) -> bool {
        match stage {
            StageName::Extract => self.extract.is_some(),
            StageName::PainPoints => self.pain_points.is_some(),
            StageName::Research => self.research.is_some(),
            StageName::FitScore => self.fit.is_some(),
            StageName::Cv => self.cv.is_some(),
            StageName::CvReview => self.cv_review.is_some(),
            StageName::CoverLetter => self.cover_letter.is_some(),
            StageName::Publisher => self.publish.is_some(),
        }
    }
}

/// COMPAT.md: ≥90 exceptional, ≥80 strong, ≥70 good, ≥60 moderate, else weak.
pub fn fit_category(score: u8) -> &'static str {
    match score {
        90..=u8::MAX => "exceptional",
        80..=89 => "strong",
        70..=79 => "good",
        60..=69 => "moderate",
        _ => "weak",
    }
}

/// The roadmap's tier from the fit score.
pub fn tier(score: u8) -> &'static str {
    match score {
        80..=u8::MAX => "high",
        60..=79 => "medium",
        _ => "low",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_compat_thresholds() {
        assert_eq!(fit_category(95), "exceptional");
        assert_eq!(fit_category(90), "exceptional");
        assert_eq!(fit_category(89), "strong");
        assert_eq!(fit_category(70), "good");
        assert_eq!(fit_category(60), "moderate");
        assert_eq!(fit_category(59), "weak");
        assert_eq!(tier(85), "high");
        assert_eq!(tier(65), "medium");
        assert_eq!(tier(10), "low");
    }
}
