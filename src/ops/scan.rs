//! `Scan`: tract's, from opset 9 on. Scan-8 (opset 8) differs: a batch axis first on every state
//! and scanned input, and a `sequence_lens` input. tract reads every Scan as Scan-9 and then fails
//! on the shapes ("Impossible to unify Val(2) with Val(1)"), so Scan-8 is refused here by name.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    ensure!(
        ctx.onnx_operator_set_version >= 9,
        "Scan of opset {} (Scan-8: a batch axis on every input, and sequence_lens) is not supported; export with \
         opset 9 or later",
        ctx.onnx_operator_set_version
    );
    tract_onnx::ops::rec::scan::scan(ctx, node)
}
