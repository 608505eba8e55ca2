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
/// `crashChannel`: a `BroadcastChannel` name on which a trap in any thread is announced (why:
/// out of memory). Inferences run on the pool, so a trap there leaves the calling thread waiting
/// forever; whoever listens on the channel (www/webinfer/session.js) replaces the worker. Panics do not
/// trap: they come back from `run` as an `Error`.
#[wasm_bindgen(js_name = startThreads)]
pub async fn start_threads(threads: usize, crash_channel: Option<String>) -> Result<usize, JsError> {
    alive()?;
    if threads == 0 {
        return Err(js_error("startThreads needs at least one thread"));
    }
    if let Some(name) = crash_channel {
        let _ = CRASH_CHANNEL.set(name);
    }
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(threads))
        .await
        .map_err(|e| js_error(format_args!("could not start {threads} inference threads: {}", describe_js(&e))))?;
    // Only now: with no pool yet, rayon would settle for the calling thread alone.
    set_default_executor(Executor::RayonGlobal);
    Ok(rayon::current_num_threads())
}

/// Called before a trap (an allocation failure; a panic too in a build that aborts), on whichever
/// thread it happens. Only pool threads post: a trap on the calling thread reaches its caller as
/// a `RuntimeError`.
pub(super) fn report_crash() {
    if rayon::current_thread_index().is_none() {
        return;
    }
    let (Some(name), Some(message)) = (CRASH_CHANNEL.get(), CRASH.get()) else { return };
    if let Ok(channel) = web_sys::BroadcastChannel::new(name) {
        let _ = channel.post_message(&JsValue::from_str(message));
    }
}

/// Runs `run` (a whole inference) on pool thread 0 while the other pool threads stay awake,
/// taking the work that tract's parallel ops and `ops::parallel` split off (`rayon::yield_now`
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
            // Set as `run` returns or unwinds: a panic must not leave the others spinning, or
            // rayon, which passes it on once every thread is back, would wait forever.
            let _finished = SetOnDrop(&done);
            if let Some(run) = run.lock().ok().and_then(|mut run| run.take()) {
                let value = run();
                if let Ok(mut result) = result.lock() {
                    *result = Some(value);
                }
            }
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

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}
