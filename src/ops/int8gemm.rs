//! An int8 matrix product for quantized convolutions: `out[k][p] = sum_c w[k][c] * x[c][p]`
//! on small integers, accumulated exactly in i32, then scaled per row to f32. Pointwise
//! convolutions (`int8conv`) pack their activations with [`pack_columns`]; convolutions with a
//! window pack their patches (`int8im2col`).
//!
//! Why not tract's: tract 0.23 runs a QDQ model's convolutions in f32, and its own int8 path
//! (`QLinearConv`) was 5-11x slower than that in wasm (bench/PERFORMANCE.md, section 7). Here the
//! operands are i16 pairs so one `i32x4.dot_i16x8_s` does eight multiply-adds, exactly and the
//! same on every engine (unlike the relaxed-simd dot products). Kernel alone, node 20, Lite0's
//! pointwise shapes: 1.5-2.7x the throughput of a copy of tract's f32 8x8 kernel loop with
//! relaxed fma (bench/PERFORMANCE.md, section 8).
//!
//! Packed layouts (made once per call or per plan, not per tile):
//! - weights: rows in panels of 8, channels in pairs: `[panel][pair][row 0..8][2]`;
//! - activations: columns in panels of 8: `[panel][pair][column 0..8][2]`.
//!   Missing rows, columns and the odd channel are zeros, so every tile is a full 8x8.

use super::parallel;

/// Rows and columns per tile.
pub(crate) const TILE: usize = 8;

/// Column panels per block (`gemm`): 64 columns.
const BLOCK_PANELS: usize = 8;

/// Weights in the kernel's layout, made once per plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedWeights {
    rows: usize,
    pairs: usize,
    data: Vec<i16>,
}

impl PackedWeights {
    /// `w` is `rows x depth`, row-major, every value within ±128 (activations may reach ±255:
    /// products of the two stay far from i32's limits).
    pub(crate) fn new(w: &[i16], rows: usize, depth: usize) -> Self {
        debug_assert_eq!(w.len(), rows * depth);
        let pairs = depth.div_ceil(2);
        // Written in order (this runs on every weight at load time); zeros past the last row
        // and channel.
        let at = |row: usize, c: usize| if row < rows && c < depth { w[row * depth + c] } else { 0 };
        let mut data = Vec::with_capacity(panels(rows) * pairs * TILE * 2);
        for panel in 0..panels(rows) {
            for pair in 0..pairs {
                for row in panel * TILE..(panel + 1) * TILE {
                    data.extend([at(row, 2 * pair), at(row, 2 * pair + 1)]);
                }
            }
        }
        PackedWeights { rows, pairs, data }
    }

    /// How many units of work [`gemm`] divides `cols` columns into: one unit is one panel of 8
    /// rows over one block of 64 columns. Threads split units, not row panels, because Lite0's
    /// narrowest layers (24 or 40 output channels at 56x56 and 28x28) have 3 or 5 row panels:
    /// split between two threads, one would do twice or 1.5x the other's share.
    pub(crate) fn work_units(&self, cols: usize) -> usize {
        panels(self.rows) * panels(cols).div_ceil(BLOCK_PANELS)
    }
}

/// `values`, one per row, with zeros after the last row to a whole panel: what [`Epilogue`] takes.
pub(crate) fn whole_panels(mut values: Vec<f32>) -> Vec<f32> {
    values.resize(panels(values.len()) * TILE, 0.0);
    values
}

pub(crate) fn panels(n: usize) -> usize {
    n.div_ceil(TILE)
}

/// Where value `[channel][column]` of a tensor is: `channel * channel_stride + column *
/// column_stride`. Channels first (`CHW`): `(columns, 1)`; channels last (`HWC`): `(1, channels)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub channel_stride: usize,
    pub column_stride: usize,
}

impl Layout {
    pub(crate) fn channels_first(columns: usize) -> Self {
        Layout { channel_stride: columns, column_stride: 1 }
    }

    pub(crate) fn channels_last(channels: usize) -> Self {
        Layout { channel_stride: 1, column_stride: channels }
    }
}

/// Quantizes `x` (`depth` channels x `cols` columns in `layout`, any f32) to
/// `round_half_even(x * multiplier)` clamped to `[lo, hi]`, in the kernel's column layout. NaN
/// becomes 0, infinities saturate. Column panels are independent, so the threaded build packs
/// them on its pool: serial, packing would leave the other threads waiting.
pub(crate) fn pack_columns(x: &[f32], depth: usize, cols: usize, layout: Layout, grid: &Grid) -> Vec<i16> {
    assert!(
        depth == 0 || cols == 0 || (depth - 1) * layout.channel_stride + (cols - 1) * layout.column_stride < x.len()
    );
    let panel_len = depth.div_ceil(2) * TILE * 2;
    let mut packed = vec![0i16; panels(cols) * panel_len];
    if !packed.is_empty() {
        parallel::split_chunks_mut(&mut packed, panel_len, |first, part| {
            pack_panels(x, depth, cols, layout, grid, first, part)
        });
    }
    packed
}

