//! Text that came from outside (request fields, paths, job documents, provider answers)
//! made safe to show: in one log line, in an error message, in a run-log line.
//!
//! Three dangers are handled here, in linear time, so no caller has to think about them:
//! a value that is huge (a 200 KB company name must not become a 200 KB log line or make a
//! later pass slow), a value with line breaks (a `\r` or `\n` would let it forge a log line
//! or an SSE field), and other control characters (terminal escapes, NULs).

use std::borrow::Cow;
use std::fmt;

/// How many characters of an outside value an error message or log field shows.
pub const SHOWN_CHARS: usize = 120;
/// How many characters one run-log message keeps before it is split into lines.
pub const RUN_LOG_MESSAGE_CHARS: usize = 16_000;
/// How many characters one run-log line keeps.
pub const RUN_LOG_LINE_CHARS: usize = 4_000;

/// True for characters that break a line in some reader: `\n`, `\r`, NEL, LS and PS, and
/// vertical tab and form feed (which terminals treat as line moves).
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// `text` cut to at most `max_chars` characters; a cut is marked with how much was left
/// out, so a reader knows the value was longer.
pub fn clip(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => {
            let rest = text.len() - cut;
            Cow::Owned(format!("{}… ({rest} more bytes)", &text[..cut]))
        }
    }
}

/// Every control character written as an escape (`\n`, `\r`, `\t`, `\u{1b}`), so the
/// value stays on one line and sends nothing to a terminal.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_line_break(c)
}

/// An outside value for one line of a log or an error message: clipped to
/// [`SHOWN_CHARS`], control characters escaped.
pub fn one_line(text: &str) -> String {
    clip_to_line(text, SHOWN_CHARS)
}

/// `text` clipped to `max_chars` with its control characters escaped: one bounded line.
pub fn clip_to_line(text: &str, max_chars: usize) -> String {
    escape_controls(&clip(text, max_chars)).into_owned()
}

/// [`one_line`] as a `Display` value, for `tracing` fields (`job_id = %Shown(&raw)`).
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&one_line(self.0))
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", one_line(self.0))
    }
}

/// A run-log message as the lines it is published as: the message is clipped to
/// [`RUN_LOG_MESSAGE_CHARS`], split at every line break (`\n`, `\r`, `\r\n`, NEL, LS, PS),
/// each line's trailing space dropped, empty lines skipped, tabs made spaces, any other
/// control character escaped, and each line clipped to [`RUN_LOG_LINE_CHARS`]. No line
/// returned contains a control character, so none can start a new SSE field.
pub fn run_log_lines(message: &str) -> Vec<String> {
    let message = clip(message, RUN_LOG_MESSAGE_CHARS);
    message
        .split(is_line_break)
        .map(|line| line.replace('\t', " "))
        .map(|line| line.trim_end().to_owned())
        .filter(|line| !line.is_empty())
        .map(|line| escape_controls(&clip(&line, RUN_LOG_LINE_CHARS)).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_marks_what_it_left_out_and_keeps_short_text() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 3), "abc… (3 more bytes)");
        // Multi-byte characters are never split.
        assert_eq!(clip("ééé", 2), "éé… (2 more bytes)");
    }

    #[test]
    fn escapes_keep_a_value_on_one_line() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb\rc\td\u{1b}[31m"), "a\\nb\\rc\\td\\u{1b}[31m");
        assert_eq!(escape_controls("x\u{2028}y"), "x\\u{2028}y");
        let shown = one_line(&format!("{}\n", "x".repeat(500)));
        assert!(!shown.contains('\n'));
        assert!(shown.chars().count() < SHOWN_CHARS + 40);
        assert_eq!(Shown("a\nb").to_string(), "a\\nb");
    }

    #[test]
    fn run_log_lines_split_on_every_line_break() {
        let forged = "Northwind\r\rid: 999999\revent: end\rdata: completed";
        assert_eq!(
            run_log_lines(forged),
            vec!["Northwind", "id: 999999", "event: end", "data: completed"]
        );
        assert_eq!(run_log_lines("a\r\nb\u{2028}c\u{85}d\n\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(run_log_lines("tab\there\u{0}nul"), vec!["tab here\\u{0}nul"]);
        for line in run_log_lines("x\u{b}y\u{c}z\u{7}") {
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
    }

    #[test]
    fn run_log_lines_are_bounded() {
        let lines = run_log_lines(&"(".repeat(200_000));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].len() < RUN_LOG_LINE_CHARS + 40);
        let many = "x\n".repeat(100_000);
        assert!(run_log_lines(&many).len() <= RUN_LOG_MESSAGE_CHARS / 2 + 1);
    }
}
