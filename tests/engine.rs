//! Native tests of the engine against onnxruntime's outputs (tests/fixtures/expected, made by
//! tests/fixtures/make_fixtures.py and make_reference.py).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;
use tract_onnx::prelude::f16;
use webinfer::{DType, Dim, Error, Model, Plan, Tensor, TensorData};

fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURES).join(rel)
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn model_bytes(name: &str) -> Vec<u8> {
    read(fixture_path(&format!("models/{name}.onnx")))
}

fn expected(name: &str) -> Value {
    serde_json::from_slice(&read(fixture_path(&format!("expected/{name}.json")))).unwrap()
}

fn plan(name: &str) -> Plan {
    Model::load(&model_bytes(name)).unwrap().plan().unwrap()
}

fn tensor(json: &Value) -> Tensor {
    let dims = json["dims"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = json["data"].as_array().unwrap();
    let ints = || data.iter().map(|v| v.as_i64().unwrap());
    let data = match DType::from_name(json["type"].as_str().unwrap()).unwrap() {
        DType::F32 => TensorData::F32(data.iter().map(|v| json_float(v.as_f64(), v.as_str()) as f32).collect()),
        DType::F64 => TensorData::F64(data.iter().map(|v| json_float(v.as_f64(), v.as_str())).collect()),
        DType::F16 => TensorData::F16(data.iter().map(|v| f16::from_f64(v.as_f64().unwrap()).to_bits()).collect()),
        DType::I8 => TensorData::I8(ints().map(|v| v as i8).collect()),
        DType::U8 => TensorData::U8(ints().map(|v| v as u8).collect()),
        DType::I32 => TensorData::I32(ints().map(|v| v as i32).collect()),
        DType::I64 => TensorData::I64(ints().collect()),
        DType::Bool => TensorData::Bool(data.iter().map(|v| v.as_i64().unwrap() != 0).collect()),
        other => panic!("the fixtures' JSON holds no {other} tensors"),
    };
    Tensor::new(dims, data)
}

fn feeds(case: &Value) -> Vec<(String, Tensor)> {
    case["inputs"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), tensor(v))).collect()
}

/// Runs every recorded case through one plan (so state reuse between runs is exercised) and
/// compares each output with onnxruntime's: type and dims exactly, values within tolerance.
fn check_fixture(name: &str, plan: &mut Plan) {
    for (i, case) in expected(name)["cases"].as_array().unwrap().iter().enumerate() {
        let outputs = plan.run(feeds(case)).unwrap_or_else(|e| panic!("{name} case {i}: {e}"));
        let reference = case["outputs"].as_object().unwrap();
        assert_eq!(outputs.len(), reference.len(), "{name}: output count");
        for (out_name, got) in &outputs {
            let want = tensor(&reference[out_name]);
            let label = format!("{name} case {i} output {out_name}");
            assert_eq!(got.dtype(), want.dtype(), "{label}: type");
            assert_eq!(got.dims, want.dims, "{label}: dims");
            assert_close(&label, &want.data.to_f64(), &got.data.to_f64(), tolerance(name));
        }
    }
}

#[test]
fn fixtures_match_onnxruntime() {
    for name in ["conv_f32", "qdq_int8", "dynamic_batch", "dtypes", "conv_f16", "conv_f16_io"] {
        check_fixture(name, &mut plan(name));
    }
}

/// A model converted to float16 weights (onnxruntime's converter; tests/fixtures/make_float16.py)
/// keeps its declared inputs and outputs, float32 or float16, and computes in float32
/// (src/engine/float16.rs): its answers are as close to the float32 model's as the float16
/// weights allow, and its plan is the float32 model's, op for op.
#[test]
fn float16_weights_compute_in_float32() {
    let io = Model::load(&model_bytes("conv_f16_io")).unwrap();
    let dtype = |info: &webinfer::TensorInfo| info.dtype.clone().unwrap_or_default();
    assert_eq!(dtype(&io.inputs()[0]), "float16");
    assert_eq!(io.outputs().iter().map(dtype).collect::<Vec<_>>(), ["float16", "float16"]);
    let kept = Model::load(&model_bytes("conv_f16")).unwrap();
    assert_eq!(dtype(&kept.inputs()[0]), "float32");

    let ops = |name: &str| {
        let case = &expected("conv_f32")["cases"][0];
        let mut ops: Vec<(String, usize)> =
            plan(name).profile(feeds(case), 1, || 0.0).unwrap().into_iter().map(|t| (t.op, t.nodes)).collect();
        ops.sort();
        ops
    };
    assert_eq!(ops("conv_f16"), ops("conv_f32"), "the float16-weights plan differs from the float32 one");

    // Weights rounded to float16 move these logits (of magnitude about 1) by up to 3.7e-4, as
    // much as onnxruntime's float16 model moves them (make_float16.py prints it).
    let case = &expected("conv_f32")["cases"][0];
    let outputs = plan("conv_f16").run(feeds(case)).unwrap();
    let (_, logits) = outputs.iter().find(|(name, _)| name == "logits").unwrap();
    let want = tensor(&case["outputs"]["logits"]);
    assert_close("conv_f16 logits against the float32 model's", &want.data.to_f64(), &logits.data.to_f64(), 1e-3);
}

