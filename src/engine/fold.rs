//! QDQ models store weights as int8 (and biases as int32) behind `DequantizeLinear` nodes. tract
//! folds those constants while typing the graph, through generic broadcasting code that takes
//! most of an int8 model's planning time (EfficientNet-Lite0: about 0.6 s of 0.9 s natively,
//! `webinfer profile`). Folding them here, in one pass over the file's tensors before tract
//! parses the graph, gives tract the same float32 constants it would have computed.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, NodeProto, TensorProto};

/// Replaces every `DequantizeLinear` whose inputs are all initializers by a float32
/// initializer holding its result, and drops initializers nothing reads any more. Nodes this
/// does not recognise (blocked quantization, external data, ...) are left for tract.
pub(crate) fn dequantize_constants(graph: &mut GraphProto) -> usize {
    let GraphProto { node: nodes, initializer, input, .. } = graph;
    // Initializers also listed as graph inputs (IR < 4, keep_initializers_as_inputs) are left to
    // tract: dropping one would leave a declared input without its value, which tract would then
    // treat as an input to feed.
    let inputs: HashSet<&str> = input.iter().map(|i| i.name.as_str()).collect();
    let constants: HashMap<&str, &TensorProto> =
        initializer.iter().filter(|t| !inputs.contains(t.name.as_str())).map(|t| (t.name.as_str(), t)).collect();
    let mut folded = Vec::new();
    nodes.retain(|node| match dequantized(&constants, node) {
        Some(tensor) => {
            folded.push(tensor);
            false
        }
        None => true,
    });
    let count = folded.len();
    if count > 0 {
        graph.initializer.extend(folded);
        let mut read = HashSet::new();
        names_read(graph, &mut read);
        graph.initializer.retain(|t| read.contains(&t.name));
    }
    count
}

/// Every value name a graph or its subgraphs (which may read outer initializers) reads, and the
/// graph's declared inputs and outputs.
fn names_read(graph: &GraphProto, read: &mut HashSet<String>) {
    read.extend(graph.output.iter().chain(&graph.input).map(|o| o.name.clone()));
    for node in &graph.node {
        read.extend(node.input.iter().cloned());
        for attr in &node.attribute {
            for sub in attr.g.iter().chain(&attr.graphs) {
                names_read(sub, read);
            }
        }
    }
}

/// The float32 result of one constant `DequantizeLinear`: `(x - zero_point) * scale`, per
/// tensor or per `axis`, computed in f32 exactly as tract does.
fn dequantized(constants: &HashMap<&str, &TensorProto>, node: &NodeProto) -> Option<TensorProto> {
    let initializer = |name: &str| constants.get(name).copied();
    if node.op_type != "DequantizeLinear" || !node.domain.is_empty() || node.output.len() != 1 {
        return None;
    }
    // Only the attribute every opset has; blocked quantization or an output type are tract's.
    if node.attribute.iter().any(|a| a.name != "axis") {
        return None;
    }
    let x = initializer(node.input.first()?)?;
    let scale = floats(initializer(node.input.get(1)?)?)?;
    let values = integers(x)?;
    let zero_point = match node.input.get(2).filter(|n| !n.is_empty()) {
        Some(name) => {
            let zp = initializer(name)?;
            if zp.data_type != x.data_type {
                return None;
            }
            integers(zp)?
        }
        None => vec![0.0],
    };
    let dims: Vec<usize> = x.dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
    if Some(values.len()) != dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        return None;
    }
    // Per-tensor (one scale) or per-axis (one per index along `axis`).
    let rank = dims.len() as i64;
    let axis = node.attribute.iter().find(|a| a.name == "axis").map_or(1, |a| a.i);
    let axis = if axis < 0 { axis + rank } else { axis };
    let (len, inner) = if scale.len() == 1 && zero_point.len() == 1 {
        (1, values.len().max(1))
    } else {
        let axis = usize::try_from(axis).ok().filter(|&a| a < dims.len())?;
        if scale.len() != dims[axis] || (zero_point.len() != 1 && zero_point.len() != dims[axis]) {
            return None;
        }
        (dims[axis], dims[axis + 1..].iter().product())
    };
    // One 4-byte store per value into a buffer sized once (this runs on every weight).
    let mut raw = vec![0u8; values.len() * 4];
    let mut out = raw.chunks_exact_mut(4);
    for (block, chunk) in values.chunks(inner.max(1)).enumerate() {
        let channel = block % len;
        let (zp, s) = (zero_point[if zero_point.len() == 1 { 0 } else { channel }], scale[channel]);
        for (v, bytes) in chunk.iter().zip(&mut out) {
            bytes.copy_from_slice(&((v - zp) * s).to_le_bytes());
        }
    }
    Some(TensorProto {
        name: node.output[0].clone(),
        dims: x.dims.clone(),
        data_type: DataType::Float as i32,
        raw_data: raw,
        ..Default::default()
    })
}

