//! Google Drive and Sheets publishing against wiremock standing in for Google (the one
//! third-party API here that cannot run locally): a small fake Drive keeps folders and
//! files by parent and name, so finding, creating and updating behave as Google's do. The
//! token endpoint verifies the RS256 assertion with the test key's public half.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use job_runner::config::Settings;
use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{spawn_app_with, TestApp, JOB};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/google");

/// What the fake Google saw and holds.
#[derive(Default)]
struct Fake {
    /// (parent, name) → (id, is folder).
    items: HashMap<(String, String), (String, bool)>,
    tokens_issued: usize,
    updates: usize,
    rows: Vec<Vec<Value>>,
    /// Answers to give before behaving: (path prefix, status), used once each.
    failures: Vec<(String, u16)>,
}

fn query(req: &Request, key: &str) -> String {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `name = 'X' and 'P' in parents ...` → (P, X).
fn parse_q(q: &str) -> (String, String) {
    let name = q
        .split("name = '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or("");
    let parent = q
        .split(" and '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or("");
    (parent.to_owned(), name.to_owned())
}

async fn fake_google(token_url_path: &str) -> (MockServer, Arc<Mutex<Fake>>) {
    let server = MockServer::start().await;
    let fake = Arc::new(Mutex::new(Fake::default()));
    let audience = format!("{}{token_url_path}", server.uri());
    let public = std::fs::read(format!("{FIXTURES}/public.pem")).unwrap();
    let state = Arc::clone(&fake);
    Mock::given(wiremock::matchers::any())
        .respond_with(move |req: &Request| {
            let mut f = state.lock().unwrap();
            let path = req.url.path().to_owned();
            if let Some(i) = f.failures.iter().position(|(p, _)| path.starts_with(p.as_str())) {
                let (_, status) = f.failures.remove(i);
                return ResponseTemplate::new(status);
            }
            if path == "/token" {
                let form: HashMap<String, String> = String::from_utf8_lossy(&req.body)
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":").replace("%2F", "/")))
                    .collect();
                assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
                let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
                v.set_audience(&[audience.as_str()]);
                let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
                let claims = jsonwebtoken::decode::<Value>(&form["assertion"], &key, &v)
                    .expect("the assertion verifies with the public key")
                    .claims;
                assert_eq!(claims["iss"], "publisher@job-runner-tests.iam.gserviceaccount.com");
                assert!(claims["scope"].as_str().unwrap().contains("auth/drive"));
                f.tokens_issued += 1;
                return ResponseTemplate::new(200).set_body_json(
                    json!({"access_token": "ya29.test-token", "expires_in": 3600, "token_type": "Bearer"}),
                );
            }
            let authorised =
                req.headers.get("authorization").and_then(|h| h.to_str().ok()) == Some("Bearer ya29.test-token");
            if !authorised {
                return ResponseTemplate::new(401);
            }
            let next_id = |f: &Fake| format!("id-{}", f.items.len() + 1);
            match (req.method.as_str(), path.as_str()) {
                ("GET", "/drive/v3/files") => {
                    let (parent, name) = parse_q(&query(req, "q"));
                    let files: Vec<Value> = f
                        .items
                        .get(&(parent, name.clone()))
                        .map(|(id, _)| json!({"id": id, "name": name}))
                        .into_iter()
                        .collect();
                    ResponseTemplate::new(200).set_body_json(json!({"files": files}))
                }
                ("POST", "/drive/v3/files") => {
                    let body: Value = serde_json::from_slice(&req.body).unwrap();
                    let id = next_id(&f);
                    let key = (
                        body["parents"][0].as_str().unwrap().to_owned(),
                        body["name"].as_str().unwrap().to_owned(),
                    );
                    f.items.insert(key, (id.clone(), true));
                    ResponseTemplate::new(200).set_body_json(json!({"id": id}))
                }
                ("POST", "/upload/drive/v3/files") => {
                    assert_eq!(query(req, "uploadType"), "multipart");
                    let text = String::from_utf8_lossy(&req.body);
                    let start = text.find("\r\n\r\n").unwrap() + 4;
                    let end = start + text[start..].find("\r\n--").unwrap();
                    let meta: Value = serde_json::from_str(&text[start..end]).unwrap();
                    let id = next_id(&f);
                    let key = (
                        meta["parents"][0].as_str().unwrap().to_owned(),
                        meta["name"].as_str().unwrap().to_owned(),
                    );
                    f.items.insert(key, (id.clone(), false));
                    ResponseTemplate::new(200).set_body_json(json!({"id": id}))
                }
                ("PATCH", p) if p.starts_with("/upload/drive/v3/files/") => {
                    f.updates += 1;
                    ResponseTemplate::new(200).set_body_json(json!({"id": p.rsplit('/').next().unwrap()}))
                }
                ("POST", "/v4/spreadsheets/sheet-1/values/A1:append") => {
                    let body: Value = serde_json::from_slice(&req.body).unwrap();
                    f.rows.push(body["values"][0].as_array().unwrap().clone());
                    let n = f.rows.len() + 1;
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"updates": {"updatedRange": format!("Sheet1!A{n}:H{n}")}}))
                }
                _ => ResponseTemplate::new(404),
            }
        })
        .mount(&server)
        .await;
    (server, fake)
}

