//! webinfer's own operators, one file each, in two lists:
//!
//! - [`OPERATORS`]: ONNX operators tract-onnx 0.23 does not know, added to tract-onnx's operator
//!   register by [`register`]. Each file holds an op builder (the node's attributes -> an op whose
//!   inference rules give tract the output's type and shape) and, where tract's own ops cannot
//!   express the operator, a kernel (`EvalOp`). Parameters that ONNX passes as inputs (a target
//!   shape, an image size) must be known when the node is wired: constants in the file, or graph
//!   inputs that `engine/specialize.rs` bakes in at the first run.
//! - [`BEFORE_DECLUTTER`], [`AFTER_DECLUTTER`] and [`AFTER_OPTIMIZE`]: faster kernels for what tract does run,
//!   swapped in for tract's nodes while the engine plans (`engine/model.rs`): the int8 path
//!   (quantize/dequantize pairs, pointwise and windowed convolutions and their int8 matrix
//!   product), depthwise convolution, self-gated activations (hard-swish), linear and nearest
//!   `Resize`, softmax over an axis that is not the last, arithmetic with a per-channel operand in
//!   channels-last layout, global sums, padding, pooling, and the splitting of their work over
//!   the threaded build's pool (`parallel`). Broadcast arithmetic's wasm kernels (registered with
//!   tract itself) and the self-gated activations' kernel are in the `webinfer-kernels` crate.

mod affine_grid;
mod axis_passes;
mod binarizer;
mod broadcast;
mod center_crop_pad;
mod col2im;
mod conditional;
mod depthwise;
mod det;
mod gated;
mod int8conv;
mod int8gemm;
mod int8im2col;
mod loops;
mod lp_pool;
mod max_unpool;
mod nll_loss;
mod pad;
mod parallel;
mod pool;
mod qdq;
mod reduce;
mod resize;
mod reverse_sequence;
mod rewrite;
mod roi_align;
mod scaler;
mod scan;
mod softmax;
mod softmax_cross_entropy_loss;
mod tree_ensemble;
mod tree_ensemble_regressor;
mod unique;
pub(crate) mod upsample;

use std::fmt;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

type Builder = fn(&ParsingContext, &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// Every operator webinfer adds, by ONNX name.
const OPERATORS: &[(&str, Builder)] = &[
    ("AffineGrid", affine_grid::build),
    ("Binarizer", binarizer::build),
    ("CenterCropPad", center_crop_pad::build),
    ("Col2Im", col2im::build),
    ("Det", det::build),
    ("If", conditional::build),
    ("Loop", loops::build),
    ("LpPool", lp_pool::build),
    ("MaxUnpool", max_unpool::build),
    ("NegativeLogLikelihoodLoss", nll_loss::build),
    ("ReverseSequence", reverse_sequence::build),
    ("RoiAlign", roi_align::build),
    ("Scaler", scaler::build),
    ("Scan", scan::build),
    ("SoftmaxCrossEntropyLoss", softmax_cross_entropy_loss::build),
    ("TreeEnsemble", tree_ensemble::build),
    ("TreeEnsembleRegressor", tree_ensemble_regressor::build),
    ("Unique", unique::build),
    ("Upsample", upsample::build),
];

/// Adds webinfer's operators to tract-onnx's register.
pub(crate) fn register(onnx: &mut tract_onnx::Onnx) {
    for &(name, build) in OPERATORS {
        onnx.op_register.insert(name, build);
    }
}

/// A pass returns how many nodes it replaced.
type Pass = fn(&mut TypedModel) -> TractResult<usize>;

/// Kernels swapped in for tract's nodes on the typed model, before tract's declutter.
pub(crate) const BEFORE_DECLUTTER: &[(&str, Pass)] = &[("quantize-dequantize pairs", qdq::fuse_pairs)];

/// Kernels swapped in after declutter, once tract has chosen each node's layout.
pub(crate) const AFTER_DECLUTTER: &[(&str, Pass)] = &[
    ("int8 pointwise convolutions", int8conv::rewrite),
    ("int8 convolutions with a window", int8im2col::rewrite),
    ("depthwise convolutions", depthwise::rewrite),
    ("self-gated activations (hard-swish)", gated::rewrite),
    ("linear and nearest resizing", resize::rewrite),
    ("softmax across an inner axis", softmax::rewrite),
    ("sums behind a unit batch axis", reduce::rewrite),
];

/// Kernels swapped in after tract's optimize, for what it left on its generic path: arithmetic
/// it fused into a matrix product or a chain is not touched, and the pads tract puts in front of
/// the convolutions it lowers are there to be taken.
pub(crate) const AFTER_OPTIMIZE: &[(&str, Pass)] =
    &[("arithmetic with a repeated operand", broadcast::rewrite), ("padding", pad::rewrite), ("pooling", pool::rewrite)];

pub(crate) fn before_declutter(model: &mut TypedModel) -> TractResult<()> {
    run_passes(BEFORE_DECLUTTER, model)
}

pub(crate) fn after_declutter(model: &mut TypedModel) -> TractResult<()> {
    run_passes(AFTER_DECLUTTER, model)
}

pub(crate) fn after_optimize(model: &mut TypedModel) -> TractResult<()> {
    run_passes(AFTER_OPTIMIZE, model)
}

fn run_passes(passes: &[(&str, Pass)], model: &mut TypedModel) -> TractResult<()> {
    for (what, pass) in passes {
        pass(model).with_context(|| format!("webinfer's {what}"))?;
    }
    Ok(())
}

/// What one of webinfer's kernels computes; [`Kernel`] makes it an op tract can plan and run.
trait Compute: fmt::Debug + Clone + Eq + Send + Sync + 'static {
    /// The ONNX operator's name.
    fn name(&self) -> StaticName;
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>>;
    /// `symbols`: the run's values of the symbols in the output facts.
    fn eval(&self, symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>>;
    /// Whether an output's size is known only once computed (Unique's count of values).
    fn mints_runtime_symbols(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Kernel<C>(C);

impl<C: Compute> Op for Kernel<C> {
    fn name(&self) -> StaticName {
        self.0.name()
    }

    fn mints_runtime_symbols(&self) -> bool {
        self.0.mints_runtime_symbols()
    }

    op_as_typed_op!();
}

impl<C: Compute> EvalOp for Kernel<C> {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.0.eval(ctx.symbols, inputs)
    }
}

impl<C: Compute> TypedOp for Kernel<C> {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }

    as_op!();
}

/// A tensor's values as i64 (shapes, sizes, indices).
fn ints(tensor: &Tensor) -> TractResult<Vec<i64>> {
    Ok(tensor.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().copied().collect())
}

/// The value of the parameter input `outlet`, which must be a constant by the time `op` is wired.
fn known_ints(model: &TypedModel, outlet: OutletId, op: &str, what: &str) -> TractResult<Vec<i64>> {
    match &model.outlet_fact(outlet)?.konst {
        Some(value) => ints(value),
        None => bail!(
            "{op}: `{what}` must be known when the model is planned (a constant in the file, or a graph input \
             fed at run time)"
        ),
    }
}

/// A float tensor's values as f64, the precision the kernels here compute in.
fn floats(tensor: &Tensor) -> TractResult<Vec<f64>> {
    Ok(tensor.cast_to::<f64>()?.to_plain_array_view::<f64>()?.iter().copied().collect())
}

/// `values` as a tensor of `shape` in `dt`.
fn float_tensor(values: Vec<f64>, shape: &[usize], dt: DatumType) -> TractResult<Tensor> {
    Ok(Tensor::from_shape(shape, &values)?.cast_to_dt(dt)?.into_owned())
}
