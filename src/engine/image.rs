//! Images into model inputs, as the manifest's `preprocess` block says: shorter side to
//! `resize`, centre crop `crop`, `(x - mean) / std`, RGB or BGR, NCHW or NHWC.
//!
//! The resampling reproduces Pillow's `Image.resize(..., BILINEAR)` bit for bit (same filter
//! support, same fixed-point rounding, horizontal pass first), because that is what the model
//! pipeline (`tools/models/quantize.py`) used to calibrate and validate the model: a browser
//! that resized differently would feed the model pixels it was never checked on.

use super::error::{Error, Result};
use super::tensor::{Tensor, TensorData};

/// Pixels as a canvas gives them (RGBA, alpha ignored as Pillow's `convert("RGB")` does) or as
/// plain RGB, row-major, top row first.
pub struct Image<'a> {
    pub pixels: &'a [u8],
    pub width: usize,
    pub height: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
}

/// The manifest's `preprocess` block. `mean` and `std` are per tensor channel, in the tensor's
/// order (B, G, R for a BGR model).
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pub resize: usize,
    pub crop: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub layout: Layout,
    pub channels: Channels,
}

impl Preprocess {
    /// Checks what the manifest said, naming the field at fault.
    pub fn new(
        resize: usize,
        crop: usize,
        mean: [f32; 3],
        std: [f32; 3],
        layout: &str,
        channels: &str,
        interpolation: &str,
    ) -> Result<Preprocess> {
        let bad = |what: String| Err(Error::InvalidPreprocess { reason: what });
        if crop == 0 || resize < crop || resize > 16384 {
            return bad(format!("`resize` ({resize}) must be at least `crop` ({crop}), and both positive"));
        }
        if std.iter().any(|s| !s.is_finite() || *s == 0.0) || mean.iter().any(|m| !m.is_finite()) {
            return bad(format!("`mean` {mean:?} and `std` {std:?} must be finite, std non-zero"));
        }
        let layout = match layout {
            "NCHW" => Layout::Nchw,
            "NHWC" => Layout::Nhwc,
            other => return bad(format!("`layout` must be \"NCHW\" or \"NHWC\", not {other:?}")),
        };
        let channels = match channels {
            "RGB" => Channels::Rgb,
            "BGR" => Channels::Bgr,
            other => return bad(format!("`channels` must be \"RGB\" or \"BGR\", not {other:?}")),
        };
        if interpolation != "bilinear" {
            return bad(format!("`interpolation` {interpolation:?} is not supported (only \"bilinear\")"));
        }
        Ok(Preprocess { resize, crop, mean, std, layout, channels })
    }

    /// Dims of the tensor `apply` produces.
    pub fn dims(&self) -> Vec<usize> {
        let c = self.crop;
        match self.layout {
            Layout::Nchw => vec![1, 3, c, c],
            Layout::Nhwc => vec![1, c, c, 3],
        }
    }

    /// The model input for one image: a float32 tensor of [`Preprocess::dims`].
    pub fn apply(&self, image: &Image) -> Result<Tensor> {
        let rgb = center_crop(image, self.resize, self.crop)?;
        let c = self.crop;
        let order = match self.channels {
            Channels::Rgb => [0, 1, 2],
            Channels::Bgr => [2, 1, 0],
        };
        let mut out = vec![0f32; 3 * c * c];
        for (p, px) in rgb.chunks_exact(3).enumerate() {
            for (k, &ch) in order.iter().enumerate() {
                let v = (px[ch] as f32 - self.mean[k]) / self.std[k];
                let at = match self.layout {
                    Layout::Nchw => k * c * c + p,
                    Layout::Nhwc => p * 3 + k,
                };
                out[at] = v;
            }
        }
        Ok(Tensor::new(self.dims(), TensorData::F32(out)))
    }
}

