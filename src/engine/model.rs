//! Stage 1: load. Parse ONNX bytes, refuse what tract cannot run (naming the op), describe the
//! inputs and outputs as the file declares them, and let callers pin dynamic dims before planning.

use std::fmt;

use tract_onnx::pb::{tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, ValueInfoProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceNode};

use super::error::{Error, PanicStage, Result};
use super::specialize::{self, Specializer};
use super::tensor::Tensor;
use super::{float16, fold, guard, optimizer, symbols};
use crate::ops::{self, upsample};
use super::inspect::{parse_proto, unsupported_nodes};
use super::plan::{Plan, Ready};
use super::tensor::datum_name;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(usize),
    /// A named dynamic dim (`batch`), or an expression of them (`batch*2`).
    Symbol(String),
    /// The file says nothing about this dim.
    Unknown,
}

impl Dim {
    fn from_tdim(d: &TDim) -> Dim {
        match d.as_i64() {
            Some(v) if v >= 0 => Dim::Fixed(v as usize),
            _ => Dim::Symbol(d.to_string()),
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(v) => write!(f, "{v}"),
            Dim::Symbol(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// Name, element type and shape of a model input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// onnxruntime's name for the element type (`float32`, `int64`, ...), `None` if undeclared.
    pub dtype: Option<String>,
    /// `None` when even the rank is undeclared.
    pub dims: Option<Vec<Dim>>,
}

impl TensorInfo {
    pub(crate) fn new(name: String, dt: Option<DatumType>, dims: Option<Vec<Dim>>) -> TensorInfo {
        TensorInfo { name, dtype: dt.map(datum_name), dims }
    }

    /// `[1,3,224,224]`, `[batch,8]`, or `[..]` when the rank is unknown.
    pub fn shape_string(&self) -> String {
        match &self.dims {
            Some(dims) => format!("[{}]", dims.iter().map(Dim::to_string).collect::<Vec<_>>().join(",")),
            None => "[..]".to_string(),
        }
    }
}

fn inference_info(name: String, fact: &InferenceFact) -> TensorInfo {
    let dims = (!fact.shape.is_open()).then(|| {
        fact.shape.dims().map(|d| d.concretize().map_or(Dim::Unknown, |d| Dim::from_tdim(&d))).collect()
    });
    TensorInfo::new(name, fact.datum_type.concretize(), dims)
}

/// What a plan may need before it is refused: wasm32 addresses 4 GiB at most, and a browser tab
/// may get less, so a model needing more must fail with a message, not an out-of-memory trap.
/// Native builds have no limit.
pub const DEFAULT_MEMORY_LIMIT: Option<u64> = if cfg!(target_arch = "wasm32") { Some(2 << 30) } else { None };

/// Bytes of every tensor of known shape in the graph (weights included), saturating. Each dim
/// counts too, at 8 bytes per index: ops keep per-axis tables (a Resize's source coordinates), so
/// an empty tensor with one huge dim (a fuzzed Upsample scaled one axis by 5e8 and another by a
/// negative number) still needs gigabytes.
fn memory_estimate(model: &TypedModel) -> u64 {
    let mut total: u64 = 0;
    for node in &model.nodes {
        for output in &node.outputs {
            let fact = &output.fact;
            let Some(shape) = fact.shape.as_concrete() else { continue };
            let volume = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)).unwrap_or(u64::MAX);
            let per_axis = shape.iter().fold(0u64, |acc, &d| acc.saturating_add(d as u64)).saturating_mul(8);
            total = total.saturating_add(volume.saturating_mul(fact.datum_type.size_of() as u64)).saturating_add(per_axis);
        }
    }
    total
}

pub(crate) fn typed_info(name: String, fact: &TypedFact) -> TensorInfo {
    TensorInfo::new(name, Some(fact.datum_type), Some(fact.shape.dims().iter().map(Dim::from_tdim).collect()))
}

/// The declared tensor type (element type, shape) of an input or output, when the file has one.
pub(crate) fn tensor_type(value: &ValueInfoProto) -> Option<&type_proto::Tensor> {
    // Tensor is the only value type tract's protobuf knows.
    let type_proto::Value::TensorType(t) = value.r#type.as_ref()?.value.as_ref()?;
    Some(t)
}

/// An output as the ONNX file declares it (tract ignores declared output shapes for analysis,
/// so they are read from the protobuf).
pub(crate) fn declared_info(value: &ValueInfoProto) -> TensorInfo {
    let Some(t) = tensor_type(value) else {
        return TensorInfo::new(value.name.clone(), None, None);
    };
    let dt = DataType::try_from(t.elem_type).ok().and_then(|d| DatumType::try_from(d).ok());
    let dims = t.shape.as_ref().map(|shape| {
        shape
            .dim
            .iter()
            .map(|d| match &d.value {
                Some(dimension::Value::DimValue(v)) if *v >= 0 => Dim::Fixed(*v as usize),
                Some(dimension::Value::DimParam(p)) if !p.is_empty() && p != "?" => Dim::Symbol(p.clone()),
                _ => Dim::Unknown,
            })
            .collect()
    });
    TensorInfo::new(value.name.clone(), dt, dims)
}

/// The name an outlet carries in the ONNX file (its value name), else its node's name.
pub(crate) fn outlet_name<F, O>(model: &Graph<F, O>, outlet: OutletId) -> String
where
    F: Fact + Clone + 'static,
    O: fmt::Debug + fmt::Display + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    model.outlet_label(outlet).map_or_else(|| model.node(outlet.node).name.clone(), str::to_string)
}

