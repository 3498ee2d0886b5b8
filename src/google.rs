//! Google Drive and Sheets publishing (`ENABLE_REMOTE_PUBLISHING`), as the old runner's
//! layer 7 did: the package's files go into `<GOOGLE_DRIVE_FOLDER_ID>/<Company>/<Title>/`
//! and one row per run is appended to `GOOGLE_SHEET_ID`.
//!
//! Auth is a service account (`GOOGLE_APPLICATION_CREDENTIALS`, the JSON key file): an
//! OAuth2 JWT-bearer grant signed RS256, the access token cached until a minute before it
//! expires. Folders are found by name before one is created, and a file that exists under
//! the same name is updated in place, so publishing a job twice leaves one copy. 429, 5xx
//! and network errors are retried with a doubling delay; a 401 drops the cached token once.
//! The key, the assertion and the tokens never reach a log or an error message.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::PublishingSettings;

/// The scopes asked for: files this account creates, and spreadsheets.
pub const SCOPES: &str = "https://www.googleapis.com/auth/drive https://www.googleapis.com/auth/spreadsheets";

const FOLDER: &str = "application/vnd.google-apps.folder";

/// A failed Google call: the status when Google answered, and what failed (no secrets).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GoogleError {
    /// Google's status code, when it answered.
    pub status: Option<u16>,
    /// What failed.
    pub message: String,
}

impl GoogleError {
    fn new(status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
}

/// What one publication produced.
#[derive(Debug, Clone)]
pub struct Published {
    /// The job's folder.
    pub folder_id: String,
    /// Its web address.
    pub folder_url: String,
    /// File name → Drive id.
    pub files: Vec<(String, String)>,
    /// The appended row's range (`Sheet1!A7:H7`), when a sheet is configured.
    pub sheet_range: Option<String>,
}

/// One file to publish.
pub struct DriveFile<'a> {
    pub name: &'a str,
    pub mime: &'a str,
    pub bytes: &'a [u8],
}

