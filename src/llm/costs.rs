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

/// A spend tracker over all runs (`DAILY_BUDGET_USD`, `MONTHLY_BUDGET_USD`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracker {
    pub name: &'static str,
    pub budget_usd: f64,
    pub used_usd: f64,
    pub remaining_usd: f64,
    pub used_percent: f64,
    pub is_exceeded: bool,
    /// `ok`, `warning` (75 %), `critical` (90 %) or `exceeded` (100 %).
    pub status: &'static str,
}

impl Tracker {
    fn new(name: &'static str, budget_usd: f64, used_usd: f64) -> Self {
        let used_percent = if budget_usd > 0.0 {
            used_usd * 100.0 / budget_usd
        } else {
            0.0
        };
        let status = match used_percent {
            p if p >= 100.0 => "exceeded",
            p if p >= 90.0 => "critical",
            p if p >= 75.0 => "warning",
            _ => "ok",
        };
        Self {
            name,
            budget_usd,
            used_usd,
            remaining_usd: (budget_usd - used_usd).max(0.0),
            used_percent,
            is_exceeded: used_percent >= 100.0,
            status,
        }
    }

    /// Why a new run's stages run offline, when this tracker is spent.
    pub fn refusal(&self) -> Option<String> {
        self.is_exceeded.then(|| {
            format!(
                "the {} LLM budget is spent (${:.4} of ${:.4}, {}_BUDGET_USD): every stage of this run runs offline",
                self.name,
                self.used_usd,
                self.budget_usd,
                self.name.to_ascii_uppercase()
            )
        })
    }
}

/// The start of the UTC day and of the UTC calendar month `now` falls in.
pub fn day_and_month_start(
    now: chrono::DateTime<chrono::Utc>,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    use chrono::Datelike;
    let day = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let month = now
        .date_naive()
        .with_day(1)
        .expect("the first of the month")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    (day, month)
}

/// The configured trackers (a budget of 0 means none) from the calls since the month began.
pub fn trackers(
    daily_usd: f64,
    monthly_usd: f64,
    calls: &[LlmCall],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Tracker> {
    let (day, month) = day_and_month_start(now);
    let spent = |from: chrono::DateTime<chrono::Utc>| Spend::of(calls.iter().filter(|c| c.at >= from)).cost_usd;
    let mut out = Vec::new();
    if daily_usd > 0.0 {
        out.push(Tracker::new("daily", daily_usd, spent(day)));
    }
    if monthly_usd > 0.0 {
        out.push(Tracker::new("monthly", monthly_usd, spent(month)));
    }
    out
}

/// The width of a cost-history bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hourly,
    Daily,
}

impl Period {
    /// Parses `hourly` or `daily`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "hourly" => Ok(Period::Hourly),
            "daily" => Ok(Period::Daily),
            other => Err(format!("period must be hourly or daily, got {:?}", other)),
        }
    }

    /// As written in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hourly => "hourly",
            Period::Daily => "daily",
        }
    }

    /// How many buckets an answer may ask for.
    pub fn max_count(self) -> i64 {
        match self {
            Period::Hourly => 720,
            Period::Daily => 365,
        }
    }

    fn step(self) -> chrono::Duration {
        match self {
            Period::Hourly => chrono::Duration::hours(1),
            Period::Daily => chrono::Duration::days(1),
        }
    }

    fn key(self, at: chrono::DateTime<chrono::Utc>) -> String {
        match self {
            Period::Hourly => at.format("%Y-%m-%dT%H:00").to_string(),
            Period::Daily => at.format("%Y-%m-%d").to_string(),
        }
    }

    /// The start of the bucket `now` falls in.
    fn floor(self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        use chrono::{DurationRound, TimeDelta};
        let unit = match self {
            Period::Hourly => TimeDelta::hours(1),
            Period::Daily => TimeDelta::days(1),
        };
        now.duration_trunc(unit).unwrap_or(now)
    }

    /// The start of the oldest of `count` buckets ending with the one `now` falls in.
    pub fn window_start(self, now: chrono::DateTime<chrono::Utc>, count: i64) -> chrono::DateTime<chrono::Utc> {
        self.floor(now) - self.step() * (count.max(1) as i32 - 1)
    }
}

