//! Stage 0 in the browser: from what the page passed (a URL or bytes) to verified model bytes.
//! Order matters: download (or cache hit) -> sha256 check -> cache store. Nothing is parsed,
//! and nothing is cached, before the digest matches.

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::digest::{sha256_of, sha256_of_js, DigestWith};
use super::download::{download, report_progress, Policy};
use super::{cache, now_ms};
use crate::engine::digest::normalize_hex;
use crate::engine::DEFAULT_MEMORY_LIMIT;

/// Options from `Session.create(source, options)`, validated.
pub struct LoadOptions {
    pub sha256: Option<String>,
    pub cache: bool,
    pub progress: Option<Function>,
    pub input_shapes: Vec<(String, Vec<usize>)>,
    pub download: Policy,
    /// Bytes a model may need (file, weights and intermediate tensors) before it is refused.
    pub memory_limit: Option<u64>,
}

const KNOWN_OPTIONS: [&str; 7] = ["sha256", "cache", "onProgress", "inputShapes", "timeoutMs", "retries", "memoryLimitMB"];

impl LoadOptions {
    pub fn from_js(options: &JsValue) -> Result<LoadOptions, String> {
        if options.is_undefined() || options.is_null() {
            return Ok(LoadOptions {
                sha256: None,
                cache: false,
                progress: None,
                input_shapes: vec![],
                download: Policy::default(),
                memory_limit: DEFAULT_MEMORY_LIMIT,
            });
        }
        if !options.is_object() {
            return Err("options must be an object, e.g. { sha256: '…', onProgress: (loaded, total) => … }".into());
        }
        // A misspelt option (`sha265`) would otherwise silently disable verification.
        for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !KNOWN_OPTIONS.contains(&key.as_str()) {
                return Err(format!("unknown option `{key}`; known options: {}", KNOWN_OPTIONS.join(", ")));
            }
        }
        let get = |k: &str| Reflect::get(options, &k.into()).unwrap_or(JsValue::UNDEFINED);
        let sha256 = match get("sha256") {
            v if v.is_undefined() => None,
            v => Some(v.as_string().as_deref().and_then(normalize_hex).ok_or_else(|| {
                "options.sha256 must be the model's sha256 as 64 hex digits (as printed by `sha256sum`)".to_string()
            })?),
        };
        let cache = match get("cache") {
            v if v.is_undefined() => sha256.is_some(),
            v => v.as_bool().ok_or("options.cache must be true or false")?,
        };
        if cache && sha256.is_none() {
            return Err("options.cache needs options.sha256: cached models are keyed by their digest".into());
        }
        let progress = match get("onProgress") {
            v if v.is_undefined() => None,
            v => Some(v.dyn_into::<Function>().map_err(|_| "options.onProgress must be a function")?),
        };
        let input_shapes = match get("inputShapes") {
            v if v.is_undefined() => vec![],
            v => parse_shapes(&v)?,
        };
        let whole = |key: &str, min: f64, max: f64, default: u32| match get(key) {
            v if v.is_undefined() => Ok(default),
            v => v
                .as_f64()
                .filter(|n| n.fract() == 0.0 && (min..=max).contains(n))
                .map(|n| n as u32)
                .ok_or_else(|| format!("options.{key} must be a whole number from {min} to {max}")),
        };
        let memory_limit = match get("memoryLimitMB") {
            v if v.is_undefined() => DEFAULT_MEMORY_LIMIT,
            _ => Some(whole("memoryLimitMB", 1.0, 4096.0, 0)? as u64 * (1 << 20)),
        };
        let defaults = Policy::default();
        let download = Policy {
            timeout_ms: whole("timeoutMs", 1.0, 600_000.0, defaults.timeout_ms)?,
            retries: whole("retries", 0.0, 10.0, defaults.retries)?,
            max_bytes: memory_limit,
        };
        Ok(LoadOptions { sha256, cache, progress, input_shapes, download, memory_limit })
    }
}

