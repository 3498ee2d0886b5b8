//! Run tokens over HTTP: issuing one with every queued run (`stream_token`), the routes a
//! token may read, checking a presented token against the store (revoked or unknown tokens
//! are refused), and `POST /tokens/revoke`.

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::JsonBody;
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::domain::untrusted::Shown;
use crate::domain::Run;
use crate::http::error::ApiError;
use crate::store::{DynStore, TokenRecord};
use crate::tokens::{RunClaims, RunTokens};

/// What a run request answers about its token (nothing when `JWT_SECRET` is unset).
#[derive(Debug, Clone, Serialize)]
pub struct TokenGrant {
    /// The read token for this run (`?token=` on its log stream, or as the bearer).
    pub stream_token: String,
    /// When it expires.
    pub stream_token_expires_at: DateTime<Utc>,
    /// Its id, for `POST /tokens/revoke`.
    pub stream_token_id: String,
}

impl TokenGrant {
    /// Adds the grant's fields to a JSON answer object.
    pub fn add_to(grant: Option<&TokenGrant>, answer: &mut serde_json::Value) {
        if let (Some(g), Some(obj)) = (grant, answer.as_object_mut()) {
            obj.insert("stream_token".into(), json!(g.stream_token));
            obj.insert("stream_token_expires_at".into(), json!(g.stream_token_expires_at));
            obj.insert("stream_token_id".into(), json!(g.stream_token_id));
        }
    }
}

/// [`grant`] for one run.
pub async fn grant_one(state: &AppState, run: &Run) -> Option<TokenGrant> {
    grant(state, std::slice::from_ref(run), "api").await.pop().flatten()
}

/// Issues and records one read token per run, in the runs' order. When tokens are off, or
/// recording them fails (the runs are queued all the same), the answers carry none: the
/// failure is logged, and the runs stay readable with the API secret.
pub async fn grant(state: &AppState, runs: &[Run], issued_by: &str) -> Vec<Option<TokenGrant>> {
    let Some(tokens) = state.tokens.as_deref() else {
        return vec![None; runs.len()];
    };
    match issue_and_record(tokens, &state.store, runs, None, issued_by).await {
        Ok(issued) => issued.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::error!(error = %e, "could not issue run tokens; the runs are queued without them");
            vec![None; runs.len()]
        }
    }
}

/// Issues a token per run (lifetime `ttl`, else the configured one) and records them.
pub async fn issue_and_record(
    tokens: &RunTokens,
    store: &DynStore,
    runs: &[Run],
    ttl: Option<std::time::Duration>,
    issued_by: &str,
) -> Result<Vec<TokenGrant>, String> {
    let now = Utc::now();
    let mut grants = Vec::with_capacity(runs.len());
    let mut records = Vec::with_capacity(runs.len());
    for run in runs {
        let issued = tokens.issue(&run.run_id, ttl, now)?;
        records.push(TokenRecord {
            jti: issued.claims.jti.clone(),
            run_id: run.run_id.clone(),
            issued_at: issued.claims.issued_at(),
            expires_at: issued.claims.expires_at(),
            revoked_at: None,
            issued_by: issued_by.to_owned(),
        });
        grants.push(TokenGrant {
            stream_token_expires_at: issued.claims.expires_at(),
            stream_token_id: issued.claims.jti,
            stream_token: issued.token,
        });
    }
    store
        .record_tokens(&records)
        .await
        .map_err(|e| format!("cannot record run tokens: {e}"))?;
    Ok(grants)
}

/// The run a token may read on this route: `Some(run id as written)` for the reads of one
/// run (its stream, polling, status, progress, detail and artifacts); `None` elsewhere.
pub fn readable_run<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["jobs", run, "status" | "progress" | "logs"]
        | ["api", "logs", run]
        | ["api", "logs", run, "status"]
        | ["api", "jobs", "operations", run, "logs" | "status"]
        | ["runs", run]
        | ["artifacts", run, _] => Some(run),
        _ => None,
    }
}

/// A token presented with a request: `?token=` (EventSource cannot set headers) or a
/// bearer value shaped like a JWT. Two `token` parameters are refused as ambiguous.
pub fn presented(query: &str, bearer: Option<&str>) -> Result<Option<String>, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let mut tokens = pairs.into_iter().filter(|(k, _)| k == "token").map(|(_, v)| v);
    let found = tokens.next();
    if tokens.next().is_some() {
        return Err(refused("TOKEN_MALFORMED", "more than one token parameter"));
    }
    Ok(found.or_else(|| bearer.filter(|b| crate::tokens::looks_like_jwt(b)).map(str::to_owned)))
}

