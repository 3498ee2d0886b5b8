//! Settings: `config/default.toml` (compiled in: the only place defaults are written) →
//! `CONFIG_DIR/default.toml` → `CONFIG_DIR/<ENVIRONMENT>.toml` → `.env` → process
//! environment. The variable names are the old Python runner's, so its `.env` starts
//! job-runner unchanged; unknown variables are ignored.
//!
//! One file per section holds its settings three ways: the raw form (deserialised
//! leniently: an old `.env` writes `USE_ANTHROPIC=1` or `PORT="8000"`), the validated form
//! the daemon runs with (every problem reported at once, with the variable name and the
//! allowed range) and the masked rendering `job-runner config` prints. A new setting
//! touches its section file and `config/default.toml`.

pub mod alerts;
pub mod firecrawl;
mod lenient;
pub mod llm;
pub mod logging;
pub mod paths;
pub mod pricing;
mod problems;
pub mod publishing;
pub mod queue;
pub mod redact;
mod schema_mode;
mod secret;
pub mod server;
pub mod store;

use std::path::Path;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use alerts::{AlertSettings, SmtpTls, WebhookFormat};
pub use firecrawl::FirecrawlSettings;
pub use llm::{LlmSettings, TierClass, TierSettings};
pub use logging::{LogFormat, LoggingSettings};
pub use paths::PathSettings;
pub use problems::Problems;
pub use publishing::PublishingSettings;
pub use queue::{FaultRule, QueueSettings, StageFault};
pub use redact::Redactor;
pub use schema_mode::SchemaMode;
pub use secret::{mask_url_credentials, Secret};
pub use server::MAX_RUN_TOKEN_TTL_SECONDS;
pub use server::{is_loopback_host, Environment, ServerSettings};
pub use store::StoreSettings;

/// The shipped defaults: every setting, commented (`config/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The layered, leniently parsed configuration before validation, section by section.
/// Field names are the lower-case forms of the environment variable names.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RawSettings {
    #[serde(flatten)]
    pub server: server::Raw,
    #[serde(flatten)]
    pub queue: queue::Raw,
    #[serde(flatten)]
    pub paths: paths::Raw,
    #[serde(flatten)]
    pub logging: logging::Raw,
    #[serde(flatten)]
    pub store: store::Raw,
    #[serde(flatten)]
    pub alerts: alerts::Raw,
    #[serde(flatten)]
    pub llm: llm::Raw,
    #[serde(flatten)]
    pub firecrawl: firecrawl::Raw,
    #[serde(flatten)]
    pub publishing: publishing::Raw,
}

impl RawSettings {
    /// The shipped defaults alone.
    pub fn defaults() -> RawSettings {
        Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("config/default.toml states every setting")
    }
}

