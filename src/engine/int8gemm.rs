//! An int8 matrix product for quantized 1x1 convolutions: `out[k][p] = sum_c w[k][c] * x[c][p]`
//! on small integers, accumulated exactly in i32, then scaled per row to f32.
//!
//! Why not tract's: tract 0.23 runs a QDQ model's convolutions in f32, and its own int8 path
//! (`QLinearConv`) was 5-11x slower than that in wasm (bench/PERFORMANCE.md, section 7). Here the
//! operands are i16 pairs so one `i32x4.dot_i16x8_s` does eight multiply-adds, exactly and the
//! same on every engine (unlike the relaxed-simd dot products). Kernel alone, node 20, Lite0's
//! pointwise shapes: 1.5-2.7x the throughput of tract's f32 8x8 kernel with relaxed fma.
//!
//! Packed layouts (made once per call or per plan, not per tile):
//! - weights: rows in panels of 8, channels in pairs: `[panel][pair][row 0..8][2]`;
//! - activations: columns in panels of 8: `[panel][pair][column 0..8][2]`.
//!   Missing rows, columns and the odd channel are zeros, so every tile is a full 8x8.

/// Rows and columns per tile.
const TILE: usize = 8;

/// Weights in the kernel's layout, made once per plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedWeights {
    rows: usize,
    pairs: usize,
    data: Vec<i16>,
}

impl PackedWeights {
    /// `w` is `rows x depth`, row-major, every value within ±255.
    pub(crate) fn new(w: &[i16], rows: usize, depth: usize) -> Self {
        debug_assert_eq!(w.len(), rows * depth);
        let pairs = depth.div_ceil(2);
        let mut data = vec![0i16; panels(rows) * pairs * TILE * 2];
        for (row, values) in w.chunks_exact(depth.max(1)).enumerate().take(rows) {
            for (c, &v) in values.iter().enumerate() {
                data[((row / TILE * pairs + c / 2) * TILE + row % TILE) * 2 + c % 2] = v;
            }
        }
        PackedWeights { rows, pairs, data }
    }
}

fn panels(n: usize) -> usize {
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
        Layout {
            channel_stride: columns,
            column_stride: 1,
        }
    }

    pub(crate) fn channels_last(channels: usize) -> Self {
        Layout {
            channel_stride: 1,
            column_stride: channels,
        }
    }
}

/// Quantizes `x` (`depth` channels x `cols` columns in `layout`, values on the grid
/// `integer / multiplier`) to integers in `[lo, hi]` in the kernel's column layout. NaN becomes 0.
pub(crate) fn pack_columns(
    x: &[f32],
    depth: usize,
    cols: usize,
    layout: Layout,
    multiplier: f32,
    lo: f32,
    hi: f32,
) -> Vec<i16> {
    assert!(
        depth == 0
            || cols == 0
            || (depth - 1) * layout.channel_stride + (cols - 1) * layout.column_stride < x.len()
    );
    let pairs = depth.div_ceil(2);
    let mut packed = vec![0i16; panels(cols) * pairs * TILE * 2];
    for pair in 0..pairs {
        let channels = 2 * pair..(2 * pair + 2).min(depth);
        // Both channels of a channels-first pair: whole panels with SIMD, the rest below.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let done = if layout.column_stride == 1 && channels.len() == 2 {
            let row = |c: usize| &x[c * layout.channel_stride..][..cols];
            pack_pair_simd128(
                row(2 * pair),
                row(2 * pair + 1),
                &mut packed,
                pairs,
                pair,
                multiplier,
                lo,
                hi,
            )
        } else {
            0
        };
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        let done = 0;
        for (half, c) in channels.enumerate() {
            for p in done..cols {
                let v = x[c * layout.channel_stride + p * layout.column_stride];
                // `as` saturates and maps NaN to 0; the clamp keeps values where the weights expect.
                let q = (v * multiplier).round_ties_even().clamp(lo, hi) as i16;
                packed[((p / TILE * pairs + pair) * TILE + p % TILE) * 2 + half] = q;
            }
        }
    }
    packed
}

