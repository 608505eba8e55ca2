//! The `webinfer` binary on the fixture models; numbers are checked against onnxruntime's
//! outputs recorded in tests/fixtures/expected.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn model(name: &str) -> String {
    fixtures().join(format!("models/{name}.onnx")).display().to_string()
}

fn webinfer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webinfer")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(format!("expected/{name}.json"))).unwrap()).unwrap()
}

/// Writes an expected-JSON float32 input as the raw little-endian file `--input` takes.
fn raw_f32(json: &Value, file: &str) -> String {
    let bytes: Vec<u8> = json["data"].as_array().unwrap().iter().flat_map(|v| (v.as_f64().unwrap() as f32).to_le_bytes()).collect();
    let path = std::env::temp_dir().join(format!("webinfer-cli-{}-{file}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

fn max_abs_diff(a: &Value, b: &Value) -> f64 {
    let (a, b) = (a["data"].as_array().unwrap(), b["data"].as_array().unwrap());
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).fold(0.0, f64::max)
}

#[test]
fn inspect_reports_ops_and_support() {
    let out = webinfer(&["inspect", &model("conv_f32")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in ["image float32 [1,3,16,16]", "logits float32 [1,10]", "3 Conv", "ops (10 nodes)", "supported: every op"] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }

    let out = webinfer(&["inspect", "--json", &model("unsupported_op")]);
    assert_eq!(out.status.code(), Some(1), "unsupported ops must fail the command");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unsupported"], serde_json::json!([{ "op": "TfIdfVectorizer", "node": "ngrams" }]));
    let bytes = std::fs::read(model("unsupported_op")).unwrap();
    assert_eq!(report["bytes"], bytes.len());
}

#[test]
fn run_matches_onnxruntime() {
    let case = &expected("conv_f32")["cases"][0];
    let input = raw_f32(&case["inputs"]["image"], "image.f32");
    let out = webinfer(&["run", &model("conv_f32"), "--input", &format!("image={input}"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in ["logits", "probs"] {
        assert_eq!(got["outputs"][name]["dims"], case["outputs"][name]["dims"]);
        let diff = max_abs_diff(&got["outputs"][name], &case["outputs"][name]);
        assert!(diff <= 1e-4, "{name}: max abs diff {diff}");
    }
}

#[test]
fn dynamic_dims_need_a_shape() {
    let out = webinfer(&["run", &model("dynamic_batch")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("input `x` has a dynamic dim ([batch,8]); fix it with --shape x=D,D,..."), "{}", stderr(&out));

    let case = &expected("dynamic_batch")["cases"][1];
    let input = raw_f32(&case["inputs"]["x"], "x.f32");
    let out = webinfer(&["run", &model("dynamic_batch"), "--shape", "x=3,8", "--input", &format!("x={input}"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(max_abs_diff(&got["outputs"]["y"], &case["outputs"]["y"]) <= 1e-4);
}

#[test]
fn bench_reports_latency() {
    let out = webinfer(&["bench", &model("qdq_int8"), "--runs", "5", "--warmup", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"], 5);
    for key in ["load_ms", "plan_ms", "first_run_ms", "median_ms", "p10_ms", "p90_ms"] {
        assert!(report[key].as_f64().is_some_and(|v| v >= 0.0), "{key}: {}", report[key]);
    }
    assert!(report["p10_ms"].as_f64() <= report["p90_ms"].as_f64());
}

#[test]
fn bad_models_and_arguments_are_clear_errors() {
    let truncated = std::env::temp_dir().join(format!("webinfer-cli-{}-truncated.onnx", std::process::id()));
    let bytes = std::fs::read(model("conv_f32")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = webinfer(&["run", truncated.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a valid ONNX model"), "{}", stderr(&out));

    let out = webinfer(&["frobnicate", &model("conv_f32")]);
    assert!(stderr(&out).contains("unknown command `frobnicate`"), "{}", stderr(&out));
    let out = webinfer(&["run", &model("conv_f32"), "--input", "nope=/dev/null"]);
    assert!(stderr(&out).contains("--input nope: the model has no such input (inputs: image)"), "{}", stderr(&out));
}