/// Validated settings the daemon runs with, section by section.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub queue: QueueSettings,
    pub paths: PathSettings,
    pub logging: LoggingSettings,
    pub store: StoreSettings,
    pub alerts: AlertSettings,
    pub llm: LlmSettings,
    pub firecrawl: FirecrawlSettings,
    pub publishing: PublishingSettings,
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
        // The newest dashboard's deployments name some settings differently; ours win.
        for (alias, ours) in ALIASES {
            if !dict.contains_key(ours) {
                if let Some(v) = dict.get(alias).cloned() {
                    dict.insert(ours.to_owned(), v);
                }
            }
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// Other names of our settings, as the newest dashboard's deployments set them
/// (`COMPAT-DASHBOARD.md` §10): `(alias, ours)`, the first alias found wins.
const ALIASES: [(&str, &str); 3] = [
    ("mongo_uri", "mongodb_uri"),
    ("mongodb_database", "mongodb_db"),
    ("mongo_db_name", "mongodb_db"),
];

/// Settings those deployments set that job-runner accepts and does not use.
pub const UNUSED_SETTINGS: [&str; 5] = [
    "PDF_SERVICE_URL",
    "REDIS_URL",
    "QUEUE_POLL_INTERVAL",
    "QUEUE_CLEANUP_INTERVAL",
    "QUEUE_CLEANUP_MAX_AGE",
];

/// Which of [`UNUSED_SETTINGS`] the environment sets (said at start-up).
pub fn unused_settings_present() -> Vec<&'static str> {
    UNUSED_SETTINGS
        .into_iter()
        .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        .collect()
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
        let figment = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(Toml::file(config_dir.join(format!("{}.toml", env.as_str()))))
            .merge(RawEnv);
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError(e.into_iter().map(|e| e.to_string()).collect()))?;
        Settings::from_raw(raw)
    }

    /// Validates raw settings, collecting every problem of every section.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, ConfigError> {
        let mut p = Problems::default();
        let settings = Settings {
            server: ServerSettings::validate(raw.server, &mut p),
            queue: QueueSettings::validate(raw.queue, &mut p),
            paths: PathSettings::validate(raw.paths, &mut p),
            logging: LoggingSettings::validate(raw.logging, &mut p),
            store: StoreSettings::validate(raw.store, &mut p),
            alerts: AlertSettings::validate(raw.alerts, &mut p),
            llm: LlmSettings::validate(raw.llm, &mut p),
            firecrawl: FirecrawlSettings::validate(raw.firecrawl, &mut p),
            publishing: PublishingSettings::validate(raw.publishing, &mut p),
        };
        if p.0.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError(p.0))
        }
    }

    /// Settings for tests and benchmarks: the defaults with every directory under `root`
    /// and any free port.
    pub fn for_root(root: &Path) -> Settings {
        let mut s = Settings::from_raw(RawSettings::defaults()).expect("defaults are valid");
        s.server.port = 0;
        s.paths.data_dir = root.join("data");
        s.paths.applications_dir = root.join("applications");
        s.paths.master_cv_path = root.join("master-cv.md");
        s.paths.profiles_dir = root.join("profiles");
        s
    }

    /// The address to bind.
    pub fn bind_address(&self) -> String {
        self.server.bind_address()
    }

    /// The URL settings that are not secrets as a whole, by name. Credentials written into
    /// them (`http://user:pw@host`) are secrets all the same: the redactor learns them
    /// and every rendering masks them.
    pub fn url_settings(&self) -> Vec<(&'static str, &str)> {
        let mut urls = self.llm.urls().to_vec();
        urls.push(("FIRECRAWL_BASE_URL", self.firecrawl.base_url.as_str()));
        urls
    }

    /// The resolved configuration as `NAME = value` lines, section by section, with every
    /// secret and every credential inside a URL masked.
    pub fn render_masked(&self) -> String {
        [
            self.server.render(),
            self.queue.render(),
            self.paths.render(),
            self.logging.render(),
            self.store.render(),
            self.alerts.render(),
            self.llm.render(),
            self.firecrawl.render(),
            self.publishing.render(),
        ]
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} = {v}\n"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::server::check_api_secret;
    use super::*;
    use crate::domain::StageName;
    use figment::providers::Serialized;

    fn raw() -> RawSettings {
        RawSettings::defaults()
    }

    /// The defaults with `key` set to `value` as a later layer would (a string, as from
    /// the environment, or a typed value as from TOML).
    fn with<T: Serialize>(pairs: &[(&str, T)]) -> Result<RawSettings, String> {
        pairs
            .iter()
            .fold(Figment::from(Toml::string(DEFAULT_TOML)), |f, (k, v)| {
                f.merge(Serialized::default(k, v))
            })
            .extract()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_shipped_defaults_state_every_setting_and_are_valid() {
        // Extracting fails if default.toml misses a setting that has no default of its own.
        let s = Settings::from_raw(raw()).unwrap();
        assert_eq!(s.queue.max_concurrency, 3);
        assert_eq!(s.server.host, "127.0.0.1");
        assert!(s.llm.prices.price("gpt-4o-mini").is_some());
        // Every rendered row comes from a section; the sections together name every key.
        let rendered = s.render_masked();
        for key in [
            "MAX_SSE_STREAMS",
            "LOG_BUFFER_LIMIT",
            "MONGODB_DB",
            "SMTP_TLS",
            "LLM_SCHEMA_MODE",
        ] {
            assert!(rendered.contains(&format!("{key} = ")), "{key} missing");
        }
    }

    #[test]
    fn out_of_range_values_name_the_key_and_range() {
        let mut r = raw();
        r.queue.max_concurrency = 0;
        r.logging.log_buffer_limit = 50;
        let err = Settings::from_raw(r).unwrap_err().to_string();
        assert!(err.contains("MAX_CONCURRENCY must be 1–20, got 0"), "{err}");
        assert!(err.contains("LOG_BUFFER_LIMIT must be 100–10000, got 50"), "{err}");
    }

    #[test]
    fn production_requires_a_long_secret() {
        let mut r = raw();
        r.server.environment = "production".into();
        assert!(Settings::from_raw(r.clone())
            .unwrap_err()
            .to_string()
            .contains("RUNNER_API_SECRET is required"));
        r.server.runner_api_secret = Some("short".into());
        assert!(Settings::from_raw(r.clone())
            .unwrap_err()
            .to_string()
            .contains("at least 16"));
        r.server.runner_api_secret = Some("0123456789abcdef".into());
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
        let r = with(&[("runner_api_secret", "000012345678901234567")]).unwrap();
        assert_eq!(r.server.runner_api_secret.as_deref(), Some("000012345678901234567"));
        // RawEnv itself: every value is a string, numbers still parse where a setting is one.
        let data = figment::Provider::data(&RawEnv).unwrap();
        let dict = &data[&figment::Profile::Default];
        assert!(dict.values().all(|v| v.as_str().is_some()));
    }

    #[test]
    fn old_env_values_parse_leniently() {
        let r = with(&[("use_anthropic", "1"), ("max_concurrency", "5")]).unwrap();
        assert!(r.llm.use_anthropic);
        assert_eq!(r.queue.max_concurrency, 5);
        let r = with(&[("runner_api_secret", 1234567890123456789_i64)]).unwrap();
        assert_eq!(r.server.runner_api_secret.as_deref(), Some("1234567890123456789"));
    }

    #[test]
    fn rendered_config_masks_secrets() {
        let mut r = raw();
        r.server.runner_api_secret = Some("super-secret-value-123".into());
        r.llm.openai_api_key = Some("sk-live-abcdef".into());
        let out = Settings::from_raw(r).unwrap().render_masked();
        assert!(!out.contains("super-secret-value-123"));
        assert!(!out.contains("sk-live-abcdef"));
        assert!(out.contains("RUNNER_API_SECRET = ****"));
    }

    #[test]
    fn llm_settings_are_validated_and_prices_come_from_toml_or_json() {
        let r = with(&[
            ("llm_prices", r#"{"my-model": {"input": 0.1, "output": 0.2}}"#),
            ("max_cost_per_run", "0.25"),
            ("cv_model", "gpt-4o"),
        ])
        .unwrap();
        let s = Settings::from_raw(r).unwrap();
        assert_eq!(s.llm.prices.len(), 1, "LLM_PRICES replaces the table");
        assert!((s.llm.prices.cost("my-model", 1_000_000, 1_000_000).unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(s.llm.max_cost_per_run, 0.25);
        assert_eq!(s.llm.stage_models[&StageName::Cv], "gpt-4o");

        let mut r = raw();
        r.llm.max_cost_per_run = -1.0;
        r.llm.openai_base_url = "localhost:8080".into();
        r.firecrawl.max_firecrawl_calls_per_run = 5000;
        r.llm.llm_prices.insert(
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
        let bad_json = with(&[("llm_prices", "not json")]);
        assert!(bad_json.unwrap_err().contains("LLM_PRICES must be a JSON object"));
    }

    #[test]
    fn tiers_come_from_the_table_or_json_and_are_validated() {
        let shipped = Settings::from_raw(raw()).unwrap();
        assert_eq!(shipped.llm.tiers[&TierClass::Quality].contacts, 5);
        assert_eq!(shipped.llm.tiers[&TierClass::Fast].model_for(StageName::Cv), None);
        let r = with(&[(
            "tiers",
            r#"{"quality": {"model": "big", "cv_model": "bigger", "contacts": 4}}"#,
        )])
        .unwrap();
        let s = Settings::from_raw(r).unwrap();
        let q = &s.llm.tiers[&TierClass::Quality];
        assert_eq!(
            (q.model_for(StageName::Cv), q.model_for(StageName::Research)),
            (Some("bigger"), Some("big"))
        );
        assert_eq!(s.llm.tiers.len(), 1, "TIERS replaces the table");
        let r = with(&[("tiers", r#"{"gold": {}, "fast": {"contacts": 12}}"#)]).unwrap();
        let err = Settings::from_raw(r).unwrap_err().to_string();
        assert!(
            err.contains("unknown tier \"gold\"") && err.contains("fast.contacts must be 0–8, got 12"),
            "{err}"
        );
        assert!(with(&[("tiers", r#"{"fast": {"colour": "red"}}"#)])
            .unwrap_err()
            .contains("TIERS must be a JSON object"));
    }

    #[test]
    fn every_section_reports_its_problems_in_one_load() {
        let mut r = raw();
        r.server.port = 70_000;
        r.alerts.smtp_tls = "maybe".into();
        r.logging.log_format = "xml".into();
        r.store.mongodb_db = " ".into();
        let err = Settings::from_raw(r).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
    }
}
