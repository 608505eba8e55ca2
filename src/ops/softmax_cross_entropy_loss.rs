//! `SoftmaxCrossEntropyLoss`: NegativeLogLikelihoodLoss on the log-softmax of the scores over
//! the class axis, which is also its optional second output (nll_loss.rs has the kernel).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::nll_loss::{Loss, LossRules};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(LossRules(Loss::from_node(node, true)?)), vec![]))
}
