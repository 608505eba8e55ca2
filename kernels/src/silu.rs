//! SiLU (`x * sigmoid(x)`, YOLO's and EfficientNet's activation), registered with tract-linalg's
//! routine registry above tract's own wasm kernel, in both SIMD builds.
//!
//! Why: tract fuses `x * Sigmoid(x)` into its `Silu` op, whose wasm kernel evaluates a rational
//! approximation of the sigmoid (Horner's rule on a degree-13 and a degree-6 polynomial) and
//! clamps twice with `f32x4.min`/`f32x4.max`. On x86-64, V8 emulates those IEEE min and max with
//! about six instructions each, and the kernel ends up costing three times its arithmetic
//! (YOLOv8 at 320x320 in Chromium: 3.3 of 17 ms in 65 nodes). This kernel clamps with the
//! pseudo-min and -max, one instruction each, and in the relaxed-simd build fuses each Horner
//! step into one multiply-add. Same coefficients, clamps and order as tract's kernel: in the
//! simd128 build the values are tract's bit for bit; in the relaxed-simd one each fused step
//! rounds once instead of twice.

use core::arch::wasm32::*;

/// The approximation's input range: outside it the sigmoid is 0 or 1 in f32.
const LOW: f32 = -18.6;
const HIGH: f32 = 18.6;
/// Odd numerator `x * p(x^2)`, highest power first.
const ALPHA: [f32; 7] =
    [-4.433153405e-18, 1.169974371e-14, -1.875289645e-11, 4.257889523e-8, 0.00004811817576, 0.008163842030, 0.2499999971];
/// Even denominator `q(x^2)`, highest power first.
const BETA: [f32; 4] = [3.922935744e-6, 0.001524872358, 0.1159886749, 1.0];

/// `acc * x + c`: fused in the relaxed-simd build, a multiply then an add otherwise (where the
/// kernel is only built for its tests).
#[inline(always)]
fn madd(acc: v128, x: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(acc, x, c);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_add(f32x4_mul(acc, x), c)
}

/// The kernel's constants as vectors, made once per call. Left to LLVM, each of the 17 is a
/// `v128.const` inside the loop for V8 to materialize on every pass: YOLOv8's 65 `Silu` nodes
/// took 0.95-1.02 ms per run that way in Chromium, 0.89 ms with these.
struct Constants {
    low: v128,
    high: v128,
    alpha: [v128; 7],
    beta: [v128; 4],
    half: v128,
    one: v128,
    zero: v128,
}

impl Constants {
    fn new() -> Constants {
        // Opaque to LLVM, so it cannot turn the splats back into constants inside the loop.
        let (low, high, alpha, beta, [half, one, zero]) = std::hint::black_box((LOW, HIGH, ALPHA, BETA, [0.5, 1.0, 0.0]));
        let splat = |v: f32| f32x4_splat(v);
        Constants {
            low: splat(low),
            high: splat(high),
            alpha: alpha.map(splat),
            beta: beta.map(splat),
            half: splat(half),
            one: splat(one),
            zero: splat(zero),
        }
    }

    /// SiLU of four values.
    #[inline(always)]
    fn lanes(&self, v: v128) -> v128 {
        // Pseudo-min and -max (`b < a ? b : a`) are one instruction each on x86-64, where the
        // IEEE min and max V8 must emulate are about six (with relaxed SIMD, LLVM makes them
        // `relaxed_min`/`max`, one instruction too). They differ only for NaN, which the final
        // product with `v` carries through anyway, and they order zeros like tract's kernel.
        let x = f32x4_pmin(self.high, f32x4_pmax(self.low, v));
        let x2 = f32x4_mul(x, x);
        let p = self.alpha[1..].iter().fold(self.alpha[0], |p, &a| madd(p, x2, a));
        let p = f32x4_mul(p, x);
        let q = self.beta[1..].iter().fold(self.beta[0], |q, &b| madd(q, x2, b));
        // The quotient overshoots past -0.5 on the far negative tail, which would flip the
        // product's sign: the sigmoid is clamped to [0, 1], as tract's kernel does.
        let sigmoid = f32x4_add(f32x4_div(p, q), self.half);
        let sigmoid = f32x4_pmin(self.one, f32x4_pmax(self.zero, sigmoid));
        f32x4_mul(v, sigmoid)
    }
}

/// SiLU of every value, in place. tract's element-wise wrapper hands over whole vectors only
/// (`nr` below), padding any tail itself.
fn silu(values: &mut [f32]) {
    debug_assert!(values.len() % 4 == 0);
    let constants = Constants::new();
    for chunk in values.chunks_exact_mut(4) {
        // SAFETY: four f32 values; wasm loads and stores need no alignment.
        unsafe {
            let p = chunk.as_mut_ptr() as *mut v128;
            v128_store(p, constants.lanes(v128_load(p)));
        }
    }
}

mod registration {
    use tract_linalg::element_wise::{ElementWise, ElementWiseKer};
    use tract_linalg::isa::{Arch, Isa, IsaReq};
    use tract_linalg::routines::{Func, Routine, RoutineFactory};

    /// tract's element-wise kernel shape: whole vectors, the tail padded by tract's wrapper.
    #[derive(Clone, Debug)]
    struct WebinferSilu;

    impl ElementWiseKer<f32> for WebinferSilu {
        fn name() -> &'static str {
            if cfg!(target_feature = "relaxed-simd") {
                "webinfer_silu_relaxed_f32"
            } else {
                "webinfer_silu_simd128_f32"
            }
        }
        fn alignment_items() -> usize {
            4
        }
        fn nr() -> usize {
            4
        }
        fn run(values: &mut [f32], _: ()) {
            super::silu(values)
        }
    }

    fn make() -> Box<dyn ElementWise<f32>> {
        WebinferSilu::ew()
    }

    /// What the kernel needs: the relaxed-simd build's fused steps need relaxed SIMD, which also
    /// ranks it above tract's simd128 kernel.
    #[cfg(target_feature = "relaxed-simd")]
    const NEEDS: IsaReq = IsaReq::ANY.needing(&[Isa::Wasm32RelaxedSimd]);
    #[cfg(not(target_feature = "relaxed-simd"))]
    const NEEDS: IsaReq = IsaReq::ANY.needing(&[Isa::Wasm32Simd128]);

    // tract's own `WasmSilu4` declares simd128 too: the boost ranks this one above it
    // (measured: see the module's doc).
    inventory::submit! {
        Routine { func: Func::Silu, arch: Some(Arch::Wasm32Simd128), isa: NEEDS, boost: 1, round_trip: false, factory: RoutineFactory::F32(make) }
    }

    /// Keeps this module in the link (see `f32_8x8::keep`).
    pub fn keep() {
        std::hint::black_box(make as fn() -> Box<dyn ElementWise<f32>>);
    }
}

pub(crate) use registration::keep;
