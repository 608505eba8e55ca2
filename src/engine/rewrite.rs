//! The shape of webinfer's own graph passes: visit the nodes in evaluation order, let the pass
//! build a patch for the ones it recognises, apply each at once (a later node then sees the
//! rewritten producers), and drop what the patches disconnected.

use tract_onnx::prelude::*;

/// Applies `patch_for` to every node of `model`, in evaluation order. Returns how many patches
/// were applied.
pub(crate) fn each_node(
    model: &mut TypedModel,
    mut patch_for: impl FnMut(&TypedModel, &TypedNode) -> TractResult<Option<TypedModelPatch>>,
) -> TractResult<usize> {
    let mut count = 0;
    for id in model.eval_order()? {
        // Applying a patch appends nodes and leaves replaced ones in place, so ids stay valid.
        if let Some(patch) = patch_for(model, &model.nodes()[id])? {
            patch.apply(model)?;
            count += 1;
        }
    }
    if count > 0 {
        *model = std::mem::take(model).into_compact()?;
    }
    Ok(count)
}