/// Empty batches and infinities: onnxruntime's answers (infinities and the NaN they make through
/// MatMul, Relu, an empty output), not an error and not a panic. Likewise the operators webinfer
/// adds to tract (`ops`, src/ops), and scikit-learn pipelines converted by skl2onnx against
/// scikit-learn's own predictions (`sklearn`: the ai.onnx.ml operators).
#[test]
fn edge_cases_and_added_ops_match_onnxruntime() {
    let files = [expected("edge_cases"), expected("ops"), expected("sklearn")];
    for case in files.iter().flat_map(|f| f["cases"].as_array().unwrap()) {
        let label = format!("{} ({})", case["label"].as_str().unwrap(), case["model"].as_str().unwrap());
        let mut plan = plan(case["model"].as_str().unwrap());
        let outputs = plan.run(feeds(case)).unwrap_or_else(|e| panic!("{label}: {e}"));
        let mut names: Vec<&str> = outputs.iter().map(|(name, _)| name.as_str()).collect();
        names.sort();
        let want: Vec<&str> = case["outputs"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, want, "{label}: output names");
        for (name, got) in &outputs {
            let want = tensor(&case["outputs"][name]);
            assert_eq!(got.dtype(), want.dtype(), "{label} output {name}: type");
            assert_eq!(got.dims, want.dims, "{label} output {name}: dims");
            assert_close(&format!("{label} output {name}"), &want.data.to_f64(), &got.data.to_f64(), 1e-4);
        }
    }
}

/// Inputs that make tract panic (an index past either end of a gather- or scatter-like op's
/// table, an integer division by zero) give an Error naming the node, where onnxruntime refuses
/// them too, and the same plan then answers the next good input as onnxruntime does. Where
/// onnxruntime gives values (OneHot's out-of-range indices), so must the engine.
#[test]
fn inputs_that_make_tract_panic_are_errors_and_the_plan_keeps_working() {
    let cases = expected("bad_inputs");
    let cases = cases["cases"].as_array().unwrap();
    let mut errors = 0;
    let mut models: Vec<&str> = cases.iter().map(|c| c["model"].as_str().unwrap()).collect();
    models.dedup();
    for model in models {
        let mut plan = plan(model);
        let mine: Vec<&Value> = cases.iter().filter(|c| c["model"] == model).collect();
        assert!(mine.len() >= 2, "{model}: no cases");
        // Each case, then the first (good) one again: the plan must not remember a failure.
        for case in mine.iter().chain(mine.first()) {
            let label = format!("{model}: {}", case["label"].as_str().unwrap());
            // A known tract limitation: onnxruntime has values, the engine an Error (not a crash).
            let reference = case.get("outputs").filter(|_| case.get("tract_error").is_none());
            match (plan.run(feeds(case)), reference) {
                (Ok(outputs), Some(reference)) => {
                    for (name, got) in &outputs {
                        let want = tensor(&reference[name]);
                        assert_eq!(got.dims, want.dims, "{label} output {name}: dims");
                        assert_close(&format!("{label} output {name}"), &want.data.to_f64(), &got.data.to_f64(), 1e-6);
                    }
                }
                (Err(e), None) => {
                    errors += 1;
                    let node = case["node"].as_str().unwrap();
                    let message = e.to_string();
                    // Quoted as webinfer names it (a caught panic; tract may have renamed the node
                    // `integer_mod.rem`) or as tract does (its own error).
                    let named = message.contains(&format!("`{node}`"))
                        || message.contains(&format!("`{node}."))
                        || message.contains(&format!("\"{node}\""));
                    assert!(named, "{label}: the error does not name node {node}: {message}");
                    eprintln!("{label}: {message}");
                }
                (Ok(outputs), None) => panic!("{label}: onnxruntime refuses this input, the engine gave {outputs:?}"),
                (Err(e), Some(_)) => panic!("{label}: {e}"),
            }
        }
    }
    assert_eq!(errors, 15);
}

/// The int8 fast paths are taken: constant weights arrive dequantized (no DequantizeLinear on
/// weights left to tract) and each activation's quantize -> dequantize runs as one fused op.
/// (Their outputs are checked against onnxruntime by `fixtures_match_onnxruntime`.)
#[test]
fn qdq_models_take_the_fused_paths() {
    let mut plan = plan("qdq_int8");
    let case = &expected("qdq_int8")["cases"][0];
    let ops = plan.profile(feeds(case), 1, || 0.0).unwrap();
    let nodes = |prefix: &str| ops.iter().filter(|o| o.op.starts_with(prefix)).map(|o| o.nodes).sum::<usize>();
    let listing: Vec<(&str, usize)> = ops.iter().map(|o| (o.op.as_str(), o.nodes)).collect();
    // 8 activations are quantized, and the pairs are fused before tract's declutter, so none is
    // left to tract (it would otherwise turn a dequantize -> op -> quantize chain into a lookup
    // table, with a quantize and a dequantize pass around it). The model's second 3x3
    // convolution runs as an int8 product that takes 2 of them in (the first, on the image's 3
    // channels, stays f32); the other 6 run as one op each.
    assert_eq!(nodes("Int8Conv"), 1, "{listing:?}");
    assert_eq!(nodes("QuantDequant"), 6, "{listing:?}");
    assert_eq!(nodes("QuantizeLinear"), 0, "{listing:?}");
    assert_eq!(nodes("DequantizeLinear"), 0, "{listing:?}");
}

