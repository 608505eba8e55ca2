//! `Softmax` over an axis that is not the last, swapped in for tract's op.
//!
//! Why: tract computes a softmax over the trailing axes on whole rows with its kernels, but over
//! any other axis it walks every position of the other axes, collapsing an ndarray view to a
//! strided lane each time and taking `exp` element by element, twice. YOLOv8's box head takes a
//! softmax over 16 bins on axis 1 of [1, 4, 16, anchors]: 42 of its 60 ms in Chromium.
//!
//! Here each block of `len x inner` values is done with the inner axis contiguous: the maximum
//! of every lane, then `x - max` for all, then tract's own `exp` kernel over the whole block at
//! once (`Softmax2`, with a maximum of zero: the values are already shifted), then the sums and
//! the scaling lane by lane, loops the compiler vectorises. As tract's row kernel does, each
//! value is `exp(x - max) * (1 / sum)`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_core::tract_linalg::routines::Func;

use super::{parallel, Compute, Kernel};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AxisSoftmax {
    shape: TVec<usize>,
    axis: usize,
}

impl Compute for AxisSoftmax {
    fn name(&self) -> StaticName {
        "AxisSoftmax".into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut output = args_1!(inputs).into_tensor();
        ensure!(output.shape() == &*self.shape, "Softmax: input shape {:?}, planned for {:?}", output.shape(), self.shape);
        let (len, inner) = (self.shape[self.axis], self.shape[self.axis + 1..].iter().product::<usize>());
        if len * inner == 0 {
            return Ok(tvec!(output.into_tvalue()));
        }
        let exp = Func::Softmax2.map_reduce_f32()?;
        let mut plain = output.try_as_plain_ram_mut()?;
        let failure = std::sync::Mutex::new(Ok(()));
        parallel::split_chunks_mut(plain.as_slice_mut::<f32>()?, len * inner, |_, blocks| {
            let mut lanes = vec![0f32; inner];
            for block in blocks.chunks_exact_mut(len * inner) {
                if let Err(e) = softmax_block(block, inner, &mut lanes, &*exp) {
                    *failure.lock().unwrap() = Err(e);
                }
            }
        });
        failure.into_inner().unwrap()?;
        drop(plain);
        Ok(tvec!(output.into_tvalue()))
    }
}

/// One block of `len` runs of `inner` values, softmaxed across the runs. `lanes` holds `inner`
/// values: each lane's maximum, then its sum's reciprocal.
fn softmax_block(
    block: &mut [f32],
    inner: usize,
    lanes: &mut [f32],
    exp: &dyn tract_onnx::tract_core::tract_linalg::reduce::MapReduce<f32, f32>,
) -> TractResult<()> {
    lanes.fill(f32::NEG_INFINITY);
    for run in block.chunks_exact(inner) {
        lanes.iter_mut().zip(run).for_each(|(m, &x)| *m = m.max(x));
    }
    for run in block.chunks_exact_mut(inner) {
        run.iter_mut().zip(&*lanes).for_each(|(x, &m)| *x -= m);
    }
    exp.run_with_params(block, 0.0)?;
    lanes.fill(0.0);
    for run in block.chunks_exact(inner) {
        lanes.iter_mut().zip(run).for_each(|(s, &e)| *s += e);
    }
    lanes.iter_mut().for_each(|s| *s = s.recip());
    for run in block.chunks_exact_mut(inner) {
        run.iter_mut().zip(&*lanes).for_each(|(e, &r)| *e *= r);
    }
    Ok(())
}

/// Swaps tract's f32 `Softmax` over one axis that is not the last for [`AxisSoftmax`] (over the
/// last, tract's own row kernel is the fast one).
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(softmax) = node.op_as::<Softmax>() else { return Ok(None) };
        let fact = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = fact.shape.as_concrete() else { return Ok(None) };
        let &[axis] = &*softmax.axes else { return Ok(None) };
        if softmax.kind != SoftmaxKind::Softmax
            || fact.datum_type != f32::datum_type()
            || axis + 1 >= shape.len()
            || shape[axis + 1..].iter().product::<usize>() < 2
        {
            return Ok(None);
        }
        let op = AxisSoftmax { shape: shape.into(), axis };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(op))?))
    })
}
