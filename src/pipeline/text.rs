//! Plain-text analysis shared by the offline stages and the quality gates: splitting a
//! posting into sections and items, tokens for lexical matching, numbers and stock phrases.

use std::collections::BTreeSet;

/// What a block of a posting is about, from its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    /// What the person will do.
    Responsibilities,
    /// Must-haves.
    Requirements,
    /// Nice-to-haves.
    Preferred,
    /// About the company or team.
    About,
    /// Pay, perks, process.
    Benefits,
    /// Anything before the first recognised heading.
    Intro,
    /// Prose after a list of requirements or nice-to-haves (how to apply, salary, legal
    /// lines): not part of the list.
    Closing,
}

/// A posting section: its kind and its items (bullets or sentences).
#[derive(Debug, Clone)]
pub struct Section {
    pub kind: SectionKind,
    pub items: Vec<String>,
    /// True once a bullet was read into it.
    pub bulleted: bool,
}

fn heading_kind(line: &str) -> Option<SectionKind> {
    let l = line
        .trim()
        .trim_start_matches('#')
        .trim()
        .trim_end_matches(':')
        .to_lowercase()
        .replace('’', "'");
    if l.is_empty() || l.split_whitespace().count() > 8 {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if has(&[
        "equal opportunit",
        "equal employment",
        "eeo",
        "diversity",
        "inclusion",
        "accommodation",
        "privacy notice",
        "disclaimer",
    ]) {
        Some(SectionKind::Benefits)
    } else if has(&[
        "nice to have",
        "nice-to-have",
        "preferred",
        "bonus",
        "plus if",
        "desirable",
        "even better",
        "extra credit",
        "would be great",
        "ideally",
        "our stack",
        "tech stack",
        "our tools",
        "technologies we use",
    ]) {
        Some(SectionKind::Preferred)
    } else if has(&[
        "requirement",
        "qualification",
        "what you bring",
        "you'll bring",
        "you will bring",
        "what we're looking",
        "what we are looking",
        "what we look for",
        "what you'll need",
        "what you will need",
        "what you need",
        "what you’ll need",
        "you have",
        "you'll have",
        "you’ll have",
        "you bring",
        "skills",
        "must have",
        "must-have",
        "about you",
        "who you are",
        "experience",
        "your profile",
        "profile",
        "essential",
        "competenc",
    ]) {
        Some(SectionKind::Requirements)
    } else if has(&[
        "responsibilit",
        "what you'll do",
        "what you’ll do",
        "what you will do",
        "what you will be doing",
        "what you'll be doing",
        "the role",
        "your role",
        "the job",
        "duties",
        "you will",
        "in this role",
        "your impact",
        "your mission",
        "day to day",
        "day-to-day",
        "key tasks",
        "the opportunity",
    ]) {
        Some(SectionKind::Responsibilities)
    } else if has(&[
        "benefit",
        "perks",
        "we offer",
        "compensation",
        "salary",
        "what's in it",
        "what’s in it",
        "why join",
        "why you'll love",
        "why work",
        "how to apply",
        "process",
        "location",
        "pay range",
    ]) {
        Some(SectionKind::Benefits)
    } else if has(&[
        "about us",
        "about the company",
        "who we are",
        "about the team",
        "our mission",
        "the company",
        "about ",
        "our story",
        "our values",
    ]) {
        Some(SectionKind::About)
    } else {
        None
    }
}

/// The line without hashtags (`#LI-DNI`, `#Hybrid`): job boards' tags, never content.
/// A markdown heading's `#` (followed by a space) stays.
pub fn without_tags(line: &str) -> std::borrow::Cow<'_, str> {
    let is_tag = |w: &str| {
        w.strip_prefix('#').is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_alphabetic())
                && rest.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
    };
    if !line.split_whitespace().any(is_tag) {
        return std::borrow::Cow::Borrowed(line);
    }
    std::borrow::Cow::Owned(
        line.split_whitespace()
            .filter(|w| !is_tag(w))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The smallest number of years a requirement asks for ("5+ years", "3-5 years", "at
/// least two years").
pub fn required_years(req: &str) -> Option<u32> {
    let lower = req.to_lowercase();
    let idx = lower.find("year")?;
    let before = lower[..idx].trim_end().trim_end_matches(['+', ' ', '(']);
    let last = before.split(|c: char| c.is_whitespace() || c == '(').next_back()?;
    let first_number = last.split(['-', '–', '/']).next().unwrap_or(last).trim_end_matches('+');
    if let Ok(n) = first_number.parse::<u32>() {
        return (n <= 50).then_some(n);
    }
    const WORDS: [&str; 11] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    ];
    WORDS.iter().position(|w| *w == first_number).map(|i| i as u32 + 1)
}

/// True for a character job boards use as a bullet: dashes, dots, arrows, check marks and
/// emoji (anything that is not a letter, digit, quote, bracket or currency sign).
fn is_bullet_symbol(c: char) -> bool {
    !(c.is_alphanumeric() || c.is_whitespace() || "\"'“‘([{$£€¥#@&%+<".contains(c))
}

/// Strips list markers (`-`, `*`, `•`, `✅`, `🔹`, `1.`, `2)`) and surrounding space.
pub fn strip_marker(line: &str) -> &str {
    let t = line.trim();
    let t = t.trim_start_matches(is_bullet_symbol).trim_start();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < 3 && t[digits..].starts_with(['.', ')']) {
        return t[digits + 1..].trim_start();
    }
    t
}

/// Abbreviations after which a sentence does not end, even before a capital letter.
const ABBREVIATIONS: &[&str] = &[
    "e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "esp.", "cf.", "resp.", "no.", "nr.", "dr.", "mr.", "mrs.",
    "ms.", "prof.", "inc.", "ltd.", "co.", "corp.", "jr.", "sr.", "st.", "dept.", "fig.", "min.", "max.",
];

/// Splits a paragraph into sentences: Unicode sentence boundaries (UAX #29, which keeps
/// decimals such as `4.5` and a period before a lower-case word together), then rejoined
/// after abbreviations (`e.g.`, `vs.`, `Inc.`) that UAX #29 cannot know.
pub fn sentences(text: &str) -> Vec<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let mut out = Vec::new();
    let mut current = String::new();
    for piece in text.split_sentence_bounds() {
        current.push_str(piece);
        let last_word = current
            .split_whitespace()
            .last()
            .unwrap_or("")
            .trim_start_matches(['(', '"', '\'', '“', '‘'])
            .to_lowercase();
        let after_abbreviation = ABBREVIATIONS.contains(&last_word.as_str())
            // Single initials ("J. Smith") do not end a sentence either.
            || (last_word.len() == 2 && last_word.ends_with('.') && last_word.starts_with(char::is_alphabetic));
        if !after_abbreviation {
            push_clean(&mut out, &current);
            current.clear();
        }
    }
    push_clean(&mut out, &current);
    out
}

