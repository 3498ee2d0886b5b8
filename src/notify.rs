//! Where alerts go: e-mail over SMTP (lettre; one multipart plain + HTML message per
//! alert or recovery) and an optional webhook ([`webhook`]). Each channel sends in its own
//! task with retries, so a slow or broken receiver never blocks the health actor or the
//! runs; the alert policy decides once, every channel gets the same notice.

pub mod completion;
pub mod delivery;
pub mod n8n;
pub mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{AlertSettings, SmtpTls};

/// A configured SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Mailer {
    /// The mailer the settings describe; `Ok(None)` when no recipient is configured.
    pub fn from_settings(a: &AlertSettings) -> Result<Option<Mailer>, String> {
        if a.to.is_empty() {
            return Ok(None);
        }
        let builder = match (&a.smtp_url, &a.smtp_host) {
            (Some(url), _) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .map_err(|e| format!("SMTP_URL is not usable: {e}"))?,
            (None, Some(host)) => {
                let b = match a.smtp_tls {
                    SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
                    SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
                }
                .map_err(|e| format!("SMTP_HOST {host}: {e}"))?;
                let b = b.port(a.smtp_port);
                match (&a.smtp_user, &a.smtp_password) {
                    (Some(u), Some(p)) => b.credentials(Credentials::new(u.clone(), p.expose().to_owned())),
                    _ => b,
                }
            }
            (None, None) => return Err("ALERT_TO is set but neither SMTP_URL nor SMTP_HOST is".into()),
        };
        let from = a
            .from
            .clone()
            .unwrap_or_else(|| "job-runner <job-runner@localhost>".into());
        let from: Mailbox = from.parse().map_err(|e| format!("ALERT_FROM {from:?}: {e}"))?;
        let to =
            a.to.iter()
                .map(|t| t.parse::<Mailbox>().map_err(|e| format!("ALERT_TO {t:?}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Mailer {
            transport: builder.timeout(Some(Duration::from_secs(10))).build(),
            from,
            to,
        }))
    }

    /// Sends one message (no retry).
    pub async fn send(&self, subject: &str, text: &str, html: &str) -> Result<(), String> {
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(text.to_owned(), html.to_owned()))
            .map_err(|e| format!("could not build the e-mail: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP send failed: {e}"))
    }

    /// Sends with up to three attempts (1 s, then 2 s backoff), logging each failure.
    pub async fn send_with_retry(&self, subject: &str, text: &str, html: &str) -> Result<(), String> {
        with_retry("alert e-mail", || self.send(subject, text, html)).await
    }
}

/// Runs `send` up to three times (1 s, then 2 s apart), logging each failure.
async fn with_retry<F, Fut>(what: &str, mut send: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut delay = Duration::from_secs(1);
    let mut last = String::new();
    for attempt in 1..=3 {
        match send().await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "{what} not sent");
                last = e;
                if attempt < 3 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
    Err(last)
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Alert,
    Recovery,
    /// `job-runner alert-test`.
    Test,
}

impl NoticeKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Alert => "alert",
            NoticeKind::Recovery => "recovery",
            NoticeKind::Test => "test",
        }
    }
}

/// One alert, recovery or test, as every channel renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The health check it is about.
    pub check: String,
    pub host: String,
    pub subject: String,
    /// What is wrong and since when, in plain words (the message's first line).
    pub headline: String,
    /// What to do, naming the runbook section.
    pub advice: String,
    /// The command to look closer.
    pub command: String,
    /// The raw error, shortened (last in every message).
    pub details: String,
    pub since: Option<DateTime<Utc>>,
    pub value: serde_json::Value,
    pub threshold: serde_json::Value,
    /// The e-mail's plain text and HTML.
    pub text: String,
    pub html: String,
}

/// Every configured channel.
#[derive(Default)]
pub struct Notifier {
    pub mailer: Option<Mailer>,
    pub webhook: Option<webhook::Webhook>,
}

impl Notifier {
    /// The channels the settings configure (none: alerts are only logged and recorded).
    pub fn from_settings(a: &AlertSettings) -> Result<Self, String> {
        Ok(Self {
            mailer: Mailer::from_settings(a)?,
            webhook: a
                .webhook_url
                .clone()
                .map(|u| webhook::Webhook::new(u, a.webhook_format))
                .transpose()?,
        })
    }

    /// True when no channel is configured.
    pub fn is_empty(&self) -> bool {
        self.mailer.is_none() && self.webhook.is_none()
    }

    /// Sends `n` on every channel (each with retries, concurrently); the result per
    /// channel, by name (`email`, `webhook (json)`).
    pub async fn send_all(&self, n: &Notice) -> Vec<(String, Result<(), String>)> {
        let mail = async {
            match &self.mailer {
                Some(m) => Some((
                    "email".to_owned(),
                    m.send_with_retry(&n.subject, &n.text, &n.html).await,
                )),
                None => None,
            }
        };
        let hook = async {
            match &self.webhook {
                Some(w) => Some((format!("webhook ({})", w.format_name()), w.send_with_retry(n).await)),
                None => None,
            }
        };
        let (m, h) = tokio::join!(mail, hook);
        m.into_iter().chain(h).collect()
    }
}

/// Minimal HTML escaping for the e-mail body.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
