//! What a model file contains, without planning it: declared inputs and outputs, opsets, an op
//! histogram, and every node tract cannot run. The model tool and `webinfer inspect` use it to
//! refuse a model before publishing it, naming all the failing ops at once.

use std::collections::{BTreeMap, HashSet};

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto, TensorProto};
use tract_onnx::Onnx;
use tract_onnx::prelude::*;

use super::digest::sha256_hex;
use super::error::{Error, Result};
use super::model::{declared_info, tensor_type, TensorInfo};

/// A node whose operator tract does not implement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    pub op: String,
    pub node: String,
}

#[derive(Debug, Clone)]
pub struct Inspection {
    pub bytes: usize,
    pub sha256: String,
    pub producer: String,
    /// (domain, version); the default ONNX domain is "ai.onnx".
    pub opsets: Vec<(String, i64)>,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// Operator -> node count, most used first.
    pub ops: Vec<(String, usize)>,
    pub unsupported: Vec<UnsupportedNode>,
}

pub(crate) fn parse_proto(onnx: &Onnx, bytes: &[u8]) -> Result<ModelProto> {
    if bytes.is_empty() {
        return Err(Error::InvalidModel { reason: "the model is empty (0 bytes)".into() });
    }
    if let Some(kind) = other_format(bytes) {
        return Err(Error::InvalidModel { reason: format!("this is {kind}, not an ONNX model") });
    }
    let proto = onnx.proto_model_for_read(&mut &*bytes).map_err(Error::invalid_model)?;
    let Some(graph) = proto.graph.as_ref() else {
        return Err(Error::InvalidModel { reason: "the file has no graph".into() });
    };
    check_references(graph)?;
    check_raw_strings(graph)?;
    Ok(proto)
}

/// ONNX forbids `raw_data` for string tensors; tract 0.23 hits an `unimplemented!` on one
/// (found by fuzzing). Initializers, tensor attributes (`Constant`) and subgraphs are checked.
fn check_raw_strings(graph: &GraphProto) -> Result<()> {
    let is_raw_string = |t: &TensorProto| t.data_type == DataType::String as i32 && !t.raw_data.is_empty();
    let refuse = |name: &str| {
        Err(Error::InvalidModel { reason: format!("string tensor `{name}` is stored as raw bytes, which ONNX does not allow") })
    };
    if let Some(t) = graph.initializer.iter().find(|t| is_raw_string(t)) {
        return refuse(&t.name);
    }
    for node in &graph.node {
        for attr in &node.attribute {
            if let Some(t) = attr.t.iter().chain(&attr.tensors).find(|t| is_raw_string(t)) {
                return refuse(if t.name.is_empty() { &node.name } else { &t.name });
            }
            for sub in attr.g.iter().chain(&attr.graphs) {
                check_raw_strings(sub)?;
            }
        }
    }
    Ok(())
}

/// Files people fetch by mistake, known by their magic bytes: a protobuf decode error would only
/// say "invalid wire type".
fn other_format(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: [(usize, &[u8], &str); 8] = [
        (0, b"\x89PNG", "a PNG image"),
        (0, b"\xff\xd8\xff", "a JPEG image"),
        (0, b"PK\x03\x04", "a ZIP archive (a Keras or PyTorch file?)"),
        (0, b"\x1f\x8b", "a gzip file (decompress it first)"),
        (4, b"TFL3", "a TensorFlow Lite model"),
        (0, b"\x89HDF", "an HDF5 file (a Keras .h5 model?)"),
        (0, b"<", "an HTML or XML document (an error page?)"),
        (0, b"{", "a JSON document (a manifest?)"),
    ];
    MAGIC.iter().find(|(at, magic, _)| bytes.get(*at..*at + magic.len()) == Some(magic)).map(|(_, _, kind)| *kind)
}

/// How messages name a node: its name, or its first output when it has none.
fn node_label(node: &NodeProto) -> String {
    if node.name.is_empty() { node.output.first().cloned().unwrap_or_default() } else { node.name.clone() }
}

