//! `Scaler` (ai.onnx.ml, what skl2onnx emits for scikit-learn's StandardScaler, MinMaxScaler,
//! MaxAbsScaler): (x - offset) * scale per feature (the last axis), or one offset and scale for
//! all. The output is float whatever the input's type. Wired from tract's cast, sub and mul.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::cast::cast;
use tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let offset: Vec<f32> = node.get_attr_opt_vec("offset")?.unwrap_or_else(|| vec![0.0]);
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_else(|| vec![1.0]);
    ensure!(!offset.is_empty() && !scale.is_empty(), "Scaler: empty offset or scale");
    Ok((expand(Scaler { offset, scale }), vec![]))
}

#[derive(Debug, Clone)]
struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Expansion for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].shape, &inputs[0].shape)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        let features = fact.shape.last().cloned().unwrap_or(1.to_dim());
        for (what, values) in [("offset", &self.offset), ("scale", &self.scale)] {
            if values.len() > 1 && features.to_usize().is_ok_and(|f| f != values.len()) {
                bail!("Scaler: {} {what} values for {features} features", values.len());
            }
        }
        let x = model.wire_node(format!("{prefix}.cast"), cast(f32::datum_type()), &inputs[..1])?[0];
        let offset = model.add_const(format!("{prefix}.offset"), tensor1(&self.offset))?;
        let scale = model.add_const(format!("{prefix}.scale"), tensor1(&self.scale))?;
        let centred = wire_with_rank_broadcast(format!("{prefix}.sub"), model, math::sub(), &[x, offset])?;
        wire_with_rank_broadcast(prefix, model, math::mul(), &[centred[0], scale])
    }
}