/// The `ops` fixture cases whose model name `keep` accepts.
fn ops_cases(keep: impl Fn(&str) -> bool) -> Vec<Value> {
    let cases = expected("ops")["cases"].as_array().unwrap().clone();
    cases.into_iter().filter(|c| keep(c["model"].as_str().unwrap())).collect()
}

/// One run of an `ops` fixture case, profiled: how many nodes of each kind of op it ran, by name.
fn ops_run(case: &Value) -> (impl Fn(&str) -> usize, String) {
    let ops = plan(case["model"].as_str().unwrap()).profile(feeds(case), 1, || 0.0).unwrap();
    let described = format!("{}: {ops:?}", case["model"]);
    (move |kind: &str| ops.iter().filter(|o| o.op == kind).map(|o| o.nodes).sum::<usize>(), described)
}

/// Linear and nearest `Resize` run on webinfer's kernel (src/ops/resize.rs) wherever tract-core
/// takes the node; nearest with ONNX's default rounding stays on tract-onnx's op. Their numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn resizes_run_on_webinfers_kernel() {
    // The Resize fixtures, and the Upsample ones tract turns into a Resize.
    let cases = ops_cases(|model| model.starts_with("op_resize_") || model.ends_with("_linear"));
    assert_eq!(cases.len(), 10);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        assert_eq!(nodes("SeparableResize"), usize::from(case["model"] != "op_resize_nearest_default_down"), "{described}");
    }
}

/// Pads, those in the file and the one tract puts in front of a padded convolution, run on
/// webinfer's kernel (src/ops/pad.rs); none is left to tract's. Their numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn pads_run_on_webinfers_kernel() {
    let cases = ops_cases(|model| model.starts_with("op_pad_"));
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        assert_eq!((nodes("RunPad"), nodes("Pad")), (1, 0), "{described}");
    }
}

/// Sums over leading axes, or over H and W behind a unit batch axis (channels-last global
/// pooling), run as webinfer's column sums (src/ops/reduce.rs). Their numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn leading_sums_run_as_column_sums() {
    let cases = ops_cases(|model| {
        ["op_reduce_sum_nhwc", "op_reduce_mean_flat", "op_reduce_sum_leading", "op_reduce_mean_nhwc_large"].contains(&model)
    });
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        assert_eq!((nodes("ColumnSum"), nodes("Reduce<Sum>")), (1, 0), "{described}");
    }
}

/// Max and average pools of one, two and three spatial axes, and over a long last axis, run on
/// webinfer's kernel (src/ops/pool.rs). Their numbers: `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn pools_run_on_webinfers_kernel() {
    let cases = ops_cases(|model| model.starts_with("op_max_pool_") || model.starts_with("op_avg_pool_"));
    assert_eq!(cases.len(), 16);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        let kernel = if case["model"].as_str().unwrap().starts_with("op_max_pool_") { "SeparableMaxPool" } else { "SeparableSumPool" };
        assert_eq!(nodes(kernel), 1, "{described}");
    }
}

/// Softmax over an axis that is not the last runs on webinfer's kernel (src/ops/softmax.rs), and
/// so does LogSoftmax, which tract turns into a softmax and a logarithm. Their numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn softmax_across_an_inner_axis_runs_on_webinfers_kernel() {
    let cases = expected("ops");
    for (model, ours) in [("op_softmax_axis1", 1), ("op_softmax_axis0_large", 1), ("op_log_softmax_axis1", 1)] {
        let case = cases["cases"].as_array().unwrap().iter().find(|c| c["model"] == model).unwrap();
        let ops = plan(model).profile(feeds(case), 1, || 0.0).unwrap();
        let nodes = ops.iter().filter(|o| o.op == "AxisSoftmax").map(|o| o.nodes).sum::<usize>();
        assert_eq!(nodes, ours, "{model}: {ops:?}");
    }
}

