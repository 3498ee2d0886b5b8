//! Sentence-building rules the offline writers share, so their prose reads as a careful
//! person would write it on any posting:
//!
//! - a posting's item (usually an instruction: "Design and operate the event pipeline") is
//!   never spliced into a slot that needs a noun ("focus on design and operate ..."); it is
//!   quoted verbatim (and only when it really is the posting's text) or listed after a colon;
//! - an achievement becomes first person only when it starts with a past-tense verb;
//! - what the candidate's experience amounts to is said in the CV's own words ("eleven
//!   years of experience"), never computed from dates.

use crate::pipeline::fact_check::fold;
use crate::pipeline::master_cv::MasterCv;
use crate::pipeline::text;

/// `item` in quotation marks, cut to `max` characters at a word boundary (first sentence
/// only), when it is verbatim text of `source` (typography aside); `None` otherwise.
pub fn quoted(source: &str, item: &str, max: usize) -> Option<String> {
    let first = text::sentences(item).into_iter().next()?;
    let whole = first.trim_end_matches(['!', '?', '.', ',', ';', ':']).trim();
    let cut = text::shorten(whole, max)
        .trim_end_matches(['!', '?', '.', ',', ';', ':'])
        .trim()
        .to_owned();
    // A cut quotation says so: "… no more than 6 …" must not read as the whole requirement.
    let mark = if cut.len() < whole.len() { " …" } else { "" };
    (text::word_count(&cut) >= 2 && fold(&crate::domain::markup::plain_text(source)).contains(&fold(&cut)))
        .then(|| format!("\"{cut}{mark}\""))
}

/// Openings that put an instruction in a sentence about the reader ("You will plan …").
const INSTRUCTION_OPENINGS: &[&str] = &[
    "you will ",
    "you'll ",
    "you would ",
    "in this role you will ",
    "in this role, you will ",
    "we would like you to ",
    "we'd like you to ",
    "we need you to ",
    "the successful candidate will ",
    "your job is to ",
    "your role is to ",
];

/// A posting item as an instruction ("Plan and deliver engaging lessons …"), verbatim from
/// its verb on: items that already are one, and sentences that address the reader ("You
/// will plan and deliver …"). `None` for statements about the employer.
pub fn instruction(item: &str) -> Option<String> {
    let t = item.trim();
    let lower = t.to_lowercase();
    let rest = INSTRUCTION_OPENINGS
        .iter()
        .find(|o| lower.starts_with(*o))
        .map_or(t, |o| &t[o.len()..]);
    starts_with_instruction(rest).then(|| text::upper_first(rest.trim()))
}

/// Irregular past-tense verbs CV bullets start with.
const IRREGULAR_PAST: &[&str] = &[
    "built",
    "led",
    "ran",
    "wrote",
    "made",
    "drove",
    "grew",
    "cut",
    "set",
    "won",
    "taught",
    "began",
    "brought",
    "kept",
    "sold",
    "found",
    "held",
    "met",
    "spent",
    "took",
    "gave",
    "chose",
    "rebuilt",
    "rewrote",
    "oversaw",
    "undertook",
    "put",
    "sent",
    "met",
    "shut",
    "spun",
    "split",
    "stood",
    "told",
    "thought",
    "understood",
    "bought",
    "caught",
    "fed",
    "lent",
    "lost",
    "paid",
    "read",
    "saw",
    "shot",
    "sped",
];

/// True when `word` reads as a past-tense verb (`Led`, `Reduced`, `Built`).
fn is_past_tense(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase();
    (w.len() > 3 && w.ends_with("ed") && !["need", "seed", "speed", "feed", "bed"].contains(&w.as_str()))
        || IRREGULAR_PAST.contains(&w.as_str())
}

/// An achievement bullet as a first-person clause for "At Acme, {clause}.": `I led …` when
/// it starts with a past-tense verb, else `my CV records: …` (verbatim, no grammar guessed).
pub fn first_person(achievement: &str) -> String {
    let t = achievement.trim().trim_end_matches('.');
    let t = t.strip_prefix("I ").unwrap_or(t);
    match t.split_whitespace().next() {
        Some(w) if is_past_tense(w) => format!("I {}", text::lower_first(t)),
        _ => format!("my CV records: {t}"),
    }
}

const NUMBER_WORDS: &[&str] = &[
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "twenty-five",
    "thirty",
];

fn is_count(word: &str) -> bool {
    let w = word.trim_end_matches('+').to_lowercase();
    NUMBER_WORDS.contains(&w.as_str()) || (!w.is_empty() && w.len() <= 2 && w.chars().all(|c| c.is_ascii_digit()))
}