/// [`pack_columns`] for the column panels from `first` on that `packed` has room for (whole
/// panels, zeroed: padding is left as it is).
fn pack_panels(x: &[f32], depth: usize, cols: usize, layout: Layout, grid: &Grid, first: usize, packed: &mut [i16]) {
    let pairs = depth.div_ceil(2);
    let (start, end) = (first * TILE, cols.min(first * TILE + packed.len() / 2 / pairs));
    // SIMD packs whole panels and channel pairs (or blocks of 8 channels), up to column
    // `simd_end`; the scalar loop packs what is left.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (channels_done, simd_end) = simd::pack(x, depth, end, layout, grid, first, packed);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let (channels_done, simd_end) = (0, 0);
    for c in 0..depth {
        let (pair, half) = (c / 2, c % 2);
        let from = if c < channels_done { start.max(simd_end) } else { start };
        for p in from..end {
            let q = grid.quantize(x[c * layout.channel_stride + p * layout.column_stride]);
            packed[(((p / TILE - first) * pairs + pair) * TILE + p % TILE) * 2 + half] = q;
        }
    }
}

/// `out[i] = grid.quantize(x[i])` for every value (`out` as long as `x`): eight at a time in wasm.
pub(crate) fn quantize_into(x: &[f32], out: &mut [i16], grid: &Grid) {
    assert_eq!(x.len(), out.len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = simd::quantize_into(x, out, grid);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let done = 0;
    for (o, &v) in out[done..].iter_mut().zip(&x[done..]) {
        *o = grid.quantize(v);
    }
}

/// Rounds `|y| <= 2^22` to the nearest integer, ties to even, with two adds (the default float
/// rounding does it). `f32::round_ties_even` is a libm call on x86-64 without SSE4.1.
pub(crate) fn round_half_even(y: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23
    (y + SHIFT) - SHIFT
}

/// The activations' integer grid: `round_half_even(x * multiplier)` clamped to `[lo, hi]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub multiplier: f32,
    pub lo: f32,
    pub hi: f32,
}

impl Grid {
    /// The integers a quantize -> dequantize gives its inputs (zero point removed): packing raw
    /// values with this grid absorbs it.
    pub(crate) fn of_inputs(rq: &Requantize) -> Grid {
        Grid { multiplier: rq.multiplier, lo: rq.lo - rq.zero_point, hi: rq.hi - rq.zero_point }
    }

    /// The integers back from its outputs, which are `integer * scale`.
    pub(crate) fn of_outputs(rq: &Requantize) -> Grid {
        Grid { multiplier: rq.scale.recip(), ..Grid::of_inputs(rq) }
    }

