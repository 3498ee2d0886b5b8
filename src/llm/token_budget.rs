//! Keeping prompts inside a per-stage token budget: long inputs (postings, scraped pages,
//! the master CV) are cut at a sentence boundary before they are sent. Tokens are
//! estimated as one per four characters (a close, provider-neutral approximation for
//! English text); the caller logs when a cut happened.

/// Estimated tokens of a text.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// `text` cut to at most `max_tokens` (estimated) at the last sentence end (`.`, `!`, `?`
/// or a line break) that fits; falls back to a word boundary. Returns the text and whether
/// it was cut.
pub fn cut_to_tokens(text: &str, max_tokens: usize) -> (String, bool) {
    if estimate_tokens(text) <= max_tokens {
        return (text.to_owned(), false);
    }
    let max_chars = max_tokens * 4;
    let head: String = text.chars().take(max_chars).collect();
    let sentence_end = head
        .char_indices()
        .rev()
        .find(|(i, c)| {
            matches!(c, '.' | '!' | '?' | '\n')
                && head[i + c.len_utf8()..].chars().next().is_none_or(char::is_whitespace)
        })
        .map(|(i, c)| i + c.len_utf8());
    let cut = match sentence_end {
        // A sentence end in the last third would waste too much: use a word boundary.
        Some(end) if end >= head.len() / 3 => head[..end].to_owned(),
        _ => match head.rfind(char::is_whitespace) {
            Some(i) => head[..i].to_owned(),
            None => head,
        },
    };
    (cut.trim_end().to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_are_left_alone() {
        assert_eq!(cut_to_tokens("One. Two.", 100), ("One. Two.".to_owned(), false));
    }

    #[test]
    fn long_texts_are_cut_at_a_sentence_end_within_the_budget() {
        let text = "First sentence here. Second sentence is here! Third one? ".repeat(20);
        let (cut, was_cut) = cut_to_tokens(&text, 30);
        assert!(was_cut);
        assert!(estimate_tokens(&cut) <= 30, "{cut}");
        assert!(
            cut.ends_with('.') || cut.ends_with('!') || cut.ends_with('?'),
            "{cut:?}"
        );
        assert!(text.starts_with(&cut));
    }

    #[test]
    fn text_without_sentences_is_cut_at_a_word() {
        let text = "word ".repeat(100);
        let (cut, was_cut) = cut_to_tokens(&text, 10);
        assert!(was_cut && cut.ends_with("word") && estimate_tokens(&cut) <= 10);
    }
}
