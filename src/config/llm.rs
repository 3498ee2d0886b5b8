//! The `llm` section: the provider keys and switches (the old runner's names), base URLs,
//! the model of every stage, timeouts and retries, the circuit breaker, rate limits, the
//! prompt budget, the schema mode, the run's budget and the price table, and prompt files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::pricing::PriceTable;
use super::problems::{masked, non_blank, secret, shown, Problems};
use super::{mask_url_credentials, SchemaMode, Secret};
use crate::domain::StageName;

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub openai_api_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub anthropic_api_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub openrouter_api_key: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub use_anthropic: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub use_openrouter: bool,
    #[serde(deserialize_with = "lenient::string")]
    pub openai_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub anthropic_base_url: String,
    #[serde(deserialize_with = "lenient::string")]
    pub openrouter_base_url: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub llm_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub extract_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub pain_points_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub research_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub fit_score_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cv_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cv_review_model: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cover_letter_model: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub enable_star_selector: bool,
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
    #[serde(deserialize_with = "lenient::int")]
    pub extract_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub pain_points_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub research_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub outreach_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub fit_score_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub star_selection_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub cv_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub cv_review_output_tokens: i64,
    #[serde(deserialize_with = "lenient::int")]
    pub cover_letter_output_tokens: i64,
    #[serde(deserialize_with = "lenient::string")]
    pub llm_schema_mode: String,
    #[serde(deserialize_with = "lenient::float")]
    pub max_cost_per_run: f64,
    #[serde(deserialize_with = "lenient::float")]
    pub daily_budget_usd: f64,
    #[serde(deserialize_with = "lenient::float")]
    pub monthly_budget_usd: f64,
    #[serde(deserialize_with = "lenient::prices")]
    pub llm_prices: BTreeMap<String, lenient::PriceRow>,
    #[serde(default, deserialize_with = "lenient::tiers")]
    pub tiers: BTreeMap<String, lenient::TierRow>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub prompts_dir: Option<String>,
}

/// A processing tier's class: what `fast`, `balanced` and `quality` (and the legacy
/// letters) choose models and contacts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TierClass {
    Fast,
    Balanced,
    Quality,
}

impl TierClass {
    /// Every class.
    pub const ALL: [TierClass; 3] = [TierClass::Fast, TierClass::Balanced, TierClass::Quality];

    /// The name in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            TierClass::Fast => "fast",
            TierClass::Balanced => "balanced",
            TierClass::Quality => "quality",
        }
    }
}

/// What a tier class changes: models (one for every stage, then per stage) and how many
/// contacts the research keeps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TierSettings {
    pub model: Option<String>,
    pub stage_models: BTreeMap<StageName, String>,
    pub contacts: usize,
}

impl TierSettings {
    /// The model this tier gives `stage`, if it changes it.
    pub fn model_for(&self, stage: StageName) -> Option<&str> {
        self.stage_models
            .get(&stage)
            .or(self.model.as_ref())
            .map(String::as_str)
    }
}

/// Each prompt's output limit setting, in the order they are listed.
pub const OUTPUT_LIMIT_SETTINGS: [(&str, &str); 9] = [
    ("extract", "EXTRACT_OUTPUT_TOKENS"),
    ("pain_points", "PAIN_POINTS_OUTPUT_TOKENS"),
    ("research", "RESEARCH_OUTPUT_TOKENS"),
    ("outreach", "OUTREACH_OUTPUT_TOKENS"),
    ("fit_score", "FIT_SCORE_OUTPUT_TOKENS"),
    ("star_selection", "STAR_SELECTION_OUTPUT_TOKENS"),
    ("cv", "CV_OUTPUT_TOKENS"),
    ("cv_review", "CV_REVIEW_OUTPUT_TOKENS"),
    ("cover_letter", "COVER_LETTER_OUTPUT_TOKENS"),
];

