//! The HTTP API (COMPAT.md's contract plus cancel, progress, run listing and log polling):
//! route table, shared state, JSON error handling and the bearer-auth guard.

mod artifacts;
pub mod audit;
mod auth;
mod body;
pub mod console;
mod costs;
mod diagnostics;
pub mod error;
mod health;
pub mod hygiene;
mod job_search;
mod jobs;
mod logs;
mod metrics;
pub mod openapi;
mod operation_runs;
mod operations;
mod queue;
pub mod rate_limit;
pub mod run_tokens;
mod runners;
mod runs;
pub mod session;

use std::sync::Arc;

use actix::Addr;
use actix_web::error::JsonPayloadError;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::log_hub::LogHub;
use crate::actors::supervisor::{RunSupervisor, RunnerStats};
use crate::config::Settings;
use crate::domain::untrusted::Shown;
use crate::http::error::ApiError;
use crate::store::DynStore;

pub use auth::{is_open_read, BearerAuth};

/// What handlers share.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub supervisor: Addr<RunSupervisor>,
    pub hub: Addr<LogHub>,
    pub stats: Arc<RunnerStats>,
    /// This process's lease-owner id (to tell runs executing elsewhere apart).
    pub instance_id: String,
    /// The health actor's latest round.
    pub health: crate::actors::health::SharedSnapshot,
    /// This runtime's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When this process started serving (for `uptime_seconds`).
    pub started: std::time::Instant,
    /// SSE log streams open now (bounded by `MAX_SSE_STREAMS`).
    pub sse_streams: Arc<std::sync::atomic::AtomicUsize>,
    /// The remote publishing targets, for `POST /jobs/{run_id}/publish`.
    pub remote: crate::pipeline::remote_publish::RemoteTargets,
    /// The PDF renderer's start-up self-test: `Err(reason)` when it failed.
    pub pdf_check: Result<(), String>,
    /// Issues run tokens (`JWT_SECRET` set), else `None`.
    pub tokens: Option<Arc<crate::tokens::RunTokens>>,
    /// Console sessions (auth on), else `None`.
    pub sessions: Option<session::SessionGuard>,
}

/// Maps body errors to stable codes: oversized → 413, not JSON → 400, wrong shape → 422.
fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body exceeds {limit} bytes (MAX_BODY_BYTES)"),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "request body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::validation(format!("invalid request body: {e}")),
        JsonPayloadError::Deserialize(e) => ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("request body is not valid JSON: {e}"),
        ),
        other => ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            format!("could not read request body: {other}"),
        ),
    };
    api.into()
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::validation(format!("invalid query string: {err}")).into()
}

/// The job board's features the newest runner grew, which job-runner leaves to a job
/// board (COMPAT-DASHBOARD.md "Not the runner's job"): the feature a path belongs to.
fn job_board_feature(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "master-cv", ..] => Some("the master-CV editor"),
        ["jobs", _, "generate-annotations"]
        | ["jobs", _, "annotations", ..]
        | ["user", "annotation-priors", ..]
        | ["user", "annotation-feedback"] => Some("job description annotations"),
        ["jobs", "ingest", ..] | ["jobs", "import-linkedin" | "import-indeed"] => Some("job ingestion"),
        ["job-search", ..] => Some("job search"),
        ["api", "jobs", _, "cv-editor", "pdf"] | ["api", "url-to-pdf"] | ["proxy", "pdf", ..] => {
            Some("PDF rendering for the editor")
        }
        _ => None,
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = req
        .app_data::<web::Data<RouteTable>>()
        .map(|t| {
            t.methods_for(req.path())
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    if !allowed.is_empty() {
        let error = ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!(
                "{} is not allowed on {}; allowed: {allowed}",
                Shown(req.method().as_str()),
                Shown(req.path())
            ),
        );
        let mut res = actix_web::ResponseError::error_response(&error);
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allowed) {
            res.headers_mut().insert(actix_web::http::header::ALLOW, v);
        }
        return Ok(res);
    }
    if let Some(feature) = job_board_feature(req.path()) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_IMPLEMENTED,
            "NOT_PROVIDED",
            format!(
                "{} {} belongs to {feature}, a job board's feature: job-runner runs the pipeline and does not provide it",
                Shown(req.method().as_str()),
                Shown(req.path())
            ),
        ));
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no route for {} {}", Shown(req.method().as_str()), Shown(req.path())),
    ))
}

/// The routes registered so far, with their methods: a path that matches one with another
/// method answers 405 naming the allowed ones.
#[derive(Default)]
pub struct RouteTable(Vec<(actix_web::dev::ResourceDef, Method)>);

