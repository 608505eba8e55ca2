//! `Det`: the determinant of each square matrix in the last two axes, by LU decomposition with
//! partial pivoting, computed in f64.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(Det), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Det;

impl Expansion for Det {
    fn name(&self) -> StaticName {
        "Det".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given(&inputs[0].rank, move |s, rank| {
            ensure!(rank >= 2, "Det needs matrices: an input of rank 2 or more, not {rank}");
            let rank = rank as usize;
            s.equals(&outputs[0].rank, (rank - 2) as i64)?;
            s.equals(&inputs[0].shape[rank - 2], &inputs[0].shape[rank - 1])?;
            for axis in 0..rank - 2 {
                s.equals(&outputs[0].shape[axis], &inputs[0].shape[axis])?;
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, super::Kernel(self.clone()), inputs)
    }
}

/// The determinant of the n x n row-major matrix `a` (consumed as scratch).
fn determinant(a: &mut [f64], n: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs())).unwrap_or(col);
        if a[pivot * n + col] == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            det = -det;
        }
        let p = a[col * n + col];
        det *= p;
        for row in col + 1..n {
            let factor = a[row * n + col] / p;
            for k in col..n {
                a[row * n + k] -= factor * a[col * n + k];
            }
        }
    }
    det
}

impl super::Compute for Det {
    fn name(&self) -> StaticName {
        "Det".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = inputs[0].shape();
        ensure!(shape.len() >= 2, "Det needs matrices, not a tensor of shape {shape:?}");
        let n = shape[shape.len() - 1];
        let mut values = super::floats(&inputs[0])?;
        let count: usize = shape[..shape.len() - 2].iter().product();
        // An empty (0 x 0) matrix has determinant 1.
        let dets = if n == 0 { vec![1.0; count] } else { values.chunks_mut(n * n).map(|m| determinant(m, n)).collect() };
        let out = super::float_tensor(dets, &shape[..shape.len() - 2], inputs[0].datum_type())?;
        Ok(tvec![out.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rank = inputs[0].rank();
        ensure!(rank >= 2, "Det needs matrices: an input of rank 2 or more, not {rank}");
        Ok(tvec![inputs[0].datum_type.fact(&inputs[0].shape[..rank - 2])])
    }
}