/// A Drive and Sheets client for one service account.
pub struct Google {
    http: reqwest::Client,
    email: String,
    key: jsonwebtoken::EncodingKey,
    token_url: String,
    drive: String,
    sheets: String,
    root: String,
    sheet: Option<String>,
    attempts: u32,
    retry_base: Duration,
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl Google {
    /// The client the settings describe; `Ok(None)` unless `ENABLE_REMOTE_PUBLISHING`.
    pub fn from_settings(p: &PublishingSettings) -> Result<Option<Self>, String> {
        if !p.enable_remote_publishing {
            return Ok(None);
        }
        let path = p.google_application_credentials.as_deref().ok_or(
            "ENABLE_REMOTE_PUBLISHING needs GOOGLE_APPLICATION_CREDENTIALS (the service account's JSON key file)",
        )?;
        let root = p
            .google_drive_folder_id
            .clone()
            .ok_or("ENABLE_REMOTE_PUBLISHING needs GOOGLE_DRIVE_FOLDER_ID")?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read GOOGLE_APPLICATION_CREDENTIALS {path}: {e}"))?;
        let key: KeyFile = serde_json::from_str(&text).map_err(|_| {
            format!("GOOGLE_APPLICATION_CREDENTIALS {path} is not a service account key (client_email and private_key)")
        })?;
        let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|_| format!("the private key in {path} is not an RSA PEM key"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the Google client: {e}"))?;
        Ok(Some(Self {
            http,
            email: key.client_email,
            key: signing,
            token_url: p.google_token_url.clone(),
            drive: p.google_drive_base_url.trim_end_matches('/').to_owned(),
            sheets: p.google_sheets_base_url.trim_end_matches('/').to_owned(),
            root,
            sheet: p.google_sheet_id.clone(),
            attempts: p.webhook_max_attempts,
            retry_base: p.webhook_retry_base,
            cached: tokio::sync::Mutex::new(None),
        }))
    }

    /// An access token: the cached one while it has more than a minute left, else a new
    /// one from the JWT-bearer grant.
    async fn token(&self) -> Result<String, GoogleError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(token.clone());
            }
        }
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": self.email, "scope": SCOPES, "aud": self.token_url, "iat": now, "exp": now + 3600});
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|_| GoogleError::new(None, "cannot sign the service account assertion"))?;
        let res = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|_| GoogleError::new(None, "cannot reach Google's token endpoint"))?;
        let status = res.status();
        if !status.is_success() {
            return Err(GoogleError::new(
                Some(status.as_u16()),
                format!("Google refused the service account ({status}); check the key and its access"),
            ));
        }
        let body: Value = res
            .json()
            .await
            .map_err(|_| GoogleError::new(None, "Google's token answer is not JSON"))?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| GoogleError::new(None, "Google's token answer has no access_token"))?
            .to_owned();
        let lifetime = body["expires_in"].as_u64().unwrap_or(3600);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(lifetime)));
        Ok(token)
    }

    /// Sends the request `build(token)` makes, retrying 429, 5xx and network errors, and
    /// once with a fresh token after a 401; the answer's JSON.
    async fn call(&self, what: &str, build: impl Fn(&str) -> reqwest::RequestBuilder) -> Result<Value, GoogleError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let (status, retry) = match build(&token).send().await {
                Ok(res) if res.status().is_success() => {
                    return res.json().await.or_else(|_| Ok(Value::Null));
                }
                Ok(res) if res.status().as_u16() == 401 && !refreshed => {
                    refreshed = true;
                    *self.cached.lock().await = None;
                    attempt -= 1;
                    continue;
                }
                Ok(res) => {
                    let s = res.status();
                    (Some(s.as_u16()), s.is_server_error() || s.as_u16() == 429)
                }
                Err(_) => (None, true),
            };
            if !retry || attempt >= self.attempts.max(1) {
                let why = status.map_or("no answer".to_owned(), |s| format!("status {s}"));
                return Err(GoogleError::new(
                    status,
                    format!("{what} failed ({why}, {attempt} attempt(s))"),
                ));
            }
            tokio::time::sleep(crate::backoff::delay(attempt, self.retry_base, Duration::from_secs(60))).await;
        }
    }

    /// The id of the file or folder `name` in `parent`, if there is one.
    async fn find(&self, parent: &str, name: &str, folder: bool) -> Result<Option<String>, GoogleError> {
        let mut q = format!(
            "name = '{}' and '{}' in parents and trashed = false",
            quote(name),
            quote(parent)
        );
        if folder {
            q.push_str(&format!(" and mimeType = '{FOLDER}'"));
        }
        let url = format!("{}/drive/v3/files", self.drive);
        let found = self
            .call("Drive files.list", |t| {
                self.http.get(&url).bearer_auth(t).query(&[
                    ("q", q.as_str()),
                    ("fields", "files(id,name)"),
                    ("supportsAllDrives", "true"),
                    ("includeItemsFromAllDrives", "true"),
                ])
            })
            .await?;
        Ok(found["files"][0]["id"].as_str().map(str::to_owned))
    }

    /// The folder `name` in `parent`, created when it does not exist yet.
    async fn folder(&self, parent: &str, name: &str) -> Result<String, GoogleError> {
        if let Some(id) = self.find(parent, name, true).await? {
            return Ok(id);
        }
        let url = format!("{}/drive/v3/files", self.drive);
        let made = self
            .call("Drive folder create", |t| {
                self.http
                    .post(&url)
                    .bearer_auth(t)
                    .query(&[("fields", "id"), ("supportsAllDrives", "true")])
                    .json(&json!({"name": name, "mimeType": FOLDER, "parents": [parent]}))
            })
            .await?;
        id_of(&made, "Drive folder create")
    }

    /// Uploads `file` into `folder`, replacing the content of a file of the same name.
    async fn upsert(&self, folder: &str, file: &DriveFile<'_>) -> Result<String, GoogleError> {
        if let Some(id) = self.find(folder, file.name, false).await? {
            let url = format!("{}/upload/drive/v3/files/{id}", self.drive);
            self.call("Drive files.update", |t| {
                self.http
                    .patch(&url)
                    .bearer_auth(t)
                    .query(&[("uploadType", "media"), ("supportsAllDrives", "true")])
                    .header("Content-Type", file.mime)
                    .body(file.bytes.to_vec())
            })
            .await?;
            return Ok(id);
        }
        let boundary = format!("job-runner-{}", uuid::Uuid::new_v4().simple());
        let metadata = json!({"name": file.name, "parents": [folder]}).to_string();
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: {}\r\n\r\n",
            file.mime
        )
        .into_bytes();
        body.extend_from_slice(file.bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!("{}/upload/drive/v3/files", self.drive);
        let made = self
            .call("Drive files.create", |t| {
                self.http
                    .post(&url)
                    .bearer_auth(t)
                    .query(&[
                        ("uploadType", "multipart"),
                        ("fields", "id"),
                        ("supportsAllDrives", "true"),
                    ])
                    .header("Content-Type", format!("multipart/related; boundary={boundary}"))
                    .body(body.clone())
            })
            .await?;
        id_of(&made, "Drive files.create")
    }

    /// Appends one row to the sheet; the range written.
    async fn append_row(&self, sheet: &str, row: &[String]) -> Result<String, GoogleError> {
        let url = format!("{}/v4/spreadsheets/{sheet}/values/A1:append", self.sheets);
        let answer = self
            .call("Sheets values.append", |t| {
                self.http
                    .post(&url)
                    .bearer_auth(t)
                    .query(&[
                        ("valueInputOption", "USER_ENTERED"),
                        ("insertDataOption", "INSERT_ROWS"),
                    ])
                    .json(&json!({"values": [row]}))
            })
            .await?;
        Ok(answer["updates"]["updatedRange"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Publishes a package: `<root>/<company>/<title>/` with `files`, then the row `row`
    /// makes from the folder's address on the sheet.
    pub async fn publish(
        &self,
        company: &str,
        title: &str,
        files: &[DriveFile<'_>],
        row: impl FnOnce(&str) -> Vec<String>,
    ) -> Result<Published, GoogleError> {
        let company_folder = self.folder(&self.root, &crate::artifacts::folder_name(company)).await?;
        let folder_id = self
            .folder(&company_folder, &crate::artifacts::folder_name(title))
            .await?;
        let mut ids = Vec::with_capacity(files.len());
        for f in files {
            ids.push((f.name.to_owned(), self.upsert(&folder_id, f).await?));
        }
        let folder_url = format!("https://drive.google.com/drive/folders/{folder_id}");
        let sheet_range = match &self.sheet {
            Some(sheet) => Some(self.append_row(sheet, &row(&folder_url)).await?),
            None => None,
        };
        Ok(Published {
            folder_url,
            folder_id,
            files: ids,
            sheet_range,
        })
    }
}

/// A value inside a Drive query's single quotes.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

fn id_of(v: &Value, what: &str) -> Result<String, GoogleError> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| GoogleError::new(None, format!("{what} answered without an id")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn drive_query_values_are_escaped() {
        assert_eq!(super::quote("O'Brien \\ Co"), "O\\'Brien \\\\ Co");
    }
}
