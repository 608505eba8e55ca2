//! `CenterCropPad`: crops or pads each of `axes` to the target `shape`, keeping the centre (an
//! odd difference puts the extra row at the end, as ONNX's reference does). Wired from tract's
//! `Slice` and zero `Pad` once the target and the input's size are known.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::{Pad, PadMode, Slice};
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(CenterCropPad { axes: node.get_attr_opt_vec("axes")? }), vec![]))
}

#[derive(Debug, Clone)]
struct CenterCropPad {
    axes: Option<Vec<i64>>,
}

impl CenterCropPad {
    /// The axes the target's entries apply to, in order, as positive indices.
    fn axes(&self, rank: usize, targets: usize) -> TractResult<Vec<usize>> {
        let axes: Vec<i64> = self.axes.clone().unwrap_or_else(|| (0..rank as i64).collect());
        ensure!(axes.len() == targets, "CenterCropPad: {} target sizes for {} axes", targets, axes.len());
        axes.iter()
            .map(|&a| {
                let axis = if a < 0 { a + rank as i64 } else { a };
                ensure!((0..rank as i64).contains(&axis), "CenterCropPad: axis {a} is out of range for rank {rank}");
                Ok(axis as usize)
            })
            .collect()
    }
}

impl Expansion for CenterCropPad {
    fn name(&self) -> StaticName {
        "CenterCropPad".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].rank, &inputs[0].rank)?;
        s.equals(&inputs[1].rank, 1)?;
        s.given_2(&inputs[0].rank, &inputs[1].value, move |s, rank, target| {
            let target = super::ints(&target)?;
            let axes = self.axes(rank as usize, target.len())?;
            for axis in 0..rank as usize {
                match axes.iter().position(|&a| a == axis) {
                    Some(at) => s.equals(&outputs[0].shape[axis], (target[at] as usize).to_dim())?,
                    None => s.equals(&outputs[0].shape[axis], &inputs[0].shape[axis])?,
                }
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let target = super::known_ints(model, inputs[1], "CenterCropPad", "shape")?;
        let fact = model.outlet_fact(inputs[0])?.clone();
        let axes = self.axes(fact.rank(), target.len())?;
        let mut wire = inputs[0];
        let mut pads = vec![(0, 0); fact.rank()];
        for (&axis, &size) in axes.iter().zip(&target) {
            ensure!(size >= 0, "CenterCropPad: a target size of {size}");
            let size = size as usize;
            let dim = fact.shape[axis]
                .to_usize()
                .with_context(|| format!("CenterCropPad needs axis {axis}'s size known when planned: pin it with inputShapes"))?;
            if size < dim {
                let start = (dim - size) / 2;
                let slice = Slice { axis, start: start.to_dim(), end: (start + size).to_dim() };
                wire = model.wire_node(format!("{prefix}.crop{axis}"), slice, &[wire])?[0];
            } else if size > dim {
                let before = (size - dim) / 2;
                pads[axis] = (before, size - dim - before);
            }
        }
        if pads.iter().any(|&p| p != (0, 0)) {
            let zero = Tensor::zero_scalar_dt(fact.datum_type)?;
            wire = model.wire_node(format!("{prefix}.pad"), Pad { pads, mode: PadMode::Constant(zero.into_arc_tensor()) }, &[wire])?[0];
        }
        Ok(tvec![wire])
    }
}