/// Arithmetic whose smaller operand repeats along the leading axes runs on a unicast kernel
/// (src/ops/broadcast.rs) unless tract takes it itself (a long aligned run). Numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn repeated_operands_run_on_a_unicast_kernel() {
    let cases = expected("ops");
    let models = [
        ("op_broadcast_mul_channels_last", "MulRepeatedOperand"),
        ("op_broadcast_add_lower_rank", "AddRepeatedOperand"),
        ("op_broadcast_sub_larger_second", "SubFRepeatedOperand"),
        ("op_broadcast_max_rows", "MaxRepeatedOperand"),
        ("op_broadcast_add_run_of_3", "AddRepeatedOperand"),
        ("op_broadcast_mul_run_of_24", "MulRepeatedOperand"),
        ("op_broadcast_mul_aligned_run", "OptMulUnicast"),
    ];
    for (model, op) in models {
        let case = cases["cases"].as_array().unwrap().iter().find(|c| c["model"] == model).unwrap();
        let ops = plan(model).profile(feeds(case), 1, || 0.0).unwrap();
        assert!(ops.iter().any(|o| o.op == op), "{model}: {ops:?}");
    }
}

/// QDQ convolutions with a window (3x3 on 9 channels, strided with 12 outputs, dilated, grouped,
/// 1-D, a batch of 2, SAME padding, channels last behind Transposes) run on webinfer's int8
/// kernel (src/ops/int8im2col.rs), which also takes the quantize -> dequantize of their input
/// and of their output: none is left to run on its own. A first layer (3 input channels) stays
/// on tract's f32 path, its two quantize -> dequantize pairs as ops. Their numbers:
/// `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn windowed_qdq_convolutions_run_on_the_int8_kernel() {
    let cases = ops_cases(|model| model.starts_with("op_qdq_conv_"));
    assert_eq!(cases.len(), 9);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        let int8 = case["model"] != "op_qdq_conv_first_layer";
        let want = if int8 { (1, 0) } else { (0, 2) };
        assert_eq!((nodes("Int8Conv"), nodes("QuantDequant")), want, "{described}");
    }
}

/// QDQ MatMul and Gemm on constant weights (2-D and 3-D activations, transposed weights, one
/// row) run on the int8 product of pointwise convolutions, with their bias and the quantize ->
/// dequantize on either side. Their numbers: `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn qdq_matrix_products_run_on_the_int8_kernel() {
    let cases = ops_cases(|model| model.starts_with("op_qdq_matmul_") || model.starts_with("op_qdq_gemm_"));
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let (nodes, described) = ops_run(case);
        assert_eq!((nodes("Int8PointwiseConv"), nodes("QuantDequant")), (1, 0), "{described}");
    }
}

/// Hard-swish in the forms exporters write it (Paddle's, tf2onnx's, with a scale and bias after
/// it), and other arithmetic by constants around a gate, run as one `GatedActivation` with
/// nothing left of tract's arithmetic; a clamp that is also a model output keeps its nodes, a
/// gate on another tensor (squeeze-and-excitation) is not one, and ONNX's own `HardSwish` stays
/// on tract's op, already one pass. Their numbers: `edge_cases_and_added_ops_match_onnxruntime`.
#[test]
fn self_gated_activations_run_as_one_op() {
    let cases = ops_cases(|model| model.starts_with("op_gated_"));
    assert_eq!(cases.len(), 8);
    for case in &cases {
        let model = case["model"].as_str().unwrap();
        let ops = plan(model).profile(feeds(case), 1, || 0.0).unwrap();
        let nodes = |keep: &dyn Fn(&str) -> bool| ops.iter().filter(|o| keep(&o.op)).map(|o| o.nodes).sum::<usize>();
        let gated = nodes(&|op| op == "GatedActivation");
        // tract's arithmetic in any form: the ops themselves, by scalar, unicast, chained.
        let arithmetic = nodes(&|op| ["Add", "Mul", "Sub", "Div", "Max", "Min"].iter().any(|a| op.contains(a)));
        match model {
            "op_gated_clamp_also_output" | "op_gated_gate_of_another" => assert_eq!(gated, 0, "{model}: {ops:?}"),
            "op_gated_hard_swish_onnx" => assert_eq!((gated, nodes(&|op| op == "HardSwish")), (0, 1), "{model}: {ops:?}"),
            // The Mul by 2 in front of the gate and the Add after it are not part of it.
            "op_gated_x_read_after" => assert_eq!(gated, 1, "{model}: {ops:?}"),
            _ => assert_eq!((gated, arithmetic), (1, 0), "{model}: {ops:?}"),
        }
    }
}

/// A quantize -> dequantize that only a pointwise convolution reads runs inside its int8 op; one
/// that is also a model output stays. Both with quantize and dequantize scales that differ, and
/// both give onnxruntime's numbers (`edge_cases_and_added_ops_match_onnxruntime`).
#[test]
fn pointwise_convolutions_absorb_their_input_quantization() {
    let cases = expected("edge_cases");
    for (model, quantizations_left) in [("qdq_pointwise", 0), ("qdq_pointwise_shared", 1)] {
        let case = cases["cases"].as_array().unwrap().iter().find(|c| c["model"] == model).unwrap();
        let ops = plan(model).profile(feeds(case), 1, || 0.0).unwrap();
        let nodes = |op: &str| ops.iter().filter(|o| o.op == op).map(|o| o.nodes).sum::<usize>();
        assert_eq!(nodes("Int8PointwiseConv"), 1, "{model}: {ops:?}");
        assert_eq!(nodes("QuantDequant"), quantizations_left, "{model}: {ops:?}");
    }
}

