//! The publisher: renders the PDFs and writes the seven artifacts into the run's own folder, copies them to the
//! application folder, and assembles the job document's result fields. The document itself
//! is written when the run is finalised, in the same step that marks it completed.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::artifacts::dossier::{DossierInput, PainProof};
use crate::artifacts::{self, ArtifactName};
use crate::domain::outputs::{
    tier, CoverLetterOutput, CvOutput, FitOutput, PainPointsOutput, PublishOutput, ResearchOutput,
};
use crate::domain::{JobPosting, StageName};
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::stage_contract::{dependency, offline_result, Stage, StageContext, StageError, StageResult};
use crate::pipeline::{offline, text};

/// Writes files and prepares the result fields.
pub struct Publisher;

/// The folder holding a run's own copy of its artifacts.
pub fn run_artifact_dir(data_dir: &Path, run_id: &str) -> std::path::PathBuf {
    data_dir.join("runs").join(run_id)
}

fn outreach_packages(research: &ResearchOutput) -> Vec<Value> {
    research
        .primary_contacts
        .iter()
        .chain(&research.secondary_contacts)
        .flat_map(|c| {
            [
                json!({
                    "contact_name": c.name, "contact_role": c.role, "linkedin_url": c.linkedin_url,
                    "channel": "linkedin", "message": c.linkedin_message, "reasoning": c.reasoning,
                }),
                json!({
                    "contact_name": c.name, "contact_role": c.role, "linkedin_url": c.linkedin_url,
                    "channel": "email", "message": c.email_body, "subject": c.email_subject, "reasoning": c.reasoning,
                }),
            ]
        })
        .collect()
}

/// Each pain point with its proof (the model's STAR mapping when the model wrote the CV,
/// else the matcher STAR selection uses) and a plan line naming that pain point.
fn pain_proof_plan(master: &MasterCv, pains: &PainPointsOutput, cv: &CvOutput, model_mapped: bool) -> Vec<PainProof> {
    let records = master.star_records();
    pains
        .pain_points
        .iter()
        .map(|pain| {
            let mapped: Vec<String> = cv
                .selected_stars
                .iter()
                .filter(|s| model_mapped && cv.star_to_pain_mapping.get(&s.id).is_some_and(|p| p.contains(pain)))
                .map(|s| s.text.clone())
                .collect();
            let proof = if mapped.is_empty() {
                offline::cv::proof_for(&records, pain).map(|a| vec![a.text.clone()]).unwrap_or_default()
            } else {
                mapped
            };
            let short = text::shorten_marked(pain, 70);
            let plan = match proof.first() {
                Some(p) => format!(
                    "agree in the first month what done means for \"{short}\", then apply what worked in \"{}\"",
                    text::shorten_marked(p, 60)
                ),
                None => format!(
                    "ask how \"{short}\" is handled today and propose a first step within 30 days; the CV has no direct proof, so say so plainly"
                ),
            };
            PainProof {
                pain: pain.clone(),
                proof,
                plan,
            }
        })
        .collect()
}

fn fallback_letters(job: &JobPosting, fit: &FitOutput, letter: &CoverLetterOutput) -> Vec<String> {
    let strongest = fit
        .matched_requirements
        .iter()
        .find_map(|m| crate::pipeline::offline::prose::quoted(&job.full_text(), m, 80));
    let first_para = crate::pipeline::gates::body_paragraphs(&letter.cover_letter)
        .first()
        .map(|p| p.to_string())
        .unwrap_or_default();
    vec![
        format!(
            "Hello,\n\nI have applied for the {} role at {}. {}\n\nI would be glad to talk about it.",
            job.title,
            job.company,
            strongest
                .map(|s| format!("My CV shows direct evidence for one of your requirements: {s}."))
                .unwrap_or_default()
        ),
        format!("Hello,\n\n{first_para}\n\nThank you for your time."),
    ]
}

