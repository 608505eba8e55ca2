//! `Loop`: runs its body while the trip count and the condition allow, threading the loop-carried
//! values from one iteration to the next and stacking the scan outputs (what tf2onnx writes for
//! `tf.while_loop`, and exports write for loops over a sequence).
//!
//! The body is planned for the shapes of each iteration's inputs, and the plan kept: carried
//! values usually keep their shapes, so one plan serves every iteration and every run. The trip
//! count is known only when the loop ends: the scan outputs' first dim is a symbol the run binds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::plan::SimplePlan;
use tract_onnx::tract_core::model::TypedRunnableModel;
use tract_onnx::tract_hir::internal::*;

use crate::engine::optimizer;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let body = ctx.parse_graph(node.get_attr::<&GraphProto>("body")?)?;
    let present = |ix: usize| node.input.get(ix).is_some_and(|name| !name.is_empty());
    let carried = node.input.len().saturating_sub(2);
    let formal = 2 + carried;
    let body_inputs = body.model.input_outlets()?.len();
    // Inputs beyond `formal` are the outer values the body reads (`unresolved_inputs`).
    let body_outputs = body.model.output_outlets()?.len();
    ensure!(body_inputs >= formal, "Loop: the body takes {body_inputs} inputs, fewer than the {formal} it is given");
    ensure!(body_outputs >= 1 + carried, "Loop: the body gives {body_outputs} outputs, fewer than 1 + {carried} carried");
    let op = Loop {
        body: body.model,
        has_trip_count: present(0),
        has_condition: present(1),
        carried,
        scans: body_outputs - 1 - carried,
    };
    Ok((Box::new(op), body.unresolved_inputs))
}

#[derive(Debug, Clone)]
struct Loop {
    body: InferenceModel,
    has_trip_count: bool,
    has_condition: bool,
    /// The body's outputs after the condition: loop-carried values, then scan outputs. Its
    /// inputs: counter, condition, the carried values, then the outer values it reads.
    carried: usize,
    scans: usize,
}

impl PartialEq for Loop {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for Loop {}

impl Loop {
    /// Where the node's inputs start: trip count and condition are present or not.
    fn first_carried(&self) -> usize {
        self.has_trip_count as usize + self.has_condition as usize
    }

    /// The body's output facts on an iteration: counter `counter`, carried values and closures
    /// as `outer` (carried first). None where the body cannot be analysed for them.
    fn iteration(&self, counter: i64, outer: &[InferenceFact]) -> Option<TVec<InferenceFact>> {
        let mut body = self.body.clone();
        body.set_input_fact(0, InferenceFact::from(tensor0(counter))).ok()?;
        body.set_input_fact(1, InferenceFact::dt_shape(bool::datum_type(), TVec::<usize>::new())).ok()?;
        for (ix, fact) in outer.iter().enumerate() {
            body.set_input_fact(2 + ix, fact.clone()).ok()?;
        }
        body.analyse(false).ok()?;
        (0..1 + self.carried + self.scans).map(|ix| body.output_fact(ix).ok().cloned()).collect()
    }

