//! LLM spend over HTTP: `GET /runs/<id>` (the status plus cost per stage),
//! `GET /api/metrics/budget` (the per-run limit and spend today, this week, this month) and
//! `GET /api/metrics/cost-history?days=N` (spend by day and model), as the old runner's
//! later versions offered.

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::jobs::{load_run, status_json};
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::untrusted::Shown;
use crate::http::error::ApiError;
use crate::llm::costs::{buckets, by_day, day_and_month_start, run_cost, trackers, Period, Spend};

/// Midnight (UTC) of today: spend is summarised by UTC day.
pub(super) fn start_of_today() -> chrono::DateTime<Utc> {
    Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// `GET /runs/{run_id}`: the run's status document plus its LLM cost per stage and its
/// completion webhook deliveries.
#[utoipa::path(get, path = "/runs/{run_id}", tag = "runs", security(("bearer" = []), ("run_token" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "The run with its stages, LLM calls, cost, remote publishing outcome (`remote_publishing`) and delivery attempts (`webhook_deliveries`)", body = JsonObject)))]
#[tracing::instrument(name = "GET /runs/{run_id}", skip_all, fields(run_id = %Shown(&path)))]
pub async fn run_detail(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run = load_run(&state, &path).await?;
    let calls = state.store.llm_calls(&run.run_id).await?;
    let records = state.store.load_stages(&run.run_id).await?;
    let mut doc = status_json(&state, &run);
    doc["cost"] = json!(run_cost(&calls));
    doc["max_cost_per_run_usd"] = json!(state.settings.llm.max_cost_per_run);
    doc["stages"] = stage_reports(&records, &calls);
    // Every attempt to announce the run's end or to publish its package remotely, and the
    // outcome of remote publishing by target.
    let deliveries = state.store.deliveries(&run.run_id).await?;
    doc["remote_publishing"] = remote_publishing(&deliveries);
    doc["webhook_deliveries"] = json!(deliveries);
    Ok(HttpResponse::Ok().json(doc))
}

/// `{"status": "published" | "failed", "targets": {<target>: {"delivered", "status",
/// "error", "at"}}}` from the latest attempt per publishing target (the completion webhook
/// is an announcement, not publishing); null when the run was not published remotely.
fn remote_publishing(deliveries: &[crate::store::WebhookDelivery]) -> serde_json::Value {
    let mut latest: std::collections::BTreeMap<&str, &crate::store::WebhookDelivery> = Default::default();
    for d in deliveries
        .iter()
        .filter(|d| d.target != crate::notify::completion::TARGET)
    {
        latest.insert(d.target.as_str(), d);
    }
    if latest.is_empty() {
        return serde_json::Value::Null;
    }
    let all = latest.values().all(|d| d.delivered);
    let targets: serde_json::Map<String, serde_json::Value> = latest
        .iter()
        .map(|(t, d)| {
            (
                (*t).to_owned(),
                json!({"delivered": d.delivered, "status": d.status, "error": d.error, "at": d.at}),
            )
        })
        .collect();
    json!({"status": if all { "published" } else { "failed" }, "targets": targets})
}

/// Per stage: who produced its output, which model answered, how many turns the model
/// took, and why each rejected turn was rejected.
fn stage_reports(records: &[crate::domain::StageRecord], calls: &[crate::store::LlmCall]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for stage in crate::domain::StageName::ALL {
        let record = records.iter().find(|r| r.stage == stage);
        let mine: Vec<&crate::store::LlmCall> = calls.iter().filter(|c| c.stage == stage).collect();
        let models: std::collections::BTreeSet<&str> = mine.iter().map(|c| c.model.as_str()).collect();
        let turns: Vec<serde_json::Value> = mine
            .iter()
            .map(|c| {
                json!({
                    "prompt": c.prompt,
                    "turn": c.turn,
                    "outcome": c.outcome.as_str(),
                    "model": c.model,
                    "reasons": c.detail,
                    "at": c.at,
                })
            })
            .collect();
        out.insert(
            stage.as_str().to_owned(),
            json!({
                "status": record.map(|r| r.status.as_str()),
                "producer": record.and_then(|r| r.producer),
                // The model that wrote the output, else the last one asked.
                "model": record.and_then(|r| r.model.clone()).or_else(|| mine.last().map(|c| c.model.clone())),
                "models": models,
                "turns": mine.len(),
                "rejected_turns": mine.iter().filter(|c| c.outcome != crate::store::CallOutcome::Ok).count(),
                "calls": turns,
            }),
        );
    }
    serde_json::Value::Object(out)
}

/// `GET /api/metrics/budget`.
#[utoipa::path(get, path = "/api/metrics/budget", tag = "operations-and-health", security(("bearer" = [])),
    responses((status = 200, description = "LLM spend against the daily and monthly budgets", body = JsonObject)))]
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
    // The newest dashboard's budget widget: trackers over all runs.
    let (_, month_start) = day_and_month_start(now);
    let month_calls = state.store.llm_calls_since(month_start).await?;
    let l = &state.settings.llm;
    let trackers = trackers(l.daily_budget_usd, l.monthly_budget_usd, &month_calls, now);
    let total_budget: f64 = trackers.iter().map(|t| t.budget_usd).sum();
    let total_used: f64 = trackers.iter().map(|t| t.used_usd).sum();
    let count = |status: &str| trackers.iter().filter(|t| t.status == status).count();
    let by_tracker: serde_json::Map<String, serde_json::Value> =
        trackers.iter().map(|t| (t.name.to_owned(), json!(t))).collect();
    Ok(HttpResponse::Ok().json(json!({
        "total_budget_usd": total_budget,
        "total_used_usd": total_used,
        "total_remaining_usd": (total_budget - total_used).max(0.0),
        "overall_used_percent": if total_budget > 0.0 { total_used * 100.0 / total_budget } else { 0.0 },
        "trackers_exceeded": count("exceeded"),
        "trackers_critical": count("critical"),
        "trackers_warning": count("warning"),
        "by_tracker": by_tracker,
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
    period: Option<String>,
    count: Option<i64>,
}

/// `GET /api/metrics/cost-history`: `?days=N` (1–365, default 30) answers `days`, `since`,
/// `total` and `by_day`; `?period=hourly|daily&count=N` (default hourly, 24; at most 720
/// hours or 365 days) answers the newest dashboard's `period`, `count`, `costs`, `summary`,
/// `sparkline_svg` and `timestamp`. Every answer carries both.
#[utoipa::path(get, path = "/api/metrics/cost-history", tag = "operations-and-health", security(("bearer" = [])),
    params(("days" = Option<i64>, Query, description = "1–365"), ("period" = Option<String>, Query, description = "hourly or daily"), ("count" = Option<i64>, Query)),
    responses((status = 200, description = "Spend by day or hour", body = JsonObject)))]
#[tracing::instrument(name = "GET /api/metrics/cost-history", skip_all)]
pub async fn history(state: web::Data<AppState>, query: web::Query<HistoryQuery>) -> Result<HttpResponse, ApiError> {
    let days = query.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(ApiError::validation(format!("days must be 1–365, got {days}")));
    }
    let period = match &query.period {
        Some(p) => Period::parse(p).map_err(ApiError::validation)?,
        None => Period::Hourly,
    };
    let count = query.count.unwrap_or(24);
    if !(1..=period.max_count()).contains(&count) {
        return Err(ApiError::validation(format!(
            "count must be 1–{} for period {}, got {count}",
            period.max_count(),
            period.as_str()
        )));
    }
    let now = Utc::now();
    let since = start_of_today() - Duration::days(days - 1);
    let window = period.window_start(now, count);
    let calls = state.store.llm_calls_since(since.min(window)).await?;
    let in_days: Vec<_> = calls.iter().filter(|c| c.at >= since).cloned().collect();
    let costs = buckets(&calls, period, count, now);
    let total: f64 = costs.iter().map(|b| b.cost_usd).sum();
    let max = costs.iter().map(|b| b.cost_usd).fold(0.0, f64::max);
    Ok(HttpResponse::Ok().json(json!({
        "days": days,
        "since": since,
        "total": Spend::of(&in_days),
        "by_day": by_day(&in_days),
        "period": period.as_str(),
        "count": count,
        "costs": costs,
        "summary": {
            "total_cost_usd": total,
            "avg_cost_usd": total / costs.len().max(1) as f64,
            "max_cost_usd": max,
        },
        "sparkline_svg": sparkline(&costs.iter().map(|b| b.cost_usd).collect::<Vec<_>>()),
        "timestamp": now,
    })))
}

