//! Stage 2: run. A plan is the optimized model plus the state tract reuses between runs
//! (buffers, resolved symbols), so a session pays the planning cost once (or once per feed
//! shapes, for the models `specialize.rs` handles).

use std::collections::{HashMap, HashSet};

use tract_onnx::prelude::*;

use tract_onnx::tract_core::internal::{EvalContext, OpState};

use super::error::{Error, PanicStage, Result};
use super::guard;
use super::model::{typed_info, Dim, TensorInfo};
use super::specialize::Specializer;
use super::tensor::{DType, Tensor, TensorData};

/// Time per run spent in one kind of optimized operator (`Plan::profile`).
#[derive(Debug, Clone)]
pub struct OpTime {
    /// tract's name for the operator after optimization (e.g. `OptMatMul`, `Im2col`).
    pub op: String,
    /// How many nodes of the plan run it.
    pub nodes: usize,
    /// Milliseconds per run, summed over those nodes.
    pub ms: f64,
}

/// A model ready to run: planned once (the usual case), or, for models that cannot be planned
/// before their feeds are known, planned per feed shapes and parameter values at run time
/// (`specialize.rs`).
pub struct Plan {
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    accepts_nan: bool,
    kind: Kind,
}

enum Kind {
    Ready(Box<Ready>),
    PerFeeds(Box<Specializer>),
}

/// One optimized model and the state tract reuses between its runs.
pub(crate) struct Ready {
    state: TypedSimpleState,
    /// Whether an output is dims (`Shape`, `Size`): only then does a run resolve symbols.
    dims_outputs: bool,
}

impl Plan {
    /// `names`: the inputs' and outputs' names as the file gives them, in tract's outlet order.
    pub(crate) fn new(model: TypedModel, names: (Vec<String>, Vec<String>), accepts_nan: bool) -> Result<Plan> {
        let describe = |outlets: &[OutletId], names: Vec<String>| -> Result<Vec<TensorInfo>> {
            if outlets.len() != names.len() {
                return Err(Error::plan(format!("optimizing changed the model's interface: {names:?}")));
            }
            outlets
                .iter()
                .zip(names)
                .map(|(&o, name)| Ok(typed_info(name, model.outlet_fact(o).map_err(Error::plan)?)))
                .collect()
        };
        let dims_outputs = model.output_outlets().map_err(Error::plan)?.iter().any(|&o| {
            model.outlet_fact(o).is_ok_and(|f| f.datum_type == DatumType::TDim)
        });
        let inputs = describe(model.input_outlets().map_err(Error::plan)?, names.0)?;
        let outputs = describe(model.output_outlets().map_err(Error::plan)?, names.1)?;
        let runnable = model.into_runnable().map_err(Error::plan)?;
        let state = TypedSimpleState::new(&runnable).map_err(Error::plan)?;
        Ok(Plan { inputs, outputs, accepts_nan, kind: Kind::Ready(Box::new(Ready { state, dims_outputs })) })
    }

    /// A plan made at each run for the feeds' shapes (and the values of the inputs
    /// `specializer` bakes in); `inputs` and `outputs` as the file declares them.
    pub(crate) fn per_feeds(
        specializer: Specializer,
        inputs: Vec<TensorInfo>,
        outputs: Vec<TensorInfo>,
        accepts_nan: bool,
    ) -> Plan {
        Plan { inputs, outputs, accepts_nan, kind: Kind::PerFeeds(Box::new(specializer)) }
    }

    pub(crate) fn into_ready(self) -> Result<Ready> {
        match self.kind {
            Kind::Ready(ready) => Ok(*ready),
            Kind::PerFeeds(_) => Err(Error::plan("the model could not be planned even for concrete inputs")),
        }
    }

