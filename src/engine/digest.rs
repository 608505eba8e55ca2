//! Content addressing: models are named and cached by the sha256 of their bytes, and nothing is
//! parsed before its digest matches the one the page expects.

use sha2::{Digest, Sha256};

/// Incremental sha256 (sha2): the CLI, the server, and pages without `crypto.subtle`
/// (web/digest.rs).
#[derive(Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// Lowercase hex, the form manifests and `sha256sum` use.
    pub fn finish_hex(self) -> String {
        to_hex(&self.0.finalize())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Hasher::default();
    h.update(bytes);
    h.finish_hex()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Normalises an expected digest: accepts hex in any case, with an optional `sha256-` or
/// `sha256:` prefix; returns `None` unless it is 64 hex digits.
pub fn normalize_hex(expected: &str) -> Option<String> {
    let hex = expected.trim();
    let hex = hex.strip_prefix("sha256:").or_else(|| hex.strip_prefix("sha256-")).unwrap_or(hex);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // FIPS 180-2 test vector.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn chunked_equals_whole() {
        let mut h = Hasher::default();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish_hex(), sha256_hex(b"abc"));
    }

    #[test]
    fn normalizes() {
        let hex = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        assert_eq!(normalize_hex(&format!("sha256:{hex}")).unwrap(), hex.to_lowercase());
        assert_eq!(normalize_hex("abc"), None);
        assert_eq!(normalize_hex(&"g".repeat(64)), None);
    }
}
