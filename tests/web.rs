//! Browser tests: the JS-facing API in real headless Chrome and Firefox
//! (`wasm-pack test --headless --chrome --firefox --release`, run by `./build.sh test`).
//! Models are fetched over HTTP from the test runner's server, which serves the crate root
//! (fixtures from tests/fixtures, EfficientNet-Lite0 from target/demo-model).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use common::conformance::{interface, judge, parse_list, Verdict, CASES};
use js_sys::{
    Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array, Int16Array, Int32Array, Int8Array, Object, Reflect,
    Uint16Array, Uint32Array, Uint8Array,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use webinfer::web::types::{Feeds, ModelSource, SessionOptions};
use webinfer::web::{clear_model_cache, model_cache_settled, preprocess_image, top_k_js, Session};
use webinfer::web::types::{ImagePixels, PreprocessSpec};
use webinfer::{DType, Tensor, TensorData};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/web/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = toFeeds)]
    fn to_feeds(inputs: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = toNumbers)]
    fn to_numbers(array_like: &JsValue) -> Vec<f64>;
    #[wasm_bindgen(js_name = fetchJson, catch)]
    async fn fetch_json(url: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = fetchBytes, catch)]
    async fn fetch_bytes(url: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = cacheHas)]
    async fn cache_has(sha256: &str) -> JsValue;
    #[wasm_bindgen(js_name = cachePut)]
    async fn cache_put(sha256: &str, bytes: &Uint8Array);
    #[wasm_bindgen(js_name = cacheBytes)]
    async fn cache_bytes(sha256: &str) -> Uint8Array;
    #[wasm_bindgen(js_name = progressRecorder)]
    fn progress_recorder() -> JsValue;
    #[wasm_bindgen(js_name = stubFlakyOrigin)]
    fn stub_flaky_origin(prefix: &str, bytes: &Uint8Array, chunks: u32, plan: Vec<String>);
    #[wasm_bindgen(js_name = stubRequests)]
    fn stub_requests(prefix: &str) -> u32;
    #[wasm_bindgen(js_name = imageData)]
    fn new_image_data(bytes: &[u8], width: u32, height: u32) -> JsValue;
    #[wasm_bindgen(js_name = stubOrigin)]
    fn stub_origin(prefix: &str, bytes: &Uint8Array, chunks: u32, fail_after: Option<u32>);
}

fn model_url(name: &str) -> String {
    format!("/{FIXTURES}/models/{name}.onnx")
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

fn options(pairs: &[(&str, JsValue)]) -> Option<SessionOptions> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    Some(o.unchecked_into())
}

async fn create(source: impl Into<JsValue>, options: Option<SessionOptions>) -> Result<Session, String> {
    Session::create(source.into().unchecked_into::<ModelSource>(), options).await.map_err(message)
}

fn message(e: impl Into<JsValue>) -> String {
    let value: JsValue = e.into();
    let error: &js_sys::Error = value.dyn_ref().expect("failures reach JS as Error objects");
    String::from(error.message())
}

fn run(session: &mut Session, feeds: JsValue) -> Result<JsValue, String> {
    session.run(feeds.unchecked_into::<Feeds>()).map(Into::into).map_err(message)
}

async fn bytes(url: &str) -> Uint8Array {
    fetch_bytes(url).await.unwrap().unchecked_into()
}

fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "expected `{part}` in: {text}");
}

/// Compares every output of one recorded onnxruntime case.
fn check_case(label: &str, outputs: &JsValue, case: &JsValue, tolerance: f64) {
    let expected = get(case, "outputs");
    let names = Object::keys(expected.unchecked_ref::<Object>());
    assert_eq!(Object::keys(outputs.unchecked_ref::<Object>()).length(), names.length(), "{label}: output count");
    for name in names.iter() {
        let name = name.as_string().unwrap();
        let (want, got) = (get(&expected, &name), get(outputs, &name));
        let label = format!("{label} output {name}");
        assert_eq!(get(&got, "type"), get(&want, "type"), "{label}: type");
        assert_eq!(to_numbers(&get(&got, "dims")), to_numbers(&get(&want, "dims")), "{label}: dims");
        assert_close(&label, &to_numbers(&get(&want, "data")), &to_numbers(&get(&got, "data")), tolerance);
    }
}

#[wasm_bindgen_test]
async fn fixtures_from_urls_match_onnxruntime() {
    for name in ["conv_f32", "qdq_int8", "dynamic_batch", "dtypes", "conv_f16"] {
        let expected = fetch_json(&format!("/{FIXTURES}/expected/{name}.json")).await.unwrap();
        let mut session = create(model_url(name), None).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let cases: Array = get(&expected, "cases").unchecked_into();
        // One session for all cases: the plan's state is reused between runs.
        for (i, case) in cases.iter().enumerate() {
            let outputs = run(&mut session, to_feeds(&get(&case, "inputs"))).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_case(&format!("{name} case {i}"), &outputs, &case, tolerance(name));
        }
    }
}

/// Empty batches, NaN and infinities give onnxruntime's answers, and the session keeps working;
/// so do the operators webinfer adds to tract (`ops`, src/ops), and scikit-learn pipelines
/// converted by skl2onnx give scikit-learn's predictions (`sklearn`).
#[wasm_bindgen_test]
async fn edge_cases_and_added_ops_match_onnxruntime() {
    let mut cases = Vec::new();
    for file in ["edge_cases", "ops", "sklearn"] {
        let expected = fetch_json(&format!("/{FIXTURES}/expected/{file}.json")).await.unwrap();
        cases.extend(Array::from(&get(&expected, "cases")).iter());
    }
    for case in cases {
        let model = get(&case, "model").as_string().unwrap();
        let label = format!("{} ({model})", get(&case, "label").as_string().unwrap());
        let mut session = create(model_url(&model), None).await.unwrap();
        let outputs = run(&mut session, to_feeds(&get(&case, "inputs"))).unwrap_or_else(|e| panic!("{label}: {e}"));
        check_case(&label, &outputs, &case, 1e-4);
    }
}

