//! The CV fact check's comparisons: facts, not wording. A tailored CV's heading is a claim
//! only when it names an employer, a title, a date range or a degree; a section heading
//! (`## Key Achievements`, `## Professional Experience`) is free. Claims are compared with
//! the master CV tolerantly on typography (dashes, quotes, spaces, case, "Present",
//! month names and abbreviations) and strictly on substance (every word of an employer or
//! title, every year and month of a date range).

use std::collections::BTreeSet;

use crate::pipeline::master_cv::MasterCv;

/// Words that make up section headings; they name no employer, title or degree.
const SECTION_WORDS: &[&str] = &[
    "about",
    "accomplishments",
    "achievements",
    "additional",
    "and",
    "areas",
    "awards",
    "background",
    "career",
    "certificates",
    "certifications",
    "competencies",
    "contact",
    "core",
    "courses",
    "cv",
    "details",
    "earlier",
    "education",
    "employment",
    "experience",
    "expertise",
    "focus",
    "for",
    "highlights",
    "history",
    "honors",
    "honours",
    "impact",
    "interests",
    "key",
    "languages",
    "leadership",
    "notable",
    "of",
    "other",
    "overview",
    "previous",
    "professional",
    "profile",
    "projects",
    "publications",
    "qualifications",
    "recent",
    "references",
    "relevant",
    "resume",
    "résumé",
    "selected",
    "skills",
    "strengths",
    "summary",
    "technical",
    "technologies",
    "the",
    "tools",
    "training",
    "volunteering",
    "work",
    "&",
    "a",
    "an",
    "at",
    "in",
    "with",
    "to",
    "on",
    "my",
];

/// Degree names, matched as whole words of folded text.
pub const DEGREES: &[&str] = &[
    "phd",
    "ph.d",
    "dphil",
    "doctorate",
    "msc",
    "m.sc",
    "meng",
    "m.eng",
    "mba",
    "ma",
    "m.a",
    "bsc",
    "b.sc",
    "beng",
    "b.eng",
    "ba",
    "b.a",
    "bachelor",
    "bachelor's",
    "bachelors",
    "master's",
    "masters",
    "diploma",
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Text folded for comparing facts: lower case; every dash a `-` with no spaces around it;
/// curly quotes straight; spaces collapsed; `current`/`now`/`today` → `present`; month
/// names and abbreviations → three letters.
pub fn fold(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => '-',
            '‘' | '’' | '′' => '\'',
            '“' | '”' => '"',
            '\u{a0}' => ' ',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect();
    let words: Vec<String> = mapped.split_whitespace().map(fold_word).collect();
    words
        .join(" ")
        .replace(" - ", "-")
        .replace(" -", "-")
        .replace("- ", "-")
}

fn fold_word(word: &str) -> String {
    // Punctuation around the word (`(January`, `current),`) stays where it is.
    let start = word.find(|c: char| c.is_alphanumeric()).unwrap_or(word.len());
    let end = word
        .rfind(|c: char| c.is_alphanumeric())
        .map_or(start, |i| i + word[i..].chars().next().map_or(1, char::len_utf8));
    let (prefix, bare, suffix) = (&word[..start], &word[start..end.max(start)], &word[end.max(start)..]);
    let folded = match bare {
        "current" | "now" | "today" => "present".to_owned(),
        w => month_of(w).map_or_else(|| w.to_owned(), |m| MONTHS[m as usize - 1].to_owned()),
    };
    format!("{prefix}{folded}{suffix}")
}

/// The month (1–12) a word names: `jan`, `Jan.`, `January`, `sept`.
fn month_of(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    FULL.iter()
        .position(|m| *m == w || (w.len() <= 4 && m.starts_with(w)) || (w == "sept" && *m == "september"))
        .map(|i| i as u8 + 1)
}

/// One end of a date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DatePoint {
    /// A year, with the month when one is given.
    Date { year: u32, month: Option<u8> },
    /// Still ongoing.
    Present,
}

/// A date range as a CV writes it (`2019–2024`, `Jan 2019 - Present`, `03/2019 – 05/2021`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateRange {
    pub start: DatePoint,
    pub end: DatePoint,
}

impl DatePoint {
    /// True when `self` (tailored) states this point as `master` does: same year, and a
    /// month only if the master gives the same one (leaving a month out is fine).
    fn agrees_with(self, master: DatePoint) -> bool {
        match (self, master) {
            (DatePoint::Present, DatePoint::Present) => true,
            (DatePoint::Date { year, month }, DatePoint::Date { year: y, month: m }) => {
                year == y && (month.is_none() || month == m)
            }
            _ => false,
        }
    }
}

