//! LLM spend over HTTP: `GET /runs/<id>` (the status plus cost per stage),
//! `GET /api/metrics/budget` (the per-run limit and spend today, this week, this month) and
//! `GET /api/metrics/cost-history?days=N` (spend by day and model), as the old runner's
//! later versions offered.

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::jobs::{load_run, status_json};
use super::AppState;
use crate::domain::untrusted::Shown;
use crate::http::error::ApiError;
use crate::llm::costs::{by_day, run_cost, Spend};

/// Midnight (UTC) of today: spend is summarised by UTC day.
fn start_of_today() -> chrono::DateTime<Utc> {
    Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// `GET /runs/{run_id}`: the run's status document plus its LLM cost per stage.
#[tracing::instrument(name = "GET /runs/{run_id}", skip_all, fields(run_id = %Shown(&path)))]
pub async fn run_detail(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, &path).await?;
    let calls = state.store.llm_calls(&run.run_id).await?;
    let mut doc = status_json(&state, &run);
    doc["cost"] = json!(run_cost(&calls));
    doc["max_cost_per_run_usd"] = json!(state.settings.llm.max_cost_per_run);
    Ok(HttpResponse::Ok().json(doc))
}

/// `GET /api/metrics/budget`.
#[tracing::instrument(name = "GET /api/metrics/budget", skip_all)]
pub async fn budget(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let today = start_of_today();
    let calls = state.store.llm_calls_since(today - Duration::days(29)).await?;
    let since = |t: chrono::DateTime<Utc>| Spend::of(calls.iter().filter(|c| c.at >= t));
    let month = Spend::of(&calls);
    let runs: std::collections::BTreeSet<_> = calls.iter().map(|c| &c.run_id).collect();
    let average = if runs.is_empty() {
        0.0
    } else {
        month.cost_usd / runs.len() as f64
    };
    Ok(HttpResponse::Ok().json(json!({
        "max_cost_per_run_usd": state.settings.llm.max_cost_per_run,
        "alert_cost_per_run_usd": state.settings.alerts.cost_per_run_usd,
        "today": since(today),
        "last_7_days": since(today - Duration::days(6)),
        "last_30_days": month,
        "runs_with_calls_30_days": runs.len(),
        "average_cost_per_run_usd_30_days": average,
        "as_of": now,
    })))
}

/// Query of `GET /api/metrics/cost-history`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    days: Option<i64>,
}

/// `GET /api/metrics/cost-history?days=N` (1–365, default 30).
#[tracing::instrument(name = "GET /api/metrics/cost-history", skip_all)]
pub async fn history(state: web::Data<AppState>, query: web::Query<HistoryQuery>) -> Result<HttpResponse, ApiError> {
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::validation(format!("days must be 1–365, got {days}")));
    }
    let since = start_of_today() - Duration::days(days - 1);
    let calls = state.store.llm_calls_since(since).await?;
    Ok(HttpResponse::Ok().json(json!({
        "days": days,
        "since": since,
        "total": Spend::of(&calls),
        "by_day": by_day(&calls),
    })))
}
