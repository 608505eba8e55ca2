//! Independent units of work split over the threaded build's pool, with waits that spin.
//!
//! Why not tract's `multithread::par_chunks_mut` (rayon's `join` underneath): the thread that
//! splits the work waits for the last part in rayon's idle loop, which after 32 empty rounds (a
//! no-op yield each in wasm, so almost at once) sleeps on `Atomics.wait` and pays a wake-up
//! when the part is done. In the browser that is a wake-up per operator.

use std::ops::Range;

/// Runs `work` over `0..units`, in parts, on every thread of the pool when the build has one;
/// at once on this thread otherwise. Each unit is in exactly one call of `work`.
pub(crate) fn split_units(units: usize, work: impl Fn(Range<usize>) + Sync) {
    match pool_threads() {
        #[cfg(any(all(target_arch = "wasm32", feature = "threads"), all(test, not(target_arch = "wasm32"))))]
        Some(threads) if threads > 1 && units > 1 => spin::split(units, threads, &work),
        _ => work(0..units),
    }
}

/// The size of the pool this thread may split work over, if any.
fn pool_threads() -> Option<usize> {
    // Only once `startThreads` made the pool tract's executor, as tract's own ops: asked
    // earlier, rayon would settle for a pool of the calling thread alone, for good.
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    return matches!(
        tract_linalg::multithread::current_tract_executor(),
        tract_linalg::multithread::Executor::RayonGlobal
    )
    .then(rayon::current_num_threads);
    // The native tests run the same split on a real pool (inside `ThreadPool::install` only:
    // nothing else in the tests runs on one).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    return rayon::current_thread_index().map(|_| rayon::current_num_threads());
    #[allow(unreachable_code)]
    None
}

/// [`split_units`] over the chunks of `values` (`chunk_len` each, the last one shorter):
/// `work(first chunk, values of its chunks)`, like tract's `multithread::par_chunks_mut`.
pub(crate) fn split_chunks_mut<T: Send>(values: &mut [T], chunk_len: usize, work: impl Fn(usize, &mut [T]) + Sync) {
    assert!(chunk_len > 0);
    let len = values.len();
    let shared = SharedMut::new(values);
    split_units(len.div_ceil(chunk_len), |chunks| {
        let (start, end) = (chunks.start * chunk_len, len.min(chunks.end * chunk_len));
        // SAFETY: each chunk goes to one call only, so the parts are disjoint.
        work(chunks.start, unsafe { shared.part(start, end - start) })
    })
}

/// Values that calls on several threads write in disjoint parts ([`split_units`]'s units map
/// to parts the caller chooses).
pub(crate) struct SharedMut<'a, T> {
    values: *mut T,
    len: usize,
    _borrow: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: parts are handed out by `part`, whose callers promise they are disjoint.
unsafe impl<T: Send> Send for SharedMut<'_, T> {}
unsafe impl<T: Send> Sync for SharedMut<'_, T> {}

impl<'a, T> SharedMut<'a, T> {
    pub(crate) fn new(values: &'a mut [T]) -> Self {
        SharedMut { values: values.as_mut_ptr(), len: values.len(), _borrow: std::marker::PhantomData }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// `len` values from `start` (checked against the whole).
    ///
    /// # Safety
    /// No two parts in use at the same time may overlap, nor overlap values written through
    /// [`SharedMut::span`] meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start <= self.len && len <= self.len - start);
        // SAFETY: within the borrowed values (asserted); disjoint from other parts (the contract).
        unsafe { std::slice::from_raw_parts_mut(self.values.add(start), len) }
    }

    /// A pointer to `len` values from `start` (checked against the whole), for callers whose
    /// parts interleave (one writes some values of a span, another the rest); writes through it
    /// must not overlap another call's.
    pub(crate) fn span(&self, start: usize, len: usize) -> *mut T {
        assert!(start <= self.len && len <= self.len - start);
        // SAFETY: within the borrowed values (asserted).
        unsafe { self.values.add(start) }
    }
}

/// The spinning split, in the builds that have a pool to split over.
#[cfg(any(all(target_arch = "wasm32", feature = "threads"), all(test, not(target_arch = "wasm32"))))]
mod spin {
    use std::ops::Range;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Every pool thread takes parts from a shared counter; the caller also works, then spins
    /// until the last part is done instead of sleeping. Inferences run on the pool
    /// (`web::threads`); called from outside it, rayon runs this on the pool while the caller
    /// blocks.
    pub(super) fn split(units: usize, threads: usize, work: &(impl Fn(Range<usize>) + Sync)) {
        // Parts small enough that no thread waits long for another's last one.
        let grain = units.div_ceil(threads * 8);
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let take = || loop {
            let start = next.fetch_add(grain, Ordering::Relaxed);
            if start >= units {
                break;
            }
            let end = units.min(start + grain);
            // Counted even if `work` panics, so the caller's spin ends and rayon passes the panic on.
            let _done = Done { finished: &finished, units: end - start };
            work(start..end);
        };
        rayon::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(|_| take());
            }
            take();
            while finished.load(Ordering::Acquire) < units {
                std::hint::spin_loop();
            }
        });
    }

    /// Adds a part's units to the finished count when dropped: after its work, or while unwinding.
    struct Done<'a> {
        finished: &'a AtomicUsize,
        units: usize,
    }

    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.finished.fetch_add(self.units, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// On a real pool of 3 threads (as the threaded wasm build runs it), every unit is worked
    /// on exactly once, whatever the split, including fewer units than parts.
    #[test]
    fn every_unit_once_on_a_pool() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for units in [2usize, 3, 7, 24, 1000, 4099] {
            let seen: Vec<AtomicU32> = (0..units).map(|_| AtomicU32::new(0)).collect();
            pool.install(|| {
                split_units(units, |range: Range<usize>| {
                    range.for_each(|u| {
                        seen[u].fetch_add(1, Ordering::Relaxed);
                    })
                })
            });
            assert!(seen.iter().all(|n| n.load(Ordering::Relaxed) == 1), "{units} units");
        }
    }

    /// Chunks in parts on a pool: each part starts at its first chunk's values, the last chunk
    /// is short. Also inline, off the pool.
    #[test]
    fn chunks_cover_the_values_in_order() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for on_pool in [true, false] {
            let mut values = vec![u32::MAX; 100];
            let fill = |values: &mut [u32]| {
                split_chunks_mut(values, 3, |first, part| {
                    assert!(part.len() % 3 == 0 || first * 3 + part.len() == 100);
                    for (i, v) in part.iter_mut().enumerate() {
                        *v = (first * 3 + i) as u32;
                    }
                })
            };
            if on_pool {
                pool.install(|| fill(&mut values));
            } else {
                fill(&mut values);
            }
            assert_eq!(values, (0..100).collect::<Vec<u32>>());
        }
    }

    /// A panicking part ends the split with that panic instead of leaving the caller spinning.
    #[test]
    fn a_panic_in_a_part_reaches_the_caller() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| split_units(64, |range| assert!(!range.contains(&40), "unit 40")))
        }));
        assert!(result.is_err());
    }
}
