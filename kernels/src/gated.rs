//! The kernel of webinfer's self-gated activations (`src/ops/gated.rs`): `y = post(x * pre(x))`
//! with `pre` and `post` arithmetic by constants (hard-swish and its kin), in one pass over `x`.
//!
//! Each step is one IEEE operation per value, in the graph's order, so the result is what tract's
//! separate nodes give, bit for bit. `Max` and `Min` by a constant fold NaN to the constant, as
//! tract's scalar code and wasm kernels do (`c < v ? v : c`, wasm's `pmax`).
//!
//! Unlike the other kernels here this one is built on every target: natively as plain loops
//! the compiler vectorizes, in wasm with SIMD on blocks of values the steps run over in
//! registers, where at the shipped build's opt-level "s" the same code ran at half the speed.

/// One operation on the running value `v` with a constant `c`, or the gate itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    Add(f32),
    Mul(f32),
    /// `v - c`
    Sub(f32),
    /// `c - v`
    SubFrom(f32),
    /// `1 / v` (tract makes a division by a tensor a product with its reciprocal)
    Recip,
    Max(f32),
    Min(f32),
    /// `v * x`: multiplies by the value the steps started from.
    Gate,
}

impl Step {
    /// The step on one value; `x` is the value the steps started from.
    #[inline(always)]
    fn one(self, v: f32, x: f32) -> f32 {
        match self {
            Step::Add(c) => v + c,
            Step::Mul(c) => v * c,
            Step::Sub(c) => v - c,
            Step::SubFrom(c) => c - v,
            Step::Recip => 1.0 / v,
            Step::Max(c) => {
                if c < v {
                    v
                } else {
                    c
                }
            }
            Step::Min(c) => {
                if v < c {
                    v
                } else {
                    c
                }
            }
            Step::Gate => v * x,
        }
    }
}

/// Runs `steps` over every value of `values`, in place.
pub fn run(values: &mut [f32], steps: &[Step]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let values = simd::run_blocks(values, steps);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let values = run_blocks(values, steps);
    for x in values {
        *x = steps.iter().fold(*x, |v, step| step.one(v, *x));
    }
}

/// Whole blocks of 64 values, each step over a block at a time (loops the compiler vectorizes);
/// returns what is left.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn run_blocks<'a>(values: &'a mut [f32], steps: &[Step]) -> &'a mut [f32] {
    const BLOCK: usize = 64;
    let mut blocks = values.chunks_exact_mut(BLOCK);
    for x in &mut blocks {
        let mut v = [0f32; BLOCK];
        v.copy_from_slice(x);
        for &step in steps {
            match step {
                Step::Gate => v.iter_mut().zip(&*x).for_each(|(v, &x)| *v *= x),
                step => v.iter_mut().for_each(|v| *v = step.one(*v, 0.0)),
            }
        }
        x.copy_from_slice(&v);
    }
    blocks.into_remainder()
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::Step;
    use core::arch::wasm32::*;

    /// Vectors per block: with the values they started from, about what x86's 16 vector registers
    /// hold. On PP-OCR's recognizer in Chromium, blocks of 8 vectors took 2.9-3.0 ms a run, of 16
    /// 2.8, of 4 4.7: the step's dispatch, once per block, is what a small block pays for.
    const VECTORS: usize = 8;

    /// Whole blocks of `4 * VECTORS` values, every step over a block's vectors before the next
    /// block; returns what is left.
    pub(super) fn run_blocks<'a>(values: &'a mut [f32], steps: &[Step]) -> &'a mut [f32] {
        let mut blocks = values.chunks_exact_mut(4 * VECTORS);
        for block in &mut blocks {
            let at = block.as_mut_ptr() as *mut v128;
            // SAFETY: `4 * VECTORS` f32 behind `at`; wasm loads and stores need no alignment.
            let x: [v128; VECTORS] = core::array::from_fn(|i| unsafe { v128_load(at.add(i)) });
            let mut v = x;
            for &step in steps {
                v = match step {
                    Step::Gate => core::array::from_fn(|i| f32x4_mul(v[i], x[i])),
                    Step::Add(c) => v.map(|v| f32x4_add(v, f32x4_splat(c))),
                    Step::Mul(c) => v.map(|v| f32x4_mul(v, f32x4_splat(c))),
                    Step::Sub(c) => v.map(|v| f32x4_sub(v, f32x4_splat(c))),
                    Step::SubFrom(c) => v.map(|v| f32x4_sub(f32x4_splat(c), v)),
                    Step::Recip => v.map(|v| f32x4_div(f32x4_splat(1.0), v)),
                    // `pmax(c, v)` is `c < v ? v : c`, `pmin(c, v)` is `v < c ? v : c`: `Step::one`.
                    Step::Max(c) => v.map(|v| f32x4_pmax(f32x4_splat(c), v)),
                    Step::Min(c) => v.map(|v| f32x4_pmin(f32x4_splat(c), v)),
                };
            }
            for (i, v) in v.into_iter().enumerate() {
                // SAFETY: as the loads.
                unsafe { v128_store(at.add(i), v) };
            }
        }
        blocks.into_remainder()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hard-swish as Paddle writes it, and every other step, on lengths around the block sizes:
    /// each value against the steps written out.
    #[test]
    fn runs_each_step_on_every_value() {
        let steps = [
            Step::Add(3.0),
            Step::Max(0.0),
            Step::Min(6.0),
            Step::Gate,
            Step::Mul(1.0 / 6.0),
            Step::SubFrom(2.0),
            Step::Mul(0.5),
            Step::Sub(-1.0),
            Step::Recip,
        ];
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 200] {
            let x: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37 - 9.0) * if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
            let mut y = x.clone();
            run(&mut y, &steps);
            for (&x, &y) in x.iter().zip(&y) {
                let hard_swish = x * (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0);
                let want = 1.0 / ((2.0 - hard_swish) * 0.5 - -1.0);
                assert_eq!(y.to_bits(), want.to_bits(), "x = {x}, len {len}");
            }
        }
    }

    /// `Max` and `Min` by a constant turn NaN into the constant.
    #[test]
    fn clamps_fold_nan_to_the_constant() {
        let mut y = vec![f32::NAN; 20];
        run(&mut y, &[Step::Max(-1.0)]);
        assert!(y.iter().all(|&v| v == -1.0));
        let mut y = vec![f32::NAN; 20];
        run(&mut y, &[Step::Min(2.0)]);
        assert!(y.iter().all(|&v| v == 2.0));
    }
}