/// Every value the graph reads must be defined somewhere: tract 0.23 looks names up with an
/// index that panics on a dangling one (found by fuzzing), so they are refused here, by name.
fn check_references(graph: &GraphProto) -> Result<()> {
    let mut defined: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    defined.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    defined.extend(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)));
    let dangling = |what: String| Err(Error::InvalidModel { reason: what });
    for node in &graph.node {
        if let Some(missing) = node.input.iter().find(|i| !i.is_empty() && !defined.contains(i.as_str())) {
            let name = if node.name.is_empty() { &node.op_type } else { &node.name };
            return dangling(format!("node `{name}` reads `{missing}`, which no input, initializer or node defines"));
        }
    }
    if let Some(missing) = graph.output.iter().find(|o| !defined.contains(o.name.as_str())) {
        return dangling(format!("graph output `{}` is not produced by any node, input or initializer", missing.name));
    }
    for node in &graph.node {
        check_window_attributes(graph, node)?;
        check_index_types(graph, node)?;
        check_axis_attributes(node)?;
    }
    Ok(())
}

/// `axis` and `axes` attributes name tensor axes, so they lie within ±rank. tract 0.23 turns a
/// far-out negative one into a huge index and allocates by it (OneHot, found by fuzzing: out of
/// memory, which no guard catches). No model webinfer runs has tensors of 64 axes.
fn check_axis_attributes(node: &NodeProto) -> Result<()> {
    const MAX_RANK: u64 = 64;
    for attr in &node.attribute {
        let far = match attr.name.as_str() {
            "axis" => Some(attr.i).filter(|v| v.unsigned_abs() > MAX_RANK),
            "axes" => attr.ints.iter().copied().find(|v| v.unsigned_abs() > MAX_RANK),
            _ => None,
        };
        if let Some(v) = far {
            return Err(Error::InvalidModel {
                reason: format!("node `{}` ({}): `{}` names axis {v}, past any tensor's rank", node_label(node), node.op_type, attr.name),
            });
        }
    }
    Ok(())
}

/// Gather and scatter indices must be int32 or int64. tract 0.23 casts float indices and
/// indexes out of bounds with the result (found by fuzzing), so a stated other type is refused.
fn check_index_types(graph: &GraphProto, node: &NodeProto) -> Result<()> {
    const INDEXED: [&str; 6] = ["Gather", "GatherElements", "GatherND", "ScatterElements", "ScatterND", "Scatter"];
    let Some(indices) = node.input.get(1).filter(|_| INDEXED.contains(&node.op_type.as_str())) else { return Ok(()) };
    let declared = graph.initializer.iter().find(|t| &t.name == indices).map(|t| t.data_type).or_else(|| {
        Some(tensor_type(graph.input.iter().find(|i| &i.name == indices)?)?.elem_type)
    });
    match declared {
        Some(t) if t != DataType::Int32 as i32 && t != DataType::Int64 as i32 => {
            let name = node_label(node);
            Err(Error::InvalidModel {
                reason: format!("node `{name}` ({}): its indices `{indices}` must be int32 or int64", node.op_type),
            })
        }
        _ => Ok(()),
    }
}

