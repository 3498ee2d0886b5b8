//! Console login: `POST /session` exchanges the API secret once for an HttpOnly,
//! SameSite=Strict cookie holding a short-lived session JWT ([`crate::tokens::console`]);
//! `GET /session` tells the page whether it is signed in and hands it the session's CSRF
//! token; `DELETE /session` logs out (the session is revoked in the store, so no runner
//! accepts the cookie again, and the cookie is cleared).
//!
//! The secret never stays in the page: it travels in one request body and is compared in
//! constant time. The cookie is sent only on same-site requests, and a cookie-authorised
//! request that changes state must also carry `X-CSRF-Token` (which a page of another site
//! cannot read or set); [`authorize`] is the one place the guard checks all of it.

use std::sync::Arc;

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage as _, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::audit::Credential;
use super::body::JsonBody;
#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::AppState;
use crate::http::error::ApiError;
use crate::store::DynStore;
use crate::tokens::console::{csrf_matches, ConsoleSessions, IssuedSession, SessionClaims, COOKIE, CSRF_HEADER};

/// What the guard needs to accept session cookies.
#[derive(Clone)]
pub struct SessionGuard {
    /// Signs and checks sessions.
    pub sessions: Arc<ConsoleSessions>,
    /// Where logouts are recorded.
    pub store: DynStore,
}

/// The session cookie's value, if the request carries one.
pub fn presented(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The claims of a session cookie we issued that has neither expired nor been revoked.
pub async fn verify(guard: &SessionGuard, token: &str) -> Result<SessionClaims, ApiError> {
    let claims = guard
        .sessions
        .verify(token)
        .map_err(|r| ApiError::new(StatusCode::UNAUTHORIZED, r.code, r.message))?;
    if guard.store.session_revoked(&claims.jti).await? {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "SESSION_REVOKED",
            "the console session was ended by logout; sign in again",
        ));
    }
    Ok(claims)
}

/// True for methods that change nothing (and so need no CSRF token).
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cookie-authorised request another site made (`Sec-Fetch-Site: cross-site`,
/// sent by every current browser) and a state-changing one without the session's CSRF
/// token in `X-CSRF-Token`.
pub fn check_origin_and_csrf(req: &HttpRequest, claims: &SessionClaims) -> Result<(), ApiError> {
    let site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site == Some("cross-site") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CROSS_SITE_REQUEST",
            "a console session is not accepted on requests from another site",
        ));
    }
    if is_safe(req.method()) {
        return Ok(());
    }
    match req.headers().get(CSRF_HEADER).map(|v| v.to_str()) {
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CSRF_TOKEN_MISSING",
            "a request that changes state with a session cookie must send the session's X-CSRF-Token header (GET /session gives it)",
        )),
        Some(Ok(v)) if csrf_matches(claims, v) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "CSRF_TOKEN_INVALID",
            "the X-CSRF-Token header is not this session's token (GET /session gives it)",
        )),
    }
}

/// Authorises a request by its session cookie: verified, not revoked, same-site, and with
/// the CSRF token when it changes state. Records the session as the request's credential.
pub async fn authorize(guard: &SessionGuard, req: &HttpRequest, token: &str) -> Result<SessionClaims, ApiError> {
    let claims = verify(guard, token).await?;
    check_origin_and_csrf(req, &claims)?;
    req.extensions_mut().insert(Credential::session(&claims.jti));
    Ok(claims)
}

/// True when the request came over TLS (directly or as a proxy says): the cookie is then
/// `Secure`.
fn is_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The session cookie with `value` and its fixed attributes: HttpOnly, SameSite=Strict,
/// the whole site, Secure over TLS. The one place they are written.
fn session_cookie(req: &HttpRequest, value: String) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_tls(req))
        .finish()
}

/// The cookie carrying `issued`.
pub fn cookie(req: &HttpRequest, issued: &IssuedSession) -> Cookie<'static> {
    let left = (issued.claims.exp - chrono::Utc::now().timestamp()).max(0);
    let mut c = session_cookie(req, issued.token.clone());
    c.set_max_age(time::Duration::seconds(left));
    c
}

/// The cookie that clears the session from the browser.
fn removal(req: &HttpRequest) -> Cookie<'static> {
    let mut c = session_cookie(req, String::new());
    c.make_removal();
    c
}

