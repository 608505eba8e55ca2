//! Plans made at run time, for the feeds at hand, when no plan can be made before.
//!
//! tract types a node only when the parameters that decide its output's shape are known: the
//! `shape` of a Reshape, the `axes` of a Reduce, the `scales` of a Resize, the `pads` of a Pad.
//! A model that takes such a parameter as a graph input (ONNX allows it since opset 13-18, and
//! exporters emit it for run-time sizes) cannot be planned until a feed gives its value; and some
//! models with dynamic dims plan only once the dims are numbers. For those, the plan is made at
//! the first `run` with every input's shape pinned to its feed's and each such parameter baked in
//! as a constant, and kept: later runs with the same shapes and parameter values reuse it, as
//! onnxruntime-web reuses its per-shape kernels. A few plans are kept, most recent first.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::GraphProto;

use super::error::{Error, Result};
use super::model::Model;
use super::plan::Ready;
use super::tensor::Tensor;

/// Inputs of ONNX operators that tract needs as constants to type the node: (op, input slots).
const PARAMETER_SLOTS: &[(&str, &[usize])] = &[
    ("Reshape", &[1]),
    ("Expand", &[1]),
    ("Tile", &[1]),
    ("ConstantOfShape", &[0]),
    ("ReduceSum", &[1]),
    ("ReduceMean", &[1]),
    ("ReduceMax", &[1]),
    ("ReduceMin", &[1]),
    ("ReduceProd", &[1]),
    ("ReduceL1", &[1]),
    ("ReduceL2", &[1]),
    ("ReduceLogSum", &[1]),
    ("ReduceLogSumExp", &[1]),
    ("ReduceSumSquare", &[1]),
    ("Resize", &[1, 2, 3]),
    ("Upsample", &[1]),
    ("Pad", &[1, 2, 3]),
    ("Split", &[1]),
    ("Squeeze", &[1]),
    ("Unsqueeze", &[1]),
    ("Slice", &[1, 2, 3, 4]),
    ("CumSum", &[1]),
    ("TopK", &[1]),
    ("OneHot", &[1]),
    ("Range", &[0, 1, 2]),
    ("QuantizeLinear", &[1, 2]),
    ("DequantizeLinear", &[1, 2]),
    ("BatchNormalization", &[1, 2, 3, 4]),
    ("Compress", &[1]),
    ("DFT", &[1, 2]),
    ("STFT", &[1, 2, 3]),
    ("HannWindow", &[0]),
    ("HammingWindow", &[0]),
    ("BlackmanWindow", &[0]),
    ("MelWeightMatrix", &[0, 1, 2, 3, 4]),
    // webinfer's own operators (src/ops)
    ("AffineGrid", &[1]),
    ("CenterCropPad", &[1]),
    ("Col2Im", &[1, 2]),
    ("MaxUnpool", &[2]),
];

/// Names of the graph inputs that feed a parameter slot, directly or through `Cast`/`Identity`.
pub(crate) fn parameter_inputs(graph: &GraphProto) -> Vec<String> {
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&str> =
        graph.input.iter().map(|i| i.name.as_str()).filter(|n| !initializers.contains(n)).collect();
    let mut found: Vec<String> = Vec::new();
    for node in &graph.node {
        let Some((_, slots)) = PARAMETER_SLOTS.iter().find(|(op, _)| *op == node.op_type) else { continue };
        for &slot in *slots {
            let Some(name) = node.input.get(slot).filter(|n| !n.is_empty()) else { continue };
            let origin = forwarded_from(graph, name).to_string();
            if inputs.contains(&origin.as_str()) && !found.contains(&origin) {
                found.push(origin);
            }
        }
    }
    for name in settings_deciding_branches(graph) {
        if inputs.contains(&name.as_str()) && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// Graph inputs that are settings, not data (integer or boolean, at most 8 values: a sample
/// rate, a mode) and from which an `If` condition is computed. Baked in, they make the condition
/// a constant, and the plan holds only the branch taken (ops/conditional.rs): a model whose
/// branches differ in shape, or are only valid for some settings, plans at all.
fn settings_deciding_branches(graph: &GraphProto) -> Vec<String> {
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::type_proto;
    let is_setting = |info: &tract_onnx::pb::ValueInfoProto| {
        let Some(type_proto::Value::TensorType(t)) = info.r#type.as_ref().and_then(|t| t.value.as_ref()) else { return false };
        let integer = [DataType::Bool, DataType::Int8, DataType::Int16, DataType::Int32, DataType::Int64, DataType::Uint8]
            .iter()
            .any(|&d| t.elem_type == d as i32);
        let small = t.shape.as_ref().is_some_and(|s| {
            use tract_onnx::pb::tensor_shape_proto::dimension::Value;
            s.dim.len() <= 1 && s.dim.iter().all(|d| matches!(d.value, Some(Value::DimValue(v)) if v <= 8))
        });
        integer && small
    };
    let settings: Vec<&str> = graph.input.iter().filter(|i| is_setting(i)).map(|i| i.name.as_str()).collect();
    let producers: HashMap<&str, &tract_onnx::pb::NodeProto> =
        graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let mut found = Vec::new();
    for node in graph.node.iter().filter(|n| n.op_type == "If") {
        // Everything the condition is computed from, back to the graph's inputs.
        let mut pending: Vec<&str> = node.input.first().map(String::as_str).into_iter().collect();
        let mut seen: HashSet<&str> = HashSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name) {
                continue;
            }
            if settings.contains(&name) && !found.iter().any(|f| f == name) {
                found.push(name.to_string());
            }
            if let Some(producer) = producers.get(name) {
                pending.extend(producer.input.iter().map(String::as_str).filter(|i| !i.is_empty()));
            }
        }
    }
    found
}