#[wasm_bindgen_test]
async fn describes_inputs_and_outputs() {
    let session = create(model_url("dynamic_batch"), None).await.unwrap();
    assert_eq!(Array::from(&session.input_names().unwrap()).to_vec(), [JsValue::from("x")]);
    assert_eq!(Array::from(&session.output_names().unwrap()).to_vec(), [JsValue::from("y")]);
    let x = Array::from(&session.inputs().unwrap()).get(0);
    assert_eq!(get(&x, "type"), "float32");
    assert_eq!(Array::from(&get(&x, "dims")).to_vec(), [JsValue::from("batch"), JsValue::from(8)]);

    let shapes = Object::new();
    Reflect::set(&shapes, &"x".into(), &Array::of2(&2.into(), &8.into())).unwrap();
    let pinned = create(model_url("dynamic_batch"), options(&[("inputShapes", shapes.into())])).await.unwrap();
    let x = Array::from(&pinned.inputs().unwrap()).get(0);
    assert_eq!(to_numbers(&get(&x, "dims")), [2.0, 8.0]);
}

#[wasm_bindgen_test]
async fn bytes_sources_work_and_are_verified() {
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    create(data.clone(), options(&[("sha256", digest.as_str().into())])).await.unwrap();
    let session = create(data.buffer(), None).await.unwrap();
    let info: JsValue = session.load_info().into();
    assert_eq!(get(&info, "source"), "bytes");
    assert_eq!(get(&info, "sha256"), digest.as_str());
    // The test pages are on localhost, a secure context: the browser's digest, not sha2's.
    assert_eq!(get(&info, "digestWith"), "SubtleCrypto");
    let err = create(data, options(&[("sha256", "0".repeat(64).into())])).await.err().unwrap();
    assert_contains(&err, "sha256 mismatch for the model bytes");
}

#[wasm_bindgen_test]
async fn digest_mismatch_is_rejected_and_nothing_is_cached() {
    clear_model_cache().await.unwrap();
    let wrong = "ab".repeat(32);
    let err = create(model_url("conv_f32"), options(&[("sha256", wrong.as_str().into())])).await.err().unwrap();
    assert_contains(&err, &format!("sha256 mismatch for {}: expected {wrong}, got ", model_url("conv_f32")));
    assert_contains(&err, "it was not parsed and not cached");
    assert!(!cache_has(&wrong).await.is_truthy(), "a mismatching download was cached");
}

#[wasm_bindgen_test]
async fn second_load_comes_from_the_cache_without_a_request() {
    clear_model_cache().await.unwrap();
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    let first = create(model_url("conv_f32"), options(&[("sha256", digest.as_str().into())])).await.unwrap();
    assert_eq!(get(&first.load_info().into(), "source"), "network");
    // The write finishes after create resolves; modelCacheSettled waits for it.
    model_cache_settled().await;
    assert!(cache_has(&digest).await.is_truthy(), "verified model was not cached");

    // Same digest, a URL that does not exist: only the cache can satisfy it.
    let recorder = progress_recorder();
    let opts = options(&[("sha256", digest.as_str().into()), ("onProgress", get(&recorder, "onProgress"))]);
    let mut second = create("/no/such/model.onnx", opts).await.unwrap();
    let info: JsValue = second.load_info().into();
    assert_eq!(get(&info, "source"), "cache");
    assert_eq!(get(&info, "bytes").as_f64(), Some(data.length() as f64));
    let size = data.length() as f64;
    let calls: Vec<Vec<f64>> = Array::from(&get(&recorder, "calls")).iter().map(|c| to_numbers(&c)).collect();
    assert_eq!(calls, [vec![size, size]], "a cache hit reports itself as complete");

    let case = get(&fetch_json(&format!("/{FIXTURES}/expected/conv_f32.json")).await.unwrap(), "cases");
    let case = Array::from(&case).get(0);
    let outputs = run(&mut second, to_feeds(&get(&case, "inputs"))).unwrap();
    check_case("cached conv_f32", &outputs, &case, tolerance("conv_f32"));

    // With caching off, the same load must go to the network (and fail on that URL).
    let opts = options(&[("sha256", digest.as_str().into()), ("cache", false.into())]);
    let err = create("/no/such/model.onnx", opts).await.err().unwrap();
    assert_contains(&err, "could not fetch /no/such/model.onnx: HTTP 404");
}

#[wasm_bindgen_test]
async fn damaged_cache_entry_is_replaced_by_a_download() {
    clear_model_cache().await.unwrap();
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    // One byte flipped, stored under the good digest's key.
    let mut damaged = data.to_vec();
    damaged[data.length() as usize / 2] ^= 1;
    cache_put(&digest, &Uint8Array::from(&damaged[..])).await;

    let session = create(model_url("conv_f32"), options(&[("sha256", digest.as_str().into())])).await.unwrap();
    let info: JsValue = session.load_info().into();
    assert_eq!(get(&info, "source"), "network", "a damaged cache entry was used");
    assert_eq!(get(&info, "sha256"), digest.as_str());
    assert_eq!(get(&info, "digestWith"), "SubtleCrypto");
    model_cache_settled().await;
    assert_eq!(cache_bytes(&digest).await.to_vec(), data.to_vec(), "the damaged entry was not replaced");
    let again = create(model_url("conv_f32"), options(&[("sha256", digest.as_str().into())])).await.unwrap();
    assert_eq!(get(&again.load_info().into(), "source"), "cache");
}

#[wasm_bindgen_test]
async fn progress_is_reported_while_streaming() {
    let data = bytes(&model_url("conv_f32")).await;
    stub_origin("/stub/progress/", &data, 3, None);
    let recorder = progress_recorder();
    let session = create("/stub/progress/conv.onnx", options(&[("onProgress", get(&recorder, "onProgress"))])).await.unwrap();
    assert_eq!(get(&session.load_info().into(), "source"), "network");
    let calls: Vec<Vec<f64>> = Array::from(&get(&recorder, "calls")).iter().map(|c| to_numbers(&c)).collect();
    let total = data.length() as f64;
    let chunk = (total / 3.0).ceil();
    assert_eq!(calls, [vec![chunk, total], vec![2.0 * chunk, total], vec![total, total]]);
}