    /// Inputs as planned: concrete where the file or `set_input_shape` fixed them.
    pub fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    /// How the plan was made: `"ahead"` (once, before the first run), `"per-shape"` (at run
    /// time for each new set of input shapes, when dynamic dims could not be planned as symbols)
    /// or `"per-value"` (at run time, with inputs that set shapes or axes baked in as constants).
    pub fn planning(&self) -> &'static str {
        match &self.kind {
            Kind::Ready(_) => "ahead",
            Kind::PerFeeds(s) if s.bakes_values() => "per-value",
            Kind::PerFeeds(_) => "per-shape",
        }
    }

    /// Runs the model on named feeds and returns named outputs, in the model's output order.
    /// Feeds are checked against the plan first, so a bad feed is an error, never a crash, and
    /// leaves the plan ready for the next call.
    pub fn run(&mut self, feeds: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
        let (ready, values) = self.ready_for(feeds)?;
        let symbols = if ready.dims_outputs { ready.symbols_of(&values) } else { SymbolValues::default() };
        let results = ready.run_guarded(values, tract_onnx::tract_core::plan::eval)?;
        self.outputs
            .iter()
            .zip(results.iter())
            .map(|(info, value)| Ok((info.name.clone(), Tensor::from_tract(&info.name, value, &symbols)?)))
            .collect()
    }

    /// Runs the model `runs` times and returns the time spent in each kind of operator, slowest
    /// first: where a run's time goes. `clock` gives milliseconds (`Instant` natively,
    /// `performance.now()` in a browser); its own cost is included, so read the shares.
    pub fn profile(&mut self, feeds: Vec<(String, Tensor)>, runs: usize, clock: impl Fn() -> f64) -> Result<Vec<OpTime>> {
        let (ready, values) = self.ready_for(feeds)?;
        let mut by_op: HashMap<String, (HashSet<usize>, f64)> = HashMap::new();
        for _ in 0..runs {
            ready.run_guarded(values.clone(), |ctx, state, node, inputs| {
                let start = clock();
                let outputs = tract_onnx::tract_core::plan::eval(ctx, state, node, inputs);
                let entry = by_op.entry(node.op().name().to_string()).or_default();
                entry.0.insert(node.id);
                entry.1 += clock() - start;
                outputs
            })?;
        }
        let mut times: Vec<OpTime> = by_op
            .into_iter()
            .map(|(op, (nodes, ms))| OpTime { op, nodes: nodes.len(), ms: ms / runs.max(1) as f64 })
            .collect();
        times.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok(times)
    }
    /// Checks the feeds, then returns the plan for them (made now if the model is planned per
    /// feeds) and the feeds as tract values.
    fn ready_for(&mut self, feeds: Vec<(String, Tensor)>) -> Result<(&mut Ready, TVec<TValue>)> {
        let feeds = self.check_feeds(feeds)?;
        let ready = match &mut self.kind {
            Kind::Ready(ready) => ready,
            Kind::PerFeeds(specializer) => specializer.plan_for(&feeds)?,
        };
        Ok((ready, tract_values(&feeds)?))
    }

    /// Matches feeds to inputs by name and checks type, rank, fixed dims, consistent dynamic
    /// dims and element count. Returns the feeds in the model's input order.
    fn check_feeds(&self, feeds: Vec<(String, Tensor)>) -> Result<Vec<Tensor>> {
        let mut slots: Vec<Option<Tensor>> = vec![None; self.inputs.len()];
        for (name, tensor) in feeds {
            let ix = self.inputs.iter().position(|i| i.name == name).ok_or_else(|| Error::UnknownInput {
                name: name.clone(),
                inputs: self.inputs.iter().map(|i| i.name.clone()).collect(),
            })?;
            if slots[ix].replace(tensor).is_some() {
                return Err(Error::DuplicateInput { name });
            }
        }
        let mut symbols: HashMap<&str, usize> = HashMap::new();
        self.inputs
            .iter()
            .zip(slots)
            .map(|(info, slot)| {
                let tensor = slot.ok_or_else(|| Error::MissingInput { name: info.name.clone() })?;
                check_one(info, &tensor, &mut symbols)?;
                if !self.accepts_nan {
                    check_no_nan(info, &tensor)?;
                }
                Ok(tensor)
            })
            .collect()
    }
}

impl Ready {
    /// The values feeds give the symbols of the inputs' shapes (`batch` = 5): outputs that are
    /// dims (`Shape` of a dynamic input) become numbers with them.
    fn symbols_of(&self, values: &[TValue]) -> SymbolValues {
        let mut symbols = SymbolValues::default();
        let model = self.state.model();
        for (ix, value) in values.iter().enumerate() {
            let Ok(fact) = model.input_fact(ix) else { continue };
            for (dim, &size) in fact.shape.iter().zip(value.shape()) {
                if let TDim::Sym(symbol) = dim {
                    symbols.set(symbol, size as i64);
                }
            }
        }
        symbols
    }