    pub(crate) fn quantize(&self, v: f32) -> i16 {
        let y = v * self.multiplier;
        // NaN -> 0; clamping first changes nothing (beyond the range by 1 saturates anyway) and
        // keeps `round_half_even` exact.
        let y = if y.is_nan() { 0.0 } else { y.clamp(self.lo - 1.0, self.hi + 1.0) };
        round_half_even(y).clamp(self.lo, self.hi) as i16
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{Grid, Layout, TILE};
    use core::arch::wasm32::*;

    impl Grid {
        /// [`Grid::quantize`] on four lanes (NaN lanes become 0 through the self-comparison), as i32.
        #[inline(always)]
        fn quantize4(&self, v: v128) -> v128 {
            let y = f32x4_mul(v, f32x4_splat(self.multiplier));
            let y = v128_and(y, f32x4_eq(y, y));
            // Pseudo-min and -max: one instruction each on x86-64 (V8 emulates IEEE min and max
            // in about six), and the same for the NaN-free `y`.
            let y = f32x4_pmin(f32x4_pmax(f32x4_nearest(y), f32x4_splat(self.lo)), f32x4_splat(self.hi));
            i32x4_trunc_sat_f32x4(y)
        }
    }

    /// [`super::quantize_into`] for whole blocks of 8 values; returns how many it did.
    pub(super) fn quantize_into(x: &[f32], out: &mut [i16], grid: &Grid) -> usize {
        let blocks = x.len().min(out.len()) / 8;
        for (i, o) in x.chunks_exact(8).zip(out.chunks_exact_mut(8)).take(blocks) {
            // SAFETY: 8 f32 in and 8 i16 out (the chunks); wasm loads and stores need no alignment.
            unsafe {
                let (lo, hi) = (v128_load(i.as_ptr() as *const v128), v128_load(i.as_ptr().add(4) as *const v128));
                v128_store(o.as_mut_ptr() as *mut v128, i16x8_narrow_i32x4(grid.quantize4(lo), grid.quantize4(hi)));
            }
        }
        blocks * 8
    }

    /// Rows `a b c d` of a 4x4 matrix of 32-bit lanes in, its columns out.
    #[inline(always)]
    pub(super) fn transpose4(a: v128, b: v128, c: v128, d: v128) -> [v128; 4] {
        let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo),
            i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo),
            i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi),
            i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi),
        ]
    }

    /// Packs whole column panels from panel `first` to column `end` (`packed` starts at
    /// `first`), for the channels it can take in blocks (pairs when channels come first, 8
    /// channels when they come last). Returns the channels packed and the column packing stopped at.
    pub(super) fn pack(
        x: &[f32],
        depth: usize,
        end: usize,
        layout: Layout,
        grid: &Grid,
        first: usize,
        packed: &mut [i16],
    ) -> (usize, usize) {
        let pairs = depth.div_ceil(2);
        let full = end / TILE;
        let load = |c: usize, p: usize| {
            let at = c * layout.channel_stride + p * layout.column_stride;
            assert!(at + 4 <= x.len());
            // SAFETY: in bounds (asserted); wasm loads need no alignment.
            unsafe { v128_load(x.as_ptr().add(at) as *const v128) }
        };
        let mut store = |pair: usize, panel: usize, half: usize, v: v128| {
            let at = (((panel - first) * pairs + pair) * TILE + 4 * half) * 2;
            assert!(at + 8 <= packed.len());
            // SAFETY: in bounds (asserted); wasm stores need no alignment.
            unsafe { v128_store(packed.as_mut_ptr().add(at) as *mut v128, v) }
        };
        if layout.column_stride == 1 {
            // Channels first: two rows of 8 columns become 8 (even, odd) pairs.
            let channels = depth / 2 * 2;
            for pair in 0..channels / 2 {
                for panel in first..full {
                    let row = |c: usize| {
                        let (lo, hi) = (load(c, panel * TILE), load(c, panel * TILE + 4));
                        i16x8_narrow_i32x4(grid.quantize4(lo), grid.quantize4(hi))
                    };
                    let (even, odd) = (row(2 * pair), row(2 * pair + 1));
                    store(pair, panel, 0, i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(even, odd));
                    store(pair, panel, 1, i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(even, odd));
                }
            }
            (channels, full * TILE)
        } else if layout.channel_stride == 1 {
            // Channels last: 8 channels of a column are 4 pairs, one i32 lane each; four columns
            // transposed give each pair's 4 columns.
            let channels = depth / TILE * TILE;
            for block in (0..channels).step_by(TILE) {
                for panel in first..full {
                    for half in 0..2 {
                        let column = |t: usize| {
                            let p = panel * TILE + 4 * half + t;
                            i16x8_narrow_i32x4(grid.quantize4(load(block, p)), grid.quantize4(load(block + 4, p)))
                        };
                        let by_pair = transpose4(column(0), column(1), column(2), column(3));
                        for (j, v) in by_pair.into_iter().enumerate() {
                            store(block / 2 + j, panel, half, v);
                        }
                    }
                }
            }
            (channels, full * TILE)
        } else {
            (0, 0)
        }
    }
}

/// The output tensor, written tile by tile, possibly from several threads at once (each writes
/// its own units of work, so writes never overlap).
pub(crate) struct Output<'a> {
    values: parallel::SharedMut<'a, f32>,
    layout: Layout,
}

impl<'a> Output<'a> {
    pub(crate) fn new(values: &'a mut [f32], layout: Layout) -> Self {
        Output { values: parallel::SharedMut::new(values), layout }
    }
}

