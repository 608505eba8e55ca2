//! Sums over the spatial axes of a channels-last tensor (`[1, H, W, C]` over H and W: global
//! average pooling once tract has moved a network to channels last, Keras' `GlobalAveragePooling2D`
//! converted by tf2onnx) handed to tract's fast path.
//!
//! Why: tract sums an f32 tensor over its leading axes as column sums of a `[rows, inner]`
//! matrix, fast; any other set of axes goes through an ndarray slice per output value. The batch
//! axis of size 1 in front makes H and W "not leading". Reducing that axis as well changes
//! nothing (its size is 1, the output keeps it as 1) and takes the fast path: MobileNetV3Small's
//! ten squeeze-and-excitation poolings took 1.5 of its 10.6 ms in Chromium.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

/// The same reduction with the unit axes in front of the reduced ones reduced too, when that
/// makes the reduced axes the leading ones (the sum's fast path).
fn widened(shape: &[usize], reduce: &Reduce) -> Option<Reduce> {
    let mut axes = reduce.axes.to_vec();
    axes.sort_unstable();
    let first = *axes.first()?;
    let contiguous = axes.iter().enumerate().all(|(i, &a)| a == first + i);
    // A sum that ends at the last axis stays: tract runs a single last axis on its row kernel.
    if first == 0 || !contiguous || first + axes.len() >= shape.len() || shape[..first].iter().any(|&d| d != 1) {
        return None;
    }
    Some(Reduce { axes: (0..first + axes.len()).collect(), reducer: reduce.reducer })
}

/// Widens f32 sums as [`widened`] says.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(reduce) = node.op_as::<Reduce>() else { return Ok(None) };
        let fact = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = fact.shape.as_concrete() else { return Ok(None) };
        if reduce.reducer != Reducer::Sum || fact.datum_type != f32::datum_type() {
            return Ok(None);
        }
        let Some(op) = widened(shape, reduce) else { return Ok(None) };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, op)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spatial_sums_behind_a_unit_batch_are_widened_to_the_leading_axes() {
        let sum = |axes: &[usize]| Reduce { axes: axes.into(), reducer: Reducer::Sum };
        assert_eq!(widened(&[1, 7, 9, 16], &sum(&[1, 2])).unwrap().axes.to_vec(), [0, 1, 2]);
        assert_eq!(widened(&[1, 1, 9, 16], &sum(&[2])).unwrap().axes.to_vec(), [0, 1, 2]);
        assert!(widened(&[2, 7, 9, 16], &sum(&[1, 2])).is_none(), "a batch of 2 is not summed away");
        assert!(widened(&[1, 7, 9, 16], &sum(&[1, 3])).is_none(), "not contiguous");
        assert!(widened(&[7, 9, 16], &sum(&[0, 1])).is_none(), "already leading");
        assert!(widened(&[1, 9, 16], &sum(&[2])).is_none(), "the last axis: tract's row kernel");
        assert!(widened(&[1, 9, 16], &sum(&[1, 2])).is_none(), "nothing left after the sum");
    }

    /// The widened sum gives the narrow one's values, shape included.
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