/// One bucket of the cost history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// `2026-12-01T14:00` (hourly) or `2026-12-01` (daily).
    pub period: String,
    pub cost_usd: f64,
    pub calls: u64,
}

/// `count` consecutive buckets ending with the current one, oldest first; buckets without
/// a call are there with zeros, so a chart's x axis is time.
pub fn buckets(calls: &[LlmCall], period: Period, count: i64, now: chrono::DateTime<chrono::Utc>) -> Vec<Bucket> {
    let start = period.window_start(now, count);
    let mut out: Vec<Bucket> = (0..count.max(1))
        .map(|i| Bucket {
            period: period.key(start + period.step() * i as i32),
            cost_usd: 0.0,
            calls: 0,
        })
        .collect();
    for c in calls.iter().filter(|c| c.at >= start) {
        let key = period.key(c.at);
        if let Some(b) = out.iter_mut().find(|b| b.period == key) {
            b.calls += 1;
            b.cost_usd += c.cost_usd.unwrap_or(0.0);
        }
    }
    out
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
            prompt: stage.into(),
            turn: 1,
            detail: None,
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

    #[test]
    fn buckets_cover_the_window_with_zeros_where_nothing_was_spent() {
        let r = RunId::generate();
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap();
        let at_hour = |h: u32, cost: f64| {
            let mut c = call(&r, "cv", "gpt-4o-mini", Some(cost), 22);
            c.at = Utc.with_ymd_and_hms(2026, 11, 22, h, 5, 0).unwrap();
            c
        };
        let calls = vec![at_hour(14, 0.5), at_hour(14, 0.25), at_hour(12, 1.0), at_hour(3, 9.0)];
        let b = buckets(&calls, Period::Hourly, 3, now);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].period, "2026-11-22T12:00");
        assert_eq!((b[0].calls, b[0].cost_usd), (1, 1.0));
        assert_eq!((b[1].calls, b[1].cost_usd), (0, 0.0));
        assert_eq!(b[2].period, "2026-11-22T14:00");
        assert_eq!((b[2].calls, b[2].cost_usd), (2, 0.75));
        let d = buckets(&calls, Period::Daily, 2, now);
        assert_eq!(
            d.iter().map(|b| b.period.as_str()).collect::<Vec<_>>(),
            ["2026-11-21", "2026-11-22"]
        );
        assert_eq!(d[1].calls, 4);
        assert!(Period::parse("weekly").unwrap_err().contains("hourly or daily"));
    }

    #[test]
    fn trackers_count_the_day_and_the_month_and_say_when_they_are_spent() {
        let r = RunId::generate();
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 14, 0, 0).unwrap();
        let calls = vec![call(&r, "cv", "m", Some(0.8), 22), call(&r, "cv", "m", Some(3.0), 3)];
        let t = trackers(1.0, 10.0, &calls, now);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].name, t[0].status), ("daily", "warning"));
        assert!((t[0].used_usd - 0.8).abs() < 1e-9 && !t[0].is_exceeded);
        assert_eq!(t[1].name, "monthly");
        assert!((t[1].used_usd - 3.8).abs() < 1e-9);
        assert!(t[1].refusal().is_none());
        let spent = trackers(0.5, 0.0, &calls, now);
        assert_eq!(spent.len(), 1, "a budget of 0 is no tracker");
        assert_eq!(spent[0].status, "exceeded");
        assert!(spent[0].refusal().unwrap().contains("DAILY_BUDGET_USD"));
        assert!(trackers(0.0, 0.0, &calls, now).is_empty());
    }
}