/// Convolutions and pools: `pads` holds two values per spatial axis, `strides`, `dilations` and
/// `kernel_shape` one. tract 0.23 indexes them per axis and panics when they are short (found
/// by fuzzing).
fn check_window_attributes(graph: &GraphProto, node: &NodeProto) -> Result<()> {
    const WINDOWED: [&str; 7] = ["Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool"];
    if !WINDOWED.contains(&node.op_type.as_str()) {
        return Ok(());
    }
    let ints = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.ints.len());
    let weight = match node.op_type.as_str() {
        "QLinearConv" => node.input.get(3),
        _ => node.input.get(1),
    };
    // Spatial ranks (rank minus N and C) of the data and the weights, where the file states them.
    let data_spatial = node.input.first().and_then(|x| declared_rank(graph, x)).map(|r| r.saturating_sub(2));
    let weight_spatial = weight.and_then(|w| declared_rank(graph, w)).map(|r| r.saturating_sub(2));
    let name = node_label(node);
    let invalid = |reason: String| Err(Error::InvalidModel { reason: format!("node `{name}` ({}): {reason}", node.op_type) });
    if let (Some(x), Some(w)) = (data_spatial, weight_spatial) {
        if x != w {
            return invalid(format!("its input has {x} spatial axes but its weights have {w}"));
        }
    }
    let spatial = ints("kernel_shape").or(weight_spatial).or(data_spatial);
    if let (Some(k), Some(x)) = (spatial, data_spatial) {
        if k != x {
            return invalid(format!("`kernel_shape` has {k} values but its input has {x} spatial axes"));
        }
    }
    let bad = |attr: &str, got: usize, want: String| invalid(format!("`{attr}` has {got} values, expected {want}"));
    if let Some(pads) = ints("pads") {
        match spatial {
            Some(k) if pads != 2 * k => return bad("pads", pads, format!("{} (2 per spatial axis)", 2 * k)),
            None if pads % 2 == 1 => return bad("pads", pads, "an even number (2 per spatial axis)".into()),
            _ => {}
        }
    }
    for attr in ["strides", "dilations", "kernel_shape", "output_padding"] {
        if let (Some(got), Some(k)) = (ints(attr), spatial) {
            if got != k {
                return bad(attr, got, format!("{k} (1 per spatial axis)"));
            }
        }
    }
    Ok(())
}

/// The rank of a value as the file states it: an initializer's dims, a graph input's declared
/// shape, or either seen through ops that keep the shape (quantization, casts, activations).
fn declared_rank(graph: &GraphProto, name: &str) -> Option<usize> {
    const SAME_SHAPE: [&str; 7] = ["DequantizeLinear", "QuantizeLinear", "Cast", "Identity", "Relu", "Clip", "Sigmoid"];
    let mut name = name;
    for _ in 0..32 {
        if let Some(t) = graph.initializer.iter().find(|t| t.name == name) {
            return Some(t.dims.len());
        }
        if let Some(input) = graph.input.iter().find(|i| i.name == name) {
            return tensor_type(input)?.shape.as_ref().map(|s| s.dim.len());
        }
        let producer = graph.node.iter().find(|n| n.output.iter().any(|o| o == name))?;
        name = producer.input.first().filter(|_| SAME_SHAPE.contains(&producer.op_type.as_str()))?;
    }
    None
}

/// Nodes of the main graph whose op type tract has no builder for (in file order).
pub(crate) fn unsupported_nodes(onnx: &Onnx, proto: &ModelProto) -> Vec<UnsupportedNode> {
    let register = &onnx.op_register;
    let nodes = proto.graph.as_ref().map(|g| g.node.as_slice()).unwrap_or_default();
    nodes
        .iter()
        .filter(|n| !register.0.contains_key(&n.op_type))
        .map(|n| UnsupportedNode {
            op: n.op_type.clone(),
            node: node_label(n),
        })
        .collect()
}

pub fn inspect(bytes: &[u8]) -> Result<Inspection> {
    let onnx = super::model::front_end();
    let proto = parse_proto(&onnx, bytes)?;
    let graph = proto.graph.as_ref().expect("checked by parse_proto");
    let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for node in &graph.node {
        *ops.entry(&node.op_type).or_default() += 1;
    }
    let mut ops: Vec<(String, usize)> = ops.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Inspection {
        bytes: bytes.len(),
        sha256: sha256_hex(bytes),
        producer: format!("{} {}", proto.producer_name, proto.producer_version).trim().to_string(),
        opsets: proto
            .opset_import
            .iter()
            .map(|o| (if o.domain.is_empty() { "ai.onnx".to_string() } else { o.domain.clone() }, o.version))
            .collect(),
        // Old exporters list initializers among the inputs; they are weights, not feeds.
        inputs: graph.input.iter().filter(|i| !initializers.contains(&i.name.as_str())).map(declared_info).collect(),
        outputs: graph.output.iter().map(declared_info).collect(),
        ops,
        unsupported: unsupported_nodes(&onnx, &proto),
    })
}
