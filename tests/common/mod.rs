//! Helpers shared by the native (`engine.rs`) and browser (`web.rs`) suites.
#![allow(dead_code)]

/// Fixture directory, relative to the crate root (the test runner's working directory, and the
/// root the wasm-bindgen test server serves files from).
pub const FIXTURES: &str = "tests/fixtures";

/// The demo manifest written by `./build.sh model` (which `./build.sh test` runs first). The
/// EfficientNet-Lite0 expectations name the exact models (paths and sha256) they were made with.
pub const DEMO_MANIFEST: &str = "target/demo-model/efficientnet-lite0.manifest.json";

/// Largest absolute difference between two equally long sequences; panics on a length mismatch.
/// Where the reference is NaN or infinite the engine must give exactly that (NaN for NaN, the
/// same infinity), and the position does not count towards the difference.
pub fn max_abs_diff(label: &str, expected: &[f64], got: &[f64]) -> f64 {
    assert_eq!(expected.len(), got.len(), "{label}: length differs");
    let mut diff = 0.0f64;
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        if e.is_finite() {
            assert!(g.is_finite(), "{label}: element {i} is {g}, the reference has {e}");
            diff = diff.max((e - g).abs());
        } else {
            assert!(e.is_nan() && g.is_nan() || e == g, "{label}: element {i} is {g}, the reference has {e}");
        }
    }
    diff
}

pub fn assert_close(label: &str, expected: &[f64], got: &[f64], tolerance: f64) {
    let diff = max_abs_diff(label, expected, got);
    assert!(diff <= tolerance, "{label}: max abs diff {diff} exceeds {tolerance}");
}

/// A number from the expected-output JSON, where NaN and the infinities are strings
/// (`tests/fixtures/make_edge_cases.py`: JSON has no literal for them).
pub fn json_float(text_or_number: Option<f64>, text: Option<&str>) -> f64 {
    match (text_or_number, text) {
        (Some(v), _) => v,
        (None, Some("NaN")) => f64::NAN,
        (None, Some("Infinity")) => f64::INFINITY,
        (None, Some("-Infinity")) => f64::NEG_INFINITY,
        other => panic!("not a number in the expected outputs: {other:?}"),
    }
}

pub fn argmax(values: &[f64]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, v)| if *v > values[best] { i } else { best })
}

/// Top-1 agreement that tolerates exact ties: int8 logits are multiples of one scale, so two
/// classes can share the maximum (grace_hopper does in onnxruntime's int8 output), and either is
/// a correct top-1. The engine's pick must be one of the reference's maxima.
pub fn assert_same_top1(label: &str, reference: &[f64], got: &[f64]) {
    let pick = argmax(got);
    let best = reference[argmax(reference)];
    assert!(
        reference[pick] >= best - 1e-6,
        "{label}: engine top-1 is class {pick} (reference logit {}), reference top-1 is class {} ({best})",
        reference[pick],
        argmax(reference)
    );
}

/// Tolerance per fixture: fp32 graphs agree to float rounding. The QDQ graph may differ by one
/// quantization step where tract and onnxruntime round a requantized value differently.
pub fn tolerance(fixture: &str) -> f64 {
    match fixture {
        "qdq_int8" => 0.05,
        // onnxruntime computes these in float16, webinfer in float32 (make_float16.py).
        "conv_f16" | "conv_f16_io" => 2e-3,
        _ => 1e-4,
    }
}

/// (pixel - 127) / 128 on HWC uint8 RGB, as NCHW float32: the Lite0 preprocessing, computed the
/// same way as `make_reference.py`.
pub fn lite0_input(pixels: &[u8]) -> Vec<f32> {
    let (h, w) = (224, 224);
    assert_eq!(pixels.len(), h * w * 3, "a reference crop is 224x224 RGB");
    let mut out = vec![0f32; pixels.len()];
    for c in 0..3 {
        for i in 0..h * w {
            out[c * h * w + i] = (pixels[i * 3 + c] as f32 - 127.0) / 128.0;
        }
    }
    out
}

/// Standard base64 (the fixtures' encoding for byte arrays), without a dependency for it.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let clean: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let bits = chunk.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (value(c) as u32) << (18 - 6 * i));
        out.extend_from_slice(&bits.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Little-endian float32 bytes as numbers.
pub fn f32_le(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect()
}
pub mod conformance;
