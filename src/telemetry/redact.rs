//! Masking of log text: configured secrets are replaced by `****`; e-mail addresses by
//! `[email]`; phone numbers (9+ digits written with spaces, dashes, dots or parentheses,
//! standing on their own) by `[phone]`.

use crate::config::Settings;

/// What to hide in log lines.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Every secret the settings hold (and the password inside a connection string).
    pub fn from_settings(s: &Settings) -> Self {
        let mut secrets: Vec<String> = [
            &s.runner_api_secret,
            &s.mongodb_uri,
            &s.openai_api_key,
            &s.anthropic_api_key,
            &s.openrouter_api_key,
            &s.firecrawl_api_key,
            &s.alerts.smtp_url,
            &s.alerts.smtp_password,
        ]
        .into_iter()
        .flatten()
        .map(|x| x.expose().to_owned())
        .collect();
        for uri in [&s.mongodb_uri, &s.alerts.smtp_url].into_iter().flatten() {
            if let Some(password) = url_password(uri.expose()) {
                secrets.push(password);
            }
        }
        secrets.retain(|x| x.len() >= 4);
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|x| std::cmp::Reverse(x.len()));
        Self { secrets }
    }

    /// The line with secrets, e-mail addresses and phone numbers masked.
    pub fn redact(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "****");
            }
        }
        mask_phones(&mask_emails(&out))
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

fn mask_phones(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if boundary && (c.is_ascii_digit() || c == '+' || c == '(') {
            let mut end = i;
            let mut digits = 0;
            while end < chars.len()
                && (chars[end].is_ascii_digit() || matches!(chars[end], ' ' | '-' | '.' | '(' | ')' | '+'))
            {
                if chars[end].is_ascii_digit() {
                    digits += 1;
                }
                end += 1;
            }
            // Trailing separators are not part of the number.
            while end > i && !chars[end - 1].is_ascii_digit() && chars[end - 1] != ')' {
                end -= 1;
            }
            let after_ok = end >= chars.len() || !(chars[end].is_alphanumeric() || chars[end] == '_');
            if digits >= 9 && after_ok {
                out.push_str("[phone]");
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
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
}