/// A 401 refusal of a token.
pub fn refused(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Checks a presented token for this request: read-only, a route that reads one run, that
/// run, signed by us, unexpired, recorded and not revoked. Fails closed: a store that
/// cannot answer refuses the token (503).
pub async fn check(
    tokens: Option<&RunTokens>,
    store: &DynStore,
    method: &Method,
    path: &str,
    token: &str,
) -> Result<RunClaims, ApiError> {
    let Some(tokens) = tokens else {
        return Err(refused(
            "TOKENS_DISABLED",
            "run tokens are not accepted here (JWT_SECRET is not set); use the API bearer",
        ));
    };
    if method != Method::GET && method != Method::HEAD {
        return Err(refused(
            "TOKEN_READ_ONLY",
            format!(
                "a run token only reads; {} needs the API bearer",
                Shown(method.as_str())
            ),
        ));
    }
    let Some(run) = readable_run(method, path) else {
        return Err(refused(
            "TOKEN_NOT_FOR_ROUTE",
            format!(
                "a run token reads one run's stream, status, progress and artifacts; not {}",
                Shown(path)
            ),
        ));
    };
    let claims = tokens.verify(token, run).map_err(|r| refused(r.code, r.message))?;
    let record = store.get_token(&claims.jti).await.map_err(|e| {
        tracing::error!(error = %e, "cannot check a run token against the store; refusing it");
        let mut err = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOKEN_UNVERIFIABLE",
            "the token cannot be checked now (store unavailable); retry shortly",
        );
        err.retry_after = Some(5);
        err
    })?;
    match record {
        None => Err(refused(
            "TOKEN_UNKNOWN",
            "the token was not issued by this deployment or has expired",
        )),
        Some(r) if r.revoked_at.is_some() => Err(refused("TOKEN_REVOKED", "the token has been revoked")),
        Some(r) if r.run_id.as_ref() != run => Err(refused("TOKEN_WRONG_RUN", "the token is for another run")),
        Some(_) => Ok(claims),
    }
}

/// Body of `POST /tokens/revoke`: the token's id (`stream_token_id`, the JWT's `jti`), or
/// the token itself.
#[derive(Debug, Deserialize)]
pub struct RevokeBody {
    jti: Option<String>,
    token: Option<String>,
}

/// `POST /tokens/revoke`: the token stops working at once and its record is kept until
/// it would have expired.
#[utoipa::path(post, path = "/tokens/revoke", tag = "security", security(("bearer" = [])), request_body = RevokeRequest,
    responses((status = 200, description = "The token no longer opens anything", body = RevokeAnswer)))]
#[tracing::instrument(name = "POST /tokens/revoke", skip_all)]
pub async fn revoke(state: web::Data<AppState>, body: JsonBody<RevokeBody>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let jti = match (body.jti.as_deref().map(str::trim), body.token.as_deref()) {
        (Some(jti), None) if !jti.is_empty() && jti.len() <= 64 => jti.to_owned(),
        (None, Some(token)) => {
            let tokens = state.tokens.as_deref().ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "TOKENS_DISABLED",
                    "run tokens are not issued here (JWT_SECRET is not set)",
                )
            })?;
            tokens
                .verify_any_run(token)
                .map_err(|r| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.message))?
                .jti
        }
        _ => {
            return Err(ApiError::validation(
                "give exactly one of jti (1–64 characters; the stream_token_id a run request answered) or token",
            ))
        }
    };
    let record = state.store.revoke_token(&jti, Utc::now()).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "TOKEN_NOT_FOUND",
            format!("no live token with id {}", Shown(&jti)),
        )
    })?;
    tracing::info!(jti = %Shown(&record.jti), run_id = %record.run_id, "run token revoked");
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "jti": record.jti,
        "run_id": record.run_id,
        "revoked_at": record.revoked_at,
        "expires_at": record.expires_at,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_read_exactly_one_runs_reads() {
        let run = "0123456789abcdef0123456789abcdef";
        for path in [
            format!("/jobs/{run}/logs"),
            format!("/jobs/{run}/status"),
            format!("/jobs/{run}/progress"),
            format!("/api/logs/{run}"),
            format!("/api/logs/{run}/status"),
            format!("/api/jobs/operations/{run}/logs"),
            format!("/runs/{run}"),
            format!("/artifacts/{run}/CV.md"),
        ] {
            assert_eq!(readable_run(&Method::GET, &path), Some(run), "{path}");
            assert_eq!(readable_run(&Method::POST, &path), None, "{path}");
        }
        for path in [
            format!("/jobs/{run}/cancel"),
            "/runs".to_owned(),
            "/queue/state".to_owned(),
            "/audit".to_owned(),
            format!("/artifacts/{run}/a/b"),
            format!("/runs/{run}/retry"),
        ] {
            assert_eq!(readable_run(&Method::GET, &path), None, "{path}");
        }
    }

    #[test]
    fn a_token_is_taken_from_the_query_or_a_jwt_shaped_bearer() {
        assert_eq!(presented("token=eyJa.b.c", None).unwrap().as_deref(), Some("eyJa.b.c"));
        assert_eq!(
            presented("after=3&token=eyJa.b%2Ec", None).unwrap().as_deref(),
            Some("eyJa.b.c")
        );
        assert_eq!(presented("", Some("eyJa.b.c")).unwrap().as_deref(), Some("eyJa.b.c"));
        assert_eq!(presented("", Some("0123456789abcdef")).unwrap(), None);
        assert_eq!(presented("token=a&token=b", None).unwrap_err().code, "TOKEN_MALFORMED");
        assert_eq!(presented("token=%zz%4", None).unwrap().as_deref(), Some("%zz%4"));
    }
}
