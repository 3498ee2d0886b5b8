//! Bearer-token guard: every route except `/health` and CORS preflights needs
//! `Authorization: Bearer <RUNNER_API_SECRET>`, compared in constant time (SHA-256 digests compared with
//! `subtle`, so neither content nor length leaks through timing). A run token (`?token=`
//! or a JWT bearer, see [`crate::tokens`]) stands in for the secret on the reads of its
//! own run only ([`super::run_tokens::check`]). The console's session cookie stands in for
//! it on every route, with a CSRF token on state-changing requests ([`super::session`]).
//! The console's own files and `/session` are public: they hold no data.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{http::header, Error, HttpMessage as _};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::http::audit::Credential;
use crate::http::error::ApiError;
use crate::http::session::SessionGuard;
use crate::store::DynStore;
use crate::tokens::RunTokens;

/// The middleware factory. `None` disables auth (development without a secret).
#[derive(Clone)]
pub struct BearerAuth {
    digest: Option<[u8; 32]>,
    open_reads: bool,
    open_docs: bool,
    run_tokens: Option<(Option<Arc<RunTokens>>, DynStore)>,
    sessions: Option<SessionGuard>,
}

impl BearerAuth {
    /// Guards with `secret`, or lets everything through when `None`.
    pub fn new(secret: Option<&str>) -> Self {
        Self {
            digest: secret.map(|s| Sha256::digest(s.as_bytes()).into()),
            open_reads: false,
            open_docs: false,
            run_tokens: None,
            sessions: None,
        }
    }

    /// Accepts console session cookies (`None`: auth is off, or no console).
    pub fn with_sessions(mut self, sessions: Option<SessionGuard>) -> Self {
        self.sessions = sessions;
        self
    }

    /// Accepts run tokens (checked against `store`) on the reads of their run; with
    /// `tokens` `None`, a presented token is refused with `TOKENS_DISABLED`.
    pub fn with_run_tokens(mut self, tokens: Option<Arc<RunTokens>>, store: DynStore) -> Self {
        self.run_tokens = Some((tokens, store));
        self
    }

    /// Lets `/docs` and `/openapi.json` through without a token.
    pub fn with_open_docs(mut self, open: bool) -> Self {
        self.open_docs = open;
        self
    }

    /// Lets the read routes of [`is_open_read`] through without a token
    /// (`OPEN_READ_ROUTES=true`, for the dashboard's browser-side polling).
    pub fn with_open_reads(mut self, open: bool) -> Self {
        self.open_reads = open;
        self
    }
}

/// The reads the newest dashboard makes without a bearer (from the browser and its
/// server): the queue, log polling and streams, run status and progress, metrics and
/// diagnostics. Nothing that changes state or serves an artifact is ever among them.
pub fn is_open_read(method: &actix_web::http::Method, path: &str) -> bool {
    if method != actix_web::http::Method::GET && method != actix_web::http::Method::HEAD {
        return false;
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["queue", "state"]
            | ["queue", "item", _]
            | ["diagnostics"]
            | ["api", "logs", ..]
            | ["api", "metrics", ..]
            | ["jobs", _, "status" | "progress" | "logs"]
    )
}

/// The token of an `Authorization: Bearer <token>` value (either case of `Bearer`),
/// trimmed: the one reading of the header for auth, rate limits and the audit trail.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    header_value
        .strip_prefix("Bearer ")
        .or_else(|| header_value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The request's bearer token, if it sent one.
pub fn request_bearer(headers: &header::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
}

/// True when the bearer token is the secret.
fn authorized(expected: &[u8; 32], token: Option<&str>) -> bool {
    let Some(token) = token else {
        return false;
    };
    let got: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    got.ct_eq(expected).into()
}

/// True when `given` is `secret`, compared in constant time (SHA-256 digests, so neither
/// content nor length leaks through timing).
pub(super) fn secret_matches(secret: &str, given: &str) -> bool {
    authorized(&Sha256::digest(secret.as_bytes()).into(), Some(given))
}

/// Routes anyone may call: the health probe, the console's files (no data in them) and
/// the login itself (`/session` checks what it is given).
fn is_public(path: &str) -> bool {
    path == "/health" || path == "/session" || super::console::is_console_file(path)
}

/// The API's own documentation: the Swagger UI and the OpenAPI document.
pub fn is_docs(path: &str) -> bool {
    path == "/openapi.json" || super::hygiene::is_docs_page(path)
}

impl<S, B> Transform<S, ServiceRequest> for BearerAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BearerAuthMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BearerAuthMiddleware {
            service: Rc::new(service),
            digest: self.digest,
            open_reads: self.open_reads,
            open_docs: self.open_docs,
            run_tokens: self.run_tokens.clone(),
            sessions: self.sessions.clone(),
        }))
    }
}

/// The middleware.
pub struct BearerAuthMiddleware<S> {
    service: Rc<S>,
    digest: Option<[u8; 32]>,
    open_reads: bool,
    open_docs: bool,
    run_tokens: Option<(Option<Arc<RunTokens>>, DynStore)>,
    sessions: Option<SessionGuard>,
}

