//! The browser-side model cache: verified bytes in the Cache API under a key derived from their
//! sha256, so the same model is never downloaded twice, whatever URL it was served from.
//!
//! Caching is an optimisation: when the Cache API is missing (insecure context, some private
//! modes) or refuses to store, loading still works and the reason is logged with console.warn.

use std::cell::RefCell;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Cache, CacheStorage, Response};

use super::{console_warn, describe_js};

/// Bump when the stored format changes; old caches are then simply never read.
pub const CACHE_NAME: &str = "webinfer-models-v1";

/// A request URL that is never fetched: it only names the entry. `.invalid` is reserved.
pub fn cache_key(sha256: &str) -> String {
    format!("https://webinfer.invalid/sha256/{sha256}")
}

fn storage() -> Result<CacheStorage, String> {
    let caches = Reflect::get(&js_sys::global(), &"caches".into()).unwrap_or(JsValue::UNDEFINED);
    if caches.is_undefined() || caches.is_null() {
        return Err("the Cache API is not available here (it needs a secure context: https or localhost)".into());
    }
    Ok(caches.unchecked_into())
}

async fn await_js(promise: Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(|e| describe_js(&e))
}

async fn open() -> Result<Cache, String> {
    Ok(await_js(storage()?.open(CACHE_NAME)).await?.unchecked_into())
}

thread_local! {
    /// Writes started by `put_in_background` and not yet awaited by `model_cache_settled`.
    static PENDING: RefCell<Vec<Promise>> = const { RefCell::new(Vec::new()) };
}

/// Resolves once the models this module has loaded are written to the Cache API. `Session.create`
/// does not wait for that write (it would delay the first inference by the time the browser takes
/// to store the file); await this before relying on the cache, e.g. before going offline. Reads
/// and clears here wait for it too: they must see the cache as the loads before them left it.
#[wasm_bindgen(js_name = modelCacheSettled)]
pub async fn model_cache_settled() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !pending.is_empty() {
        // The writes never reject (failures are logged inside them).
        let _ = JsFuture::from(Promise::all(&pending.into_iter().collect::<Array>())).await;
    }
}

/// The bytes cached under `sha256`, not yet verified: the caller checks them (a cache can be
/// damaged or tampered with) and calls `remove` when they fail.
pub async fn get(sha256: &str) -> Option<Uint8Array> {
    model_cache_settled().await;
    let lookup = async {
        let cache = open().await?;
        let hit = await_js(cache.match_with_str(&cache_key(sha256))).await?;
        if hit.is_undefined() {
            return Ok(None);
        }
        let response: Response = hit.unchecked_into();
        let buffer = await_js(response.array_buffer().map_err(|e| describe_js(&e))?).await?;
        Ok::<_, String>(Some(Uint8Array::new(&buffer)))
    };
    lookup.await.unwrap_or_else(|e| {
        console_warn(&format!("webinfer: model cache not used: {e}"));
        None
    })
}

/// Deletes the entry for `sha256` (one that failed its check), saying why in the console.
pub async fn remove(sha256: &str) {
    let removal = async { await_js(open().await?.delete_with_str(&cache_key(sha256))).await };
    let outcome = removal.await.map_or_else(|e| format!(" (could not remove it: {e})"), |_| " and was removed".to_string());
    console_warn(&format!("webinfer: a cached model failed its sha256 check{outcome}; downloading it again"));
}

/// Stores verified bytes without making the caller wait: `body` is a copy the cache now owns,
/// and the write finishes in the background (see `model_cache_settled`). Callers only pass bytes
/// whose digest matched.
pub fn put_in_background(sha256: &str, body: Uint8Array) {
    let key = cache_key(sha256);
    let write = future_to_promise(async move {
        let store = async {
            let cache = open().await?;
            let response = Response::new_with_opt_buffer_source(Some(&body)).map_err(|e| describe_js(&e))?;
            await_js(cache.put_with_str(&key, &response)).await.map(|_| ())
        };
        if let Err(e) = store.await {
            console_warn(&format!("webinfer: model not cached: {e}"));
        }
        Ok(JsValue::UNDEFINED)
    });
    PENDING.with(|p| p.borrow_mut().push(write));
}

/// Deletes every model webinfer has cached in this origin. Resolves to whether a cache existed.
#[wasm_bindgen(js_name = clearModelCache)]
pub async fn clear_model_cache() -> Result<bool, JsError> {
    model_cache_settled().await;
    let deleted = await_js(storage().map_err(|e| JsError::new(&e))?.delete(CACHE_NAME))
        .await
        .map_err(|e| JsError::new(&format!("could not clear the model cache: {e}")))?;
    Ok(deleted.is_truthy())
}
