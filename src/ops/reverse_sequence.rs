//! `ReverseSequence`: reverses the first `sequence_lens[b]` steps along the time axis of each
//! batch entry `b`, leaving the rest (padding) in place. Any element type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_core::ndarray::ArrayD;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let batch_axis: i64 = node.get_attr_opt("batch_axis")?.unwrap_or(1);
    let time_axis: i64 = node.get_attr_opt("time_axis")?.unwrap_or(0);
    ensure!(
        matches!((batch_axis, time_axis), (0, 1) | (1, 0)),
        "ReverseSequence: batch_axis and time_axis must be 0 and 1 (got {batch_axis} and {time_axis})"
    );
    Ok((expand(ReverseSequence { batch_axis: batch_axis as usize, time_axis: time_axis as usize }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReverseSequence {
    batch_axis: usize,
    time_axis: usize,
}

impl Expansion for ReverseSequence {
    fn name(&self) -> StaticName {
        "ReverseSequence".into()
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
        s.equals(&outputs[0].shape, &inputs[0].shape)?;
        s.equals(&inputs[1].datum_type, i64::datum_type())?;
        s.equals(&inputs[1].rank, 1)?;
        s.equals(&inputs[1].shape[0], &inputs[0].shape[self.batch_axis])
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, super::Kernel(self.clone()), inputs)
    }
}

impl ReverseSequence {
    fn reverse<T: Datum>(&self, x: &Tensor, lens: &[i64]) -> TractResult<Tensor> {
        let x = x.to_plain_array_view::<T>()?;
        ensure!(x.ndim() >= 2, "ReverseSequence needs an input of rank 2 or more, not {:?}", x.shape());
        let steps = x.shape()[self.time_axis];
        ensure!(lens.len() == x.shape()[self.batch_axis], "ReverseSequence: {} sequence_lens for a batch of {}", lens.len(), x.shape()[self.batch_axis]);
        if let Some(bad) = lens.iter().find(|&&l| l < 0 || l as usize > steps) {
            bail!("ReverseSequence: a sequence length of {bad} does not fit {steps} time steps");
        }
        let out = ArrayD::from_shape_fn(x.raw_dim(), |mut at| {
            let len = lens[at[self.batch_axis]] as usize;
            if at[self.time_axis] < len {
                at[self.time_axis] = len - 1 - at[self.time_axis];
            }
            x[at].clone()
        });
        Ok(out.into_tensor())
    }
}

impl super::Compute for ReverseSequence {
    fn name(&self) -> StaticName {
        "ReverseSequence".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let lens = super::ints(&inputs[1])?;
        let out = dispatch_datum!(Self::reverse(inputs[0].datum_type())(self, &inputs[0], &lens))?;
        Ok(tvec![out.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec![inputs[0].without_value()])
    }
}