impl<S, B> Service<ServiceRequest> for BearerAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let bearer = request_bearer(req.headers());
        let (allowed, credential) = match &self.digest {
            None => (true, Some(Credential::open())),
            Some(d) if authorized(d, bearer) => (true, bearer.map(Credential::secret)),
            Some(_) => (
                // A CORS preflight carries no credentials, so it passes; any other
                // `OPTIONS` needs the token like every other request.
                is_public(req.path())
                    || super::hygiene::is_preflight(&req)
                    || (self.open_reads && is_open_read(req.method(), req.path()))
                    || (self.open_docs && is_docs(req.path())),
                None,
            ),
        };
        if let Some(c) = credential {
            req.extensions_mut().insert(c);
        }
        let service = Rc::clone(&self.service);
        if allowed {
            return Box::pin(async move { service.call(req).await.map(ServiceResponse::map_into_left_body) });
        }
        let cookie = super::session::presented(req.request());
        if let (None, Some(cookie), Some(guard)) = (bearer, cookie, self.sessions.clone()) {
            return Box::pin(async move {
                let claims = match super::session::authorize(&guard, req.request(), &cookie).await {
                    Ok(claims) => claims,
                    Err(e) => {
                        let response = actix_web::ResponseError::error_response(&e);
                        return Ok(req.into_response(response).map_into_right_body());
                    }
                };
                let renewal = guard.sessions.renew(&claims, chrono::Utc::now());
                let mut res = service.call(req).await?;
                match renewal {
                    Some(Ok(issued)) => {
                        let cookie = super::session::cookie(res.request(), &issued);
                        if let Err(e) = res.response_mut().add_cookie(&cookie) {
                            tracing::warn!(error = %e, "cannot renew the console session cookie");
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "cannot renew the console session"),
                    None => {}
                }
                Ok(res.map_into_left_body())
            });
        }
        let token = match super::run_tokens::presented(req.query_string(), bearer) {
            Ok(Some(token)) => token,
            Ok(None) => return refuse(req, ApiError::unauthorized()),
            Err(e) => return refuse(req, e),
        };
        let Some((tokens, store)) = self.run_tokens.clone() else {
            return refuse(req, ApiError::unauthorized());
        };
        Box::pin(async move {
            let checked = super::run_tokens::check(tokens.as_deref(), &store, req.method(), req.path(), &token).await;
            match checked {
                Ok(claims) => {
                    tracing::debug!(jti = %claims.jti, "request authorised by a run token");
                    req.extensions_mut().insert(Credential::run_token(&claims.jti));
                    service.call(req).await.map(ServiceResponse::map_into_left_body)
                }
                Err(e) => {
                    let response = actix_web::ResponseError::error_response(&e);
                    Ok(req.into_response(response).map_into_right_body())
                }
            }
        })
    }
}

/// Answers `error` without calling the service.
fn refuse<B: 'static>(
    req: ServiceRequest,
    error: ApiError,
) -> LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, Error>> {
    let response = actix_web::ResponseError::error_response(&error);
    Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_secret_passes() {
        let d: [u8; 32] = Sha256::digest(b"0123456789abcdef").into();
        let auth = |h: Option<&str>| authorized(&d, h.and_then(bearer_token));
        assert!(auth(Some("Bearer 0123456789abcdef")));
        assert!(auth(Some("bearer 0123456789abcdef ")));
        assert!(!auth(Some("Bearer 0123456789abcde")));
        assert!(!auth(Some("Basic 0123456789abcdef")));
        assert!(!auth(Some("0123456789abcdef")));
        assert!(!auth(None));
    }

    #[test]
    fn open_reads_are_exactly_the_dashboards_polling_reads() {
        use actix_web::http::Method;
        let run = "/jobs/0123456789abcdef0123456789abcdef";
        for path in [
            "/queue/state".to_owned(),
            "/queue/item/65a1b2c3d4e5f60718293a4b".to_owned(),
            "/api/logs/0123456789abcdef0123456789abcdef".to_owned(),
            "/api/logs/0123456789abcdef0123456789abcdef/status".to_owned(),
            "/api/metrics/budget".to_owned(),
            "/diagnostics".to_owned(),
            format!("{run}/status"),
            format!("{run}/progress"),
            format!("{run}/logs"),
        ] {
            assert!(is_open_read(&Method::GET, &path), "{path}");
            assert!(!is_open_read(&Method::POST, &path), "{path}");
        }
        for path in [
            format!("{run}/cancel"),
            "/jobs/run".to_owned(),
            "/artifacts/0123456789abcdef0123456789abcdef/CV.md".to_owned(),
            "/runs".to_owned(),
            "/metrics".to_owned(),
            "/health/deep".to_owned(),
            "/queue/state/extra".to_owned(),
        ] {
            assert!(!is_open_read(&Method::GET, &path), "{path}");
        }
    }
}
