//! `AffineGrid`: the sampling grid of a batch of affine transforms `theta` ([N, 2, 3] for 2-D,
//! [N, 3, 4] for 3-D) over an output of `size` ([N, C, H, W] or [N, C, D, H, W]), as GridSample
//! reads it: out[n, (d,) h, w] = theta[n] . [x_w, y_h, (z_d,) 1] in normalised coordinates.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let align_corners = node.get_attr_opt::<i64>("align_corners")?.unwrap_or(0) == 1;
    Ok((expand(AffineGrid { align_corners }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AffineGrid {
    align_corners: bool,
}

/// The output's shape for `size`: [N, H, W, 2] or [N, D, H, W, 3].
fn grid_shape(size: &[i64]) -> TractResult<Vec<usize>> {
    ensure!(size.len() == 4 || size.len() == 5, "AffineGrid: `size` must have 4 or 5 entries, not {}", size.len());
    ensure!(size.iter().all(|&d| d >= 0), "AffineGrid: a negative size in {size:?}");
    let spatial = size.len() - 2;
    Ok([size[0] as usize].into_iter().chain(size[2..].iter().map(|&d| d as usize)).chain([spatial]).collect())
}

impl Expansion for AffineGrid {
    fn name(&self) -> StaticName {
        "AffineGrid".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&inputs[0].rank, 3)?;
        s.given(&inputs[1].value, move |s, size| {
            let shape = grid_shape(&super::ints(&size)?)?;
            s.equals(&outputs[0].rank, shape.len() as i64)?;
            for (axis, d) in shape.into_iter().enumerate() {
                s.equals(&outputs[0].shape[axis], d.to_dim())?;
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let size = super::known_ints(model, inputs[1], "AffineGrid", "size")?;
        let op = AffineGridKernel { align_corners: self.align_corners, shape: grid_shape(&size)? };
        model.wire_node(prefix, super::Kernel(op), &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AffineGridKernel {
    align_corners: bool,
    /// The output's shape: batch, the spatial sizes (outermost first), then the coordinates.
    shape: Vec<usize>,
}

impl AffineGridKernel {
    /// Pixel `i` of `size`'s normalised coordinate in [-1, 1]: pixel centres, or the corner pixels
    /// at -1 and 1 with `align_corners`.
    fn coordinate(&self, i: usize, size: usize) -> f64 {
        if self.align_corners {
            if size <= 1 { 0.0 } else { -1.0 + 2.0 * i as f64 / (size - 1) as f64 }
        } else {
            (2.0 * i as f64 + 1.0) / size as f64 - 1.0
        }
    }
}

impl super::Compute for AffineGridKernel {
    fn name(&self) -> StaticName {
        "AffineGrid".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let dims = *self.shape.last().unwrap_or(&0);
        let spatial = &self.shape[1..self.shape.len() - 1];
        let batch = self.shape[0];
        ensure!(
            inputs[0].shape() == [batch, dims, dims + 1],
            "AffineGrid: theta is {:?}, expected [{batch}, {dims}, {}]",
            inputs[0].shape(),
            dims + 1
        );
        let theta = super::floats(&inputs[0])?;
        let points: usize = spatial.iter().product();
        let mut out = Vec::with_capacity(batch * points * dims);
        let mut at = vec![0; spatial.len()];
        // [x, y, (z,) 1]: x runs along the innermost axis.
        let mut point = vec![1.0; dims + 1];
        for n in 0..batch {
            let t = &theta[n * dims * (dims + 1)..][..dims * (dims + 1)];
            for p in 0..points {
                let mut rest = p;
                for axis in (0..spatial.len()).rev() {
                    at[axis] = rest % spatial[axis];
                    rest /= spatial[axis];
                }
                for d in 0..dims {
                    let axis = spatial.len() - 1 - d;
                    point[d] = self.coordinate(at[axis], spatial[axis]);
                }
                for row in t.chunks(dims + 1) {
                    out.push(row.iter().zip(&point).map(|(a, b)| a * b).sum());
                }
            }
        }
        Ok(tvec![super::float_tensor(out, &self.shape, inputs[0].datum_type())?.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec![inputs[0].datum_type.fact(&self.shape)])
    }
}
