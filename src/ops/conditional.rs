//! `If`, planned for the branch it takes when the condition is known by then.
//!
//! Exporters turn shape tests into `If` nodes (PyTorch's `if x.size(-1) == 1: x = x.squeeze(-1)`),
//! whose branches then give different shapes, and the branch not taken may not even be valid for
//! the shapes at hand (a Squeeze of an axis that is not 1). tract's own `If` types and checks both
//! branches, and refuses branches whose outputs differ. Once input shapes are pinned (ahead, or
//! per feed: engine/specialize.rs) such a condition is a constant during analysis: this `If`
//! then analyses only the branch taken and plans it inline, as if the exporter had written it.
//! A condition known only at run time keeps tract's behaviour (both branches, same shapes).

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{GraphProto, NodeProto};
use tract_onnx::tract_core::ops::logic::IfThenElse;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let then = ctx.parse_graph(node.get_attr::<&GraphProto>("then_branch")?)?;
    let otherwise = ctx.parse_graph(node.get_attr::<&GraphProto>("else_branch")?)?;
    // The outer values either branch reads become the node's inputs after the condition.
    let mut outer: Vec<String> = then.unresolved_inputs.iter().chain(&otherwise.unresolved_inputs).cloned().collect();
    outer.sort();
    outer.dedup();
    let slots = |names: &[String]| names.iter().map(|n| 1 + outer.iter().position(|o| o == n).unwrap_or(0)).collect();
    let op = Conditional {
        then: Branch { inputs: slots(&then.unresolved_inputs), body: then.model },
        otherwise: Branch { inputs: slots(&otherwise.unresolved_inputs), body: otherwise.model },
    };
    ensure!(
        op.then.body.outputs.len() == op.otherwise.body.outputs.len(),
        "If: the then branch has {} outputs, the else branch {}",
        op.then.body.outputs.len(),
        op.otherwise.body.outputs.len()
    );
    Ok((Box::new(op), outer))
}

#[derive(Debug, Clone)]
struct Branch {
    body: InferenceModel,
    /// For each of the body's inputs, the node input it reads.
    inputs: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Conditional {
    then: Branch,
    otherwise: Branch,
}

impl PartialEq for Conditional {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Eq for Conditional {}

impl Conditional {
    fn taken(&self, cond: bool) -> &Branch {
        if cond { &self.then } else { &self.otherwise }
    }
}

/// The condition's value, when analysis has found it.
fn known(fact: &InferenceFact) -> TractResult<Option<bool>> {
    fact.value.concretize().map(|v| v.cast_to_scalar::<bool>()).transpose()
}

impl Op for Conditional {
    fn name(&self) -> StaticName {
        "If".into()
    }

    not_a_typed_op!();
}

impl EvalOp for Conditional {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let branch = self.taken(inputs[0].cast_to_scalar::<bool>()?);
        let feeds: TVec<TValue> = branch.inputs.iter().map(|&ix| inputs[ix].clone()).collect();
        branch.body.clone().into_runnable()?.run(feeds)
    }
}

impl InferenceOp for Conditional {
    fn infer_facts(
        &mut self,
        inputs: TVec<&InferenceFact>,
        outputs: TVec<&InferenceFact>,
        observed: TVec<&InferenceFact>,
    ) -> TractResult<(TVec<InferenceFact>, TVec<InferenceFact>, TVec<InferenceFact>)> {
        let mut inputs: TVec<InferenceFact> = inputs.into_iter().cloned().collect();
        let mut outputs: TVec<InferenceFact> = outputs.into_iter().cloned().collect();
        inputs[0].datum_type.unify_with(&bool::datum_type().into())?;
        loop {
            let mut changed = false;
            let cond = known(&inputs[0])?;
            for (branch, taken) in [(&mut self.then, cond != Some(false)), (&mut self.otherwise, cond != Some(true))] {
                if !taken {
                    continue; // may not even be valid for these shapes
                }
                for (body_ix, &outer) in branch.inputs.iter().enumerate() {
                    changed |= branch.body.input_fact_mut(body_ix)?.unify_with_mut(&mut inputs[outer])?;
                }
                for (ix, output) in outputs.iter_mut().enumerate() {
                    let fact = branch.body.output_fact_mut(ix)?;
                    changed |= if cond.is_some() {
                        fact.unify_with_mut(output)?
                    } else {
                        fact.datum_type.unify_with_mut(&mut output.datum_type)?
                    };
                }
                changed |= branch.body.analyse(false)?;
            }
            if cond.is_none() {
                // Both branches may run: an output's shape is what both agree on, if they do.
                for (ix, output) in outputs.iter_mut().enumerate() {
                    let both = self.then.body.output_fact(ix)?.shape.unify(&self.otherwise.body.output_fact(ix)?.shape);
                    if let Ok(shape) = both {
                        changed |= output.shape.unify_with(&shape)?;
                    }
                }
            }
            if !changed {
                return Ok((inputs, outputs, observed.into_iter().cloned().collect()));
            }
        }
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.then.body.outputs.len())
    }

    fn to_typed(
        &self,
        source: &InferenceModel,
        node: &InferenceNode,
        target: &mut TypedModel,
        mapping: &HashMap<OutletId, OutletId>,
    ) -> TractResult<TVec<OutletId>> {
        let outer: TVec<OutletId> = node.inputs.iter().map(|o| mapping[o]).collect();
        if let Some(cond) = known(source.outlet_fact(node.inputs[0])?)? {
            let branch = self.taken(cond);
            let body = branch.body.clone().into_typed()?;
            let feeds: Vec<OutletId> = branch.inputs.iter().map(|&ix| outer[ix]).collect();
            return inline(&body, &feeds, &node.name, target);
        }
        let op = IfThenElse {
            then_body: self.then.body.clone().into_typed()?,
            then_input_mapping: self.then.inputs.clone(),
            else_body: self.otherwise.body.clone().into_typed()?,
            else_input_mapping: self.otherwise.inputs.clone(),
        };
        target.wire_node(&*node.name, op, &outer)
    }

    as_op!();
}

/// Wires `body`'s nodes into `target`, its inputs read from `feeds`; returns its outputs there.
fn inline(body: &TypedModel, feeds: &[OutletId], prefix: &str, target: &mut TypedModel) -> TractResult<TVec<OutletId>> {
    let mut wired: HashMap<OutletId, OutletId> = body.input_outlets()?.iter().copied().zip(feeds.iter().copied()).collect();
    for id in body.eval_order()? {
        let node = &body.nodes[id];
        if node.op_is::<TypedSource>() {
            continue;
        }
        let inputs: TVec<OutletId> = node.inputs.iter().map(|i| wired[i]).collect();
        let name = target.unique_name(format!("{prefix}.{}", node.name));
        for (slot, outlet) in target.wire_node(name, node.op.clone(), &inputs)?.into_iter().enumerate() {
            wired.insert(OutletId::new(id, slot), outlet);
        }
    }
    body.output_outlets()?.iter().map(|o| wired.get(o).copied().context("If: a branch output was not wired")).collect()
}
