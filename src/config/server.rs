//! The `server` section: deployment environment, listen address, the bearer secret and
//! who may go without it, CORS, request and stream limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{masked, secret, Problems};
use super::Secret;

/// Deployment environment; anything but `development` requires a strong API secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local use: auth may be off (on loopback), pretty logs.
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

    /// Parses `development` (`dev`, `local`), `staging` or `production` (`prod`).
    pub fn parse(raw: &str) -> Result<Self, String> {
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

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(deserialize_with = "lenient::string")]
    pub environment: String,
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    #[serde(deserialize_with = "lenient::int")]
    pub port: i64,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub runner_api_secret: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub allow_no_auth: bool,
    #[serde(deserialize_with = "lenient::string")]
    pub cors_origins: String,
    #[serde(deserialize_with = "lenient::int")]
    pub max_body_bytes: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub sse_keep_alive_seconds: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_sse_streams: i64,
    #[serde(deserialize_with = "lenient::boolean")]
    pub open_read_routes: bool,
    #[serde(deserialize_with = "lenient::int")]
    pub rate_limit_per_minute: i64,
    #[serde(deserialize_with = "lenient::string")]
    pub trusted_proxies: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub jwt_secret: Option<String>,
    #[serde(deserialize_with = "lenient::int")]
    pub run_token_ttl_seconds: i64,
    #[serde(deserialize_with = "lenient::boolean")]
    pub open_docs: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_console: bool,
    #[serde(deserialize_with = "lenient::int")]
    pub session_ttl_seconds: i64,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub environment: Environment,
    pub host: String,
    pub port: u16,
    /// Bearer secret; `None` only in development (auth then off, see [`check_api_secret`]).
    pub runner_api_secret: Option<Secret>,
    /// `ALLOW_NO_AUTH`: serve without a secret on a non-loopback address (never in
    /// staging or production).
    pub allow_no_auth: bool,
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Interval of keep-alive comments on idle log streams.
    pub sse_keep_alive: Duration,
    /// Open SSE log streams allowed at once (`MAX_SSE_STREAMS`); beyond it, 503.
    pub max_sse_streams: usize,
    /// `OPEN_READ_ROUTES`: the dashboard's polling reads need no bearer (see
    /// `http::is_open_read`); nothing that changes state or serves a file is opened.
    pub open_read_routes: bool,
    /// `RATE_LIMIT_PER_MINUTE`: state-changing requests one client may make per minute
    /// (0 = no limit).
    pub rate_limit_per_minute: u32,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `JWT_SECRET`: signs run-scoped read tokens (`stream_token`); `None` = none issued.
    pub jwt_secret: Option<Secret>,
    /// `RUN_TOKEN_TTL_SECONDS`: how long a run token issued with a run is valid.
    pub run_token_ttl: Duration,
    /// `OPEN_DOCS`: `/docs` and `/openapi.json` need no bearer (always so in development).
    pub open_docs: bool,
    /// `ENABLE_CONSOLE`: serve the operator console at `/`.
    pub enable_console: bool,
    /// `SESSION_TTL_SECONDS`: how long a console session lasts unused (renewed while in
    /// use, at most 12 hours after the login).
    pub session_ttl: Duration,
}

