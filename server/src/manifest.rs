//! The model manifest: validated once at startup, `model.url` resolved against the CDN, and
//! serialized once, so `/api/model` is a copy of bytes with a fixed ETag.

use std::path::Path;

use axum::body::Bytes;
use axum::http::HeaderValue;
use serde_json::Value;

use crate::headers::etag_for;

pub const SCHEMA: &str = "webinfer.manifest/1";

pub struct Model {
    /// The manifest as served (compact JSON, `model.url` absolute); cheap to clone per request.
    pub json: Bytes,
    pub etag: HeaderValue,
    pub sha256: String,
}

pub fn load(path: &Path, cdn_base: &str) -> Result<Model, String> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read the model manifest {shown}: {e}; set WEBINFER_MANIFEST to its path \
             (./build.sh model writes target/demo-model/<name>.manifest.json)"
        )
    })?;
    let mut doc: Value = serde_json::from_slice(&text)
        .map_err(|e| format!("model manifest {shown} is not valid JSON: {e}"))?;
    let sha256 = validate(&doc).map_err(|why| format!("model manifest {shown}: {why}"))?;

    let url = doc["model"]["url"].as_str().unwrap_or_default().to_string();
    let resolved = resolve(&url, cdn_base)
        .map_err(|why| format!("model manifest {shown}: `model.url` {url:?} {why}"))?;
    doc["model"]["url"] = Value::String(resolved);

    let json = serde_json::to_vec(&doc).map_err(|e| format!("model manifest {shown}: {e}"))?;
    let etag = etag_for(&json);
    Ok(Model {
        json: Bytes::from(json),
        etag,
        sha256,
    })
}

/// Checks the fields the page relies on; returns `model.sha256`.
fn validate(doc: &Value) -> Result<String, String> {
    match doc.get("schema") {
        Some(Value::String(s)) if s == SCHEMA => {}
        Some(other) => return Err(format!("`schema` is {other}, expected \"{SCHEMA}\"")),
        None => return Err(format!("`schema` is missing, expected \"{SCHEMA}\"")),
    }
    let model = match doc.get("model") {
        Some(Value::Object(m)) => m,
        _ => return Err("`model` is missing or not an object".into()),
    };
    match model.get("url") {
        Some(Value::String(u)) if !u.is_empty() => {}
        _ => return Err("`model.url` is missing or not a non-empty string".into()),
    }
    match model.get("sha256") {
        Some(Value::String(h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(h.to_ascii_lowercase())
        }
        Some(other) => Err(format!("`model.sha256` must be 64 hex digits, got {other}")),
        None => Err("`model.sha256` is missing (64 hex digits expected)".into()),
    }
}

/// Resolves a manifest's `model.url` against the CDN base (which ends in `/`).
///
/// Covers the reference forms a manifest can sensibly hold: absolute http(s) URLs (kept),
/// scheme-relative `//host/x`, absolute paths `/x` and relative names `x` (the usual case:
/// publish.py writes `name.<hash>.onnx`). Dot segments are left for the browser to normalize.
pub fn resolve(url: &str, base: &str) -> Result<String, String> {
    // `base` comes from config::parse_cdn_url, so it has a scheme.
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if has_scheme(url) {
        let lower = url.to_ascii_lowercase();
        return if lower.starts_with("http://") || lower.starts_with("https://") {
            Ok(url.to_string())
        } else {
            Err("must be a path relative to WEBINFER_CDN_URL or an http(s) URL".into())
        };
    }
    if url.starts_with("//") {
        return Ok(format!("{}{url}", &base[..scheme_end.saturating_sub(2)]));
    }
    if url.starts_with('/') {
        let origin_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        return Ok(format!("{}{url}", &base[..origin_end]));
    }
    Ok(format!("{base}{url}"))
}

/// RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "http://127.0.0.1:9/cdn/";

    #[test]
    fn resolves_against_the_cdn() {
        assert_eq!(
            resolve("m.0123.onnx", BASE).unwrap(),
            "http://127.0.0.1:9/cdn/m.0123.onnx"
        );
        assert_eq!(
            resolve("sub/m.onnx", BASE).unwrap(),
            "http://127.0.0.1:9/cdn/sub/m.onnx"
        );
        assert_eq!(
            resolve("/other/m.onnx", BASE).unwrap(),
            "http://127.0.0.1:9/other/m.onnx"
        );
        assert_eq!(
            resolve("//b.example/m.onnx", BASE).unwrap(),
            "http://b.example/m.onnx"
        );
        assert_eq!(
            resolve("https://b.example/m.onnx", BASE).unwrap(),
            "https://b.example/m.onnx"
        );
        assert!(resolve("data:application/octet-stream,xx", BASE).is_err());
        assert!(resolve("javascript:alert(1)", BASE).is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let good = json!({"schema": SCHEMA, "model": {"url": "m.onnx", "sha256": "ab".repeat(32)}});
        assert_eq!(validate(&good).unwrap(), "ab".repeat(32));
        let cases = [
            (json!({"model": {}}), "`schema`"),
            (json!({"schema": "webinfer.manifest/2"}), "`schema`"),
            (json!({"schema": SCHEMA}), "`model`"),
            (
                json!({"schema": SCHEMA, "model": {"sha256": "ab".repeat(32)}}),
                "`model.url`",
            ),
            (
                json!({"schema": SCHEMA, "model": {"url": 3, "sha256": "ab".repeat(32)}}),
                "`model.url`",
            ),
            (
                json!({"schema": SCHEMA, "model": {"url": "m"}}),
                "`model.sha256`",
            ),
            (
                json!({"schema": SCHEMA, "model": {"url": "m", "sha256": "xyz"}}),
                "`model.sha256`",
            ),
        ];
        for (doc, field) in cases {
            let err = validate(&doc).unwrap_err();
            assert!(err.contains(field), "{doc}: {err}");
        }
    }
}
