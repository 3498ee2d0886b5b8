//! The offline fit score: profession and seniority first, then each requirement of the
//! posting matched by meaning against the master CV.
//!
//! 1. **Requirements** are the extraction's must-haves (weight 1) and nice-to-haves
//!    (weight ½), read under the headings real boards use; tags, benefits and
//!    equal-opportunity lines are not requirements.
//! 2. **Evidence** for each is the CV line the `evidence` matcher ranks best (concepts
//!    first: Go = Golang, "stability, performance, scalability" ≈ p99 latency, SLOs,
//!    incidents; then significant words), or none. A requirement with a CV line scores
//!    0.7–1 by how much of it the line covers; one without scores at most 0.3 (some of
//!    its words are in the CV). A years requirement ("5+ years") is met by the CV's span
//!    of roles when the CV is in the posting's field.
//! 3. **Base score** is 25 + 75 × the weighted mean of those: a CV in the posting's field
//!    that shows none of its asks scores 25, one that shows all of them 100.
//! 4. **Profession and seniority** then move it: a posting of a different profession
//!    family caps the score at 30 (and scales it by 0.5); a neighbouring family (engineer
//!    ↔ engineering manager) scales it by 0.75, capped at 60; within one track (individual
//!    contributor or management) a posting two or more levels above the CV costs 12
//!    points, one level 5, two levels below 5; fewer years than asked cost 4 per year (at
//!    most 15).
//!
//! Bands (the COMPAT.md categories): **strong** (80+, including exceptional at 90+): the
//! CV shows nearly every must-have in the posting's field, apply; **good** (70–79): most
//! must-haves, a gap or two to address in the letter; **moderate** (60–69): a real part of
//! the role, or a neighbouring profession; **weak** (under 60): a different profession or
//! most must-haves unproven. The rationale names the three requirements that moved the
//! score most, what profession and seniority did, and the count of matched requirements.

use crate::domain::outputs::{fit_category, ExtractedJd, FitOutput, RequirementEvidence};
use crate::domain::JobPosting;
use crate::pipeline::evidence::{self, Line, Need};
use crate::pipeline::master_cv::{split_role, MasterCv};
use crate::pipeline::offline::extract;
use crate::pipeline::profession::{self, Family, Relation};
use crate::pipeline::text;

/// Weight of a must-have and of a nice-to-have.
const MUST: f64 = 1.0;
const NICE: f64 = 0.5;
/// Cap and scale for a posting of a different profession.
const OTHER_PROFESSION_CAP: f64 = 30.0;
const OTHER_PROFESSION_SCALE: f64 = 0.5;
/// Cap and scale for a neighbouring profession.
const NEIGHBOUR_CAP: f64 = 60.0;
const NEIGHBOUR_SCALE: f64 = 0.75;
/// The score of a CV that shows nothing the posting asks for, in its field; full coverage
/// is 100.
const FLOOR: f64 = 25.0;

/// One requirement and how the CV covers it.
#[derive(Debug, Clone)]
struct Assessed {
    text: String,
    weight: f64,
    /// 0–1.
    value: f64,
    evidence: Option<String>,
}

impl Assessed {
    fn matched(&self) -> bool {
        self.evidence.is_some()
    }

    /// How far the requirement pulled the score from the middle, weighted.
    fn pull(&self) -> f64 {
        self.weight * (self.value - 0.5)
    }
}

/// The value of a requirement of coverage `c` (0–1).
fn value_of(c: f64) -> f64 {
    if c >= evidence::SUPPORTS {
        0.7 + 0.3 * c
    } else {
        0.6 * c
    }
}

/// A quote of at most `max` characters that cannot end a sentence early: cut at the
/// first sentence end, never rewritten, so it stays a phrase of its source.
fn quote(s: &str, max: usize) -> String {
    let first = s
        .split_inclusive(". ")
        .next()
        .unwrap_or(s)
        .trim_end_matches(". ")
        .split(['!', '?', ';'])
        .next()
        .unwrap_or(s);
    text::shorten(first, max)
}

/// What the CV says of its holder: profession family, seniority, years.
struct CvProfile {
    family: Option<Family>,
    seniority: &'static str,
    years: u32,
    title: String,
}