/// `out[k][p] = epilogue(sum_c w[k][c] * x[c][p])` for the units of work `units` (see
/// [`PackedWeights::work_units`]; numbered block by block, each block's row panels in order).
/// Every row must exist in `out`, and `epilogue` must have values for whole panels of 8 rows
/// (zeros past the last row will do; checked).
///
/// # Safety
/// Calls that run at the same time on the same `out` must pass disjoint `units`.
pub(crate) unsafe fn gemm(
    w: &PackedWeights,
    x: &[i16],
    cols: usize,
    epilogue: &Epilogue,
    units: std::ops::Range<usize>,
    out: &Output,
) {
    let panel_len = w.pairs * TILE * 2;
    assert_eq!(x.len(), panels(cols) * panel_len);
    assert!(units.end <= w.work_units(cols));
    let padded_rows = panels(w.rows) * TILE;
    assert!(padded_rows <= epilogue.scale.len() && padded_rows <= epilogue.bias.len());
    let layout = out.layout;
    assert!(
        cols == 0
            || w.rows == 0
            || (w.rows - 1) * layout.channel_stride + (cols - 1) * layout.column_stride < out.values.len()
    );
    // Tiles of different units interleave in memory: a pointer, not slices.
    let values = out.values.span(0, out.values.len());
    // Channels-last outputs: the tile is computed transposed (columns as its rows, channels as
    // its columns), so each column's 8 channels are stored as two contiguous vectors, not
    // through 4x4 transposes. In wasm Lite0's expanding convolutions, more than half of the
    // op's time, have such outputs.
    let transposed = layout.channel_stride == 1 && layout.column_stride > 1;
    // Columns in blocks, this call's row panels over one block before the next: the block's
    // activations stay in cache, and with channels last each pixel's channels are written close
    // together in time instead of one panel's 32 bytes per pass over the image.
    let (row_panels, col_panels) = (panels(w.rows), panels(cols));
    if units.is_empty() {
        return;
    }
    for block_index in units.start / row_panels..=(units.end - 1) / row_panels {
        let first_unit = block_index * row_panels;
        let row_panel_range =
            units.start.max(first_unit) - first_unit..units.end.min(first_unit + row_panels) - first_unit;
        let block = block_index * BLOCK_PANELS..col_panels.min((block_index + 1) * BLOCK_PANELS);
        for panel in row_panel_range {
            let a = &w.data[panel * panel_len..][..panel_len];
            let rows = panel * TILE..panel * TILE + TILE;
            // The last panel may be partly padding: its rows past `w.rows` are not stored.
            let height = TILE.min(w.rows - panel * TILE);
            let epilogue = Epilogue {
                scale: &epilogue.scale[rows.clone()],
                bias: &epilogue.bias[rows],
                requantize: epilogue.requantize,
            };
            for col_panel in block.clone() {
                let b = &x[col_panel * panel_len..][..panel_len];
                let first_col = col_panel * TILE;
                let width = TILE.min(cols - first_col);
                // SAFETY: the tile's rows and columns are within `out` (asserted above).
                let origin =
                    unsafe { values.add(panel * TILE * layout.channel_stride + first_col * layout.column_stride) };
                let (a, b, dest) = if transposed {
                    (b, a, Dest { origin, row_stride: layout.column_stride, col_stride: 1, rows: width, cols: height })
                } else {
                    let (row_stride, col_stride) = (layout.channel_stride, layout.column_stride);
                    (a, b, Dest { origin, row_stride, col_stride, rows: height, cols: width })
                };
                // SAFETY: as above; this call owns these units (the caller's contract).
                unsafe { tile_8x8(w.pairs, a, b, &epilogue, transposed, &dest) };
            }
        }
    }
}

/// Where a tile's results go: `[r][c]` (r < rows, c < cols) to `origin + r * row_stride + c *
/// col_stride`, every position checked by the caller.
struct Dest {
    origin: *mut f32,
    row_stride: usize,
    col_stride: usize,
    rows: usize,
    cols: usize,
}

/// What turns the i32 sums of a row into outputs: `sum as f32 * scale[row] + bias[row]`, then
/// the quantize -> dequantize that follows in the graph, if any.
pub(crate) struct Epilogue<'a> {
    pub scale: &'a [f32],
    pub bias: &'a [f32],
    pub requantize: Option<&'a Requantize>,
}

/// `dequantize(quantize(y))`: `(clamp(round_half_even(y * multiplier) + zero_point, lo, hi) -
/// zero_point) * scale`, NaN -> 0, in f32 throughout (every intermediate is a small integer, so
/// exact). `qdq::QuantDequant` applies it as an op, the matrix product's epilogue in its store.
/// `multiplier` is 1 / the quantization scale, `lo..=hi` the integer type's range (0..=255 or
/// -128..=127), `scale` the dequantization scale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requantize {
    pub multiplier: f32,
    pub zero_point: f32,
    pub lo: f32,
    pub hi: f32,
    pub scale: f32,
}

impl Requantize {
    pub(crate) fn apply(&self, y: f32) -> f32 {
        let y = y * self.multiplier;
        // As in `Grid::quantize`: clamped near the range first, so rounding stays exact.
        let (below, above) = (self.lo - self.zero_point - 1.0, self.hi - self.zero_point + 1.0);
        let y = if y.is_nan() { 0.0 } else { y.clamp(below, above) };
        let q = (round_half_even(y) + self.zero_point).clamp(self.lo, self.hi);
        (q - self.zero_point) * self.scale
    }