#[wasm_bindgen_test]
async fn interrupted_download_is_an_error_and_nothing_is_cached() {
    clear_model_cache().await.unwrap();
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    stub_origin("/stub/cut/", &data, 4, Some(2));
    let err = create("/stub/cut/conv.onnx", options(&[("sha256", digest.as_str().into())])).await.err().expect("a cut download loaded");
    let half = 2.0 * (data.length() as f64 / 4.0).ceil();
    assert_contains(&err, &format!("download of /stub/cut/conv.onnx was interrupted after {half} of {} bytes", data.length()));
    assert!(!cache_has(&digest).await.is_truthy(), "a partial download was cached");
}

#[wasm_bindgen_test]
async fn bad_models_and_sources_are_clear_errors() {
    let err = create(model_url("unsupported_op"), None).await.err().unwrap();
    assert_contains(&err, "unsupported operator `TfIdfVectorizer` (node `ngrams`)");

    let data = bytes(&model_url("conv_f32")).await;
    let err = create(data.subarray(0, data.length() / 2), None).await.err().unwrap();
    assert_contains(&err, "not a valid ONNX model");

    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let err = create(Uint8Array::from(&random[..]), None).await.err().unwrap();
    assert_contains(&err, "not a valid ONNX model");
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 64]].concat();
    let err = create(Uint8Array::from(&png[..]), None).await.err().unwrap();
    assert_contains(&err, "not a valid ONNX model (this is a PNG image, not an ONNX model)");

    let err = create("/no/such/model.onnx", None).await.err().unwrap();
    assert_eq!(err, "could not fetch /no/such/model.onnx: HTTP 404 Not Found");

    let err = create(42, None).await.err().unwrap();
    assert_contains(&err, "a model source must be a URL");

    let err = create(model_url("conv_f32"), options(&[("sha265", "x".into())])).await.err().unwrap();
    assert_contains(&err, "unknown option `sha265`");
    let err = create(model_url("conv_f32"), options(&[("sha256", "abc".into())])).await.err().unwrap();
    assert_contains(&err, "options.sha256 must be the model's sha256 as 64 hex digits");
    let err = create(model_url("conv_f32"), options(&[("cache", true.into())])).await.err().unwrap();
    assert_contains(&err, "options.cache needs options.sha256");
}

#[wasm_bindgen_test]
async fn errors_do_not_poison_the_session() {
    let mut session = create(model_url("conv_f32"), None).await.unwrap();
    let case = Array::from(&get(&fetch_json(&format!("/{FIXTURES}/expected/conv_f32.json")).await.unwrap(), "cases")).get(0);
    let good = to_feeds(&get(&case, "inputs"));
    let image = get(&good, "image");
    let feeds = |name: &str, tensor: JsValue| -> JsValue {
        let o = Object::new();
        Reflect::set(&o, &name.into(), &tensor).unwrap();
        o.into()
    };
    let tensor = |data: JsValue, dims: &[u32], ty: Option<&str>| -> JsValue {
        let t = Object::new();
        Reflect::set(&t, &"data".into(), &data).unwrap();
        Reflect::set(&t, &"dims".into(), &dims.iter().map(|&d| JsValue::from(d)).collect::<Array>()).unwrap();
        if let Some(ty) = ty {
            Reflect::set(&t, &"type".into(), &ty.into()).unwrap();
        }
        t.into()
    };
    let f32s = |n: u32| -> JsValue { Float32Array::new_with_length(n).into() };
    let with_nan = |data: &JsValue, at: u32| -> JsValue {
        let copy = Float32Array::new(data);
        copy.set_index(at, f32::NAN);
        copy.into()
    };
    let bad: Vec<(JsValue, &str)> = vec![
        (feeds("img", image.clone()), "unknown input `img`; the model's inputs are: image"),
        (Object::new().into(), "missing input `image`"),
        (feeds("image", tensor(js_sys::Int32Array::new_with_length(768).into(), &[1, 3, 16, 16], None)), "input `image` expects float32 data but got int32"),
        (feeds("image", tensor(f32s(768), &[3, 16, 16], None)), "input `image` expects shape [1,3,16,16] but got dims [3,16,16]"),
        (feeds("image", tensor(f32s(767), &[1, 3, 16, 16], None)), "input `image` has dims [1,3,16,16] (768 elements) but its data holds 767 elements"),
        (feeds("image", tensor(Array::new().into(), &[1, 3, 16, 16], None)), "data must be a Float32Array, Float64Array, Float16Array, Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array, or an Array of strings, got a plain Array"),
        (feeds("image", tensor(f32s(768), &[1, 3, 16, 16], Some("int8"))), "type 'int8' does not match its data (Float32Array)"),
        (feeds("image", tensor(f32s(768), &[1, 3, 16, 16], Some("float64"))), "type 'float64' does not match its data (Float32Array); use a Float64Array"),
        (feeds("image", tensor(f32s(768), &[1, 3, 16, 16], Some("float8"))), "unknown type 'float8'"),
        (feeds("image", tensor(with_nan(&get(&image, "data"), 256 + 5 * 16 + 7), &[1, 3, 16, 16], None)), "input `image` holds NaN at index [0,1,5,7]"),
        (feeds("image", 7.into()), "feed `image` must be an object"),
        (JsValue::NULL, "feeds must be an object"),
    ];
    for (feeds, expected) in bad {
        let err = run(&mut session, feeds).err().unwrap_or_else(|| panic!("no error for: {expected}"));
        assert_contains(&err, expected);
        // The same session still gives onnxruntime's answer after each error.
        let outputs = run(&mut session, good.clone()).unwrap();
        check_case("after error", &outputs, &case, tolerance("conv_f32"));
    }
}

