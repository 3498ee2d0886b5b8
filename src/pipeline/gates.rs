//! Quality gates: deterministic checks every stage output must pass before it is
//! checkpointed, whoever produced it (offline heuristics now, an LLM later). A gate returns
//! every violation it finds so a repair turn can list them.

mod extraction;
mod review;

use std::collections::BTreeSet;

pub use extraction::{check_extract, posting_names};
pub use review::{check_cv_review, VERDICTS};

use crate::domain::outputs::{fit_category, CoverLetterOutput, CvOutput, FitOutput, PainPointsOutput, ResearchOutput};
use crate::pipeline::fact_check;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text;

/// The violations a gate found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quality gate failed: {}", .0.join("; "))]
pub struct GateViolations(pub Vec<String>);

fn verdict(v: Vec<String>) -> Result<(), GateViolations> {
    if v.is_empty() {
        Ok(())
    } else {
        Err(GateViolations(v))
    }
}

const SIGNAL_TYPES: &[&str] = &[
    "funding",
    "acquisition",
    "leadership_change",
    "product_launch",
    "partnership",
    "growth",
];

/// Pain points: each of the four arrays has 1–8 non-empty, distinct items without stock
/// phrases.
pub fn check_pain_points(out: &PainPointsOutput) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    for (name, items) in [
        ("pain_points", &out.pain_points),
        ("strategic_needs", &out.strategic_needs),
        ("risks_if_unfilled", &out.risks_if_unfilled),
        ("success_metrics", &out.success_metrics),
    ] {
        if items.is_empty() || items.len() > 8 {
            v.push(format!("{name} must have 1–8 items, has {}", items.len()));
        }
        let mut seen = BTreeSet::new();
        for item in items {
            let key = item.trim().to_lowercase();
            if key.is_empty() {
                v.push(format!("{name} has an empty item"));
            } else if !seen.insert(key) {
                v.push(format!("{name} repeats {item:?}"));
            }
            for p in text::stock_phrases_in(item) {
                v.push(format!("{name} item {item:?} uses the stock phrase {p:?}"));
            }
        }
    }
    verdict(v)
}

/// The parts of research any producer must get right: a company summary, known signal
/// types, 3–5 business impacts and `why_now` (sources are checked apart).
pub fn research_content_problems<'a>(
    summary: &str,
    signal_kinds: impl IntoIterator<Item = &'a str>,
    role: &crate::domain::outputs::RoleResearch,
) -> Vec<String> {
    let mut v = Vec::new();
    if summary.trim().is_empty() {
        v.push("company_research.summary is empty".into());
    }
    for kind in signal_kinds {
        if !SIGNAL_TYPES.contains(&kind) {
            v.push(format!(
                "signal type {kind:?} is not one of {}",
                SIGNAL_TYPES.join(", ")
            ));
        }
    }
    let n = role.business_impact.len();
    if !(3..=5).contains(&n) {
        v.push(format!("role_research.business_impact must have 3–5 items, has {n}"));
    }
    if role.why_now.trim().is_empty() {
        v.push("role_research.why_now is empty".into());
    }
    v
}

/// Research: summaries present, 3–5 business impacts, signals typed and sourced.
pub fn check_research(out: &ResearchOutput) -> Result<(), GateViolations> {
    let c = &out.company_research;
    let mut v = research_content_problems(
        &c.summary,
        c.signals.iter().map(|s| s.kind.as_str()),
        &out.role_research,
    );
    for s in c.signals.iter().filter(|s| !s.source.starts_with("http")) {
        v.push(format!("signal {:?} has no source URL", s.description));
    }
    if out.primary_contacts.is_empty() {
        v.push("primary_contacts is empty".into());
    }
    verdict(v)
}

/// Fit: score 0–100, category derived from it, rationale of 2–3 sentences citing evidence.
pub fn check_fit(out: &FitOutput) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    if out.fit_score > 100 {
        v.push(format!("fit_score must be 0–100, got {}", out.fit_score));
    }
    let expected = fit_category(out.fit_score);
    if out.fit_category != expected {
        v.push(format!(
            "fit_category must be {expected:?} for score {}, got {:?}",
            out.fit_score, out.fit_category
        ));
    }
    let n = text::sentences(&out.fit_rationale).len();
    if !(2..=3).contains(&n) {
        v.push(format!("fit_rationale must be 2–3 sentences, has {n}"));
    }
    let lower = out.fit_rationale.to_lowercase();
    if !["evidence", "missing", "no requirement", "matched"]
        .iter()
        .any(|w| lower.contains(w))
    {
        v.push("fit_rationale cites no evidence and says nothing about missing matches".into());
    }
    verdict(v)
}

