//! Resolving a run's `profile_ref` (another master CV) strictly inside `PROFILES_DIR`.

use std::path::{Component, Path, PathBuf};

/// Why a profile reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The reference is not a plain relative path inside the profiles directory.
    #[error("profile_ref must be a relative path inside PROFILES_DIR without '..': {0:?}")]
    Invalid(String),
    /// Nothing readable is there.
    #[error("profile {0:?} does not exist in PROFILES_DIR")]
    NotFound(String),
}

/// Resolves `raw` to an existing file inside `profiles_dir`, refusing absolute paths, `..`,
/// and symlinks that lead outside.
pub fn resolve_profile(profiles_dir: &Path, raw: &str) -> Result<PathBuf, ProfileError> {
    let invalid = || ProfileError::Invalid(raw.chars().take(120).collect());
    if raw.trim().is_empty() || raw.contains('\0') || raw.contains('\\') || raw.len() > 255 {
        return Err(invalid());
    }
    let rel = Path::new(raw);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(invalid());
    }
    let root = profiles_dir
        .canonicalize()
        .map_err(|_| ProfileError::NotFound(raw.into()))?;
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|_| ProfileError::NotFound(raw.into()))?;
    if !full.starts_with(&root) {
        return Err(invalid());
    }
    if !full.is_file() {
        return Err(ProfileError::NotFound(raw.into()));
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_profiles_dir_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let profiles = dir.path().join("profiles");
        std::fs::create_dir_all(&profiles).unwrap();
        std::fs::write(profiles.join("maria.md"), "# M").unwrap();
        std::fs::write(dir.path().join("secret.md"), "# S").unwrap();
        assert!(resolve_profile(&profiles, "maria.md").is_ok());
        assert_eq!(
            resolve_profile(&profiles, "nobody.md"),
            Err(ProfileError::NotFound("nobody.md".into()))
        );
        for bad in ["../secret.md", "/etc/passwd", "a/../../secret.md", ""] {
            assert!(
                matches!(resolve_profile(&profiles, bad), Err(ProfileError::Invalid(_))),
                "{bad}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.md"), profiles.join("link.md")).unwrap();
            assert!(matches!(
                resolve_profile(&profiles, "link.md"),
                Err(ProfileError::Invalid(_))
            ));
        }
    }
}
