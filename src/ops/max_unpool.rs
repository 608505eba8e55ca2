//! `MaxUnpool`: the inverse of MaxPool with indices. Each value goes to the position its index
//! names in the flattened output (as MaxPool's `Indices` output counts them), every other
//! position is zero. The output is `output_shape` when given, else the size the pool undoes.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel: Vec<usize> = node.get_attr_vec("kernel_shape")?;
    let n = kernel.len();
    let strides: Vec<usize> = node.get_attr_opt_vec("strides")?.unwrap_or_else(|| vec![1; n]);
    let pads: Vec<usize> = node.get_attr_opt_vec("pads")?.unwrap_or_else(|| vec![0; 2 * n]);
    ensure!(strides.len() == n && pads.len() == 2 * n, "MaxUnpool: strides and pads do not match kernel_shape's {n} axes");
    let with_shape = node.input.get(2).is_some_and(|name| !name.is_empty());
    Ok((expand(MaxUnpool { kernel, strides, pads, with_shape }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MaxUnpool {
    kernel: Vec<usize>,
    strides: Vec<usize>,
    pads: Vec<usize>,
    with_shape: bool,
}

impl MaxUnpool {
    /// The output size along spatial axis `i` for an input of `size`.
    fn unpooled(&self, i: usize, size: &TDim) -> TDim {
        let n = self.kernel.len();
        (size.clone() - 1) * self.strides[i] as i64 + self.kernel[i] as i64 - self.pads[i] as i64 - self.pads[n + i] as i64
    }
}

impl Expansion for MaxUnpool {
    fn name(&self) -> StaticName {
        "MaxUnpool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2 + self.with_shape as usize)?;
        check_output_arity(outputs, 1)?;
        let rank = 2 + self.kernel.len();
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&inputs[0].rank, rank as i64)?;
        s.equals(&outputs[0].rank, rank as i64)?;
        s.equals(&inputs[1].shape, &inputs[0].shape)?;
        if self.with_shape {
            s.given(&inputs[2].value, move |s, shape| {
                for (axis, &size) in super::ints(&shape)?.iter().enumerate() {
                    s.equals(&outputs[0].shape[axis], (size as usize).to_dim())?;
                }
                Ok(())
            })
        } else {
            s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
            s.equals(&outputs[0].shape[1], &inputs[0].shape[1])?;
            for i in 0..self.kernel.len() {
                s.given(&inputs[0].shape[2 + i], move |s, size| s.equals(&outputs[0].shape[2 + i], self.unpooled(i, &size)))?;
            }
            Ok(())
        }
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let shape: TVec<TDim> = if self.with_shape {
            super::known_ints(model, inputs[2], "MaxUnpool", "output_shape")?.iter().map(|&v| (v as usize).to_dim()).collect()
        } else {
            let input = &model.outlet_fact(inputs[0])?.shape;
            input.iter().enumerate().map(|(axis, d)| if axis < 2 { d.clone() } else { self.unpooled(axis - 2, &d) }).collect()
        };
        model.wire_node(prefix, super::Kernel(Scatter { shape }), &inputs[..2])
    }
}

/// Values placed at flat indices of a zero tensor of `shape`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Scatter {
    shape: TVec<TDim>,
}

impl Scatter {
    fn place<T: Datum + Copy>(values: &Tensor, indices: &[i64], out: &mut Tensor) -> TractResult<()> {
        let mut out = out.try_as_plain_ram_mut()?;
        let out = out.as_slice_mut::<T>()?;
        let values = values.try_as_plain_ram()?;
        for (&index, &v) in indices.iter().zip(values.as_slice::<T>()?) {
            ensure!(index >= 0 && (index as usize) < out.len(), "MaxUnpool: index {index} is outside an output of {} elements", out.len());
            out[index as usize] = v;
        }
        Ok(())
    }
}

impl super::Compute for Scatter {
    fn name(&self) -> StaticName {
        "MaxUnpool".into()
    }

    fn eval(&self, symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = self.shape.iter().map(|d| Ok(d.eval(symbols).to_usize()?)).collect::<TractResult<TVec<usize>>>()?;
        let dt = inputs[0].datum_type();
        let mut out = Tensor::zero_dt(dt, &shape)?;
        let indices = super::ints(&inputs[1])?;
        dispatch_copy!(Self::place(dt)(&inputs[0], &indices, &mut out))?;
        Ok(tvec![out.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec![inputs[0].datum_type.fact(self.shape.clone())])
    }
}
