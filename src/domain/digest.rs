//! Hex SHA-256 digests: the one way content gets a stable identity here (ids derived from a
//! posting, a CV's fingerprint in its review, an artifact's `ETag`).

use sha2::{Digest, Sha256};

/// The lower-case hex SHA-256 of `bytes`, cut to its first `bytes_kept` bytes (32 = all).
pub fn sha256_hex(bytes: &[u8], bytes_kept: usize) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(bytes_kept)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_are_hex_and_cut_to_the_bytes_kept() {
        let full = super::sha256_hex(b"abc", 32);
        assert_eq!(full, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(super::sha256_hex(b"abc", 8), full[..16]);
    }
}