/// A small line chart of `values` as SVG, drawn from numbers only (nothing a user wrote
/// goes into it): 120 × 30, the largest value at the top, zero at the bottom.
pub fn sparkline(values: &[f64]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 30.0;
    let max = values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
    let n = values.len();
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 { i as f64 * W / (n - 1) as f64 } else { W / 2.0 };
            let v = if v.is_finite() { *v } else { 0.0 };
            let y = if max > 0.0 {
                H - 1.0 - v / max * (H - 2.0)
            } else {
                H - 1.0
            };
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"30\" viewBox=\"0 0 120 30\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        points.join(" ")
    )
}

/// Query of `GET /api/metrics/alerts`.
#[derive(Debug, Deserialize)]
pub struct AlertsQuery {
    limit: Option<usize>,
    level: Option<String>,
    source: Option<String>,
}

/// `GET /api/metrics/alerts?limit=20&level=&source=`: the alert history (every alert and
/// recovery the health actor decided on, e-mailed or not), newest first, with counts.
#[utoipa::path(get, path = "/api/metrics/alerts", tag = "operations-and-health", security(("bearer" = [])),
    params(("limit" = Option<u64>, Query, description = "1–500"), ("level" = Option<String>, Query), ("source" = Option<String>, Query)),
    responses((status = 200, description = "The alert history, newest first", body = JsonObject)))]
