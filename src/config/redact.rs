//! Masking of log text: configured secrets are replaced by `****`; e-mail addresses by
//! `[email]`; phone numbers (9+ digits written with spaces, dashes, dots or parentheses,
//! standing on their own) by `[phone]`; the password in any `scheme://user:password@` and
//! the token after `Bearer ` by `****`. Every pass is linear in the length of the line, so
//! no input (a path, a request body, a job document) can make logging slow.

use std::borrow::Cow;

use super::{mask_url_credentials, Settings};

/// What to hide in log lines.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Every secret the settings hold, and the password inside every URL setting
    /// (connection strings, SMTP, provider base URLs).
    pub fn from_settings(s: &Settings) -> Self {
        let mut secrets: Vec<String> = [
            &s.server.runner_api_secret,
            &s.server.jwt_secret,
            &s.store.mongodb_uri,
            &s.llm.openai_api_key,
            &s.llm.anthropic_api_key,
            &s.llm.openrouter_api_key,
            &s.firecrawl.api_key,
            &s.alerts.smtp_url,
            &s.alerts.smtp_password,
            &s.alerts.webhook_url,
            &s.publishing.webhook_url,
            &s.publishing.webhook_secret,
            &s.publishing.n8n_webhook_cv_upload,
        ]
        .into_iter()
        .flatten()
        .map(|x| x.expose().to_owned())
        .collect();
        let urls = [&s.store.mongodb_uri, &s.alerts.smtp_url]
            .into_iter()
            .flatten()
            .map(|x| x.expose())
            .chain(s.url_settings().into_iter().map(|(_, url)| url));
        secrets.extend(urls.filter_map(url_password));
        Self::with_secrets(secrets)
    }

    /// A redactor for exactly these secrets (tests, and tools without settings). Secrets
    /// shorter than 4 characters are ignored (they would mask ordinary words).
    pub fn with_secrets(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|x| x.len() >= 4).collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|x| std::cmp::Reverse(x.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The line with secrets, credentials in URLs, bearer tokens, e-mail addresses and
    /// phone numbers masked (the daemon's own log output).
    pub fn redact(&self, line: &str) -> String {
        mask_phones(&mask_emails(&self.redact_secrets(line)))
    }

    /// The line with configured secrets, credentials in URLs and bearer tokens masked, and
    /// nothing else changed (run-log lines and stored errors, which the job seeker reads:
    /// contact addresses stay readable there).
    pub fn redact_secrets(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "****");
            }
        }
        mask_bearer_tokens(&mask_url_credentials(&out)).into_owned()
    }
}

fn url_password(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_owned())
}

fn is_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut emitted = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut start = i;
            while start > 0 && is_local(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && is_domain(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            let domain = domain.trim_end_matches(['.', '-']);
            if start < i && start >= emitted && domain.contains('.') && !domain.starts_with('.') {
                out.extend(&chars[emitted..start]);
                out.push_str("[email]");
                emitted = i + 1 + domain.chars().count();
                i = emitted;
                continue;
            }
        }
        i += 1;
    }
    out.extend(&chars[emitted.min(chars.len())..]);
    out
}