    /// Each output's type and shape as far as the first two iterations settle them: a dim both
    /// agree on (and, for a carried value, its initial size) is fixed, any other is None.
    fn output_shapes(&self, outer: &[InferenceFact]) -> Vec<(Option<DatumType>, Option<TVec<Option<TDim>>>)> {
        let first = self.iteration(0, outer);
        let second = first.as_ref().and_then(|first| {
            let carried: TVec<InferenceFact> =
                first[1..1 + self.carried].iter().cloned().chain(outer[self.carried..].iter().cloned()).collect();
            self.iteration(1, &carried)
        });
        let dims = |fact: Option<&InferenceFact>| -> Option<TVec<Option<TDim>>> {
            let fact = fact?;
            let rank = fact.shape.rank().concretize()? as usize;
            Some((0..rank).map(|axis| fact.shape.dim(axis).and_then(|d| d.concretize())).collect())
        };
        let agree = |sets: &[Option<TVec<Option<TDim>>>]| -> Option<TVec<Option<TDim>>> {
            let known: Vec<&TVec<Option<TDim>>> = sets.iter().flatten().collect();
            let rank = known.first()?.len();
            if known.iter().any(|d| d.len() != rank) {
                return None;
            }
            Some((0..rank).map(|axis| {
                let first = known[0][axis].clone()?;
                (sets.iter().all(|set| set.as_ref().is_some_and(|d| d[axis].as_ref() == Some(&first)))).then_some(first)
            }).collect())
        };
        fn output(iteration: &Option<TVec<InferenceFact>>, ix: usize) -> Option<&InferenceFact> {
            iteration.as_ref().map(|o| &o[ix])
        }
        let mut shapes = Vec::new();
        for ix in 0..self.carried {
            let dt = output(&first, 1 + ix).and_then(|f| f.datum_type.concretize()).or_else(|| outer[ix].datum_type.concretize());
            shapes.push((dt, agree(&[dims(Some(&outer[ix])), dims(output(&first, 1 + ix)), dims(output(&second, 1 + ix))])));
        }
        for ix in 0..self.scans {
            let at = 1 + self.carried + ix;
            let dt = output(&first, at).and_then(|f| f.datum_type.concretize());
            let each = agree(&[dims(output(&first, at)), dims(output(&second, at))]);
            // The first dim counts the iterations: known once the loop has run.
            shapes.push((dt, each.map(|d| std::iter::once(None).chain(d).collect())));
        }
        shapes
    }

    fn kernel(&self) -> LoopKernel {
        LoopKernel {
            body: self.body.clone(),
            has_trip_count: self.has_trip_count,
            has_condition: self.has_condition,
            carried: self.carried,
            scans: self.scans,
            facts: tvec![],
            plans: Arc::default(),
        }
    }
}

impl Op for Loop {
    fn name(&self) -> StaticName {
        "Loop".into()
    }

    not_a_typed_op!();
}

impl EvalOp for Loop {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.kernel().run(inputs)
    }
}

impl InferenceOp for Loop {
    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        let inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
        let mut outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
        let outer = &inputs[self.first_carried()..];
        for (ix, (dt, shape)) in self.output_shapes(outer).into_iter().enumerate() {
            if let Some(dt) = dt {
                outputs[ix].datum_type.unify_with(&dt.into())?;
            }
            if let Some(dims) = shape {
                outputs[ix].shape.unify_with(&ShapeFactoid::closed(
                    dims.into_iter().map(|d| d.map(GenericFactoid::Only).unwrap_or_default()).collect(),
                ))?;
            }
        }
        Ok((inputs, outputs, observed.into_iter().cloned().collect()))
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.carried + self.scans)
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let mut kernel = self.kernel();
        let trips = target.symbols.new_with_prefix("trips");
        for ix in 0..self.carried + self.scans {
            // What `infer_facts` settled; dims it left open (they differ between iterations, or
            // count them) become symbols the run binds.
            let fact = source.outlet_fact(OutletId::new(node.id, ix))?;
            let dt = fact.datum_type.concretize().context("Loop: an output's type is unknown")?;
            let rank = fact.shape.rank().concretize().context("Loop: an output whose rank the body does not settle")?;
            let dims: TVec<TDim> = (0..rank as usize)
                .map(|axis| match fact.shape.dim(axis).and_then(|d| d.concretize()) {
                    Some(d) => d,
                    None if ix >= self.carried && axis == 0 => trips.to_dim(),
                    None => target.symbols.new_with_prefix("loop").to_dim(),
                })
                .collect();
            kernel.facts.push(dt.fact(dims));
        }
        let inputs: TVec<OutletId> = node.inputs.iter().map(|o| mapping[o]).collect();
        target.wire_node(&*node.name, kernel, &inputs)
    }

    as_op!();
}

/// The typed op: the body, its output facts, and the body's plans by input shapes.
#[derive(Debug, Clone)]
struct LoopKernel {
    body: InferenceModel,
    has_trip_count: bool,
    has_condition: bool,
    carried: usize,
    scans: usize,
    facts: TVec<TypedFact>,
    plans: Arc<Mutex<HashMap<Vec<(DatumType, TVec<usize>)>, Arc<TypedRunnableModel>>>>,
}