/// Inputs that make tract panic (an index past either end of each gather- and scatter-like op's
/// table, an integer division by zero) are an `Error` naming the node, where onnxruntime refuses
/// them too; the same session then answers the next good input as onnxruntime does. The build
/// unwinds (build.sh), so nothing is lost. OneHot's out-of-range indices, which onnxruntime maps
/// to off values, are an Error too: tract 0.23 panics on them (`tract_error` in the fixture).
#[wasm_bindgen_test]
async fn inputs_that_make_tract_panic_are_errors_and_the_session_keeps_working() {
    let expected = fetch_json(&format!("/{FIXTURES}/expected/bad_inputs.json")).await.unwrap();
    let cases: Vec<JsValue> = Array::from(&get(&expected, "cases")).iter().collect();
    let mut errors = 0;
    let mut models: Vec<String> = cases.iter().map(|c| get(c, "model").as_string().unwrap()).collect();
    models.dedup();
    for model in models {
        let mut session = create(model_url(&model), None).await.unwrap_or_else(|e| panic!("{model}: {e}"));
        // An index past 2^32 wraps in wasm32's usize inside tract (a real row comes back): a
        // known gap, marked in the fixture and run by the native suite only.
        let mine: Vec<&JsValue> = cases
            .iter()
            .filter(|c| get(c, "model").as_string().as_deref() == Some(&model))
            .filter(|c| get(c, "wraps_in_wasm32").is_undefined())
            .collect();
        // Each case, then the first (good) one again.
        for case in mine.iter().chain(mine.first()) {
            let label = format!("{model}: {}", get(case, "label").as_string().unwrap());
            let refused = get(case, "outputs").is_undefined() || !get(case, "tract_error").is_undefined();
            match run(&mut session, to_feeds(&get(case, "inputs"))) {
                Ok(outputs) if !refused => check_case(&label, &outputs, case, 1e-6),
                Err(e) if refused => {
                    errors += 1;
                    // Named by webinfer (a caught panic; tract may have renamed the node, as in
                    // `integer_mod.rem`) or by tract's own error.
                    let node = |quote: &str| format!("{quote}{}", get(case, "node").as_string().unwrap());
                    assert!(e.contains(&node("`")) || e.contains(&node("\"")), "{label}: {e}");
                }
                Ok(_) => panic!("{label}: onnxruntime refuses this input, the engine did not"),
                Err(e) => panic!("{label}: {e}"),
            }
        }
    }
    assert_eq!(errors, 14);
}

/// Every model the fuzzer found making tract panic or abort (tests/fixtures/fuzz) is an `Error`
/// from `Session.create` in the browser too, and the module keeps working: a good model loads and
/// answers as onnxruntime does after each. None of them still reaches tract's run: each is
/// refused at load (`inspect.rs`) or by the memory limit before planning, which the native suite
/// asserts message by message.
#[wasm_bindgen_test]
async fn fuzz_findings_are_errors_and_the_module_keeps_working() {
    let expected = fetch_json(&format!("/{FIXTURES}/expected/conv_f32.json")).await.unwrap();
    let case = Array::from(&get(&expected, "cases")).get(0);
    let findings = [
        ("load_plan-conv-pads-for-fewer-axes", "`pads` has 2 values, expected 4 (2 per spatial axis)"),
        ("load_plan-dangling-output", "graph output `y` is not produced by any node, input or initializer"),
        ("load_plan-float-gather-indices", "(Gather): its indices `w` must be int32 or int64"),
        ("load_plan-onehot-far-axis", "(OneHot): `axis` names axis -805306369, past any tensor's rank"),
        ("load_plan-raw-string-tensor", "is stored as raw bytes, which ONNX does not allow"),
        ("load_plan-short-pads", "node `c1` (Conv): `pads` has 2 values, expected 4"),
        // Natively the memory limit refuses it; in wasm32 tract refuses the 2.7e9-long axis first.
        ("load_plan-upsample-huge-empty-axis", "Resize ToTypedTranslator: tensor shape [1, 3, 2684354560, 0] of F32 is too large"),
    ];
    for (name, part) in findings {
        let err = create(format!("/{FIXTURES}/fuzz/{name}.onnx"), None).await.err().unwrap_or_else(|| panic!("{name}: loaded"));
        assert!(!err.is_empty(), "{name}: an empty message");
        assert_contains(&err, part);
        let mut session = create(model_url("conv_f32"), None).await.unwrap_or_else(|e| panic!("after {name}: {e}"));
        let outputs = run(&mut session, to_feeds(&get(&case, "inputs"))).unwrap_or_else(|e| panic!("after {name}: {e}"));
        check_case(&format!("conv_f32 after {name}"), &outputs, &case, tolerance("conv_f32"));
    }
}

