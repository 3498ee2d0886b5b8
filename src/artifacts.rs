//! The application package on disk: folder naming, atomic writes, the Word CV and the
//! dossier. Each run writes its own copy under `DATA_DIR/runs/<run_id>/` (the only files
//! `/artifacts/<run_id>/...` ever serves) and publishes the same files to
//! `APPLICATIONS_DIR/<Company>/<Title>/` for the user.

mod docx;
pub mod dossier;
mod naming;
pub mod pdf;
pub mod review;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use docx::markdown_to_docx;
pub use dossier::render_dossier;
pub use naming::{folder_name, ArtifactName};
pub use review::render_cv_review;

/// The URL `/artifacts/<run_id>/<file>` the daemon serves a run's file at: the one place
/// it is built (job documents, status answers).
pub fn url(run_id: &crate::domain::RunId, file: &str) -> String {
    format!("/artifacts/{run_id}/{file}")
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to
/// disk, then renamed over the target, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("artifact path has no parent folder"))?;
    std::fs::create_dir_all(dir)?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
    let tmp = dir.join(format!(".{file_name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// True for a regular file that is not a symlink (artifacts are never served through one).
pub fn is_regular_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// Name of the marker file recording which job owns an application folder.
const OWNER_MARKER: &str = ".job-id";

/// Picks `<root>/<Company>/<Title>/` for a job. When that folder already belongs to a
/// different job (same company and title), the job id's first 8 characters are appended to
/// the title folder so neither overwrites the other.
pub fn application_dir(root: &Path, company: &str, title: &str, job_id: &str) -> std::io::Result<PathBuf> {
    let company_dir = root.join(folder_name(company));
    let base = folder_name(title);
    for candidate in [
        base.clone(),
        format!("{}_{}", base, &job_id[..job_id.len().min(8)]),
        format!("{base}_{job_id}"),
    ] {
        let dir = company_dir.join(&candidate);
        let marker = dir.join(OWNER_MARKER);
        match std::fs::read_to_string(&marker) {
            Ok(owner) if owner.trim() == job_id => return Ok(dir),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir)?;
                // Claim the folder; create_new fails if another writer claimed it first.
                match std::fs::OpenOptions::new().write(true).create_new(true).open(&marker) {
                    Ok(mut f) => {
                        f.write_all(job_id.as_bytes())?;
                        return Ok(dir);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        if std::fs::read_to_string(&marker)?.trim() == job_id {
                            return Ok(dir);
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free application folder for job {job_id}"
    )))
}

/// The application folder that belongs to `job_id` (by its marker), without creating
/// anything; `None` when the job has none.
pub fn find_application_dir(root: &Path, company: &str, title: &str, job_id: &str) -> Option<PathBuf> {
    let company_dir = root.join(folder_name(company));
    let base = folder_name(title);
    [
        base.clone(),
        format!("{}_{}", base, &job_id[..job_id.len().min(8)]),
        format!("{base}_{job_id}"),
    ]
    .into_iter()
    .map(|candidate| company_dir.join(candidate))
    .find(|dir| std::fs::read_to_string(dir.join(OWNER_MARKER)).is_ok_and(|owner| owner.trim() == job_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("CV.md");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn same_company_and_title_for_two_jobs_get_separate_folders() {
        let root = tempfile::tempdir().unwrap();
        let a = application_dir(
            root.path(),
            "Acme, Inc.",
            "Backend Engineer",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
        )
        .unwrap();
        let b = application_dir(
            root.path(),
            "Acme, Inc.",
            "Backend Engineer",
            "bbbbbbbbbbbbbbbbbbbbbbbb",
        )
        .unwrap();
        let a_again = application_dir(
            root.path(),
            "Acme, Inc.",
            "Backend Engineer",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
        )
        .unwrap();
        assert_ne!(a, b);
        assert_eq!(a, a_again);
        assert!(a.ends_with("Acme_Inc/Backend_Engineer"));
        assert!(b.ends_with("Acme_Inc/Backend_Engineer_bbbbbbbb"));
    }
}