/// Everything the LLM layer needs.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub openai_api_key: Option<Secret>,
    pub anthropic_api_key: Option<Secret>,
    pub openrouter_api_key: Option<Secret>,
    /// `USE_ANTHROPIC`: prefer Anthropic when its key is set.
    pub use_anthropic: bool,
    /// `USE_OPENROUTER`: prefer OpenRouter when its key is set.
    pub use_openrouter: bool,
    /// `OPENAI_BASE_URL`: OpenAI, or any OpenAI-compatible server (Ollama, vLLM, llama.cpp).
    pub openai_base_url: String,
    /// `ANTHROPIC_BASE_URL`.
    pub anthropic_base_url: String,
    /// `OPENROUTER_BASE_URL`.
    pub openrouter_base_url: String,
    /// `LLM_MODEL`: the model of every stage without an override (else the provider's default).
    pub model: Option<String>,
    /// Per-stage overrides (`EXTRACT_MODEL`, `PAIN_POINTS_MODEL`, `RESEARCH_MODEL`,
    /// `FIT_SCORE_MODEL`, `CV_MODEL`, `CV_REVIEW_MODEL`, `COVER_LETTER_MODEL`).
    pub stage_models: BTreeMap<StageName, String>,
    /// `ENABLE_STAR_SELECTOR`: the model picks the CV's achievement records.
    pub enable_star_selector: bool,
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
    /// Output limit (max tokens) per prompt (`<PROMPT>_OUTPUT_TOKENS`); a cut answer is
    /// asked again once with twice the limit.
    pub output_tokens: BTreeMap<&'static str, u32>,
    /// How the answer's JSON Schema is sent to an OpenAI-compatible server.
    pub schema_mode: SchemaMode,
    /// `MAX_COST_PER_RUN` in USD: no call is made that would push a run's spend past it.
    pub max_cost_per_run: f64,
    /// `DAILY_BUDGET_USD` (0 = no daily tracker): once today's spend reached it, new runs'
    /// stages run offline.
    pub daily_budget_usd: f64,
    /// `MONTHLY_BUDGET_USD` (0 = no monthly tracker), the same over the calendar month.
    pub monthly_budget_usd: f64,
    /// Model → price per 1M tokens.
    pub prices: PriceTable,
    /// `PROMPTS_DIR`: prompt files overriding the shipped ones.
    pub prompts_dir: Option<PathBuf>,
    /// `[tiers.fast]`, `[tiers.balanced]`, `[tiers.quality]` (or `TIERS` as JSON).
    pub tiers: BTreeMap<TierClass, TierSettings>,
}

