//! A string that never prints itself, and the masking of credentials written into URLs.

use std::borrow::Cow;
use std::fmt;

/// A secret value (API key, bearer secret, connection string with a password). `Debug` and
/// `Display` print a mask, so a secret cannot reach a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A mask showing only that the value is set and its length class.
    pub fn masked(&self) -> String {
        format!("**** (set, {} chars)", self.0.chars().count())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Masks the password of every `scheme://user:password@host` in the text, so a URL with
/// credentials (a setting, an error quoting it) never shows them: `scheme://user:****@host`
/// (a user-info without a password, often a token, becomes `scheme://****@host`).
/// Linear: each `://` is looked at once and the user-info scan stops at the first character
/// a user-info cannot hold.
pub fn mask_url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let after = at + 3;
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        let userinfo_len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~%!$&'*+,;=:".contains(c)))
            .unwrap_or(tail.len());
        if tail[userinfo_len..].starts_with('@') {
            let userinfo = &tail[..userinfo_len];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":****@");
                }
                // A user-info without a colon is often a token (`https://KEY@host`).
                None => out.push_str("****@"),
            }
            rest = &tail[userinfo_len + 1..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_url_credentials("OPENAI_BASE_URL=http://user:pw@host:8080/v1 and https://plain.example/x"),
            "OPENAI_BASE_URL=http://user:****@host:8080/v1 and https://plain.example/x"
        );
        assert_eq!(
            mask_url_credentials("mongodb://app:s3cr%40t@db/jobs"),
            "mongodb://app:****@db/jobs"
        );
        assert_eq!(mask_url_credentials("smtp://token@mail"), "smtp://****@mail");
        assert_eq!(mask_url_credentials("no url here"), "no url here");
        assert_eq!(mask_url_credentials("a://b:c@"), "a://b:****@");
    }
}
