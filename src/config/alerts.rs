//! The `alerts` section: how often the health checks run, their thresholds, and where
//! alert e-mails go (an SMTP URL, or host, port, user, password and TLS mode).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{masked, non_blank, secret, shown, Problems};
use super::Secret;

/// How SMTP connections are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption (local relays and tests only).
    None,
}

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::int")]
    pub health_check_interval_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_error_rate_percent: i64,
    #[serde(deserialize_with = "lenient::float")]
    pub alert_cost_per_run_usd: f64,
    #[serde(deserialize_with = "lenient::int")]
    pub cost_window_runs: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_cpu_percent: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_cpu_rounds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_memory_percent: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_disk_free_percent: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub alert_cooldown_minutes: i64,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub smtp_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub smtp_host: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub smtp_port: i64,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub smtp_user: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub smtp_password: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub smtp_tls: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub alert_from: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub alert_to: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub alert_webhook_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub alert_webhook_format: String,
}

/// The body an alert webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Our JSON object (check, kind, headline, advice, details, ...).
    Json,
    /// `{"text": ...}`: Slack incoming webhooks and Slack-compatible ones (Discord's
    /// `/slack` endpoint, Mattermost, Rocket.Chat).
    Slack,
    /// ntfy: the message as the body, title and priority as headers.
    Ntfy,
}

/// Health thresholds and where alert e-mails go.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Pause between health-check rounds (re-armed after each round).
    pub health_check_interval: Duration,
    /// Share of failed runs in the last hour above which the error-rate check fails.
    pub error_rate_percent: u32,
    /// Average LLM cost per run (USD) above which the cost check fails.
    pub cost_per_run_usd: f64,
    /// How many recent completed runs the cost average covers.
    pub cost_window_runs: usize,
    /// CPU use above which a round counts as busy.
    pub cpu_percent: u32,
    /// Consecutive busy rounds before the CPU check fails.
    pub cpu_rounds: u32,
    /// Memory use above which the memory check fails.
    pub memory_percent: u32,
    /// Free space on the artifacts' file system below which the disk check fails.
    pub disk_free_percent: u32,
    /// Minimum time between two alerts for the same check.
    pub cooldown: Duration,
    /// SMTP URL (`smtp://`, `smtps://`, with user and password) — wins over the parts below.
    pub smtp_url: Option<Secret>,
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_user: Option<String>,
    pub smtp_password: Option<Secret>,
    pub smtp_tls: SmtpTls,
    /// Sender address.
    pub from: Option<String>,
    /// Recipients; empty = alerts only logged.
    pub to: Vec<String>,
    /// `ALERT_WEBHOOK_URL`: alerts and recoveries also go here (a secret: hooks carry
    /// their token in the URL).
    pub webhook_url: Option<Secret>,
    /// `ALERT_WEBHOOK_FORMAT`.
    pub webhook_format: WebhookFormat,
}

