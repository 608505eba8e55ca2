//! Broadcast element-wise arithmetic in wasm: `Add`, `Mul` and `Sub` (either operand order) of
//! a tensor and one value per block of it (tract's `BinByScalar`: a per-channel scale or bias in
//! NCHW, a scalar) or a same-length slice (`BinUnicast`: a per-channel operand in NHWC, two
//! tensors of one shape), registered with tract-linalg's routine registry.
//!
//! Why: tract's `OptBinByScalar` / `OptBinUnicast` (and the chains it fuses from them) call a
//! kernel per run, and for `Add`, `Mul` and `Sub` tract's wasm build has only its generic ones,
//! plain Rust loops (its wasm tree has SIMD ones for `Min`/`Max` by scalar alone). These are
//! SIMD and take any length and alignment, so `ops/broadcast.rs` can hand them the per-channel
//! operands tract leaves on its element-by-element broadcast. Results are bit-identical to both
//! paths: each element is one IEEE operation either way.

use core::arch::wasm32::*;
use tract_data::internal::{ensure, TensorView, TractResult};
use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};
use tract_linalg::{BinFn, BinOp};

/// One arithmetic operation, on four lanes and on one value; `a` is the tensor written over.
trait Arithmetic: 'static {
    fn lanes(a: v128, b: v128) -> v128;
    fn one(a: f32, b: f32) -> f32;
}

struct Add;
struct Mul;
struct Sub;
/// `b - a`: tract's flipped subtraction, for a broadcast operand on the left.
struct SubFlipped;

impl Arithmetic for Add {
    fn lanes(a: v128, b: v128) -> v128 {
        f32x4_add(a, b)
    }
    fn one(a: f32, b: f32) -> f32 {
        a + b
    }
}
impl Arithmetic for Mul {
    fn lanes(a: v128, b: v128) -> v128 {
        f32x4_mul(a, b)
    }
    fn one(a: f32, b: f32) -> f32 {
        a * b
    }
}
impl Arithmetic for Sub {
    fn lanes(a: v128, b: v128) -> v128 {
        f32x4_sub(a, b)
    }
    fn one(a: f32, b: f32) -> f32 {
        a - b
    }
}
impl Arithmetic for SubFlipped {
    fn lanes(a: v128, b: v128) -> v128 {
        f32x4_sub(b, a)
    }
    fn one(a: f32, b: f32) -> f32 {
        b - a
    }
}

/// `a[i] = op(a[i], b(i))` for every `i`, 16 values a step, then 4, then one: `b` gives the
/// right operand of lanes `i..i + 4` and of value `i`.
#[inline(always)]
fn apply<A: Arithmetic>(a: &mut [f32], lanes: impl Fn(usize) -> v128, one: impl Fn(usize) -> f32) {
    let len = a.len();
    let p = a.as_mut_ptr();
    let mut i = 0;
    // SAFETY: every access is below `len` (loop bounds); wasm loads and stores need no alignment.
    unsafe {
        while i + 16 <= len {
            for j in (i..i + 16).step_by(4) {
                let v = p.add(j) as *mut v128;
                v128_store(v, A::lanes(v128_load(v), lanes(j)));
            }
            i += 16;
        }
        while i + 4 <= len {
            let v = p.add(i) as *mut v128;
            v128_store(v, A::lanes(v128_load(v), lanes(i)));
            i += 4;
        }
    }
    for (j, x) in a.iter_mut().enumerate().skip(i) {
        *x = A::one(*x, one(j));
    }
}

/// The `BinByScalar` kernel: `b` is one value.
fn by_scalar<A: Arithmetic>() -> Box<BinFn> {
    Box::new(|a: &mut TensorView, b: &TensorView| -> TractResult<()> {
        let s = b.as_slice::<f32>()?[0];
        let splat = f32x4_splat(s);
        apply::<A>(a.as_slice_mut::<f32>()?, |_| splat, |_| s);
        Ok(())
    })
}

/// The `BinUnicast` kernel: `b` is as long as `a`.
fn unicast<A: Arithmetic>() -> Box<BinFn> {
    Box::new(|a: &mut TensorView, b: &TensorView| -> TractResult<()> {
        let b = b.as_slice::<f32>()?;
        let a = a.as_slice_mut::<f32>()?;
        ensure!(a.len() == b.len(), "unicast over {} and {} values", a.len(), b.len());
        // SAFETY: `i + 4 <= a.len() == b.len()` whenever lanes(i) is asked for (`apply`).
        apply::<A>(a, |i| unsafe { v128_load(b.as_ptr().add(i) as *const v128) }, |i| b[i]);
        Ok(())
    })
}

macro_rules! register {
    ($($func:ident($op:ident) => $make:ident::<$arith:ident> as $name:literal;)*) => {$(
        inventory::submit! {
            #![used(linker)]
            Routine {
                func: Func::$func(BinOp::$op),
                arch: Some(Arch::Wasm32Simd128),
                isa: IsaReq::ANY.needing(&[Isa::Wasm32Simd128]),
                boost: 0,
                round_trip: false,
                factory: RoutineFactory::BinF32 { name: || $name, make: $make::<$arith> },
            }
        }
    )*};
}

register! {
    BinByScalar(Add) => by_scalar::<Add> as "webinfer_by_scalar_add_f32";
    BinByScalar(Mul) => by_scalar::<Mul> as "webinfer_by_scalar_mul_f32";
    BinByScalar(Sub) => by_scalar::<Sub> as "webinfer_by_scalar_sub_f32";
    BinByScalar(SubF) => by_scalar::<SubFlipped> as "webinfer_by_scalar_subf_f32";
    BinUnicast(Add) => unicast::<Add> as "webinfer_unicast_add_f32";
    BinUnicast(Mul) => unicast::<Mul> as "webinfer_unicast_mul_f32";
    BinUnicast(Sub) => unicast::<Sub> as "webinfer_unicast_sub_f32";
    BinUnicast(SubF) => unicast::<SubFlipped> as "webinfer_unicast_subf_f32";
}

/// Keeps this module in the link (see `f32_8x8::keep`).
pub fn keep() {
    std::hint::black_box((by_scalar::<Mul> as fn() -> Box<BinFn>, unicast::<Add> as fn() -> Box<BinFn>));
}