#[test]
fn describes_inputs_and_outputs() {
    let model = Model::load(&model_bytes("conv_f32")).unwrap();
    let inputs = model.inputs();
    assert_eq!(inputs.len(), 1);
    assert_eq!((inputs[0].name.as_str(), inputs[0].dtype.as_deref()), ("image", Some("float32")));
    assert_eq!(inputs[0].shape_string(), "[1,3,16,16]");
    let outputs: Vec<_> = model.outputs().iter().map(|o| (o.shape_string(), o.name.clone())).collect();
    assert_eq!(outputs, [("[1,10]".to_string(), "logits".to_string()), ("[1,10]".into(), "probs".into())]);

    let dynamic = Model::load(&model_bytes("dynamic_batch")).unwrap();
    let x = &dynamic.inputs()[0];
    assert_eq!(x.dims.as_deref(), Some(&[Dim::Symbol("batch".into()), Dim::Fixed(8)][..]));
    assert_eq!(x.shape_string(), "[batch,8]");

    let types: Vec<_> = Model::load(&model_bytes("dtypes")).unwrap().outputs().iter().map(|o| o.dtype.clone().unwrap()).collect();
    assert_eq!(types, ["float32", "bool", "int32", "int64", "uint8", "int8"]);
}

#[test]
fn dynamic_batch_planned_for_a_fixed_size() {
    let mut model = Model::load(&model_bytes("dynamic_batch")).unwrap();
    model.set_input_shape("x", &[3, 8]).unwrap();
    let mut plan = model.plan().unwrap();
    assert_eq!(plan.inputs()[0].shape_string(), "[3,8]");
    let case = &expected("dynamic_batch")["cases"][1];
    let out = plan.run(feeds(case)).unwrap();
    assert_close("batch 3", &tensor(&case["outputs"]["y"]).data.to_f64(), &out[0].1.data.to_f64(), 1e-4);
    // Batch 5 no longer fits the pinned plan: a clear error, not a crash.
    let err = plan.run(feeds(&expected("dynamic_batch")["cases"][2])).unwrap_err();
    assert!(matches!(err, Error::WrongShape { .. }), "{err}");
    assert_eq!(err.to_string(), "input `x` expects shape [3,8] but got dims [5,8]");
}

#[test]
fn shape_overrides_are_checked() {
    let mut model = Model::load(&model_bytes("dynamic_batch")).unwrap();
    let err = model.set_input_shape("x", &[3, 9]).unwrap_err();
    assert_eq!(err.to_string(), "input `x` expects shape [batch,8] but got dims [3,9]");
    let err = model.set_input_shape("y", &[3, 8]).unwrap_err();
    assert_eq!(err.to_string(), "unknown input `y`; the model's inputs are: x");
}

#[test]
fn unsupported_operator_is_named() {
    let err = Model::load(&model_bytes("unsupported_op")).unwrap_err();
    assert_eq!(err, Error::UnsupportedOp { op: "TfIdfVectorizer".into(), node: "ngrams".into() });
    assert!(err.to_string().starts_with("unsupported operator `TfIdfVectorizer` (node `ngrams`)"), "{err}");
}

#[test]
fn quantized_softmax_is_refused() {
    let err = Model::load(&model_bytes("qdq_softmax")).expect_err("quantized Softmax loaded");
    assert!(err.to_string().contains("node `probs_softmax` is a quantized Softmax"), "{err}");
}

#[test]
fn corrupt_models_are_rejected() {
    let bytes = model_bytes("conv_f32");
    for (what, data) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("empty", vec![]),
        ("random", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
        ("text", b"<html>404 Not Found</html>".to_vec()),
    ] {
        let err = Model::load(&data).err().unwrap_or_else(|| panic!("{what} bytes loaded as a model"));
        assert!(matches!(err, Error::InvalidModel { .. }), "{what}: {err}");
        assert!(err.to_string().starts_with("not a valid ONNX model"), "{what}: {err}");
    }
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 64]].concat();
    let err = Model::load(&png).err().unwrap().to_string();
    assert!(err.starts_with("not a valid ONNX model (this is a PNG image, not an ONNX model)"), "{err}");
}