/// EfficientNet-Lite0 as the project builds it (`./build.sh model`), fetched over HTTP with the
/// digests the expectations were made with: fp32 logits within 1e-3 of onnxruntime's, int8 QDQ
/// with the same top-1, on six real photos.
#[wasm_bindgen_test]
async fn efficientnet_lite0_matches_onnxruntime() {
    let reference = fetch_json(&format!("/{FIXTURES}/expected/efficientnet_lite0.json")).await.unwrap();
    // The int8 model is the one the demo manifest publishes.
    let manifest = fetch_json(&format!("/{DEMO_MANIFEST}")).await.unwrap();
    let int8 = get(&get(&reference, "models"), "int8");
    assert_eq!(get(&get(&manifest, "model"), "sha256"), get(&int8, "sha256"), "re-run tests/fixtures/make_reference.py");
    for kind in ["fp32", "int8"] {
        let model = get(&get(&reference, "models"), kind);
        let (url, sha256) = (get(&model, "url").as_string().unwrap(), get(&model, "sha256"));
        let recorder = progress_recorder();
        let opts = options(&[("sha256", sha256), ("cache", false.into()), ("onProgress", get(&recorder, "onProgress"))]);
        let mut session = create(format!("/{url}"), opts).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let calls = Array::from(&get(&recorder, "calls"));
        let last = to_numbers(&calls.get(calls.length() - 1));
        assert_eq!(Some(last[0]), get(&session.load_info().into(), "bytes").as_f64(), "{kind}: final progress");

        let mut last_feeds = None;
        for photo in Array::from(&get(&reference, "photos")).iter() {
            let pixels: Uint8Array = fetch_bytes(&format!("/{FIXTURES}/{}", get(&photo, "pixels").as_string().unwrap())).await.unwrap().unchecked_into();
            let input = Float32Array::from(&lite0_input(&pixels.to_vec())[..]);
            let feed = Object::new();
            Reflect::set(&feed, &"data".into(), &input).unwrap();
            Reflect::set(&feed, &"dims".into(), &[1, 3, 224, 224].iter().map(|&d| JsValue::from(d)).collect::<Array>()).unwrap();
            let feeds = Object::new();
            Reflect::set(&feeds, &"input".into(), &feed).unwrap();
            let outputs = run(&mut session, feeds.clone().into()).unwrap();
            let got = to_numbers(&get(&get(&outputs, "logits"), "data"));
            let want = to_numbers(&get(&photo, &format!("{kind}_logits")));
            let label = format!("lite0 {kind} {}", get(&photo, "name").as_string().unwrap());
            match kind {
                "fp32" => assert_close(&label, &want, &got, 1e-3),
                _ => assert_same_top1(&label, &want, &got),
            }
            last_feeds = Some(feeds);
        }
        // The answers above came through webinfer's own ops: in both models, 15 of the 16
        // depthwise convolutions run as DepthwiseConv (tract leaves the first channels first, so
        // it keeps that one), and the int8 model's pointwise ones as int8 products. In fp32, the
        // ReLU6 after each of those 15 runs inside it: two are left as tract's ops (after the stem
        // and after tract's depthwise convolution); int8 has none (quantization clamps instead).
        let ops = session.profile(last_feeds.take().unwrap().unchecked_into::<Feeds>(), 1).map_err(message).unwrap();
        let nodes = |op: &str| -> f64 {
            Array::from(&ops).iter().filter(|o| get(o, "op").as_string().as_deref() == Some(op)).map(|o| get(&o, "nodes").as_f64().unwrap()).sum()
        };
        assert_eq!((nodes("DepthwiseConv"), nodes("DepthWiseConv")), (15.0, 1.0), "{kind}");
        assert_eq!(nodes("Int8PointwiseConv"), if kind == "int8" { 32.0 } else { 0.0 }, "{kind}");
        assert_eq!(nodes("OptBinChain(Max+Min)"), if kind == "fp32" { 2.0 } else { 0.0 }, "{kind}");
    }
}

/// `preprocessImage` in the browser gives Pillow's tensor exactly (tests/fixtures/make_images.py),
/// from an `ImageData`; bad pixels and bad manifest blocks are clear errors.
#[wasm_bindgen_test]
async fn preprocess_image_matches_pillow() {
    let fixture = fetch_json(&format!("/{FIXTURES}/expected/preprocess.json")).await.unwrap();
    let image = get(&fixture, "image");
    let rgba = base64_decode(&get(&image, "rgba").as_string().unwrap());
    let (w, h) = (get(&image, "width").as_f64().unwrap() as u32, get(&image, "height").as_f64().unwrap() as u32);
    let image_data = new_image_data(&rgba, w, h);
    for case in Array::from(&get(&fixture, "cases")).iter() {
        let spec: PreprocessSpec = get(&case, "preprocess").unchecked_into();
        let tensor = preprocess_image(image_data.clone().unchecked_into(), spec).map_err(message).unwrap();
        let want = f32_le(&base64_decode(&get(&case, "tensor_f32le").as_string().unwrap()));
        assert_eq!(to_numbers(&get(&tensor, "dims")), to_numbers(&get(&case, "dims")));
        assert_eq!(max_abs_diff("preprocessImage", &want, &to_numbers(&get(&tensor, "data"))), 0.0);
    }

    let spec = || -> PreprocessSpec { get(&Array::from(&get(&fixture, "cases")).get(0), "preprocess").unchecked_into() };
    let short = new_image_data(&rgba[..rgba.len() - 4], w * h - 1, 1);
    let pixels = |data: JsValue, w: u32, h: u32| -> ImagePixels {
        let o = Object::new();
        Reflect::set(&o, &"data".into(), &data).unwrap();
        Reflect::set(&o, &"width".into(), &w.into()).unwrap();
        Reflect::set(&o, &"height".into(), &h.into()).unwrap();
        o.unchecked_into()
    };
    let err = preprocess_image(pixels(get(&short, "data"), w, h), spec()).err().map(message).unwrap();
    assert_contains(&err, &format!("do not make a {w}x{h} image"));
    let err = preprocess_image(pixels(Array::new().into(), w, h), spec()).err().map(message).unwrap();
    assert_contains(&err, "image.data must be a Uint8ClampedArray or Uint8Array");
    // A copy without `crop` (the fixture's object stays whole for the last call).
    let bad_spec = Object::assign(&Object::new(), spec().unchecked_ref());
    Reflect::delete_property(&bad_spec, &"crop".into()).unwrap();
    let bad_spec: PreprocessSpec = bad_spec.unchecked_into();
    let err = preprocess_image(image_data.clone().unchecked_into(), bad_spec).err().map(message).unwrap();
    assert_contains(&err, "manifest `preprocess.crop` must be a positive whole number");
    // And it still works after the errors.
    assert!(preprocess_image(image_data.unchecked_into(), spec()).is_ok());

    let ranked = top_k_js(&Float32Array::from(&[0.0f32, 2.0, 1.0][..]), 2).map_err(message).unwrap();
    let first = Array::from(&ranked).get(0);
    assert_eq!(get(&first, "index").as_f64(), Some(1.0));
    let err = top_k_js(&Float32Array::from(&[f32::NAN][..]), 1).err().map(message).unwrap();
    assert_contains(&err, "non-finite score");
}

fn plan(steps: &[&str]) -> Vec<String> {
    steps.iter().map(|s| s.to_string()).collect()
}