impl AlertSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        let smtp_tls = match raw.smtp_tls.trim().to_ascii_lowercase().as_str() {
            "starttls" | "" => SmtpTls::StartTls,
            "tls" | "ssl" | "smtps" => SmtpTls::Tls,
            "none" | "off" | "plain" => SmtpTls::None,
            other => {
                p.push(format!("SMTP_TLS must be starttls, tls or none, got {other:?}"));
                SmtpTls::StartTls
            }
        };
        let to: Vec<String> = raw
            .alert_to
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let from = non_blank(raw.alert_from);
        for addr in to.iter().chain(from.iter()) {
            if addr.parse::<lettre::Address>().is_err() && addr.parse::<lettre::message::Mailbox>().is_err() {
                p.push(format!("ALERT_TO/ALERT_FROM: {addr:?} is not an e-mail address"));
            }
        }
        let cost_per_run_usd = p.non_negative("ALERT_COST_PER_RUN_USD", raw.alert_cost_per_run_usd, "");
        let webhook_format = match raw.alert_webhook_format.trim().to_ascii_lowercase().as_str() {
            "json" | "" => WebhookFormat::Json,
            "slack" | "discord" => WebhookFormat::Slack,
            "ntfy" => WebhookFormat::Ntfy,
            other => {
                p.push(format!(
                    "ALERT_WEBHOOK_FORMAT must be json, slack or ntfy, got {other:?}"
                ));
                WebhookFormat::Json
            }
        };
        let webhook_url = non_blank(raw.alert_webhook_url).map(|u| {
            let checked = p.http_url("ALERT_WEBHOOK_URL", &u);
            // Keep the URL exactly as given (a trailing slash can matter to a hook).
            if checked.is_empty() {
                checked
            } else {
                u.trim().to_owned()
            }
        });
        Self {
            health_check_interval: Duration::from_secs(p.ranged(
                "HEALTH_CHECK_INTERVAL_SECONDS",
                raw.health_check_interval_seconds,
                1,
                3600,
            ) as u64),
            error_rate_percent: p.ranged("ALERT_ERROR_RATE_PERCENT", raw.alert_error_rate_percent, 1, 100) as u32,
            cost_per_run_usd,
            cost_window_runs: p.ranged("COST_WINDOW_RUNS", raw.cost_window_runs, 1, 1000) as usize,
            cpu_percent: p.ranged("ALERT_CPU_PERCENT", raw.alert_cpu_percent, 1, 100) as u32,
            cpu_rounds: p.ranged("ALERT_CPU_ROUNDS", raw.alert_cpu_rounds, 1, 100) as u32,
            memory_percent: p.ranged("ALERT_MEMORY_PERCENT", raw.alert_memory_percent, 1, 100) as u32,
            disk_free_percent: p.ranged("ALERT_DISK_FREE_PERCENT", raw.alert_disk_free_percent, 0, 100) as u32,
            cooldown: Duration::from_secs(
                p.ranged("ALERT_COOLDOWN_MINUTES", raw.alert_cooldown_minutes, 0, 10_080) as u64 * 60,
            ),
            smtp_url: secret(raw.smtp_url),
            smtp_host: non_blank(raw.smtp_host),
            smtp_port: p.ranged("SMTP_PORT", raw.smtp_port, 1, 65_535) as u16,
            smtp_user: non_blank(raw.smtp_user),
            smtp_password: secret(raw.smtp_password),
            smtp_tls,
            from,
            to,
            webhook_url: webhook_url.map(Secret::new),
            webhook_format,
        }
    }

    /// The section as `NAME = value` rows, secrets masked.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "HEALTH_CHECK_INTERVAL_SECONDS",
                self.health_check_interval.as_secs().to_string(),
            ),
            ("ALERT_ERROR_RATE_PERCENT", self.error_rate_percent.to_string()),
            ("ALERT_COST_PER_RUN_USD", self.cost_per_run_usd.to_string()),
            ("COST_WINDOW_RUNS", self.cost_window_runs.to_string()),
            ("ALERT_CPU_PERCENT", self.cpu_percent.to_string()),
            ("ALERT_CPU_ROUNDS", self.cpu_rounds.to_string()),
            ("ALERT_MEMORY_PERCENT", self.memory_percent.to_string()),
            ("ALERT_DISK_FREE_PERCENT", self.disk_free_percent.to_string()),
            ("ALERT_COOLDOWN_MINUTES", (self.cooldown.as_secs() / 60).to_string()),
            ("SMTP_URL", masked(&self.smtp_url)),
            ("SMTP_HOST", shown(&self.smtp_host)),
            ("SMTP_PORT", self.smtp_port.to_string()),
            ("SMTP_USER", shown(&self.smtp_user)),
            ("SMTP_PASSWORD", masked(&self.smtp_password)),
            ("SMTP_TLS", format!("{:?}", self.smtp_tls).to_lowercase()),
            ("ALERT_FROM", shown(&self.from)),
            ("ALERT_TO", self.to.join(",")),
            ("ALERT_WEBHOOK_URL", masked(&self.webhook_url)),
            (
                "ALERT_WEBHOOK_FORMAT",
                format!("{:?}", self.webhook_format).to_lowercase(),
            ),
        ]
    }
}
