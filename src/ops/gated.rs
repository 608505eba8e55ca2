//! Self-gated activations, `y = post(x * pre(x))` with `pre` and `post` chains of arithmetic by
//! constants: hard-swish in each of the forms exporters write it (`x * Clip(x + 3, 0, 6) / 6`
//! from Paddle, `x * (ReLU6(x + 3) * (1/6))` from tf2onnx, with PP-LCNet's learnable scale and
//! bias after it), and any other activation of that shape, as one pass over `x`.
//!
//! The kernel is webinfer-kernels' `gated`, built at opt-level 3.
//!
//! Why: tract fuses each side of the gate into a chain of its own (`OptBinChain(Add+Max+Min)`,
//! then `OptBinChain(Mul+Mul)`), and since `x` feeds both, it copies `x` for the first chain, then
//! walks memory once more for the second. On PP-OCR's recognizer (Chromium, run 19) those two
//! chains took 4.4 ms of 65, on its direction classifier 0.43 of 3.3: the MobileNetV3 family's
//! activation. Here the steps run on a block of values held in registers, `x` read once, written
//! in place, and each step is the IEEE operation tract's node would compute: tract's values, bit
//! for bit.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math::{Add, Max, Min, Mul, Recip, Sub};

use webinfer_kernels::gated::{self, Step};

use super::{parallel, Compute, Kernel};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GatedActivation {
    /// In order; exactly one [`Step::Gate`].
    steps: Vec<Step>,
}

impl Eq for GatedActivation {}

/// Values per unit of work on the threaded build's pool: smaller tensors stay on one thread.
const SPLIT: usize = 16 * 1024;

impl Compute for GatedActivation {
    fn name(&self) -> StaticName {
        "GatedActivation".into()
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut inputs = inputs;
        let mut x = inputs.remove(0).into_tensor();
        {
            let mut plain = x.try_as_plain_ram_mut()?;
            parallel::split_chunks_mut(plain.as_slice_mut::<f32>()?, SPLIT, |_, part| gated::run(part, &self.steps));
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

/// The f32 arithmetic node `node` as a step on its non-constant input, which it returns: a
/// reciprocal, or an operation with one constant value broadcast to the output's shape. (tract's
/// declutter has made a float division a product with a reciprocal.)
fn constant_step(model: &TypedModel, node: &TypedNode) -> TractResult<Option<(Step, OutletId)>> {
    if let Some(unary) = node.op_as::<ElementWiseOp>() {
        let input = model.outlet_fact(node.inputs[0])?;
        let f32_in_and_out = input.datum_type == f32::datum_type() && unary.1.is_none_or(|dt| dt == f32::datum_type());
        return Ok(
            (unary.0.is::<Recip>() && f32_in_and_out && input.konst.is_none()).then(|| (Step::Recip, node.inputs[0]))
        );
    }
    let Some(bin) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    if node.inputs.len() != 2 || bin.1.is_some_and(|dt| dt != f32::datum_type()) {
        return Ok(None);
    }
    let facts = [model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?];
    let Some(side) = facts.iter().position(|f| f.konst.as_ref().is_some_and(|k| k.len() == 1)) else {
        return Ok(None);
    };
    let (konst, running) = (facts[side].konst.as_ref().expect("found above"), facts[1 - side]);
    if konst.datum_type() != f32::datum_type()
        || running.datum_type != f32::datum_type()
        || running.konst.is_some()
        || model.outlet_fact(OutletId::new(node.id, 0))?.shape != running.shape
    {
        return Ok(None);
    }
    let c = konst.try_as_plain_ram()?.as_slice::<f32>()?[0];
    let first = side == 1; // the running value is the left operand
    let op = &bin.0;
    let step = if op.is::<Add>() {
        Step::Add(c)
    } else if op.is::<Mul>() {
        Step::Mul(c)
    } else if op.is::<Sub>() {
        if first {
            Step::Sub(c)
        } else {
            Step::SubFrom(c)
        }
    } else if op.is::<Max>() && !c.is_nan() {
        Step::Max(c)
    } else if op.is::<Min>() && !c.is_nan() {
        Step::Min(c)
    } else {
        return Ok(None);
    };
    Ok(Some((step, node.inputs[1 - side])))
}

/// Whether `outlet`'s value has one reader and is not a model output: what can be folded into
/// the op that replaces its reader.
fn only_for(model: &TypedModel, outlet: OutletId) -> TractResult<bool> {
    Ok(!model.outputs.contains(&outlet) && model.outlet_successors(outlet).len() == 1)
}

/// The steps from `x` to `t`, when `t` is `x` through a chain of constant steps each read by the
/// next alone; `None` otherwise (or with no step at all).
fn chain_from(model: &TypedModel, x: OutletId, t: OutletId) -> TractResult<Option<Vec<Step>>> {
    let mut steps = vec![];
    let mut at = t;
    while at != x {
        let node = model.node(at.node);
        let Some((step, input)) = constant_step(model, node)? else { return Ok(None) };
        if at != t && !only_for(model, at)? {
            return Ok(None);
        }
        steps.push(step);
        at = input;
    }
    steps.reverse();
    Ok((!steps.is_empty()).then_some(steps))
}

/// Replaces each `x * pre(x)` (an f32 `Mul` of two same-shape values, one of them `x` through
/// constant steps) and the constant steps after it with one [`GatedActivation`]. Returns how many.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(bin) = node.op_as::<TypedBinOp>() else { return Ok(None) };
        if !bin.0.is::<Mul>() || node.inputs.len() != 2 || bin.1.is_some_and(|dt| dt != f32::datum_type()) {
            return Ok(None);
        }
        let [a, b] = [node.inputs[0], node.inputs[1]];
        let (fa, fb) = (model.outlet_fact(a)?, model.outlet_fact(b)?);
        if fa.datum_type != f32::datum_type() || fa.shape != fb.shape || a == b {
            return Ok(None);
        }
        // The gated side is read by this Mul alone.
        let mut found = None;
        for (x, t) in [(a, b), (b, a)] {
            if only_for(model, t)? {
                if let Some(steps) = chain_from(model, x, t)? {
                    found = Some((x, steps));
                    break;
                }
            }
        }
        let Some((x, mut steps)) = found else { return Ok(None) };
        steps.push(Step::Gate);
        // What follows the gate: constant steps, each the only reader of the one before.
        let mut last = node.id;
        while only_for(model, OutletId::new(last, 0))? {
            let next = model.outlet_successors(OutletId::new(last, 0))[0].node;
            match constant_step(model, model.node(next))? {
                Some((step, input)) if input == OutletId::new(last, 0) => {
                    steps.push(step);
                    last = next;
                }
                _ => break,
            }
        }
        Ok(Some(super::rewrite::replacing(model, node, Kernel(GatedActivation { steps }), x, last)?))
    })
}
