//! The API described by the code: every handler carries its `#[utoipa::path]` (method,
//! path, parameters, request body, answers), and this module gathers them into one
//! OpenAPI 3.1 document, served at `/openapi.json` and rendered by the Swagger UI at
//! `/docs` (assets compiled into the binary; nothing is fetched at build or run time).
//!
//! Answers the handlers build as JSON objects are described by the schemas below; the
//! error answers every route can give (bad id, auth, not found, validation, rate limit,
//! store unavailable) are added to every operation by [`StandardErrors`], so the document
//! says what a client really receives. Schemathesis checks it against the live daemon in
//! the test command (`scripts/fuzz-api.sh`).

// The schemas describe answers that handlers build with `json!`; they are never built.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::*;

/// Every error answer: a message for people (`detail`, and `error` for the newest
/// dashboard), a stable code for programs.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"detail": "run 0123456789abcdef0123456789abcdef not found", "code": "RUN_NOT_FOUND", "success": false, "error": "run 0123456789abcdef0123456789abcdef not found"}))]
pub struct ErrorBody {
    /// What is wrong, naming the problem.
    pub detail: String,
    /// Stable error code (`RUN_NOT_FOUND`, `VALIDATION_FAILED`, `TOKEN_EXPIRED`, ...).
    pub code: String,
    /// Always `false`.
    pub success: bool,
    /// The same message as `detail`.
    pub error: String,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct HealthAnswer {
    /// `healthy`, `degraded` (a health check fails) or `unhealthy` (store unreachable: 503).
    pub status: String,
    pub store_reachable: bool,
    pub active_runs: u64,
    pub max_concurrency: u64,
    pub queued_runs: u64,
    pub draining: bool,
    /// `sqlite` or `mongodb`.
    pub store: String,
    /// `on` or `off`.
    pub auth: String,
    pub runner_id: String,
    pub version: String,
    pub timestamp: DateTime<Utc>,
}

/// `GET /health/deep`: the health actor's latest round.
#[derive(Serialize, ToSchema)]
pub struct DeepHealthAnswer {
    pub status: String,
    /// Runners with a recent heartbeat (null when the store cannot say).
    pub runners_live: Option<u64>,
    pub checked_at: Option<DateTime<Utc>>,
    pub rounds: u64,
    /// Each check: name, status, value, threshold, message, since when.
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<serde_json::Value>,
}

/// A queued run, as `POST /jobs/run` and the operation routes answer it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"run_id": "0123456789abcdef0123456789abcdef", "job_id": "65a1b2c3d4e5f60718293a4b", "status": "queued", "status_url": "/jobs/0123456789abcdef0123456789abcdef/status", "log_stream_url": "/jobs/0123456789abcdef0123456789abcdef/logs", "stream_token": "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJydW46MDEyMyJ9.c2lnbmF0dXJl", "stream_token_expires_at": "2026-12-02T10:00:00Z", "stream_token_id": "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"}))]
pub struct RunTicketDoc {
    pub run_id: String,
    pub job_id: String,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub status_url: String,
    pub log_stream_url: String,
    /// A read token for this run only (when `JWT_SECRET` is set).
    pub stream_token: Option<String>,
    pub stream_token_expires_at: Option<DateTime<Utc>>,
    /// The token's id, for `POST /tokens/revoke`.
    pub stream_token_id: Option<String>,
}

/// `POST /jobs/run-bulk`.
#[derive(Serialize, ToSchema)]
pub struct BulkAnswer {
    pub runs: Vec<RunTicketDoc>,
}

/// A run's status (`GET /jobs/{run_id}/status`).
#[derive(Serialize, ToSchema)]
pub struct RunStatusDoc {
    pub run_id: String,
    pub job_id: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub queue_id: String,
    pub operation: String,
    /// Artifact download URLs by key (`cv_md_url`, ...), once they exist.
    pub artifacts: BTreeMap<String, String>,
}

/// A run's stages (`GET /jobs/{run_id}/progress`).
#[derive(Serialize, ToSchema)]
pub struct ProgressDoc {
    pub run_id: String,
    pub job_id: String,
    pub status: String,
    pub progress_percent: u32,
    pub stages_completed: u32,
    pub stages_total: u32,
    /// One entry per stage: name, status, dependencies, times, producer, model, cost.
    #[schema(value_type = Vec<Object>)]
    pub stages: Vec<serde_json::Value>,
    /// The stage graph's layers (stages that can run side by side).
    pub layers: Vec<Vec<String>>,
}

/// `POST /jobs/{run_id}/cancel`.
#[derive(Serialize, ToSchema)]
pub struct CancelAnswer {
    pub run_id: String,
    pub status: String,
    pub success: bool,
    pub message: String,
}

/// A JSON object whose fields the route's description lists.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct JsonObject(serde_json::Value);

/// `POST /tokens/revoke` (body): exactly one of the two.
#[derive(Serialize, ToSchema)]
pub struct RevokeRequest {
    /// The token's id (`stream_token_id`, the JWT's `jti`).
    pub jti: Option<String>,
    /// The token itself.
    pub token: Option<String>,
}

/// `POST /tokens/revoke` (answer).
#[derive(Serialize, ToSchema)]
pub struct RevokeAnswer {
    pub success: bool,
    pub jti: String,
    pub run_id: String,
    pub revoked_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `GET /audit`.
#[derive(Serialize, ToSchema)]
pub struct AuditAnswer {
    pub entries: Vec<crate::store::AuditEntry>,
    pub count: u64,
}

/// Body of `POST /jobs/run`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"job_id": "65a1b2c3d4e5f60718293a4b", "processing_tier": "balanced"}))]
pub struct RunRequestDoc {
    /// The job document's `_id` (24 hexadecimal characters).
    pub job_id: String,
    /// A master CV inside `PROFILES_DIR` (default: `MASTER_CV_PATH`).
    pub profile_ref: Option<String>,
    pub source: Option<String>,
    /// `fast`, `balanced`, `quality` (or `tier`).
    pub processing_tier: Option<String>,
    pub tier: Option<String>,
}

/// Body of `POST /jobs/run-bulk`.
#[derive(Serialize, ToSchema)]
pub struct BulkRequestDoc {
    /// 1 to `MAX_QUEUE` job ids.
    pub job_ids: Vec<String>,
    pub profile_ref: Option<String>,
    pub source: Option<String>,
    pub processing_tier: Option<String>,
    pub tier: Option<String>,
}

/// Body of the operation routes.
#[derive(Serialize, ToSchema)]
pub struct OperationRequestDoc {
    pub tier: Option<String>,
    pub processing_tier: Option<String>,
    /// `false`: the offline stages only.
    pub use_llm: Option<bool>,
    /// `true`: redo stages even when a completed output exists.
    pub force_refresh: Option<bool>,
}

/// Body of `POST /api/jobs/{operation}/batch`.
#[derive(Serialize, ToSchema)]
pub struct BatchRequestDoc {
    pub job_ids: Vec<String>,
    pub tier: Option<String>,
    pub processing_tier: Option<String>,
}

/// Body of `POST /session`.
#[derive(Serialize, ToSchema)]
pub struct LoginDoc {
    /// The API secret (`RUNNER_API_SECRET`).
    pub secret: String,
}

/// A console session's state (`/session`).
#[derive(Serialize, ToSchema)]
pub struct SessionDoc {
    pub authenticated: bool,
    /// `on`, or `off` when the daemon runs without a secret (no login needed).
    pub auth: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub idle_timeout_seconds: Option<u64>,
    /// What state-changing requests send in `X-CSRF-Token`.
    pub csrf_token: Option<String>,
    /// Why the presented cookie was not accepted (`SESSION_EXPIRED`, ...).
    pub reason: Option<String>,
    pub detail: Option<String>,
}

/// `GET /jobs`.
#[derive(Serialize, ToSchema)]
pub struct JobSearchAnswer {
    pub jobs: Vec<crate::store::JobSummary>,
    pub query: String,
    pub limit: u64,
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "job-runner",
        description = "Turns job postings into application packages. Every route but /health needs `Authorization: Bearer <RUNNER_API_SECRET>`; a run's reads also accept that run's `stream_token` (bearer or `?token=`). Errors are `{detail, code, success: false, error}` with a stable code.",
        license(name = "MIT")
    ),
    paths(
        health::health,
        health::deep,
        session::login,
        session::current,
        session::logout,
        job_search::search,
        runners::list,
        jobs::run,
        jobs::run_bulk,
        jobs::status,
        jobs::progress,
        jobs::cancel,
        jobs::publish,
        logs::stream,
        logs::poll,
        logs::poll_status,
        runs::list,
        metrics::metrics,
        costs::run_detail,
        queue::retry_run,
        costs::budget,
        costs::history,
        costs::alerts,
        diagnostics::diagnostics,
        queue::queue_state,
        queue::item_for_job,
        queue::cleanup,
        queue::clear,
        queue::retry,
        queue::cancel,
        queue::dismiss,
        operations::queue_operation,
        operations::start_all_ops,
        operations::batch,
        operation_runs::logs,
        operation_runs::status,
        operations::queue_status,
        artifacts::download,
        run_tokens::revoke,
        audit::list,
        openapi_json,
    ),
    modifiers(&Security, &StandardErrors),
    tags(
        (name = "runs", description = "Start, follow and cancel runs"),
        (name = "logs", description = "Live (SSE) and polled run logs"),
        (name = "queue", description = "The dashboard's queue view"),
        (name = "operations", description = "Single operations on a job"),
        (name = "artifacts", description = "A run's files"),
        (name = "operations-and-health", description = "Health, metrics, runners, costs"),
        (name = "security", description = "Run tokens and the audit trail"),
        (name = "console", description = "The operator console's login (session cookie)"),
    )
)]
pub struct ApiDoc;

