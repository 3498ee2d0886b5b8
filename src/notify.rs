//! Alert e-mail over SMTP (lettre): one multipart (plain + HTML) message per alert or
//! recovery. Sending happens in its own task with retries, so a slow or broken mail server
//! never blocks the health actor or the runs.

use std::time::Duration;

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
        let mut delay = Duration::from_secs(1);
        let mut last = String::new();
        for attempt in 1..=3 {
            match self.send(subject, text, html).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, subject, "alert e-mail not sent");
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
}

/// Minimal HTML escaping for the e-mail body.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
