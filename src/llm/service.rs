//! The LLM layer as the stages see it: which provider and model each stage uses (chosen
//! once at start-up from the old runner's settings), the prompts, and one call — `ask` —
//! that renders a prompt, checks the run's budget, goes through the provider's guard with
//! retries, validates and repairs the answer, records every call (tokens, cost, latency,
//! outcome) in the store, and says plainly when the stage must fall back to offline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::anthropic::Anthropic;
use super::guard::{GuardedClient, ProviderGuard};
use super::openai::OpenAiCompatible;
use super::prompts::Prompts;
use super::retry::RetryPolicy;
use super::run_spend::{Reservation, RunSpend};
use super::schema::AnswerShape;
use super::structured::{complete_structured, CallHooks, CallOutcome, CallReport, Structured};
use super::token_budget::{cut_to_tokens, estimate_tokens};
use super::{LlmClient, LlmError, LlmRequest, LlmResponse};
use crate::config::pricing::PriceTable;
use crate::config::{Secret, Settings};
use crate::domain::{RunId, StageName};
use crate::runlog::RunLog;
use crate::store::{DynStore, LlmCall};

/// How many characters of a rejection's reasons the run log and the call record keep.
pub const DETAIL_CHARS: usize = 600;

/// The stages that may ask a model.
pub const LLM_STAGES: [StageName; 7] = [
    StageName::Extract,
    StageName::PainPoints,
    StageName::Research,
    StageName::FitScore,
    StageName::Cv,
    StageName::CvReview,
    StageName::CoverLetter,
];

/// Which provider the settings select.
struct Selection {
    provider: &'static str,
    key_setting: &'static str,
    key: Secret,
    base_url: String,
    default_model: &'static str,
    anthropic: bool,
}

/// The provider the old runner's settings select, or `None` (offline), plus warnings about
/// switches that could not be honoured.
fn select(s: &Settings) -> (Option<Selection>, Vec<String>) {
    let mut warnings = Vec::new();
    let anthropic = |key: &Secret| Selection {
        provider: "anthropic",
        key_setting: "ANTHROPIC_API_KEY",
        key: key.clone(),
        base_url: s.llm.anthropic_base_url.clone(),
        default_model: "claude-3-5-haiku-latest",
        anthropic: true,
    };
    let openrouter = |key: &Secret| Selection {
        provider: "openrouter",
        key_setting: "OPENROUTER_API_KEY",
        key: key.clone(),
        base_url: s.llm.openrouter_base_url.clone(),
        default_model: "openai/gpt-4o-mini",
        anthropic: false,
    };
    let openai = |key: &Secret| Selection {
        provider: if s.llm.openai_base_url.contains("api.openai.com") {
            "openai"
        } else {
            "openai-compatible"
        },
        key_setting: "OPENAI_API_KEY",
        key: key.clone(),
        base_url: s.llm.openai_base_url.clone(),
        default_model: "gpt-4o-mini",
        anthropic: false,
    };
    if s.llm.use_anthropic {
        match &s.llm.anthropic_api_key {
            Some(k) => return (Some(anthropic(k)), warnings),
            None => warnings.push("USE_ANTHROPIC is set but ANTHROPIC_API_KEY is empty; ignoring it".into()),
        }
    }
    if s.llm.use_openrouter {
        match &s.llm.openrouter_api_key {
            Some(k) => return (Some(openrouter(k)), warnings),
            None => warnings.push("USE_OPENROUTER is set but OPENROUTER_API_KEY is empty; ignoring it".into()),
        }
    }
    let chosen = s
        .llm
        .openai_api_key
        .as_ref()
        .map(openai)
        .or_else(|| s.llm.anthropic_api_key.as_ref().map(anthropic))
        .or_else(|| s.llm.openrouter_api_key.as_ref().map(openrouter));
    (chosen, warnings)
}

/// One line saying which provider the settings select, for the `run` command's output.
pub fn selection_summary(s: &Settings) -> String {
    match select(s).0 {
        Some(sel) => format!(
            "{} at {} (offline fallback per stage)",
            sel.provider,
            crate::config::mask_url_credentials(&sel.base_url)
        ),
        None => "no API key configured: every stage runs offline".into(),
    }
}

