//! sha256 in the browser, by the browser: SubtleCrypto's digest is native code, several times
//! faster than sha2 compiled to wasm, all the more on a first load, when the wasm still runs on
//! the engine's baseline tier (Chromium, a 14 MB model: 18-19 ms against 110-175 ms; see
//! bench/PERFORMANCE.md section 21).
//!
//! `crypto.subtle` exists only in secure contexts (https, localhost): elsewhere the digest is
//! sha2's, the same value more slowly, and `Session.loadInfo.digestWith` says which one ran.

use js_sys::{ArrayBuffer, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{console_warn, describe_js};
use crate::engine::digest;

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle`, the same in windows and workers.
    type SubtleCrypto;
    #[wasm_bindgen(method, catch)]
    fn digest(this: &SubtleCrypto, algorithm: &str, data: &Uint8Array) -> Result<Promise, JsValue>;
}

/// Which implementation computed a digest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DigestWith {
    SubtleCrypto,
    /// sha2, in this module: no `crypto.subtle` here (an insecure context), or it failed.
    Wasm,
}

impl DigestWith {
    pub fn name(self) -> &'static str {
        match self {
            DigestWith::SubtleCrypto => "SubtleCrypto",
            DigestWith::Wasm => "wasm",
        }
    }
}

fn subtle() -> Option<SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(|c| c.is_object())?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok().filter(|s| s.is_object())?;
    Some(subtle.unchecked_into())
}

/// The lowercase hex sha256 of `bytes`, a copy the caller owns (SubtleCrypto refuses views of
/// shared memory, which the threads build's wasm memory is).
pub async fn sha256_of_js(bytes: &Uint8Array) -> (String, DigestWith) {
    if let Some(subtle) = subtle() {
        match by_subtle(&subtle, bytes).await {
            Ok(hex) => return (hex, DigestWith::SubtleCrypto),
            // Not expected in a secure context; the digest still has to be taken, so say why
            // it is the slow one.
            Err(e) => console_warn(&format!("webinfer: crypto.subtle.digest failed ({e}); sha256 computed in wasm")),
        }
    }
    (digest::sha256_hex(&bytes.to_vec()), DigestWith::Wasm)
}

/// The lowercase hex sha256 of bytes in wasm memory.
pub async fn sha256_of(bytes: &[u8]) -> (String, DigestWith) {
    if subtle().is_none() {
        return (digest::sha256_hex(bytes), DigestWith::Wasm);
    }
    sha256_of_js(&Uint8Array::from(bytes)).await
}

async fn by_subtle(subtle: &SubtleCrypto, bytes: &Uint8Array) -> Result<String, String> {
    let promise = subtle.digest("SHA-256", bytes).map_err(|e| describe_js(&e))?;
    let buffer: ArrayBuffer = JsFuture::from(promise).await.map_err(|e| describe_js(&e))?.unchecked_into();
    Ok(digest::to_hex(&Uint8Array::new(&buffer).to_vec()))
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// SubtleCrypto (the test pages are on localhost, a secure context) and sha2 agree on every
    /// padding case (55/56/64 bytes around the length field), on nothing, and past 1 MiB; and
    /// SubtleCrypto gives FIPS 180-2's vector.
    #[wasm_bindgen_test]
    async fn subtle_crypto_and_sha2_agree() {
        let (abc, with) = sha256_of(b"abc").await;
        assert_eq!(with, DigestWith::SubtleCrypto, "the test page has crypto.subtle");
        assert_eq!(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 1000, (1 << 20) + 3] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7919 % 251) as u8).collect();
            let (hex, with) = sha256_of(&bytes).await;
            assert_eq!(with, DigestWith::SubtleCrypto);
            assert_eq!(hex, digest::sha256_hex(&bytes), "length {len}");
            assert_eq!(sha256_of_js(&Uint8Array::from(&bytes[..])).await.0, hex, "length {len}, from a JS array");
        }
    }
}
