//! `RoiAlign` (Mask R-CNN and other two-stage detectors): each region of interest, in the image's
//! coordinates scaled by `spatial_scale`, is cut into an output_height x output_width grid; each
//! cell averages (or takes the largest of) bilinear samples on a regular sub-grid. The sampling
//! follows onnxruntime's kernel: `half_pixel` shifts coordinates by half a pixel, the legacy
//! `output_half_pixel` does not and makes every region at least one pixel wide.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let mode = node.get_attr_opt::<String>("mode")?.unwrap_or_else(|| "avg".into());
    // Opset 16 made `half_pixel` the default; before, regions had no half-pixel shift.
    let default_transform = if ctx.onnx_operator_set_version >= 16 { "half_pixel" } else { "output_half_pixel" };
    let transform = node.get_attr_opt::<String>("coordinate_transformation_mode")?.unwrap_or_else(|| default_transform.into());
    let op = RoiAlign {
        max: match mode.as_str() {
            "avg" => false,
            "max" => true,
            other => bail!("RoiAlign: unknown mode {other:?}"),
        },
        half_pixel: match transform.as_str() {
            "half_pixel" => true,
            "output_half_pixel" => false,
            other => bail!("RoiAlign: unknown coordinate_transformation_mode {other:?}"),
        },
        output: [
            node.get_attr_opt::<i64>("output_height")?.unwrap_or(1) as usize,
            node.get_attr_opt::<i64>("output_width")?.unwrap_or(1) as usize,
        ],
        sampling_ratio: node.get_attr_opt::<i64>("sampling_ratio")?.unwrap_or(0).max(0) as usize,
        spatial_scale: node.get_attr_opt::<f32>("spatial_scale")?.unwrap_or(1.0),
    };
    ensure!(op.output[0] > 0 && op.output[1] > 0, "RoiAlign: output_height and output_width must be positive");
    Ok((expand(op), vec![]))
}

#[derive(Debug, Clone, PartialEq)]
struct RoiAlign {
    max: bool,
    half_pixel: bool,
    /// Height, width.
    output: [usize; 2],
    /// Samples per cell along each axis; 0: as many as the cell is pixels wide (rounded up).
    sampling_ratio: usize,
    spatial_scale: f32,
}

impl Eq for RoiAlign {}

impl Expansion for RoiAlign {
    fn name(&self) -> StaticName {
        "RoiAlign".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&inputs[1].datum_type, &inputs[0].datum_type)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&inputs[1].shape[1], 4.to_dim())?;
        s.equals(&inputs[2].rank, 1)?;
        s.equals(&inputs[2].shape[0], &inputs[1].shape[0])?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&outputs[0].shape[0], &inputs[1].shape[0])?;
        s.equals(&outputs[0].shape[1], &inputs[0].shape[1])?;
        s.equals(&outputs[0].shape[2], self.output[0].to_dim())?;
        s.equals(&outputs[0].shape[3], self.output[1].to_dim())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, super::Kernel(self.clone()), inputs)
    }
}

impl RoiAlign {
    /// The bilinear sample of the `height` x `width` plane at (y, x); 0 outside it.
    fn sample(height: usize, width: usize, y: f64, x: f64) -> [(usize, f64); 4] {
        if y < -1.0 || y > height as f64 || x < -1.0 || x > width as f64 {
            return [(0, 0.0); 4];
        }
        let (mut y, mut x) = (y.max(0.0), x.max(0.0));
        let (mut y0, mut x0) = (y as usize, x as usize);
        let y1 = if y0 >= height - 1 {
            y0 = height - 1;
            y = y0 as f64;
            y0
        } else {
            y0 + 1
        };
        let x1 = if x0 >= width - 1 {
            x0 = width - 1;
            x = x0 as f64;
            x0
        } else {
            x0 + 1
        };
        let (ly, lx) = (y - y0 as f64, x - x0 as f64);
        let (hy, hx) = (1.0 - ly, 1.0 - lx);
        [(y0 * width + x0, hy * hx), (y0 * width + x1, hy * lx), (y1 * width + x0, ly * hx), (y1 * width + x1, ly * lx)]
    }
}