fn push_clean(out: &mut Vec<String>, s: &str) {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Two characters are enough for a skill on its own ("Go", "R&D" is three).
    if t.chars().filter(|c| c.is_alphanumeric()).count() >= 2 {
        out.push(t);
    }
}

/// Splits a posting into sections of items. Bullets are items; prose lines become
/// sentences.
pub fn sections(text: &str) -> Vec<Section> {
    let mut out = vec![Section {
        kind: SectionKind::Intro,
        items: Vec::new(),
        bulleted: false,
    }];
    for raw in text.lines() {
        let untagged = without_tags(raw);
        let line = untagged.trim();
        if line.is_empty() || is_board_noise(line) {
            continue;
        }
        let is_bullet = strip_marker(line).len() != line.len();
        // A symbol before a heading ("🔹 What you'll do") is decoration, not a bullet.
        let plain_marker = line.starts_with(['-', '*', '•']) || line.starts_with(|c: char| c.is_ascii_digit());
        let line = if is_bullet && !plain_marker && looks_like_heading(strip_marker(line)) {
            strip_marker(line)
        } else {
            line
        };
        let is_bullet = strip_marker(line).len() != line.len();
        if !is_bullet {
            if let Some(kind) = heading_kind(line) {
                if looks_like_heading(line) {
                    out.push(Section {
                        kind,
                        items: Vec::new(),
                        bulleted: false,
                    });
                    continue;
                }
            }
        }
        // An inline labelled list: "Must have: 2 years in support; written English."
        if !is_bullet {
            if let Some((label, rest)) = line.split_once(':') {
                if let Some(kind) =
                    heading_kind(label).filter(|_| label.split_whitespace().count() <= 5 && !rest.trim().is_empty())
                {
                    let mut items = Vec::new();
                    for part in inline_items(rest) {
                        push_clean(&mut items, &part);
                    }
                    out.push(Section {
                        kind,
                        items,
                        bulleted: true,
                    });
                    continue;
                }
            }
        }
        // Prose after a bulleted list of asks is no ask ("Apply with your CV; we reply
        // within two weeks").
        let after_list = out.last().is_some_and(|s| {
            matches!(s.kind, SectionKind::Requirements | SectionKind::Preferred) && s.bulleted && !s.items.is_empty()
        });
        if !is_bullet && after_list && word_count(line) >= 6 {
            out.push(Section {
                kind: SectionKind::Closing,
                items: Vec::new(),
                bulleted: false,
            });
        }
        let section = out.last_mut().expect("at least one section");
        section.bulleted |= is_bullet;
        if is_bullet {
            push_clean(&mut section.items, strip_marker(line));
        } else {
            section.items.extend(sentences(line));
        }
    }
    out.retain(|s| !s.items.is_empty());
    out
}

