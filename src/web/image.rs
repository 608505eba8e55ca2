//! Pictures into model inputs, and scores into ranked classes, for JavaScript. The resizing,
//! cropping, normalizing and layout happen here in Rust (the engine's `image` module), exactly
//! as the model pipeline did them; the page only hands over pixels.

use js_sys::{Array, Float32Array, Object, Uint8Array, Uint8ClampedArray};
use wasm_bindgen::prelude::*;

use super::convert::{get, set};
use super::{alive, js_error};
use super::types::{ImagePixels, PreprocessSpec, Ranked, TensorLike};
use crate::engine::image::{top_k, Image, Preprocess};
use crate::engine::TensorData;

/// The input tensor for one image, as the manifest's `preprocess` block says.
///
/// `image` is anything with `{ data, width, height }` holding RGBA (an `ImageData`) or RGB bytes.
#[wasm_bindgen(js_name = preprocessImage)]
pub fn preprocess_image(image: ImagePixels, preprocess: PreprocessSpec) -> Result<TensorLike, JsError> {
    alive()?;
    let spec = spec_from_js(&preprocess).map_err(js_error)?;
    let (pixels, width, height) = pixels_from_js(&image).map_err(js_error)?;
    let tensor = spec.apply(&Image { pixels: &pixels, width, height })?;
    let TensorData::F32(data) = &tensor.data else { unreachable!("preprocessing makes float32") };
    let out = Object::new();
    set(&out, "type", &"float32".into());
    set(&out, "dims", &tensor.dims.iter().map(|d| JsValue::from_f64(*d as f64)).collect::<Array>());
    set(&out, "data", &Float32Array::from(data.as_slice()));
    Ok(out.unchecked_into())
}

/// The `k` most probable classes of a score vector (softmax), best first:
/// `[{ index, probability }]`.
#[wasm_bindgen(js_name = topK)]
pub fn top_k_js(scores: &Float32Array, k: u32) -> Result<Ranked, JsError> {
    alive()?;
    let ranked = top_k(&scores.to_vec(), k as usize)?;
    let out: Array = ranked
        .into_iter()
        .map(|(index, probability)| {
            let item = Object::new();
            set(&item, "index", &JsValue::from_f64(index as f64));
            set(&item, "probability", &JsValue::from_f64(probability as f64));
            JsValue::from(item)
        })
        .collect();
    Ok(out.unchecked_into())
}

fn pixels_from_js(image: &JsValue) -> Result<(Vec<u8>, usize, usize), String> {
    let size = |key: &str| {
        get(image, key)
            .as_f64()
            .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= u32::MAX as f64)
            .map(|v| v as usize)
            .ok_or_else(|| format!("image.{key} must be a whole number of pixels"))
    };
    if !image.is_object() {
        return Err("image must be an ImageData or { data, width, height }".into());
    }
    let data = get(image, "data");
    let pixels = if let Some(a) = data.dyn_ref::<Uint8ClampedArray>() {
        a.to_vec()
    } else if let Some(a) = data.dyn_ref::<Uint8Array>() {
        a.to_vec()
    } else {
        return Err("image.data must be a Uint8ClampedArray or Uint8Array of RGBA or RGB bytes".into());
    };
    Ok((pixels, size("width")?, size("height")?))
}

/// The manifest's `preprocess` block, every field required so a typo cannot pass unnoticed.
fn spec_from_js(spec: &JsValue) -> Result<Preprocess, String> {
    if !spec.is_object() {
        return Err("the manifest has no `preprocess` object".into());
    }
    let number = |key: &str| {
        get(spec, key)
            .as_f64()
            .filter(|v| v.fract() == 0.0 && *v > 0.0 && *v <= 16384.0)
            .map(|v| v as usize)
            .ok_or_else(|| format!("manifest `preprocess.{key}` must be a positive whole number"))
    };
    let triple = |key: &str| -> Result<[f32; 3], String> {
        let value = get(spec, key);
        let bad = || format!("manifest `preprocess.{key}` must be an array of 3 numbers");
        let array: &Array = value.dyn_ref().ok_or_else(bad)?;
        let values: Vec<f32> = array.iter().filter_map(|v| v.as_f64()).map(|v| v as f32).collect();
        <[f32; 3]>::try_from(values.as_slice()).map_err(|_| bad())
    };
    let text = |key: &str| {
        get(spec, key).as_string().ok_or_else(|| format!("manifest `preprocess.{key}` must be a string"))
    };
    Preprocess::new(
        number("resize")?,
        number("crop")?,
        triple("mean")?,
        triple("std")?,
        &text("layout")?,
        &text("channels")?,
        &text("interpolation")?,
    )
    .map_err(|e| e.to_string())
}
