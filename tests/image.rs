//! Image preprocessing against the model pipeline's own (Pillow + numpy), from
//! tests/fixtures/expected/preprocess.json (made by tests/fixtures/make_images.py).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use serde_json::Value;
use webinfer::engine::image::{center_crop, top_k, Image, Preprocess};
use webinfer::TensorData;

fn fixture() -> Value {
    let path = format!("{}/{FIXTURES}/expected/preprocess.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn preprocess(spec: &Value) -> Preprocess {
    let three = |key: &str| {
        let v: Vec<f32> = spec[key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        [v[0], v[1], v[2]]
    };
    let s = |key: &str| spec[key].as_str().unwrap();
    Preprocess::new(
        spec["resize"].as_u64().unwrap() as usize,
        spec["crop"].as_u64().unwrap() as usize,
        three("mean"),
        three("std"),
        s("layout"),
        s("channels"),
        s("interpolation"),
    )
    .unwrap()
}

#[test]
fn crops_and_tensors_match_pillow_exactly() {
    let fixture = fixture();
    let rgba = base64_decode(fixture["image"]["rgba"].as_str().unwrap());
    let (width, height) = (fixture["image"]["width"].as_u64().unwrap(), fixture["image"]["height"].as_u64().unwrap());
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    for case in fixture["cases"].as_array().unwrap() {
        let spec = preprocess(&case["preprocess"]);
        let label = format!("{:?}", case["preprocess"]);
        let want_crop = base64_decode(case["crop_rgb"].as_str().unwrap());
        // RGBA from a canvas and plain RGB give the same pixels; alpha is ignored like Pillow's.
        for pixels in [&rgba, &rgb] {
            let image = Image { pixels, width: width as usize, height: height as usize };
            let crop = center_crop(&image, spec.resize, spec.crop).unwrap();
            let differing = crop.iter().zip(&want_crop).filter(|(a, b)| a != b).count();
            assert_eq!(differing, 0, "{label}: {differing} of {} crop bytes differ from Pillow", crop.len());

            let tensor = spec.apply(&image).unwrap();
            let dims: Vec<usize> = case["dims"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            assert_eq!(tensor.dims, dims, "{label}");
            let TensorData::F32(got) = &tensor.data else { panic!("{label}: not float32") };
            let got: Vec<f64> = got.iter().map(|v| *v as f64).collect();
            let want = f32_le(&base64_decode(case["tensor_f32le"].as_str().unwrap()));
            assert_eq!(max_abs_diff(&label, &want, &got), 0.0, "{label}: tensor differs from numpy's");
        }
    }
}

#[test]
fn images_smaller_than_the_crop_and_bad_buffers_are_clear_errors() {
    let spec = Preprocess::new(256, 224, [127.0; 3], [128.0; 3], "NCHW", "RGB", "bilinear").unwrap();
    let pixels = vec![0u8; 10 * 10 * 4];
    // Scaling up is fine: a 10x10 image becomes 256x256 before the crop.
    assert_eq!(spec.apply(&Image { pixels: &pixels, width: 10, height: 10 }).unwrap().dims, vec![1, 3, 224, 224]);
    let e = spec.apply(&Image { pixels: &[], width: 0, height: 10 }).unwrap_err().to_string();
    assert!(e.contains("the image is empty"), "{e}");
    let e = spec.apply(&Image { pixels: &pixels[..399], width: 10, height: 10 }).unwrap_err().to_string();
    assert!(e.contains("399 bytes do not make a 10x10 image"), "{e}");
    let e = Preprocess::new(256, 224, [127.0; 3], [128.0; 3], "NCHW", "RGB", "bicubic").unwrap_err().to_string();
    assert!(e.contains("`interpolation` \"bicubic\" is not supported"), "{e}");
}

#[test]
fn top_k_is_a_softmax_ranking() {
    let top = top_k(&[0.0, 2.0, 1.0], 2).unwrap();
    assert_eq!(top[0].0, 1);
    assert_eq!(top[1].0, 2);
    // softmax([0, 2, 1]) computed independently: e^2 / (1 + e^2 + e).
    let e = std::f64::consts::E;
    assert!((top[0].1 as f64 - e * e / (1.0 + e * e + e)).abs() < 1e-6);
}