/// The items of an inline list: parts between semicolons, without a leading "and"; a
/// part without semicolons is one item.
pub fn inline_items(text: &str) -> Vec<String> {
    text.split(';')
        .map(|p| p.trim().trim_end_matches('.').trim())
        .map(|p| p.strip_prefix("and ").unwrap_or(p).trim())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// True for a line shaped like a heading: ending with a colon, a markdown `#`, at most
/// four words ("What you'll do"), or title case or capitals ("What You Will Bring",
/// "REQUIREMENTS"). "Excellent phone and writing skills" is an item, not a heading.
fn looks_like_heading(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let small = [
        "a", "an", "and", "the", "to", "of", "for", "in", "on", "with", "you", "we", "our", "your", "&",
    ];
    let title_case = words
        .iter()
        .all(|w| small.contains(&w.to_lowercase().as_str()) || w.chars().next().is_some_and(|c| !c.is_lowercase()));
    line.ends_with(':') || line.starts_with('#') || words.len() <= 4 || (words.len() <= 8 && title_case)
}

/// A board's job-detail line ("Job Type: Full-time", "Pay: $55,000 a year", "Schedule:").
fn is_job_detail(lower: &str) -> bool {
    const LABELS: &[&str] = &[
        "job type",
        "job types",
        "pay",
        "salary",
        "schedule",
        "work location",
        "location",
        "contract type",
        "contract length",
        "hours",
        "start date",
        "closing date",
        "application deadline",
        "reference",
        "expected hours",
    ];
    lower
        .split_once(':')
        .is_some_and(|(label, _)| LABELS.contains(&label.trim()))
}

/// Lines job boards add around a posting: "Show more", tag lines ("#LI-Hybrid #DataJobs").
fn is_board_noise(line: &str) -> bool {
    let lower = line.to_lowercase();
    [
        "show more",
        "show less",
        "see more",
        "apply now",
        "report this job",
        "save job",
    ]
    .contains(&lower.as_str())
        || lower.contains("equal opportunity employer")
        || is_job_detail(&lower)
        || lower.contains("equal employment opportunity")
        || line.split_whitespace().all(|w| w.starts_with('#') && w.len() > 1)
        || (line
            .split_whitespace()
            .filter(|w| w.starts_with('#') && w.len() > 1)
            .count()
            >= 2
            && line.split_whitespace().count() < 10)
}

/// Items of every section of a kind, in order.
pub fn items_of(sections: &[Section], kind: SectionKind) -> Vec<String> {
    sections
        .iter()
        .filter(|s| s.kind == kind)
        .flat_map(|s| s.items.iter().cloned())
        .collect()
}

const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "for",
    "from",
    "has",
    "have",
    "in",
    "into",
    "is",
    "it",
    "its",
    "of",
    "on",
    "or",
    "our",
    "that",
    "the",
    "their",
    "this",
    "to",
    "we",
    "will",
    "with",
    "you",
    "your",
    "who",
    "what",
    "which",
    "while",
    "across",
    "about",
    "all",
    "also",
    "any",
    "both",
    "each",
    "more",
    "other",
    "such",
    "than",
    "them",
    "then",
    "there",
    "these",
    "they",
    "those",
    "through",
    "up",
    "us",
    "using",
    "via",
    "was",
    "were",
    "where",
    "work",
    "working",
    "within",
    "would",
    "should",
    "must",
    "may",
    "our",
    "out",
    "own",
    "per",
    "so",
    "some",
    "very",
    "well",
    "how",
    "new",
    "not",
    "do",
    "does",
    "i",
    "my",
    "me",
    "he",
    "she",
    "his",
    "her",
    "am",
    "if",
    "no",
    "yes",
    "etc",
    "e.g",
    "i.e",
    // Words that appear in every requirement and carry no evidence.
    "experience",
    "experienced",
    "years",
    "year",
    "strong",
    "ability",
    "able",
    "knowledge",
    "skills",
    "skill",
    "excellent",
    "good",
    "great",
    "solid",
    "proven",
    "track",
    "record",
    "understanding",
    "familiarity",
    "familiar",
    "proficiency",
    "proficient",
    "plus",
    "preferred",
    "required",
    "including",
    "role",
    "team",
    "teams",
    "help",
    "make",
    "like",
    "get",
    "use",
    "want",
    "looking",
    "join",
    "based",
    "least",
    "equivalent",
    "related",
    "relevant",
    "similar",
    "etc.",
    "someone",
    "candidate",
    "ideal",
    "opportunity",
    "company",
    "day",
    "days",
    "ensure",
    "high",
    "hands-on",
];

