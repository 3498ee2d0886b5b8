//! Facts about the machine the daemon runs on: its host name (runner ids, alert subjects)
//! and free disk space (the health check).

/// The host name, or `host` when it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(h) if rc == 0 && !h.is_empty() => h.to_owned(),
        _ => "host".into(),
    }
}

/// Free space (percent) of the file system holding `path` (or its nearest existing parent).
pub fn disk_free_percent(path: &std::path::Path) -> Result<f64, String> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            p = std::path::PathBuf::from(".");
            break;
        }
    }
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs fills a struct we own from a NUL-terminated path.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if st.f_blocks == 0 {
        return Ok(100.0);
    }
    Ok(st.f_bavail as f64 * 100.0 / st.f_blocks as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_a_percentage_even_for_a_missing_path() {
        let free = disk_free_percent(std::path::Path::new("/definitely/not/here")).unwrap();
        assert!((0.0..=100.0).contains(&free));
        assert!(!hostname().is_empty());
    }
}
