//! The operator console at `/`: one page (HTML, CSS and JavaScript compiled into the
//! binary from `assets/console/`, no build step, nothing fetched from elsewhere) that
//! shows the runs, one run's stages, live log and files, starts work and shows health,
//! all through this API with a session cookie (see [`super::session`]).
//!
//! The page's files hold no data, so they are served without credentials; the page gets
//! what it shows after login. Its settings (the operations and tiers it offers, whether
//! auth is on) are written into the page as a JSON data block, which the page's strict
//! Content-Security-Policy allows (it is data, never run).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::domain::{Operation, Tier};
use crate::http::error::ApiError;

const INDEX: &str = include_str!("../../assets/console/index.html");
const SCRIPT: &str = include_str!("../../assets/console/console.js");
const STYLE: &str = include_str!("../../assets/console/console.css");

/// Where the console's files are served.
pub const PREFIX: &str = "/console/";

/// True for the console's page and files (`/`, `/console/...`).
pub fn is_console_file(path: &str) -> bool {
    path == "/" || path.starts_with(PREFIX)
}

/// The console's settings as the page reads them.
fn page_config(state: &AppState) -> serde_json::Value {
    json!({
        "auth": if state.settings.server.runner_api_secret.is_some() { "on" } else { "off" },
        "version": env!("CARGO_PKG_VERSION"),
        "operations": Operation::ALL
            .into_iter()
            .filter(|op| op.is_supported())
            .map(|op| json!({"name": op.as_str(), "full": op == Operation::FULL_RUN}))
            .collect::<Vec<_>>(),
        "tiers": Tier::ALL.map(Tier::as_str),
        "max_bulk": state.settings.queue.max_queue,
    })
}

/// `text` safe inside a `<script type="application/json">` block: no `<` can close it.
fn json_for_html(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `GET /`: the console page.
#[tracing::instrument(name = "GET /", skip_all)]
pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    let html = INDEX.replace("{{CONFIG}}", &json_for_html(&page_config(&state)));
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html)
}

/// `GET /console/{file}`: the page's script and style sheet.
#[tracing::instrument(name = "GET /console/{file}", skip_all)]
pub async fn file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, kind) = match path.as_str() {
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        other => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!(
                    "the console has no file {:?}",
                    crate::domain::untrusted::clip(other, 80)
                ),
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_block_cannot_be_closed_by_its_content() {
        let v = json!({"x": "</script><script>alert(1)</script>&"});
        let out = json_for_html(&v);
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), v);
    }

    #[test]
    fn the_page_holds_the_config_placeholder_once_and_loads_only_its_own_files() {
        assert_eq!(INDEX.matches("{{CONFIG}}").count(), 1);
        for src in ["src=\"", "href=\""] {
            for (i, _) in INDEX.match_indices(src) {
                let rest = &INDEX[i + src.len()..];
                assert!(
                    rest.starts_with("/console/") || rest.starts_with('#') || rest.starts_with("data:"),
                    "{}",
                    &rest[..rest.len().min(40)]
                );
            }
        }
    }
}
