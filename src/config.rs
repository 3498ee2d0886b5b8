//! Settings: compiled-in defaults → `config/default.toml` → `config/<ENVIRONMENT>.toml` →
//! `.env` → process environment. The variable names are the old Python runner's, so its
//! `.env` starts job-runner unchanged; unknown variables are ignored.
//!
//! Loading happens in two steps. [`RawSettings`] is whatever the layers say, deserialised
//! leniently (an old `.env` writes `USE_ANTHROPIC=1` or `PORT="8000"`); [`Settings`] is the
//! validated form the daemon runs with, produced only by [`Settings::from_raw`], which
//! reports every problem at once with the variable name and the allowed range.

mod lenient;
pub mod pricing;
pub mod redact;
mod schema_mode;
mod secret;

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use redact::Redactor;
pub use schema_mode::SchemaMode;
pub use secret::{mask_url_credentials, Secret};

use crate::domain::StageName;

/// Deployment environment; anything but `development` requires a strong API secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local use: auth may be off, pretty logs.
    Development,
    /// Pre-production.
    Staging,
    /// Production.
    Production,
}

impl Environment {
    /// Name used in `ENVIRONMENT` and for `config/<name>.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" | "local" => Ok(Environment::Development),
            "staging" => Ok(Environment::Staging),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(format!(
                "ENVIRONMENT must be development, staging or production, got {other:?}"
            )),
        }
    }
}

/// Log line format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Simple,
}

/// Deliberate stage failures for tests (never loaded from files or the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageFault {
    /// The stage panics.
    Panic,
    /// The stage fails with a transient error this many times, then succeeds.
    TransientFailures(u32),
    /// The stage never finishes (until the run is stopped).
    Hang,
}

/// Where a [`StageFault`] applies: a stage, optionally only for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub stage: StageName,
    pub job: Option<crate::domain::JobId>,
    pub fault: StageFault,
}

/// The layered, leniently parsed configuration before validation. Field names are the
/// lower-case forms of the environment variable names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSettings {
    #[serde(deserialize_with = "lenient::string")]
    pub environment: String,
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    #[serde(deserialize_with = "lenient::int")]
    pub port: i64,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub runner_api_secret: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub cors_origins: String,
    #[serde(deserialize_with = "lenient::int")]
    pub max_concurrency: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_queue: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub log_buffer_limit: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub pipeline_timeout_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub shutdown_grace_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_run_attempts: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub stage_max_retries: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_body_bytes: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub offline_stage_delay_ms: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub sse_keep_alive_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_sse_streams: i64,
    #[serde(deserialize_with = "lenient::boolean")]
    pub allow_no_auth: bool,
    #[serde(deserialize_with = "lenient::string")]
    pub data_dir: String,
    #[serde(deserialize_with = "lenient::string")]
    pub applications_dir: String,
    #[serde(deserialize_with = "lenient::string")]
    pub master_cv_path: String,
    #[serde(deserialize_with = "lenient::string")]
    pub profiles_dir: String,
    #[serde(deserialize_with = "lenient::string")]
    pub log_level: String,
    #[serde(deserialize_with = "lenient::string")]
    pub log_format: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub log_dir: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub log_keep_files: i64,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub mongodb_uri: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_db: String,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_jobs_collection: String,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_collection_prefix: String,
    #[serde(deserialize_with = "lenient::int")]
    pub mongodb_server_selection_timeout_ms: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub run_lease_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub global_max_concurrency: i64,
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
    #[serde(deserialize_with = "lenient::opt_string")]
    pub smtp_url: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub smtp_host: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub smtp_port: i64,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub smtp_user: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub smtp_password: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub smtp_tls: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub alert_from: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub alert_to: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub openai_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub anthropic_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub openrouter_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub use_anthropic: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub use_openrouter: bool,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub cv_model: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub firecrawl_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub disable_firecrawl_outreach: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_star_selector: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_remote_publishing: bool,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub google_application_credentials: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub google_drive_folder_id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub google_sheet_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub openai_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub anthropic_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub openrouter_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub firecrawl_base_url: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub llm_model: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub pain_points_model: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub research_model: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub fit_score_model: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub cover_letter_model: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_timeout_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_max_attempts: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_retry_base_ms: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_circuit_threshold: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_circuit_cooldown_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_requests_per_minute: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_tokens_per_minute: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub llm_input_tokens: i64,
    #[serde(deserialize_with = "lenient::string")]
    pub llm_schema_mode: String,
    #[serde(deserialize_with = "lenient::float")]
    pub max_cost_per_run: f64,
    #[serde(deserialize_with = "lenient::prices")]
    pub llm_prices: std::collections::BTreeMap<String, lenient::PriceRow>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub prompts_dir: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub firecrawl_rate_per_minute: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_firecrawl_calls_per_run: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub research_cache_ttl_hours: i64,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            environment: "development".into(),
            host: "127.0.0.1".into(),
            port: 8000,
            runner_api_secret: None,
            cors_origins: String::new(),
            max_concurrency: 3,
            max_queue: 100,
            log_buffer_limit: 1000,
            pipeline_timeout_seconds: 900,
            shutdown_grace_seconds: 30,
            max_run_attempts: 3,
            stage_max_retries: 2,
            max_body_bytes: 65_536,
            offline_stage_delay_ms: 0,
            sse_keep_alive_seconds: 15,
            max_sse_streams: 1000,
            allow_no_auth: false,
            data_dir: "./data".into(),
            applications_dir: "./applications".into(),
            master_cv_path: "./master-cv.md".into(),
            profiles_dir: "./profiles".into(),
            log_level: "info".into(),
            log_format: "simple".into(),
            log_dir: None,
            log_keep_files: 14,
            mongodb_uri: None,
            mongodb_db: "jobs".into(),
            mongodb_jobs_collection: "level-2".into(),
            mongodb_collection_prefix: "runner_".into(),
            mongodb_server_selection_timeout_ms: 2000,
            run_lease_seconds: 60,
            global_max_concurrency: 0,
            health_check_interval_seconds: 30,
            alert_error_rate_percent: 10,
            alert_cost_per_run_usd: 1.0,
            cost_window_runs: 20,
            alert_cpu_percent: 80,
            alert_cpu_rounds: 3,
            alert_memory_percent: 90,
            alert_disk_free_percent: 10,
            alert_cooldown_minutes: 60,
            smtp_url: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_user: None,
            smtp_password: None,
            smtp_tls: "starttls".into(),
            alert_from: None,
            alert_to: String::new(),
            openai_api_key: None,
            anthropic_api_key: None,
            openrouter_api_key: None,
            use_anthropic: false,
            use_openrouter: false,
            cv_model: None,
            firecrawl_api_key: None,
            disable_firecrawl_outreach: false,
            enable_star_selector: false,
            enable_remote_publishing: false,
            google_application_credentials: None,
            google_drive_folder_id: None,
            google_sheet_id: None,
            openai_base_url: "https://api.openai.com/v1".into(),
            anthropic_base_url: "https://api.anthropic.com".into(),
            openrouter_base_url: "https://openrouter.ai/api/v1".into(),
            firecrawl_base_url: "https://api.firecrawl.dev".into(),
            llm_model: None,
            pain_points_model: None,
            research_model: None,
            fit_score_model: None,
            cover_letter_model: None,
            llm_timeout_seconds: 60,
            llm_max_attempts: 4,
            llm_retry_base_ms: 500,
            llm_circuit_threshold: 5,
            llm_circuit_cooldown_seconds: 60,
            llm_requests_per_minute: 60,
            llm_tokens_per_minute: 200_000,
            llm_input_tokens: 6000,
            llm_schema_mode: "off".into(),
            max_cost_per_run: 0.5,
            llm_prices: default_prices(),
            prompts_dir: None,
            firecrawl_rate_per_minute: 100,
            max_firecrawl_calls_per_run: 20,
            research_cache_ttl_hours: 168,
        }
    }
}

