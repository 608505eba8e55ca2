//! The threaded build (feature `threads`): a rayon pool of Web Workers sharing the module's
//! memory (wasm-bindgen-rayon), inferences run on it, and crashes reported from any thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tract_linalg::multithread::{set_default_executor, Executor};
use wasm_bindgen::prelude::*;

use super::{alive, describe_js, js_error, CRASH};

/// Where a panic on any thread is announced (a `BroadcastChannel` name, from `startThreads`).
static CRASH_CHANNEL: OnceLock<String> = OnceLock::new();

/// Starts `threads` Web Workers that share this module's memory and makes tract split its
/// matrix products, convolutions and element-wise ops across them; resolves to the size of the
/// pool that now exists. Only on a cross-origin
/// isolated page (it needs `SharedArrayBuffer`); call it once, right after `init()`, in a Worker.
///
/// `crashChannel`: a `BroadcastChannel` name on which a panic in any thread is posted (its
/// message). Inferences run on the pool, so a panic there leaves the calling thread waiting
/// forever; whoever listens on the channel (www/classifier.js) replaces the worker.
#[wasm_bindgen(js_name = startThreads)]
pub async fn start_threads(threads: usize, crash_channel: Option<String>) -> Result<usize, JsError> {
    alive()?;
    if threads == 0 {
        return Err(js_error("startThreads needs at least one thread"));
    }
    if let Some(name) = crash_channel {
        let _ = CRASH_CHANNEL.set(name);
    }
    std::alloc::set_alloc_error_hook(out_of_memory);
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(threads))
        .await
        .map_err(|e| js_error(format_args!("could not start {threads} inference threads: {}", describe_js(&e))))?;
    // Only now: with no pool yet, rayon would settle for the calling thread alone.
    set_default_executor(Executor::RayonGlobal);
    Ok(rayon::current_num_threads())
}

/// Called by the panic hook, on whichever thread panicked, before the trap. Only pool threads
/// post: a panic on the calling thread reaches its caller as the trap's `RuntimeError`.
pub(super) fn report_crash() {
    if rayon::current_thread_index().is_none() {
        return;
    }
    let (Some(name), Some(message)) = (CRASH_CHANNEL.get(), CRASH.get()) else { return };
    if let Ok(channel) = web_sys::BroadcastChannel::new(name) {
        let _ = channel.post_message(&JsValue::from_str(message));
    }
}

/// Rust aborts on a failed allocation without panicking, so the panic hook would not see it: on
/// a pool thread that would leave the calling worker waiting forever. Reported the same way
/// first; the abort follows.
fn out_of_memory(layout: std::alloc::Layout) {
    let _ = CRASH.set(format!("out of memory: could not allocate {} bytes", layout.size()));
    report_crash();
}

/// Runs `run` (a whole inference) on pool thread 0 while the other pool threads stay awake,
/// taking the work that tract's parallel ops and `engine::parallel` split off (`rayon::yield_now`
/// steals and runs one job).
/// Handing each op to the pool from the calling thread instead, or letting idle threads sleep
/// between ops, costs a wake-up per op (Atomics.wait/notify): measured in Chromium here, that
/// ate the whole gain of a second thread (bench/PERFORMANCE.md).
pub(super) fn run_on_pool<T: Send>(run: impl FnOnce() -> T + Send) -> T {
    let run = Mutex::new(Some(run));
    let result = Mutex::new(None);
    let done = AtomicBool::new(false);
    rayon::broadcast(|context| {
        if context.index() == 0 {
            if let Some(run) = run.lock().ok().and_then(|mut run| run.take()) {
                let value = run();
                if let Ok(mut result) = result.lock() {
                    *result = Some(value);
                }
            }
            done.store(true, Ordering::Release);
        } else {
            while !done.load(Ordering::Acquire) {
                rayon::yield_now();
            }
        }
    });
    match result.into_inner() {
        Ok(Some(value)) => value,
        _ => unreachable!("pool thread 0 runs the inference exactly once"),
    }
}