    /// [`Requantize::apply`] on four lanes; NaN lanes become 0 through the self-comparison and
    /// `f32x4.nearest` rounds half to even exactly.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    pub(crate) fn apply4(&self, v: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
        use core::arch::wasm32::*;
        let zp = f32x4_splat(self.zero_point);
        let y = f32x4_mul(v, f32x4_splat(self.multiplier));
        let y = v128_and(y, f32x4_eq(y, y));
        // Pseudo-min and -max, as in `quantize4`.
        let q = f32x4_pmin(f32x4_pmax(f32x4_add(f32x4_nearest(y), zp), f32x4_splat(self.lo)), f32x4_splat(self.hi));
        f32x4_mul(f32x4_sub(q, zp), f32x4_splat(self.scale))
    }
}

/// One 8x8 tile: `a` and `b` are one panel each, `pairs` channel pairs long; result `[r][c]`
/// goes to `dest`. The epilogue's scale and bias are per row, or per column when `per_column`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn tile_8x8(pairs: usize, a: &[i16], b: &[i16], epilogue: &Epilogue, per_column: bool, dest: &Dest) {
    use core::arch::wasm32::*;
    assert!(a.len() >= pairs * 16 && b.len() >= pairs * 16);
    let (a, b) = (a.as_ptr() as *const v128, b.as_ptr() as *const v128);
    // Written out row by row, not as arrays and loops: the crate is built for size (opt-level
    // "s"), which keeps loops rolled and would leave the accumulators in memory. Rows 0-3, then
    // rows 4-7, each over every channel pair: 8 accumulators and 4 operands fit V8's 16 vector
    // registers on x86-64, where 16 accumulators at once spilled in every step.
    let z = i32x4_splat(0);
    // Row r's channel pair, as one i32 lane, broadcast to all four lanes, times 4 + 4 columns.
    macro_rules! row {
        ($lo:ident, $hi:ident, $a:ident, $blo:ident, $bhi:ident, $lane:literal) => {
            let w = i32x4_shuffle::<$lane, $lane, $lane, $lane>($a, $a);
            $lo = i32x4_add($lo, i32x4_dot_i16x8(w, $blo));
            $hi = i32x4_add($hi, i32x4_dot_i16x8(w, $bhi));
        };
    }
    // SAFETY (loads): both panels hold `pairs` steps of two v128 (asserted above); wasm loads
    // need no alignment.
    let (mut r0l, mut r0h, mut r1l, mut r1h, mut r2l, mut r2h, mut r3l, mut r3h) = (z, z, z, z, z, z, z, z);
    for i in 0..pairs {
        let (alo, blo, bhi) =
            unsafe { (v128_load(a.add(2 * i)), v128_load(b.add(2 * i)), v128_load(b.add(2 * i + 1))) };
        row!(r0l, r0h, alo, blo, bhi, 0);
        row!(r1l, r1h, alo, blo, bhi, 1);
        row!(r2l, r2h, alo, blo, bhi, 2);
        row!(r3l, r3h, alo, blo, bhi, 3);
    }
    let (mut r4l, mut r4h, mut r5l, mut r5h, mut r6l, mut r6h, mut r7l, mut r7h) = (z, z, z, z, z, z, z, z);
    for i in 0..pairs {
        let (ahi, blo, bhi) =
            unsafe { (v128_load(a.add(2 * i + 1)), v128_load(b.add(2 * i)), v128_load(b.add(2 * i + 1))) };
        row!(r4l, r4h, ahi, blo, bhi, 0);
        row!(r5l, r5h, ahi, blo, bhi, 1);
        row!(r6l, r6h, ahi, blo, bhi, 2);
        row!(r7l, r7h, ahi, blo, bhi, 3);
    }
    let acc = [r0l, r0h, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, r6l, r6h, r7l, r7h];
    // Scaled and biased: out[2r] is row r, columns 0-3; out[2r + 1] columns 4-7.
    assert!(epilogue.scale.len() >= TILE && epilogue.bias.len() >= TILE);
    // SAFETY: both hold 8 values (asserted above).
    let halves = |v: &[f32]| unsafe {
        let v = v.as_ptr() as *const v128;
        (v128_load(v), v128_load(v.add(1)))
    };
    let (column_scales, column_biases) = (halves(epilogue.scale), halves(epilogue.bias));
    let mut out = [f32x4_splat(0.0); 16];
    for r in 0..TILE {
        let ((s0, s1), (b0, b1)) = if per_column {
            (column_scales, column_biases)
        } else {
            let (s, b) = (f32x4_splat(epilogue.scale[r]), f32x4_splat(epilogue.bias[r]));
            ((s, s), (b, b))
        };
        out[2 * r] = f32x4_add(f32x4_mul(f32x4_convert_i32x4(acc[2 * r]), s0), b0);
        out[2 * r + 1] = f32x4_add(f32x4_mul(f32x4_convert_i32x4(acc[2 * r + 1]), s1), b1);
    }
    if let Some(rq) = epilogue.requantize {
        for v in out.iter_mut() {
            *v = rq.apply4(*v);
        }
    }
    // SAFETY (all stores): the caller checked every position of `dest`; wasm stores need no
    // alignment.
    let row_values = |r: usize| unsafe { std::mem::transmute::<[v128; 2], [f32; TILE]>([out[2 * r], out[2 * r + 1]]) };
    for r in 0..dest.rows.min(TILE) {
        let row = unsafe { dest.origin.add(r * dest.row_stride) };
        if dest.col_stride == 1 && dest.cols == TILE {
            unsafe {
                v128_store(row as *mut v128, out[2 * r]);
                v128_store(row.add(4) as *mut v128, out[2 * r + 1]);
            }
        } else {
            for (c, &v) in row_values(r).iter().enumerate().take(dest.cols) {
                unsafe { *row.add(c * dest.col_stride) = v };
            }
        }
    }
}