/// The shipped price table (USD per 1M tokens, list prices of late 2026; check yours).
fn default_prices() -> std::collections::BTreeMap<String, lenient::PriceRow> {
    [
        ("gpt-4o-mini", 0.15, 0.60),
        ("gpt-4o", 2.50, 10.00),
        ("gpt-4.1-mini", 0.40, 1.60),
        ("claude-3-5-haiku-latest", 0.80, 4.00),
        ("claude-sonnet-4-5", 3.00, 15.00),
        ("openai/gpt-4o-mini", 0.15, 0.60),
        ("anthropic/claude-3.5-haiku", 0.80, 4.00),
    ]
    .into_iter()
    .map(|(m, input, output)| (m.to_owned(), lenient::PriceRow { input, output }))
    .collect()
}

/// Validated settings the daemon runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub host: String,
    pub port: u16,
    /// Bearer secret; `None` only in development (auth then disabled, with a warning).
    pub runner_api_secret: Option<Secret>,
    pub cors_origins: Vec<String>,
    pub max_concurrency: usize,
    pub max_queue: usize,
    pub log_buffer_limit: usize,
    pub pipeline_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_run_attempts: u32,
    pub stage_max_retries: u32,
    pub max_body_bytes: usize,
    /// Artificial delay per offline stage, for demos and crash tests.
    pub offline_stage_delay: Duration,
    /// Interval of keep-alive comments on idle log streams.
    pub sse_keep_alive: Duration,
    /// Open SSE log streams allowed at once (`MAX_SSE_STREAMS`); beyond it, 503.
    pub max_sse_streams: usize,
    /// `ALLOW_NO_AUTH`: serve without a secret on a non-loopback address (never in
    /// staging or production).
    pub allow_no_auth: bool,
    pub data_dir: PathBuf,
    pub applications_dir: PathBuf,
    pub master_cv_path: PathBuf,
    pub profiles_dir: PathBuf,
    pub log_level: String,
    pub log_format: LogFormat,
    /// Directory for daily-rotated log files; `None` = stderr only.
    pub log_dir: Option<PathBuf>,
    /// Rotated log files kept.
    pub log_keep_files: usize,
    pub mongodb_uri: Option<Secret>,
    /// Database of the jobs and the runner's collections.
    pub mongodb_db: String,
    /// The dashboard's job collection.
    pub mongodb_jobs_collection: String,
    /// Prefix of the runner's own collections.
    pub mongodb_collection_prefix: String,
    /// How long a store call waits for a reachable MongoDB server.
    pub mongodb_server_selection_timeout: Duration,
    /// How long a run's claim lasts without renewal; another runner may take it over after.
    pub run_lease: Duration,
    /// Cap on running runs across all runners sharing the store (0 = none).
    pub global_max_concurrency: usize,
    /// Pause between health-check rounds (re-armed after each round).
    pub health_check_interval: Duration,
    /// Health thresholds and alert e-mail settings.
    pub alerts: AlertSettings,
    pub openai_api_key: Option<Secret>,
    pub anthropic_api_key: Option<Secret>,
    pub openrouter_api_key: Option<Secret>,
    pub use_anthropic: bool,
    pub use_openrouter: bool,
    pub cv_model: Option<String>,
    pub firecrawl_api_key: Option<Secret>,
    pub disable_firecrawl_outreach: bool,
    pub enable_star_selector: bool,
    pub enable_remote_publishing: bool,
    pub google_application_credentials: Option<String>,
    pub google_drive_folder_id: Option<String>,
    pub google_sheet_id: Option<String>,
    /// Language-model provider settings (which provider is used is decided at start-up).
    pub llm: LlmSettings,
    /// FireCrawl web research.
    pub firecrawl: FirecrawlSettings,
    /// Test-only fault injection; always empty when loaded from configuration.
    pub stage_faults: Vec<FaultRule>,
}

