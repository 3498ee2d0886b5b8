//! `GET /runs`: the queue and history, filtered by status and job, paginated.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::jobs::status_json;
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
}

#[utoipa::path(get, path = "/runs", tag = "runs", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "queued, running, completed, failed or cancelled"), ("job_id" = Option<String>, Query), ("limit" = Option<u64>, Query, description = "1–200"), ("offset" = Option<u64>, Query)),
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
    let page = state
        .store
        .list_runs(&RunFilter {
            status,
            job_id,
            limit,
            offset,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "runs": page.runs.iter().map(|r| status_json(&state, r)).collect::<Vec<_>>(),
        "total": page.total,
        "limit": limit,
        "offset": offset,
    })))
}
