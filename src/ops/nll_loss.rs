//! `NegativeLogLikelihoodLoss`: for each position, minus the input's entry at the target class,
//! weighted by that class's weight; a target equal to `ignore_index` counts for nothing. Reduced
//! to a sum, a weighted mean, or left per position. The kernel here also serves
//! `SoftmaxCrossEntropyLoss` (softmax_cross_entropy_loss.rs), which takes log-softmax first.
//! Losses are what a model trains on, but exported models keep them (evaluation graphs, a
//! per-sample loss as an output), and onnxruntime runs them.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let loss = Loss::from_node(node, false)?;
    Ok((expand(LossRules(loss)), vec![]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Reduction {
    None,
    Sum,
    Mean,
}

/// A loss over `input` [N, C, d1, ...] (scores, or log-probabilities) against `target`
/// [N, d1, ...] class indices, with an optional `weight` [C].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Loss {
    pub reduction: Reduction,
    pub ignore_index: Option<i64>,
    pub has_weight: bool,
    /// Whether `input` holds scores to take log-softmax of (SoftmaxCrossEntropyLoss), which is
    /// then also the op's optional second output.
    pub log_softmax: bool,
    pub outputs: usize,
}

impl Loss {
    pub fn from_node(node: &NodeProto, log_softmax: bool) -> TractResult<Loss> {
        let reduction = match node.get_attr_opt::<String>("reduction")?.as_deref().unwrap_or("mean") {
            "none" => Reduction::None,
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            other => bail!("{}: unknown reduction {other:?}", node.op_type),
        };
        Ok(Loss {
            reduction,
            ignore_index: node.get_attr_opt("ignore_index")?,
            has_weight: node.input.get(2).is_some_and(|name| !name.is_empty()),
            log_softmax,
            outputs: node.output.iter().filter(|name| !name.is_empty()).count().max(1),
        })
    }

    fn name(&self) -> &'static str {
        if self.log_softmax { "SoftmaxCrossEntropyLoss" } else { "NegativeLogLikelihoodLoss" }
    }
}

/// The loss's inference rules; wired as the kernel itself.
#[derive(Debug, Clone)]
pub(super) struct LossRules(pub Loss);

impl Expansion for LossRules {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.outputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let loss = &self.0;
        check_input_arity(inputs, 2 + loss.has_weight as usize)?;
        check_output_arity(outputs, loss.outputs)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        if loss.has_weight {
            s.equals(&inputs[2].rank, 1)?;
            s.equals(&inputs[2].shape[0], &inputs[0].shape[1])?;
        }
        match loss.reduction {
            Reduction::None => s.equals(&outputs[0].shape, &inputs[1].shape)?,
            _ => s.equals(&outputs[0].rank, 0)?,
        }
        if loss.outputs > 1 {
            s.equals(&outputs[1].datum_type, &inputs[0].datum_type)?;
            s.equals(&outputs[1].shape, &inputs[0].shape)?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, super::Kernel(self.0.clone()), inputs)
    }
}

/// log-softmax over axis 1 of [N, C, D] values.
fn log_softmax(x: &[f64], classes: usize, positions: usize) -> Vec<f64> {
    let mut out = x.to_vec();
    for block in out.chunks_mut(classes * positions) {
        for p in 0..positions {
            let max = (0..classes).map(|c| block[c * positions + p]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..classes).map(|c| (block[c * positions + p] - max).exp()).sum();
            let log_sum = max + sum.ln();
            for c in 0..classes {
                block[c * positions + p] -= log_sum;
            }
        }
    }
    out
}

impl super::Compute for Loss {
    fn name(&self) -> StaticName {
        self.name().into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = inputs[0].shape();
        ensure!(shape.len() >= 2, "{}: the input must be [N, C, ...], not {shape:?}", self.name());
        let (batch, classes) = (shape[0], shape[1]);
        let positions: usize = shape[2..].iter().product();
        let target_shape: Vec<usize> = [batch].into_iter().chain(shape[2..].iter().copied()).collect();
        ensure!(
            inputs[1].shape() == target_shape,
            "{}: the target is {:?}, expected {target_shape:?} for an input of {shape:?}",
            self.name(),
            inputs[1].shape()
        );
        let mut x = super::floats(&inputs[0])?;
        if self.log_softmax {
            x = log_softmax(&x, classes, positions);
        }
        let target = super::ints(&inputs[1])?;
        let weight = if self.has_weight { Some(super::floats(&inputs[2])?) } else { None };
        if let Some(w) = &weight {
            ensure!(w.len() == classes, "{}: {} weights for {classes} classes", self.name(), w.len());
        }
        let mut losses = vec![0.0; target.len()];
        let mut weights_total = 0.0;
        for (at, &t) in target.iter().enumerate() {
            if Some(t) == self.ignore_index {
                continue;
            }
            ensure!((0..classes as i64).contains(&t), "{}: target class {t} is outside 0..{classes}", self.name());
            let w = weight.as_ref().map_or(1.0, |w| w[t as usize]);
            let (n, p) = (at / positions.max(1), at % positions.max(1));
            losses[at] = -x[(n * classes + t as usize) * positions + p] * w;
            weights_total += w;
        }
        let dt = inputs[0].datum_type();
        let loss = match self.reduction {
            Reduction::None => super::float_tensor(losses, &target_shape, dt)?,
            Reduction::Sum => super::float_tensor(vec![losses.iter().sum()], &[], dt)?,
            Reduction::Mean => super::float_tensor(vec![losses.iter().sum::<f64>() / weights_total], &[], dt)?,
        };
        let mut outputs = tvec![loss.into_tvalue()];
        if self.outputs > 1 {
            outputs.push(super::float_tensor(x, shape, dt)?.into_tvalue());
        }
        Ok(outputs)
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let dt = inputs[0].datum_type;
        let mut facts = tvec![match self.reduction {
            Reduction::None => dt.fact(inputs[1].shape.clone()),
            _ => dt.scalar_fact(),
        }];
        if self.outputs > 1 {
            facts.push(dt.fact(inputs[0].shape.clone()));
        }
        Ok(facts)
    }
}