#[test]
fn bad_feeds_are_errors_and_the_plan_keeps_working() {
    let mut plan = plan("conv_f32");
    let case = &expected("conv_f32")["cases"][0];
    let good = feeds(case);
    let image = good[0].1.clone();
    let bad: Vec<(Vec<(String, Tensor)>, &str)> = vec![
        (vec![("img".into(), image.clone())], "unknown input `img`; the model's inputs are: image"),
        (vec![], "missing input `image`: every model input must be fed"),
        (
            vec![("image".into(), image.clone()), ("image".into(), image.clone())],
            "input `image` was fed more than once",
        ),
        (
            vec![("image".into(), Tensor::new(image.dims.clone(), TensorData::I32(vec![0; 768])))],
            "input `image` expects float32 data but got int32",
        ),
        (
            vec![("image".into(), Tensor::new(vec![3, 16, 16], image.data.clone()))],
            "input `image` expects shape [1,3,16,16] but got dims [3,16,16]",
        ),
        (
            vec![("image".into(), Tensor::new(image.dims.clone(), TensorData::F32(vec![0.0; 767])))],
            "input `image` has dims [1,3,16,16] (768 elements) but its data holds 767 elements",
        ),
        (
            vec![("image".into(), Tensor::new(image.dims.clone(), TensorData::F32(with_nan_at(&image, 256 + 5 * 16 + 7))))],
            "input `image` holds NaN at index [0,1,5,7]; check how it was computed (a division by zero, an image \
             that failed to load?)",
        ),
    ];
    for (feeds, message) in bad {
        assert_eq!(plan.run(feeds).unwrap_err().to_string(), message);
        // After each error the same plan still gives onnxruntime's answer.
        let out = plan.run(good.clone()).unwrap();
        assert_close("after error", &tensor(&case["outputs"]["logits"]).data.to_f64(), &out[0].1.data.to_f64(), 1e-4);
    }
}

fn with_nan_at(tensor: &Tensor, flat: usize) -> Vec<f32> {
    let TensorData::F32(values) = &tensor.data else { panic!("not float32") };
    let mut values = values.clone();
    values[flat] = f32::NAN;
    values
}

#[test]
fn mismatched_dynamic_dims_are_rejected() {
    let mut plan = plan("dynamic_batch");
    let err = plan.run(vec![("x".into(), Tensor::new(vec![2, 7], TensorData::F32(vec![0.0; 14])))]).unwrap_err();
    assert_eq!(err.to_string(), "input `x` expects shape [batch,8] but got dims [2,7]");
}

/// EfficientNet-Lite0 as the project builds it (`./build.sh model`): fp32 logits within 1e-3 of
/// onnxruntime's, int8 QDQ with the same top-1, on the six reference photos; the int8 model's
/// pointwise convolutions take the int8 path.
#[test]
fn efficientnet_lite0_matches_onnxruntime() {
    let reference = expected("efficientnet_lite0");
    for kind in ["fp32", "int8"] {
        let model = &reference["models"][kind];
        let bytes = read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(model["url"].as_str().unwrap()));
        assert_eq!(
            webinfer::engine::digest::sha256_hex(&bytes),
            model["sha256"].as_str().unwrap(),
            "{kind}: the demo model build changed; re-run tests/fixtures/make_reference.py"
        );
        let mut plan = Model::load(&bytes).unwrap().plan().unwrap();
        for photo in reference["photos"].as_array().unwrap() {
            let pixels = read(fixture_path(photo["pixels"].as_str().unwrap()));
            let feed = Tensor::new(vec![1, 3, 224, 224], TensorData::F32(lite0_input(&pixels)));
            let out = plan.run(vec![("input".into(), feed)]).unwrap();
            let got = out[0].1.data.to_f64();
            let want: Vec<f64> = photo[format!("{kind}_logits")].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let label = format!("lite0 {kind} {}", photo["name"]);
            match kind {
                "fp32" => assert_close(&label, &want, &got, 1e-3),
                _ => assert_same_top1(&label, &want, &got),
            }
            if std::env::var_os("WEBINFER_PRINT_DIFF").is_some() {
                let diff = want.iter().zip(&got).map(|(w, g)| (w - g).abs()).fold(0.0, f64::max);
                eprintln!("{label}: max |logit - onnxruntime| = {diff:.4}");
            }
        }
        // The int8 model's 32 pointwise convolutions run as int8 products (its first, on 3
        // channels, stays f32: src/ops/int8im2col.rs says why); the fp32 model has no int8
        // weights, so none of its convolutions qualifies. Of the int8 model's 30 activation
        // quantizations, the 21 that only a pointwise convolution reads run inside it.
        let zeros = Tensor::new(vec![1, 3, 224, 224], TensorData::F32(vec![0.0; 3 * 224 * 224]));
        let ops = plan.profile(vec![("input".into(), zeros)], 1, || 0.0).unwrap();
        let nodes = |op: &str| ops.iter().filter(|o| o.op == op).map(|o| o.nodes).sum::<usize>();
        let int8 = kind == "int8";
        assert_eq!(nodes("Int8PointwiseConv"), if int8 { 32 } else { 0 }, "{kind}: {ops:?}");
        assert_eq!(nodes("Int8Conv"), 0, "{kind}: {ops:?}");
        assert_eq!(nodes("QuantDequant"), if int8 { 9 } else { 0 }, "{kind}: {ops:?}");
    }
}

/// A memory limit refuses a model before planning, with a message that says what to change;
/// the same model plans under a larger limit.
#[test]
fn memory_limit_refuses_large_models_before_planning() {
    let bytes = model_bytes("conv_f32");
    let err = Model::load(&bytes).unwrap().plan_within(Some(1024)).err().unwrap();
    assert!(matches!(err, Error::TooLarge { need, limit: 1024 } if need > 7000), "{err:?}");
    assert!(err.to_string().contains("over the memory limit of 0 MB (options.memoryLimitMB"), "{err}");
    assert!(Model::load(&bytes).unwrap().plan_within(Some(1 << 20)).is_ok());
}

