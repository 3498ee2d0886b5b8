//! `GET /runs`: the queue and history, filtered by status and job, paginated; with
//! `include=stages`, each run's stages too (the console's live list).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::jobs::{stage_rows, status_json};
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::{JobId, RunStatus};
use crate::http::error::ApiError;
use crate::store::RunFilter;

/// Query of `GET /runs`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    job_id: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
    /// `stages`: each run also lists its stages (status, producer, duration, cost).
    include: Option<String>,
}

/// Runs listed with their stages at most (each costs two store reads).
const MAX_WITH_STAGES: usize = 100;

#[utoipa::path(get, path = "/runs", tag = "runs", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "queued, running, completed, failed or cancelled"), ("job_id" = Option<String>, Query), ("limit" = Option<u64>, Query, description = "1–200"), ("offset" = Option<u64>, Query), ("include" = Option<String>, Query, description = "`stages`: each run also lists its stages, its cost so far and its job's company and title (limit at most 100)")),
    responses((status = 200, description = "Runs, newest first, with `total`", body = JsonObject)))]
#[tracing::instrument(name = "GET /runs", skip_all)]
pub async fn list(state: web::Data<AppState>, query: web::Query<ListQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = q
        .status
        .as_deref()
        .map(str::parse::<RunStatus>)
        .transpose()
        .map_err(ApiError::validation)?;
    let job_id = q
        .job_id
        .as_deref()
        .map(JobId::parse)
        .transpose()
        .map_err(ApiError::invalid_job_id)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation(format!("limit must be 1–500, got {limit}")));
    }
    let offset = q.offset.unwrap_or(0);
    let with_stages = match q.include.as_deref().map(str::trim) {
        None | Some("") => false,
        Some("stages") if limit <= MAX_WITH_STAGES => true,
        Some("stages") => {
            return Err(ApiError::validation(format!(
                "include=stages lists at most {MAX_WITH_STAGES} runs; got limit {limit}"
            )))
        }
        Some(other) => {
            return Err(ApiError::validation(format!(
                "include must be \"stages\", got {:?}",
                crate::domain::untrusted::clip(other, 40)
            )))
        }
    };
    let page = state
        .store
        .list_runs(&RunFilter {
            status,
            job_id,
            limit,
            offset,
        })
        .await?;
    let mut runs = Vec::with_capacity(page.runs.len());
    let mut jobs: std::collections::HashMap<String, serde_json::Value> = std::collections::HashMap::new();
    for run in &page.runs {
        let mut row = status_json(&state, run);
        if with_stages {
            let key = run.job_id.to_string();
            if !jobs.contains_key(&key) {
                let doc = state.store.get_job_document(&run.job_id).await?;
                let summary = doc.as_ref().and_then(crate::store::JobSummary::from_document);
                jobs.insert(
                    key.clone(),
                    summary.map_or(
                        serde_json::Value::Null,
                        |j| json!({"company": j.company, "title": j.title, "location": j.location}),
                    ),
                );
            }
            row["job"] = jobs[&key].clone();
            let records = state.store.load_stages(&run.run_id).await?;
            let cost = crate::llm::costs::run_cost(&state.store.llm_calls(&run.run_id).await?);
            row["cost_so_far_usd"] = json!(cost.total.cost_usd);
            row["stages"] = json!(stage_rows(&records, &cost));
        }
        runs.push(row);
    }
    Ok(HttpResponse::Ok().json(json!({
        "runs": runs,
        "total": page.total,
        "limit": limit,
        "offset": offset,
    })))
}