/// Lower-cased significant tokens of a text, lightly stemmed, stopwords removed. Tokens
/// keep `+`, `#` and inner dots so `c++`, `c#` and `node.js` survive.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '+' | '#' | '.' | '-' | '/')))
        .flat_map(|t| t.split('/'))
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | '-')).to_lowercase())
        .filter(|t| t.chars().count() >= 2 && !t.chars().all(|c| c.is_ascii_digit()))
        .filter(|t| !STOPWORDS.contains(&t.as_str()))
        .map(|t| stem(&t))
        .collect()
}

/// Significant tokens as a set.
pub fn token_set(text: &str) -> BTreeSet<String> {
    tokens(text).into_iter().collect()
}

fn stem(t: &str) -> String {
    if !t.chars().all(|c| c.is_alphabetic()) {
        return t.to_owned();
    }
    for suffix in ["ing", "ies", "ed", "es", "s"] {
        if t.len() > suffix.len() + 3 && t.ends_with(suffix) && !t.ends_with("ss") {
            let base = &t[..t.len() - suffix.len()];
            return if suffix == "ies" {
                format!("{base}y")
            } else {
                base.to_owned()
            };
        }
    }
    t.to_owned()
}

/// Numbers that carry meaning (metrics, counts, money), as written: `40%`, `$2M`, `12`,
/// `3.5x`. Four-digit years are left out.
pub fn metric_numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let t = raw.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '(' | ')' | '"' | '\'' | '.' | '!' | '?'));
        if !t.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
        let is_year = digits.len() == 4
            && t.chars().all(|c| c.is_ascii_digit() || matches!(c, '–' | '-'))
            && (digits.starts_with("19") || digits.starts_with("20"));
        let is_date_range = t.contains(['–', '-']) && t.chars().filter(|c| c.is_ascii_digit()).count() >= 8;
        if !is_year && !is_date_range {
            out.push(t.to_owned());
        }
    }
    out
}

/// Four-digit years mentioned in a text.
pub fn years(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i + 4 <= chars.len() {
        let window: String = chars[i..i + 4].iter().collect();
        let boundary_before = i == 0 || !chars[i - 1].is_ascii_digit();
        let boundary_after = chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        if boundary_before && boundary_after && window.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(y) = window.parse::<u32>() {
                if (1950..=2100).contains(&y) {
                    out.push(y);
                }
            }
            i += 4;
        } else {
            i += 1;
        }
    }
    out
}

