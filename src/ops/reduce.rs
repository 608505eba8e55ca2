//! Sums over the spatial axes of a channels-last tensor (`[1, H, W, C]` over H and W: global
//! average pooling once tract has moved a network to channels last, Keras' `GlobalAveragePooling2D`
//! converted by tf2onnx) as column sums of a `[rows, inner]` matrix.
//!
//! Why: tract sums an f32 tensor over its leading axes as such column sums; any other set of
//! axes goes through an ndarray slice per output value. The batch axis of size 1 in front makes H
//! and W "not leading". Reducing that axis as well changes nothing (its size is 1, the output
//! keeps it as 1): MobileNetV3Small's ten squeeze-and-excitation poolings took 1.5 of its 10.6 ms
//! in Chromium on tract's slice path. Its column sums themselves are an element-by-element
//! iterator loop in tract-core, which the shipped build optimizes for size: the PP-OCR direction
//! classifier's ten poolings still took 0.23 ms of 3 there. [`ColumnSum`] adds whole rows, four
//! lanes at a time, in the same order (row after row from zero): the same values.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

use super::{pool, Compute, Kernel};

/// The sum of the `rows` rows of an f32 `[rows, inner]` matrix, shaped `output_shape`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ColumnSum {
    rows: usize,
    inner: usize,
    output_shape: TVec<usize>,
}

impl Compute for ColumnSum {
    fn name(&self) -> StaticName {
        "ColumnSum".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.output_shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs[0].try_as_plain_ram()?;
        let x = input.as_slice::<f32>()?;
        ensure!(x.len() == self.rows * self.inner, "ColumnSum: {} values, planned for {}", x.len(), self.rows * self.inner);
        let mut sum = vec![0f32; self.inner];
        for row in 0..self.rows {
            pool::add_rows(&mut sum, &x[row * self.inner..][..self.inner]);
        }
        Ok(tvec!(Tensor::from_shape(&self.output_shape, &sum)?.into_tvalue()))
    }
}

/// How many leading axes a sum over `reduce`'s axes of `shape` adds up as [`ColumnSum`]'s rows:
/// the axes themselves when they are the leading ones, or with the unit axes in front of them
/// (summing those changes nothing). `None` when the axes are not contiguous, or reach the last
/// axis (tract runs a single last axis on its row kernel).
fn leading(shape: &[usize], reduce: &Reduce) -> Option<usize> {
    let mut axes = reduce.axes.to_vec();
    axes.sort_unstable();
    let first = *axes.first()?;
    let contiguous = axes.iter().enumerate().all(|(i, &a)| a == first + i);
    let rows = first + axes.len();
    (contiguous && rows < shape.len() && shape[..first].iter().all(|&d| d == 1)).then_some(rows)
}

/// Replaces f32 sums over leading axes ([`leading`]) with [`ColumnSum`].
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(reduce) = node.op_as::<Reduce>() else { return Ok(None) };
        let fact = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = fact.shape.as_concrete() else { return Ok(None) };
        if reduce.reducer != Reducer::Sum || fact.datum_type != f32::datum_type() {
            return Ok(None);
        }
        let Some(k) = leading(shape, reduce) else { return Ok(None) };
        let output_shape = shape.iter().enumerate().map(|(axis, &d)| if reduce.axes.contains(&axis) { 1 } else { d }).collect();
        let (rows, inner) = (shape[..k].iter().product(), shape[k..].iter().product());
        let op = ColumnSum { rows, inner, output_shape };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spatial_sums_behind_a_unit_batch_are_widened_to_the_leading_axes() {
        let sum = |axes: &[usize]| Reduce { axes: axes.into(), reducer: Reducer::Sum };
        assert_eq!(leading(&[1, 7, 9, 16], &sum(&[1, 2])), Some(3));
        assert_eq!(leading(&[1, 1, 9, 16], &sum(&[2])), Some(3));
        assert!(leading(&[2, 7, 9, 16], &sum(&[1, 2])).is_none(), "a batch of 2 is not summed away");
        assert!(leading(&[1, 7, 9, 16], &sum(&[1, 3])).is_none(), "not contiguous");
        assert_eq!(leading(&[7, 9, 16], &sum(&[0, 1])), Some(2), "already leading");
        assert!(leading(&[1, 9, 16], &sum(&[2])).is_none(), "the last axis: tract's row kernel");
        assert!(leading(&[1, 9, 16], &sum(&[1, 2])).is_none(), "nothing left after the sum");
    }

    /// The column sums give tract's values (its slice path, on the axes as given), shape included.
    #[test]
    fn widened_sums_keep_their_values() {
        let shape = [1, 5, 7, 12];
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| ((i * 7919) % 211) as f32 / 17.0 - 6.0).collect();
        let run = |widen: bool| {
            let mut model = TypedModel::default();
            let source = model.add_source("x", f32::fact(shape)).unwrap();
            let sum = model.wire_node("sum", Reduce { axes: tvec![1, 2], reducer: Reducer::Sum }, &[source]).unwrap();
            model.select_output_outlets(&sum).unwrap();
            if widen {
                assert_eq!(rewrite(&mut model).unwrap(), 1);
            }
            let out = model.into_runnable().unwrap().run(tvec!(Tensor::from_shape(&shape, &x).unwrap().into_tvalue()));
            out.unwrap().remove(0).into_tensor()
        };
        let (narrow, wide) = (run(false), run(true));
        assert_eq!(narrow.shape(), [1, 1, 1, 12]);
        assert_eq!(wide.shape(), narrow.shape());
        let (narrow, wide) = (narrow.try_as_plain_ram().unwrap(), wide.try_as_plain_ram().unwrap());
        let (a, b) = (narrow.as_slice::<f32>().unwrap(), wide.as_slice::<f32>().unwrap());
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "[{i}]: {a} vs {b}");
        }
    }
}
