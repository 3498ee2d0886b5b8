//! Web research through FireCrawl: company pages and news for the research stage, public
//! profiles for contact discovery. Searches ask FireCrawl to scrape each result in the same
//! call (`scrapeOptions`), so one request yields the pages' text. Every request is rate
//! limited across all runs (`FIRECRAWL_RATE_PER_MINUTE`), counted against the run's
//! allowance (`MAX_FIRECRAWL_CALLS_PER_RUN`), and its answer cached in the store for
//! `RESEARCH_CACHE_TTL_HOURS`, so the same company is not paid for twice. Cache hits are free.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};

use crate::config::{Secret, Settings};
use crate::llm::run_spend::RunSpend;
use crate::metrics::Metrics;
use crate::runlog::RunLog;
use crate::store::DynStore;

/// One search result or scraped page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub url: String,
    pub title: String,
    /// Description or page text (markdown).
    pub text: String,
}

/// The FireCrawl client.
pub struct Firecrawl {
    base_url: String,
    key: Secret,
    http: reqwest::Client,
    limiter: DefaultDirectRateLimiter,
    store: DynStore,
    cache_ttl: Duration,
    max_calls_per_run: u32,
    metrics: Arc<Metrics>,
}

impl Firecrawl {
    /// The client the settings describe, or `None` without `FIRECRAWL_API_KEY`.
    pub fn from_settings(settings: &Settings, store: DynStore, metrics: Arc<Metrics>) -> Result<Option<Self>, String> {
        let Some(key) = settings.firecrawl.api_key.clone() else {
            tracing::info!("no FIRECRAWL_API_KEY: research and contacts come from the posting only");
            return Ok(None);
        };
        let f = &settings.firecrawl;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        tracing::info!(
            base_url = %crate::config::mask_url_credentials(&f.base_url),
            rate_per_minute = f.rate_per_minute,
            max_calls_per_run = f.max_calls_per_run,
            outreach = !settings.firecrawl.disable_outreach,
            "FireCrawl web research enabled"
        );
        Ok(Some(Self {
            base_url: f.base_url.clone(),
            key,
            http,
            limiter: RateLimiter::direct(Quota::per_minute(
                NonZeroU32::new(f.rate_per_minute.max(1)).expect("at least 1"),
            )),
            store,
            cache_ttl: f.cache_ttl,
            max_calls_per_run: f.max_calls_per_run,
            metrics,
        }))
    }

    /// Web search; each result carries its URL and, when FireCrawl scraped it, its text.
    /// `fresh` (a run's `force_refresh`) ignores a cached answer and caches the new one.
    pub async fn search(
        &self,
        query: &str,
        limit: u32,
        spend: &RunSpend,
        log: &RunLog,
        fresh: bool,
    ) -> Result<Vec<Page>, String> {
        let key = format!("firecrawl:search:{limit}:{}", query.trim().to_lowercase());
        let body = json!({
            "query": query,
            "limit": limit,
            "scrapeOptions": {"formats": ["markdown"], "onlyMainContent": true},
        });
        let v = self.cached_post(&key, "/v1/search", &body, spend, log, fresh).await?;
        Ok(v.get("data")
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(page_of).collect())
            .unwrap_or_default())
    }

    async fn cached_post(
        &self,
        key: &str,
        path: &str,
        body: &Value,
        spend: &RunSpend,
        log: &RunLog,
        fresh: bool,
    ) -> Result<Value, String> {
        let now = chrono::Utc::now();
        let cached = if fresh {
            log.info(format!("force_refresh: the research cache is not read for {path}"));
            Ok(None)
        } else {
            self.store.cache_get(key, now).await
        };
        match cached {
            Ok(Some(v)) => {
                self.metrics.firecrawl_request("cache_hit");
                log.info(format!("research cache hit for {path} (no FireCrawl call)"));
                return Ok(v);
            }
            Ok(None) => {}
            Err(e) => log.warn(format!("research cache unavailable ({e}); asking FireCrawl")),
        }
        if !spend.take_firecrawl_call(self.max_calls_per_run) {
            self.metrics.firecrawl_request("capped");
            return Err(format!(
                "MAX_FIRECRAWL_CALLS_PER_RUN ({}) reached for this run",
                self.max_calls_per_run
            ));
        }
        self.limiter.until_ready().await;
        let answer = self.post(path, body).await;
        self.metrics
            .firecrawl_request(if answer.is_ok() { "ok" } else { "error" });
        let v = answer?;
        log.info(format!(
            "FireCrawl {path}: call {} of at most {} for this run",
            spend.firecrawl_calls(),
            self.max_calls_per_run
        ));
        let expires = now + chrono::Duration::from_std(self.cache_ttl).unwrap_or_default();
        if let Err(e) = self.store.cache_put(key, &v, expires).await {
            log.warn(format!("could not cache the FireCrawl answer: {e}"));
        }
        Ok(v)
    }

    /// One request, its status mapped to a message that never shows the key.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        let res = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(self.key.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| format!("FireCrawl {path} failed: {}", e.without_url()))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| format!("FireCrawl {path}: reading the answer failed: {}", e.without_url()))?;
        match status {
            200..=299 => {}
            401 | 403 => return Err(format!("FireCrawl rejected FIRECRAWL_API_KEY (HTTP {status})")),
            402 => return Err("FireCrawl says the account has no credits left (HTTP 402)".into()),
            _ => {
                return Err(format!(
                    "FireCrawl {path} answered HTTP {status}: {}",
                    text.chars().take(200).collect::<String>()
                ))
            }
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("FireCrawl {path}: answer is not JSON: {e}"))?;
        if v.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(format!(
                "FireCrawl {path} reported failure: {}",
                v.get("error").and_then(Value::as_str).unwrap_or("no reason given")
            ));
        }
        Ok(v)
    }
}