impl DateRange {
    /// True when the tailored range states the master range (see [`DatePoint::agrees_with`]).
    pub fn agrees_with(&self, master: &DateRange) -> bool {
        self.start.agrees_with(master.start) && self.end.agrees_with(master.end)
    }
}

fn point(tokens: &[String], i: usize) -> Option<(DatePoint, usize)> {
    let year = |t: &str| {
        t.parse::<u32>()
            .ok()
            .filter(|y| t.len() == 4 && (1950..=2100).contains(y))
    };
    let t = tokens.get(i)?;
    if t == "present" {
        return Some((DatePoint::Present, i + 1));
    }
    if let Some(y) = year(t) {
        return Some((DatePoint::Date { year: y, month: None }, i + 1));
    }
    if let Some((m, y)) = t.split_once('/') {
        if let (Ok(m), Some(y)) = (m.parse::<u8>(), year(y)) {
            if (1..=12).contains(&m) {
                return Some((
                    DatePoint::Date {
                        year: y,
                        month: Some(m),
                    },
                    i + 1,
                ));
            }
        }
    }
    let month = MONTHS.iter().position(|m| m == t)? as u8 + 1;
    let y = year(tokens.get(i + 1)?)?;
    Some((
        DatePoint::Date {
            year: y,
            month: Some(month),
        },
        i + 2,
    ))
}

/// The date ranges a text states.
pub fn date_ranges(text: &str) -> Vec<DateRange> {
    let folded = fold(text).replace('-', " - ");
    let tokens: Vec<String> = folded
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | '|' | '[' | ']'))
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_end_matches('.').to_owned())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if let Some((start, next)) = point(&tokens, i) {
            if matches!(tokens.get(next).map(String::as_str), Some("-" | "to" | "until")) {
                if let Some((end, after)) = point(&tokens, next + 1) {
                    out.push(DateRange { start, end });
                    i = after;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// The words of folded text (letters, digits and `+#.'` inside a word).
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '+' | '#' | '.' | '\'')))
        .map(|w| w.trim_matches(['.', '\'']))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words of a heading that could name an employer, a title or a degree: not section
/// words, not dates.
fn fact_words(heading: &str) -> BTreeSet<String> {
    words(heading)
        .into_iter()
        .filter(|w| !SECTION_WORDS.contains(&w.as_str()))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit() || c == '/'))
        .filter(|w| w != "present" && !MONTHS.contains(&w.as_str()))
        .collect()
}

/// The degrees a text names (whole words).
pub fn degrees_in(text: &str) -> BTreeSet<&'static str> {
    let ws: BTreeSet<String> = words(text).into_iter().collect();
    let folded = fold(text);
    DEGREES
        .iter()
        .copied()
        .filter(|d| ws.contains(*d))
        .chain(folded.contains("master of").then_some("master of"))
        .collect()
}

/// One role or degree heading of the master CV.
struct Entry {
    heading: String,
    words: BTreeSet<String>,
    ranges: Vec<DateRange>,
}

/// The master CV's facts, prepared once per check.
pub struct MasterFacts {
    headings: BTreeSet<String>,
    entries: Vec<Entry>,
    vocabulary: BTreeSet<String>,
}

