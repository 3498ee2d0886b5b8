//! Headers every answer carries and the request id: `X-Content-Type-Options: nosniff`,
//! `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` (the API serves
//! no pages but the Swagger UI at `/docs` and the console at `/`, which get policies that
//! let their own scripts run), `Referrer-Policy: no-referrer`, `Cache-Control: no-store` on JSON (runs change
//! under a cache), and `X-Request-Id`: the client's (when it is a short token) or a new
//! one, echoed in the answer and recorded on the request's tracing span, so every log line
//! a request causes can be found by it.

use actix_web::http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// The client's request id when it is 1–64 characters of `[A-Za-z0-9._-]`, else a new one.
pub fn request_id(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| (1..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// True for a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
pub fn is_preflight(req: &actix_web::dev::ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::OPTIONS
        && req.headers().contains_key(actix_web::http::header::ORIGIN)
        && req
            .headers()
            .contains_key(actix_web::http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The JSON answer to a refused preflight (the CORS layer's own is plain text).
pub fn cors_refusal(req: &actix_web::HttpRequest) -> actix_web::HttpResponse {
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let error = crate::http::error::ApiError::new(
        actix_web::http::StatusCode::BAD_REQUEST,
        "CORS_REJECTED",
        format!(
            "cross-origin request from {:?} refused: the origin, method or headers are not allowed (CORS_ORIGINS)",
            crate::domain::untrusted::clip(origin, 100)
        ),
    );
    actix_web::ResponseError::error_response(&error)
}

/// The policy of the API's answers: nothing may load or frame anything.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy of the Swagger UI at `/docs`: its own scripts, styles and the OpenAPI
/// document from this origin only; still never framed.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'";

/// The policy of the operator console at `/`: its own script and style sheet only (no
/// inline script or style), JSON and the log stream from this origin, never framed, no
/// form posted anywhere.
const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// True for the Swagger UI's page and assets (`/docs`, `/docs/...`).
pub fn is_docs_page(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

/// Adds the security headers and the request id to an answer to `path`.
pub fn secure(headers: &mut actix_web::http::header::HeaderMap, id: &str, path: &str) {
    // Constant values are never parsed per answer: this runs on every request.
    let set = |h: &mut actix_web::http::header::HeaderMap, name: &'static str, value: &'static str| {
        h.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    set(headers, "x-content-type-options", "nosniff");
    let policy = if is_docs_page(path) {
        DOCS_CSP
    } else if super::console::is_console_file(path) {
        CONSOLE_CSP
    } else {
        API_CSP
    };
    set(headers, "content-security-policy", policy);
    set(headers, "referrer-policy", "no-referrer");
    if let Ok(v) = HeaderValue::from_str(id) {
        headers.insert(HeaderName::from_static(REQUEST_ID), v);
    }
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_id_is_kept_only_when_it_is_a_short_token() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(request_id(Some(&v("abc-123.X_y"))), "abc-123.X_y");
        for bad in ["", "has space", "line\\nbreak", &"x".repeat(65)] {
            if let Ok(h) = HeaderValue::from_str(bad) {
                assert_ne!(request_id(Some(&h)), bad, "{bad:?}");
            }
        }
        assert_eq!(request_id(None).len(), 32);
    }
}