fn page_of(v: &Value) -> Option<Page> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_owned();
    let url = [s("/url"), s("/metadata/sourceURL"), s("/metadata/url")]
        .into_iter()
        .find(|u| u.starts_with("http"))?;
    let title = [s("/title"), s("/metadata/title")]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let text = [s("/markdown"), s("/description"), s("/metadata/description")]
        .into_iter()
        .find(|t| !t.trim().is_empty())
        .unwrap_or_default();
    Some(Page { url, title, text })
}

/// A person from a public-profile search result title such as
/// `Jane Doe - Engineering Manager - Acme | LinkedIn`: `(name, role)`.
pub fn person_of(page: &Page) -> Option<(String, String)> {
    if !page.url.contains("linkedin.com/in/") {
        return None;
    }
    let title = page.title.split(" | ").next().unwrap_or("");
    let parts = title.replace(" – ", " - ").replace(" — ", " - ");
    let fields: Vec<&str> = parts.split(" - ").map(str::trim).filter(|s| !s.is_empty()).collect();
    let name = fields.first()?.to_string();
    let words = name.split_whitespace().count();
    if !(2..=4).contains(&words) || name.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let role = fields
        .get(1)
        .map(|r| r.to_string())
        .unwrap_or_else(|| "Employee".into());
    Some((name, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str, title: &str) -> Page {
        Page {
            url: url.into(),
            title: title.into(),
            text: String::new(),
        }
    }

    #[test]
    fn people_come_from_profile_result_titles_only() {
        assert_eq!(
            person_of(&page(
                "https://www.linkedin.com/in/jane-doe",
                "Jane Doe - Engineering Manager - Acme | LinkedIn"
            )),
            Some(("Jane Doe".into(), "Engineering Manager".into()))
        );
        assert_eq!(
            person_of(&page(
                "https://www.linkedin.com/in/x",
                "Ana María López – Head of Talent – Acme"
            )),
            Some(("Ana María López".into(), "Head of Talent".into()))
        );
        assert_eq!(
            person_of(&page("https://acme.com/team", "Jane Doe - Engineering Manager")),
            None
        );
        assert_eq!(
            person_of(&page("https://www.linkedin.com/in/x", "Acme | LinkedIn")),
            None
        );
    }

    #[test]
    fn search_results_and_scrapes_become_pages() {
        let v = json!({"url": "https://acme.com/news", "title": "News", "markdown": "Acme raised $10M."});
        assert_eq!(
            page_of(&v),
            Some(Page {
                url: "https://acme.com/news".into(),
                title: "News".into(),
                text: "Acme raised $10M.".into()
            })
        );
        let scraped = json!({"markdown": "# Acme", "metadata": {"sourceURL": "https://acme.com", "title": "Acme"}});
        assert_eq!(page_of(&scraped).unwrap().url, "https://acme.com");
        assert_eq!(page_of(&json!({"title": "no url"})), None);
    }
}