    /// One run of the plan, each node through `eval`. A panic inside tract becomes
    /// [`Error::Panic`] naming the node it happened in, and the run's state (half-written
    /// values, resolved symbols, op states) is rebuilt from the plan, so the next run starts
    /// clean.
    fn run_guarded<E>(&mut self, values: TVec<TValue>, mut eval: E) -> Result<TVec<TValue>>
    where
        E: for<'a, 'b, 'c> FnMut(
            &'a EvalContext<'a>,
            Option<&'b mut (dyn OpState + 'static)>,
            &'c TypedNode,
            TVec<TValue>,
        ) -> TractResult<TVec<TValue>>,
    {
        let mut current = None;
        let state = &mut self.state;
        let outcome = guard::catch(|| {
            state.run_plan_with_eval(values, |ctx, op_state, node, inputs| {
                current = Some(node.id);
                eval(ctx, op_state, node, inputs)
            })
        });
        match outcome {
            Ok(result) => result.map_err(Error::run),
            Err(message) => {
                let node = current.map(|id| {
                    let node = self.state.model().node(id);
                    format!("`{}` ({})", node.name, node.op().name())
                });
                self.state = TypedSimpleState::new(self.state.plan()).map_err(Error::run)?;
                Err(Error::Panic { stage: PanicStage::Running, node, message })
            }
        }
    }
}

/// Checked feeds as tract values, in the model's input order.
fn tract_values(feeds: &[Tensor]) -> Result<TVec<TValue>> {
    feeds.iter().map(|t| Ok(t.to_tract()?.into_tvalue())).collect()
}

fn check_one<'a>(info: &'a TensorInfo, tensor: &Tensor, symbols: &mut HashMap<&'a str, usize>) -> Result<()> {
    let expected_type = info.dtype.as_deref().unwrap_or("?");
    if DType::from_name(expected_type) != Some(tensor.dtype()) {
        return Err(Error::WrongType {
            input: info.name.clone(),
            expected: expected_type.to_string(),
            got: tensor.dtype().name().to_string(),
        });
    }
    let wrong_shape =
        || Error::WrongShape { input: info.name.clone(), expected: info.shape_string(), got: tensor.dims.clone() };
    // An input whose rank the model leaves open takes any shape; tract checks it while running.
    let dims = info.dims.as_deref().unwrap_or(&[]);
    if info.dims.is_some() && dims.len() != tensor.dims.len() {
        return Err(wrong_shape());
    }
    for (dim, &size) in dims.iter().zip(&tensor.dims) {
        match dim {
            Dim::Fixed(v) if *v != size => return Err(wrong_shape()),
            // The same symbol must take one value across all inputs of a run.
            Dim::Symbol(s) if *symbols.entry(s.as_str()).or_insert(size) != size => return Err(wrong_shape()),
            _ => {}
        }
    }
    let expected = tensor.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(tensor.data.len()) {
        return Err(Error::WrongLength {
            input: info.name.clone(),
            dims: tensor.dims.clone(),
            expected: expected.unwrap_or(usize::MAX),
            got: tensor.data.len(),
        });
    }
    Ok(())
}

/// NaN is refused rather than passed on (unless the model tests for it, `IsNaN`): tract's Relu
/// and Clip turn it into a number where onnxruntime propagates it, so the result would look
/// valid and be wrong. Infinities pass (attention masks use -inf) and behave as in onnxruntime.
fn check_no_nan(info: &TensorInfo, tensor: &Tensor) -> Result<()> {
    if let TensorData::F32(values) = &tensor.data {
        if let Some(flat) = values.iter().position(|v| v.is_nan()) {
            return Err(Error::NotANumber { input: info.name.clone(), index: unravel(flat, &tensor.dims) });
        }
    }
    Ok(())
}

/// The multi-dimensional index of a flat (row-major) position.
fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut index = vec![0; dims.len()];
    for (slot, &d) in index.iter_mut().zip(dims).rev() {
        *slot = flat % d;
        flat /= d;
    }
    index
}
