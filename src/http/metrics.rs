//! `GET /metrics`: Prometheus text format (needs the bearer secret like every route but
//! `/health`; configure the scrape job with it).

use actix_web::{web, HttpResponse};

use super::AppState;

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.stats))
}