/// A CDN that fails in passing (a 500, then a body cut mid-way) is retried with backoff; the
/// third attempt's whole, verified body is what gets cached.
#[wasm_bindgen_test]
async fn transient_cdn_failures_are_retried() {
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    clear_model_cache().await.unwrap();
    stub_flaky_origin("/stub/flaky/", &data, 4, plan(&["503", "cut:2", "ok"]));
    let session = create("/stub/flaky/conv.onnx", options(&[("sha256", digest.as_str().into())])).await.unwrap();
    assert_eq!(stub_requests("/stub/flaky/"), 3);
    assert_eq!(get(&session.load_info().into(), "source"), "network");
    model_cache_settled().await;
    assert!(cache_has(&digest).await.is_truthy());

    // retries: 0 gives up at once; a 404 is never retried.
    stub_flaky_origin("/stub/once/", &data, 4, plan(&["500", "ok"]));
    let err = create("/stub/once/conv.onnx", options(&[("retries", 0.into())])).await.err().unwrap();
    assert_eq!(err, "could not fetch /stub/once/conv.onnx: HTTP 500 Stubbed");
    assert_eq!(stub_requests("/stub/once/"), 1);
    stub_flaky_origin("/stub/missing/", &data, 4, plan(&["404", "ok"]));
    let err = create("/stub/missing/conv.onnx", None).await.err().unwrap();
    assert_eq!(err, "could not fetch /stub/missing/conv.onnx: HTTP 404 Stubbed");
    assert_eq!(stub_requests("/stub/missing/"), 1);

    let err = create(model_url("conv_f32"), options(&[("retries", (-1).into())])).await.err().unwrap();
    assert_contains(&err, "options.retries must be a whole number from 0 to 10");
}

/// A CDN that stalls (no response, or a body that stops) is cut after `timeoutMs` without data,
/// retried, and reported with the attempts made; nothing is cached.
#[wasm_bindgen_test]
async fn stalled_cdn_times_out() {
    let data = bytes(&model_url("conv_f32")).await;
    let digest = webinfer::engine::digest::sha256_hex(&data.to_vec());
    clear_model_cache().await.unwrap();
    stub_flaky_origin("/stub/stall/", &data, 4, plan(&["hang", "stall:1"]));
    let opts = options(&[("sha256", digest.as_str().into()), ("timeoutMs", 150.into()), ("retries", 1.into())]);
    let err = create("/stub/stall/conv.onnx", opts).await.err().unwrap();
    let quarter = (data.length() as f64 / 4.0).ceil();
    assert_eq!(
        err,
        format!(
            "/stub/stall/conv.onnx sent nothing for 150 ms after {quarter} of {} bytes; the CDN is slow or stuck \
             (gave up after 2 attempts)",
            data.length()
        )
    );
    assert_eq!(stub_requests("/stub/stall/"), 2);
    assert!(!cache_has(&digest).await.is_truthy(), "a stalled download was cached");

    // The same stall, then a good response: loads.
    stub_flaky_origin("/stub/recover/", &data, 4, plan(&["hang", "ok"]));
    let opts = options(&[("sha256", digest.as_str().into()), ("timeoutMs", 150.into())]);
    assert!(create("/stub/recover/conv.onnx", opts).await.is_ok());
}

/// A model over `memoryLimitMB` is refused before it is allocated: by its Content-Length before
/// the download, or by its planned tensors before planning. The message says which limit to raise.
#[wasm_bindgen_test]
async fn models_over_the_memory_limit_are_refused_before_allocation() {
    let manifest = fetch_json(&format!("/{DEMO_MANIFEST}")).await.unwrap();
    let file = get(&get(&manifest, "model"), "url").as_string().unwrap();
    let url = format!("/{}/{file}", DEMO_MANIFEST.rsplit_once('/').unwrap().0);
    let err = create(url.as_str(), options(&[("memoryLimitMB", 4.into())])).await.err().unwrap();
    assert_contains(&err, &format!("{url} is 5 MB, over the memory limit of 4 MB (options.memoryLimitMB)"));
    let err = create(url.as_str(), options(&[("memoryLimitMB", 50.into())])).await.err().unwrap();
    assert_contains(&err, "the model needs about 81 MB for its weights and intermediate tensors, over the memory limit of 50 MB");
    let err = create(url.as_str(), options(&[("memoryLimitMB", 0.into())])).await.err().unwrap();
    assert_contains(&err, "options.memoryLimitMB must be a whole number from 1 to 4096");
    assert!(create(url.as_str(), options(&[("memoryLimitMB", 200.into())])).await.is_ok());
}

/// An engine tensor as a web page feeds it: typed data, dims, and the type where the array alone
/// does not say it (bool, float16, string), as onnxruntime-web spells them.
fn feed_from(t: &Tensor) -> JsValue {
    let data: JsValue = match &t.data {
        TensorData::F32(v) => Float32Array::from(&v[..]).into(),
        TensorData::F16(v) | TensorData::U16(v) => Uint16Array::from(&v[..]).into(),
        TensorData::F64(v) => Float64Array::from(&v[..]).into(),
        TensorData::I8(v) => Int8Array::from(&v[..]).into(),
        TensorData::U8(v) => Uint8Array::from(&v[..]).into(),
        TensorData::I16(v) => Int16Array::from(&v[..]).into(),
        TensorData::I32(v) => Int32Array::from(&v[..]).into(),
        TensorData::U32(v) => Uint32Array::from(&v[..]).into(),
        TensorData::I64(v) => BigInt64Array::from(&v[..]).into(),
        TensorData::U64(v) => BigUint64Array::from(&v[..]).into(),
        TensorData::Bool(v) => Uint8Array::from(&v.iter().map(|&b| b as u8).collect::<Vec<_>>()[..]).into(),
        TensorData::String(v) => v.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into(),
    };
    let feed = Object::new();
    Reflect::set(&feed, &"data".into(), &data).unwrap();
    Reflect::set(&feed, &"dims".into(), &t.dims.iter().map(|&d| JsValue::from(d as u32)).collect::<Array>()).unwrap();
    Reflect::set(&feed, &"type".into(), &t.dtype().name().into()).unwrap();
    feed.into()
}

