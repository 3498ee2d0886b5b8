//! `GET /jobs?q=`: the stored jobs whose company or title contains a text, newest first:
//! how the console finds the jobs to start work on without knowing their ids.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::http::error::ApiError;

/// The longest search text accepted.
const MAX_QUERY_CHARS: usize = 200;

/// Query of `GET /jobs`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/jobs", tag = "runs", security(("bearer" = [])),
    params(("q" = Option<String>, Query, description = "Text the company or the title contains (any case); empty: every job"), ("limit" = Option<u64>, Query, description = "1–100, default 25")),
    responses((status = 200, description = "Matching jobs, newest first", body = JobSearchAnswer)))]
#[tracing::instrument(name = "GET /jobs", skip_all)]
pub async fn search(state: web::Data<AppState>, query: web::Query<SearchQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let text = q.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::validation(format!(
            "q must be at most {MAX_QUERY_CHARS} characters, got {}",
            text.chars().count()
        )));
    }
    let limit = q.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(format!("limit must be 1–100, got {limit}")));
    }
    let jobs = state.store.search_jobs(text.trim(), limit).await?;
    Ok(HttpResponse::Ok().json(json!({"jobs": jobs, "query": text.trim(), "limit": limit})))
}