/// Shorter side scaled to `resize` (Pillow bilinear), then the centre `crop` x `crop` square:
/// HWC RGB bytes, exactly what `quantize.center_crop` returns for the same pixels.
pub fn center_crop(image: &Image, resize: usize, crop: usize) -> Result<Vec<u8>> {
    let (w, h) = (image.width, image.height);
    let bad = |reason: String| Err(Error::InvalidImage { reason });
    if w == 0 || h == 0 {
        return bad(format!("the image is empty ({w}x{h} pixels)"));
    }
    let area = w.checked_mul(h).filter(|a| *a <= 1 << 28);
    let Some(area) = area else { return bad(format!("the image is too large ({w}x{h} pixels)")) };
    let stride = match image.pixels.len() {
        n if n == area * 4 => 4,
        n if n == area * 3 => 3,
        n => {
            return bad(format!(
                "{n} bytes do not make a {w}x{h} image (expected {} bytes RGBA or {} RGB)",
                area * 4,
                area * 3
            ))
        }
    };
    // Python's round() (half to even), as quantize.py computes the resized size.
    let scale = resize as f64 / w.min(h) as f64;
    let (rw, rh) = ((w as f64 * scale).round_ties_even() as usize, (h as f64 * scale).round_ties_even() as usize);
    if rw < crop || rh < crop {
        return bad(format!("a {w}x{h} image resized to {rw}x{rh} is smaller than the {crop}x{crop} crop"));
    }
    let (left, top) = ((rw - crop) / 2, (rh - crop) / 2);

    let horizontal = Filter::new(w, rw);
    let vertical = Filter::new(h, rh);
    // Only the source rows the cropped output rows read go through the horizontal pass.
    let (first, last) = {
        let rows = &vertical.bounds[top..top + crop];
        (rows.iter().map(|b| b.0).min().unwrap_or(0), rows.iter().map(|b| b.0 + b.1).max().unwrap_or(0))
    };

    let mut temp = vec![0u8; (last - first) * crop * 3];
    for y in first..last {
        let row = &image.pixels[y * w * stride..(y + 1) * w * stride];
        for (i, xx) in (left..left + crop).enumerate() {
            let (xmin, n) = horizontal.bounds[xx];
            let k = horizontal.weights(xx);
            for ch in 0..3 {
                let mut ss = ROUND;
                for (x, &kx) in k[..n].iter().enumerate() {
                    ss += row[(xmin + x) * stride + ch] as i32 * kx;
                }
                temp[((y - first) * crop + i) * 3 + ch] = clip8(ss);
            }
        }
    }

    let mut out = vec![0u8; crop * crop * 3];
    for (j, yy) in (top..top + crop).enumerate() {
        let (ymin, n) = vertical.bounds[yy];
        let k = vertical.weights(yy);
        for i in 0..crop {
            for ch in 0..3 {
                let mut ss = ROUND;
                for (y, &ky) in k[..n].iter().enumerate() {
                    ss += temp[((ymin + y - first) * crop + i) * 3 + ch] as i32 * ky;
                }
                out[(j * crop + i) * 3 + ch] = clip8(ss);
            }
        }
    }
    Ok(out)
}

/// Pillow's fixed-point precision for 8-bit images (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;
const ROUND: i32 = 1 << (PRECISION_BITS - 1);

fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// One axis of a bilinear (triangle) resampling: for every output pixel, the first source
/// pixel it reads, how many, and their fixed-point weights (Pillow's `precompute_coeffs`).
struct Filter {
    bounds: Vec<(usize, usize)>,
    kernel: Vec<i32>,
    ksize: usize,
}

impl Filter {
    fn new(in_size: usize, out_size: usize) -> Filter {
        let scale = in_size as f64 / out_size as f64;
        // Downscaling widens the triangle so every source pixel counts (antialiasing).
        let filterscale = scale.max(1.0);
        let support = filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut kernel = vec![0i32; out_size * ksize];
        let mut weights = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let mut total = 0.0;
            for (x, w) in weights[..n].iter_mut().enumerate() {
                *w = triangle(((x + xmin) as f64 - center + 0.5) / filterscale);
                total += *w;
            }
            for (x, w) in weights[..n].iter().enumerate() {
                let w = if total != 0.0 { w / total } else { *w };
                let fixed = w * (1 << PRECISION_BITS) as f64;
                kernel[xx * ksize + x] = if w < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
            }
            bounds.push((xmin, n));
        }
        Filter { bounds, kernel, ksize }
    }

    fn weights(&self, out: usize) -> &[i32] {
        &self.kernel[out * self.ksize..(out + 1) * self.ksize]
    }
}

fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// The `k` most probable classes (softmax over `logits`), most probable first; ties keep the
/// lower index first. Non-finite logits are an error: they mean the model or input is broken.
pub fn top_k(logits: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
    if let Some(i) = logits.iter().position(|v| !v.is_finite()) {
        return Err(Error::Run { reason: format!("the model produced a non-finite score ({}) at index {i}", logits[i]) });
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f64> = logits.iter().map(|&v| ((v - max) as f64).exp()).collect();
    let sum: f64 = exp.iter().sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    Ok(order.into_iter().take(k).map(|i| (i, (exp[i] / sum) as f32)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_resize_keeps_pixels() {
        let pixels: Vec<u8> = (0..4 * 4 * 3).map(|v| (v * 5) as u8).collect();
        let image = Image { pixels: &pixels, width: 4, height: 4 };
        assert_eq!(center_crop(&image, 4, 4).unwrap(), pixels);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let image = Image { pixels: &[0; 10], width: 2, height: 2 };
        let e = center_crop(&image, 4, 4).unwrap_err().to_string();
        assert!(e.contains("10 bytes do not make a 2x2 image"), "{e}");
        assert!(Preprocess::new(10, 20, [0.0; 3], [1.0; 3], "NCHW", "RGB", "bilinear").is_err());
        assert!(Preprocess::new(20, 10, [0.0; 3], [0.0; 3], "NCHW", "RGB", "bilinear").is_err());
        let e = Preprocess::new(20, 10, [0.0; 3], [1.0; 3], "CHW", "RGB", "bilinear").unwrap_err().to_string();
        assert!(e.contains("`layout`"), "{e}");
    }

    #[test]
    fn top_k_orders_and_normalizes() {
        let top = top_k(&[1.0, 3.0, 2.0, 3.0], 3).unwrap();
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 3, 2]);
        let total: f32 = top_k(&[1.0, 3.0, 2.0, 3.0], 4).unwrap().iter().map(|t| t.1).sum();
        assert!((total - 1.0).abs() < 1e-6);
        assert!(top_k(&[1.0, f32::NAN], 1).is_err());
    }
}