/// Masks phone numbers in one pass. A candidate starts at a digit, `+` or `(` that follows
/// no word character and runs over digits and separators; when it is not a number (too few
/// digits, or a word character right after it), no later start inside the same run can be
/// one either (fewer digits, the same end), so the whole run is copied and the scan goes on
/// after it. Every character is looked at a bounded number of times: linear time, also on
/// runs of `(((((` or spaces that took quadratic time before.
fn mask_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let is_part = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '+');
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if boundary && (c.is_ascii_digit() || c == '+' || c == '(') {
            let mut run_end = i;
            let mut digits = 0;
            while run_end < chars.len() && is_part(chars[run_end]) {
                if chars[run_end].is_ascii_digit() {
                    digits += 1;
                }
                run_end += 1;
            }
            // Trailing separators are not part of the number.
            let mut end = run_end;
            while end > i && !chars[end - 1].is_ascii_digit() && chars[end - 1] != ')' {
                end -= 1;
            }
            let after_ok = end >= chars.len() || !(chars[end].is_alphanumeric() || chars[end] == '_');
            if digits >= 9 && after_ok {
                out.push_str("[phone]");
                i = end;
            } else {
                out.extend(&chars[i..run_end]);
                i = run_end;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Masks the token after `Bearer ` (any case), so an `Authorization` header echoed by a
/// provider's error body never shows a key, configured or not.
fn mask_bearer_tokens(text: &str) -> Cow<'_, str> {
    const WORD: &str = "bearer ";
    let lower = text.to_ascii_lowercase();
    if !lower.contains(WORD) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(WORD) {
        let token_start = pos + found + WORD.len();
        out.push_str(&text[pos..token_start]);
        let token_len = text[token_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ']'))
            .unwrap_or(text.len() - token_start);
        if token_len > 0 {
            out.push_str("****");
        }
        pos = token_start + token_len;
    }
    out.push_str(&text[pos..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        Redactor {
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn secrets_emails_and_phones_are_masked() {
        let r = redactor(&["sk-live-123456"]);
        let line =
            r.redact("key sk-live-123456 for jane.doe+jobs@example.co.uk, call +1 (555) 123-4567 or 030 1234 5678.");
        assert_eq!(line, "key **** for [email], call [phone] or [phone].");
    }

    #[test]
    fn ids_times_and_small_numbers_are_left_alone() {
        let r = redactor(&[]);
        for keep in [
            "run 5dd31d93a5df4240899554e9e81515d0 job 65a1b2c3d4e5f60718293a4b",
            "2026-11-22T04:02:04.948948Z stage cv completed in 1200 ms",
            "throughput 4,000 to 30,000 events; seq 1005",
            "user@localhost is not an address with a domain",
        ] {
            assert_eq!(r.redact(keep), keep);
        }
    }

    #[test]
    fn passwords_inside_connection_strings_are_secrets() {
        assert_eq!(
            url_password("mongodb://app:hunter22@db:27017/jobs").as_deref(),
            Some("hunter22")
        );
        assert_eq!(url_password("mongodb://db:27017"), None);
    }

    #[test]
    fn bearer_tokens_and_url_credentials_are_masked() {
        let r = redactor(&[]);
        assert_eq!(
            r.redact_secrets("echo: Authorization: Bearer sk-abc123, \"bearer tok\"; url https://u:p4ss@h/x"),
            "echo: Authorization: Bearer ****, \"bearer ****\"; url https://u:****@h/x"
        );
        // Run-log redaction keeps contact details readable.
        assert_eq!(r.redact_secrets("mail jane@example.com"), "mail jane@example.com");
        assert_eq!(r.redact("mail jane@example.com"), "mail [email]");
    }

    /// The median time of three redactions of `text`.
    fn redact_time(r: &Redactor, text: &str) -> std::time::Duration {
        let mut times: Vec<_> = (0..3)
            .map(|_| {
                let t = std::time::Instant::now();
                std::hint::black_box(r.redact(text));
                t.elapsed()
            })
            .collect();
        times.sort();
        times[1]
    }

    #[test]
    fn redaction_is_linear_on_runs_of_separators() {
        // Quadratic before: 65,000 `(` took seconds. Compared with a benign text of the same
        // length, within a small factor (plus an allowance for noise on tiny durations).
        let r = redactor(&["sk-live-123456"]);
        let n = 200_000;
        let benign = redact_time(&r, &"a".repeat(n));
        for attack in ["(", "+", "-", ".", " ", "(1", "1 ", "@a.", "a@", "://", "Bearer "] {
            let text = attack.repeat(n / attack.len());
            let took = redact_time(&r, &text);
            assert!(
                took <= benign * 5 + std::time::Duration::from_millis(30),
                "{attack:?} × {n}: {took:?} against {benign:?} for plain text"
            );
        }
        // Still finds what it should in such runs.
        assert_eq!(r.redact("see ((((+1 (555) 123-4567"), "see [phone]");
    }
}