/// The same tile in portable code (native builds: the CLI and tests).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
unsafe fn tile_8x8(pairs: usize, a: &[i16], b: &[i16], epilogue: &Epilogue, per_column: bool, dest: &Dest) {
    let tile = sums_8x8(pairs, a, b);
    for (r, sums) in tile.iter().enumerate().take(dest.rows) {
        for (c, &sum) in sums.iter().enumerate().take(dest.cols) {
            let k = if per_column { c } else { r };
            let value = sum as f32 * epilogue.scale[k] + epilogue.bias[k];
            let value = epilogue.requantize.map_or(value, |rq| rq.apply(value));
            // SAFETY: the caller checked every position of `dest`.
            unsafe { *dest.origin.add(r * dest.row_stride + c * dest.col_stride) = value };
        }
    }
}

/// A tile's i32 sums on x86-64: SSE2 (every x86-64 CPU) has `pmaddwd`, the same pairwise
/// multiply-add as wasm's `i32x4.dot_i16x8_s`, so native runs (CLI, tests) stay fast.
#[cfg(target_arch = "x86_64")]
fn sums_8x8(pairs: usize, a: &[i16], b: &[i16]) -> [[i32; TILE]; TILE] {
    use core::arch::x86_64::*;
    assert!(a.len() >= pairs * 16 && b.len() >= pairs * 16);
    let mut tile = [[0i32; TILE]; TILE];
    // SAFETY: SSE2 is part of x86-64; both panels hold `pairs` steps of two 128-bit vectors
    // (asserted above), read unaligned; the stores write the 8 x 8 i32 of `tile`.
    unsafe {
        let (a, b) = (a.as_ptr() as *const __m128i, b.as_ptr() as *const __m128i);
        let mut acc = [_mm_setzero_si128(); 16];
        for i in 0..pairs {
            let (alo, ahi) = (_mm_loadu_si128(a.add(2 * i)), _mm_loadu_si128(a.add(2 * i + 1)));
            let (blo, bhi) = (_mm_loadu_si128(b.add(2 * i)), _mm_loadu_si128(b.add(2 * i + 1)));
            let rows = [
                _mm_shuffle_epi32::<0x00>(alo),
                _mm_shuffle_epi32::<0x55>(alo),
                _mm_shuffle_epi32::<0xAA>(alo),
                _mm_shuffle_epi32::<0xFF>(alo),
                _mm_shuffle_epi32::<0x00>(ahi),
                _mm_shuffle_epi32::<0x55>(ahi),
                _mm_shuffle_epi32::<0xAA>(ahi),
                _mm_shuffle_epi32::<0xFF>(ahi),
            ];
            for r in 0..TILE {
                acc[2 * r] = _mm_add_epi32(acc[2 * r], _mm_madd_epi16(rows[r], blo));
                acc[2 * r + 1] = _mm_add_epi32(acc[2 * r + 1], _mm_madd_epi16(rows[r], bhi));
            }
        }
        for (r, row) in tile.iter_mut().enumerate() {
            _mm_storeu_si128(row.as_mut_ptr() as *mut __m128i, acc[2 * r]);
            _mm_storeu_si128(row.as_mut_ptr().add(4) as *mut __m128i, acc[2 * r + 1]);
        }
    }
    tile
}