/// Words in quotation marks must be words the posting or the master CV really contains
/// (typography and case aside; an ellipsis may join two quoted parts).
pub fn quote_problems(field: &str, text: &str, posting: &str, master: &MasterCv) -> Vec<String> {
    let sources = [
        fact_check::fold(&crate::domain::markup::plain_text(posting)),
        fact_check::fold(&master.evidence()),
    ];
    text::quoted_phrases(text)
        .into_iter()
        .filter(|q| {
            let parts: Vec<String> = q
                .split(['…'])
                .flat_map(|p| p.split("..."))
                .map(|p| fact_check::fold(p.trim()))
                .filter(|p| !p.is_empty())
                .collect();
            !sources.iter().any(|s| parts.iter().all(|p| s.contains(p.as_str())))
        })
        .map(|q| format!("{field} quotes {q:?}, which is in neither the posting nor the master CV"))
        .collect()
}

/// CV fact check: facts, not wording. A heading that names an employer, a title, a date
/// range or a degree must be the master CV's (typography aside); section headings are
/// free. Every degree, number and year must appear in the master CV. Returns what was
/// invented.
pub fn check_cv(out: &CvOutput, master: &MasterCv) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    let evidence = master.evidence();
    if out.cv_text.trim().is_empty() {
        v.push("cv_text is empty".into());
    }
    if out.cv_reasoning.trim().is_empty() {
        v.push("cv_reasoning is empty".into());
    }
    let facts = fact_check::MasterFacts::of(master);
    for line in out.cv_text.lines() {
        if let Some(h) = line.trim().strip_prefix('#') {
            v.extend(facts.heading_problems(h.trim_start_matches('#')));
        }
    }
    for n in text::metric_numbers(&out.cv_text) {
        if !evidence.contains(&n) {
            v.push(format!("number {n:?} is not in the master CV"));
        }
    }
    let master_years: BTreeSet<u32> = text::years(&evidence).into_iter().collect();
    for y in text::years(&out.cv_text) {
        if !master_years.contains(&y) {
            v.push(format!("date {y} is not in the master CV"));
        }
    }
    let master_degrees = fact_check::degrees_in(&evidence);
    for degree in fact_check::degrees_in(&out.cv_text) {
        if !master_degrees.contains(degree) {
            v.push(format!("degree {degree:?} is not in the master CV"));
        }
    }
    let mut seen = BTreeSet::new();
    v.retain(|p| seen.insert(p.clone()));
    verdict(v)
}

/// Body paragraphs: blocks of at least 20 words (salutation and sign-off are shorter).
pub fn body_paragraphs(letter: &str) -> Vec<&str> {
    letter
        .split("\n\n")
        .map(str::trim)
        .filter(|p| text::word_count(p) >= 20)
        .collect()
}

/// Cover letter: 3–4 body paragraphs, 220–380 words, names the company, cites a metric
/// from the master CV, at most two stock phrases. Every other number must come from the
/// master CV or the posting (quoting the employer is fine; inventing is not).
pub fn check_cover_letter(
    out: &CoverLetterOutput,
    company: &str,
    posting: &str,
    master: &MasterCv,
) -> Result<(), GateViolations> {
    let mut v = Vec::new();
    let evidence = master.evidence();
    let letter = &out.cover_letter;
    let paragraphs = body_paragraphs(letter).len();
    if !(3..=4).contains(&paragraphs) {
        v.push(format!("cover letter must have 3–4 paragraphs, has {paragraphs}"));
    }
    let words = text::word_count(letter);
    if !(220..=380).contains(&words) {
        v.push(format!("cover letter must have 220–380 words, has {words}"));
    }
    if !letter.to_lowercase().contains(&company.to_lowercase()) {
        v.push(format!("cover letter does not name the company {company:?}"));
    }
    let numbers = text::metric_numbers(letter);
    if !numbers.iter().any(|n| evidence.contains(n.as_str())) {
        v.push("cover letter cites no metric from the master CV".into());
    }
    for n in &numbers {
        if !evidence.contains(n.as_str()) && !posting.contains(n.as_str()) {
            v.push(format!(
                "cover letter cites {n:?}, which is in neither the master CV nor the posting"
            ));
        }
    }
    v.extend(quote_problems("cover letter", letter, posting, master));
    let stock = text::stock_phrases_in(letter);
    if stock.len() > 2 {
        v.push(format!(
            "cover letter uses {} stock phrases ({})",
            stock.len(),
            stock.join(", ")
        ));
    }
    verdict(v)
}