fn parse_shapes(value: &JsValue) -> Result<Vec<(String, Vec<usize>)>, String> {
    let bad = || "options.inputShapes must map input names to arrays of sizes, e.g. { x: [1, 8] }".to_string();
    let object: &Object = value.dyn_ref().ok_or_else(bad)?;
    Object::entries(object)
        .iter()
        .map(|entry| {
            let pair: Array = entry.unchecked_into();
            let name = pair.get(0).as_string().ok_or_else(bad)?;
            let dims = super::convert::dims_from_js(&pair.get(1)).ok_or_else(bad)?;
            Ok((name, dims))
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
pub enum Origin {
    Network,
    Cache,
    Bytes,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Network => "network",
            Origin::Cache => "cache",
            Origin::Bytes => "bytes",
        }
    }
}

pub struct Verified {
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub origin: Origin,
    pub fetch_ms: f64,
    /// Taking the digest and checking it.
    pub verify_ms: f64,
    pub digest_with: DigestWith,
}

/// Resolves a model source to bytes whose sha256 matched `options.sha256` (when given).
pub async fn load(source: &JsValue, options: &LoadOptions) -> Result<Verified, String> {
    if let Some(url) = source_url(source) {
        return load_url(&url, options).await;
    }
    // Copied into wasm memory first: the page may change its array while the digest is taken.
    let bytes = if let Some(u8s) = source.dyn_ref::<Uint8Array>() {
        u8s.to_vec()
    } else if let Some(buffer) = source.dyn_ref::<ArrayBuffer>() {
        Uint8Array::new(buffer).to_vec()
    } else {
        return Err("a model source must be a URL (string or URL) or the model's bytes (ArrayBuffer or Uint8Array)".into());
    };
    let start = now_ms();
    let (sha256, digest_with) = sha256_of(&bytes).await;
    check_digest(options, &sha256, "the model bytes")?;
    let verify_ms = now_ms() - start;
    Ok(Verified { bytes, sha256, origin: Origin::Bytes, fetch_ms: 0.0, verify_ms, digest_with })
}

fn source_url(source: &JsValue) -> Option<String> {
    source.as_string().or_else(|| source.dyn_ref::<web_sys::Url>().map(web_sys::Url::href))
}

async fn load_url(url: &str, options: &LoadOptions) -> Result<Verified, String> {
    let start = now_ms();
    if let (true, Some(sha256)) = (options.cache, &options.sha256) {
        if let Some(cached) = cache::get(sha256).await {
            let fetch_ms = now_ms() - start;
            let start = now_ms();
            // The entry is keyed by the digest it should have; a damaged one is dropped and the
            // model downloaded again.
            let (actual, digest_with) = sha256_of_js(&cached).await;
            if actual == *sha256 {
                let verify_ms = now_ms() - start;
                let size = cached.length() as u64;
                report_progress(options.progress.as_ref(), size, Some(size))?;
                let bytes = cached.to_vec();
                return Ok(Verified { bytes, sha256: actual, origin: Origin::Cache, fetch_ms, verify_ms, digest_with });
            }
            cache::remove(sha256).await;
        }
    }
    let start = now_ms();
    let bytes = download(url, options.progress.as_ref(), options.download).await?;
    let fetch_ms = now_ms() - start;
    let start = now_ms();
    // One copy out of wasm memory, for SubtleCrypto and then for the cache.
    let copy = Uint8Array::from(&bytes[..]);
    let (sha256, digest_with) = sha256_of_js(&copy).await;
    check_digest(options, &sha256, url)?;
    if options.cache {
        cache::put_in_background(&sha256, copy);
    }
    let verify_ms = now_ms() - start;
    Ok(Verified { bytes, sha256, origin: Origin::Network, fetch_ms, verify_ms, digest_with })
}

fn check_digest(options: &LoadOptions, actual: &str, what: &str) -> Result<(), String> {
    match &options.sha256 {
        Some(expected) if expected != actual => Err(format!(
            "sha256 mismatch for {what}: expected {expected}, got {actual}. The file is not the one \
             the page expects (tampered, corrupted, or a stale manifest); it was not parsed and not cached"
        )),
        _ => Ok(()),
    }
}