/// Forgets the named dims (`batch`, `height`) of intermediate values' declared shapes, keeping
/// their types and fixed dims. They are hints, and tract holds them against the shapes it
/// infers: once an input is pinned (`inputShapes`, or a plan for concrete feeds), `batch` in a
/// `value_info` no longer unifies with the pinned 1 and planning fails, though the graph is fine.
/// The inputs' own named dims are kept: they say which dims are dynamic.
pub(crate) fn forget_value_info_symbols(graph: &mut GraphProto) {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value;
    use tract_onnx::pb::type_proto;
    for info in &mut graph.value_info {
        let Some(type_proto::Value::TensorType(t)) = info.r#type.as_mut().and_then(|t| t.value.as_mut()) else { continue };
        for dim in t.shape.iter_mut().flat_map(|s| s.dim.iter_mut()) {
            if matches!(dim.value, Some(Value::DimParam(_))) {
                dim.value = None;
            }
        }
    }
}

/// The value `name` forwards through pass-through nodes (`Cast`, `Identity`), or `name` itself.
fn forwarded_from<'a>(graph: &'a GraphProto, mut name: &'a str) -> &'a str {
    for _ in 0..graph.node.len() {
        let forwarding = graph.node.iter().find(|n| {
            matches!(n.op_type.as_str(), "Cast" | "Identity") && n.output.first().is_some_and(|o| o == name)
        });
        match forwarding.and_then(|n| n.input.first()) {
            Some(input) => name = input,
            None => break,
        }
    }
    name
}

/// How many plans a session keeps (shapes x parameter values it has seen most recently).
const KEPT: usize = 4;

/// What a plan is specialised for: every input's dims, and the values of the baked inputs.
#[derive(PartialEq)]
struct Key {
    dims: Vec<Vec<usize>>,
    values: Vec<Tensor>,
}

/// The model, unplanned, and the plans made from it so far.
pub(crate) struct Specializer {
    model: Model,
    limit: Option<u64>,
    /// Input positions whose values are baked in as constants.
    baked: Vec<usize>,
    plans: Vec<(Key, Ready)>,
}

impl Specializer {
    pub(crate) fn new(model: Model, limit: Option<u64>, baked: Vec<usize>) -> Specializer {
        Specializer { model, limit, baked, plans: Vec::new() }
    }

    /// Whether any input's value is baked in (else only shapes are pinned).
    pub(crate) fn bakes_values(&self) -> bool {
        !self.baked.is_empty()
    }

    /// The plan for these (checked, ordered) feeds: kept from an earlier run, or made now.
    pub(crate) fn plan_for(&mut self, feeds: &[Tensor]) -> Result<&mut Ready> {
        let key = Key {
            dims: feeds.iter().map(|t| t.dims.clone()).collect(),
            values: self.baked.iter().map(|&ix| feeds[ix].clone()).collect(),
        };
        match self.plans.iter().position(|(k, _)| *k == key) {
            Some(pos) => {
                let kept = self.plans.remove(pos);
                self.plans.push(kept);
            }
            None => {
                let ready = self.make(feeds).map_err(|e| match e {
                    Error::Plan { reason } => Error::Plan {
                        reason: format!("for inputs of dims {}: {reason}", describe(&key.dims)),
                    },
                    other => other,
                })?;
                if self.plans.len() == KEPT {
                    self.plans.remove(0);
                }
                self.plans.push((key, ready));
            }
        }
        Ok(&mut self.plans.last_mut().expect("just pushed").1)
    }

    fn make(&self, feeds: &[Tensor]) -> Result<Ready> {
        let mut model = self.model.clone();
        let names: Vec<String> = model.inputs().into_iter().map(|i| i.name).collect();
        for (name, feed) in names.iter().zip(feeds) {
            model.set_input_shape(name, &feed.dims)?;
        }
        for &ix in &self.baked {
            model.bake_input(ix, &feeds[ix])?;
        }
        model.plan_ready(self.limit)
    }
}

fn describe(dims: &[Vec<usize>]) -> String {
    dims.iter()
        .map(|d| format!("[{}]", d.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(", ")
}