fn with_google(server: &MockServer) -> impl FnOnce(&mut Settings) {
    let base = server.uri();
    move |s: &mut Settings| {
        let p = &mut s.publishing;
        p.enable_remote_publishing = true;
        p.google_application_credentials = Some(format!("{FIXTURES}/service-account.json"));
        p.google_drive_folder_id = Some("root-folder".into());
        p.google_sheet_id = Some("sheet-1".into());
        p.google_drive_base_url = base.clone();
        p.google_sheets_base_url = base.clone();
        p.google_token_url = format!("{base}/token");
        p.webhook_retry_base = Duration::from_millis(10);
    }
}

/// The run's Drive publications once there are `n`.
async fn publications(app: &TestApp, run: &str, n: usize) -> Vec<Value> {
    crate::webhooks::deliveries_to(app, run, Some("google-drive"), n).await
}

#[actix_web::test]
async fn a_package_lands_in_drive_once_and_a_row_per_publication_with_one_token() {
    let (server, fake) = fake_google("/token").await;
    let app = spawn_app_with(with_google(&server), &[]).await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    let first = publications(&app, &run, 1).await;
    assert_eq!(first[0]["delivered"], true, "{first:?}");
    let detail = app.get_json(&format!("/runs/{run}")).await;
    assert_eq!(detail["remote_publishing"]["status"], "published");
    {
        let f = fake.lock().unwrap();
        let company = &f.items[&("root-folder".to_owned(), "Northwind_Logistics".to_owned())];
        let job = &f.items[&(company.0.clone(), "Senior_Backend_Engineer".to_owned())];
        assert!(company.1 && job.1, "two folders");
        for file in ["CV.pdf", "CV.docx", "cover_letter.pdf", "dossier.txt"] {
            assert!(
                f.items.contains_key(&(job.0.clone(), file.to_owned())),
                "{file} uploaded"
            );
        }
        assert_eq!(f.items.len(), 6);
        assert_eq!(f.rows.len(), 1);
        let row: Vec<String> = f.rows[0].iter().map(|v| v.as_str().unwrap_or("").to_owned()).collect();
        assert_eq!(
            (row[1].as_str(), row[2].as_str()),
            ("Northwind Logistics", "Senior Backend Engineer")
        );
        assert!(row[3].parse::<u32>().is_ok(), "the fit score: {row:?}");
        assert!(row[5].ends_with(&job.0) && row[7] == run, "{row:?}");
    }
    let doc = app.job_document(JOB).await;
    assert!(doc["drive_folder_url"]
        .as_str()
        .unwrap()
        .starts_with("https://drive.google.com/drive/folders/"));
    assert_eq!(doc["sheet_row_id"], "Sheet1!A2:H2");
    assert!(doc["gdrive_uploaded_at"].is_string() && doc["dossier_gdrive_uploaded_at"].is_string());
    assert_eq!(doc["remote_publishing"]["status"], "published");

    // Publishing again updates the same four files and adds a row; no new folder, no new
    // token.
    assert_eq!(
        app.post(&format!("/jobs/{run}/publish"), &json!({})).await.status(),
        202
    );
    let again = publications(&app, &run, 2).await;
    assert_eq!(again[1]["delivered"], true);
    let f = fake.lock().unwrap();
    assert_eq!((f.items.len(), f.updates, f.rows.len()), (6, 4, 2));
    assert_eq!(f.tokens_issued, 1, "the access token is reused");
}

#[actix_web::test]
async fn a_429_is_retried_and_a_403_is_recorded_without_failing_the_run() {
    let (server, fake) = fake_google("/token").await;
    fake.lock().unwrap().failures.push(("/v4/spreadsheets".into(), 429));
    let app = spawn_app_with(with_google(&server), &[]).await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    assert_eq!(
        publications(&app, &run, 1).await[0]["delivered"],
        true,
        "429 then success"
    );
    assert_eq!(fake.lock().unwrap().rows.len(), 1);

    // Drive refuses the account: recorded on the run and the job; the run stays completed.
    fake.lock()
        .unwrap()
        .failures
        .extend([("/drive".into(), 403), ("/drive".into(), 403)]);
    assert_eq!(
        app.post(&format!("/jobs/{run}/publish"), &json!({})).await.status(),
        202
    );
    let list = publications(&app, &run, 2).await;
    assert_eq!(
        (list[1]["delivered"].as_bool(), list[1]["status"].as_u64()),
        (Some(false), Some(403))
    );
    assert!(list[1]["error"].as_str().unwrap().contains("403"));
    let status = app.get_json(&format!("/jobs/{run}/status")).await;
    assert_eq!(status["status"], "completed");
    let detail = app.get_json(&format!("/runs/{run}")).await;
    assert_eq!(detail["remote_publishing"]["status"], "failed", "{detail}");
    assert_eq!(detail["remote_publishing"]["targets"]["google-drive"]["status"], 403);
    let doc = app.job_document(JOB).await;
    assert_eq!(doc["remote_publishing"]["status"], "failed");
    assert!(
        !serde_json::to_string(&doc).unwrap().contains("ya29."),
        "no token in the job"
    );
}