fn cv_profile(cv: &MasterCv, current_year: u32) -> CvProfile {
    let title = cv.roles().first().map(|r| split_role(r).0).unwrap_or_default();
    let family = profession::family_of_title(&title).or_else(|| profession::family_of_text(&cv.text).map(|(f, _)| f));
    CvProfile {
        family,
        seniority: profession::seniority_of_title(&title),
        years: cv.years_of_experience(current_year),
        title,
    }
}

/// Evidence lines of the CV: its text lines and bullets, and the headings outside its
/// experience (degrees, certifications). A role heading is no evidence of its own: "Software
/// Engineer — Datenwerk" shares words with "engineering manager of software engineers".
fn cv_lines(cv: &MasterCv) -> Vec<Line> {
    let mut lines = evidence::lines_of(&cv.evidence());
    lines.extend(
        cv.sections
            .iter()
            .filter(|s| !MasterCv::is_experience(s))
            .flat_map(|s| &s.entries)
            .filter_map(|e| e.heading.as_deref())
            .map(Line::new),
    );
    lines
}

/// Scores the candidate against the posting, reading the posting first.
pub fn score(job: &JobPosting, cv: &MasterCv, current_year: u32) -> FitOutput {
    score_with(job, cv, &extract::extract(job), current_year)
}