/// An output object (`{ type, dims, data }`) back as an engine tensor, to be judged.
fn tensor_of(output: &JsValue) -> Tensor {
    let data = get(output, "data");
    let name = get(output, "type").as_string().unwrap();
    let data = match DType::from_name(&name).unwrap_or_else(|| panic!("unknown output type {name}")) {
        DType::F32 => TensorData::F32(data.unchecked_into::<Float32Array>().to_vec()),
        DType::F16 => TensorData::F16(data.unchecked_into::<Uint16Array>().to_vec()),
        DType::F64 => TensorData::F64(data.unchecked_into::<Float64Array>().to_vec()),
        DType::I8 => TensorData::I8(data.unchecked_into::<Int8Array>().to_vec()),
        DType::U8 => TensorData::U8(data.unchecked_into::<Uint8Array>().to_vec()),
        DType::I16 => TensorData::I16(data.unchecked_into::<Int16Array>().to_vec()),
        DType::U16 => TensorData::U16(data.unchecked_into::<Uint16Array>().to_vec()),
        DType::I32 => TensorData::I32(data.unchecked_into::<Int32Array>().to_vec()),
        DType::U32 => TensorData::U32(data.unchecked_into::<Uint32Array>().to_vec()),
        DType::I64 => TensorData::I64(data.unchecked_into::<BigInt64Array>().to_vec()),
        DType::U64 => TensorData::U64(data.unchecked_into::<BigUint64Array>().to_vec()),
        DType::Bool => TensorData::Bool(data.unchecked_into::<Uint8Array>().to_vec().into_iter().map(|b| b != 0).collect()),
        DType::String => TensorData::String(data.unchecked_into::<Array>().iter().map(|s| s.as_string().unwrap()).collect()),
    };
    Tensor::new(to_numbers(&get(output, "dims")).into_iter().map(|d| d as usize).collect(), data)
}

/// One ONNX conformance case through the JS API: the model's bytes to `Session.create` with
/// every input pinned to its feed's shape (`inputShapes`), feeds as typed arrays, outputs read
/// back from their typed arrays and judged by the native runner's rule.
async fn conformance_case(name: &str) -> Verdict {
    let base = format!("/{CASES}/{name}");
    let model = bytes(&format!("{base}/model.onnx")).await;
    let (n_in, n_out) = match interface(&model.to_vec()) {
        Ok(counts) => counts,
        Err(verdict) => return verdict,
    };
    let mut decode = Vec::new();
    for (kind, n) in [("input", n_in), ("output", n_out)] {
        let mut tensors = Vec::new();
        for i in 0..n {
            let pb = bytes(&format!("{base}/test_data_set_0/{kind}_{i}.pb")).await.to_vec();
            tensors.push(Tensor::from_onnx_pb(&pb).unwrap_or_else(|e| panic!("{name}: {kind}_{i}.pb: {e}")));
        }
        decode.push(tensors);
    }
    let (expected, feeds) = (decode.pop().unwrap(), decode.pop().unwrap());
    // The names from a first session, then a session pinned to the feeds' shapes.
    let names = match create(model.clone(), None).await {
        Ok(session) => Array::from(&session.input_names().map_err(message).unwrap()),
        Err(e) => return Verdict::Fail(e),
    };
    let (shapes, js_feeds) = (Object::new(), Object::new());
    for (name, feed) in names.iter().zip(&feeds) {
        let dims: Array = feed.dims.iter().map(|&d| JsValue::from(d as u32)).collect();
        Reflect::set(&shapes, &name, &dims).unwrap();
        Reflect::set(&js_feeds, &name, &feed_from(feed)).unwrap();
    }
    let mut session = match create(model, options(&[("inputShapes", shapes.into())])).await {
        Ok(session) => session,
        Err(e) => return Verdict::Fail(e),
    };
    let outputs = match run(&mut session, js_feeds.into()) {
        Ok(outputs) => outputs,
        Err(e) => return Verdict::Fail(e),
    };
    let order = Array::from(&session.output_names().map_err(message).unwrap());
    judge(&expected, &order.iter().map(|n| tensor_of(&get(&outputs, &n.as_string().unwrap()))).collect::<Vec<_>>())
}

/// Listed passes that fail in wasm32 only, each for a known reason (asserted to still fail).
const FAILS_IN_WASM32: &[(&str, &str)] = &[(
    "test_range_int32_type_negative_delta",
    "tract 0.23's Range shape rule casts a negative delta to usize (tract-hir ops/array/range.rs): \
     the wrapped division comes out right with 64-bit usize, not with wasm32's",
)];