impl RouteTable {
    /// The methods of the routes whose pattern matches `path`.
    fn methods_for(&self, path: &str) -> Vec<&Method> {
        let mut out: Vec<&Method> = Vec::new();
        for (def, method) in &self.0 {
            if def.is_match(path) && !out.contains(&method) {
                out.push(method);
            }
        }
        out
    }
}

/// Registers routes and remembers them in a [`RouteTable`].
struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    table: RouteTable,
}

impl Routes<'_> {
    fn add<F, Args>(&mut self, path: &str, method: Method, handler: F)
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.cfg.route(path, web::method(method.clone()).to(handler));
        self.table.0.push((actix_web::dev::ResourceDef::new(path), method));
    }
}

/// Registers every route (the console's with `console`).
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize, console: bool) {
    cfg.app_data(web::JsonConfig::default().limit(max_body).error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error));
    let mut routes = Routes {
        cfg,
        table: RouteTable::default(),
    };
    routes.add("/health", Method::GET, health::health);
    routes.add("/health", Method::HEAD, health::health);
    routes.add("/health/deep", Method::GET, health::deep);
    if console {
        routes.add("/", Method::GET, console::page);
        routes.add("/console/{file}", Method::GET, console::file);
    }
    routes.add("/session", Method::POST, session::login);
    routes.add("/session", Method::GET, session::current);
    routes.add("/session", Method::DELETE, session::logout);
    routes.add("/jobs", Method::GET, job_search::search);
    routes.add("/runners", Method::GET, runners::list);
    routes.add("/jobs/run", Method::POST, jobs::run);
    routes.add("/jobs/run-bulk", Method::POST, jobs::run_bulk);
    routes.add("/jobs/{run_id}/status", Method::GET, jobs::status);
    routes.add("/jobs/{run_id}/progress", Method::GET, jobs::progress);
    routes.add("/jobs/{run_id}/cancel", Method::POST, jobs::cancel);
    routes.add("/jobs/{run_id}/publish", Method::POST, jobs::publish);
    routes.add("/jobs/{run_id}/logs", Method::GET, logs::stream);
    routes.add("/api/logs/{run_id}", Method::GET, logs::poll);
    routes.add("/api/logs/{run_id}/status", Method::GET, logs::poll_status);
    routes.add("/runs", Method::GET, runs::list);
    routes.add("/metrics", Method::GET, metrics::metrics);
    routes.add("/runs/{run_id}", Method::GET, costs::run_detail);
    routes.add("/runs/{run_id}/retry", Method::POST, queue::retry_run);
    routes.add("/api/metrics/budget", Method::GET, costs::budget);
    routes.add("/api/metrics/cost-history", Method::GET, costs::history);
    routes.add("/api/metrics/alerts", Method::GET, costs::alerts);
    routes.add("/diagnostics", Method::GET, diagnostics::diagnostics);
    routes.add("/queue/state", Method::GET, queue::queue_state);
    routes.add("/queue/item/{job_id}", Method::GET, queue::item_for_job);
    routes.add("/queue/cleanup", Method::POST, queue::cleanup);
    routes.add("/queue/clear", Method::POST, queue::clear);
    routes.add("/queue/{queue_id}/retry", Method::POST, queue::retry);
    routes.add("/queue/{queue_id}/cancel", Method::POST, queue::cancel);
    routes.add("/queue/{queue_id}/dismiss", Method::POST, queue::dismiss);
    routes.add(
        "/api/jobs/{job_id}/operations/{operation}/queue",
        Method::POST,
        operations::queue_operation,
    );
    routes.add(
        "/api/jobs/{job_id}/all-ops/start",
        Method::POST,
        operations::start_all_ops,
    );
    routes.add("/api/jobs/{operation}/batch", Method::POST, operations::batch);
    routes.add("/api/jobs/operations/{run_id}/logs", Method::GET, operation_runs::logs);
    routes.add(
        "/api/jobs/operations/{run_id}/status",
        Method::GET,
        operation_runs::status,
    );
    routes.add("/api/jobs/{job_id}/queue-status", Method::GET, operations::queue_status);
    routes.add("/artifacts/{run_id}/{filename:.*}", Method::GET, artifacts::download);
    routes.add("/tokens/revoke", Method::POST, run_tokens::revoke);
    routes.add("/audit", Method::GET, audit::list);
    routes.add("/openapi.json", Method::GET, openapi::openapi_json);
    routes.add("/docs", Method::GET, openapi::docs_redirect);
    routes.cfg.service(openapi::swagger_ui());
    let table = web::Data::new(routes.table);
    cfg.app_data(table).default_service(web::to(not_found));
}

/// Parses a run id from the path.
fn parse_run_id(raw: &str) -> Result<crate::domain::RunId, ApiError> {
    crate::domain::RunId::parse(raw).map_err(ApiError::invalid_run_id)
}