/// The bearer secret and the run token query parameter.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("RUNNER_API_SECRET, or on a run's reads that run's stream_token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "jr_session",
                "The console's session cookie (POST /session); state-changing requests also send X-CSRF-Token",
            ))),
        );
        components.add_security_scheme(
            "run_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A run's stream_token (EventSource cannot send headers); reads of that run only",
            ))),
        );
    }
}

/// Adds the error answers any route can give to every operation that does not list them.
struct StandardErrors;

impl Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = path == "/health";
            for (is_write, op) in [
                (false, item.get.as_mut()),
                (false, item.head.as_mut()),
                (true, item.post.as_mut()),
            ]
            .into_iter()
            .filter_map(|(w, op)| op.map(|o| (w, o)))
            {
                let mut errors = vec![("400", "Bad id, query or JSON body")];
                if !public {
                    errors.push(("401", "Missing or invalid bearer secret or run token"));
                }
                errors.extend([
                    ("404", "The run, job, queue item or file does not exist"),
                    ("422", "A field or parameter is invalid"),
                    (
                        "503",
                        "The store or the supervisor is unavailable; retry after Retry-After",
                    ),
                ]);
                if is_write {
                    errors.extend([
                        ("409", "The change conflicts with the current state"),
                        ("413", "The body is larger than MAX_BODY_BYTES"),
                        ("415", "The body is not JSON"),
                        ("429", "More than RATE_LIMIT_PER_MINUTE state-changing requests"),
                    ]);
                }
                add_errors(op, &errors);
            }
        }
    }
}

fn add_errors(op: &mut Operation, errors: &[(&str, &str)]) {
    for (status, description) in errors {
        op.responses.responses.entry((*status).to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        });
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations-and-health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(document())
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .insert("ErrorBody".into(), ErrorBody::schema());
        doc
    })
}

/// The Swagger UI at `/docs`, reading `/openapi.json`.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json"))
}

/// `GET /docs`: the UI lives at `/docs/` (its assets are relative to it).
pub async fn docs_redirect() -> actix_web::HttpResponse {
    actix_web::HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_with_its_errors() {
        let doc = super::document();
        let json = serde_json::to_value(doc).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = json["paths"].as_object().unwrap();
        for p in [
            "/health",
            "/jobs/run",
            "/jobs/{run_id}/logs",
            "/tokens/revoke",
            "/audit",
            "/artifacts/{run_id}/{filename}",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        let run = &paths["/jobs/run"]["post"];
        for status in ["200", "400", "401", "422", "429"] {
            assert!(run["responses"].get(status).is_some(), "POST /jobs/run lacks {status}");
        }
        assert!(paths["/health"]["get"]["responses"].get("401").is_none());
    }
}