/// The answer describing a live session.
fn signed_in(claims: &SessionClaims, idle: std::time::Duration) -> serde_json::Value {
    json!({
        "authenticated": true,
        "auth": "on",
        "expires_at": claims.expires_at(),
        "idle_timeout_seconds": idle.as_secs(),
        "csrf_token": claims.csrf,
    })
}

/// When auth is off (development on loopback): the console needs no login.
fn auth_off() -> HttpResponse {
    HttpResponse::Ok().json(json!({"authenticated": true, "auth": "off", "csrf_token": null}))
}

/// Body of `POST /session`.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    /// The API secret (`RUNNER_API_SECRET`).
    secret: String,
}

#[utoipa::path(post, path = "/session", tag = "console", request_body = LoginDoc,
    description = "Exchanges the API secret for a console session: an HttpOnly, SameSite=Strict cookie (`jr_session`, Secure over TLS) holding a short-lived JWT. The answer carries the CSRF token state-changing requests must send in `X-CSRF-Token`.",
    responses((status = 200, description = "Signed in; the session cookie is set", body = SessionDoc)))]
#[tracing::instrument(name = "POST /session", skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let (Some(guard), Some(secret)) = (&state.sessions, &state.settings.server.runner_api_secret) else {
        return Ok(auth_off());
    };
    if !super::auth::secret_matches(secret.expose(), body.secret.trim()) {
        tracing::warn!("console login refused: wrong API secret");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SECRET",
            "that is not the API secret (RUNNER_API_SECRET)",
        ));
    }
    let issued = guard.sessions.issue(chrono::Utc::now()).map_err(|e| {
        tracing::error!(error = %e, "cannot issue a console session");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SESSION_NOT_ISSUED",
            "the session could not be signed",
        )
    })?;
    req.extensions_mut().insert(Credential::session(&issued.claims.jti));
    tracing::info!(session = %issued.claims.jti, "console session started");
    Ok(HttpResponse::Ok()
        .cookie(cookie(&req, &issued))
        .json(signed_in(&issued.claims, guard.sessions.ttl())))
}

#[utoipa::path(get, path = "/session", tag = "console",
    description = "Whether the request's session cookie is a live console session; if so, its expiry and CSRF token. Never refused: a page asks before it shows the login form.",
    responses((status = 200, description = "The session's state (`authenticated: false` with a `reason` when the cookie is expired, revoked or not ours)", body = SessionDoc)))]
#[tracing::instrument(name = "GET /session", skip_all)]
pub async fn current(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(guard) = &state.sessions else {
        return Ok(auth_off());
    };
    let Some(token) = presented(&req) else {
        return Ok(HttpResponse::Ok().json(json!({"authenticated": false, "auth": "on"})));
    };
    match verify(guard, &token).await {
        Ok(claims) => Ok(HttpResponse::Ok().json(signed_in(&claims, guard.sessions.ttl()))),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(HttpResponse::Ok()
            .cookie(removal(&req))
            .json(json!({"authenticated": false, "auth": "on", "reason": e.code, "detail": e.detail}))),
        Err(e) => Err(e),
    }
}

#[utoipa::path(delete, path = "/session", tag = "console",
    description = "Logs out: the session is revoked for every runner and the cookie cleared. A live session must send its `X-CSRF-Token`; without a live session there is nothing to end and the answer is the same.",
    responses((status = 200, description = "Signed out", body = SessionDoc)))]
#[tracing::instrument(name = "DELETE /session", skip_all)]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(guard) = &state.sessions else {
        return Ok(auth_off());
    };
    if let Some(token) = presented(&req) {
        match verify(guard, &token).await {
            Ok(claims) => {
                check_origin_and_csrf(&req, &claims)?;
                req.extensions_mut().insert(Credential::session(&claims.jti));
                guard.store.revoke_session(&claims.jti, claims.expires_at()).await?;
                tracing::info!(session = %claims.jti, "console session ended by logout");
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {}
            Err(e) => return Err(e),
        }
    }
    Ok(HttpResponse::Ok()
        .cookie(removal(&req))
        .json(json!({"authenticated": false, "auth": "on"})))
}