/// A tile's i32 sums, in plain Rust (other native targets).
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
fn sums_8x8(pairs: usize, a: &[i16], b: &[i16]) -> [[i32; TILE]; TILE] {
    let mut tile = [[0i32; TILE]; TILE];
    for (a, b) in a.chunks_exact(TILE * 2).zip(b.chunks_exact(TILE * 2)).take(pairs) {
        for (r, row) in tile.iter_mut().enumerate() {
            let (w0, w1) = (a[2 * r] as i32, a[2 * r + 1] as i32);
            for (c, acc) in row.iter_mut().enumerate() {
                *acc += w0 * b[2 * c] as i32 + w1 * b[2 * c + 1] as i32;
            }
        }
    }
    tile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// Against a plain triple loop, on shapes with partial column and row panels, an odd depth, the
    /// extreme values (±255 x ±128 sums stay exact in i32), and both layouts in and out. In wasm
    /// this checks the SIMD packing and tile.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_plain_loops() {
        // Output requantized (u8, zero point 113) or not.
        let u8_grid = Requantize { multiplier: 1.0 / 0.05, zero_point: 113.0, lo: 0.0, hi: 255.0, scale: 0.05 };
        // 137 columns: two whole blocks of 64 and a partial one. 12 and 5 rows: a partial row panel.
        let shapes =
            [(8usize, 2usize, 8usize), (16, 7, 21), (16, 33, 3), (8, 1, 1), (24, 320, 49), (24, 5, 137), (12, 9, 70), (5, 3, 9)];
        for (rows, depth, cols) in shapes {
            let w: Vec<i16> = (0..rows * depth).map(|i| ((i * 73 + 11) % 257) as i16 - 128).collect();
            // Activations as a QDQ graph carries them: integers times a scale.
            let xq: Vec<i16> = (0..depth * cols).map(|i| ((i * 151 + 5) % 511) as i16 - 255).collect();
            let scale = 0.0235f32;
            // The epilogue covers whole panels of 8 rows.
            let row_scale: Vec<f32> = (0..rows.div_ceil(8) * 8).map(|r| 0.001 * (r + 1) as f32).collect();
            let bias: Vec<f32> = (0..rows.div_ceil(8) * 8).map(|r| r as f32 - 3.0).collect();
            let packed = PackedWeights::new(&w, rows, depth);
            for (input, output, requantize) in [
                (true, true, None),
                (true, false, None),
                (false, true, Some(&u8_grid)),
                (false, false, Some(&u8_grid)),
                (true, false, Some(&u8_grid)),
            ] {
                let in_layout = if input { Layout::channels_first(cols) } else { Layout::channels_last(depth) };
                let out_layout = if output { Layout::channels_first(cols) } else { Layout::channels_last(rows) };
                let mut x = vec![0f32; depth * cols];
                for c in 0..depth {
                    for p in 0..cols {
                        x[c * in_layout.channel_stride + p * in_layout.column_stride] = xq[c * cols + p] as f32 * scale;
                    }
                }
                let grid = Grid { multiplier: 1.0 / scale, lo: -255.0, hi: 255.0 };
                let columns = pack_columns(&x, depth, cols, in_layout, &grid);
                let mut out = vec![f32::NAN; rows * cols];
                // In three calls, as threads would split it: the first ends inside a block
                // whenever there are several row panels.
                let units = packed.work_units(cols);
                for part in [0..1, 1..units / 2 + 1, units / 2 + 1..units] {
                    let epilogue = Epilogue { scale: &row_scale, bias: &bias, requantize };
                    // SAFETY: one call at a time.
                    unsafe { gemm(&packed, &columns, cols, &epilogue, part, &Output::new(&mut out, out_layout)) };
                }
                for k in 0..rows {
                    for p in 0..cols {
                        let sum: i32 = (0..depth).map(|c| w[k * depth + c] as i32 * xq[c * cols + p] as i32).sum();
                        let expected = sum as f32 * row_scale[k] + bias[k];
                        let expected = requantize.map_or(expected, |rq| rq.apply(expected));
                        let got = out[k * out_layout.channel_stride + p * out_layout.column_stride];
                        assert_eq!(got, expected, "{rows}x{depth}x{cols} {in_layout:?} {out_layout:?} at [{k}][{p}]");
                    }
                }
            }
        }
    }

    /// One unit of work writes its 8 rows x 64 columns and nothing else, in both output layouts:
    /// what lets threads run different units at once. 137 columns: a partial last block.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn each_unit_writes_only_its_own_area() {
        let (rows, depth, cols) = (24usize, 5usize, 137usize);
        let w: Vec<i16> = (0..rows * depth).map(|i| (i % 7) as i16 - 3).collect();
        let packed = PackedWeights::new(&w, rows, depth);
        let x = vec![0.5f32; depth * cols];
        let grid = Grid { multiplier: 2.0, lo: -255.0, hi: 255.0 };
        let columns = pack_columns(&x, depth, cols, Layout::channels_first(cols), &grid);
        let (scale, bias) = (vec![1.0f32; rows], vec![0.0f32; rows]);
        let epilogue = Epilogue { scale: &scale, bias: &bias, requantize: None };
        let row_panels = rows / TILE;
        assert_eq!(packed.work_units(cols), row_panels * 3);
        for layout in [Layout::channels_first(cols), Layout::channels_last(rows)] {
            for unit in 0..packed.work_units(cols) {
                let mut out = vec![f32::NAN; rows * cols];
                // SAFETY: one call at a time.
                unsafe { gemm(&packed, &columns, cols, &epilogue, unit..unit + 1, &Output::new(&mut out, layout)) };
                let (block, panel) = (unit / row_panels, unit % row_panels);
                for k in 0..rows {
                    for p in 0..cols {
                        let mine = k / TILE == panel && p / (TILE * BLOCK_PANELS) == block;
                        let written = !out[k * layout.channel_stride + p * layout.column_stride].is_nan();
                        assert_eq!(written, mine, "unit {unit} {layout:?} at [{k}][{p}]");
                    }
                }
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn quantizes_to_the_range_and_nan_to_zero() {
        // 9 columns: one full panel (SIMD in wasm) and a tail (scalar).
        // Both channels hold the same 9 values.
        let channel = [0.5f32, -0.5, 1000.0, -1000.0, f32::NAN, 0.25, 0.75, -0.75, 1.0];
        let x: Vec<f32> = channel.iter().chain(&channel).copied().collect();
        let packed =
            pack_columns(&x, 2, 9, Layout::channels_first(9), &Grid { multiplier: 2.0, lo: -128.0, hi: 127.0 });
        let want = [1i16, -1, 127, -128, 0, 0, 2, -2, 2];
        // Channel 0 of column p is at ((p / 8) * 1 pair * 8 + p % 8) * 2, channel 1 right after.
        let packed_channel = |half: usize| (0..9).map(|p| packed[((p / 8) * 8 + p % 8) * 2 + half]).collect::<Vec<_>>();
        assert_eq!(packed_channel(0), want);
        assert_eq!(packed_channel(1), want);
    }

    /// Packed in parts, as the threaded build's pool packs column panels, the panels are the
    /// same as packed whole: parts that start past panel 0, and a last part with the partial panel.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn packing_in_parts_matches_packing_whole() {
        let grid = Grid { multiplier: 1.0 / 0.07, lo: -128.0, hi: 127.0 };
        for (depth, cols) in [(16usize, 45usize), (7, 41), (24, 40)] {
            let x: Vec<f32> = (0..depth * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.05).collect();
            for layout in [Layout::channels_first(cols), Layout::channels_last(depth)] {
                let whole = pack_columns(&x, depth, cols, layout, &grid);
                let panel_len = depth.div_ceil(2) * TILE * 2;
                let mut parts = vec![i16::MIN; whole.len()];
                for (first, n) in [(0, 1), (1, 2), (3, panels(cols) - 3)] {
                    let part = &mut parts[first * panel_len..(first + n) * panel_len];
                    part.fill(0);
                    pack_panels(&x, depth, cols, layout, &grid, first, part);
                }
                assert_eq!(parts, whole, "{depth}x{cols} {layout:?}");
            }
        }
    }

    /// Packing raw values with a quantize -> dequantize's multiplier and range (zero point
    /// removed) gives the integers that packing its outputs gives: why `int8conv` may absorb one
    /// that only the convolution reads. Ties, both ends of the range, beyond it and NaN included.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn packing_absorbs_a_quantize_dequantize() {
        // u8 and i8, each with a quantize scale other than the dequantize scale.
        let grids = [
            Requantize { multiplier: 1.0 / 0.04, zero_point: 113.0, lo: 0.0, hi: 255.0, scale: 0.05 },
            Requantize { multiplier: 1.0 / 0.03, zero_point: -3.0, lo: -128.0, hi: 127.0, scale: 0.02 },
        ];
        let mut raw: Vec<f32> = (0..640).map(|i| (i as f32 - 320.0) * 0.0125).collect();
        raw.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e9, -1e9, 0.02, -0.02, 0.06]);
        let (depth, cols) = (8, raw.len() / 8);
        for qd in grids {
            let dequantized: Vec<f32> = raw.iter().map(|&v| qd.apply(v)).collect();
            for layout in [Layout::channels_first(cols), Layout::channels_last(depth)] {
                let absorbed = pack_columns(&raw, depth, cols, layout, &Grid::of_inputs(&qd));
                let separate = pack_columns(&dequantized, depth, cols, layout, &Grid::of_outputs(&qd));
                assert_eq!(absorbed, separate, "{qd:?} {layout:?}");
            }
        }
    }
}