/// Every ONNX node case the native runner lists as passing (but FAILS_IN_WASM32) passes in this
/// browser too, through the wasm build and the JS API (feeds and outputs of every element type
/// the cases use: float16, float64, the unsigned and 16-bit integers, strings).
#[wasm_bindgen_test]
async fn onnx_conformance_cases_listed_as_passing_pass_in_the_browser() {
    let listed = parse_list(include_str!("conformance/onnx-node-1.17.0.txt"));
    let passes: Vec<&String> = listed.iter().filter(|(_, (word, _))| word == "pass").map(|(name, _)| name).collect();
    assert!(passes.len() >= 950, "the list holds {} passes", passes.len());
    let mut failures = Vec::new();
    for name in &passes {
        let verdict = conformance_case(name).await;
        let known = FAILS_IN_WASM32.iter().find(|(case, _)| case == name);
        match (verdict == Verdict::Pass, known) {
            (false, None) => failures.push(verdict.line(name)),
            (true, Some((_, why))) => failures.push(format!("{name} passes now; drop it from FAILS_IN_WASM32 ({why})")),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{} of {} listed passes fail here:\n{}", failures.len(), passes.len(), failures.join("\n"));
}

/// Silero VAD, a real recurrent model with `If` branches (tests/fixtures/make_recurrent.py): each
/// of the silero-vad wheel's three files runs over consecutive chunks with the state it returned
/// fed back, matching onnxruntime at every step; `silero_vad.onnx` at 16 kHz, then 8 kHz.
#[wasm_bindgen_test]
async fn recurrent_model_threads_its_state_like_onnxruntime() {
    let expected = fetch_json(&format!("/{FIXTURES}/expected/recurrent.json")).await.unwrap();
    let mut sessions: Vec<(String, Session)> = Vec::new();
    for case in Array::from(&get(&expected, "cases")).iter() {
        let name = get(&case, "model").as_string().unwrap();
        if !sessions.iter().any(|(n, _)| *n == name) {
            let session = create(format!("/target/silero-vad/{name}"), None).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            sessions.push((name.clone(), session));
        }
        let session = &mut sessions.iter_mut().find(|(n, _)| *n == name).unwrap().1;
        let state_dims = Array::of3(&2.into(), &1.into(), &128.into());
        let mut state: JsValue = {
            let zeros = Object::new();
            Reflect::set(&zeros, &"data".into(), &Float32Array::new_with_length(256)).unwrap();
            Reflect::set(&zeros, &"dims".into(), &state_dims).unwrap();
            zeros.into()
        };
        for (i, step) in Array::from(&get(&case, "steps")).iter().enumerate() {
            let label = format!("{name} at {} Hz, step {i}", get(&case, "rate").as_f64().unwrap());
            let feeds = to_feeds(&get(&step, "inputs"));
            Reflect::set(&feeds, &"state".into(), &state).unwrap();
            let outputs = run(session, feeds).unwrap_or_else(|e| panic!("{label}: {e}"));
            check_case(&label, &outputs, &step, 1e-4);
            state = get(&outputs, "stateN");
        }
    }
}

/// A float16 feed given as a `Float16Array` (where the browser has one) is the same as its bit
/// patterns in a `Uint16Array`; outputs come back as bit patterns.
#[wasm_bindgen_test]
async fn float16_feeds_as_float16array_or_bit_patterns() {
    let base = format!("/{CASES}/test_max_float16");
    let model = bytes(&format!("{base}/model.onnx")).await;
    let mut session = create(model, None).await.unwrap();
    let feeds = Object::new();
    for (i, name) in Array::from(&session.input_names().map_err(message).unwrap()).iter().enumerate() {
        let pb = bytes(&format!("{base}/test_data_set_0/input_{i}.pb")).await.to_vec();
        let tensor = Tensor::from_onnx_pb(&pb).unwrap();
        assert_eq!(tensor.dtype(), DType::F16);
        Reflect::set(&feeds, &name, &feed_from(&tensor)).unwrap();
    }
    let out = bytes(&format!("{base}/test_data_set_0/output_0.pb")).await.to_vec();
    let expected = Tensor::from_onnx_pb(&out).unwrap();
    let outputs = run(&mut session, feeds.clone().into()).unwrap();
    let output_name = Array::from(&session.output_names().map_err(message).unwrap()).get(0).as_string().unwrap();
    let got = get(&outputs, &output_name);
    assert_eq!(get(&got, "type"), "float16");
    assert!(get(&got, "data").is_instance_of::<Uint16Array>());
    assert_eq!(judge(&[expected.clone()], &[tensor_of(&got)]), Verdict::Pass);
    let Ok(float16_array) = Reflect::get(&js_sys::global(), &"Float16Array".into()) else { return };
    if float16_array.is_undefined() {
        return; // this browser has no Float16Array: Uint16Array is the way, checked above
    }
    for name in Object::keys(&feeds).iter() {
        let feed = get(&feeds, &name.as_string().unwrap());
        let bits: Uint16Array = get(&feed, "data").unchecked_into();
        let halves = Reflect::construct(float16_array.unchecked_ref::<js_sys::Function>(), &Array::of1(&bits.buffer())).unwrap();
        Reflect::set(&feed, &"data".into(), &halves).unwrap();
        Reflect::delete_property(feed.unchecked_ref::<Object>(), &"type".into()).unwrap();
    }
    let outputs = run(&mut session, feeds.into()).unwrap();
    assert_eq!(judge(&[expected], &[tensor_of(&get(&outputs, &output_name))]), Verdict::Pass);
}

/// Models planned at run time for their feeds (src/engine/specialize.rs), in the browser: the
/// U-Net-style export with dynamic batch/height/width runs unpinned at several sizes, and a
/// model taking a Reshape's shape and a ReduceSum's axes as inputs at several values, each
/// matching onnxruntime (tests/fixtures/make_dynamic.py); `loadInfo.planning` says which.
#[wasm_bindgen_test]
async fn models_planned_per_feeds_match_onnxruntime_at_every_size() {
    let expected = fetch_json(&format!("/{FIXTURES}/expected/dynamic.json")).await.unwrap();
    for (name, planning) in [("unet_dynamic", "per-shape"), ("shape_inputs", "per-value")] {
        let mut session = create(model_url(name), None).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(get(&session.load_info().into(), "planning"), planning, "{name}");
        let cases: Array = get(&expected, "cases").unchecked_into();
        for (i, case) in cases.iter().enumerate().filter(|(_, c)| get(c, "model") == name) {
            let outputs = run(&mut session, to_feeds(&get(&case, "inputs"))).unwrap_or_else(|e| panic!("{name} {i}: {e}"));
            check_case(&format!("{name} case {i}"), &outputs, &case, 1e-4);
        }
    }
    let pinned = options(&[("inputShapes", js_sys::JSON::parse(r#"{"x":[1,3,32,48]}"#).unwrap())]);
    let session = create(model_url("unet_dynamic"), pinned).await.unwrap();
    assert_eq!(get(&session.load_info().into(), "planning"), "ahead");
}

/// Dynamic axes as real exporters write them, in the browser: ultralytics' YOLOv8 exported with
/// `dynamic=True` and a transformer encoder with a dynamic sequence length (torch's TorchScript
/// and dynamo exporters), each run unpinned at several sizes in one session and matching
/// onnxruntime (tests/fixtures/make_exports.py).
#[wasm_bindgen_test]
async fn exported_models_with_dynamic_axes_match_onnxruntime_at_every_size() {
    let expected = fetch_json(&format!("/{FIXTURES}/expected/exports.json")).await.unwrap();
    let cases: Array = get(&expected, "cases").unchecked_into();
    for name in ["yolov8_dynamic", "encoder_torchscript", "encoder_dynamo"] {
        let mut session = create(model_url(name), None).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let mine: Vec<JsValue> = cases.iter().filter(|c| get(c, "model") == name).collect();
        assert!(mine.len() >= 2, "{name}: {} sizes", mine.len());
        // Every size, then the first again.
        for (i, case) in mine.iter().chain(mine.first()).enumerate() {
            let outputs = run(&mut session, to_feeds(&get(case, "inputs"))).unwrap_or_else(|e| panic!("{name} {i}: {e}"));
            check_case(&format!("{name} case {i}"), &outputs, case, 1e-4);
        }
    }
}