impl PartialEq for LoopKernel {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for LoopKernel {}

impl LoopKernel {
    /// The body planned for these inputs' types and shapes.
    fn plan(&self, feeds: &[TValue]) -> TractResult<Arc<TypedRunnableModel>> {
        let key: Vec<(DatumType, TVec<usize>)> = feeds.iter().map(|t| (t.datum_type(), t.shape().into())).collect();
        let mut plans = self.plans.lock().map_err(|_| format_err!("Loop: a body plan panicked"))?;
        if let Some(plan) = plans.get(&key) {
            return Ok(plan.clone());
        }
        let mut body = self.body.clone();
        for (ix, (dt, shape)) in key.iter().enumerate() {
            body.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape.clone()))?;
        }
        let mut typed = body.into_typed()?;
        optimizer::declutter(&mut typed)?;
        // As for the whole model (engine/model.rs): run-time bounded slices leave orphaned symbols.
        let mut typed = crate::engine::symbols::rebind_orphans(typed)?;
        optimizer::optimize(&mut typed)?;
        let plan = SimplePlan::new(typed)?;
        plans.insert(key, plan.clone());
        Ok(plan)
    }

    fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut at = 0;
        let mut next = || {
            at += 1;
            inputs[at - 1].clone()
        };
        let trips = if self.has_trip_count { next().cast_to_scalar::<i64>()? } else { i64::MAX };
        let mut condition = if self.has_condition { next().cast_to_scalar::<bool>()? } else { true };
        let mut carried: Vec<TValue> = (0..self.carried).map(|_| next()).collect();
        let closures: Vec<TValue> = inputs[at..].to_vec();
        let mut scans: Vec<Vec<TValue>> = vec![Vec::new(); self.scans];
        let mut i = 0i64;
        while i < trips && condition {
            let feeds: TVec<TValue> = [tensor0(i).into_tvalue(), tensor0(condition).into_tvalue()]
                .into_iter()
                .chain(carried.iter().cloned())
                .chain(closures.iter().cloned())
                .collect();
            let mut outputs = self.plan(&feeds)?.run(feeds)?.into_iter();
            condition = outputs.next().context("Loop: the body gave no condition")?.cast_to_scalar::<bool>()?;
            for value in carried.iter_mut() {
                *value = outputs.next().context("Loop: the body gave too few outputs")?;
            }
            for (scan, value) in scans.iter_mut().zip(outputs) {
                scan.push(value);
            }
            i += 1;
        }
        let mut results: TVec<TValue> = carried.into_iter().collect();
        for (ix, scan) in scans.into_iter().enumerate() {
            results.push(if scan.is_empty() {
                // No iteration ran: an empty stack of the body's output shape, where it is known.
                // (Evaluated outside a plan, as when folding constants, there are no facts.)
                let fact = self.facts.get(self.carried + ix).context("Loop: no iteration ran and the output's shape is unknown")?;
                let mut shape: TVec<usize> = fact.shape.iter().map(|d| d.to_usize().unwrap_or(0)).collect();
                if let Some(first) = shape.first_mut() {
                    *first = 0;
                }
                Tensor::zero_dt(fact.datum_type, &shape)?.into_tvalue()
            } else {
                // Each iteration's value becomes one row of a new first axis.
                let rows = scan
                    .into_iter()
                    .map(|t| {
                        let mut t = t.into_tensor();
                        t.insert_axis(0)?;
                        Ok(t)
                    })
                    .collect::<TractResult<Vec<_>>>()?;
                Tensor::stack_tensors(0, &rows)?.into_tvalue()
            });
        }
        Ok(results)
    }
}

impl Op for LoopKernel {
    fn name(&self) -> StaticName {
        "Loop".into()
    }

    fn mints_runtime_symbols(&self) -> bool {
        true
    }

    op_as_typed_op!();
}

impl EvalOp for LoopKernel {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.run(inputs)
    }
}

impl TypedOp for LoopKernel {
    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(self.facts.clone())
    }

    as_op!();
}