impl LlmSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        let max_cost_per_run = p.non_negative("MAX_COST_PER_RUN", raw.max_cost_per_run, " (USD)");
        let daily_budget_usd = p.non_negative("DAILY_BUDGET_USD", raw.daily_budget_usd, " (USD, 0 = none)");
        let monthly_budget_usd = p.non_negative("MONTHLY_BUDGET_USD", raw.monthly_budget_usd, " (USD, 0 = none)");
        for (model, price) in &raw.llm_prices {
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !(ok(price.input) && ok(price.output)) {
                p.push(format!(
                    "LLM_PRICES: prices of {model:?} must be numbers ≥ 0, got input {} and output {}",
                    price.input, price.output
                ));
            }
        }
        let schema_mode = SchemaMode::parse(&raw.llm_schema_mode).unwrap_or_else(|e| {
            p.push(e);
            SchemaMode::Off
        });
        let limits = [
            raw.extract_output_tokens,
            raw.pain_points_output_tokens,
            raw.research_output_tokens,
            raw.outreach_output_tokens,
            raw.fit_score_output_tokens,
            raw.star_selection_output_tokens,
            raw.cv_output_tokens,
            raw.cv_review_output_tokens,
            raw.cover_letter_output_tokens,
        ];
        let output_tokens = OUTPUT_LIMIT_SETTINGS
            .iter()
            .zip(limits)
            .map(|((prompt, name), v)| (*prompt, p.ranged(name, v, 64, 16_384) as u32))
            .collect();
        let mut tiers = BTreeMap::new();
        for (name, row) in &raw.tiers {
            let Some(class) = TierClass::ALL.into_iter().find(|c| c.as_str() == name.as_str()) else {
                p.push(format!(
                    "TIERS: unknown tier {name:?}; the tiers are fast, balanced and quality"
                ));
                continue;
            };
            let contacts = match row.contacts {
                Some(n) if (0..=8).contains(&n) => n as usize,
                Some(n) => {
                    p.push(format!("TIERS: {name}.contacts must be 0–8, got {n}"));
                    3
                }
                None => 3,
            };
            let stage_models = [
                (StageName::Extract, &row.extract_model),
                (StageName::PainPoints, &row.pain_points_model),
                (StageName::Research, &row.research_model),
                (StageName::FitScore, &row.fit_score_model),
                (StageName::Cv, &row.cv_model),
                (StageName::CvReview, &row.cv_review_model),
                (StageName::CoverLetter, &row.cover_letter_model),
            ]
            .into_iter()
            .filter_map(|(stage, m)| non_blank(m.clone()).map(|m| (stage, m.trim().to_owned())))
            .collect();
            tiers.insert(
                class,
                TierSettings {
                    model: non_blank(row.model.clone()).map(|m| m.trim().to_owned()),
                    stage_models,
                    contacts,
                },
            );
        }
        let stage_models = [
            (StageName::Extract, raw.extract_model),
            (StageName::PainPoints, raw.pain_points_model),
            (StageName::Research, raw.research_model),
            (StageName::FitScore, raw.fit_score_model),
            (StageName::Cv, raw.cv_model),
            (StageName::CvReview, raw.cv_review_model),
            (StageName::CoverLetter, raw.cover_letter_model),
        ]
        .into_iter()
        .filter_map(|(stage, m)| non_blank(m).map(|m| (stage, m.trim().to_owned())))
        .collect();
        Self {
            openai_api_key: secret(raw.openai_api_key),
            anthropic_api_key: secret(raw.anthropic_api_key),
            openrouter_api_key: secret(raw.openrouter_api_key),
            use_anthropic: raw.use_anthropic,
            use_openrouter: raw.use_openrouter,
            openai_base_url: p.http_url("OPENAI_BASE_URL", &raw.openai_base_url),
            anthropic_base_url: p.http_url("ANTHROPIC_BASE_URL", &raw.anthropic_base_url),
            openrouter_base_url: p.http_url("OPENROUTER_BASE_URL", &raw.openrouter_base_url),
            model: non_blank(raw.llm_model),
            stage_models,
            enable_star_selector: raw.enable_star_selector,
            timeout: Duration::from_secs(p.ranged("LLM_TIMEOUT_SECONDS", raw.llm_timeout_seconds, 1, 600) as u64),
            max_attempts: p.ranged("LLM_MAX_ATTEMPTS", raw.llm_max_attempts, 1, 10) as u32,
            retry_base: Duration::from_millis(p.ranged("LLM_RETRY_BASE_MS", raw.llm_retry_base_ms, 1, 60_000) as u64),
            circuit_threshold: p.ranged("LLM_CIRCUIT_THRESHOLD", raw.llm_circuit_threshold, 1, 100) as u32,
            circuit_cooldown: Duration::from_secs(p.ranged(
                "LLM_CIRCUIT_COOLDOWN_SECONDS",
                raw.llm_circuit_cooldown_seconds,
                1,
                3600,
            ) as u64),
            requests_per_minute: p.ranged("LLM_REQUESTS_PER_MINUTE", raw.llm_requests_per_minute, 1, 100_000) as u32,
            tokens_per_minute: p.ranged("LLM_TOKENS_PER_MINUTE", raw.llm_tokens_per_minute, 1000, 100_000_000) as u32,
            input_tokens: p.ranged("LLM_INPUT_TOKENS", raw.llm_input_tokens, 500, 1_000_000) as usize,
            output_tokens,
            schema_mode,
            max_cost_per_run,
            daily_budget_usd,
            monthly_budget_usd,
            prices: PriceTable::from_rows(raw.llm_prices.iter().map(|(m, p)| (m.as_str(), p.input, p.output))),
            prompts_dir: non_blank(raw.prompts_dir).map(PathBuf::from),
            tiers,
        }
    }

    /// The output limit of `prompt` (1,000 for a prompt without a setting).
    pub fn output_limit(&self, prompt: &str) -> u32 {
        self.output_tokens.get(prompt).copied().unwrap_or(1000)
    }

    /// The section as `NAME = value` rows, keys masked and credentials in URLs masked.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        let limits = OUTPUT_LIMIT_SETTINGS
            .iter()
            .map(|(prompt, name)| (*name, self.output_limit(prompt).to_string()));
        let mut rows = vec![
            ("OPENAI_API_KEY", masked(&self.openai_api_key)),
            ("ANTHROPIC_API_KEY", masked(&self.anthropic_api_key)),
            ("OPENROUTER_API_KEY", masked(&self.openrouter_api_key)),
            ("USE_ANTHROPIC", self.use_anthropic.to_string()),
            ("USE_OPENROUTER", self.use_openrouter.to_string()),
            (
                "OPENAI_BASE_URL",
                mask_url_credentials(&self.openai_base_url).into_owned(),
            ),
            (
                "ANTHROPIC_BASE_URL",
                mask_url_credentials(&self.anthropic_base_url).into_owned(),
            ),
            (
                "OPENROUTER_BASE_URL",
                mask_url_credentials(&self.openrouter_base_url).into_owned(),
            ),
            ("LLM_MODEL", shown(&self.model)),
            ("CV_MODEL", shown(&self.stage_models.get(&StageName::Cv).cloned())),
            (
                "STAGE_MODELS",
                self.stage_models
                    .iter()
                    .map(|(s, m)| format!("{s}={m}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("ENABLE_STAR_SELECTOR", self.enable_star_selector.to_string()),
            ("LLM_TIMEOUT_SECONDS", self.timeout.as_secs().to_string()),
            ("LLM_MAX_ATTEMPTS", self.max_attempts.to_string()),
            ("LLM_RETRY_BASE_MS", self.retry_base.as_millis().to_string()),
            ("LLM_CIRCUIT_THRESHOLD", self.circuit_threshold.to_string()),
            (
                "LLM_CIRCUIT_COOLDOWN_SECONDS",
                self.circuit_cooldown.as_secs().to_string(),
            ),
            ("LLM_REQUESTS_PER_MINUTE", self.requests_per_minute.to_string()),
            ("LLM_TOKENS_PER_MINUTE", self.tokens_per_minute.to_string()),
            ("LLM_INPUT_TOKENS", self.input_tokens.to_string()),
            ("LLM_SCHEMA_MODE", format!("{:?}", self.schema_mode)),
            ("MAX_COST_PER_RUN", self.max_cost_per_run.to_string()),
            ("DAILY_BUDGET_USD", self.daily_budget_usd.to_string()),
            ("MONTHLY_BUDGET_USD", self.monthly_budget_usd.to_string()),
            ("LLM_PRICES", format!("{} models", self.prices.len())),
            (
                "PROMPTS_DIR",
                self.prompts_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "(shipped prompts)".into()),
            ),
        ];
        rows.extend(limits);
        let tiers = self
            .tiers
            .iter()
            .map(|(class, t)| {
                let mut parts: Vec<String> = t.model.iter().map(|m| format!("model={m}")).collect();
                parts.extend(t.stage_models.iter().map(|(s, m)| format!("{s}_model={m}")));
                parts.push(format!("contacts={}", t.contacts));
                format!("{}({})", class.as_str(), parts.join(" "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(("TIERS", tiers));
        rows
    }

    /// The URL settings of the section, by name (credentials in them are secrets too).
    pub fn urls(&self) -> [(&'static str, &str); 3] {
        [
            ("OPENAI_BASE_URL", self.openai_base_url.as_str()),
            ("ANTHROPIC_BASE_URL", self.anthropic_base_url.as_str()),
            ("OPENROUTER_BASE_URL", self.openrouter_base_url.as_str()),
        ]
    }
}