/// Refuses graphs tract 0.23 accepts but computes wrongly: plausible wrong numbers are worse
/// than an error.
///
/// tract folds a chain DequantizeLinear -> op -> QuantizeLinear into a 256-entry lookup table,
/// which is only right when the op maps each value independently. It does not check that, so
/// a quantized Softmax becomes a table (every probability 1.0 on
/// tests/fixtures/models/qdq_softmax.onnx, where onnxruntime gives a proper distribution).
fn refuse_known_miscompilations(graph: &InferenceModel) -> Result<()> {
    const MIXES_VALUES: [&str; 2] = ["Softmax", "LogSoftmax"];
    let single_succ = |node: &InferenceNode| match node.outputs.as_slice() {
        [out] if out.successors.len() == 1 => Some(graph.node(out.successors[0].node)),
        _ => None,
    };
    for dequant in graph.nodes().iter().filter(|n| n.op.name() == "DequantizeLinear") {
        let mut mixing = None;
        let mut next = single_succ(dequant);
        while let Some(node) = next {
            let op = node.op.name();
            if op == "QuantizeLinear" {
                if let Some(node) = mixing {
                    return Err(quantized_mixing_op(node));
                }
                break;
            }
            if MIXES_VALUES.contains(&&*op) {
                mixing.get_or_insert(node);
            }
            next = single_succ(node);
        }
    }
    Ok(())
}

fn quantized_mixing_op(node: &InferenceNode) -> Error {
    let (op, name) = (node.op.name(), &node.name);
    Error::Plan {
        reason: format!(
            "node `{name}` is a quantized {op}, which tract 0.23 computes incorrectly; re-quantize the \
             model leaving {op} in float (onnxruntime quantize_static: nodes_to_exclude=[\"{name}\"])"
        ),
    }
}

/// The steps of planning, in order: shapes and types resolved (`Typed`), the graph simplified
/// to tract's core ops (`Decluttered`), kernels chosen and fused (`Optimized`), execution order
/// and state allocated (`Scheduled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Typed,
    Decluttered,
    Optimized,
    Scheduled,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Typed => "typed",
            Stage::Decluttered => "declutter",
            Stage::Optimized => "optimize",
            Stage::Scheduled => "schedule",
        }
    }
}

/// tract-onnx with webinfer's own operators (`src/ops`: those tract-onnx lacks).
pub(crate) fn front_end() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    ops::register(&mut onnx);
    onnx
}

/// A parsed model, before planning.
#[derive(Debug, Clone)]
pub struct Model {
    graph: InferenceModel,
    outputs: Vec<TensorInfo>,
    /// Whether feeds may hold NaN: only for models that test for it (`IsNaN`, `IsInf`), e.g. imputers
    /// that mark missing values with NaN. Elsewhere a NaN input is refused (see `Plan::run`).
    accepts_nan: bool,
    /// Positions of the inputs that set a shape, axes or scales (`specialize.rs`): the model is
    /// planned at run time with their values.
    parameter_inputs: Vec<usize>,
}

impl Model {
    /// Parses ONNX bytes. Fails on anything that is not a well-formed ONNX model, and on models
    /// using an operator tract lacks, naming the first such op and its node.
    pub fn load(bytes: &[u8]) -> Result<Model> {
        guard::catch(|| Model::load_unguarded(bytes))
            .unwrap_or_else(|message| Err(Error::Panic { stage: PanicStage::Loading, node: None, message }))
    }

