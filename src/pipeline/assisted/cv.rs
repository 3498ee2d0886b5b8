//! The tailored CV from the model. STAR selection (`ENABLE_STAR_SELECTOR`) first narrows
//! the master CV's achievements by lexical similarity to the pain points (fast, no
//! network), then lets the model pick 2–3 and map them to pain points; without it the
//! lexical top three are used. The CV the model writes must pass the deterministic fact
//! check (every employer, title, date range, degree and number from the master CV): the
//! violations get two repair turns, then the stage falls back to offline tailoring. A STAR
//! choice that fails (rejected, or the provider erred) falls back to the lexical choice
//! and the model is still asked for the CV.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::bullet_list;
use crate::domain::outputs::{CvOutput, FitOutput, PainPointsOutput, Star};
use crate::llm::schema::{self, AnswerShape};
use crate::llm::service::{CallScope, Fallback, LlmService};
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::offline;
use crate::pipeline::text;
use crate::pipeline::{fact_check, gates};

/// Candidates the lexical pre-selection hands to the model.
pub const STAR_CANDIDATES: usize = 8;

/// The model's STAR choice.
#[derive(Debug, Deserialize)]
pub struct StarChoice {
    pub selected: Vec<String>,
    #[serde(default)]
    pub star_to_pain_mapping: BTreeMap<String, Vec<String>>,
}

impl AnswerShape for StarChoice {
    fn schema() -> serde_json::Value {
        schema::object(&[
            ("selected", schema::strings()),
            ("star_to_pain_mapping", schema::map_of(schema::strings())),
        ])
    }
}

impl AnswerShape for CvAnswer {
    fn schema() -> serde_json::Value {
        schema::object(&[("cv_text", schema::string()), ("cv_reasoning", schema::string())])
    }
}

/// Problems of a STAR choice against the candidates and the pain points.
pub fn star_problems(c: &StarChoice, candidates: &[Star], pains: &PainPointsOutput) -> Vec<String> {
    let mut v = Vec::new();
    if !(2..=3).contains(&c.selected.len()) {
        v.push(format!("selected must have 2–3 ids, has {}", c.selected.len()));
    }
    for id in &c.selected {
        if !candidates.iter().any(|s| &s.id == id) {
            v.push(format!("{id:?} is not one of the candidate ids"));
        }
    }
    for (id, mapped) in &c.star_to_pain_mapping {
        if !c.selected.contains(id) {
            v.push(format!("star_to_pain_mapping names {id:?}, which is not selected"));
        }
        for p in mapped {
            if !pains.pain_points.iter().any(|q| q.eq_ignore_ascii_case(p.trim())) {
                v.push(format!("{p:?} is not one of the pain points; copy them exactly"));
            }
        }
    }
    v
}

/// The model's CV.
#[derive(Debug, Deserialize)]
pub struct CvAnswer {
    pub cv_text: String,
    pub cv_reasoning: String,
}

/// What a model's CV must keep to be a CV and not a fragment: every role of the master
/// CV's experience (bullets may be trimmed; a gap in the history would mislead) and a
/// reasonable length (at least 150 words, or half the master CV when that is shorter).
pub fn completeness_problems(cv_text: &str, master: &MasterCv) -> Vec<String> {
    let mut v = Vec::new();
    // Typography aside (a hyphen for an en dash, case, spacing): the role must be there.
    let tailored = fact_check::fold(cv_text);
    let headings: Vec<&str> = cv_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .map(|h| h.trim_start_matches('#').trim())
        .collect();
    for role in master.roles() {
        let stated =
            tailored.contains(&fact_check::fold(&role)) || headings.iter().any(|h| fact_check::states_entry(h, &role));
        if !stated {
            v.push(format!(
                "the role {role:?} of the master CV is missing; keep every role, verbatim"
            ));
        }
    }
    let words = text::word_count(cv_text);
    let min = (text::word_count(&master.text) / 2).min(150);
    if words < min {
        v.push(format!("cv_text has {words} words; a CV needs at least {min}"));
    }
    v
}

async fn choose_stars(
    llm: &LlmService,
    scope: &CallScope<'_>,
    candidates: &[Star],
    pains: &PainPointsOutput,
) -> Result<(Vec<Star>, BTreeMap<String, Vec<String>>), Fallback> {
    let listing = candidates
        .iter()
        .map(|s| format!("{}: {} ({})", s.id, s.text, s.role))
        .collect::<Vec<_>>()
        .join("\n");
    let choice = llm
        .ask::<StarChoice, _>(
            scope,
            "star_selection",
            &[
                ("pain_points", &bullet_list(&pains.pain_points)),
                ("candidates", &listing),
            ],
            2,
            |c| super::verdict(star_problems(c, candidates, pains)),
        )
        .await?;
    let stars: Vec<Star> = candidates
        .iter()
        .filter(|s| choice.selected.contains(&s.id))
        .cloned()
        .collect();
    // Pain points as the pain-point stage wrote them, whatever case the model used.
    let mapping = choice
        .star_to_pain_mapping
        .iter()
        .map(|(id, mapped)| {
            let exact = pains
                .pain_points
                .iter()
                .filter(|q| mapped.iter().any(|p| q.eq_ignore_ascii_case(p.trim())))
                .cloned()
                .collect();
            (id.clone(), exact)
        })
        .collect();
    Ok((stars, mapping))
}

