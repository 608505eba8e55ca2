//! `Upsample` (ONNX opsets 7-9, deprecated since 10 but still in older exports: Keras/TF 1
//! converters, YOLOv3-era detectors), which tract-onnx does not know.
//!
//! Upsample is Resize with the coordinates ONNX's reference gives it: `asymmetric` (output pixel
//! `i` reads input `i / scale`) and, in nearest mode, the floor of that. webinfer registers a
//! builder that hands the node to tract's own `Resize` builder as opset-10 Resize (inputs `X`,
//! `scales`, which is exactly Upsample-9's signature) with those settings.
//! Upsample-7 carries its scales as an attribute; [`scales_as_input`] turns them into an
//! initializer first, so both versions reach the builder in the same shape.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::bail;
use tract_onnx::tract_hir::infer::InferenceOp;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let Some(&resize) = ctx.framework.op_register.0.get("Resize") else { bail!("tract-onnx has no Resize builder") };
    if node.input.len() != 2 {
        bail!("Upsample needs its scales as a second input or a `scales` attribute");
    }
    let mut as_resize = node.clone();
    as_resize.op_type = "Resize".into();
    as_resize.attribute.retain(|a| a.name == "mode");
    as_resize.attribute.push(AttributeProto {
        name: "nearest_mode".into(),
        r#type: AttributeType::String as i32,
        s: b"floor".to_vec(),
        ..Default::default()
    });
    let opset10 = ParsingContext {
        onnx_operator_set_version: 10,
        framework: ctx.framework,
        model: ctx.model,
        parent_graphs: ctx.parent_graphs.clone(),
        model_dir: ctx.model_dir,
        template: ctx.template.clone(),
    };
    resize(&opset10, &as_resize)
}

/// Upsample-7's `scales` attribute becomes a float initializer and the node's second input.
pub(crate) fn scales_as_input(graph: &mut GraphProto) {
    for (ix, node) in graph.node.iter_mut().enumerate() {
        if node.op_type != "Upsample" || node.input.len() != 1 {
            continue;
        }
        let Some(at) = node.attribute.iter().position(|a| a.name == "scales") else { continue };
        let scales = node.attribute.remove(at).floats;
        let name = format!("webinfer.upsample{ix}.scales");
        graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: vec![scales.len() as i64],
            data_type: DataType::Float as i32,
            float_data: scales,
            ..Default::default()
        });
        node.input.push(name);
    }
}
