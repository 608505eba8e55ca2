//! tract's f32 matrix products in wasm, on an 8x8 kernel of webinfer's, registered with
//! tract-linalg's kernel inventory (`mmm_routines`) and chosen by a dispatch tier above tract's
//! own wasm tier (`mmm_tiers`), so tract itself is unchanged.
//!
//! Why: tract's `wasm_f32_8x8` keeps 16 accumulators, 4 operands and 8 broadcasts live in every
//! step over `k`; V8 has 16 vector registers on x86-64, so the accumulators spill to the stack
//! in every step. This kernel runs the same tile as rows 0-3, then rows 4-7, each over the
//! whole of `k` (8 accumulators, 4 operands): the trick that made webinfer's int8 tile 6-13% faster
//! (bench/PERFORMANCE.md, section 11). Each half also runs the rest of the fused program (bias,
//! activation, store) from registers. Every accumulator sums the same products in the same
//! order as tract's, so results are bit-identical (but for the sign of a zero a fused `max`
//! or `min` returns); every other step of the fused-op protocol does what tract's kernel does.
//!
//! It serves the matrix products (`n > 1`) of every f32 model: EfficientNet-Lite0 fp32's 34, and
//! the stem and classifier of the int8 one. Matrix-vector products stay on tract's kernels.

use std::sync::LazyLock;

use core::arch::wasm32::*;
use tract_data::prelude::DatumType;
use tract_linalg::isa::{Arch, IsaSet};
use tract_linalg::mmm::{DynKernel, FusedKerSpec, OutputStoreKer, Query, Suitable};
use tract_linalg::mmm_routines::MmmRoutine;
use tract_linalg::mmm_tiers::MmmTier;
use tract_linalg::pack::Packing;

/// The kernel's name in tract's registry (what `OptMatMul` reports).
pub const NAME: &str = "webinfer_wasm_f32_8x8";

static KERNEL: LazyLock<DynKernel<8, 8, f32>> = LazyLock::new(|| {
    // The packed layouts tract's own 8x8 kernel declares, so packing code and packed weights
    // are the same.
    let (a, b) = (f32::packing(8).align(8), f32::packing(8).align(8));
    let mut kernel = DynKernel::new(NAME, kernel, a, b);
    kernel.arch = Some(Arch::Wasm32Simd128);
    kernel
});

inventory::submit! { #![used(linker)] MmmRoutine { make: || KERNEL.mmm() } }

/// Keeps this module in the link: wasm-ld drops an object file nothing references, and the
/// registrations above with it (tract does the same for its kernels, `wasm::isa_set`).
pub(crate) fn keep() {
    std::hint::black_box(kernel as unsafe fn(&[FusedKerSpec<f32>]) -> isize);
}

/// Matrix products (not matrix-vector ones) in f32: this kernel. Anything else: no opinion, so
/// tract's wasm tier (precedence 1) decides.
fn preferred(_isa: &IsaSet, accumulator: DatumType, query: &Query, _suitable: &[Suitable]) -> Option<&'static str> {
    (accumulator == DatumType::F32 && query.n != Some(1)).then_some(NAME)
}

inventory::submit! {
    #![used(linker)]
    MmmTier { arch: Some(Arch::Wasm32Simd128), precedence: 2, name: "webinfer", applies: |_| true, preferred }
}

/// `acc + a * b`: fused where the build has relaxed-simd, as tract's kernels do.
#[inline(always)]
fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(a, b, acc);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_add(acc, f32x4_mul(a, b))
}

/// Half of the 8x8 tile: rows `4h..4h + 4`, row `r` of the half in `[2r]` (columns 0-3) and
/// `[2r + 1]` (columns 4-7).
type Half = [v128; 8];

/// `half[i] = op(operand(i), half[i])`, the operand order of tract's kernels.
#[inline(always)]
fn each(half: &mut Half, operand: impl Fn(usize) -> v128, op: impl Fn(v128, v128) -> v128) {
    for (i, v) in half.iter_mut().enumerate() {
        *v = op(operand(i), *v);
    }
}

/// Runs tract's fused-op program for one tile (`FusedKerSpec`, up to `Done`): rows 0-3, then rows
/// 4-7. Every step is row by row, so the halves are independent; each runs the whole program
/// with its 8 accumulators in registers, instead of sweeping a 16-vector tile through memory once
/// per step (with short `k`, those sweeps cost as much as the products). Returns 0, as tract's
/// kernels do.
///
/// # Safety
/// The program's pointers are tract's: valid for the tile they describe.
unsafe fn kernel(program: &[FusedKerSpec<f32>]) -> isize {
    // SAFETY: this function's contract.
    unsafe {
        run_half::<0>(program);
        run_half::<1>(program);
    }
    0
}

