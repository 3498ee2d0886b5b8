//! The one evidence matcher: how well a line of the CV supports a requirement of the
//! posting. Requirements and achievements say the same thing in different words, so the
//! match is by *concept* first (the lexicon: Go = Golang, "stability and scalability" ≈
//! "cut p99 latency, introduced SLOs", "mentorship" ≈ "mentored, two promoted") and by the
//! remaining significant words second. The offline fit score, the CV review and the
//! dossier's pain → proof pairing all ask this module, so they agree on what backs what.

use std::collections::BTreeSet;

use crate::pipeline::lexicon::{self, ConceptKind};
use crate::pipeline::text;

/// Coverage at or above which a line supports a requirement.
pub const SUPPORTS: f64 = 0.5;

/// How much a shared concept of each kind counts.
fn weight(kind: ConceptKind) -> f64 {
    match kind {
        ConceptKind::Technical => 1.0,
        ConceptKind::Outcome => 0.8,
        ConceptKind::Soft => 0.6,
    }
}

/// A requirement (or pain point) prepared once for matching against many lines.
#[derive(Debug, Clone)]
pub struct Need {
    pub text: String,
    /// The need lists alternatives ("Go or Python").
    offers_choice: bool,
    /// Its own words for the technologies it names, lower-cased.
    surfaces: Vec<String>,
    concepts: Vec<(&'static str, ConceptKind)>,
    /// Significant words not covered by a concept.
    terms: BTreeSet<String>,
}

impl Need {
    /// Prepares `text`.
    pub fn new(text: &str) -> Self {
        let hits = lexicon::find(text, &[ConceptKind::Technical, ConceptKind::Outcome, ConceptKind::Soft]);
        let concept_words: BTreeSet<String> = hits.iter().flat_map(|h| text::tokens(&h.surface)).collect();
        let mut seen = BTreeSet::new();
        let concepts = hits
            .iter()
            .filter(|h| seen.insert(h.concept.name))
            .map(|h| (h.concept.name, h.concept.kind))
            .collect();
        let terms = terms_of(text)
            .into_iter()
            .filter(|t| !concept_words.contains(t) && !t.chars().any(|c| c.is_ascii_digit()))
            .collect();
        let lower = text.to_lowercase();
        let surfaces = hits
            .iter()
            .filter(|h| h.concept.kind == ConceptKind::Technical && h.surface.len() >= 3)
            .map(|h| h.surface.to_lowercase())
            .collect();
        Self {
            text: text.to_owned(),
            surfaces,
            offers_choice: lower.contains(" or ") || lower.contains("/") || lower.contains("similar"),
            concepts,
            terms,
        }
    }

    /// True when the need names nothing to match (no concept, no significant word).
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty() && self.terms.is_empty()
    }

    /// How well `line` supports the need, 0–1.
    pub fn coverage(&self, line: &Line) -> f64 {
        let shared_terms = self.terms.iter().filter(|t| line.terms.contains(*t)).count();
        let mut term_cov = if self.terms.is_empty() {
            0.0
        } else {
            shared_terms as f64 / self.terms.len() as f64
        };
        // A long sentence shares only part of its words with the line that answers it;
        // three significant words in common is a match of its own.
        if shared_terms >= 3 {
            term_cov = term_cov.max(SUPPORTS + 0.05 * (shared_terms - 3) as f64).min(1.0);
        }
        if self.concepts.is_empty() {
            return term_cov;
        }
        // Each named technology is its own unit; the outcomes a need lists ("stability,
        // performance, and scalability") are one unit, and so are its ways of working: a
        // line proving one of them answers that part of the need.
        let mut total = 0.0;
        let mut shared = 0.0;
        for kind in [ConceptKind::Outcome, ConceptKind::Soft] {
            let of_kind: Vec<&&str> = self
                .concepts
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(n, _)| n)
                .collect();
            if !of_kind.is_empty() {
                total += weight(kind);
                if of_kind.iter().any(|n| line.concepts.contains(**n)) {
                    shared += weight(kind);
                }
            }
        }
        // Technologies are each needed, unless the need offers a choice ("Kafka, Spark or
        // another", "AWS or GCP"): then one of them answers half of it, and each more adds.
        let tech: Vec<&str> = self
            .concepts
            .iter()
            .filter(|(_, k)| *k == ConceptKind::Technical)
            .map(|(n, _)| *n)
            .collect();
        if !tech.is_empty() {
            let held = tech.iter().filter(|n| line.concepts.contains(**n)).count() as f64;
            let all = held / tech.len() as f64;
            let share = if self.offers_choice && held > 0.0 {
                0.5 + 0.5 * all
            } else {
                all
            };
            total += tech.len() as f64;
            shared += share * tech.len() as f64;
        }
        let concept_cov = shared / total;
        // A need named by concepts alone ("Kubernetes") is covered by them alone.
        let cov = if self.terms.is_empty() {
            concept_cov
        } else {
            (0.75 * concept_cov + 0.25 * term_cov).max(if shared > 0.0 { term_cov } else { 0.0 })
        };
        // An outcome ("a track record of improvements in stability") is best proven by a
        // result in numbers.
        let wants_result = self.concepts.iter().any(|(_, k)| *k == ConceptKind::Outcome);
        let cov = if wants_result && line.has_metric && shared > 0.0 {
            (cov + 0.15).min(1.0)
        } else {
            cov
        };
        // Between lines that cover as much, the one naming the need's first technology
        // wins ("PostgreSQL and event streaming (Kafka or similar)" is first PostgreSQL).
        let first_named = tech.first().is_some_and(|first| line.concepts.contains(first));
        // And a line using the need's own word for a technology ("HubSpot") beats one that
        // names it only by its family ("lifecycle marketing").
        let same_word = self.surfaces.iter().any(|s| line.lower.contains(s.as_str()));
        (cov + if first_named { 0.01 } else { 0.0 } + if same_word { 0.02 } else { 0.0 }).min(1.0)
    }

    /// The line that best supports the need, with its coverage; `None` when no line
    /// reaches [`SUPPORTS`].
    pub fn best<'a>(&self, lines: &'a [Line]) -> Option<(&'a Line, f64)> {
        lines
            .iter()
            .map(|l| (l, self.coverage(l)))
            .filter(|(_, c)| *c >= SUPPORTS)
            // On a tie an achievement (a sentence) beats a skills list (a claim).
            .max_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then_with(|| b.0.is_list().cmp(&a.0.is_list()))
                    .then_with(|| a.0.text.len().cmp(&b.0.text.len()))
            })
    }
}