    fn load_unguarded(bytes: &[u8]) -> Result<Model> {
        let onnx = front_end();
        let mut proto = parse_proto(&onnx, bytes)?;
        if let Some(first) = unsupported_nodes(&onnx, &proto).into_iter().next() {
            return Err(Error::UnsupportedOp { op: first.op, node: first.node });
        }
        let outputs = proto.graph.as_ref().map(|g| g.output.iter().map(declared_info).collect()).unwrap_or_default();
        if let Some(graph) = proto.graph.as_mut() {
            fold::dequantize_constants(graph);
            float16::compute_in_float32(graph);
            upsample::scales_as_input(graph);
            specialize::forget_value_info_symbols(graph);
        }
        let parameters = proto.graph.as_ref().map(specialize::parameter_inputs).unwrap_or_default();
        let graph = onnx.model_for_proto_model(&proto).map_err(Error::invalid_model)?;
        refuse_known_miscompilations(&graph)?;
        // NaN in a feed is an upstream bug, refused by name, unless the model reads it: tests for it,
        // or trees that send a missing feature down a branch of their own.
        let reads_nan = |op: &str| matches!(op, "IsNaN" | "IsInf" | "TreeEnsemble" | "TreeEnsembleRegressor" | "TreeEnsembleClassifier");
        let accepts_nan = proto.graph.as_ref().is_some_and(|g| g.node.iter().any(|n| reads_nan(&n.op_type)));
        let mut model = Model { graph, outputs, accepts_nan, parameter_inputs: Vec::new() };
        let names: Vec<String> = model.inputs().into_iter().map(|i| i.name).collect();
        model.parameter_inputs = names.iter().enumerate().filter(|(_, n)| parameters.contains(n)).map(|(ix, _)| ix).collect();
        Ok(model)
    }

    /// The parsed graph, for tests of the planning stages.
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub(crate) fn graph(&self) -> &InferenceModel {
        &self.graph
    }

    /// Inputs as declared, with any shapes pinned by `set_input_shape`.
    pub fn inputs(&self) -> Vec<TensorInfo> {
        let outlets = self.graph.input_outlets().unwrap_or_default();
        (0..outlets.len())
            .filter_map(|ix| Some(inference_info(outlet_name(&self.graph, outlets[ix]), self.graph.input_fact(ix).ok()?)))
            .collect()
    }

    /// Outputs as the file declares them.
    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    /// Pins an input's shape, replacing dynamic dims with concrete sizes, so the plan is
    /// specialised (and usually faster). Fixed dims the file declares must be kept.
    pub fn set_input_shape(&mut self, name: &str, dims: &[usize]) -> Result<()> {
        let inputs = self.inputs();
        let ix = inputs.iter().position(|i| i.name == name).ok_or_else(|| Error::UnknownInput {
            name: name.to_string(),
            inputs: inputs.iter().map(|i| i.name.clone()).collect(),
        })?;
        let declared = &inputs[ix];
        if let Some(expected) = &declared.dims {
            let fits = expected.len() == dims.len()
                && expected.iter().zip(dims).all(|(e, d)| !matches!(e, Dim::Fixed(v) if v != d));
            if !fits {
                return Err(Error::WrongShape {
                    input: name.to_string(),
                    expected: declared.shape_string(),
                    got: dims.to_vec(),
                });
            }
        }
        let mut fact = self.graph.input_fact(ix).map_err(Error::plan)?.clone();
        fact.shape = dims.iter().copied().collect::<TVec<usize>>().into();
        self.graph.set_input_fact(ix, fact).map_err(Error::plan)
    }

    /// Makes input `ix` a constant of value `value` for planning: the nodes it fed read the
    /// constant instead. The input stays, so feeds are unchanged (the plan checks it is fed).
    pub(crate) fn bake_input(&mut self, ix: usize, value: &Tensor) -> Result<()> {
        let outlet = self.graph.input_outlets().map_err(Error::plan)?[ix];
        let name = format!("{}.value", outlet_name(&self.graph, outlet));
        let constant = self.graph.add_const(name, value.to_tract()?).map_err(Error::plan)?;
        for inlet in self.graph.outlet_successors(outlet).to_vec() {
            self.graph.add_edge(constant, inlet).map_err(Error::plan)?;
        }
        Ok(())
    }

    /// Analyses, optimizes and schedules the model: the expensive step, done once per session.
    /// Refuses models needing more than [`DEFAULT_MEMORY_LIMIT`] (see [`Model::plan_within`]).
    pub fn plan(self) -> Result<Plan> {
        self.plan_within(DEFAULT_MEMORY_LIMIT)
    }

