//! Sigmoid and tanh (LSTM and GRU gates, detection and segmentation heads), registered with
//! tract-linalg's routine registry in both SIMD builds; and the odd rational function they and
//! the SiLU kernel evaluate.
//!
//! Why: tract's relaxed-simd kernels clamp with `f32x4.min`/`max`, which V8 emulates on x86-64
//! with about six instructions each (see `silu.rs`); its simd128 build has no wasm kernel for
//! either and runs its portable Rust one. These use tract's fits (same coefficients, clamps and
//! order: in the simd128 build the values are tract's bit for bit), four lanes at a time, with
//! the pseudo-min and -max. Measured (bench/PERFORMANCE.md section 20): 1.5-1.6x tract's in the
//! relaxed-simd build, 1.1-1.2x its portable kernel in the simd128 one.

use core::arch::wasm32::*;

/// A rational fit of an odd function: `x p(x^2) / q(x^2)` on `[low, high]`, coefficients
/// highest power first.
pub(crate) struct Fit {
    pub low: f32,
    pub high: f32,
    pub alpha: [f32; 7],
    pub beta: [f32; 4],
}

/// tract's f32 sigmoid fit, of `sigmoid(x) - 0.5` (`tract_linalg::generic::sigmoid`).
pub(crate) const SIGMOID: Fit = Fit {
    low: -14.5,
    high: 14.5,
    alpha: [-4.433153405e-18, 1.169974371e-14, -1.875289645e-11, 4.257889523e-8, 0.00004811817576, 0.008163842030, 0.2499999971],
    beta: [3.922935744e-6, 0.001524872358, 0.1159886749, 1.0],
};

/// tract's f32 tanh fit (`tract_linalg::generic::tanh`).
const TANH: Fit = Fit {
    low: -7.5,
    high: 7.5,
    alpha: [-8.488492677e-14, 5.277853000e-11, -2.022500419e-8, 0.00001115424833, 0.003103950131, 0.1308400453, 0.9999999934],
    beta: [0.0002546136580, 0.02449515379, 0.4641733162, 1.0],
};

/// `acc * x + c`: fused in the relaxed-simd build, a multiply then an add otherwise.
#[inline(always)]
fn madd(acc: v128, x: v128, c: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(acc, x, c);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_add(f32x4_mul(acc, x), c)
}

/// A fit's constants as vectors, made once per call: left to LLVM, each is a `v128.const`
/// inside the loop for V8 to materialize on every pass (measured on SiLU: `silu.rs`).
pub(crate) struct Splat {
    pub low: v128,
    pub high: v128,
    alpha: [v128; 7],
    beta: [v128; 4],
}

impl Splat {
    pub fn new(fit: &Fit) -> Splat {
        // Opaque to LLVM, so it cannot turn the splats back into constants inside the loop.
        let (low, high, alpha, beta) = std::hint::black_box((fit.low, fit.high, fit.alpha, fit.beta));
        Splat { low: f32x4_splat(low), high: f32x4_splat(high), alpha: alpha.map(|v| f32x4_splat(v)), beta: beta.map(|v| f32x4_splat(v)) }
    }

    /// The fit at `x`, already clamped.
    #[inline(always)]
    pub fn odd(&self, x: v128) -> v128 {
        let x2 = f32x4_mul(x, x);
        let p = self.alpha[1..].iter().fold(self.alpha[0], |p, &a| madd(p, x2, a));
        let p = f32x4_mul(p, x);
        let q = self.beta[1..].iter().fold(self.beta[0], |q, &b| madd(q, x2, b));
        f32x4_div(p, q)
    }

    /// `v` clamped to the fit's range, NaN kept (`pmax(v, low)` is `v < low ? low : v`). With
    /// relaxed SIMD, LLVM makes these `relaxed_min`/`max`, whose NaN is the engine's choice:
    /// [`keep_nan`] restores it there.
    #[inline(always)]
    fn clamp(&self, v: v128) -> v128 {
        f32x4_pmin(f32x4_pmax(v, self.low), self.high)
    }
}