/// Runs the gate of `stage` on its output in `outputs`.
pub fn check_stage(
    stage: crate::domain::StageName,
    outputs: &crate::domain::outputs::StageOutputs,
    job: &crate::domain::JobPosting,
    master: &MasterCv,
) -> Result<(), GateViolations> {
    use crate::domain::StageName;
    let missing = || GateViolations(vec![format!("stage {stage} produced no output")]);
    match stage {
        StageName::Extract => check_extract(outputs.extract.as_ref().ok_or_else(missing)?, &job.title_and_text()),
        StageName::CvReview => {
            let cv = outputs
                .cv
                .as_ref()
                .ok_or_else(|| GateViolations(vec!["cv_review has no CV to review".into()]))?;
            check_cv_review(
                outputs.cv_review.as_ref().ok_or_else(missing)?,
                master,
                &job.title_and_text(),
                &cv.cv_text,
            )
        }
        StageName::PainPoints => check_pain_points(outputs.pain_points.as_ref().ok_or_else(missing)?),
        StageName::Research => check_research(outputs.research.as_ref().ok_or_else(missing)?),
        StageName::FitScore => {
            let fit = outputs.fit.as_ref().ok_or_else(missing)?;
            let mut v = check_fit(fit).err().map(|g| g.0).unwrap_or_default();
            v.extend(quote_problems(
                "fit_rationale",
                &fit.fit_rationale,
                &job.title_and_text(),
                master,
            ));
            verdict(v)
        }
        StageName::Cv => check_cv(outputs.cv.as_ref().ok_or_else(missing)?, master),
        StageName::CoverLetter => check_cover_letter(
            outputs.cover_letter.as_ref().ok_or_else(missing)?,
            &job.company,
            &job.title_and_text(),
            master,
        ),
        StageName::Publisher => {
            let p = outputs.publish.as_ref().ok_or_else(missing)?;
            let expected = crate::artifacts::ArtifactName::ALL.len();
            if p.artifacts.len() == expected {
                Ok(())
            } else {
                Err(GateViolations(vec![format!(
                    "publisher listed {} artifacts, expected {expected}",
                    p.artifacts.len()
                )]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outputs::{CompanyResearch, Contact, RoleResearch};

    fn master() -> MasterCv {
        MasterCv::parse(
            "# Ada\n## Experience\n### Lead Engineer — Acme (2019–2024)\n- Cut costs 30% across 12 services\n## Education\n### BSc Mathematics — Uni (2012–2015)\n",
        )
        .unwrap()
    }

    fn pains() -> PainPointsOutput {
        PainPointsOutput {
            pain_points: vec!["Scale the billing pipeline".into()],
            strategic_needs: vec!["Move to usage-based pricing".into()],
            risks_if_unfilled: vec!["Billing errors reach customers".into()],
            success_metrics: vec!["Invoices correct on first run".into()],
        }
    }

    #[test]
    fn pain_points_gate_accepts_good_output() {
        assert!(check_pain_points(&pains()).is_ok());
    }

    #[test]
    fn pain_points_gate_rejects_empty_duplicate_and_stock_items() {
        let mut p = pains();
        p.strategic_needs.clear();
        p.pain_points = vec!["Scale it".into(), "scale it".into(), "Be a team player".into()];
        let err = check_pain_points(&p).unwrap_err().0.join("\n");
        assert!(err.contains("strategic_needs must have 1–8 items"));
        assert!(err.contains("repeats"));
        assert!(err.contains("team player"));
        p.pain_points = (0..9).map(|i| format!("item {i}")).collect();
        assert!(check_pain_points(&p).unwrap_err().0[0].contains("has 9"));
    }

    fn fit(score: u8, category: &str) -> FitOutput {
        FitOutput {
            fit_score: score,
            fit_rationale: "Matched Rust and Kafka. Missing Go.".into(),
            fit_category: category.into(),
            matched_requirements: vec!["Rust".into()],
            missing_requirements: vec![],
            evidence: Vec::new(),
        }
    }

    #[test]
    fn fit_gate_rejects_category_not_derived_from_score_and_bad_rationale() {
        assert!(check_fit(&fit(72, "good")).is_ok());
        assert!(check_fit(&fit(72, "strong")).is_err());
        assert!(check_fit(&fit(101, "exceptional")).is_err());
        let mut f = fit(50, "weak");
        f.fit_rationale = "Fine.".into();
        let err = check_fit(&f).unwrap_err().0.join("\n");
        assert!(
            err.contains("2–3 sentences") && err.contains("cites no evidence"),
            "{err}"
        );
    }

    fn cv(text: &str) -> CvOutput {
        CvOutput {
            cv_text: text.into(),
            cv_reasoning: "Re-ordered.".into(),
            selected_stars: vec![],
            star_to_pain_mapping: Default::default(),
        }
    }

    #[test]
    fn cv_fact_check_accepts_reordered_master_content() {
        let ok = cv("# Ada\n## Experience\n### Lead Engineer — Acme (2019–2024)\n- Cut costs 30% across 12 services\n");
        assert!(check_cv(&ok, &master()).is_ok());
    }

    #[test]
    fn cv_fact_check_rejects_invented_employer_metric_date_and_degree() {
        let bad = cv("# Ada\n### Staff Engineer — Google (2010–2024)\n- Cut costs 45%\n- PhD in Physics\n");
        let err = check_cv(&bad, &master()).unwrap_err().0.join("\n");
        assert!(err.contains("Google"), "{err}");
        assert!(err.contains("45%"), "{err}");
        assert!(err.contains("2010"), "{err}");
        assert!(err.contains("phd"), "{err}");
    }

    fn letter(body: &str) -> CoverLetterOutput {
        CoverLetterOutput {
            cover_letter: body.into(),
        }
    }

    fn paragraph(words: usize, extra: &str) -> String {
        let mut p = extra.to_owned();
        for i in 0..words {
            p.push_str(if i % 2 == 0 { " steady" } else { " work" });
        }
        p
    }

    #[test]
    fn cover_letter_gate_accepts_a_compliant_letter() {
        let body = [
            paragraph(60, "At Initech I applied."),
            paragraph(60, "I cut costs 30% at Acme."),
            paragraph(60, "More."),
            paragraph(60, "Thanks."),
        ]
        .join("\n\n");
        check_cover_letter(&letter(&body), "Initech", "", &master()).unwrap();
    }

    #[test]
    fn cover_letter_gate_rejects_short_metricless_stock_letters() {
        let body = "Dear Initech,\n\nI am excited to apply, a perfect fit and a team player.";
        let err = check_cover_letter(&letter(body), "Initech", "", &master())
            .unwrap_err()
            .0
            .join("\n");
        assert!(err.contains("paragraphs"));
        assert!(err.contains("words"));
        assert!(err.contains("metric"));
        assert!(err.contains("stock phrases"));
        let invented = [
            paragraph(60, "Initech. I cut costs 99%."),
            paragraph(60, "x"),
            paragraph(60, "y"),
        ]
        .join("\n\n");
        assert!(check_cover_letter(&letter(&invented), "Initech", "", &master())
            .unwrap_err()
            .0
            .join(" ")
            .contains("99%"));
    }

    #[test]
    fn research_gate_rejects_unsourced_signals_and_short_impact() {
        let contact = Contact {
            name: "Hiring Manager".into(),
            role: "Hiring Manager".into(),
            linkedin_url: String::new(),
            why_relevant: "x".into(),
            recent_signals: vec![],
            linkedin_message: "x".into(),
            email_subject: "x".into(),
            email_body: "x".into(),
            reasoning: "x".into(),
        };
        let mut r = ResearchOutput {
            company_research: CompanyResearch {
                summary: "S".into(),
                signals: vec![],
                url: None,
            },
            role_research: RoleResearch {
                summary: "R".into(),
                business_impact: vec!["a".into(), "b".into(), "c".into()],
                why_now: "w".into(),
            },
            primary_contacts: vec![contact],
            secondary_contacts: vec![],
            contacts_are_role_based: true,
        };
        assert!(check_research(&r).is_ok());
        r.company_research.signals.push(crate::domain::outputs::CompanySignal {
            kind: "rumour".into(),
            description: "d".into(),
            date: "unknown".into(),
            source: String::new(),
        });
        r.role_research.business_impact.truncate(1);
        let err = check_research(&r).unwrap_err().0.join("\n");
        assert!(err.contains("rumour") && err.contains("source URL") && err.contains("3–5"));
    }
}