    /// [`Model::plan`], refusing the model when the tensors it declares once typed (weights and
    /// every intermediate result of known shape) add up to more than `limit` bytes. The sum is an
    /// upper bound of what a run holds at once, and it is checked before optimizing, so constant
    /// folding cannot allocate past it either. Tensors with dynamic dims cannot be sized here.
    pub fn plan_within(self, limit: Option<u64>) -> Result<Plan> {
        self.plan_observed(limit, |_| {})
    }

    /// [`Model::plan_within`], calling `done` as each [`Stage`] finishes, so a caller with a
    /// clock can see where planning time goes (`webinfer profile`, the page's load timings).
    ///
    /// A model that takes a shape, axes or scales as an input is planned at each run instead,
    /// for its feeds (`specialize.rs`); so is one whose dynamic dims tract cannot plan as symbols
    /// (a model without dynamic dims gets the planning error now).
    pub fn plan_observed(self, limit: Option<u64>, done: impl FnMut(Stage)) -> Result<Plan> {
        let (inputs, outputs, accepts_nan) = (self.inputs(), self.outputs.clone(), self.accepts_nan);
        if !self.parameter_inputs.is_empty() {
            let baked = self.parameter_inputs.clone();
            return Ok(Plan::per_feeds(Specializer::new(self, limit, baked), inputs, outputs, accepts_nan));
        }
        let dynamic = inputs.iter().any(|i| i.dims.as_ref().is_none_or(|d| d.iter().any(|d| !matches!(d, Dim::Fixed(_)))));
        let fallback = dynamic.then(|| self.clone());
        match self.plan_guarded(limit, done) {
            // The plan for concrete feeds, at the first run, reports its own failure if it has one.
            Err(Error::Plan { .. }) if fallback.is_some() => {
                let model = fallback.expect("checked");
                Ok(Plan::per_feeds(Specializer::new(model, limit, Vec::new()), inputs, outputs, accepts_nan))
            }
            other => other,
        }
    }

    /// Plans for concrete feeds (`specialize.rs`): every input pinned, parameters baked.
    pub(crate) fn plan_ready(self, limit: Option<u64>) -> Result<Ready> {
        self.plan_guarded(limit, |_| {})?.into_ready()
    }

    fn plan_guarded(self, limit: Option<u64>, done: impl FnMut(Stage)) -> Result<Plan> {
        // The model is consumed: a panic leaves nothing half-planned behind.
        guard::catch(|| self.plan_unguarded(limit, done))
            .unwrap_or_else(|message| Err(Error::Panic { stage: PanicStage::Planning, node: None, message }))
    }

    fn plan_unguarded(self, limit: Option<u64>, mut done: impl FnMut(Stage)) -> Result<Plan> {
        // tract's f32 matrix products and broadcast arithmetic run on webinfer's kernels in wasm
        // (webinfer-kernels).
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        webinfer_kernels::keep();
        // Names now, from the file: optimizing removes pass-through nodes (Identity, Dropout) and
        // moves the output's name onto the input it forwards.
        let names = |outlets: TractResult<&[OutletId]>| -> Vec<String> {
            outlets.unwrap_or_default().iter().map(|&o| outlet_name(&self.graph, o)).collect()
        };
        let names = (names(self.graph.input_outlets()), names(self.graph.output_outlets()));
        let mut typed = self.graph.into_typed().map_err(Error::plan)?;
        done(Stage::Typed);
        if let Some(limit) = limit {
            let need = memory_estimate(&typed);
            if need > limit {
                return Err(Error::TooLarge { need, limit });
            }
        }
        // webinfer's kernels replace tract's nodes in three passes (the lists: src/ops/mod.rs). QDQ
        // pairs are fused before declutter: it then walks a third fewer nodes on a QDQ model (int8
        // Lite0: 101 -> ~75 ms natively), and every pair is fused, input quantization included.
        ops::before_declutter(&mut typed).map_err(Error::plan)?;
        optimizer::declutter(&mut typed).map_err(Error::plan)?;
        // Declutter turns run-time bounded slices into DynSlices with orphaned length symbols.
        let mut typed = symbols::rebind_orphans(typed).map_err(Error::plan)?;
        // The convolutions after declutter, so tract has chosen the layout (depthwise channels last
        // in wasm), and after the fusion: they find quantized activations by their QuantDequant node.
        ops::after_declutter(&mut typed).map_err(Error::plan)?;
        done(Stage::Decluttered);
        optimizer::optimize(&mut typed).map_err(Error::plan)?;
        // Then the arithmetic optimize left on tract's generic broadcast.
        ops::after_optimize(&mut typed).map_err(Error::plan)?;
        done(Stage::Optimized);
        let plan = Plan::new(typed, names, self.accepts_nan)?;
        done(Stage::Scheduled);
        Ok(plan)
    }
}
