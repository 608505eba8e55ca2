//! JavaScript bindings: the engine behind an onnxruntime-web-shaped API.
//!
//! `session` is the API surface; `source` turns a URL or bytes into verified model bytes,
//! using `download` (streaming fetch with progress), `digest` (sha256 by SubtleCrypto) and
//! `cache` (Cache API keyed by digest);
//! `convert` moves tensors across the boundary; `image` turns pictures into inputs. Every failure becomes a JS `Error`.

mod cache;
mod convert;
mod digest;
mod download;
mod image;
mod session;
mod source;
#[cfg(feature = "threads")]
mod threads;
pub mod types;

use std::sync::OnceLock;

use wasm_bindgen::prelude::*;

pub use cache::{clear_model_cache, model_cache_settled};
pub use image::{preprocess_image, top_k_js};
pub use session::Session;

/// The message of the panic (or the allocation failure) that killed this instance, if one did.
static CRASH: OnceLock<String> = OnceLock::new();

/// Runs once when the module is instantiated.
///
/// The shipped builds unwind (`panic=unwind` with wasm exception handling, see build.sh): a
/// panic in tract is caught by the engine (engine/guard.rs) and becomes an `Error` naming the
/// node, and one anywhere else in a call is turned into a thrown `Error` by wasm-bindgen's
/// wrapper; either way the instance keeps working, so the hook stays out of it.
///
/// A build that aborts (`panic=abort`) cannot survive a panic: there the hook puts its message
/// in the console instead of an opaque `unreachable` trap, and remembers it so later calls fail
/// clearly (`alive`).
#[wasm_bindgen(start)]
fn start() {
    std::alloc::set_alloc_error_hook(out_of_memory);
    if cfg!(panic = "unwind") {
        std::panic::set_hook(Box::new(|_| {}));
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic");
        let _ = CRASH.set(match info.location() {
            Some(at) => format!("{what}, at {at}"),
            None => what.to_string(),
        });
        #[cfg(feature = "threads")]
        threads::report_crash();
        console_error_panic_hook::hook(info);
    }));
}

/// A failed allocation aborts instead of unwinding (tract's tensors are the exception: they
/// panic, and are caught), so this instance is done: remember why, so later calls say so
/// (`alive`). In the threaded build a pool thread's abort would leave the calling worker waiting
/// forever, so the page is told too. The trap follows.
fn out_of_memory(layout: std::alloc::Layout) {
    let _ = CRASH.set(format!("out of memory: could not allocate {} bytes", layout.size()));
    #[cfg(feature = "threads")]
    threads::report_crash();
}

#[cfg(feature = "threads")]
pub use threads::start_threads;

/// Fails once a call has trapped (a panic in a build that aborts, an allocation failure), for
/// what reaches it: in the unwinding builds wasm-bindgen's glue already refuses every call after
/// a trap ("Module terminated"). A trap unwinds nothing: the
/// shadow stack pointer, the plan's state and wasm-bindgen's borrow flags stay as they were
/// mid-call, so nothing this instance computes afterwards can be trusted.
fn alive() -> Result<(), JsError> {
    match CRASH.get() {
        None => Ok(()),
        Some(panic) => Err(js_error(format_args!(
            "webinfer's engine crashed in an earlier call ({panic}) and this instance of the module can no \
             longer be used: import it again in a new Worker (webinfer's InferenceSession does this automatically)"
        ))),
    }
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