/// Inputs the fuzzer (fuzz/, `cargo fuzz`) found crashing the engine; each must now be a clean
/// error. Add a file here for every new finding.
#[test]
fn fuzz_findings_are_clean_errors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURES).join("fuzz");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = read(path.clone());
        let outcome = Model::load(&bytes).and_then(|m| m.plan_within(Some(16 << 20)));
        assert!(outcome.is_err(), "{}: loaded", path.display());
        count += 1;
    }
    assert!(count >= 1);
    let err = Model::load(&read(dir.join("load_plan-dangling-output.onnx"))).err().unwrap().to_string();
    assert!(err.contains("graph output `y` is not produced by any node, input or initializer"), "{err}");
    let err = Model::load(&read(dir.join("load_plan-onehot-far-axis.onnx"))).err().unwrap().to_string();
    assert!(err.contains("(OneHot): `axis` names axis -805306369, past any tensor's rank"), "{err}");
    let err = Model::load(&read(dir.join("load_plan-raw-string-tensor.onnx"))).err().unwrap().to_string();
    assert!(err.contains("is stored as raw bytes, which ONNX does not allow"), "{err}");
    let err = Model::load(&read(dir.join("load_plan-conv-pads-for-fewer-axes.onnx"))).err().unwrap().to_string();
    assert!(err.contains("`pads` has 2 values, expected 4 (2 per spatial axis)"), "{err}");
    let err = Model::load(&read(dir.join("load_plan-float-gather-indices.onnx"))).err().unwrap().to_string();
    assert!(err.contains("(Gather): its indices `w` must be int32 or int64"), "{err}");
    // An Upsample whose output is empty but 2.7e9 rows long: its per-axis tables alone would be
    // 40 GB, allocated at run time (an abort, not a panic); refused before planning instead.
    let model = Model::load(&read(dir.join("load_plan-upsample-huge-empty-axis.onnx"))).unwrap();
    let err = model.plan_within(Some(2 << 30)).err().unwrap().to_string();
    assert!(err.contains("over the memory limit of 2048 MB"), "{err}");
}

/// Runs the recorded cases of one model of a multi-model expectations file through one plan.
fn check_cases_of(file: &str, model: &str, plan: &mut Plan) -> usize {
    let mut count = 0;
    for (i, case) in expected(file)["cases"].as_array().unwrap().iter().enumerate().filter(|(_, c)| c["model"] == model) {
        let outputs = plan.run(feeds(case)).unwrap_or_else(|e| panic!("{model} case {i}: {e}"));
        for (out_name, got) in &outputs {
            let want = tensor(&case["outputs"][out_name]);
            let label = format!("{model} case {i} output {out_name}");
            assert_eq!((got.dtype(), &got.dims), (want.dtype(), &want.dims), "{label}: type and dims");
            assert_close(&label, &want.data.to_f64(), &got.data.to_f64(), 1e-4);
        }
        count += 1;
    }
    count
}

/// A model tract cannot plan with symbolic dims (a strided convolution, a 2x Resize and a skip
/// connection: the U-Net / YOLO pattern), and one taking a Reshape's shape and a ReduceSum's
/// axes as inputs, are planned at run time for their feeds: unpinned, each run at its own size
/// or parameter values matches onnxruntime (tests/fixtures/make_dynamic.py), a repeated size
/// reuses its plan; pinned (`inputShapes`), the U-Net plans ahead.
#[test]
fn models_planned_per_feeds_match_onnxruntime_at_every_size() {
    let mut unet = Model::load(&model_bytes("unet_dynamic")).unwrap().plan().unwrap();
    assert_eq!(unet.planning(), "per-shape");
    assert_eq!(unet.inputs()[0].shape_string(), "[batch,3,height,width]");
    assert_eq!(check_cases_of("dynamic", "unet_dynamic", &mut unet), 4);
    let mut shapes = Model::load(&model_bytes("shape_inputs")).unwrap().plan().unwrap();
    assert_eq!(shapes.planning(), "per-value");
    assert_eq!(check_cases_of("dynamic", "shape_inputs", &mut shapes), 3);

    let mut pinned = Model::load(&model_bytes("unet_dynamic")).unwrap();
    pinned.set_input_shape("x", &[1, 3, 32, 48]).unwrap();
    let mut pinned = pinned.plan().unwrap();
    assert_eq!(pinned.planning(), "ahead");
    let first = &expected("dynamic")["cases"][0];
    let out = pinned.run(feeds(first)).unwrap();
    assert_close("pinned unet", &tensor(&first["outputs"]["y"]).data.to_f64(), &out[0].1.data.to_f64(), 1e-4);
    // A size the pinned plan was not made for is a clear error, not a new plan.
    let other = &expected("dynamic")["cases"][1];
    let err = pinned.run(feeds(other)).unwrap_err().to_string();
    assert!(err.contains("expects shape [1,3,32,48]"), "{err}");
}

