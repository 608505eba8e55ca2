//! JavaScript bindings: the engine behind an onnxruntime-web-shaped API.
//!
//! `session` is the API surface; `source` turns a URL or bytes into verified model bytes,
//! using `download` (streaming fetch with progress) and `cache` (Cache API keyed by digest);
//! `convert` moves tensors across the boundary; `image` turns pictures into inputs. Every failure becomes a JS `Error`.

mod cache;
mod convert;
mod download;
mod image;
mod session;
mod source;
pub mod types;

use wasm_bindgen::prelude::*;

pub use cache::clear_model_cache;
pub use image::{preprocess_image, top_k_js};
pub use session::Session;

/// Runs once when the module is instantiated. Panics should not happen (inputs are validated
/// before tract sees them); if one does, the hook puts its message in the console instead of
/// an opaque `unreachable` trap.
#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`, present in windows and workers alike.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn now_ms() -> f64;

    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// A JS `Error` with a message, from anything printable.
fn js_error(message: impl std::fmt::Display) -> JsError {
    JsError::new(&message.to_string())
}

/// The message of a thrown JS value (an `Error`'s message, or its string form).
fn describe_js(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