/// Stored inline (not external), as raw little-endian bytes or the typed field.
fn inline(t: &TensorProto) -> bool {
    t.data_location.unwrap_or(0) == 0 && t.external_data.is_empty() && t.segment.is_none()
}

fn floats(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != DataType::Float as i32 || !inline(t) {
        return None;
    }
    if t.raw_data.is_empty() {
        return Some(t.float_data.clone());
    }
    (t.raw_data.len() % 4 == 0).then(|| t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// int8, uint8 or int32 values as f32 (exact: all fit in 24 bits or are small in practice;
/// int32 biases are converted exactly as tract converts them, `as f32`).
fn integers(t: &TensorProto) -> Option<Vec<f32>> {
    if !inline(t) {
        return None;
    }
    let raw = &t.raw_data;
    let from_raw = !raw.is_empty();
    match DataType::try_from(t.data_type).ok()? {
        DataType::Int8 if from_raw => Some(raw.iter().map(|&b| b as i8 as f32).collect()),
        DataType::Uint8 if from_raw => Some(raw.iter().map(|&b| b as f32).collect()),
        DataType::Int32 if from_raw => (raw.len() % 4 == 0)
            .then(|| raw.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32).collect()),
        DataType::Int8 | DataType::Uint8 | DataType::Int32 => Some(t.int32_data.iter().map(|&v| v as f32).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::AttributeProto;

    fn node(op_type: &str, inputs: &[&str], output: &str) -> NodeProto {
        NodeProto {
            op_type: op_type.into(),
            input: inputs.iter().map(|i| i.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        }
    }

    fn tensor(name: &str, data_type: DataType, dims: &[i64], raw_data: Vec<u8>) -> TensorProto {
        TensorProto { name: name.into(), data_type: data_type as i32, dims: dims.to_vec(), raw_data, ..Default::default() }
    }

    /// Per-axis int8 weights (axis 0, two channels) become float32 `(x - zp) * scale`; the
    /// quantized initializers go, an activation `DequantizeLinear` stays.
    #[test]
    fn folds_constant_per_axis_weights() {
        let scale: Vec<u8> = [0.5f32, 0.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut graph = GraphProto {
            initializer: vec![
                tensor("w_q", DataType::Int8, &[2, 3], [-3i8, 0, 5, 127, -128, 1].iter().map(|&v| v as u8).collect()),
                tensor("w_scale", DataType::Float, &[2], scale),
                tensor("w_zp", DataType::Int8, &[2], vec![1, 0]),
            ],
            node: vec![
                NodeProto {
                    attribute: vec![AttributeProto { name: "axis".into(), i: 0, ..Default::default() }],
                    ..node("DequantizeLinear", &["w_q", "w_scale", "w_zp"], "w")
                },
                node("DequantizeLinear", &["x_q", "w_scale"], "x"),
                node("MatMul", &["x", "w"], "y"),
            ],
            ..Default::default()
        };
        assert_eq!(dequantize_constants(&mut graph), 1);
        assert_eq!(graph.node.len(), 2, "the activation's DequantizeLinear is tract's");
        let names: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["w_scale", "w"], "w_q and w_zp are no longer read; w_scale still is");
        let w = &graph.initializer[1];
        assert_eq!((w.data_type, w.dims.as_slice()), (DataType::Float as i32, [2i64, 3].as_slice()));
        let values: Vec<f32> = w.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(values, [-2.0, -0.5, 2.0, 31.75, -32.0, 0.25]);
    }

    /// An initializer that is also listed as a graph input is left to tract (not folded, not dropped).
    #[test]
    fn leaves_initializers_listed_as_inputs() {
        let scale = 0.5f32.to_le_bytes().to_vec();
        let mut graph = GraphProto {
            initializer: vec![tensor("w_q", DataType::Int8, &[2], vec![3, 4]), tensor("s", DataType::Float, &[], scale)],
            input: vec![tract_onnx::pb::ValueInfoProto { name: "w_q".into(), ..Default::default() }],
            node: vec![node("DequantizeLinear", &["w_q", "s"], "w")],
            ..Default::default()
        };
        assert_eq!(dequantize_constants(&mut graph), 0);
        assert_eq!(graph.initializer.len(), 2);
    }
}
