//! `GET /metrics`: Prometheus text format (needs the bearer secret like every route but
//! `/health`; configure the scrape job with it).

use actix_web::{web, HttpResponse};

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;

#[utoipa::path(get, path = "/metrics", tag = "operations-and-health", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.stats))
}
