//! `Binarizer` (ai.onnx.ml, what skl2onnx emits for scikit-learn's `Binarizer`): 1 where the input
//! is above `threshold`, else 0, in the input's type. Wired from tract's comparison and cast.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::cast;
use tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast;
use tract_onnx::tract_core::ops::logic::comp_gt;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let threshold: f32 = node.get_attr_opt("threshold")?.unwrap_or(0.0);
    Ok((expand(Binarizer { threshold }), vec![]))
}

#[derive(Debug, Clone)]
struct Binarizer {
    threshold: f32,
}

impl Expansion for Binarizer {
    fn name(&self) -> StaticName {
        "Binarizer".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].shape, &inputs[0].shape)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let threshold = tensor0(self.threshold).cast_to_dt(dt)?.into_owned();
        let threshold = model.add_const(format!("{prefix}.threshold"), threshold)?;
        let above =
            wire_with_rank_broadcast(format!("{prefix}.above"), model, TypedBinOp(comp_gt(), None), &[inputs[0], threshold])?;
        model.wire_node(prefix, cast(dt), &above)
    }
}
