//! Response headers every route shares (security policy), request filters that apply before
//! routing, and the ETag helpers.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

/// The page runs only its own scripts; `'wasm-unsafe-eval'` is what WebAssembly compilation
/// needs (and nothing else), and connect-src names the CDN because the model is fetched from it.
/// worker-src allows `blob:` because wasm-bindgen-rayon starts the threaded build's workers
/// from a blob copy of its own (same-origin) helper script; only a script already running on
/// this origin can make such a URL.
pub fn content_security_policy(cdn_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; \
         connect-src 'self' {cdn_origin}; img-src 'self' blob: data:; media-src 'self' blob:; \
         style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// Adds the security headers to every response the router produces, errors included.
///
/// COOP + COEP make the page cross-origin isolated, which is what lets the browser run
/// webinfer's threaded build (`SharedArrayBuffer`). They cost this site nothing: it loads only its
/// own files (the CSP says so) and the model with a CORS fetch, which COEP allows.
pub fn with_security_headers(router: Router, cdn_origin: &str) -> Result<Router, String> {
    let csp = HeaderValue::from_str(&content_security_policy(cdn_origin))
        .map_err(|_| format!("WEBINFER_CDN_URL origin {cdn_origin:?} cannot go in a CSP header"))?;
    let set =
        |name: HeaderName, value: HeaderValue| SetResponseHeaderLayer::overriding(name, value);
    Ok(router
        .layer(set(header::CONTENT_SECURITY_POLICY, csp))
        .layer(set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(set(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(set(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(set(
            HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        )))
}

/// The site is read-only: anything but GET and HEAD is refused before routing, so every route
/// answers the same way (axum's and ServeDir's own 405s differ in their Allow header).
pub async fn only_get_and_head(req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
    )
        .into_response()
}

/// No legitimate request to this site comes near this. Checked here (a logged 431 with the
/// security headers) as well as in hyper, which refuses anything past `listen::MAX_HEAD_BUFFER`
/// before buffering it.
pub const MAX_REQUEST_HEAD_BYTES: usize = 32 * 1024;

pub async fn limit_header_size(req: Request, next: Next) -> Response {
    let size = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if size > MAX_REQUEST_HEAD_BYTES {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(req).await
}

/// A strong ETag from content: the first 16 hex digits of its sha256, quoted.
pub fn etag_for(bytes: &[u8]) -> HeaderValue {
    etag_from(Sha256::new_with_prefix(bytes))
}

pub fn etag_from(hasher: Sha256) -> HeaderValue {
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex is a valid header value")
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/` prefixes are ignored.
pub fn none_match_hits(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let ours = opaque(etag.to_str().unwrap_or_default());
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
}

/// `If-Range` uses the strong comparison: a weak tag never matches.
pub fn strong_match(tag: &str, etag: &HeaderValue) -> bool {
    !tag.starts_with("W/") && etag.to_str().is_ok_and(|ours| tag == ours)
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_shape() {
        let tag = etag_for(b"hello");
        assert_eq!(tag, "\"2cf24dba5fb0a30e\"");
    }

    #[test]
    fn if_none_match() {
        let tag = HeaderValue::from_static("\"abc\"");
        for hit in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(
                none_match_hits(&HeaderValue::from_static(hit), &tag),
                "{hit}"
            );
        }
        for miss in ["\"abcd\"", "abc", ""] {
            assert!(
                !none_match_hits(&HeaderValue::from_static(miss), &tag),
                "{miss}"
            );
        }
        assert!(strong_match("\"abc\"", &tag));
        assert!(!strong_match("W/\"abc\"", &tag));
    }

    #[test]
    fn csp_has_no_inline_or_wildcards() {
        let csp = content_security_policy("https://cdn.example.com");
        assert!(csp.contains("connect-src 'self' https://cdn.example.com;"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains('*'));
    }
}