/// What the CV itself says about the length of the candidate's experience ("eleven years
/// of experience", "8+ years of nursing experience"), as written; `None` when it says
/// nothing (then nothing is said: a figure computed from dates could contradict the CV).
pub fn stated_experience(cv: &MasterCv) -> Option<String> {
    for line in cv.text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for i in 1..words.len() {
            let w = words[i].trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
            if w != "years" || !is_count(words[i - 1]) {
                continue;
            }
            // "N years", extended to "... of <words> experience" when it follows closely.
            let mut end = i;
            if words.get(i + 1).is_some_and(|w| w.eq_ignore_ascii_case("of")) {
                if let Some(k) = (i + 2..(i + 5).min(words.len())).find(|&k| {
                    words[k]
                        .trim_end_matches([',', '.', ';'])
                        .eq_ignore_ascii_case("experience")
                }) {
                    end = k;
                }
            }
            let phrase = words[i - 1..=end].join(" ");
            return Some(phrase.trim_end_matches([',', '.', ';', ':']).to_owned());
        }
    }
    None
}

/// Words that, directly before a posting's instruction, make a spliced sentence ("focus on
/// design and operate", "describe as collaborate with", "own build").
const SLOT_WORDS: &[&str] = &[
    "on", "as", "own", "about", "of", "for", "in", "with", "is", "are", "the",
];

/// The places in `prose` where an instruction from `items` (an item starting with an
/// action verb) follows a word that needs a noun: the pattern "focus on design and
/// operate …". Quoted or listed items (after `:` or `"`) are fine.
pub fn spliced_instructions<'a>(prose: &str, items: &'a [String]) -> Vec<&'a str> {
    let lower = prose.to_lowercase();
    items
        .iter()
        .filter(|item| starts_with_instruction(item))
        .filter(|item| {
            let needle = text::lower_first(&text::shorten(item, 40)).to_lowercase();
            let needle = needle.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            lower.match_indices(&needle).any(|(at, _)| {
                let before = lower[..at].trim_end();
                let prev = before.split_whitespace().last().unwrap_or("");
                SLOT_WORDS.contains(&prev)
            })
        })
        .map(String::as_str)
        .collect()
}

/// True when a posting item starts with an instruction verb ("Design", "Collaborate").
pub fn starts_with_instruction(item: &str) -> bool {
    super::pain_points::starts_with_action(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_items_are_quoted_only_when_they_are_the_postings_words() {
        let posting = "Responsibilities:\n- Design and operate the event pipeline. It must scale.";
        assert_eq!(
            quoted(posting, "Design and operate the event pipeline. It must scale.", 90).as_deref(),
            Some("\"Design and operate the event pipeline\"")
        );
        assert_eq!(quoted(posting, "Own the billing service", 90), None);
    }

    #[test]
    fn achievements_become_first_person_only_after_a_past_tense_verb() {
        assert_eq!(first_person("Led the redesign of X"), "I led the redesign of X");
        assert_eq!(first_person("Ran the on-call rotation."), "I ran the on-call rotation");
        assert_eq!(
            first_person("Responsible for 12 wards"),
            "my CV records: Responsible for 12 wards"
        );
    }

    #[test]
    fn experience_is_said_in_the_cvs_own_words() {
        let cv = |t: &str| MasterCv::parse(t).unwrap();
        assert_eq!(
            stated_experience(&cv(
                "# A\n## Summary\nBackend engineer with eleven years of experience building services.\n"
            )),
            Some("eleven years of experience".into())
        );
        assert_eq!(
            stated_experience(&cv("# A\n## Summary\nNurse, 8+ years of ICU experience.\n")),
            Some("8+ years of ICU experience".into())
        );
        assert_eq!(
            stated_experience(&cv("# A\n## Experience\n### X — Y (2010–2024)\n- Did things\n")),
            None
        );
    }

    #[test]
    fn spliced_instructions_are_found_and_quoted_ones_are_not() {
        let items = vec!["Design and operate the event pipeline".to_owned()];
        assert_eq!(
            spliced_instructions("I would focus on design and operate the event pipeline.", &items).len(),
            1
        );
        assert!(spliced_instructions(
            "One need comes first: \"Design and operate the event pipeline\".",
            &items
        )
        .is_empty());
        assert!(spliced_instructions("My plan: design and operate the event pipeline; then more.", &items).is_empty());
    }
}
