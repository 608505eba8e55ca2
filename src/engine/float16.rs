//! float16 graphs computed in float32.
//!
//! Weights stored as float16 halve a model's download with no calibration (onnxruntime's
//! `convert_float_to_float16`, onnxconverter-common): the converted graph then computes in
//! float16 between Casts. wasm has no float16 arithmetic, so tract would emulate every such op
//! (and some of its kernels do not take float16 at all). Before tract sees the model, every
//! float16 inside the graph becomes float32: initializers and constants are widened (exactly),
//! Casts and `dtype` attributes that name float16 name float32, declared types follow. The
//! plan is then the float32 model's, at its speed; results differ from onnxruntime's float16
//! arithmetic by float16 rounding, in the more precise direction. A float16 graph input or
//! output keeps its type: a Cast at the edge converts it.

use std::collections::HashSet;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto};
use tract_onnx::prelude::f16;

const F16: i32 = DataType::Float16 as i32;
const F32: i32 = DataType::Float as i32;

/// Rewrites `graph` to compute in float32 wherever it computed in float16. Returns how many
/// float16 values (initializers, constants, casts, declared types) it changed.
pub(crate) fn compute_in_float32(graph: &mut GraphProto) -> usize {
    if !mentions_float16(graph) {
        return 0;
    }
    let mut changed = widen_graph(graph);
    let taken: HashSet<String> = all_names(graph);
    let fresh = |name: &str| {
        let mut candidate = format!("{name}.webinfer_f32");
        while taken.contains(&candidate) {
            candidate.push('_');
        }
        candidate
    };
    // Edges: float16 inputs are cast up as they enter, float16 outputs cast down as they leave.
    let inputs: Vec<String> = graph.input.iter().filter(|i| is_f16(i)).map(|i| i.name.clone()).collect();
    let initializers: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    let mut entry = Vec::new();
    for name in inputs.iter().filter(|n| !initializers.contains(*n)) {
        let inner = fresh(name);
        rename_uses(&mut graph.node, name, &inner);
        entry.push(cast(name, &inner, F32));
        changed += 1;
    }
    let outputs: Vec<String> = graph.output.iter().filter(|o| is_f16(o)).map(|o| o.name.clone()).collect();
    for name in outputs.iter().filter(|n| !inputs.contains(*n)) {
        let inner = fresh(name);
        rename_uses(&mut graph.node, name, &inner);
        for node in graph.node.iter_mut() {
            for output in node.output.iter_mut().filter(|o| *o == name) {
                *output = inner.clone();
            }
        }
        for t in graph.initializer.iter_mut().filter(|t| &t.name == name) {
            t.name = inner.clone();
        }
        graph.node.push(cast(&inner, name, F16));
        changed += 1;
    }
    graph.node.splice(0..0, entry);
    changed
}

fn is_f16(info: &ValueInfoProto) -> bool {
    matches!(&info.r#type.as_ref().and_then(|t| t.value.as_ref()), Some(TypeValue::TensorType(t)) if t.elem_type == F16)
}

fn mentions_float16(graph: &GraphProto) -> bool {
    graph.initializer.iter().any(|t| t.data_type == F16)
        || graph.input.iter().chain(&graph.output).chain(&graph.value_info).any(is_f16)
        || graph.node.iter().flat_map(|n| &n.attribute).any(|a| {
            (matches!(a.name.as_str(), "to" | "dtype") && a.i == F16 as i64)
                || a.t.iter().chain(&a.tensors).any(|t| t.data_type == F16)
                || a.g.iter().chain(&a.graphs).any(mentions_float16)
        })
}

/// Widens everything inside `graph` (and its subgraphs, whose own inputs and outputs are inside
/// too); the top-level inputs and outputs are declared float32 here and restored by the caller.
fn widen_graph(graph: &mut GraphProto) -> usize {
    let mut changed = 0;
    for t in graph.initializer.iter_mut() {
        changed += widen_tensor(t) as usize;
    }
    for info in graph.value_info.iter_mut() {
        changed += widen_info(info) as usize;
    }
    for node in graph.node.iter_mut() {
        changed += widen_node(node);
    }
    changed
}

fn widen_node(node: &mut NodeProto) -> usize {
    let mut changed = 0;
    for attr in node.attribute.iter_mut() {
        changed += widen_attribute(attr);
    }
    changed
}

fn widen_attribute(attr: &mut AttributeProto) -> usize {
    let mut changed = 0;
    if matches!(attr.name.as_str(), "to" | "dtype") && attr.i == F16 as i64 {
        attr.i = F32 as i64;
        changed += 1;
    }
    for t in attr.t.iter_mut().chain(attr.tensors.iter_mut()) {
        changed += widen_tensor(t) as usize;
    }
    for g in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
        changed += widen_graph(g);
        for info in g.input.iter_mut().chain(g.output.iter_mut()) {
            changed += widen_info(info) as usize;
        }
    }
    changed
}

fn widen_info(info: &mut ValueInfoProto) -> bool {
    match info.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        Some(TypeValue::TensorType(t)) if t.elem_type == F16 => {
            t.elem_type = F32;
            true
        }
        _ => false,
    }
}

/// A float16 tensor's values as float32 (exact). Tensors stored elsewhere (external data) are
/// left for tract, which reports them.
fn widen_tensor(t: &mut TensorProto) -> bool {
    if t.data_type != F16 {
        return false;
    }
    let bits: Vec<u16> = if !t.raw_data.is_empty() {
        if t.raw_data.len() % 2 != 0 {
            return false;
        }
        t.raw_data.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()
    } else {
        t.int32_data.iter().map(|&v| v as u16).collect()
    };
    t.float_data = bits.into_iter().map(|b| f16::from_bits(b).to_f32()).collect();
    t.raw_data.clear();
    t.int32_data.clear();
    t.data_type = F32;
    true
}

fn cast(from: &str, to: &str, elem_type: i32) -> NodeProto {
    NodeProto {
        name: format!("{to}.cast"),
        op_type: "Cast".into(),
        input: vec![from.into()],
        output: vec![to.into()],
        attribute: vec![AttributeProto {
            name: "to".into(),
            r#type: tract_onnx::pb::attribute_proto::AttributeType::Int as i32,
            i: elem_type as i64,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Every read of `from` in `nodes` (subgraphs included, which may read outer values) reads `to`.
fn rename_uses(nodes: &mut [NodeProto], from: &str, to: &str) {
    for node in nodes {
        for input in node.input.iter_mut().filter(|i| *i == from) {
            *input = to.into();
        }
        for attr in node.attribute.iter_mut() {
            for g in attr.g.iter_mut().chain(attr.graphs.iter_mut()) {
                rename_uses(&mut g.node, from, to);
                for output in g.output.iter_mut().filter(|o| o.name == from) {
                    output.name = to.into();
                }
            }
        }
    }
}

fn all_names(graph: &GraphProto) -> HashSet<String> {
    let mut names: HashSet<String> = graph.input.iter().chain(&graph.output).map(|i| i.name.clone()).collect();
    names.extend(graph.initializer.iter().map(|t| t.name.clone()));
    for node in &graph.node {
        names.extend(node.input.iter().chain(&node.output).cloned());
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                names.extend(all_names(g));
            }
        }
    }
    names
}