/// [`pack_columns`] for one channel pair, eight columns at a time. Returns how many columns it
/// packed (whole panels; the rest is left to the scalar loop).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(clippy::too_many_arguments)]
fn pack_pair_simd128(
    even: &[f32],
    odd: &[f32],
    packed: &mut [i16],
    pairs: usize,
    pair: usize,
    multiplier: f32,
    lo: f32,
    hi: f32,
) -> usize {
    use core::arch::wasm32::*;
    let (m, lo, hi) = (f32x4_splat(multiplier), f32x4_splat(lo), f32x4_splat(hi));
    // Round half to even, clamp (NaN lanes become 0 through the self-comparison), to i32.
    let q = |v: v128| {
        let y = f32x4_mul(v, m);
        let y = v128_and(y, f32x4_eq(y, y));
        i32x4_trunc_sat_f32x4(f32x4_min(f32x4_max(f32x4_nearest(y), lo), hi))
    };
    let full = even.len().min(odd.len()) / TILE;
    for panel in 0..full {
        // SAFETY: columns panel*8..panel*8+8 exist in both rows; the destination is the panel's
        // pair slot (16 i16), inside `packed`; wasm loads and stores need no alignment.
        unsafe {
            let load = |row: &[f32], k: usize| {
                v128_load(row.as_ptr().add(panel * TILE + 4 * k) as *const v128)
            };
            let e = i16x8_narrow_i32x4(q(load(even, 0)), q(load(even, 1)));
            let o = i16x8_narrow_i32x4(q(load(odd, 0)), q(load(odd, 1)));
            let dst = packed.as_mut_ptr().add((panel * pairs + pair) * TILE * 2) as *mut v128;
            v128_store(dst, i16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(e, o));
            v128_store(
                dst.add(1),
                i16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(e, o),
            );
        }
    }
    full * TILE
}

/// The output tensor, written tile by tile, possibly from several threads at once (each writes
/// the rows of its own panels, so writes never overlap).
pub(crate) struct Output<'a> {
    values: *mut f32,
    len: usize,
    layout: Layout,
    _borrow: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: `gemm` calls on different threads write disjoint row panels (its contract).
unsafe impl Send for Output<'_> {}
unsafe impl Sync for Output<'_> {}

impl<'a> Output<'a> {
    pub(crate) fn new(values: &'a mut [f32], layout: Layout) -> Self {
        Output {
            values: values.as_mut_ptr(),
            len: values.len(),
            layout,
            _borrow: std::marker::PhantomData,
        }
    }
}

/// `out[k][p] = (sum_c w[k][c] * x[c][p]) as f32 * row_scale[k] + bias[k]` for the rows of the
/// panels `row_panels` (8 rows each). Every row of these panels must exist in `out`, `row_scale`
/// and `bias`. Callers on different threads must pass disjoint panels.
pub(crate) fn gemm(
    w: &PackedWeights,
    x: &[i16],
    cols: usize,
    row_scale: &[f32],
    bias: &[f32],
    row_panels: std::ops::Range<usize>,
    out: &Output,
) {
    let panel_len = w.pairs * TILE * 2;
    assert_eq!(x.len(), panels(cols) * panel_len);
    let end_row = row_panels.end * TILE;
    assert!(end_row <= w.rows && end_row <= row_scale.len() && end_row <= bias.len());
    let layout = out.layout;
    assert!(
        cols == 0
            || row_panels.is_empty()
            || (end_row - 1) * layout.channel_stride + (cols - 1) * layout.column_stride < out.len
    );
    for panel in row_panels {
        let a = &w.data[panel * panel_len..][..panel_len];
        let rows = panel * TILE..panel * TILE + TILE;
        let epilogue = Epilogue {
            scale: &row_scale[rows.clone()],
            bias: &bias[rows],
        };
        for (col_panel, b) in x.chunks_exact(panel_len).enumerate() {
            let first_col = col_panel * TILE;
            // SAFETY: the tile's rows and columns are within `out` (asserted above).
            let origin = unsafe {
                out.values
                    .add(panel * TILE * layout.channel_stride + first_col * layout.column_stride)
            };
            tile_8x8(
                w.pairs,
                a,
                b,
                &epilogue,
                origin,
                layout,
                TILE.min(cols - first_col),
            );
        }
    }
}

/// What turns a tile's i32 sums into outputs: `sum as f32 * scale[row] + bias[row]`.
struct Epilogue<'a> {
    scale: &'a [f32],
    bias: &'a [f32],
}

