//! What a model file contains, without planning it: declared inputs and outputs, opsets, an op
//! histogram, and every node tract cannot run. The model tool and `webinfer inspect` use it to
//! refuse a model before publishing it, naming all the failing ops at once.

use std::collections::BTreeMap;

use tract_onnx::pb::ModelProto;
use tract_onnx::Onnx;
use tract_onnx::prelude::*;

use super::digest::sha256_hex;
use super::error::{Error, Result};
use super::model::{declared_info, TensorInfo};

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
    let proto = onnx.proto_model_for_read(&mut &*bytes).map_err(Error::invalid_model)?;
    if proto.graph.is_none() {
        return Err(Error::InvalidModel { reason: "the file has no graph".into() });
    }
    Ok(proto)
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
            node: if n.name.is_empty() { n.output.first().cloned().unwrap_or_default() } else { n.name.clone() },
        })
        .collect()
}

pub fn inspect(bytes: &[u8]) -> Result<Inspection> {
    let onnx = tract_onnx::onnx();
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