/// The program for rows `4H..4H + 4`.
///
/// # Safety
/// As [`kernel`].
#[inline(always)]
unsafe fn run_half<const H: usize>(program: &[FusedKerSpec<f32>]) {
    let mut half: Half = [f32x4_splat(0.0); 8];
    for spec in program {
        // SAFETY (all pointer reads and writes): tract hands every spec pointers to the tile's
        // rows, columns and packed panels it describes (this function's contract).
        unsafe {
            match *spec {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => half = [f32x4_splat(0.0); 8],
                FusedKerSpec::LoadTile(_cols, rows) => {
                    let p = (rows as *const v128).add(8 * H);
                    for (i, v) in half.iter_mut().enumerate() {
                        *v = *p.add(i);
                    }
                }
                FusedKerSpec::ScalarMin(s) => each(&mut half, scalar(s), min),
                FusedKerSpec::ScalarMax(s) => each(&mut half, scalar(s), max),
                FusedKerSpec::ScalarAdd(s) => each(&mut half, scalar(s), add),
                FusedKerSpec::ScalarMul(s) => each(&mut half, scalar(s), mul),
                FusedKerSpec::ScalarSub(s) => each(&mut half, scalar(s), sub),
                FusedKerSpec::ScalarSubF(s) => each(&mut half, scalar(s), sub_flipped),
                FusedKerSpec::LeakyRelu(alpha) => {
                    let zero = f32x4_splat(0.0);
                    each(&mut half, scalar(alpha), |alpha, v| v128_bitselect(v, f32x4_mul(alpha, v), f32x4_gt(v, zero)))
                }
                FusedKerSpec::PerRowMin(row) => each(&mut half, per_row::<H>(row), min),
                FusedKerSpec::PerRowMax(row) => each(&mut half, per_row::<H>(row), max),
                FusedKerSpec::PerRowAdd(row) => each(&mut half, per_row::<H>(row), add),
                FusedKerSpec::PerRowMul(row) => each(&mut half, per_row::<H>(row), mul),
                FusedKerSpec::PerRowSub(row) => each(&mut half, per_row::<H>(row), sub),
                FusedKerSpec::PerRowSubF(row) => each(&mut half, per_row::<H>(row), sub_flipped),
                FusedKerSpec::PerColMin(cols) => each(&mut half, per_column(cols), min),
                FusedKerSpec::PerColMax(cols) => each(&mut half, per_column(cols), max),
                FusedKerSpec::PerColAdd(cols) => each(&mut half, per_column(cols), add),
                FusedKerSpec::PerColMul(cols) => each(&mut half, per_column(cols), mul),
                FusedKerSpec::PerColSub(cols) => each(&mut half, per_column(cols), sub),
                FusedKerSpec::PerColSubF(cols) => each(&mut half, per_column(cols), sub_flipped),
                // Quantized steps, which an f32 product only meets in a mixed graph: scalings by a
                // constant, as in tract's kernel.
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let scale = tract_linalg::Scaler::from_fuse_params(shift, policy, mult).scale;
                    each(&mut half, scalar(scale), mul)
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => each(&mut half, scalar(2f32.powi(-(shift as i32))), mul),
                FusedKerSpec::ShiftLeft(shift) => each(&mut half, scalar(2f32.powi(shift as i32)), mul),
                FusedKerSpec::AddUnicast(store) => {
                    for r in 0..4 {
                        let at = |c: usize| *(at(&store, 4 * H + r, c) as *const f32);
                        half[2 * r] = f32x4_add(half[2 * r], f32x4(at(0), at(1), at(2), at(3)));
                        half[2 * r + 1] = f32x4_add(half[2 * r + 1], f32x4(at(4), at(5), at(6), at(7)));
                    }
                }
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    let (low, high) = (per_column(cols)(0), per_column(cols)(1));
                    for r in 0..4 {
                        let s = f32x4_splat(*rows.add(4 * H + r));
                        half[2 * r] = madd(half[2 * r], s, low);
                        half[2 * r + 1] = madd(half[2 * r + 1], s, high);
                    }
                }
                FusedKerSpec::Store(store) => {
                    for r in 0..4 {
                        if store.col_byte_stride == 4 {
                            v128_store(at(&store, 4 * H + r, 0) as *mut v128, half[2 * r]);
                            v128_store(at(&store, 4 * H + r, 4) as *mut v128, half[2 * r + 1]);
                        } else {
                            let values: [f32; 8] = std::mem::transmute([half[2 * r], half[2 * r + 1]]);
                            for (c, v) in values.into_iter().enumerate() {
                                *(at(&store, 4 * H + r, c) as *mut f32) = v;
                            }
                        }
                    }
                }
                FusedKerSpec::AddMatMul { k, pa, pb, packing: _ } => add_mat_mul::<H>(&mut half, k, pa as _, pb as _),
            }
        }
    }
}

