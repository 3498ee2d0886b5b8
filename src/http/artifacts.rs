//! `GET /artifacts/{run_id}/{filename}`: one of the package files, from that run's own
//! folder when this runner wrote it, else from the store (MongoDB keeps every finished
//! run's files, so any runner serves any run). The file name must be one of the known
//! names (so `..`, encoded dots and absolute paths never reach the file system), the run
//! must list it, and a local file must be a regular file (not a symlink) inside the run's
//! folder. Answers carry an `ETag` (the SHA-256 of the bytes), honour `If-None-Match`
//! (304) and a single `Range: bytes=a-b` (206, or 416 when it cannot be satisfied).

use actix_web::http::header;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::{parse_run_id, AppState};
use crate::artifacts::ArtifactName;
use crate::domain::untrusted::Shown;
use crate::http::error::ApiError;
use crate::pipeline::builtin_stages::publisher::run_artifact_dir;

fn not_found(run_id: &str, file: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ARTIFACT_NOT_FOUND",
        format!("run {run_id} has no artifact {file:?}"),
    )
}

#[utoipa::path(get, path = "/artifacts/{run_id}/{filename}", tag = "artifacts", security(("bearer" = []), ("run_token" = [])),
    params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)"), ("filename" = String, Path, description = "CV.md, CV.docx, dossier.txt, cover_letter.txt or cv_review.md"),
           ("If-None-Match" = Option<String>, Header), ("Range" = Option<String>, Header, description = "One byte range")),
    responses((status = 200, description = "The file", content(("text/markdown"), ("text/plain"), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
              (status = 206, description = "The requested range", content(("text/markdown"), ("text/plain"), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
              (status = 304, description = "Unchanged (ETag matches)"),
              (status = 416, description = "The range is outside the file", body = ErrorBody)))]
#[tracing::instrument(name = "GET /artifacts", skip_all, fields(run_id = %Shown(&path.0)))]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_run, raw_file) = path.into_inner();
    let run_id = parse_run_id(&raw_run)?;
    let name = ArtifactName::parse(&raw_file).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ARTIFACT_NAME",
            format!(
                "artifact name must be one of {}; got {:?}",
                ArtifactName::ALL.map(|a| a.file_name()).join(", "),
                raw_file.chars().take(80).collect::<String>()
            ),
        )
    })?;
    let run = state
        .store
        .get_run(&run_id)
        .await?
        .ok_or_else(|| ApiError::run_not_found(&raw_run))?;
    if run.artifacts.get(name.url_key()).map(String::as_str) != Some(name.file_name()) {
        return Err(not_found(&raw_run, name.file_name()));
    }
    let runs_root = state.settings.paths.data_dir.join("runs");
    let file = run_artifact_dir(&state.settings.paths.data_dir, run_id.as_ref()).join(name.file_name());
    let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Vec<u8>>> {
        if !crate::artifacts::is_regular_file(&file) {
            return Ok(None);
        }
        let (root, real) = (runs_root.canonicalize()?, file.canonicalize()?);
        if !real.starts_with(&root) {
            return Ok(None);
        }
        std::fs::read(&real).map(Some)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("artifact reader failed: {e}"),
        )
    })?
    .map_err(|e| {
        tracing::error!(error = %e, "could not read artifact");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ARTIFACT_UNREADABLE",
            "the artifact could not be read",
        )
    })?;
    let (bytes, sha256) = match bytes {
        Some(b) => {
            let sha = crate::domain::digest::sha256_hex(&b, 32);
            (b, sha)
        }
        None => match state.store.get_artifact(&run_id, name.file_name()).await? {
            Some(a) => (a.bytes, a.sha256),
            None => return Err(not_found(&raw_run, name.file_name())),
        },
    };
    let etag = format!("\"{sha256}\"");
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    let mut res = HttpResponse::Ok();
    res.content_type(name.content_type())
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name.file_name().to_owned())],
        });
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
    match range.map(|r| byte_range(r, bytes.len())) {
        None => Ok(res.body(bytes)),
        Some(Some((start, end))) => Ok(res
            .status(StatusCode::PARTIAL_CONTENT)
            .insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", bytes.len())))
            .body(bytes[start..=end].to_vec())),
        Some(None) => {
            // The standard error body, plus the size the client can ask within.
            let error = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RANGE_NOT_SATISFIABLE",
                format!(
                    "range {} is outside the {} bytes of {}",
                    Shown(range.unwrap_or_default()),
                    bytes.len(),
                    name.file_name()
                ),
            );
            let mut res = actix_web::ResponseError::error_response(&error);
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{}", bytes.len())) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Ok(res)
        }
    }
}

/// The inclusive byte range a single-range `Range` header asks of `len` bytes (`bytes=a-b`,
/// `bytes=a-`, `bytes=-n`); `None` when it cannot be satisfied.
fn byte_range(header: &str, len: usize) -> Option<(usize, usize)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=5-1", 100), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
    }
}
