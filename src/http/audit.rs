//! The audit trail: every state-changing request (anything but `GET`, `HEAD` and
//! `OPTIONS`), refused ones included, is logged (target `audit`) and stored with who made
//! it (the credential's kind and a short hash of it, never the credential), what it was
//! (method, path, route) and the outcome (status and stable error code). `GET /audit`
//! reads it back. Retention trims it with the runs (`RETENTION_DAYS`, and at most
//! [`MAX_ENTRIES`]).

use actix_web::http::Method;
use actix_web::HttpMessage as _;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::untrusted::clip_to_line;
use crate::http::error::ApiError;
use crate::store::{AuditEntry, DynStore};

/// The most entries kept, whatever their age (a flood of refused requests cannot fill the disk).
pub const MAX_ENTRIES: usize = 100_000;

/// Who made a request, as the auth guard established it; set on the request's extensions.
#[derive(Debug, Clone)]
pub struct Credential(pub String);

impl Credential {
    /// The API secret: `secret:<hash>`.
    pub fn secret(token: &str) -> Self {
        Self(format!("secret:{}", short_hash(token)))
    }

    /// A run token: `run-token:<jti>` (the id is not a secret; it is what revocation names).
    pub fn run_token(jti: &str) -> Self {
        Self(format!("run-token:{}", clip_to_line(jti, 64)))
    }

    /// A console session: `session:<jti>` (the session's id, what logout revokes).
    pub fn session(jti: &str) -> Self {
        Self(format!("session:{}", clip_to_line(jti, 64)))
    }

    /// Auth is off (development on loopback).
    pub fn open() -> Self {
        Self("open".into())
    }

    /// What a request presented when the guard did not accept it (or never saw it):
    /// `bearer:<hash>` for an `Authorization` value, else `none`.
    pub fn presented(req: &actix_web::HttpRequest) -> Self {
        match req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            Some(v) => Self(format!(
                "bearer:{}",
                short_hash(super::auth::bearer_token(v).unwrap_or(v.trim()))
            )),
            None => Self("none".into()),
        }
    }
}

/// The first 8 bytes of the SHA-256 of a credential, in hex: enough to tell credentials
/// apart in the trail, useless for recovering one.
fn short_hash(value: &str) -> String {
    crate::domain::digest::sha256_hex(value.as_bytes(), 8)
}

/// True for requests the trail records.
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The entry for an answered request.
pub fn entry(
    res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    request_id: &str,
    client: String,
) -> AuditEntry {
    let req = res.request();
    let status = res.status();
    let actor = req
        .extensions()
        .get::<Credential>()
        .cloned()
        .unwrap_or_else(|| Credential::presented(req));
    AuditEntry {
        at: chrono::Utc::now(),
        request_id: request_id.to_owned(),
        actor: actor.0,
        client,
        method: req.method().to_string(),
        path: clip_to_line(req.path(), 200),
        route: req.match_pattern().unwrap_or_else(|| "unmatched".into()),
        status: status.as_u16(),
        outcome: if status.is_server_error() {
            "error"
        } else if status.is_client_error() {
            "refused"
        } else {
            "ok"
        }
        .into(),
        code: res
            .response()
            .extensions()
            .get::<crate::http::error::ErrorCode>()
            .map(|c| c.0.to_owned()),
    }
}

/// Logs and stores an entry. A store that cannot take it does not fail the request (the
/// change has happened); the log line still records it.
pub async fn record(store: &DynStore, entry: AuditEntry) {
    tracing::info!(
        target: "audit",
        actor = %entry.actor,
        client = %entry.client,
        method = %entry.method,
        route = %entry.route,
        path = %entry.path,
        status = entry.status,
        code = entry.code.as_deref().unwrap_or(""),
        "audit: {} {} -> {}",
        entry.method,
        entry.route,
        entry.status
    );
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, request_id = %entry.request_id, "could not store an audit entry");
    }
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

/// `GET /audit?limit=` (1–1000, default 100): the newest entries first. Needs the API
/// bearer (never open, never a run token).
#[utoipa::path(get, path = "/audit", tag = "security", security(("bearer" = [])),
    params(("limit" = Option<u64>, Query, description = "1–1000, default 100")),
    responses((status = 200, description = "State-changing requests, newest first", body = AuditAnswer)))]
#[tracing::instrument(name = "GET /audit", skip_all)]
pub async fn list(state: web::Data<AppState>, query: web::Query<AuditQuery>) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(format!("limit must be 1–1000, got {limit}")));
    }
    let entries = state.store.recent_audit(limit as usize).await?;
    Ok(HttpResponse::Ok().json(json!({"entries": entries, "count": entries.len()})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_named_by_kind_and_a_hash_never_by_value() {
        let c = Credential::secret("0123456789abcdef-secret");
        assert!(c.0.starts_with("secret:") && !c.0.contains("secret-"), "{}", c.0);
        assert_eq!(c.0.len(), "secret:".len() + 16);
        let req = actix_web::test::TestRequest::post()
            .insert_header(("Authorization", "Bearer wrong-guess-value"))
            .to_http_request();
        let p = Credential::presented(&req);
        assert!(p.0.starts_with("bearer:") && !p.0.contains("wrong"), "{}", p.0);
        let none = Credential::presented(&actix_web::test::TestRequest::post().to_http_request());
        assert_eq!(none.0, "none");
        assert!(is_state_changing(&Method::POST) && is_state_changing(&Method::DELETE));
        assert!(!is_state_changing(&Method::GET) && !is_state_changing(&Method::OPTIONS));
    }
}