/// Scores the candidate against the posting's extraction.
pub fn score_with(job: &JobPosting, cv: &MasterCv, jd: &ExtractedJd, current_year: u32) -> FitOutput {
    let lines = cv_lines(cv);
    let holder = cv_profile(cv, current_year);
    let posting_family =
        Family::parse(&jd.role_category).or_else(|| profession::family_of_posting(&job.title, &job.full_text()));
    let relation = match (posting_family, holder.family) {
        (Some(p), Some(c)) => Some(p.relation(c)),
        _ => None,
    };
    let in_field = matches!(relation, Some(Relation::Same) | None);

    let mut reqs: Vec<Assessed> = jd
        .qualifications
        .iter()
        .map(|r| (r, MUST))
        .chain(jd.nice_to_haves.iter().map(|r| (r, NICE)))
        .map(|(r, weight)| {
            let need = Need::new(r);
            let best = need.best(&lines);
            let (mut value, mut evidence) = match best {
                Some((line, c)) => (value_of(c), Some(line.text.clone())),
                None => {
                    let c = lines.iter().map(|l| need.coverage(l)).fold(0.0, f64::max);
                    (value_of(c), None)
                }
            };
            // "5+ years of X": met by the CV's span of roles when a CV line shows X.
            if let Some(years) = text::required_years(r) {
                value = match &evidence {
                    None => value.min(0.15),
                    Some(_) if holder.years >= years => 1.0,
                    Some(_) => 0.7 * holder.years as f64 / years as f64,
                };
                if value < 0.7 {
                    evidence = None;
                }
            }
            Assessed {
                text: r.clone(),
                weight,
                value,
                evidence,
            }
        })
        .filter(|a| !Need::new(&a.text).is_empty() || text::required_years(&a.text).is_some())
        .collect();
    reqs.truncate(20);

    if reqs.is_empty() {
        return FitOutput {
            fit_score: 50,
            fit_rationale: "No requirement could be read from the posting, so the score is a neutral 50 with no evidence either way. Read the posting yourself before applying.".into(),
            fit_category: fit_category(50).into(),
            matched_requirements: Vec::new(),
            missing_requirements: Vec::new(),
            evidence: Vec::new(),
        };
    }

    let total: f64 = reqs.iter().map(|r| r.weight).sum();
    let share = reqs.iter().map(|r| r.weight * r.value).sum::<f64>() / total;
    let base = FLOOR + (100.0 - FLOOR) * share;
    let mut score = base;
    let mut why = Vec::new();
    match (relation, posting_family, holder.family) {
        (Some(Relation::Different), Some(p), Some(c)) => {
            score = (score * OTHER_PROFESSION_SCALE).min(OTHER_PROFESSION_CAP);
            why.push(format!(
                "the posting is a {} role and the CV's is {}, so the score is capped at {}",
                p.label(),
                c.label(),
                OTHER_PROFESSION_CAP
            ));
        }
        (Some(Relation::Adjacent), Some(p), Some(c)) => {
            score = (score * NEIGHBOUR_SCALE).min(NEIGHBOUR_CAP);
            why.push(format!(
                "the posting is a {} role next to the CV's {}, which lowers the score",
                p.label(),
                c.label()
            ));
        }
        (Some(Relation::Same), Some(p), _) => why.push(format!("same profession ({})", p.label())),
        _ => why.push("the profession could not be told from the title".into()),
    }
    let stated = profession::stated_seniority(&job.title);
    if let (true, Some(level)) = (in_field, stated) {
        let (asked, held) = (
            profession::seniority_rank(level),
            profession::seniority_rank(holder.seniority),
        );
        let manager = profession::seniority_rank("manager");
        if (asked < manager) == (held < manager) && asked != held {
            let gap = asked as i64 - held as i64;
            let cost = match gap {
                2.. => 12.0,
                1 => 5.0,
                ..=-2 => 5.0,
                _ => 0.0,
            };
            if cost > 0.0 {
                score -= cost;
                why.push(format!(
                    "the posting asks for {} level and the CV's latest title, \"{}\", reads {}",
                    level,
                    quote(&holder.title, 60),
                    holder.seniority
                ));
            }
        }
    }
    if in_field {
        if let Some(years) = jd.years_experience_required.filter(|y| *y > holder.years) {
            let cost = (4.0 * (years - holder.years) as f64).min(15.0);
            score -= cost;
            why.push(format!(
                "it asks for {years}+ years and the CV's roles span {}",
                holder.years
            ));
        }
    }
    let fit_score = score.round().clamp(0.0, 100.0) as u8;

    let mut moved: Vec<&Assessed> = reqs.iter().collect();
    moved.sort_by(|a, b| b.pull().abs().total_cmp(&a.pull().abs()));
    let named: Vec<String> = moved
        .iter()
        .take(3)
        .map(|r| match &r.evidence {
            Some(line) => format!("\"{}\" (backed by \"{}\")", quote(&r.text, 60), quote(line, 70)),
            None => format!("\"{}\" (missing)", quote(&r.text, 60)),
        })
        .collect();
    let matched: Vec<&Assessed> = reqs.iter().filter(|r| r.matched()).collect();
    let missing: Vec<&Assessed> = reqs.iter().filter(|r| !r.matched()).collect();
    let rationale = format!(
        "The requirements that moved the score most: {}. {} Score {fit_score}: the CV shows evidence for {} of {} requirements read from the posting{}.",
        named.join(", "),
        text::upper_first(&format!("{}.", why.join("; "))),
        matched.len(),
        reqs.len(),
        if missing.is_empty() {
            ", none is missing".to_owned()
        } else {
            format!(", {} missing", missing.len())
        }
    );
    FitOutput {
        fit_score,
        fit_rationale: rationale,
        fit_category: fit_category(fit_score).into(),
        matched_requirements: matched.iter().map(|r| r.text.clone()).collect(),
        missing_requirements: missing.iter().map(|r| r.text.clone()).collect(),
        evidence: matched
            .iter()
            .map(|r| RequirementEvidence {
                requirement: r.text.clone(),
                cv_line: r.evidence.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::fixtures;

    #[test]
    fn a_matching_cv_scores_higher_than_an_unrelated_one() {
        let job = fixtures::job();
        let good = score(&job, &fixtures::cv(), 2026);
        gates::check_fit(&good).unwrap();
        let unrelated =
            MasterCv::parse("# Bob\n## Experience\n### Baker — Bakery (2020–2024)\n- Baked 300 loaves a day\n")
                .unwrap();
        let bad = score(&job, &unrelated, 2026);
        gates::check_fit(&bad).unwrap();
        assert!(
            good.fit_score > bad.fit_score + 20,
            "{} vs {}",
            good.fit_score,
            bad.fit_score
        );
        assert!(!bad.missing_requirements.is_empty());
    }

    #[test]
    fn quotes_stay_phrases_of_their_source() {
        assert_eq!(quote("Built X. Then Y", 60), "Built X");
        assert_eq!(quote("Node.js and C++ services", 60), "Node.js and C++ services");
    }
}