/// Everything the LLM layer needs besides the keys.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// `OPENAI_BASE_URL`: OpenAI, or any OpenAI-compatible server (Ollama, vLLM, llama.cpp).
    pub openai_base_url: String,
    /// `ANTHROPIC_BASE_URL`.
    pub anthropic_base_url: String,
    /// `OPENROUTER_BASE_URL`.
    pub openrouter_base_url: String,
    /// `LLM_MODEL`: the model of every stage without an override (else the provider's default).
    pub model: Option<String>,
    /// Per-stage overrides (`PAIN_POINTS_MODEL`, `RESEARCH_MODEL`, `FIT_SCORE_MODEL`,
    /// `CV_MODEL`, `COVER_LETTER_MODEL`).
    pub stage_models: std::collections::BTreeMap<StageName, String>,
    /// Per-attempt request timeout.
    pub timeout: Duration,
    /// Attempts per call (first try included) for transient failures.
    pub max_attempts: u32,
    /// Base of the exponential backoff.
    pub retry_base: Duration,
    /// Consecutive failures that open a provider's circuit.
    pub circuit_threshold: u32,
    /// How long an open circuit refuses calls before one probe.
    pub circuit_cooldown: Duration,
    /// Requests per minute per provider.
    pub requests_per_minute: u32,
    /// Tokens (estimated input + max output) per minute per provider.
    pub tokens_per_minute: u32,
    /// Input token budget of one stage's prompt; longer inputs are cut.
    pub input_tokens: usize,
    /// How the answer's JSON Schema is sent to an OpenAI-compatible server.
    pub schema_mode: crate::config::SchemaMode,
    /// `MAX_COST_PER_RUN` in USD: no call is made that would push a run's spend past it.
    pub max_cost_per_run: f64,
    /// Model → price per 1M tokens.
    pub prices: crate::config::pricing::PriceTable,
    /// `PROMPTS_DIR`: prompt files overriding the shipped ones.
    pub prompts_dir: Option<PathBuf>,
}

/// FireCrawl web research settings.
#[derive(Debug, Clone)]
pub struct FirecrawlSettings {
    /// `FIRECRAWL_BASE_URL`.
    pub base_url: String,
    /// Requests per minute across all runs.
    pub rate_per_minute: u32,
    /// FireCrawl requests one run may make (cache hits are free).
    pub max_calls_per_run: u32,
    /// How long a scraped page or search result is reused.
    pub cache_ttl: Duration,
}

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

/// Health thresholds and where alert e-mails go.
#[derive(Debug, Clone)]
pub struct AlertSettings {
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
}

/// How to make a good secret, quoted by every error about one.
const GENERATE_SECRET: &str = "generate one with `openssl rand -hex 32`";

/// Words that mark a value copied from an example instead of a real secret.
const PLACEHOLDER_MARKS: [&str; 12] = [
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "replace_me",
    "your-secret",
    "your_secret",
    "yoursecret",
    "placeholder",
    "example",
    "xxxxxxxx",
];

/// True for a listen address that only this machine reaches (`127.0.0.0/8`, `::1`,
/// `localhost`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// What is wrong with the bearer secret in this environment, if anything:
/// - outside development it is required, at least 16 characters;
/// - a value copied from an example (`change-me…`) is refused everywhere;
/// - without one, the API is open, which is allowed only on a loopback address or with an
///   explicit `ALLOW_NO_AUTH=true` in development (a container that sets `HOST=0.0.0.0`
///   must not serve everything to everyone because `ENVIRONMENT` was forgotten).
fn check_api_secret(secret: Option<&str>, env: Environment, host: &str, allow_no_auth: bool) -> Vec<String> {
    let mut errors = Vec::new();
    match secret {
        None if env != Environment::Development => errors.push(format!(
            "RUNNER_API_SECRET is required when ENVIRONMENT={} (at least 16 characters; {GENERATE_SECRET})",
            env.as_str()
        )),
        None if !is_loopback_host(host) && !allow_no_auth => errors.push(format!(
            "RUNNER_API_SECRET is not set and HOST={:?} is not a loopback address: the API would be open \
             to anyone who reaches it. Set RUNNER_API_SECRET ({GENERATE_SECRET}), listen on 127.0.0.1, \
             or set ALLOW_NO_AUTH=true to serve without auth on purpose",
            host.trim()
        )),
        None => {}
        Some(s) => {
            let lower = s.to_ascii_lowercase();
            if let Some(mark) = PLACEHOLDER_MARKS.iter().find(|m| lower.contains(*m)) {
                errors.push(format!(
                    "RUNNER_API_SECRET looks like a placeholder (it contains {mark:?}); {GENERATE_SECRET}"
                ));
            } else if s.chars().count() < 16 && env != Environment::Development {
                errors.push(format!(
                    "RUNNER_API_SECRET must be at least 16 characters when ENVIRONMENT={}, got {}; {GENERATE_SECRET}",
                    env.as_str(),
                    s.chars().count()
                ));
            }
        }
    }
    errors
}

/// The process environment as figment data, every value kept as the exact string it is.
/// figment's own `Env` provider parses values, so `RUNNER_API_SECRET=000012345678901234567`
/// became the number 12345678901234567 and the configured secret stopped matching; the
/// lenient deserialisers turn strings into numbers and booleans where a setting is one.
struct RawEnv;

impl figment::Provider for RawEnv {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable(s)")
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, value) in std::env::vars_os() {
            let key = key.to_string_lossy().trim().to_ascii_lowercase();
            // Settings are flat; a dotted name would be read as a nested key.
            if key.is_empty() || key.contains('.') {
                continue;
            }
            dict.insert(key, figment::value::Value::from(value.to_string_lossy().into_owned()));
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// True when systemd started this process (it sets `INVOCATION_ID` for every unit): the
/// unit's `EnvironmentFile` is then the only source of settings besides the config files.
fn started_by_systemd() -> bool {
    std::env::var_os("INVOCATION_ID").is_some_and(|v| !v.is_empty())
}

/// Reads `.env` from the working directory only (never a parent directory, which another
/// user or the service itself may be able to write), and not at all under systemd.
fn load_dotenv() -> Result<(), ConfigError> {
    if started_by_systemd() {
        return Ok(());
    }
    let path = match std::env::current_dir() {
        Ok(dir) => dir.join(".env"),
        Err(_) => return Ok(()),
    };
    match dotenvy::from_path(&path) {
        Ok(()) => Ok(()),
        // A missing .env is normal; a malformed one is reported.
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError(vec![format!("{} could not be read: {e}", path.display())])),
    }
}