#[async_trait]
impl Stage for Publisher {
    fn name(&self) -> StageName {
        StageName::Publisher
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let pains = dependency(&ctx.outputs.pain_points, StageName::PainPoints)?;
        let research = dependency(&ctx.outputs.research, StageName::Research)?;
        let fit = dependency(&ctx.outputs.fit, StageName::FitScore)?;
        let cv = dependency(&ctx.outputs.cv, StageName::Cv)?;
        let letter = dependency(&ctx.outputs.cover_letter, StageName::CoverLetter)?;
        let jd = dependency(&ctx.outputs.extract, StageName::Extract)?;
        let review = dependency(&ctx.outputs.cv_review, StageName::CvReview)?;
        let cv_fingerprint = crate::pipeline::offline::cv_review::fingerprint(&cv.cv_text);
        if review.cv_fingerprint != cv_fingerprint {
            ctx.log.warn(
                "the CV review is of an earlier version of the CV (this operation rewrote the CV without reviewing it); cv_review.md says so; run cv-review to review this CV",
            );
        }

        let outreach = outreach_packages(research);
        let model_mapped = ctx
            .outputs
            .provenance
            .get(&StageName::Cv)
            .is_some_and(|p| p.producer == crate::domain::StageProducer::Llm);
        let pairs = pain_proof_plan(&ctx.master_cv, pains, cv, model_mapped);
        let dossier = artifacts::render_dossier(&DossierInput {
            run_id: &ctx.run_id,
            job: &ctx.job,
            pains,
            research,
            fit,
            cv,
            letter,
            jd,
            review,
            outreach: &outreach,
            pairs: &pairs,
            provenance: &ctx.outputs.provenance,
            generated_at: chrono::Utc::now(),
        });
        let docx = artifacts::markdown_to_docx(&cv.cv_text).map_err(StageError::permanent)?;
        // PDFs render on the blocking pool: a long CV takes a few milliseconds of CPU.
        let page = ctx.settings.publishing.pdf_page_size;
        let (cv_md, letter_text) = (cv.cv_text.clone(), letter.cover_letter.clone());
        // The letter goes out under the CV's name and contact line, dated today.
        let head = artifacts::pdf::Letterhead::from_cv(&cv_md, chrono::Utc::now().format("%-d %B %Y").to_string());
        let (cv_pdf, letter_pdf) = tokio::task::spawn_blocking(move || {
            Ok::<_, String>((
                artifacts::pdf::markdown_to_pdf("CV", &cv_md, page)?,
                artifacts::pdf::letter_to_pdf("Cover letter", head.as_ref(), &letter_text, page)?,
            ))
        })
        .await
        .map_err(|e| StageError::transient(format!("PDF renderer task failed: {e}")))?
        .map_err(StageError::permanent)?;
        ctx.log.info(format!(
            "rendered CV.pdf ({} page(s)) and cover_letter.pdf ({} page(s)), {}",
            cv_pdf.pages,
            letter_pdf.pages,
            page.as_str()
        ));
        let files: Vec<(ArtifactName, Vec<u8>)> = vec![
            (ArtifactName::CvMarkdown, cv.cv_text.clone().into_bytes()),
            (ArtifactName::CvDocx, docx),
            (ArtifactName::Dossier, dossier.into_bytes()),
            (ArtifactName::CoverLetter, letter.cover_letter.clone().into_bytes()),
            (
                ArtifactName::CvReview,
                artifacts::render_cv_review(review, &cv_fingerprint).into_bytes(),
            ),
            (ArtifactName::CvPdf, cv_pdf.bytes),
            (ArtifactName::CoverLetterPdf, letter_pdf.bytes),
        ];

        let run_dir = run_artifact_dir(&ctx.settings.paths.data_dir, ctx.run_id.as_ref());
        let job_id = ctx.job.id.to_string();
        let (applications, company, title) = (
            ctx.settings.paths.applications_dir.clone(),
            ctx.job.company.clone(),
            ctx.job.title.clone(),
        );
        let run_dir_clone = run_dir.clone();
        // File I/O runs on the blocking pool.
        let app_dir = tokio::task::spawn_blocking(move || -> std::io::Result<std::path::PathBuf> {
            let app_dir = artifacts::application_dir(&applications, &company, &title, &job_id)?;
            for (name, bytes) in &files {
                artifacts::write_atomic(&run_dir_clone.join(name.file_name()), bytes)?;
                artifacts::write_atomic(&app_dir.join(name.file_name()), bytes)?;
            }
            Ok(app_dir)
        })
        .await
        .map_err(|e| StageError::transient(format!("artifact writer task failed: {e}")))?
        .map_err(|e| StageError::transient(format!("could not write artifacts: {e}")))?;

        let artifacts: BTreeMap<String, String> = ArtifactName::ALL
            .iter()
            .map(|a| (a.url_key().to_owned(), a.file_name().to_owned()))
            .collect();
        let cv_path = app_dir.join(ArtifactName::CvMarkdown.file_name()).display().to_string();
        let dossier_path = app_dir.join(ArtifactName::Dossier.file_name()).display().to_string();
        let mut results = Map::new();
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                results.insert(k.to_owned(), v);
            }
        };
        put("status", json!("ready for applying"));
        put("extracted_jd", json!(jd));
        put("cv_review", json!(review));
        put("pain_points", json!(pains.pain_points));
        put("strategic_needs", json!(pains.strategic_needs));
        put("risks_if_unfilled", json!(pains.risks_if_unfilled));
        put("success_metrics", json!(pains.success_metrics));
        put("company_research", json!(research.company_research));
        put("role_research", json!(research.role_research));
        put("fit_score", json!(fit.fit_score));
        put("fit_rationale", json!(fit.fit_rationale));
        put("fit_category", json!(fit.fit_category));
        put("primary_contacts", json!(research.primary_contacts));
        put("secondary_contacts", json!(research.secondary_contacts));
        put("selected_stars", json!(cv.selected_stars));
        put("star_to_pain_mapping", json!(cv.star_to_pain_mapping));
        put("cover_letter", json!(letter.cover_letter));
        put("cv_path", json!(cv_path));
        put("cv_text", json!(cv.cv_text));
        put("cv_reasoning", json!(cv.cv_reasoning));
        put("outreach_packages", json!(outreach));
        if research.contacts_are_role_based {
            put("fallback_cover_letters", json!(fallback_letters(&ctx.job, fit, letter)));
        }
        put("tier", json!(tier(fit.fit_score)));
        put("dossier_path", json!(dossier_path));
        ctx.log.info(format!(
            "published {} files to {}",
            ArtifactName::ALL.len(),
            app_dir.display()
        ));
        offline_result(&PublishOutput {
            artifacts,
            run_dir: run_dir.display().to_string(),
            application_dir: app_dir.display().to_string(),
            results,
        })
    }
}
