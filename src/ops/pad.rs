//! `Pad` (constant, edge and reflect; any plain element type) as copies of contiguous runs.
//!
//! Why: tract pads by filling a new ndarray with the constant and assigning the input into a
//! slice of it through dynamic-rank views, element by element, and fills edge and reflect borders
//! one slice per padded index. tract also puts a `Pad` of its own in front of every padded
//! convolution it runs through im2col, so a model has them even where its file has none: in
//! Chromium, PP-OCRv4's detector spent 4.5 ms in six of them, MobileNetV2 0.8 ms in one, a YOLOv8
//! export 1.0 ms in 34 (bench/RESULTS.md, run 18).
//!
//! Here the axes after the last padded one form one contiguous run per index of it, and each
//! output row along that axis is its source row copied whole, its borders filled with the
//! constant or copied from the row's own edge or mirror. A row in another axis's padding is the
//! constant, or (edge, reflect) a copy built from the row that axis maps it to. The work is bytes
//! moved, never arithmetic, so the output is exactly tract's.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};

use super::{parallel, Compute, Kernel};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Border {
    /// One element of the constant, as bytes.
    Constant(Vec<u8>),
    Edge,
    Reflect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunPad {
    datum_type: DatumType,
    input_shape: TVec<usize>,
    output_shape: TVec<usize>,
    /// Per axis up to the last padded one: (before, after).
    pads: TVec<(usize, usize)>,
    /// Bytes per index of the last padded axis: the element size times the later axes' sizes.
    run: usize,
    border: Border,
}

impl Compute for RunPad {
    fn name(&self) -> StaticName {
        "RunPad".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(self.datum_type.fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        ensure!(
            input.shape() == &*self.input_shape && input.datum_type() == self.datum_type,
            "Pad: input {:?} {:?}, planned for {:?} {:?}",
            input.datum_type(),
            input.shape(),
            self.datum_type,
            self.input_shape
        );
        // SAFETY: plain element types (checked when planning) have no invalid bit patterns, and
        // the rows below together write every byte.
        let mut output = unsafe { Tensor::uninitialized_dt(self.datum_type, &self.output_shape)? };
        {
            let input = input.try_as_plain_ram()?;
            let mut plain = output.try_as_plain_ram_mut()?;
            let (src, out) = (input.as_bytes(), plain.as_bytes_mut());
            if let Border::Constant(value) = &self.border {
                self.pad_constant(src, out, value);
            } else {
                let last = self.pads.len() - 1;
                let row = self.output_shape[last] * self.run;
                if row > 0 {
                    parallel::split_chunks_mut(out, row, |first, rows| {
                        for (i, out) in rows.chunks_exact_mut(row).enumerate() {
                            self.fill_row(src, first + i, out);
                        }
                    });
                }
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl RunPad {
    /// A constant border: the input rows (along the last padded axis) copied in order, each gap
    /// between two of them, borders and whole padded planes alike, filled with the constant in
    /// one go, so every byte is written once and a row costs one copy and one fill.
    fn pad_constant(&self, src: &[u8], out: &mut [u8], value: &[u8]) {
        let last = self.pads.len() - 1;
        let row = self.input_shape[last] * self.run;
        let rows: usize = self.input_shape[..last].iter().product();
        if rows == 0 || row == 0 {
            return fill(out, value);
        }
        // Where input row `r` starts in the output, in runs: each axis's index shifted by its
        // pad, times the output's stride (in runs) for that axis.
        let strides: TVec<usize> =
            (0..=last).map(|a| self.output_shape[a + 1..=last].iter().product::<usize>()).collect();
        let start = |indices: &[usize]| {
            let shifted: usize = indices.iter().zip(&self.pads).zip(&strides).map(|((&i, &(b, _)), &s)| (i + b) * s).sum();
            (shifted + self.pads[last].0 * strides[last]) * self.run
        };
        let index = |mut r: usize| {
            let mut indices: TVec<usize> = tvec![0; last];
            for a in (0..last).rev() {
                indices[a] = r % self.input_shape[a];
                r /= self.input_shape[a];
            }
            indices
        };
        let len = out.len();
        let out = parallel::SharedMut::new(out);
        // A part writes from the end of the row before its first (or 0) to the end of its last
        // row, and the last part on to the end: each gap belongs to the part of the row after
        // it, so parts are disjoint and cover the output.
        parallel::split_units(rows.div_ceil(ROWS_PER_PART), |parts| {
            let (first, end) = (parts.start * ROWS_PER_PART, rows.min(parts.end * ROWS_PER_PART));
            let mut indices = index(first);
            let mut cursor = if first == 0 { 0 } else { start(&index(first - 1)) + row };
            for r in first..end {
                let at = start(&indices);
                // SAFETY: `cursor..at + row` lies between the previous row's end and this row's
                // end, in this part's span (above); f32 or bytes alike, plain data.
                let span = unsafe { out.part(cursor, at + row - cursor) };
                let (gap, dst) = span.split_at_mut(at - cursor);
                fill(gap, value);
                dst.copy_from_slice(&src[r * row..][..row]);
                cursor = at + row;
                for a in (0..last).rev() {
                    indices[a] += 1;
                    if indices[a] < self.input_shape[a] {
                        break;
                    }
                    indices[a] = 0;
                }
            }
            if end == rows {
                // SAFETY: after the last row, which no other part reaches.
                fill(unsafe { out.part(cursor, len - cursor) }, value);
            }
        });
    }

    /// The input index that output index `at` of an edge- or reflect-padded axis (input length
    /// `len`, `before` padded in front) copies.
    fn source(&self, at: usize, before: usize, len: usize) -> usize {
        let (at, last) = (at as isize - before as isize, len as isize - 1);
        let i = match self.border {
            // The mirror without repeating the edge; pads are shorter than the axis (planning).
            Border::Reflect if at < 0 => -at,
            Border::Reflect if at > last => 2 * last - at,
            _ => at.clamp(0, last),
        };
        i as usize
    }

    /// Edge and reflect borders: output row `index` (over the output's axes before the last
    /// padded one), built from the input row each axis maps it to.
    fn fill_row(&self, src: &[u8], index: usize, out: &mut [u8]) {
        let last = self.pads.len() - 1;
        // The input row it comes from: each axis's index mapped, innermost first.
        let (mut rest, mut source_row, mut stride) = (index, 0, 1);
        for axis in (0..last).rev() {
            let at = rest % self.output_shape[axis];
            rest /= self.output_shape[axis];
            source_row += self.source(at, self.pads[axis].0, self.input_shape[axis]) * stride;
            stride *= self.input_shape[axis];
        }
        let (run, len) = (self.run, self.input_shape[last]);
        let src = &src[source_row * len * run..][..len * run];
        let (before, after) = self.pads[last];
        out[before * run..][..len * run].copy_from_slice(src);
        for at in (0..before).chain(before + len..before + len + after) {
            let i = self.source(at, before, len);
            out[at * run..][..run].copy_from_slice(&src[i * run..][..run]);
        }
    }
}

/// Input rows per unit of work split over the threaded build's pool.
const ROWS_PER_PART: usize = 64;

/// `out` filled with copies of one element's bytes.
fn fill(out: &mut [u8], value: &[u8]) {
    if value.iter().all(|&b| b == value[0]) {
        out.fill(value[0]);
    } else {
        out.chunks_exact_mut(value.len()).for_each(|e| e.copy_from_slice(value));
    }
}

/// The plan for one of tract-core's `Pad` nodes, when it has one: a plain element type and a
/// known shape.
fn run_form(model: &TypedModel, node: &TypedNode, pad: &Pad) -> TractResult<Option<RunPad>> {
    let fact = model.outlet_fact(node.inputs[0])?;
    let dt = fact.datum_type;
    let Some(input_shape) = fact.shape.as_concrete() else { return Ok(None) };
    if !dt.is_copy() || dt.is_quantized() || pad.pads.len() != input_shape.len() {
        return Ok(None);
    }
    let Some(last) = pad.pads.iter().rposition(|&p| p != (0, 0)) else { return Ok(None) };
    let border = match &pad.mode {
        PadMode::Constant(value) => Border::Constant(value.cast_to_dt(dt)?.as_bytes().to_vec()),
        // A border longer than its axis has no ONNX meaning (onnxruntime refuses it): tract's.
        PadMode::Edge if input_shape.iter().zip(&pad.pads).all(|(&d, &p)| d > 0 || p == (0, 0)) => Border::Edge,
        PadMode::Reflect if input_shape.iter().zip(&pad.pads).all(|(&d, &(a, b))| a.max(b) < d || (a, b) == (0, 0)) => {
            Border::Reflect
        }
        _ => return Ok(None),
    };
    let output_shape = input_shape.iter().zip(&pad.pads).map(|(&d, &(a, b))| d + a + b).collect();
    let run = dt.size_of() * input_shape[last + 1..].iter().product::<usize>();
    Ok(Some(RunPad {
        datum_type: dt,
        input_shape: input_shape.into(),
        output_shape,
        pads: pad.pads[..=last].into(),
        run,
        border,
    }))
}

/// Swaps tract-core's `Pad` nodes for [`RunPad`] where it applies: after optimize, so that the
/// pads tract adds in front of convolutions are taken too.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(pad) = node.op_as::<Pad>() else { return Ok(None) };
        let Some(op) = run_form(model, node, pad)? else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}

// Native only: the split is checked on a rayon pool, which the wasm tests have not.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Pad written out element by element: each output index mapped to its input index per
    /// axis, or the constant.
    fn reference(x: &[f32], shape: &[usize], pads: &[(usize, usize)], mode: &PadMode) -> Vec<f32> {
        let out_shape: Vec<usize> = shape.iter().zip(pads).map(|(&d, &(a, b))| d + a + b).collect();
        let total: usize = out_shape.iter().product();
        (0..total)
            .map(|mut flat| {
                let mut src = 0;
                for axis in (0..shape.len()).rev() {
                    let at = (flat % out_shape[axis]) as isize - pads[axis].0 as isize;
                    flat /= out_shape[axis];
                    let last = shape[axis] as isize - 1;
                    let i = match mode {
                        _ if (0..=last).contains(&at) => at,
                        PadMode::Constant(v) => return v.cast_to_scalar::<f32>().unwrap(),
                        PadMode::Edge => at.clamp(0, last),
                        PadMode::Reflect => if at < 0 { -at } else { 2 * last - at },
                    };
                    src += i as usize * shape[axis + 1..].iter().product::<usize>();
                }
                x[src]
            })
            .collect()
    }

    /// Every mode, on one thread and split over a pool (parts of 64 input rows: 130 rows here),
    /// against the pad written out; the constant one also with an element whose bytes differ.
    #[test]
    fn pads_match_the_operation_written_out() {
        let shape = [2, 65, 3, 4];
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| i as f32 * 0.5 - 7.0).collect();
        let pads = [(1, 0), (2, 3), (0, 0), (1, 2)];
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for mode in [PadMode::Constant(Arc::new(tensor0(0f32))), PadMode::Constant(Arc::new(tensor0(-2.5f32))), PadMode::Edge, PadMode::Reflect] {
            let mut model = TypedModel::default();
            let input = model.add_source("x", f32::fact(shape)).unwrap();
            let out = model.wire_node("pad", Pad { pads: pads.to_vec(), mode: mode.clone() }, &[input]).unwrap();
            let node = &model.nodes()[out[0].node];
            let op = run_form(&model, node, node.op_as::<Pad>().unwrap()).unwrap().unwrap();
            let expected = reference(&x, &shape, &pads, &mode);
            let feed = || tvec!(Tensor::from_shape(&shape, &x).unwrap().into_tvalue());
            for pooled in [false, true] {
                let run = || op.eval(&SymbolValues::default(), feed()).unwrap();
                let got = if pooled { pool.install(run) } else { run() };
                assert_eq!(got[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap(), expected, "{mode:?}, pool: {pooled}");
            }
        }
    }
}