/// One 8x8 tile: `a` and `b` are one panel each, `pairs` channel pairs long; result `[r][c]`
/// (c < width) goes to `origin + r * channel_stride + c * column_stride`, checked by the caller.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn tile_8x8(
    pairs: usize,
    a: &[i16],
    b: &[i16],
    epilogue: &Epilogue,
    origin: *mut f32,
    layout: Layout,
    width: usize,
) {
    use core::arch::wasm32::*;
    assert!(a.len() >= pairs * 16 && b.len() >= pairs * 16);
    let (a, b) = (a.as_ptr() as *const v128, b.as_ptr() as *const v128);
    // Written out row by row, not as arrays and loops: the crate is built for size (opt-level
    // "s"), which keeps loops rolled and would leave the accumulators in memory.
    let z = i32x4_splat(0);
    let (mut r0l, mut r0h, mut r1l, mut r1h, mut r2l, mut r2h, mut r3l, mut r3h) =
        (z, z, z, z, z, z, z, z);
    let (mut r4l, mut r4h, mut r5l, mut r5h, mut r6l, mut r6h, mut r7l, mut r7h) =
        (z, z, z, z, z, z, z, z);
    for i in 0..pairs {
        // SAFETY: both panels hold `pairs` steps of two v128 (asserted above); wasm loads need no
        // alignment.
        let (alo, ahi, blo, bhi) = unsafe {
            (
                v128_load(a.add(2 * i)),
                v128_load(a.add(2 * i + 1)),
                v128_load(b.add(2 * i)),
                v128_load(b.add(2 * i + 1)),
            )
        };
        // Row r's channel pair, as one i32 lane, broadcast to all four lanes, times 4 + 4 columns.
        macro_rules! row {
            ($lo:ident, $hi:ident, $a:ident, $lane:literal) => {
                let w = i32x4_shuffle::<$lane, $lane, $lane, $lane>($a, $a);
                $lo = i32x4_add($lo, i32x4_dot_i16x8(w, blo));
                $hi = i32x4_add($hi, i32x4_dot_i16x8(w, bhi));
            };
        }
        row!(r0l, r0h, alo, 0);
        row!(r1l, r1h, alo, 1);
        row!(r2l, r2h, alo, 2);
        row!(r3l, r3h, alo, 3);
        row!(r4l, r4h, ahi, 0);
        row!(r5l, r5h, ahi, 1);
        row!(r6l, r6h, ahi, 2);
        row!(r7l, r7h, ahi, 3);
    }
    let acc = [
        r0l, r0h, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, r6l, r6h, r7l, r7h,
    ];
    for r in 0..TILE {
        let (scale, bias) = (
            f32x4_splat(epilogue.scale[r]),
            f32x4_splat(epilogue.bias[r]),
        );
        let lo = f32x4_add(f32x4_mul(f32x4_convert_i32x4(acc[2 * r]), scale), bias);
        let hi = f32x4_add(f32x4_mul(f32x4_convert_i32x4(acc[2 * r + 1]), scale), bias);
        // SAFETY: the caller checked every [r][c < width] position; stores need no alignment.
        unsafe {
            let row = origin.add(r * layout.channel_stride);
            if width == TILE && layout.column_stride == 1 {
                v128_store(row as *mut v128, lo);
                v128_store(row.add(4) as *mut v128, hi);
            } else {
                let mut values = [0f32; TILE];
                v128_store(values.as_mut_ptr() as *mut v128, lo);
                v128_store(values.as_mut_ptr().add(4) as *mut v128, hi);
                for (c, &v) in values.iter().enumerate().take(width) {
                    *row.add(c * layout.column_stride) = v;
                }
            }
        }
    }
}

