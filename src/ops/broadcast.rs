//! Broadcast `Add`, `Mul`, `Sub`, `Min` and `Max` whose smaller operand repeats along the
//! leading axes of the larger one: a per-channel scale or bias in channels-last layout
//! (`[1, H, W, C]` by `[1, 1, 1, C]`), a row added to every row, at any length.
//!
//! Why: tract runs such a node on a kernel (`OptBinUnicast`) only when the repeated run is longer
//! than 32 values and a multiple of the vector size; otherwise it keeps the generic broadcast,
//! which walks both operands element by element through strided iterators. Once tract moves a
//! MobileNetV3-style network to channels last (its depthwise convolutions want it), every
//! squeeze-and-excitation scale over 16 or 24 channels is such a node: the PP-OCR direction
//! classifier spent 2.4 ms in 15 `Mul`s and 2.2 ms in 9 `Add`s, more than in its matrix
//! products.
//!
//! Here the run is repeated until it is a few hundred values long and a multiple of the vector
//! size (fewer, longer, aligned calls), then tract's own unicast kernel for the operation
//! (webinfer-kernels' SIMD one in wasm) runs over each block; where no repetition aligns, a
//! plain loop does. One IEEE operation per element, as before: the same values, bit for bit.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::tract_linalg::multithread::{par_bin, BShare};
use tract_onnx::tract_core::tract_linalg::{BinOp, Func};

use super::{Compute, Kernel};

/// The runs a call covers are grown to about this many values.
const RUN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RepeatedOperand {
    /// `a op b` elementwise, `a` the larger operand (the output's shape), `b` repeated.
    op: BinOp,
    shape: TVec<usize>,
    /// Which input is the larger operand.
    larger: usize,
    /// The repeated operand's length.
    period: usize,
    /// How many times a kernel call's run repeats it ([`repeats`]); `None`: a plain loop.
    repeats: Option<usize>,
}

impl Compute for RepeatedOperand {
    fn name(&self) -> StaticName {
        format!("{:?}RepeatedOperand", self.op).into()
    }

    fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&*self.shape)))
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut inputs = inputs;
        let a = inputs.remove(self.larger);
        let b = &inputs[0];
        ensure!(a.shape() == &*self.shape && b.len() == self.period, "{}: inputs {:?} and {:?}", self.name(), a, b);
        let mut a = a.into_tensor();
        let Some(k) = self.repeats else {
            // No run of whole repetitions keeps every call aligned as tract's kernels need:
            // element by element, the same operation.
            let b = b.try_as_plain_ram()?;
            let (b, f) = (b.as_slice::<f32>()?, one(self.op));
            let mut plain = a.try_as_plain_ram_mut()?;
            for block in plain.as_slice_mut::<f32>()?.chunks_exact_mut(self.period) {
                block.iter_mut().zip(b).for_each(|(x, &y)| *x = f(*x, y));
            }
            drop(plain);
            return Ok(tvec!(a.into_tvalue()));
        };
        let kernel = Func::BinUnicast(self.op).bin(f32::datum_type()).context("no unicast kernel")?;
        let b = if k > 1 {
            let b = b.try_as_plain_ram()?;
            Tensor::from_shape(&[k * self.period], &b.as_slice::<f32>()?.repeat(k))?
        } else {
            b.clone().into_tensor()
        };
        par_bin(&*kernel, &mut a, &b, k * self.period, BShare::Lockstep)?;
        Ok(tvec!(a.into_tvalue()))
    }
}

/// How many times to repeat the run: a divisor of `blocks`, so that each call covers whole
/// repetitions, and one that makes the repeated run a multiple of the vector size, so that every
/// call's two operands start equally aligned (tract's kernels assert it; its own unicast rewrite
/// asks the same of the run). About [`RUN`] values: fewer, longer calls. `None` when no divisor
/// aligns the run.
fn repeats(blocks: usize, period: usize) -> Option<usize> {
    let aligned: Vec<usize> = (1..=blocks).filter(|k| blocks % k == 0 && (k * period) % vector_size() == 0).collect();
    aligned.iter().rev().find(|&&k| k * period <= RUN).or(aligned.first()).copied()
}

/// The operation on one value, as tract's kernels compute it.
fn one(op: BinOp) -> fn(f32, f32) -> f32 {
    match op {
        BinOp::Add => |x, y| x + y,
        BinOp::Mul => |x, y| x * y,
        BinOp::Sub => |x, y| x - y,
        BinOp::SubF => |x, y| y - x,
        BinOp::Min => f32::min,
        BinOp::Max => f32::max,
    }
}

/// Swaps an f32 `Add`, `Mul`, `Sub`, `Min` or `Max` that tract's optimize left as it was (not
/// fused into a product or a chain, not on a kernel) for [`RepeatedOperand`] when one operand is
/// the other's trailing axes repeated (leading axes 1), at least twice.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    super::rewrite::each_node(model, |model, node| {
        let Some(bin) = node.op_as::<TypedBinOp>() else { return Ok(None) };
        let Some(op) = bin.0.as_linalg_binop() else { return Ok(None) };
        if node.inputs.len() != 2 || !matches!(op, BinOp::Add | BinOp::Mul | BinOp::Sub | BinOp::Min | BinOp::Max) {
            return Ok(None);
        }
        let facts = [model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?];
        if facts.iter().any(|f| f.datum_type != f32::datum_type()) {
            return Ok(None);
        }
        let [Some(x), Some(y)] = facts.map(|f| f.shape.as_concrete()) else { return Ok(None) };
        let larger = usize::from(y.iter().product::<usize>() > x.iter().product::<usize>());
        let (a, b) = if larger == 0 { (x, y) } else { (y, x) };
        let Some(period) = repeated_run(a, b) else { return Ok(None) };
        // `b op a` when the larger operand is the second: Sub flips, the others commute.
        let op = if larger == 1 { op.flip() } else { op };
        if Func::BinUnicast(op).bin(f32::datum_type()).is_none() {
            return Ok(None);
        }
        let repeats = repeats(a.iter().product::<usize>() / period, period);
        let repeated = RepeatedOperand { op, shape: a.into(), larger, period, repeats };
        Ok(Some(TypedModelPatch::replace_single_op(model, node, &node.inputs, Kernel(repeated))?))
    })
}

/// The length of `b`'s run when `b` (of `a`'s rank) is 1 on `a`'s leading axes and equal to `a`
/// on the others, with at least two repetitions; `None` otherwise.
fn repeated_run(a: &[usize], b: &[usize]) -> Option<usize> {
    if a.len() != b.len() {
        return None;
    }
    let first = b.iter().position(|&d| d != 1).unwrap_or(b.len());
    let same = a[first..] == b[first..];
    let (period, whole) = (b[first..].iter().product::<usize>(), a.iter().product::<usize>());
    // A run of one is a scalar, which tract's by-scalar kernel takes.
    (same && period > 1 && whole / period >= 2).then_some(period)
}