/// The operand of tile vector `i` for a scalar step: the scalar in every lane.
#[inline(always)]
fn scalar(s: f32) -> impl Fn(usize) -> v128 {
    move |_| f32x4_splat(s)
}

/// For a per-row step on half `H`: row `4H + i / 2`'s value (`row` points at 8 values, tract's
/// contract).
#[inline(always)]
fn per_row<const H: usize>(row: *const f32) -> impl Fn(usize) -> v128 {
    // SAFETY: `i < 8`, so `4H + i / 2` is one of the 8 rows.
    move |i| unsafe { f32x4_splat(*row.add(4 * H + i / 2)) }
}

/// For a per-column step: columns 0-3 (even `i`) or 4-7 (odd `i`) of the 8 `cols` points at.
#[inline(always)]
fn per_column(cols: *const f32) -> impl Fn(usize) -> v128 {
    // SAFETY: two v128 of the 8 columns (tract's contract); wasm loads need no alignment.
    move |i| unsafe { v128_load((cols as *const v128).add(i % 2)) }
}

/// The steps' operations, `op(operand, accumulator)` as in tract's kernels (`*SubF` flipped).
/// Min and max are the pseudo ones (`b < a ? b : a`), accumulator first: one instruction each
/// on x86-64 where V8 spends about six on IEEE `f32x4.min`/`max`, and a NaN accumulator still
/// comes out NaN. They differ from tract's only in a zero's sign: `max(0, -0)` keeps `-0`. (In
/// the relaxed-simd build LLVM makes them `relaxed_min`/`max`, as it does tract's, and NaN comes
/// out as the engine decides.)
fn min(s: v128, v: v128) -> v128 {
    f32x4_pmin(v, s)
}
fn max(s: v128, v: v128) -> v128 {
    f32x4_pmax(v, s)
}
fn add(s: v128, v: v128) -> v128 {
    f32x4_add(s, v)
}
fn mul(s: v128, v: v128) -> v128 {
    f32x4_mul(s, v)
}
fn sub(s: v128, v: v128) -> v128 {
    f32x4_sub(s, v)
}
fn sub_flipped(s: v128, v: v128) -> v128 {
    f32x4_sub(v, s)
}

/// Where value `[r][c]` of a stored tile is.
#[inline(always)]
fn at(store: &OutputStoreKer, r: usize, c: usize) -> *mut u8 {
    store.ptr.wrapping_offset(r as isize * store.row_byte_stride + c as isize * store.col_byte_stride)
}

/// `half += a * b` over `k` steps of packed panels (`a`: 8 rows per step, of which this half
/// reads 4; `b`: 8 columns): 8 accumulators and 4 operands live, so they stay in registers.
/// Written out, not looped over rows, so the accumulators are plain locals whatever the
/// optimizer decides about unrolling.
///
/// # Safety
/// `a` and `b` hold `k` steps of two v128 each (wasm loads need no alignment).
#[inline(always)]
unsafe fn add_mat_mul<const H: usize>(half: &mut Half, k: usize, a: *const v128, b: *const v128) {
    let [mut r0l, mut r0h, mut r1l, mut r1h, mut r2l, mut r2h, mut r3l, mut r3h] = *half;
    for i in 0..k {
        // SAFETY: `i < k` steps of two v128 (the contract).
        let (rows, blo, bhi) = unsafe { (v128_load(a.add(2 * i + H)), v128_load(b.add(2 * i)), v128_load(b.add(2 * i + 1))) };
        let s = i32x4_shuffle::<0, 0, 0, 0>(rows, rows);
        r0l = madd(r0l, s, blo);
        r0h = madd(r0h, s, bhi);
        let s = i32x4_shuffle::<1, 1, 1, 1>(rows, rows);
        r1l = madd(r1l, s, blo);
        r1h = madd(r1h, s, bhi);
        let s = i32x4_shuffle::<2, 2, 2, 2>(rows, rows);
        r2l = madd(r2l, s, blo);
        r2h = madd(r2h, s, bhi);
        let s = i32x4_shuffle::<3, 3, 3, 3>(rows, rows);
        r3l = madd(r3l, s, blo);
        r3h = madd(r3h, s, bhi);
    }
    *half = [r0l, r0h, r1l, r1h, r2l, r2h, r3l, r3h];
}