/// Phrases a text puts in quotation marks (`"…"`, `“…”`), at least two words or eight
/// characters long (shorter quotes are emphasis, not quotations).
pub fn quoted_phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for (i, c) in text.char_indices() {
        match (open, c) {
            (None, '"' | '“') => open = Some((c, i + c.len_utf8())),
            (Some(('"', start)), '"') | (Some(('“', start)), '”') => {
                let phrase = text[start..i].trim();
                if phrase.split_whitespace().count() >= 2 || phrase.chars().count() >= 8 {
                    out.push(phrase.to_owned());
                }
                open = None;
            }
            _ => {}
        }
    }
    out
}

/// Stock phrases that make applications and pain points read as boilerplate.
pub const STOCK_PHRASES: &[&str] = &[
    "excited to apply",
    "perfect fit",
    "team player",
    "fast-paced environment",
    "fast paced environment",
    "self-starter",
    "self starter",
    "rockstar",
    "ninja",
    "go-getter",
    "hit the ground running",
    "think outside the box",
    "synergy",
    "results-driven",
    "detail-oriented",
    "passionate about",
    "wear many hats",
    "dynamic environment",
    "competitive salary",
    "work hard, play hard",
    "dream job",
    "thrilled to",
];

/// The stock phrases a text contains.
pub fn stock_phrases_in(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    STOCK_PHRASES.iter().copied().filter(|p| lower.contains(p)).collect()
}

/// Cuts a text to at most `max` characters at a word boundary, without trailing
/// punctuation.
pub fn shorten(text: &str, max: usize) -> String {
    let t = text.trim().trim_end_matches(['.', ';', ',', ':']).trim();
    if t.chars().count() <= max {
        return t.to_owned();
    }
    let mut out = String::new();
    for word in t.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.trim_end_matches([',', ';', ':', '-', '–']).trim().to_owned()
}

/// [`shorten`], ending with ` …` when something was cut.
pub fn shorten_marked(text: &str, max: usize) -> String {
    let whole = text.trim().trim_end_matches(['.', ';', ',', ':']).trim();
    let cut = shorten(text, max);
    if cut.len() < whole.len() {
        format!("{cut} …")
    } else {
        cut
    }
}

/// First character lower-cased (for embedding a sentence in another), unless it starts an
/// acronym or proper noun written in capitals.
pub fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            let mut s = a.to_lowercase().collect::<String>();
            s.push(b);
            s.extend(chars);
            s
        }
        _ => text.to_owned(),
    }
}