/// Dynamic axes as real exporters write them (tests/fixtures/make_exports.py): ultralytics'
/// YOLOv8 exported with `dynamic=True` (batch, height and width symbolic in the input, the output
/// and `value_info`), and a transformer encoder with a dynamic sequence length from torch's
/// TorchScript and dynamo exporters. Unpinned, each runs at a new size on each call and matches
/// onnxruntime, a size seen before included: the encoders are planned once with symbolic batch and
/// sequence, the YOLOv8 (upsampled maps meet skip connections) per size; pinned, it plans ahead.
#[test]
fn exported_models_with_dynamic_axes_match_onnxruntime_at_every_size() {
    for (name, planning) in [("yolov8_dynamic", "per-shape"), ("encoder_torchscript", "ahead"), ("encoder_dynamo", "ahead")] {
        let mut plan = Model::load(&model_bytes(name)).unwrap().plan().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.planning(), planning, "{name}");
        let sizes = check_cases_of("exports", name, &mut plan);
        assert!(sizes >= 2, "{name}: {sizes} sizes");
        // Back to the first size, after others.
        let first = expected("exports")["cases"].as_array().unwrap().iter().find(|c| c["model"] == name).unwrap().clone();
        let again = plan.run(feeds(&first)).unwrap();
        for (out_name, got) in &again {
            assert_close(&format!("{name} again {out_name}"), &tensor(&first["outputs"][out_name]).data.to_f64(), &got.data.to_f64(), 1e-4);
        }
    }
    let mut pinned = Model::load(&model_bytes("yolov8_dynamic")).unwrap();
    pinned.set_input_shape("images", &[1, 3, 64, 32]).unwrap();
    let mut pinned = pinned.plan().unwrap();
    assert_eq!(pinned.planning(), "ahead");
    let first = &expected("exports")["cases"][0];
    let out = pinned.run(feeds(first)).unwrap();
    assert_close("pinned yolov8", &tensor(&first["outputs"]["output0"]).data.to_f64(), &out[0].1.data.to_f64(), 1e-4);
}

/// A size the model cannot take (odd: the Resize's output no longer matches the skip
/// connection) is an error naming the sizes, and the plan keeps answering for good sizes.
#[test]
fn a_size_that_cannot_be_planned_is_an_error_and_the_plan_keeps_working() {
    let mut unet = Model::load(&model_bytes("unet_dynamic")).unwrap().plan().unwrap();
    let odd = vec![("x".to_string(), Tensor::new(vec![1, 3, 15, 16], TensorData::F32(vec![0.5; 3 * 15 * 16])))];
    let err = unet.run(odd).unwrap_err().to_string();
    assert!(err.contains("for inputs of dims [1,3,15,16]"), "{err}");
    assert_eq!(check_cases_of("dynamic", "unet_dynamic", &mut unet), 4);
}

/// Silero VAD (the silero-vad 6.2.0 wheel's three ONNX files, fetched by tools/setup.sh): a
/// recurrent model with `If` branches on shapes and, in `silero_vad.onnx`, on its sample-rate
/// input. Each runs over consecutive chunks with the state it returned fed back, as an app
/// streams audio, and matches onnxruntime at every step (tests/fixtures/make_recurrent.py);
/// `silero_vad.onnx` runs at 16 kHz and then at 8 kHz in the same plan.
#[test]
fn recurrent_model_threads_its_state_like_onnxruntime() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/silero-vad");
    let expected = expected("recurrent");
    let mut plans: Vec<(String, Plan)> = Vec::new();
    for case in expected["cases"].as_array().unwrap() {
        let name = case["model"].as_str().unwrap();
        let bytes = read(dir.join(name));
        assert_eq!(webinfer::engine::digest::sha256_hex(&bytes), case["sha256"].as_str().unwrap(), "{name}: another file");
        if !plans.iter().any(|(n, _)| n == name) {
            plans.push((name.to_string(), Model::load(&bytes).unwrap().plan().unwrap_or_else(|e| panic!("{name}: {e}"))));
        }
        let plan = &mut plans.iter_mut().find(|(n, _)| n == name).unwrap().1;
        let rate = case["rate"].as_i64().unwrap();
        let mut state = Tensor::new(vec![2, 1, 128], TensorData::F32(vec![0.0; 256]));
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let label = format!("{name} at {rate} Hz, step {i}");
            let mut inputs = feeds(step);
            inputs.push(("state".into(), state.clone()));
            let outputs = plan.run(inputs).unwrap_or_else(|e| panic!("{label}: {e}"));
            for (out, got) in &outputs {
                let want = tensor(&step["outputs"][out]);
                assert_eq!(got.dims, want.dims, "{label} {out}: dims");
                assert_close(&format!("{label} {out}"), &want.data.to_f64(), &got.data.to_f64(), 1e-4);
            }
            state = outputs.into_iter().find(|(out, _)| out == "stateN").unwrap().1;
        }
    }
}
