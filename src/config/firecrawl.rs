//! The `firecrawl` section: web research through FireCrawl (key, base URL, rate limit,
//! per-run cap, cache lifetime) and whether it also looks for contacts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{masked, secret, Problems};
use super::{mask_url_credentials, Secret};

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub firecrawl_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub firecrawl_base_url: String,
    #[serde(deserialize_with = "lenient::boolean")]
    pub disable_firecrawl_outreach: bool,
    #[serde(deserialize_with = "lenient::int")]
    pub firecrawl_rate_per_minute: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub max_firecrawl_calls_per_run: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub research_cache_ttl_hours: i64,
}

/// FireCrawl web research settings.
#[derive(Debug, Clone)]
pub struct FirecrawlSettings {
    /// `FIRECRAWL_API_KEY`; without it research uses the posting only.
    pub api_key: Option<Secret>,
    /// `FIRECRAWL_BASE_URL`.
    pub base_url: String,
    /// `DISABLE_FIRECRAWL_OUTREACH`: no contact discovery (contacts are role-based).
    pub disable_outreach: bool,
    /// Requests per minute across all runs.
    pub rate_per_minute: u32,
    /// FireCrawl requests one run may make (cache hits are free).
    pub max_calls_per_run: u32,
    /// How long a scraped page or search result is reused.
    pub cache_ttl: Duration,
}

impl FirecrawlSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        Self {
            api_key: secret(raw.firecrawl_api_key),
            base_url: p.http_url("FIRECRAWL_BASE_URL", &raw.firecrawl_base_url),
            disable_outreach: raw.disable_firecrawl_outreach,
            rate_per_minute: p.ranged("FIRECRAWL_RATE_PER_MINUTE", raw.firecrawl_rate_per_minute, 1, 10_000) as u32,
            max_calls_per_run: p.ranged("MAX_FIRECRAWL_CALLS_PER_RUN", raw.max_firecrawl_calls_per_run, 0, 1000) as u32,
            cache_ttl: Duration::from_secs(
                p.ranged("RESEARCH_CACHE_TTL_HOURS", raw.research_cache_ttl_hours, 0, 8760) as u64 * 3600,
            ),
        }
    }

    /// The section as `NAME = value` rows, the key masked.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FIRECRAWL_API_KEY", masked(&self.api_key)),
            ("FIRECRAWL_BASE_URL", mask_url_credentials(&self.base_url).into_owned()),
            ("DISABLE_FIRECRAWL_OUTREACH", self.disable_outreach.to_string()),
            ("FIRECRAWL_RATE_PER_MINUTE", self.rate_per_minute.to_string()),
            ("MAX_FIRECRAWL_CALLS_PER_RUN", self.max_calls_per_run.to_string()),
            (
                "RESEARCH_CACHE_TTL_HOURS",
                (self.cache_ttl.as_secs() / 3600).to_string(),
            ),
        ]
    }
}
