//! Streaming download: the body is read chunk by chunk so progress can be reported while it
//! arrives. The digest is taken afterwards, by SubtleCrypto (digest.rs): one native pass over
//! the whole body costs less than sha2 in wasm keeping pace with the chunks.
//!
//! CDNs fail in passing (a 503, a reset connection, a stall): a transient failure is retried
//! with backoff, a stall is cut after `timeout_ms` without data, and every attempt starts from
//! nothing, so a partial body can never be mistaken for a whole one.

use std::sync::atomic::{AtomicI32, Ordering};

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStreamDefaultReader, RequestInit, Response};

use super::describe_js;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, the same in windows and workers.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: i32) -> i32;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: i32);
}

/// How hard to try: a stall longer than `timeout_ms` (waiting for the response or for the next
/// chunk) fails the attempt; transient failures are retried `retries` times.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub timeout_ms: u32,
    pub retries: u32,
    /// A body larger than this is refused as soon as its size is known (the memory limit: the
    /// model could not be planned anyway).
    pub max_bytes: Option<u64>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { timeout_ms: 30_000, retries: 2, max_bytes: None }
    }
}

/// First retry after this long, doubling each time.
const BACKOFF_MS: u32 = 250;

struct Failure {
    message: String,
    /// Worth another attempt: network errors, stalls, cut bodies, HTTP 408/429/5xx.
    transient: bool,
}

impl Failure {
    fn transient(message: String) -> Failure {
        Failure { message, transient: true }
    }
    fn permanent(message: String) -> Failure {
        Failure { message, transient: false }
    }
}

/// Calls the page's `onProgress(loaded, total?)`; a callback that throws fails the load.
pub fn report_progress(progress: Option<&Function>, loaded: u64, total: Option<u64>) -> Result<(), String> {
    if let Some(f) = progress {
        let total = total.map_or(JsValue::UNDEFINED, |t| JsValue::from_f64(t as f64));
        f.call2(&JsValue::NULL, &JsValue::from_f64(loaded as f64), &total)
            .map_err(|e| format!("the onProgress callback threw: {}", describe_js(&e)))?;
    }
    Ok(())
}

/// Fetches `url`, calling `progress(loaded, total)` per chunk, retrying transient failures.
/// Errors are messages a web developer can act on: network/CORS failure, HTTP status, an
/// interrupted or stalled body, and how many attempts were made.
pub async fn download(url: &str, progress: Option<&Function>, policy: Policy) -> Result<Vec<u8>, String> {
    let mut attempt = 0;
    loop {
        match download_once(url, progress, policy).await {
            Ok(done) => return Ok(done),
            Err(Failure { message, transient }) if !transient || attempt >= policy.retries => {
                return Err(match attempt {
                    0 => message,
                    n => format!("{message} (gave up after {} attempts)", n + 1),
                });
            }
            Err(_) => {
                sleep(BACKOFF_MS << attempt.min(6)).await;
                attempt += 1;
            }
        }
    }
}

async fn sleep(ms: u32) {
    let done = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms as i32);
    });
    let _ = JsFuture::from(done).await;
}

/// `promise`'s outcome, or `None` when `ms` pass first.
async fn within(promise: Promise, ms: u32) -> Option<Result<JsValue, JsValue>> {
    // An atomic, not a captured `&mut` or a Cell: the executor closure must be unwind-safe.
    let timer = AtomicI32::new(0);
    // The timer resolves with `undefined`, which neither fetch nor a stream read ever does.
    let timeout = Promise::new(&mut |resolve, _| {
        timer.store(set_timeout(&resolve, ms.min(i32::MAX as u32) as i32), Ordering::Relaxed);
    });
    let raced = JsFuture::from(Promise::race(&Array::of2(&promise, &timeout))).await;
    clear_timeout(timer.load(Ordering::Relaxed));
    match raced {
        Ok(v) if v.is_undefined() => None,
        other => Some(other),
    }
}

async fn download_once(url: &str, progress: Option<&Function>, policy: Policy) -> Result<Vec<u8>, Failure> {
    let timeout_ms = policy.timeout_ms;
    let too_big = |size: u64, limit: u64| {
        Failure::permanent(format!(
            "{url} is {} MB, over the memory limit of {} MB (options.memoryLimitMB); it was not downloaded further",
            size.div_ceil(1 << 20),
            limit / (1 << 20)
        ))
    };
    // Aborting drops the connection, so a stalled CDN stops holding a socket.
    let controller = AbortController::new().map_err(|e| Failure::permanent(describe_js(&e)))?;
    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    let stalled = |what: &str| {
        controller.abort();
        Failure::transient(format!("{url} sent nothing for {timeout_ms} ms {what}; the CDN is slow or stuck"))
    };
    let response: Response = match within(global_fetch(url, &init), timeout_ms).await {
        None => return Err(stalled("(no response)")),
        Some(Err(e)) => {
            return Err(Failure::transient(format!(
                "could not fetch {url}: {} (is the server up, the URL right, and does it send \
                 Access-Control-Allow-Origin for this page's origin?)",
                describe_js(&e)
            )))
        }
        Some(Ok(r)) => r.unchecked_into(),
    };
    if !response.ok() {
        let status = response.status();
        let message = format!("could not fetch {url}: HTTP {status} {}", response.status_text());
        return Err(if status >= 500 || status == 408 || status == 429 {
            Failure::transient(message)
        } else {
            Failure::permanent(message)
        });
    }
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(size), Some(limit)) = (total, policy.max_bytes) {
        if size > limit {
            controller.abort();
            return Err(too_big(size, limit));
        }
    }
    let body = response.body().ok_or_else(|| Failure::permanent(format!("could not fetch {url}: the response has no body")))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();

    // Content-Length is a hint (a compressed transfer may differ); cap the reservation so a
    // hostile header cannot make us allocate gigabytes up front.
    let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(256 << 20) as usize);
    let report = |loaded: usize| report_progress(progress, loaded as u64, total).map_err(Failure::permanent);
    let of_total = total.map_or(String::new(), |t| format!(" of {t}"));
    loop {
        let chunk = match within(reader.read(), timeout_ms).await {
            None => return Err(stalled(&format!("after {}{of_total} bytes", bytes.len()))),
            Some(Err(e)) => {
                return Err(Failure::transient(format!(
                    "download of {url} was interrupted after {}{of_total} bytes: {}",
                    bytes.len(),
                    describe_js(&e)
                )))
            }
            Some(Ok(chunk)) => chunk,
        };
        if Reflect::get(&chunk, &"done".into()).map(|d| d.is_truthy()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| Failure::permanent(describe_js(&e)))?
            .unchecked_into();
        let start = bytes.len();
        if let Some(limit) = policy.max_bytes.filter(|l| (start as u64 + value.length() as u64) > *l) {
            controller.abort();
            return Err(too_big(start as u64 + value.length() as u64, limit));
        }
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        report(bytes.len())?;
    }
    if bytes.is_empty() {
        report(0)?;
    }
    Ok(bytes)
}
