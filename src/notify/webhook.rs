//! Alert webhooks (`ALERT_WEBHOOK_URL`): the same alerts and recoveries as the e-mail, as
//! our JSON object, a Slack-compatible `{"text": ...}` (Slack, Discord's `/slack` endpoint,
//! Mattermost) or an ntfy message (body plus `Title`/`Priority`/`Tags` headers). Sent in
//! the caller's task with retries; the URL is a secret and never logged.

use std::time::Duration;

use serde_json::json;

use super::Notice;
use crate::config::{Secret, WebhookFormat};

/// A configured webhook.
pub struct Webhook {
    url: Secret,
    format: WebhookFormat,
    http: reqwest::Client,
}

impl Webhook {
    /// A webhook posting to `url` in `format`.
    pub fn new(url: Secret, format: WebhookFormat) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        Ok(Self { url, format, http })
    }

    /// The format's name, for logs and `alert-test`.
    pub fn format_name(&self) -> &'static str {
        match self.format {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Ntfy => "ntfy",
        }
    }

    fn request(&self, n: &Notice) -> reqwest::RequestBuilder {
        let post = self.http.post(self.url.expose());
        match self.format {
            WebhookFormat::Json => post.json(&json!({
                "kind": n.kind.as_str(),
                "check": n.check,
                "host": n.host,
                "subject": n.subject,
                "headline": n.headline,
                "advice": n.advice,
                "command": n.command,
                "details": n.details,
                "since": n.since,
                "value": n.value,
                "threshold": n.threshold,
                "text": n.text,
            })),
            WebhookFormat::Slack => post.json(&json!({
                "text": format!("*{}*\n{}\n{}\n`{}`", n.subject, n.headline, n.advice, n.command),
            })),
            WebhookFormat::Ntfy => {
                let (priority, tags) = match n.kind {
                    super::NoticeKind::Alert => ("high", "warning"),
                    super::NoticeKind::Recovery => ("default", "white_check_mark"),
                    super::NoticeKind::Test => ("low", "test_tube"),
                };
                post.header("Title", header_safe(&n.subject))
                    .header("Priority", priority)
                    .header("Tags", tags)
                    .header("Content-Type", "text/plain; charset=utf-8")
                    .body(format!("{}\n{}\n{}", n.headline, n.advice, n.command))
            }
        }
    }

    /// Posts once; any 2xx answer is success.
    pub async fn send(&self, n: &Notice) -> Result<(), String> {
        let res = self
            .request(n)
            .send()
            .await
            .map_err(|e| format!("webhook not reachable: {}", e.without_url()))?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered HTTP {}", status.as_u16()))
        }
    }

    /// Posts with up to three attempts (1 s, then 2 s backoff), logging each failure.
    pub async fn send_with_retry(&self, n: &Notice) -> Result<(), String> {
        super::with_retry("alert webhook", || self.send(n)).await
    }
}

/// HTTP header values are one line of visible ASCII; anything else becomes `?`.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}