/// Why a stage runs offline instead of with the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    /// The run's budget would be passed (this call or an earlier one).
    Budget(String),
    /// The provider failed (after retries), its circuit is open, or it rejected the key.
    Provider(String),
    /// The answers never passed validation, repairs included.
    Invalid(String),
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::Budget(r) | Fallback::Provider(r) | Fallback::Invalid(r) => f.write_str(r),
        }
    }
}

/// Who asks: the run, its stage, its budget, its log and its deadline.
pub struct CallScope<'a> {
    pub run_id: &'a RunId,
    pub stage: StageName,
    /// The run's tier class: it may choose another model for the stage.
    pub tier: Option<crate::config::TierClass>,
    pub spend: &'a RunSpend,
    pub log: &'a RunLog,
    pub deadline: Instant,
}

/// The configured LLM layer.
pub struct LlmService {
    /// Where calls are counted.
    metrics: Arc<crate::metrics::Metrics>,
    provider: String,
    guard: Arc<ProviderGuard>,
    clients: BTreeMap<StageName, Arc<dyn LlmClient>>,
    /// Clients of the models a tier gives a stage, where they differ from the stage's own.
    tier_clients: BTreeMap<(crate::config::TierClass, StageName), Arc<dyn LlmClient>>,
    prices: PriceTable,
    policy: RetryPolicy,
    store: DynStore,
    prompts: Prompts,
    input_tokens: usize,
    /// Output limit per prompt.
    output_tokens: BTreeMap<&'static str, u32>,
}