impl MasterFacts {
    /// The facts of `master` (its knowledge base included).
    pub fn of(master: &MasterCv) -> Self {
        let evidence = master.evidence();
        let heading_lines: Vec<&str> = evidence
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix('#'))
            .map(|h| h.trim_start_matches('#').trim())
            .collect();
        Self {
            headings: heading_lines.iter().map(|h| fold(h)).collect(),
            entries: heading_lines
                .iter()
                .map(|h| Entry {
                    heading: (*h).to_owned(),
                    words: fact_words(h),
                    ranges: date_ranges(h),
                })
                .collect(),
            vocabulary: words(&evidence).into_iter().collect(),
        }
    }

    /// What a tailored CV's heading (without its `#`s) claims that the master CV does not
    /// hold. A heading of section words only claims nothing.
    pub fn heading_problems(&self, heading: &str) -> Vec<String> {
        let h = heading.trim();
        if self.headings.contains(&fold(h)) {
            return Vec::new();
        }
        let mut v = Vec::new();
        let ranges = date_ranges(h);
        let facts = fact_words(h);
        let unknown: Vec<&str> = facts
            .iter()
            .filter(|w| !self.vocabulary.contains(*w))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            v.push(format!(
                "heading {h:?} names {}, which the master CV does not contain (an employer, title or degree must be the master CV's)",
                unknown.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
        let claims_a_role = !ranges.is_empty() || (!facts.is_empty() && has_role_separator(h));
        if claims_a_role && unknown.is_empty() {
            let matches_entry = self
                .entries
                .iter()
                .any(|e| facts.is_subset(&e.words) && ranges.iter().all(|r| e.ranges.iter().any(|m| r.agrees_with(m))));
            if !matches_entry {
                let closest = self
                    .entries
                    .iter()
                    .max_by_key(|e| e.words.intersection(&facts).count())
                    .map(|e| format!(" (closest: {:?})", e.heading))
                    .unwrap_or_default();
                v.push(format!(
                    "heading {h:?} does not match a role, date range or degree of the master CV{closest}"
                ));
            }
        }
        v
    }
}

/// True when a tailored heading states the master heading `entry` (a role or degree): the
/// same employer, title or degree words, and its date ranges agree with the entry's.
pub fn states_entry(heading: &str, entry: &str) -> bool {
    let master_ranges = date_ranges(entry);
    fact_words(heading) == fact_words(entry)
        && date_ranges(heading)
            .iter()
            .all(|r| master_ranges.iter().any(|m| r.agrees_with(m)))
}

/// True when a heading is shaped like a role (`Title — Employer`, `Title, Employer`,
/// `Title at Employer`, `Title | Employer`).
fn has_role_separator(h: &str) -> bool {
    let f = fold(h);
    f.contains('-') || f.contains(',') || f.contains('|') || f.contains(" at ") || f.contains(" @ ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterFacts {
        MasterFacts::of(
            &MasterCv::parse(
                "# Ada\n## Experience\n### Staff Backend Engineer — Freightline GmbH (Jan 2021–Present)\n- Cut latency 45%\n\
                 ### Senior Software Engineer — Parcelify AG (2017–2021)\n- Built the API\n\
                 ## Education\n### MSc Computer Science — TU München (2011–2013)\n",
            )
            .unwrap(),
        )
    }

    #[test]
    fn folding_ignores_typography() {
        assert_eq!(
            fold("Staff  Engineer – Acme (2019 — PRESENT)"),
            "staff engineer-acme (2019-present)"
        );
        assert_eq!(fold("January 2019 – Current"), "jan 2019-present");
        assert_eq!(fold("“Quoted”"), "\"quoted\"");
    }

    #[test]
    fn date_ranges_are_read_in_the_forms_cvs_use() {
        let r = |start, end| DateRange { start, end };
        let y = |year| DatePoint::Date { year, month: None };
        let ym = |year, month| DatePoint::Date {
            year,
            month: Some(month),
        };
        assert_eq!(date_ranges("Lead (2019–2024)"), [r(y(2019), y(2024))]);
        assert_eq!(date_ranges("Jan. 2019 - present"), [r(ym(2019, 1), DatePoint::Present)]);
        assert_eq!(date_ranges("03/2019 to 05/2021"), [r(ym(2019, 3), ym(2021, 5))]);
        assert_eq!(
            date_ranges("September 2020 – Now"),
            [r(ym(2020, 9), DatePoint::Present)]
        );
        assert!(date_ranges("Cut costs 30% in 2019").is_empty());
    }

    /// Honest headings pass, side by side with dishonest ones that must fail.
    #[test]
    fn headings_are_checked_for_facts_not_wording() {
        let m = master();
        for honest in [
            "Key Achievements",
            "Professional Experience",
            "Core Skills",
            "Selected Projects & Highlights",
            "Staff Backend Engineer - Freightline GmbH (Jan 2021 - present)",
            "Staff Backend Engineer — Freightline GmbH (2021–Present)",
            "Senior Software Engineer, Parcelify AG, 2017-2021",
            "Senior Software Engineer at Parcelify AG",
            "MSc Computer Science, TU München",
            "staff backend engineer — freightline gmbh (january 2021 – current)",
        ] {
            assert_eq!(m.heading_problems(honest), Vec::<String>::new(), "{honest}");
        }
        for (dishonest, why) in [
            ("Principal Engineer — Freightline GmbH (2021–Present)", "\"principal\""),
            ("Staff Backend Engineer — Globex (2021–Present)", "\"globex\""),
            ("Senior Software Engineer — Parcelify AG (2016–2021)", "does not match"),
            (
                "Staff Backend Engineer — Freightline GmbH (Mar 2021–Present)",
                "does not match",
            ),
            ("Staff Backend Engineer — Parcelify AG (2017–2021)", "does not match"),
            ("PhD Computer Science — TU München (2013–2016)", "\"phd\""),
            ("Awards: Turing Award", "\"turing\""),
        ] {
            let problems = m.heading_problems(dishonest).join("\n");
            assert!(problems.contains(why), "{dishonest}: {problems}");
        }
    }

    #[test]
    fn degrees_are_whole_words() {
        assert!(
            degrees_in("Designed the schema for a team").is_empty(),
            "no \"ma \" in schema"
        );
        assert_eq!(degrees_in("MSc in Physics").into_iter().collect::<Vec<_>>(), ["msc"]);
        assert!(degrees_in("Master of Science").contains("master of"));
    }
}