/// `y`, but NaN where `v` is NaN, in the relaxed-simd build (see [`Splat::clamp`]).
#[inline(always)]
fn keep_nan(v: v128, y: v128) -> v128 {
    if cfg!(target_feature = "relaxed-simd") {
        v128_bitselect(v, y, f32x4_ne(v, v))
    } else {
        y
    }
}

/// Applies `lanes` to every vector of `values` in place (tract's element-wise wrapper hands
/// over whole vectors only, padding any tail itself).
#[inline(always)]
pub(crate) fn each_vector(values: &mut [f32], lanes: impl Fn(v128) -> v128) {
    debug_assert!(values.len() % 4 == 0);
    for chunk in values.chunks_exact_mut(4) {
        // SAFETY: four f32 values; wasm loads and stores need no alignment.
        unsafe {
            let p = chunk.as_mut_ptr() as *mut v128;
            v128_store(p, lanes(v128_load(p)));
        }
    }
}

fn sigmoid(values: &mut [f32]) {
    let fit = Splat::new(&SIGMOID);
    let half = f32x4_splat(std::hint::black_box(0.5));
    each_vector(values, |v| keep_nan(v, f32x4_add(fit.odd(fit.clamp(v)), half)));
}

fn tanh(values: &mut [f32]) {
    let fit = Splat::new(&TANH);
    each_vector(values, |v| keep_nan(v, fit.odd(fit.clamp(v))));
}

/// Registers `$kernel` (a function over whole vectors) for `$func`, in the simd128 build above
/// tract's portable kernel and in the relaxed-simd one above tract's own relaxed kernel.
macro_rules! register {
    ($ker:ident, $func:ident, $simd128:literal, $relaxed:literal, $kernel:path) => {
        #[derive(Clone, Debug)]
        struct $ker;

        impl tract_linalg::element_wise::ElementWiseKer<f32> for $ker {
            fn name() -> &'static str {
                if cfg!(target_feature = "relaxed-simd") {
                    $relaxed
                } else {
                    $simd128
                }
            }
            fn alignment_items() -> usize {
                4
            }
            fn nr() -> usize {
                4
            }
            fn run(values: &mut [f32], _: ()) {
                $kernel(values)
            }
        }

        impl $ker {
            fn make() -> Box<dyn tract_linalg::element_wise::ElementWise<f32>> {
                <$ker as tract_linalg::element_wise::ElementWiseKer<f32>>::ew()
            }
        }

        inventory::submit! {
            #![used(linker)]
            tract_linalg::routines::Routine {
                func: tract_linalg::routines::Func::$func,
                arch: Some(tract_linalg::isa::Arch::Wasm32Simd128),
                isa: $crate::rational::NEEDS,
                boost: 1,
                round_trip: false,
                factory: tract_linalg::routines::RoutineFactory::F32($ker::make),
            }
        }
    };
}
pub(crate) use register;

/// What the kernels need: the relaxed-simd build's fused steps need relaxed SIMD, which also
/// ranks them above tract's kernels there.
#[cfg(target_feature = "relaxed-simd")]
pub(crate) const NEEDS: tract_linalg::isa::IsaReq =
    tract_linalg::isa::IsaReq::ANY.needing(&[tract_linalg::isa::Isa::Wasm32RelaxedSimd]);
#[cfg(not(target_feature = "relaxed-simd"))]
pub(crate) const NEEDS: tract_linalg::isa::IsaReq =
    tract_linalg::isa::IsaReq::ANY.needing(&[tract_linalg::isa::Isa::Wasm32Simd128]);

register!(WebinferSigmoid, Sigmoid, "webinfer_sigmoid_simd128_f32", "webinfer_sigmoid_relaxed_f32", sigmoid);
register!(WebinferTanh, Tanh, "webinfer_tanh_simd128_f32", "webinfer_tanh_relaxed_f32", tanh);

/// Keeps this module in the link (see `f32_8x8::keep`).
pub fn keep() {
    std::hint::black_box((WebinferSigmoid::make as fn() -> _, WebinferTanh::make as fn() -> _));
}
