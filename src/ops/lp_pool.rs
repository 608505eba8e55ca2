//! `LpPool`: the p-norm of each window, (sum of |x|^p)^(1/p). tract has sum pooling, so LpPool is
//! wired from tract's own ops: |x|^p, an unnormalised sum pool (padding adds zeros, which change
//! no sum), then the p-th root. Strides, dilations, pads, auto_pad and ceil_mode are the pool's.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast;
use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::cnn::HirSumPool;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel_shape: TVec<usize> = node.get_attr_tvec("kernel_shape")?;
    let p: i64 = node.get_attr_opt("p")?.unwrap_or(2);
    ensure!(p >= 1, "LpPool: `p` must be 1 or more, not {p}");
    let spec = PoolSpec {
        data_format: DataFormat::NCHW,
        padding: padding(node, kernel_shape.len())?,
        kernel_shape,
        dilations: node.get_attr_opt_tvec("dilations")?,
        strides: node.get_attr_opt_tvec("strides")?,
        input_channels: 0,
        output_channels: 0,
    };
    Ok((expand(LpPool { sum: HirSumPool::new(spec, true, false), p: p as u32 }), vec![]))
}

/// ONNX pooling's padding: explicit `pads` (begins, then ends), else `auto_pad`.
fn padding(node: &NodeProto, rank: usize) -> TractResult<PaddingSpec> {
    let ceil_mode = node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) == 1;
    if let Some(pads) = node.get_attr_opt_tvec::<usize>("pads")? {
        ensure!(pads.len() == 2 * rank, "LpPool: {} pads for {rank} spatial axes", pads.len());
        return Ok(PaddingSpec::ExplicitOnnxPool(pads[..rank].into(), pads[rank..].into(), ceil_mode));
    }
    Ok(match node.get_attr_opt::<String>("auto_pad")?.as_deref().unwrap_or("NOTSET") {
        "NOTSET" => PaddingSpec::ExplicitOnnxPool(tvec![0; rank], tvec![0; rank], ceil_mode),
        "VALID" => PaddingSpec::Valid,
        "SAME_UPPER" => PaddingSpec::SameUpper,
        "SAME_LOWER" => PaddingSpec::SameLower,
        other => bail!("LpPool: unknown auto_pad {other:?}"),
    })
}

#[derive(Debug, Clone)]
struct LpPool {
    sum: HirSumPool,
    p: u32,
}

impl LpPool {
    /// `x` raised to `exponent`, in `x`'s type.
    fn power(&self, name: String, model: &mut TypedModel, x: OutletId, exponent: f64) -> TractResult<OutletId> {
        let dt = model.outlet_fact(x)?.datum_type;
        let exponent = model.add_const(format!("{name}.exponent"), tensor0(exponent).cast_to_dt(dt)?.into_owned())?;
        Ok(wire_with_rank_broadcast(name, model, math::pow(), &[x, exponent])?[0])
    }
}

impl Expansion for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.sum.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let magnitude = model.wire_node(format!("{prefix}.abs"), math::abs(), &[inputs[0]])?[0];
        let powered = match self.p {
            1 => magnitude,
            2 => model.wire_node(format!("{prefix}.square"), math::square(), &[magnitude])?[0],
            p => self.power(format!("{prefix}.pow"), model, magnitude, p as f64)?,
        };
        let sum = self.sum.wire(&format!("{prefix}.sum"), model, &[powered])?[0];
        Ok(tvec![match self.p {
            1 => sum,
            2 => model.wire_node(prefix, math::sqrt(), &[sum])?[0],
            p => self.power(prefix.to_string(), model, sum, 1.0 / p as f64)?,
        }])
    }
}