/// Every configuration problem found, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Loads the layers from `config_dir` and the environment (after reading `.env` in the
    /// working directory, which never overrides variables already set, and which is not
    /// read when systemd started the daemon), then validates. Environment values are read
    /// as the strings they are.
    pub fn load(config_dir: &Path) -> Result<Settings, ConfigError> {
        load_dotenv()?;
        let environment = std::env::var("ENVIRONMENT").unwrap_or_else(|_| "development".into());
        let env = Environment::parse(&environment).map_err(|e| ConfigError(vec![e]))?;
        let figment = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(Toml::file(config_dir.join(format!("{}.toml", env.as_str()))))
            .merge(RawEnv);
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError(e.into_iter().map(|e| e.to_string()).collect()))?;
        Settings::from_raw(raw)
    }

    /// Validates raw settings, collecting every problem.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, ConfigError> {
        let mut errors = Vec::new();
        let mut ranged = |name: &str, value: i64, min: i64, max: i64| -> i64 {
            if value < min || value > max {
                errors.push(format!("{name} must be {min}–{max}, got {value}"));
                min
            } else {
                value
            }
        };
        let port = ranged("PORT", raw.port, 0, 65_535) as u16;
        let max_concurrency = ranged("MAX_CONCURRENCY", raw.max_concurrency, 1, 20) as usize;
        let max_queue = ranged("MAX_QUEUE", raw.max_queue, 1, 100_000) as usize;
        let log_buffer_limit = ranged("LOG_BUFFER_LIMIT", raw.log_buffer_limit, 100, 10_000) as usize;
        let timeout = ranged("PIPELINE_TIMEOUT_SECONDS", raw.pipeline_timeout_seconds, 60, 3600) as u64;
        let grace = ranged("SHUTDOWN_GRACE_SECONDS", raw.shutdown_grace_seconds, 0, 3600) as u64;
        let attempts = ranged("MAX_RUN_ATTEMPTS", raw.max_run_attempts, 1, 20) as u32;
        let retries = ranged("STAGE_MAX_RETRIES", raw.stage_max_retries, 0, 10) as u32;
        let body = ranged("MAX_BODY_BYTES", raw.max_body_bytes, 1024, 16 * 1024 * 1024) as usize;
        let delay = ranged("OFFLINE_STAGE_DELAY_MS", raw.offline_stage_delay_ms, 0, 600_000) as u64;
        let keep_alive = ranged("SSE_KEEP_ALIVE_SECONDS", raw.sse_keep_alive_seconds, 1, 300) as u64;
        let sse_streams = ranged("MAX_SSE_STREAMS", raw.max_sse_streams, 1, 100_000) as usize;
        let selection = ranged(
            "MONGODB_SERVER_SELECTION_TIMEOUT_MS",
            raw.mongodb_server_selection_timeout_ms,
            100,
            60_000,
        ) as u64;
        let lease = ranged("RUN_LEASE_SECONDS", raw.run_lease_seconds, 5, 3600) as u64;
        let global = ranged("GLOBAL_MAX_CONCURRENCY", raw.global_max_concurrency, 0, 1000) as usize;
        let health_every = ranged(
            "HEALTH_CHECK_INTERVAL_SECONDS",
            raw.health_check_interval_seconds,
            1,
            3600,
        ) as u64;
        let error_rate = ranged("ALERT_ERROR_RATE_PERCENT", raw.alert_error_rate_percent, 1, 100) as u32;
        let cost_window = ranged("COST_WINDOW_RUNS", raw.cost_window_runs, 1, 1000) as usize;
        let cpu = ranged("ALERT_CPU_PERCENT", raw.alert_cpu_percent, 1, 100) as u32;
        let cpu_rounds = ranged("ALERT_CPU_ROUNDS", raw.alert_cpu_rounds, 1, 100) as u32;
        let memory = ranged("ALERT_MEMORY_PERCENT", raw.alert_memory_percent, 1, 100) as u32;
        let disk = ranged("ALERT_DISK_FREE_PERCENT", raw.alert_disk_free_percent, 0, 100) as u32;
        let cooldown = ranged("ALERT_COOLDOWN_MINUTES", raw.alert_cooldown_minutes, 0, 10_080) as u64;
        let smtp_port = ranged("SMTP_PORT", raw.smtp_port, 1, 65_535) as u16;
        let log_keep = ranged("LOG_KEEP_FILES", raw.log_keep_files, 1, 3650) as usize;
        let llm_timeout = ranged("LLM_TIMEOUT_SECONDS", raw.llm_timeout_seconds, 1, 600) as u64;
        let llm_attempts = ranged("LLM_MAX_ATTEMPTS", raw.llm_max_attempts, 1, 10) as u32;
        let llm_retry_base = ranged("LLM_RETRY_BASE_MS", raw.llm_retry_base_ms, 1, 60_000) as u64;
        let circuit_threshold = ranged("LLM_CIRCUIT_THRESHOLD", raw.llm_circuit_threshold, 1, 100) as u32;
        let circuit_cooldown = ranged(
            "LLM_CIRCUIT_COOLDOWN_SECONDS",
            raw.llm_circuit_cooldown_seconds,
            1,
            3600,
        ) as u64;
        let llm_rpm = ranged("LLM_REQUESTS_PER_MINUTE", raw.llm_requests_per_minute, 1, 100_000) as u32;
        let llm_tpm = ranged("LLM_TOKENS_PER_MINUTE", raw.llm_tokens_per_minute, 1000, 100_000_000) as u32;
        let llm_input = ranged("LLM_INPUT_TOKENS", raw.llm_input_tokens, 500, 1_000_000) as usize;
        let fc_rate = ranged("FIRECRAWL_RATE_PER_MINUTE", raw.firecrawl_rate_per_minute, 1, 10_000) as u32;
        let fc_cap = ranged("MAX_FIRECRAWL_CALLS_PER_RUN", raw.max_firecrawl_calls_per_run, 0, 1000) as u32;
        let cache_ttl = ranged("RESEARCH_CACHE_TTL_HOURS", raw.research_cache_ttl_hours, 0, 8760) as u64;

        let environment = Environment::parse(&raw.environment).unwrap_or_else(|e| {
            errors.push(e);
            Environment::Development
        });
        let secret = raw.runner_api_secret.filter(|s| !s.trim().is_empty());
        errors.extend(check_api_secret(
            secret.as_deref(),
            environment,
            &raw.host,
            raw.allow_no_auth,
        ));
        if !(raw.max_cost_per_run.is_finite() && raw.max_cost_per_run >= 0.0) {
            errors.push(format!(
                "MAX_COST_PER_RUN must be a number ≥ 0 (USD), got {}",
                raw.max_cost_per_run
            ));
        }
        for (model, p) in &raw.llm_prices {
            if !(p.input.is_finite() && p.input >= 0.0 && p.output.is_finite() && p.output >= 0.0) {
                errors.push(format!(
                    "LLM_PRICES: prices of {model:?} must be numbers ≥ 0, got input {} and output {}",
                    p.input, p.output
                ));
            }
        }
        for (name, value) in [
            ("OPENAI_BASE_URL", &raw.openai_base_url),
            ("ANTHROPIC_BASE_URL", &raw.anthropic_base_url),
            ("OPENROUTER_BASE_URL", &raw.openrouter_base_url),
            ("FIRECRAWL_BASE_URL", &raw.firecrawl_base_url),
        ] {
            let v = value.trim();
            if !(v.starts_with("http://") || v.starts_with("https://")) || v.len() < 10 {
                errors.push(format!("{name} must be an http(s) URL, got {v:?}"));
            }
        }
        let schema_mode = crate::config::SchemaMode::parse(&raw.llm_schema_mode).unwrap_or_else(|e| {
            errors.push(e);
            crate::config::SchemaMode::Off
        });
        if !(raw.alert_cost_per_run_usd.is_finite() && raw.alert_cost_per_run_usd >= 0.0) {
            errors.push(format!(
                "ALERT_COST_PER_RUN_USD must be a number ≥ 0, got {}",
                raw.alert_cost_per_run_usd
            ));
        }
        let smtp_tls = match raw.smtp_tls.trim().to_ascii_lowercase().as_str() {
            "starttls" | "" => SmtpTls::StartTls,
            "tls" | "ssl" | "smtps" => SmtpTls::Tls,
            "none" | "off" | "plain" => SmtpTls::None,
            other => {
                errors.push(format!("SMTP_TLS must be starttls, tls or none, got {other:?}"));
                SmtpTls::StartTls
            }
        };
        let alert_to: Vec<String> = raw
            .alert_to
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for addr in alert_to.iter().chain(raw.alert_from.iter()) {
            if addr.parse::<lettre::Address>().is_err() && addr.parse::<lettre::message::Mailbox>().is_err() {
                errors.push(format!("ALERT_TO/ALERT_FROM: {addr:?} is not an e-mail address"));
            }
        }
        let log_format = match raw.log_format.trim().to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "simple" | "text" | "pretty" | "" => LogFormat::Simple,
            other => {
                errors.push(format!("LOG_FORMAT must be json or simple, got {other:?}"));
                LogFormat::Simple
            }
        };
        let log_level = raw.log_level.trim().to_ascii_lowercase();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            errors.push(format!(
                "LOG_LEVEL must be a level (error, warn, info, debug, trace) or a filter, got {log_level:?}"
            ));
        }
        if raw.host.trim().is_empty() {
            errors.push("HOST must not be empty".into());
        }
        for (name, value) in [
            ("MONGODB_DB", &raw.mongodb_db),
            ("MONGODB_JOBS_COLLECTION", &raw.mongodb_jobs_collection),
            ("DATA_DIR", &raw.data_dir),
            ("APPLICATIONS_DIR", &raw.applications_dir),
            ("MASTER_CV_PATH", &raw.master_cv_path),
            ("PROFILES_DIR", &raw.profiles_dir),
        ] {
            if value.trim().is_empty() {
                errors.push(format!("{name} must not be empty"));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        let secret_of = |v: Option<String>| v.filter(|s| !s.trim().is_empty()).map(Secret::new);
        Ok(Settings {
            environment,
            host: raw.host.trim().to_owned(),
            port,
            runner_api_secret: secret.map(Secret::new),
            cors_origins: raw
                .cors_origins
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            max_concurrency,
            max_queue,
            log_buffer_limit,
            pipeline_timeout: Duration::from_secs(timeout),
            shutdown_grace: Duration::from_secs(grace),
            max_run_attempts: attempts,
            stage_max_retries: retries,
            max_body_bytes: body,
            offline_stage_delay: Duration::from_millis(delay),
            sse_keep_alive: Duration::from_secs(keep_alive),
            max_sse_streams: sse_streams,
            allow_no_auth: raw.allow_no_auth,
            data_dir: PathBuf::from(raw.data_dir),
            applications_dir: PathBuf::from(raw.applications_dir),
            master_cv_path: PathBuf::from(raw.master_cv_path),
            profiles_dir: PathBuf::from(raw.profiles_dir),
            log_level,
            log_format,
            log_dir: raw.log_dir.filter(|d| !d.trim().is_empty()).map(PathBuf::from),
            log_keep_files: log_keep,
            mongodb_uri: secret_of(raw.mongodb_uri),
            mongodb_db: raw.mongodb_db.trim().to_owned(),
            mongodb_jobs_collection: raw.mongodb_jobs_collection.trim().to_owned(),
            mongodb_collection_prefix: raw.mongodb_collection_prefix.trim().to_owned(),
            mongodb_server_selection_timeout: Duration::from_millis(selection),
            run_lease: Duration::from_secs(lease),
            global_max_concurrency: global,
            health_check_interval: Duration::from_secs(health_every),
            alerts: AlertSettings {
                error_rate_percent: error_rate,
                cost_per_run_usd: raw.alert_cost_per_run_usd,
                cost_window_runs: cost_window,
                cpu_percent: cpu,
                cpu_rounds,
                memory_percent: memory,
                disk_free_percent: disk,
                cooldown: Duration::from_secs(cooldown * 60),
                smtp_url: secret_of(raw.smtp_url),
                smtp_host: raw.smtp_host.filter(|s| !s.trim().is_empty()),
                smtp_port,
                smtp_user: raw.smtp_user.filter(|s| !s.trim().is_empty()),
                smtp_password: secret_of(raw.smtp_password),
                smtp_tls,
                from: raw.alert_from.filter(|s| !s.trim().is_empty()),
                to: alert_to,
            },
            openai_api_key: secret_of(raw.openai_api_key),
            anthropic_api_key: secret_of(raw.anthropic_api_key),
            openrouter_api_key: secret_of(raw.openrouter_api_key),
            use_anthropic: raw.use_anthropic,
            use_openrouter: raw.use_openrouter,
            cv_model: raw.cv_model.clone().filter(|s| !s.trim().is_empty()),
            firecrawl_api_key: secret_of(raw.firecrawl_api_key),
            disable_firecrawl_outreach: raw.disable_firecrawl_outreach,
            enable_star_selector: raw.enable_star_selector,
            enable_remote_publishing: raw.enable_remote_publishing,
            google_application_credentials: raw.google_application_credentials,
            google_drive_folder_id: raw.google_drive_folder_id,
            google_sheet_id: raw.google_sheet_id,
            llm: LlmSettings {
                openai_base_url: raw.openai_base_url.trim().trim_end_matches('/').to_owned(),
                anthropic_base_url: raw.anthropic_base_url.trim().trim_end_matches('/').to_owned(),
                openrouter_base_url: raw.openrouter_base_url.trim().trim_end_matches('/').to_owned(),
                model: raw.llm_model.clone(),
                stage_models: [
                    (StageName::PainPoints, raw.pain_points_model),
                    (StageName::Research, raw.research_model),
                    (StageName::FitScore, raw.fit_score_model),
                    (StageName::Cv, raw.cv_model.clone()),
                    (StageName::CoverLetter, raw.cover_letter_model),
                ]
                .into_iter()
                .filter_map(|(stage, m)| m.filter(|m| !m.trim().is_empty()).map(|m| (stage, m.trim().to_owned())))
                .collect(),
                timeout: Duration::from_secs(llm_timeout),
                max_attempts: llm_attempts,
                retry_base: Duration::from_millis(llm_retry_base),
                circuit_threshold,
                circuit_cooldown: Duration::from_secs(circuit_cooldown),
                requests_per_minute: llm_rpm,
                tokens_per_minute: llm_tpm,
                input_tokens: llm_input,
                schema_mode,
                max_cost_per_run: raw.max_cost_per_run,
                prices: crate::config::pricing::PriceTable::from_rows(
                    raw.llm_prices.iter().map(|(m, p)| (m.as_str(), p.input, p.output)),
                ),
                prompts_dir: raw.prompts_dir.filter(|d| !d.trim().is_empty()).map(PathBuf::from),
            },
            firecrawl: FirecrawlSettings {
                base_url: raw.firecrawl_base_url.trim().trim_end_matches('/').to_owned(),
                rate_per_minute: fc_rate,
                max_calls_per_run: fc_cap,
                cache_ttl: Duration::from_secs(cache_ttl * 3600),
            },
            stage_faults: Vec::new(),
        })
    }

    /// Settings for tests and benchmarks: the defaults with every directory under `root`.
    pub fn for_root(root: &Path) -> Settings {
        let mut s = Settings::from_raw(RawSettings::default()).expect("defaults are valid");
        s.port = 0;
        s.data_dir = root.join("data");
        s.applications_dir = root.join("applications");
        s.master_cv_path = root.join("master-cv.md");
        s.profiles_dir = root.join("profiles");
        s
    }

    /// The address to bind.
    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL settings that are not secrets as a whole, by name. Credentials written into
    /// them (`http://user:pw@host`) are secrets all the same: the redactor learns them
    /// and every rendering masks them.
    pub fn url_settings(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("OPENAI_BASE_URL", self.llm.openai_base_url.as_str()),
            ("ANTHROPIC_BASE_URL", self.llm.anthropic_base_url.as_str()),
            ("OPENROUTER_BASE_URL", self.llm.openrouter_base_url.as_str()),
            ("FIRECRAWL_BASE_URL", self.firecrawl.base_url.as_str()),
        ]
    }

    /// The resolved configuration as `NAME = value` lines with every secret masked.
    pub fn render_masked(&self) -> String {
        let masked = |s: &Option<Secret>| s.as_ref().map(Secret::masked).unwrap_or_else(|| "(unset)".into());
        let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "(unset)".into());
        let rows: Vec<(&str, String)> = vec![
            ("ENVIRONMENT", self.environment.as_str().into()),
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("RUNNER_API_SECRET", masked(&self.runner_api_secret)),
            ("CORS_ORIGINS", self.cors_origins.join(",")),
            ("MAX_CONCURRENCY", self.max_concurrency.to_string()),
            ("MAX_QUEUE", self.max_queue.to_string()),
            ("LOG_BUFFER_LIMIT", self.log_buffer_limit.to_string()),
            ("PIPELINE_TIMEOUT_SECONDS", self.pipeline_timeout.as_secs().to_string()),
            ("SHUTDOWN_GRACE_SECONDS", self.shutdown_grace.as_secs().to_string()),
            ("MAX_RUN_ATTEMPTS", self.max_run_attempts.to_string()),
            ("STAGE_MAX_RETRIES", self.stage_max_retries.to_string()),
            ("MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            (
                "OFFLINE_STAGE_DELAY_MS",
                self.offline_stage_delay.as_millis().to_string(),
            ),
            ("SSE_KEEP_ALIVE_SECONDS", self.sse_keep_alive.as_secs().to_string()),
            ("MAX_SSE_STREAMS", self.max_sse_streams.to_string()),
            ("ALLOW_NO_AUTH", self.allow_no_auth.to_string()),
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("APPLICATIONS_DIR", self.applications_dir.display().to_string()),
            ("MASTER_CV_PATH", self.master_cv_path.display().to_string()),
            ("PROFILES_DIR", self.profiles_dir.display().to_string()),
            ("LOG_LEVEL", self.log_level.clone()),
            (
                "LOG_FORMAT",
                if self.log_format == LogFormat::Json {
                    "json"
                } else {
                    "simple"
                }
                .into(),
            ),
            (
                "LOG_DIR",
                self.log_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            ("LOG_KEEP_FILES", self.log_keep_files.to_string()),
            ("MONGODB_URI", masked(&self.mongodb_uri)),
            ("MONGODB_DB", self.mongodb_db.clone()),
            ("MONGODB_JOBS_COLLECTION", self.mongodb_jobs_collection.clone()),
            ("MONGODB_COLLECTION_PREFIX", self.mongodb_collection_prefix.clone()),
            (
                "MONGODB_SERVER_SELECTION_TIMEOUT_MS",
                self.mongodb_server_selection_timeout.as_millis().to_string(),
            ),
            ("RUN_LEASE_SECONDS", self.run_lease.as_secs().to_string()),
            ("GLOBAL_MAX_CONCURRENCY", self.global_max_concurrency.to_string()),
            (
                "HEALTH_CHECK_INTERVAL_SECONDS",
                self.health_check_interval.as_secs().to_string(),
            ),
            ("ALERT_ERROR_RATE_PERCENT", self.alerts.error_rate_percent.to_string()),
            ("ALERT_COST_PER_RUN_USD", self.alerts.cost_per_run_usd.to_string()),
            ("COST_WINDOW_RUNS", self.alerts.cost_window_runs.to_string()),
            ("ALERT_CPU_PERCENT", self.alerts.cpu_percent.to_string()),
            ("ALERT_CPU_ROUNDS", self.alerts.cpu_rounds.to_string()),
            ("ALERT_MEMORY_PERCENT", self.alerts.memory_percent.to_string()),
            ("ALERT_DISK_FREE_PERCENT", self.alerts.disk_free_percent.to_string()),
            (
                "ALERT_COOLDOWN_MINUTES",
                (self.alerts.cooldown.as_secs() / 60).to_string(),
            ),
            ("SMTP_URL", masked(&self.alerts.smtp_url)),
            ("SMTP_HOST", opt(&self.alerts.smtp_host)),
            ("SMTP_PORT", self.alerts.smtp_port.to_string()),
            ("SMTP_USER", opt(&self.alerts.smtp_user)),
            ("SMTP_PASSWORD", masked(&self.alerts.smtp_password)),
            ("SMTP_TLS", format!("{:?}", self.alerts.smtp_tls).to_lowercase()),
            ("ALERT_FROM", opt(&self.alerts.from)),
            ("ALERT_TO", self.alerts.to.join(",")),
            ("OPENAI_API_KEY", masked(&self.openai_api_key)),
            ("ANTHROPIC_API_KEY", masked(&self.anthropic_api_key)),
            ("OPENROUTER_API_KEY", masked(&self.openrouter_api_key)),
            ("USE_ANTHROPIC", self.use_anthropic.to_string()),
            ("USE_OPENROUTER", self.use_openrouter.to_string()),
            ("CV_MODEL", opt(&self.cv_model)),
            ("FIRECRAWL_API_KEY", masked(&self.firecrawl_api_key)),
            (
                "DISABLE_FIRECRAWL_OUTREACH",
                self.disable_firecrawl_outreach.to_string(),
            ),
            ("ENABLE_STAR_SELECTOR", self.enable_star_selector.to_string()),
            ("ENABLE_REMOTE_PUBLISHING", self.enable_remote_publishing.to_string()),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                opt(&self.google_application_credentials),
            ),
            ("GOOGLE_DRIVE_FOLDER_ID", opt(&self.google_drive_folder_id)),
            ("GOOGLE_SHEET_ID", opt(&self.google_sheet_id)),
            ("LLM_MODEL", opt(&self.llm.model)),
            (
                "STAGE_MODELS",
                self.llm
                    .stage_models
                    .iter()
                    .map(|(s, m)| format!("{s}={m}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("LLM_TIMEOUT_SECONDS", self.llm.timeout.as_secs().to_string()),
            ("LLM_MAX_ATTEMPTS", self.llm.max_attempts.to_string()),
            ("LLM_RETRY_BASE_MS", self.llm.retry_base.as_millis().to_string()),
            ("LLM_CIRCUIT_THRESHOLD", self.llm.circuit_threshold.to_string()),
            (
                "LLM_CIRCUIT_COOLDOWN_SECONDS",
                self.llm.circuit_cooldown.as_secs().to_string(),
            ),
            ("LLM_REQUESTS_PER_MINUTE", self.llm.requests_per_minute.to_string()),
            ("LLM_TOKENS_PER_MINUTE", self.llm.tokens_per_minute.to_string()),
            ("LLM_INPUT_TOKENS", self.llm.input_tokens.to_string()),
            ("LLM_SCHEMA_MODE", format!("{:?}", self.llm.schema_mode)),
            ("MAX_COST_PER_RUN", self.llm.max_cost_per_run.to_string()),
            ("LLM_PRICES", format!("{} models", self.llm.prices.len())),
            (
                "PROMPTS_DIR",
                self.llm
                    .prompts_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "(shipped prompts)".into()),
            ),
            ("FIRECRAWL_RATE_PER_MINUTE", self.firecrawl.rate_per_minute.to_string()),
            (
                "MAX_FIRECRAWL_CALLS_PER_RUN",
                self.firecrawl.max_calls_per_run.to_string(),
            ),
            (
                "RESEARCH_CACHE_TTL_HOURS",
                (self.firecrawl.cache_ttl.as_secs() / 3600).to_string(),
            ),
        ];
        let urls = self
            .url_settings()
            .into_iter()
            .map(|(name, url)| (name, mask_url_credentials(url).into_owned()));
        rows.into_iter()
            .chain(urls)
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings::default()
    }

    #[test]
    fn defaults_are_valid_and_match_the_documented_file() {
        let file = include_str!("../config/default.toml");
        let from_file: RawSettings = Figment::from(Toml::string(file)).extract().unwrap();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(RawSettings::default()).unwrap(),
            "config/default.toml must state the compiled-in defaults"
        );
        Settings::from_raw(raw()).unwrap();
    }

    #[test]
    fn out_of_range_values_name_the_key_and_range() {
        let mut r = raw();
        r.max_concurrency = 0;
        r.log_buffer_limit = 50;
        let err = Settings::from_raw(r).unwrap_err().to_string();
        assert!(err.contains("MAX_CONCURRENCY must be 1–20, got 0"), "{err}");
        assert!(err.contains("LOG_BUFFER_LIMIT must be 100–10000, got 50"), "{err}");
    }

    #[test]
    fn production_requires_a_long_secret() {
        let mut r = raw();
        r.environment = "production".into();
        assert!(Settings::from_raw(r.clone())
            .unwrap_err()
            .to_string()
            .contains("RUNNER_API_SECRET is required"));
        r.runner_api_secret = Some("short".into());
        assert!(Settings::from_raw(r.clone())
            .unwrap_err()
            .to_string()
            .contains("at least 16"));
        r.runner_api_secret = Some("0123456789abcdef".into());
        assert!(Settings::from_raw(r).is_ok());
    }

    #[test]
    fn auth_off_only_on_loopback_or_on_purpose_and_never_with_a_placeholder() {
        let dev = Environment::Development;
        assert!(check_api_secret(None, dev, "127.0.0.1", false).is_empty());
        assert!(check_api_secret(None, dev, "::1", false).is_empty());
        assert!(check_api_secret(None, dev, "localhost", false).is_empty());
        assert!(check_api_secret(None, dev, "127.8.9.10", false).is_empty());
        let open = check_api_secret(None, dev, "0.0.0.0", false);
        assert!(
            open[0].contains("not a loopback address") && open[0].contains("ALLOW_NO_AUTH"),
            "{open:?}"
        );
        assert!(check_api_secret(None, dev, "0.0.0.0", true).is_empty());
        assert!(!check_api_secret(None, dev, "192.0.2.1", false).is_empty());
        // ALLOW_NO_AUTH never lifts the requirement outside development.
        assert!(!check_api_secret(None, Environment::Production, "127.0.0.1", true).is_empty());
        for placeholder in [
            "change-me-to-16+chars",
            "CHANGE-ME-to-a-long-random-string",
            "my-changeme-secret-123456",
            "your-secret-goes-here-1234",
            "example-secret-0000000000",
        ] {
            for env in [dev, Environment::Production] {
                let e = check_api_secret(Some(placeholder), env, "127.0.0.1", false);
                assert!(
                    e.len() == 1 && e[0].contains("placeholder") && e[0].contains("openssl rand -hex 32"),
                    "{e:?}"
                );
                assert!(!e[0].contains(placeholder), "the secret is echoed: {e:?}");
            }
        }
        let real = "3f9a0c1d5e7b2a4c6d8e0f1a2b3c4d5e";
        assert!(check_api_secret(Some(real), Environment::Production, "0.0.0.0", false).is_empty());
    }

    #[test]
    fn the_environment_is_read_as_raw_strings() {
        // figment's own Env provider turned this into the number 12345678901234567.
        let figment = Figment::from(Serialized::defaults(RawSettings::default())).merge(Serialized::default(
            "runner_api_secret",
            figment::value::Value::from("000012345678901234567".to_owned()),
        ));
        let r: RawSettings = figment.extract().unwrap();
        assert_eq!(r.runner_api_secret.as_deref(), Some("000012345678901234567"));
        // RawEnv itself: every value is a string, numbers still parse where a setting is one.
        let data = figment::Provider::data(&RawEnv).unwrap();
        let dict = &data[&figment::Profile::Default];
        assert!(dict.values().all(|v| v.as_str().is_some()));
    }

    #[test]
    fn old_env_values_parse_leniently() {
        let figment = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Serialized::default("use_anthropic", "1"))
            .merge(Serialized::default("max_concurrency", "5"))
            .merge(Serialized::default("runner_api_secret", 1234567890123456789_i64));
        let r: RawSettings = figment.extract().unwrap();
        assert!(r.use_anthropic);
        assert_eq!(r.max_concurrency, 5);
        assert_eq!(r.runner_api_secret.as_deref(), Some("1234567890123456789"));
    }

    #[test]
    fn rendered_config_masks_secrets() {
        let mut r = raw();
        r.runner_api_secret = Some("super-secret-value-123".into());
        r.openai_api_key = Some("sk-live-abcdef".into());
        let out = Settings::from_raw(r).unwrap().render_masked();
        assert!(!out.contains("super-secret-value-123"));
        assert!(!out.contains("sk-live-abcdef"));
        assert!(out.contains("RUNNER_API_SECRET = ****"));
    }

    #[test]
    fn llm_settings_are_validated_and_prices_come_from_toml_or_json() {
        let figment = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Serialized::default(
                "llm_prices",
                r#"{"my-model": {"input": 0.1, "output": 0.2}}"#,
            ))
            .merge(Serialized::default("max_cost_per_run", "0.25"))
            .merge(Serialized::default("cv_model", "gpt-4o"));
        let r: RawSettings = figment.extract().unwrap();
        let s = Settings::from_raw(r).unwrap();
        assert_eq!(s.llm.prices.len(), 1, "LLM_PRICES replaces the table");
        assert!((s.llm.prices.cost("my-model", 1_000_000, 1_000_000).unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(s.llm.max_cost_per_run, 0.25);
        assert_eq!(s.llm.stage_models[&StageName::Cv], "gpt-4o");
        assert!(Settings::from_raw(raw())
            .unwrap()
            .llm
            .prices
            .price("gpt-4o-mini")
            .is_some());

        let mut r = raw();
        r.max_cost_per_run = -1.0;
        r.openai_base_url = "localhost:8080".into();
        r.max_firecrawl_calls_per_run = 5000;
        r.llm_prices.insert(
            "bad".into(),
            lenient::PriceRow {
                input: -1.0,
                output: 0.0,
            },
        );
        let err = Settings::from_raw(r).unwrap_err().to_string();
        assert!(err.contains("MAX_COST_PER_RUN must be a number ≥ 0"), "{err}");
        assert!(err.contains("OPENAI_BASE_URL must be an http(s) URL"), "{err}");
        assert!(
            err.contains("MAX_FIRECRAWL_CALLS_PER_RUN must be 0–1000, got 5000"),
            "{err}"
        );
        assert!(err.contains("LLM_PRICES: prices of \"bad\""), "{err}");
        let bad_json: Result<RawSettings, _> = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Serialized::default("llm_prices", "not json"))
            .extract();
        assert!(bad_json
            .unwrap_err()
            .to_string()
            .contains("LLM_PRICES must be a JSON object"));
    }
}