#[tracing::instrument(name = "GET /api/metrics/alerts", skip_all)]
pub async fn alerts(state: web::Data<AppState>, query: web::Query<AlertsQuery>) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(format!("limit must be 1–500, got {limit}")));
    }
    const LEVELS: [&str; 4] = ["critical", "error", "warning", "info"];
    if let Some(level) = &query.level {
        if !level.is_empty() && !LEVELS.contains(&level.as_str()) {
            return Err(ApiError::validation(format!(
                "level must be one of {}, got {level:?}",
                LEVELS.join(", ")
            )));
        }
    }
    let history = state.store.recent_alerts(500).await?;
    let wanted = |a: &&crate::store::AlertRecord| {
        query.level.as_deref().is_none_or(|l| l.is_empty() || a.level == l)
            && query.source.as_deref().is_none_or(|s| s.is_empty() || a.source == s)
    };
    let mut by_level = serde_json::Map::new();
    let mut by_source = serde_json::Map::new();
    for a in &history {
        let bump = |m: &mut serde_json::Map<String, serde_json::Value>, k: &str| {
            let n = m.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            m.insert(k.to_owned(), json!(n + 1));
        };
        bump(&mut by_level, &a.level);
        bump(&mut by_source, &a.source);
    }
    let shown: Vec<_> = history.iter().filter(wanted).take(limit).collect();
    Ok(HttpResponse::Ok().json(json!({
        "alerts": shown,
        "stats": {
            "enabled": true,
            "email_configured": !state.settings.alerts.to.is_empty(),
            "history_count": history.len(),
            "by_level": by_level,
            "by_source": by_source,
        },
        "timestamp": Utc::now(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_is_numbers_only_and_scaled_to_the_largest_value() {
        let svg = sparkline(&[0.0, 2.0, 1.0]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"points="0.0,29.0 60.0,1.0 120.0,15.0""#), "{svg}");
        assert!(sparkline(&[0.0, 0.0]).contains(r#"points="0.0,29.0 120.0,29.0""#));
        assert!(sparkline(&[f64::NAN]).contains("60.0,29.0"));
    }
}
