//! Spend summaries from the call records: a run's cost per stage (for `GET /runs/<id>` and
//! progress) and spend by day and model (for `/api/metrics/budget` and
//! `/api/metrics/cost-history`). Calls to a model without a price are counted apart as
//! `unknown_cost_calls`, never as zero cost.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::LlmCall;

/// Calls, tokens and cost of a group of calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spend {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Sum over the calls with a known price (USD).
    pub cost_usd: f64,
    /// Calls whose price is unknown (not in `cost_usd`).
    pub unknown_cost_calls: u64,
}

impl Spend {
    fn add(&mut self, c: &LlmCall) {
        self.calls += 1;
        self.input_tokens += c.input_tokens;
        self.output_tokens += c.output_tokens;
        match c.cost_usd {
            Some(v) => self.cost_usd += v,
            None => self.unknown_cost_calls += 1,
        }
    }

    /// Spend of `calls`.
    pub fn of<'a>(calls: impl IntoIterator<Item = &'a LlmCall>) -> Spend {
        let mut s = Spend::default();
        for c in calls {
            s.add(c);
        }
        s
    }
}

/// A run's spend, in total and per stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunCost {
    #[serde(flatten)]
    pub total: Spend,
    pub by_stage: BTreeMap<String, Spend>,
}

/// A run's cost from its calls.
pub fn run_cost(calls: &[LlmCall]) -> RunCost {
    let mut by_stage: BTreeMap<String, Spend> = BTreeMap::new();
    for c in calls {
        by_stage.entry(c.stage.as_str().to_owned()).or_default().add(c);
    }
    RunCost {
        total: Spend::of(calls),
        by_stage,
    }
}

/// One model's spend on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpend {
    pub provider: String,
    pub model: String,
    #[serde(flatten)]
    pub spend: Spend,
}

/// One day's spend (UTC), by model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaySpend {
    pub date: String,
    #[serde(flatten)]
    pub total: Spend,
    /// Distinct runs that made calls that day.
    pub runs: usize,
    pub models: Vec<ModelSpend>,
}

/// Spend by UTC day (oldest first) and model.
pub fn by_day(calls: &[LlmCall]) -> Vec<DaySpend> {
    let mut days: BTreeMap<String, Vec<&LlmCall>> = BTreeMap::new();
    for c in calls {
        days.entry(c.at.format("%Y-%m-%d").to_string()).or_default().push(c);
    }
    days.into_iter()
        .map(|(date, calls)| {
            let mut models: BTreeMap<(String, String), Spend> = BTreeMap::new();
            for c in &calls {
                models.entry((c.provider.clone(), c.model.clone())).or_default().add(c);
            }
            let runs = calls
                .iter()
                .map(|c| &c.run_id)
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            DaySpend {
                date,
                total: Spend::of(calls.iter().copied()),
                runs,
                models: models
                    .into_iter()
                    .map(|((provider, model), spend)| ModelSpend { provider, model, spend })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RunId;
    use chrono::{TimeZone, Utc};

    fn call(run: &RunId, stage: &str, model: &str, cost: Option<f64>, day: u32) -> LlmCall {
        LlmCall {
            run_id: run.clone(),
            stage: stage.parse().unwrap(),
            provider: "openai".into(),
            model: model.into(),
            input_tokens: 1000,
            output_tokens: 100,
            cost_usd: cost,
            latency_ms: 5,
            outcome: crate::store::CallOutcome::Ok,
            at: Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn run_cost_adds_known_prices_and_counts_unknown_ones_apart() {
        let r = RunId::generate();
        let calls = vec![
            call(&r, "cv", "gpt-4o-mini", Some(0.00021), 20),
            call(&r, "cv", "gpt-4o-mini", Some(0.00021), 20),
            call(&r, "fit_score", "local", None, 20),
        ];
        let c = run_cost(&calls);
        assert_eq!(c.total.calls, 3);
        assert!((c.total.cost_usd - 0.00042).abs() < 1e-12);
        assert_eq!(c.total.unknown_cost_calls, 1);
        assert_eq!(c.by_stage["cv"].calls, 2);
        assert_eq!(c.by_stage["fit_score"].cost_usd, 0.0);
        assert_eq!(c.by_stage["fit_score"].unknown_cost_calls, 1);
    }

    #[test]
    fn spend_is_grouped_by_day_and_model() {
        let (a, b) = (RunId::generate(), RunId::generate());
        let calls = vec![
            call(&a, "cv", "gpt-4o-mini", Some(0.5), 20),
            call(&b, "cv", "gpt-4o", Some(1.0), 20),
            call(&b, "cv", "gpt-4o", Some(1.0), 21),
        ];
        let days = by_day(&calls);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].date, "2026-11-20");
        assert_eq!(days[0].runs, 2);
        assert_eq!(days[0].models.len(), 2);
        assert!((days[0].total.cost_usd - 1.5).abs() < 1e-12);
        assert_eq!(days[1].models[0].model, "gpt-4o");
    }
}
