//! Postings arrive as job boards publish them, often as HTML (`<p>`, `<ul><li>`, `&amp;`).
//! The pipeline reads them as plain text: block tags become line breaks, list items become
//! `- ` bullets, other tags are dropped and entities decoded, so section headings and
//! bullets are found and nothing quoted from a posting carries markup.

use std::borrow::Cow;

/// `raw` as plain text; borrowed unchanged when it holds no markup.
pub fn plain_text(raw: &str) -> Cow<'_, str> {
    let has_tags = raw.contains('<') && raw.contains('>');
    let has_entities = raw.contains('&') && raw.contains(';');
    if !has_tags && !has_entities {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + len];
        if !inner.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            // Not a tag ("a < b > c"): keep the text.
            out.push('<');
            rest = &rest[start + 1..];
            continue;
        }
        let tag = inner.trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        match name.as_str() {
            "li" if !tag.starts_with('/') => out.push_str("\n- "),
            "br" | "p" | "div" | "ul" | "ol" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "section" => {
                out.push('\n')
            }
            _ => {}
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Cow::Owned(decode_entities(&out))
}

fn decode_entities(text: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("nbsp", " "),
        ("pound", "£"),
        ("euro", "€"),
        ("ndash", "–"),
        ("mdash", "—"),
        ("rsquo", "’"),
        ("lsquo", "‘"),
        ("ldquo", "“"),
        ("rdquo", "”"),
        ("hellip", "…"),
        ("bull", "•"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let decoded = after.find(';').filter(|&end| end <= 8).and_then(|end| {
            let name = &after[..end];
            let ch = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32).map(String::from)
            } else {
                NAMED.iter().find(|(n, _)| *n == name).map(|(_, c)| (*c).to_owned())
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push_str(&c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_postings_become_headed_bullets() {
        let html = "<p><b>Responsibilities:</b></p><ul><li>Drive between Leeds &amp; Birmingham</li><li>Check vehicles</li></ul><p>Pay: &pound;16.50 &#8211; nights</p>";
        let plain = plain_text(html);
        assert!(plain.contains("\nResponsibilities:\n"), "{plain:?}");
        assert!(plain.contains("\n- Drive between Leeds & Birmingham"), "{plain:?}");
        assert!(plain.contains("\n- Check vehicles"), "{plain:?}");
        assert!(plain.contains("Pay: £16.50 – nights"), "{plain:?}");
        assert!(!plain.contains('<'));
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(plain_text("Fish & chips; 3 < 4"), "Fish & chips; 3 < 4");
        assert_eq!(plain_text("R&D; a < b > c"), "R&D; a < b > c");
        assert!(matches!(plain_text("No markup here."), Cow::Borrowed(_)));
    }
}
