//! Streaming download: the body is read chunk by chunk so progress can be reported while it
//! arrives and the digest computed on the way, with no second pass over the bytes.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

use super::describe_js;
use crate::engine::digest::Hasher;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, the same in windows and workers.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> Promise;
}

/// Calls the page's `onProgress(loaded, total?)`; a callback that throws fails the load.
pub fn report_progress(progress: Option<&js_sys::Function>, loaded: u64, total: Option<u64>) -> Result<(), String> {
    if let Some(f) = progress {
        let total = total.map_or(JsValue::UNDEFINED, |t| JsValue::from_f64(t as f64));
        f.call2(&JsValue::NULL, &JsValue::from_f64(loaded as f64), &total)
            .map_err(|e| format!("the onProgress callback threw: {}", describe_js(&e)))?;
    }
    Ok(())
}

pub struct Downloaded {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Fetches `url`, calling `progress(loaded, total)` per chunk. Errors are messages a web
/// developer can act on: network/CORS failure, HTTP status, an interrupted body.
pub async fn download(url: &str, progress: Option<&js_sys::Function>) -> Result<Downloaded, String> {
    let response: Response = JsFuture::from(global_fetch(url))
        .await
        .map_err(|e| {
            format!(
                "could not fetch {url}: {} (is the server up, the URL right, and does it send \
                 Access-Control-Allow-Origin for this page's origin?)",
                describe_js(&e)
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("could not fetch {url}: HTTP {} {}", response.status(), response.status_text()));
    }
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = response.body().ok_or_else(|| format!("could not fetch {url}: the response has no body"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();

    // Content-Length is a hint (a compressed transfer may differ); cap the reservation so a
    // hostile header cannot make us allocate gigabytes up front.
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(256 << 20) as usize);
    let mut hasher = Hasher::default();
    let report = |loaded: usize| report_progress(progress, loaded as u64, total);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| {
            let of_total = total.map_or(String::new(), |t| format!(" of {t}"));
            format!(
                "download of {url} was interrupted after {}{of_total} bytes: {}",
                bytes.len(),
                describe_js(&e)
            )
        })?;
        if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(|e| describe_js(&e))?.unchecked_into();
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        hasher.update(&bytes[start..]);
        report(bytes.len())?;
    }
    if bytes.is_empty() {
        report(0)?;
    }
    Ok(Downloaded { sha256: hasher.finish_hex(), bytes })
}