impl super::Compute for RoiAlign {
    fn name(&self) -> StaticName {
        "RoiAlign".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let &[batch, channels, height, width] = inputs[0].shape() else { bail!("RoiAlign: X must be [N, C, H, W]") };
        ensure!(height > 0 && width > 0, "RoiAlign: X has an empty {height} x {width} plane");
        let rois_count = inputs[1].shape()[0];
        let x = super::floats(&inputs[0])?;
        let rois = super::floats(&inputs[1])?;
        let batch_indices = super::ints(&inputs[2])?;
        ensure!(rois.len() == rois_count * 4 && batch_indices.len() == rois_count, "RoiAlign: rois must be [R, 4] with R batch indices");
        let [oh, ow] = self.output;
        let mut out = vec![0.0; rois_count * channels * oh * ow];
        let offset = if self.half_pixel { 0.5 } else { 0.0 };
        let scale = self.spatial_scale as f64;
        for r in 0..rois_count {
            let b = batch_indices[r];
            ensure!(b >= 0 && (b as usize) < batch, "RoiAlign: batch index {b} for a batch of {batch}");
            let roi = &rois[r * 4..][..4];
            let (start_x, start_y) = (roi[0] * scale - offset, roi[1] * scale - offset);
            let (mut roi_w, mut roi_h) = (roi[2] * scale - offset - start_x, roi[3] * scale - offset - start_y);
            if !self.half_pixel {
                roi_w = roi_w.max(1.0);
                roi_h = roi_h.max(1.0);
            }
            let (bin_h, bin_w) = (roi_h / oh as f64, roi_w / ow as f64);
            let grid_h = if self.sampling_ratio > 0 { self.sampling_ratio } else { (roi_h / oh as f64).ceil().max(0.0) as usize };
            let grid_w = if self.sampling_ratio > 0 { self.sampling_ratio } else { (roi_w / ow as f64).ceil().max(0.0) as usize };
            let count = (grid_h * grid_w).max(1) as f64;
            // The sample points and weights are the same for every channel.
            let mut cells = Vec::with_capacity(oh * ow);
            for ph in 0..oh {
                for pw in 0..ow {
                    let mut samples = Vec::with_capacity(grid_h * grid_w);
                    for iy in 0..grid_h {
                        let y = start_y + ph as f64 * bin_h + (iy as f64 + 0.5) * bin_h / grid_h as f64;
                        for ix in 0..grid_w {
                            let xx = start_x + pw as f64 * bin_w + (ix as f64 + 0.5) * bin_w / grid_w as f64;
                            samples.push(Self::sample(height, width, y, xx));
                        }
                    }
                    cells.push(samples);
                }
            }
            for c in 0..channels {
                let plane = &x[(b as usize * channels + c) * height * width..][..height * width];
                for (cell, samples) in cells.iter().enumerate() {
                    let value = if self.max {
                        samples
                            .iter()
                            .map(|taps| taps.iter().map(|&(at, w)| w * plane[at]).fold(f64::NEG_INFINITY, f64::max))
                            .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))
                            .unwrap_or(0.0)
                    } else {
                        samples.iter().map(|taps| taps.iter().map(|&(at, w)| w * plane[at]).sum::<f64>()).sum::<f64>() / count
                    };
                    out[(r * channels + c) * oh * ow + cell] = value;
                }
            }
        }
        let shape = [rois_count, channels, oh, ow];
        Ok(tvec![super::float_tensor(out, &shape, inputs[0].datum_type())?.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = tvec![inputs[1].shape[0].clone(), inputs[0].shape[1].clone(), self.output[0].to_dim(), self.output[1].to_dim()];
        Ok(tvec![inputs[0].datum_type.fact(shape)])
    }
}
