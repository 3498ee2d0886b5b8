//! `GET /artifacts/{run_id}/{filename}`: one of the four package files, only from that
//! run's own folder. The file name must be one of the four known names (so `..`, encoded
//! dots and absolute paths never reach the file system), the run must list it, and the
//! file must be a regular file (not a symlink) inside the run's folder.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

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

#[tracing::instrument(name = "GET /artifacts", skip_all, fields(run_id = %Shown(&path.0)))]
pub async fn download(state: web::Data<AppState>, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
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
    })?
    .ok_or_else(|| not_found(&raw_run, name.file_name()))?;
    Ok(HttpResponse::Ok()
        .content_type(name.content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name.file_name().to_owned())],
        })
        .body(bytes))
}