/// The same tile in portable code (native builds: the CLI and tests).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn tile_8x8(
    pairs: usize,
    a: &[i16],
    b: &[i16],
    epilogue: &Epilogue,
    origin: *mut f32,
    layout: Layout,
    width: usize,
) {
    let mut tile = [[0i32; TILE]; TILE];
    for (a, b) in a
        .chunks_exact(TILE * 2)
        .zip(b.chunks_exact(TILE * 2))
        .take(pairs)
    {
        for (r, row) in tile.iter_mut().enumerate() {
            let (w0, w1) = (a[2 * r] as i32, a[2 * r + 1] as i32);
            for (c, acc) in row.iter_mut().enumerate() {
                *acc += w0 * b[2 * c] as i32 + w1 * b[2 * c + 1] as i32;
            }
        }
    }
    for (r, sums) in tile.iter().enumerate() {
        for (c, &sum) in sums.iter().enumerate().take(width) {
            let value = sum as f32 * epilogue.scale[r] + epilogue.bias[r];
            // SAFETY: the caller checked every [r][c < width] position.
            unsafe { *origin.add(r * layout.channel_stride + c * layout.column_stride) = value };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

    /// Against a plain triple loop, on shapes with partial column panels, an odd depth, the
    /// extreme values (±255 x ±128 sums stay exact in i32), and both layouts in and out. In wasm
    /// this checks the SIMD packing and tile.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_plain_loops() {
        for (rows, depth, cols) in [
            (8usize, 2usize, 8usize),
            (16, 7, 21),
            (16, 33, 3),
            (8, 1, 1),
            (24, 320, 49),
        ] {
            let w: Vec<i16> = (0..rows * depth)
                .map(|i| ((i * 73 + 11) % 257) as i16 - 128)
                .collect();
            // Activations as a QDQ graph carries them: integers times a scale.
            let xq: Vec<i16> = (0..depth * cols)
                .map(|i| ((i * 151 + 5) % 511) as i16 - 255)
                .collect();
            let scale = 0.0235f32;
            let row_scale: Vec<f32> = (0..rows).map(|r| 0.001 * (r + 1) as f32).collect();
            let bias: Vec<f32> = (0..rows).map(|r| r as f32 - 3.0).collect();
            let packed = PackedWeights::new(&w, rows, depth);
            for (input, output) in [(true, true), (true, false), (false, true), (false, false)] {
                let in_layout = if input {
                    Layout::channels_first(cols)
                } else {
                    Layout::channels_last(depth)
                };
                let out_layout = if output {
                    Layout::channels_first(cols)
                } else {
                    Layout::channels_last(rows)
                };
                let mut x = vec![0f32; depth * cols];
                for c in 0..depth {
                    for p in 0..cols {
                        x[c * in_layout.channel_stride + p * in_layout.column_stride] =
                            xq[c * cols + p] as f32 * scale;
                    }
                }
                let columns = pack_columns(&x, depth, cols, in_layout, 1.0 / scale, -255.0, 255.0);
                let mut out = vec![f32::NAN; rows * cols];
                let panels = rows / 8;
                // In two calls, as two threads would split it.
                gemm(
                    &packed,
                    &columns,
                    cols,
                    &row_scale,
                    &bias,
                    0..panels / 2,
                    &Output::new(&mut out, out_layout),
                );
                gemm(
                    &packed,
                    &columns,
                    cols,
                    &row_scale,
                    &bias,
                    panels / 2..panels,
                    &Output::new(&mut out, out_layout),
                );
                for k in 0..rows {
                    for p in 0..cols {
                        let sum: i32 = (0..depth)
                            .map(|c| w[k * depth + c] as i32 * xq[c * cols + p] as i32)
                            .sum();
                        let expected = sum as f32 * row_scale[k] + bias[k];
                        let got = out[k * out_layout.channel_stride + p * out_layout.column_stride];
                        assert_eq!(
                            got, expected,
                            "{rows}x{depth}x{cols} {in_layout:?} {out_layout:?} at [{k}][{p}]"
                        );
                    }
                }
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn quantizes_to_the_range_and_nan_to_zero() {
        // 9 columns: one full panel (SIMD in wasm) and a tail (scalar).
        let x = [
            0.5f32,
            -0.5,
            1000.0,
            -1000.0,
            f32::NAN,
            0.25,
            0.75,
            -0.75,
            1.0,
            0.5,
            -0.5,
            1000.0,
            -1000.0,
            f32::NAN,
            0.25,
            0.75,
            -0.75,
            1.0,
        ];
        let packed = pack_columns(&x, 2, 9, Layout::channels_first(9), 2.0, -128.0, 127.0);
        let want = [1i16, -1, 127, -128, 0, 0, 2, -2, 2];
        // Channel 0 of column p is at ((p / 8) * 1 pair * 8 + p % 8) * 2, channel 1 right after.
        let channel = |half: usize| {
            (0..9)
                .map(|p| packed[((p / 8) * 8 + p % 8) * 2 + half])
                .collect::<Vec<_>>()
        };
        assert_eq!(channel(0), want);
        assert_eq!(channel(1), want);
    }
}
