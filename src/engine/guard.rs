//! A panic inside tract becomes an [`Error`](super::Error), not a dead engine.
//!
//! tract panics on some inputs instead of returning an error (an index past the end of a
//! `Gather`'s table, an integer division by zero) and on some malformed graphs. Every stage that
//! calls into tract goes through [`catch`]: natively, and in the wasm builds, which are built with
//! `panic=unwind` and the exception-handling proposal (build.sh), the panic stops there and the
//! stage discards whatever it may have left half-updated (a run rebuilds its state from the
//! plan). What does not unwind (out of memory, a trap in a kernel) still ends the instance; the
//! pages' crash recovery covers that.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic comes back as its message. Callers drop or rebuild everything `f` touched,
/// which is what makes the `AssertUnwindSafe` true.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| message(payload.as_ref()))
}

/// A panic's message: `panic!` gives a `&str` or a `String`; anything else has none.
fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        return s.to_string();
    }
    payload.downcast_ref::<String>().cloned().unwrap_or_else(|| "a panic with no message".to_string())
}
