//! `/openapi.json` and the Swagger UI at `/docs`: open in development, with
//! `OPEN_READ_ROUTES` or `OPEN_DOCS`, else behind the bearer; the UI gets the only relaxed
//! content security policy.

use job_runner::config::Environment;
use serde_json::Value;

use crate::helpers::spawn_app_with;

async fn status_without_bearer(app: &crate::helpers::TestApp, path: &str) -> u16 {
    app.client.get(app.url(path)).send().await.unwrap().status().as_u16()
}

#[actix_web::test]
async fn the_docs_are_behind_the_bearer_unless_opened() {
    let prod = spawn_app_with(|s| s.server.environment = Environment::Production, &[]).await;
    for path in ["/openapi.json", "/docs/", "/docs/swagger-initializer.js"] {
        assert_eq!(status_without_bearer(&prod, path).await, 401, "{path}");
        assert_eq!(prod.get(path).await.status(), 200, "{path} with the bearer");
    }
    let opened = spawn_app_with(
        |s| {
            s.server.environment = Environment::Production;
            s.server.open_docs = true;
        },
        &[],
    )
    .await;
    assert_eq!(status_without_bearer(&opened, "/openapi.json").await, 200);
    assert_eq!(status_without_bearer(&opened, "/docs/").await, 200);
    assert_eq!(status_without_bearer(&opened, "/runs").await, 401, "only the docs open");
    let dev = spawn_app_with(|s| s.server.environment = Environment::Development, &[]).await;
    assert_eq!(status_without_bearer(&dev, "/openapi.json").await, 200);
}

#[actix_web::test]
async fn the_document_lists_every_route_and_the_ui_is_served_from_the_binary() {
    let app = spawn_app_with(|_| {}, &[]).await;
    let doc: Value = app.get_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 35, "{} paths", paths.len());
    for (path, method) in [
        ("/jobs/run", "post"),
        ("/jobs/{run_id}/logs", "get"),
        ("/api/jobs/{job_id}/operations/{operation}/queue", "post"),
        ("/queue/state", "get"),
        ("/artifacts/{run_id}/{filename}", "get"),
        ("/tokens/revoke", "post"),
        ("/audit", "get"),
        ("/health", "head"),
    ] {
        assert!(paths[path].get(method).is_some(), "{method} {path}");
    }
    // Examples and error codes are part of it.
    let ticket = &doc["components"]["schemas"]["RunTicketDoc"];
    assert!(ticket["example"]["stream_token"].is_string(), "{ticket}");
    assert_eq!(
        doc["components"]["schemas"]["ErrorBody"]["example"]["code"],
        "RUN_NOT_FOUND"
    );

    // /docs redirects to the UI; its assets come from the binary; the policy lets them run.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(app.url("/docs"))
        .bearer_auth(crate::helpers::SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/docs/");
    let ui = app.get("/docs/").await;
    let csp = ui.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(ui.text().await.unwrap().contains("swagger-ui-bundle.js"));
    let initializer = app.get_text("/docs/swagger-initializer.js").await;
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    let api = app.get("/openapi.json").await;
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(api.headers()["cache-control"], "no-store");
    // A wrong method is a 405 naming the allowed one.
    let res = app.post("/openapi.json", &serde_json::json!({})).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET");
}