impl ServerSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        let port = p.ranged("PORT", raw.port, 0, 65_535) as u16;
        let max_body_bytes = p.ranged("MAX_BODY_BYTES", raw.max_body_bytes, 1024, 16 * 1024 * 1024) as usize;
        let keep_alive = p.ranged("SSE_KEEP_ALIVE_SECONDS", raw.sse_keep_alive_seconds, 1, 300) as u64;
        let max_sse_streams = p.ranged("MAX_SSE_STREAMS", raw.max_sse_streams, 1, 100_000) as usize;
        let environment = Environment::parse(&raw.environment).unwrap_or_else(|e| {
            p.push(e);
            Environment::Development
        });
        p.not_empty("HOST", &raw.host);
        let runner_api_secret = secret(raw.runner_api_secret);
        for problem in check_api_secret(
            runner_api_secret.as_ref().map(Secret::expose),
            environment,
            &raw.host,
            raw.allow_no_auth,
        ) {
            p.push(problem);
        }
        let jwt_secret = secret(raw.jwt_secret);
        for problem in check_jwt_secret(
            jwt_secret.as_ref().map(Secret::expose),
            runner_api_secret.as_ref().map(Secret::expose),
        ) {
            p.push(problem);
        }
        let ttl = p.ranged(
            "RUN_TOKEN_TTL_SECONDS",
            raw.run_token_ttl_seconds,
            60,
            MAX_RUN_TOKEN_TTL_SECONDS,
        ) as u64;
        Self {
            environment,
            host: raw.host.trim().to_owned(),
            port,
            runner_api_secret,
            jwt_secret,
            run_token_ttl: Duration::from_secs(ttl),
            open_docs: raw.open_docs,
            enable_console: raw.enable_console,
            session_ttl: Duration::from_secs(
                p.ranged("SESSION_TTL_SECONDS", raw.session_ttl_seconds, 60, 43_200) as u64
            ),
            allow_no_auth: raw.allow_no_auth,
            cors_origins: raw
                .cors_origins
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            max_body_bytes,
            sse_keep_alive: Duration::from_secs(keep_alive),
            max_sse_streams,
            open_read_routes: raw.open_read_routes,
            rate_limit_per_minute: p.ranged("RATE_LIMIT_PER_MINUTE", raw.rate_limit_per_minute, 0, 100_000) as u32,
            trusted_proxies: raw
                .trusted_proxies
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| match s.parse() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        p.push(format!("TRUSTED_PROXIES: {s:?} is not an IP address"));
                        None
                    }
                })
                .collect(),
        }
    }

    /// The section as `NAME = value` rows, secrets masked.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ENVIRONMENT", self.environment.as_str().into()),
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("RUNNER_API_SECRET", masked(&self.runner_api_secret)),
            ("ALLOW_NO_AUTH", self.allow_no_auth.to_string()),
            ("CORS_ORIGINS", self.cors_origins.join(",")),
            ("MAX_BODY_BYTES", self.max_body_bytes.to_string()),
            ("SSE_KEEP_ALIVE_SECONDS", self.sse_keep_alive.as_secs().to_string()),
            ("MAX_SSE_STREAMS", self.max_sse_streams.to_string()),
            ("OPEN_READ_ROUTES", self.open_read_routes.to_string()),
            ("RATE_LIMIT_PER_MINUTE", self.rate_limit_per_minute.to_string()),
            (
                "TRUSTED_PROXIES",
                self.trusted_proxies
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("JWT_SECRET", masked(&self.jwt_secret)),
            ("RUN_TOKEN_TTL_SECONDS", self.run_token_ttl.as_secs().to_string()),
            ("OPEN_DOCS", self.open_docs.to_string()),
            ("ENABLE_CONSOLE", self.enable_console.to_string()),
            ("SESSION_TTL_SECONDS", self.session_ttl.as_secs().to_string()),
        ]
    }

    /// True when `/docs` and `/openapi.json` are served without the bearer: `OPEN_DOCS`,
    /// `OPEN_READ_ROUTES`, or development.
    pub fn docs_are_open(&self) -> bool {
        self.open_docs || self.open_read_routes || self.environment == Environment::Development
    }

    /// The address to bind.
    pub fn bind_address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
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

/// The longest a run token may live (`RUN_TOKEN_TTL_SECONDS`, `job-runner token --ttl`): 7 days.
pub const MAX_RUN_TOKEN_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// The shortest `JWT_SECRET` (bytes): HS256 wants a key as long as its hash.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// What is wrong with the token-signing secret, if anything: at least 32 bytes, not a
/// placeholder, and never the bearer secret (a leaked token key must not be the API key).
pub fn check_jwt_secret(jwt: Option<&str>, api: Option<&str>) -> Vec<String> {
    let Some(jwt) = jwt else {
        return Vec::new();
    };
    let lower = jwt.to_ascii_lowercase();
    if let Some(mark) = PLACEHOLDER_MARKS.iter().find(|m| lower.contains(*m)) {
        return vec![format!(
            "JWT_SECRET looks like a placeholder (it contains {mark:?}); {GENERATE_SECRET}"
        )];
    }
    let mut errors = Vec::new();
    if jwt.len() < MIN_JWT_SECRET_BYTES {
        errors.push(format!(
            "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes, got {}; {GENERATE_SECRET}",
            jwt.len()
        ));
    }
    if api == Some(jwt) {
        errors.push(format!(
            "JWT_SECRET must differ from RUNNER_API_SECRET (a token key is not the API key); {GENERATE_SECRET}"
        ));
    }
    errors
}

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
pub fn check_api_secret(secret: Option<&str>, env: Environment, host: &str, allow_no_auth: bool) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_key_is_long_real_and_not_the_api_secret() {
        let good = "4f1c9a0e7b2d4c6e8f1a3b5c7d9e0f214f1c9a0e";
        assert!(check_jwt_secret(None, Some(good)).is_empty(), "unset: tokens off");
        assert!(check_jwt_secret(Some(good), Some("another-api-secret-value")).is_empty());
        let short = check_jwt_secret(Some("0123456789abcdef"), None);
        assert!(short[0].contains("at least 32 bytes, got 16"), "{short:?}");
        let placeholder = check_jwt_secret(Some("change-me-change-me-change-me-change-me"), None);
        assert!(placeholder[0].contains("placeholder"), "{placeholder:?}");
        let same = check_jwt_secret(Some(good), Some(good));
        assert!(same[0].contains("must differ from RUNNER_API_SECRET"), "{same:?}");
        assert!(!same[0].contains(good), "the secret is never echoed");
    }
}