/// Asks the model for the tailored CV (after the STAR choice when enabled).
pub async fn ask(
    llm: &LlmService,
    scope: &CallScope<'_>,
    master: &MasterCv,
    pains: &PainPointsOutput,
    fit: &FitOutput,
    star_selector: bool,
) -> Result<CvOutput, Fallback> {
    let terms = offline::cv::target_terms(pains, Some(fit));
    // Without the model's choice: the offline tailoring's lexical top three.
    let lexical = || offline::cv::select_stars(master, pains, &terms);
    let ranked = if star_selector {
        offline::cv::ranked_stars(master, &terms)
    } else {
        Vec::new()
    };
    let (stars, mapping) = if ranked.len() >= 2 {
        let candidates: Vec<Star> = ranked.into_iter().take(STAR_CANDIDATES).collect();
        match choose_stars(llm, scope, &candidates, pains).await {
            Ok(chosen) => {
                scope.log.info(format!(
                    "STAR selection: the model chose {} of {} pre-selected achievements",
                    chosen.0.len(),
                    candidates.len()
                ));
                chosen
            }
            Err(Fallback::Invalid(reason)) => {
                scope.log.warn(format!(
                    "STAR selection by the model was rejected ({reason}); using the lexical top three"
                ));
                lexical()
            }
            // A failing helper call does not sink the stage: the CV is still asked for.
            Err(Fallback::Provider(reason)) => {
                scope.log.warn(format!(
                    "STAR selection by the model failed ({reason}); using the lexical top three and still asking the model for the CV"
                ));
                lexical()
            }
            Err(budget @ Fallback::Budget(_)) => return Err(budget),
        }
    } else {
        lexical()
    };
    let cv = llm.fit_input(scope, "master CV", &master.text, 0.8);
    let achievements = stars
        .iter()
        .map(|s| format!("- {} ({})", s.text, s.role))
        .collect::<Vec<_>>()
        .join("\n");
    let build = |a: &CvAnswer| CvOutput {
        cv_text: a.cv_text.trim().to_owned(),
        cv_reasoning: a.cv_reasoning.trim().to_owned(),
        selected_stars: stars.clone(),
        star_to_pain_mapping: mapping.clone(),
    };
    let answer = llm
        .ask::<CvAnswer, _>(
            scope,
            "cv",
            &[
                ("pain_points", &bullet_list(&pains.pain_points)),
                ("achievements", &achievements),
                ("master_cv", &cv),
            ],
            2,
            |a| {
                let mut v = gates::check_cv(&build(a), master)
                    .err()
                    .map(|g| g.0)
                    .unwrap_or_default();
                v.extend(completeness_problems(&a.cv_text, master));
                super::verdict(v)
            },
        )
        .await?;
    Ok(build(&answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn star(id: &str) -> Star {
        Star {
            id: id.into(),
            role: "Engineer, Acme".into(),
            text: format!("Achievement {id}"),
            has_metric: false,
        }
    }

    #[test]
    fn a_cv_fragment_is_incomplete_and_the_offline_cv_is_complete() {
        let master = MasterCv::parse(include_str!("../../../examples/master-cv.md")).unwrap();
        let v = completeness_problems("# Ana\n\nEngineer.", &master);
        assert!(v.iter().any(|p| p.contains("is missing; keep every role")), "{v:?}");
        assert!(v.iter().any(|p| p.contains("a CV needs at least")), "{v:?}");
        let job = crate::pipeline::offline::fixtures::job();
        let pains = offline::pain_points::mine(&job);
        let fit = offline::fit_score::score(&job, &master, 2026);
        let tailored = offline::cv::tailor(&master, &pains, &fit);
        assert!(completeness_problems(&tailored.cv_text, &master).is_empty());
    }

    #[test]
    fn a_star_choice_must_pick_two_or_three_candidates_and_map_known_pain_points() {
        let candidates = [star("star-1"), star("star-2"), star("star-3")];
        let pains = PainPointsOutput {
            pain_points: vec!["Slow billing".into(), "Flaky deploys".into()],
            strategic_needs: vec![],
            risks_if_unfilled: vec![],
            success_metrics: vec![],
        };
        let good = StarChoice {
            selected: vec!["star-1".into(), "star-3".into()],
            star_to_pain_mapping: BTreeMap::from([("star-1".into(), vec!["slow billing".into()])]),
        };
        assert!(star_problems(&good, &candidates, &pains).is_empty());
        let bad = StarChoice {
            selected: vec!["star-9".into()],
            star_to_pain_mapping: BTreeMap::from([("star-2".into(), vec!["Hiring".into()])]),
        };
        let v = star_problems(&bad, &candidates, &pains);
        assert!(v.iter().any(|p| p.contains("2–3 ids")), "{v:?}");
        assert!(
            v.iter()
                .any(|p| p.contains("\"star-9\" is not one of the candidate ids")),
            "{v:?}"
        );
        assert!(
            v.iter().any(|p| p.contains("\"star-2\", which is not selected")),
            "{v:?}"
        );
        assert!(
            v.iter().any(|p| p.contains("\"Hiring\" is not one of the pain points")),
            "{v:?}"
        );
    }
}