/// First character upper-cased (a clause that starts a sentence).
pub fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(a) => a.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Number of words.
pub fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_bullets_under_headings() {
        let s = sections("We build rockets.\n\nResponsibilities:\n- Build the engine\n- Test it\n\nRequirements\n* 5+ years of Rust\n");
        assert_eq!(
            items_of(&s, SectionKind::Responsibilities),
            vec!["Build the engine", "Test it"]
        );
        assert_eq!(items_of(&s, SectionKind::Requirements), vec!["5+ years of Rust"]);
        assert_eq!(items_of(&s, SectionKind::Intro), vec!["We build rockets."]);
    }

    /// Honest rationales count as many sentences as they have; run-ons are still caught.
    #[test]
    fn sentences_respect_abbreviations_decimals_and_quotes() {
        for (text, n) in [
            (
                "Matched Rust and Kafka from the CV. The posting's \"microservices vs. monoliths\" debate matches the Parcelify migration. Missing: Go.",
                3,
            ),
            ("Strong on data tooling, e.g. Kafka and ClickHouse. Missing evidence of Go.", 2),
            ("Scaled throughput 7.5x at Freightline. Missing: e-commerce. Otherwise matched.", 3),
            ("Reviewed by Dr. Smith at Acme Inc. and matched. Missing Go.", 2),
            ("Matched Rust vs. Go! Missing Java? Yes.", 3),
            ("One. Two. Three. Four.", 4),
        ] {
            assert_eq!(sentences(text).len(), n, "{text}: {:?}", sentences(text));
        }
    }

    #[test]
    fn tokens_keep_tech_names_and_drop_filler() {
        let t = tokens("Strong experience with C++, Node.js and Kubernetes clusters");
        assert!(t.contains(&"c++".to_string()));
        assert!(t.contains(&"node.js".to_string()));
        assert!(t.iter().any(|x| x.starts_with("kubernet")), "{t:?}");
        assert!(!t.contains(&"experience".to_string()));
    }

    #[test]
    fn metric_numbers_skip_years() {
        assert_eq!(
            metric_numbers("Cut latency 40% in 2021 for 12 teams ($2M)."),
            vec!["40%", "12", "$2M"]
        );
        assert_eq!(years("Acme (2019–2023)"), vec![2019, 2023]);
    }

    #[test]
    fn tags_and_equal_opportunity_lines_are_not_content() {
        let s = sections("Requirements:\n- Professional experience leveraging Go #LI-DNI\n#LI-Remote\nWe are an equal opportunity employer and value diversity.\n");
        assert_eq!(
            items_of(&s, SectionKind::Requirements),
            vec!["Professional experience leveraging Go"]
        );
        assert_eq!(without_tags("C# and F# #hiring"), "C# and F#");
    }

    #[test]
    fn real_board_headings_are_read() {
        let s = sections("What you'll need\n- Go\nBonus points\n- Rust\nWhat you’ll be doing\n- Build things\nWhy join us\n- Free lunch\n");
        assert_eq!(items_of(&s, SectionKind::Requirements), vec!["Go"]);
        assert_eq!(items_of(&s, SectionKind::Preferred), vec!["Rust"]);
        assert_eq!(items_of(&s, SectionKind::Responsibilities), vec!["Build things"]);
        assert_eq!(items_of(&s, SectionKind::Benefits), vec!["Free lunch"]);
    }

    #[test]
    fn items_that_mention_a_heading_word_stay_items() {
        let s = sections("What we're looking for\n✅ 3+ years in a data role\n✅ Experience with Looker or Tableau\nQualifications\nExcellent phone and writing skills\n");
        assert_eq!(
            items_of(&s, SectionKind::Requirements),
            vec![
                "3+ years in a data role",
                "Experience with Looker or Tableau",
                "Excellent phone and writing skills"
            ]
        );
    }

    #[test]
    fn job_detail_lines_are_not_requirements() {
        let s = sections("Qualifications\n1+ year of experience in sales\nJob Type: Full-time\nPay: $55,000.00 - $70,000.00 per year\n");
        assert_eq!(
            items_of(&s, SectionKind::Requirements),
            vec!["1+ year of experience in sales"]
        );
    }

    #[test]
    fn prose_after_a_list_of_asks_is_no_ask() {
        let s = sections(
            "Bonus\n- dbt and Snowflake\n\nApply with your CV; we reply to every application within two weeks.\n",
        );
        assert_eq!(items_of(&s, SectionKind::Preferred), vec!["dbt and Snowflake"]);
        assert_eq!(items_of(&s, SectionKind::Closing).len(), 1);
    }

    #[test]
    fn inline_labelled_lists_are_sections() {
        let s = sections("Must have: 2 years in customer support; excellent written English.\nNice to have: experience with Zendesk or Intercom.\n");
        assert_eq!(
            items_of(&s, SectionKind::Requirements),
            vec!["2 years in customer support", "excellent written English"]
        );
        assert_eq!(
            items_of(&s, SectionKind::Preferred),
            vec!["experience with Zendesk or Intercom"]
        );
    }

    #[test]
    fn required_years_reads_numbers_ranges_and_words() {
        assert_eq!(required_years("5+ years of backend experience"), Some(5));
        assert_eq!(required_years("3-5 years in a similar role"), Some(3));
        assert_eq!(required_years("at least two years of nursing"), Some(2));
        assert_eq!(required_years("Rust"), None);
    }

    #[test]
    fn shorten_cuts_at_words() {
        assert_eq!(
            shorten("Design and operate the ingestion pipeline.", 20),
            "Design and operate"
        );
    }
}