/// Significant words, with hyphenated words also split ("shipment-tracking" is
/// "shipment" and "tracking" too).
fn terms_of(s: &str) -> BTreeSet<String> {
    let mut out = text::token_set(s);
    out.extend(text::token_set(&s.replace('-', " ")));
    out
}

/// A line of evidence prepared once.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    lower: String,
    /// The line states a number (a result).
    has_metric: bool,
    concepts: BTreeSet<&'static str>,
    terms: BTreeSet<String>,
}

impl Line {
    /// True for a list of names ("Go, Rust, PostgreSQL") rather than a sentence.
    pub fn is_list(&self) -> bool {
        let commas = self.text.matches(',').count();
        commas >= 2 && commas * 3 >= text::word_count(&self.text)
    }

    /// Prepares `text`.
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            lower: text.to_lowercase(),
            has_metric: !text::metric_numbers(text).is_empty(),
            concepts: lexicon::concepts(text),
            terms: terms_of(text),
        }
    }
}

/// The evidence lines of a CV text: every bullet and every non-heading line with words
/// (a skills line counts: it is where "Kubernetes" is written).
pub fn lines_of(cv_text: &str) -> Vec<Line> {
    cv_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(text::strip_marker)
        .filter(|l| text::word_count(l) >= 1)
        .map(Line::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cv() -> Vec<Line> {
        lines_of(
            "# Ana\n## Experience\n### Staff Engineer — Ledgerly (2021–present)\n- Built 14 Go and Rust services handling 30k requests per second\n- Cut p99 latency from 1.8 s to 240 ms and introduced SLOs for every service\n- Mentored four engineers; two were promoted to senior\n- Moved billing from MySQL to PostgreSQL with zero downtime\n## Skills\nGo, Rust, PostgreSQL, Kafka, Kubernetes, Terraform\n",
        )
    }

    fn best(req: &str) -> Option<String> {
        let lines = cv();
        Need::new(req).best(&lines).map(|(l, _)| l.text.clone())
    }

    #[test]
    fn requirements_are_backed_by_the_line_that_means_the_same() {
        assert!(best("Professional experience leveraging Go")
            .unwrap()
            .contains("Go and Rust services"));
        assert!(
            best("A track record of improvements around stability, performance, and scalability")
                .unwrap()
                .contains("p99")
        );
        assert!(best("Mentorship of junior engineers").unwrap().contains("Mentored"));
        assert!(best("Deep Postgres knowledge").unwrap().contains("PostgreSQL"));
        assert!(best("Experience with k8s").is_some());
    }

    #[test]
    fn a_long_need_is_answered_by_a_line_sharing_its_key_words() {
        let lines =
            lines_of("- Led the redesign of the shipment-tracking event pipeline on Kafka and Rust\n- Baked bread\n");
        let need = Need::new("Design and operate the event pipeline that tracks every shipment in real time");
        assert!(need.best(&lines).unwrap().0.text.contains("shipment-tracking"));
    }

    #[test]
    fn unrelated_requirements_find_no_evidence() {
        assert_eq!(best("Current NMC registration as a nurse"), None);
        assert_eq!(best("Own the product roadmap and run customer interviews"), None);
        assert_eq!(best("Fluent Japanese"), None);
    }
}
