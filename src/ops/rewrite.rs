//! The shape of webinfer's own graph passes: visit the nodes in evaluation order, let the pass
//! build a patch for the ones it recognises, apply each at once (a later node then sees the
//! rewritten producers), and drop what the patches disconnected.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;

use crate::engine::optimizer;

/// Applies `patch_for` to every node of `model`, in evaluation order. Returns how many patches
/// were applied.
pub(crate) fn each_node(
    model: &mut TypedModel,
    mut patch_for: impl FnMut(&TypedModel, &TypedNode) -> TractResult<Option<TypedModelPatch>>,
) -> TractResult<usize> {
    let mut count = 0;
    let mut names = optimizer::Names::of(model);
    for id in model.eval_order()? {
        // Applying a patch appends nodes and leaves replaced ones in place, so ids stay valid.
        if let Some(patch) = patch_for(model, &model.nodes()[id])? {
            optimizer::apply(patch, model, &mut names)?;
            count += 1;
        }
    }
    if count > 0 {
        *model = std::mem::take(model).into_compact()?;
    }
    Ok(count)
}

/// The binary op that is the only consumer of node `id`'s output, with the constant it combines
/// that output with: what a pass can fold into the op at `id` (a bias, a clamp). `None` when the
/// output is also a model output, which must keep its own value.
pub(crate) fn binary_with_constant(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<(&TypedNode, &TypedBinOp, Arc<Tensor>)>> {
    let out = OutletId::new(id, 0);
    let Some(next) = model.single_succ(id)? else { return Ok(None) };
    let Some(op) = next.op_as::<TypedBinOp>() else { return Ok(None) };
    if model.outputs.contains(&out) || next.inputs.len() != 2 {
        return Ok(None);
    }
    let other = if next.inputs[0] == out { next.inputs[1] } else { next.inputs[0] };
    Ok(model.outlet_fact(other)?.konst.clone().map(|constant| (next, op, constant)))
}

/// A patch that runs `op` on `input` in place of the nodes from `node` up to `last`, whose
/// output the op's takes over: how a kernel that absorbed what followed a node replaces them.
pub(crate) fn replacing(
    model: &TypedModel,
    node: &TypedNode,
    op: impl Into<Box<dyn TypedOp>>,
    input: OutletId,
    last: usize,
) -> TractResult<TypedModelPatch> {
    let mut patch = TypedModelPatch::default();
    let input = patch.tap_model(model, input)?;
    let out = patch.wire_node(&node.name, op, &[input])?[0];
    patch.shunt_outside(model, OutletId::new(last, 0), out)?;
    Ok(patch)
}