impl LlmService {
    /// The service the settings describe, or `None` when no key is configured (every stage
    /// then runs offline). Says at start-up which provider and models are used, or why none.
    pub fn from_settings(
        settings: &Settings,
        store: DynStore,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Option<Arc<Self>>, String> {
        let (selection, warnings) = select(settings);
        for w in warnings {
            tracing::warn!("{w}");
        }
        let Some(sel) = selection else {
            tracing::info!(
                "no LLM API key configured (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY): every stage runs offline (deterministic, no network)"
            );
            return Ok(None);
        };
        let prompts = match &settings.llm.prompts_dir {
            Some(dir) => Prompts::load(dir).map_err(|e| format!("PROMPTS_DIR: {e}"))?,
            None => Prompts::shipped(),
        };
        let l = &settings.llm;
        let guard = Arc::new(ProviderGuard::new(
            sel.provider,
            l.circuit_threshold,
            l.circuit_cooldown,
            l.requests_per_minute,
            l.tokens_per_minute,
            Arc::clone(&metrics),
        ));
        let make = |model: &str| -> Result<Arc<dyn LlmClient>, String> {
            let inner: Box<dyn LlmClient> = if sel.anthropic {
                Box::new(Anthropic::new(&sel.base_url, sel.key.clone(), model, l.timeout)?)
            } else {
                Box::new(
                    OpenAiCompatible::new(
                        sel.provider,
                        sel.key_setting,
                        &sel.base_url,
                        Some(sel.key.clone()),
                        model,
                        l.timeout,
                    )?
                    .with_schema_mode(l.schema_mode),
                )
            };
            Ok(Arc::new(GuardedClient::new(inner, Arc::clone(&guard))))
        };
        let mut clients: BTreeMap<StageName, Arc<dyn LlmClient>> = BTreeMap::new();
        let mut tier_clients = BTreeMap::new();
        for stage in LLM_STAGES {
            let model = l
                .stage_models
                .get(&stage)
                .or(l.model.as_ref())
                .map(String::as_str)
                .unwrap_or(sel.default_model);
            clients.insert(stage, make(model)?);
            for (class, tier) in &l.tiers {
                if let Some(tier_model) = tier.model_for(stage).filter(|m| *m != model) {
                    tier_clients.insert((*class, stage), make(tier_model)?);
                }
            }
        }
        let service = Self {
            metrics,
            provider: sel.provider.to_owned(),
            guard,
            clients,
            tier_clients,
            prices: l.prices.clone(),
            policy: RetryPolicy {
                max_attempts: l.max_attempts,
                base: l.retry_base,
                max_backoff: Duration::from_secs(30),
            },
            store,
            prompts,
            input_tokens: l.input_tokens,
            output_tokens: l.output_tokens.clone(),
        };
        for stage in LLM_STAGES {
            if service.prices.price(service.model(stage)).is_none() {
                tracing::warn!(
                    stage = %stage,
                    model = service.model(stage),
                    "model has no price in LLM_PRICES: its cost is recorded as unknown and not counted against MAX_COST_PER_RUN"
                );
            }
        }
        tracing::info!(
            provider = %service.provider,
            base_url = %crate::config::mask_url_credentials(&sel.base_url),
            models = %service.models_summary(),
            max_cost_per_run_usd = settings.llm.max_cost_per_run,
            "LLM stages enabled (offline fallback when a call fails, the budget is spent or the circuit is open)"
        );
        Ok(Some(Arc::new(service)))
    }

    /// The provider's name (`openai`, `openai-compatible`, `openrouter`, `anthropic`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The model a stage uses.
    pub fn model(&self, stage: StageName) -> &str {
        self.clients.get(&stage).map(|c| c.model()).unwrap_or("")
    }

    /// The client a stage uses in a tier (the tier's model where it sets one).
    fn client(&self, stage: StageName, tier: Option<crate::config::TierClass>) -> Option<&Arc<dyn LlmClient>> {
        tier.and_then(|t| self.tier_clients.get(&(t, stage)))
            .or_else(|| self.clients.get(&stage))
    }

    /// The model a stage uses in a tier.
    pub fn model_for(&self, stage: StageName, tier: Option<crate::config::TierClass>) -> &str {
        self.client(stage, tier).map(|c| c.model()).unwrap_or("")
    }

    /// `stage=model` pairs for logs and `/health/deep`.
    pub fn models_summary(&self) -> String {
        LLM_STAGES
            .iter()
            .map(|s| format!("{s}={}", self.model(*s)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// True while the provider's circuit refuses calls.
    pub fn circuit_open(&self) -> bool {
        self.guard.circuit_open()
    }

    /// `text` cut to `share` of the stage's input budget at a sentence boundary; the cut is
    /// logged with both sizes.
    pub fn fit_input(&self, scope: &CallScope<'_>, what: &str, text: &str, share: f64) -> String {
        let budget = ((self.input_tokens as f64) * share).max(100.0) as usize;
        let (cut, was_cut) = cut_to_tokens(text, budget);
        if was_cut {
            scope.log.info(format!(
                "input cut for the model: {what} from ~{} to ~{} tokens (LLM_INPUT_TOKENS={}), at a sentence boundary",
                estimate_tokens(text),
                estimate_tokens(&cut),
                self.input_tokens
            ));
        }
        cut
    }

    /// Renders prompt `prompt`, asks the stage's model for a `T` that passes `validate`
    /// (with at most `max_repairs` repair turns, within the prompt's output limit), and
    /// records every call. `Err` says why the stage must fall back to offline.
    #[tracing::instrument(name = "llm", skip_all, fields(run_id = %scope.run_id, stage = %scope.stage, prompt))]
    pub async fn ask<T, V>(
        &self,
        scope: &CallScope<'_>,
        prompt: &str,
        values: &[(&str, &str)],
        max_repairs: u32,
        validate: V,
    ) -> Result<T, Fallback>
    where
        T: DeserializeOwned + AnswerShape,
        V: Fn(&T) -> Result<(), Vec<String>>,
    {
        if scope.spend.is_exhausted() {
            return Err(Fallback::Budget(scope.spend.closed_because().unwrap_or_else(|| {
                "the LLM budget of this run (MAX_COST_PER_RUN) was exhausted by an earlier call".into()
            })));
        }
        let client = self
            .client(scope.stage, scope.tier)
            .ok_or_else(|| Fallback::Provider(format!("stage {} has no model", scope.stage)))?;
        if self.guard.circuit_open() {
            return Err(Fallback::Provider(
                LlmError::CircuitOpen {
                    provider: self.provider.clone(),
                }
                .to_string(),
            ));
        }
        let rendered = self
            .prompts
            .render(prompt, values)
            .map_err(|e| Fallback::Provider(format!("prompt {prompt}: {e}")))?;
        let request = LlmRequest {
            system: rendered.system,
            user: rendered.user,
            json: true,
            schema: Some(T::schema()),
            max_tokens: self.output_tokens.get(prompt).copied().unwrap_or(1000),
            temperature: 0.2,
        };
        let hooks = RecordingHooks {
            service: self,
            scope,
            prompt,
            model: client.model().to_owned(),
            reservation: Mutex::new(None),
        };
        match complete_structured::<T, V>(
            client.as_ref(),
            &request,
            validate,
            max_repairs,
            &self.policy,
            scope.deadline,
            &hooks,
        )
        .await
        {
            Structured::Valid { value, .. } => Ok(value),
            Structured::Failed {
                provider_error: Some(e),
                ..
            } => Err(Fallback::Provider(e.to_string())),
            Structured::Failed { reason, .. } if scope.spend.is_exhausted() => Err(Fallback::Budget(reason)),
            Structured::Failed { reason, .. } => Err(Fallback::Invalid(reason)),
        }
    }

    /// Cost in USD of a call to `model`, or `None` when its price is unknown.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        self.prices.cost(model, input_tokens, output_tokens)
    }
}

/// Checks the budget before each call and records each call after it.
struct RecordingHooks<'a> {
    service: &'a LlmService,
    scope: &'a CallScope<'a>,
    prompt: &'a str,
    model: String,
    reservation: Mutex<Option<Reservation>>,
}

#[async_trait]
impl CallHooks for RecordingHooks<'_> {
    async fn before_call(&self, request: &LlmRequest) -> Result<(), String> {
        let input = request.estimated_input_tokens();
        let estimate = self.service.cost(&self.model, input, u64::from(request.max_tokens));
        let reservation = self.scope.spend.reserve(estimate)?;
        *self.reservation.lock().unwrap_or_else(|p| p.into_inner()) = Some(reservation);
        Ok(())
    }

    async fn after_call(&self, result: Result<&LlmResponse, &LlmError>, report: CallReport<'_>) {
        let (input, output) = match result {
            Ok(r) => (r.input_tokens, r.output_tokens),
            Err(_) => (0, 0),
        };
        let cost = self.service.cost(&self.model, input, output);
        if let Some(r) = self.reservation.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.scope.spend.settle(r, cost);
        }
        let provider = self.service.provider.clone();
        let outcome = report.outcome;
        self.service
            .metrics
            .llm_call(&provider, &self.model, outcome.as_str(), input, output, cost);
        let cost_text = cost
            .map(|c| format!("${c:.6}"))
            .unwrap_or_else(|| "unknown cost".into());
        // The reasons go into the run's own log (and the call record), shortened, so the
        // dashboard can explain what a repair turn cost.
        // Masked like the log: a provider may echo the key in an error.
        let detail = report
            .detail
            .map(|d| crate::domain::untrusted::clip_to_line(&self.scope.log.scrub(d), DETAIL_CHARS));
        let what = match (&detail, outcome) {
            (None, _) => outcome.as_str().to_owned(),
            (Some(d), CallOutcome::InvalidOutput) => format!("rejected: {d}"),
            (Some(d), CallOutcome::Error) => format!("error: {d}"),
            (Some(d), _) => format!("{}: {d}", outcome.as_str()),
        };
        let line = format!(
            "LLM call {provider}/{} for {} (turn {}): {input} in + {output} out tokens, {cost_text}, {} ms, {what}",
            self.model,
            self.prompt,
            report.turn,
            report.latency.as_millis()
        );
        if outcome == CallOutcome::Ok {
            self.scope.log.info(line);
        } else {
            self.scope.log.warn(line);
        }
        let latency = report.latency;
        let call = LlmCall {
            run_id: self.scope.run_id.clone(),
            stage: self.scope.stage,
            provider,
            model: self.model.clone(),
            input_tokens: input,
            output_tokens: output,
            cost_usd: cost,
            latency_ms: latency.as_millis() as u64,
            outcome,
            at: chrono::Utc::now(),
            prompt: self.prompt.to_owned(),
            turn: report.turn,
            detail,
        };
        if let Err(e) =
            crate::store::retry_transient("record_llm_call", || self.service.store.record_llm_call(&call)).await
        {
            self.scope
                .log
                .warn(format!("could not record the LLM call's cost: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawSettings;

    fn settings(adjust: impl FnOnce(&mut RawSettings)) -> Settings {
        let mut raw = RawSettings::defaults();
        adjust(&mut raw);
        Settings::from_raw(raw).unwrap()
    }

    fn chosen(s: &Settings) -> Option<(&'static str, String)> {
        select(s).0.map(|sel| (sel.provider, sel.base_url))
    }

    #[test]
    fn the_old_switches_choose_the_provider() {
        assert_eq!(chosen(&settings(|_| {})), None, "no key: offline");
        let all = |r: &mut RawSettings| {
            r.llm.openai_api_key = Some("sk-o".into());
            r.llm.anthropic_api_key = Some("sk-a".into());
            r.llm.openrouter_api_key = Some("sk-r".into());
        };
        assert_eq!(
            chosen(&settings(all)),
            Some(("openai", "https://api.openai.com/v1".into())),
            "OpenAI by default"
        );
        assert_eq!(
            chosen(&settings(|r| {
                all(r);
                r.llm.use_openrouter = true;
            })),
            Some(("openrouter", "https://openrouter.ai/api/v1".into()))
        );
        assert_eq!(
            chosen(&settings(|r| {
                all(r);
                r.llm.use_openrouter = true;
                r.llm.use_anthropic = true;
            })),
            Some(("anthropic", "https://api.anthropic.com".into())),
            "USE_ANTHROPIC wins, as in the old runner"
        );
        assert_eq!(
            chosen(&settings(|r| {
                r.llm.openai_api_key = Some("local".into());
                r.llm.openai_base_url = "http://127.0.0.1:8080/v1".into();
            })),
            Some(("openai-compatible", "http://127.0.0.1:8080/v1".into())),
            "a local server through OPENAI_BASE_URL"
        );
    }

    #[test]
    fn a_switch_without_its_key_is_reported_and_ignored() {
        let s = settings(|r| {
            r.llm.use_anthropic = true;
            r.llm.openrouter_api_key = Some("sk-r".into());
        });
        let (sel, warnings) = select(&s);
        assert_eq!(sel.map(|s| s.provider), Some("openrouter"));
        assert_eq!(
            warnings,
            ["USE_ANTHROPIC is set but ANTHROPIC_API_KEY is empty; ignoring it"]
        );
    }

    #[tokio::test]
    async fn stage_models_fall_back_to_llm_model_then_the_provider_default() {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = std::sync::Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).await.unwrap());
        let s = settings(|r| {
            r.llm.anthropic_api_key = Some("sk-a".into());
            r.llm.cv_model = Some("claude-sonnet-4-5".into());
        });
        let svc = LlmService::from_settings(&s, store.clone(), Arc::default())
            .unwrap()
            .unwrap();
        assert_eq!(svc.model(StageName::Cv), "claude-sonnet-4-5");
        assert_eq!(svc.model(StageName::PainPoints), "claude-3-5-haiku-latest");
        let s = settings(|r| {
            r.llm.openai_api_key = Some("sk-o".into());
            r.llm.llm_model = Some("gpt-4.1-mini".into());
            r.llm.fit_score_model = Some("gpt-4o".into());
        });
        let svc = LlmService::from_settings(&s, store, Arc::default()).unwrap().unwrap();
        assert_eq!(svc.model(StageName::FitScore), "gpt-4o");
        assert_eq!(svc.model(StageName::CoverLetter), "gpt-4.1-mini");
    }

    #[tokio::test]
    async fn a_prompts_dir_must_hold_every_prompt_and_replaces_the_shipped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = std::sync::Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).await.unwrap());
        let prompts = dir.path().join("prompts");
        std::fs::create_dir(&prompts).unwrap();
        std::fs::write(prompts.join("cv.md"), "Only the CV prompt.\n---user---\n{{master_cv}}").unwrap();
        let s = settings(|r| {
            r.llm.openai_api_key = Some("sk-o".into());
            r.llm.prompts_dir = Some(prompts.display().to_string());
        });
        let err = LlmService::from_settings(&s, store.clone(), Arc::default())
            .err()
            .unwrap();
        assert!(
            err.starts_with("PROMPTS_DIR:") && err.contains("pain_points.md"),
            "{err}"
        );
        assert!(!err.contains("cv.md"), "the CV prompt is there: {err}");
        for (name, text) in crate::llm::prompts::SHIPPED {
            std::fs::write(prompts.join(format!("{name}.md")), text.replace("You ", "Thou ")).unwrap();
        }
        let svc = LlmService::from_settings(&s, store, Arc::default()).unwrap().unwrap();
        let p = svc
            .prompts
            .render("cv", &[("pain_points", "-"), ("achievements", "-"), ("master_cv", "-")])
            .unwrap();
        assert!(p.system.starts_with("Thou tailor"), "{}", p.system);
    }
}
