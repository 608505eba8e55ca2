//! ONNX's operator conformance cases (the node tests of the pinned onnx 1.17.0 wheel, which
//! tools/setup.sh extracts and build.sh links at [`CASES`]): one case run through the public API,
//! and the one rule every answer is judged by. The native runner (tests/conformance.rs) runs every
//! case; the browser suite runs the listed passes through the wasm build.

use std::collections::BTreeMap;

use webinfer::{Model, Tensor, TensorData};

/// The cases, relative to the crate root (the test server's root in the browser).
pub const CASES: &str = "target/onnx-node-tests";

/// The committed verdicts: one line per case, `pass NAME`, `fail NAME reason` or
/// `skip NAME reason` (not tried: a value that is not a tensor, data that cannot be decoded).
pub const LIST: &str = "tests/conformance/onnx-node-1.17.0.txt";

/// Judging rule, as in the issue that set the target and as applied to onnxruntime: floats
/// within |got - want| <= ATOL + RTOL * |want|, NaN where NaN is expected.
pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

impl Verdict {
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Skip(_) => "skip",
        }
    }

    pub fn line(&self, name: &str) -> String {
        match self {
            Verdict::Pass => format!("pass {name}"),
            Verdict::Fail(why) | Verdict::Skip(why) => format!("{} {name} {}", self.word(), one_line(why)),
        }
    }
}

/// A reason on one line, short enough to read in a diff.
fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(160) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

/// The committed list as name -> (verdict word, the rest of the line).
pub fn parse_list(text: &str) -> BTreeMap<String, (String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let word = parts.next().unwrap_or_default().to_string();
            let name = parts.next().unwrap_or_default().to_string();
            (name, (word, parts.next().unwrap_or_default().to_string()))
        })
        .collect()
}

/// How many `input_N.pb` / `output_N.pb` files a case has: one per graph input and output.
/// `Err` is the case's verdict when the model cannot even be read, or uses values that are not
/// tensors (sequences, optionals, maps), which the API does not carry.
pub fn interface(model: &[u8]) -> Result<(usize, usize), Verdict> {
    let report = webinfer::inspect(model).map_err(|e| Verdict::Fail(e.to_string()))?;
    let not_tensor = report.inputs.iter().chain(&report.outputs).find(|i| i.dtype.is_none() && i.dims.is_none());
    if let Some(value) = not_tensor {
        return Err(Verdict::Skip(format!("`{}` is not a tensor (sequence, optional or map)", value.name)));
    }
    Ok((report.inputs.len(), report.outputs.len()))
}

/// Runs one case: load, pin each input to its feed's shape (as a page does with `inputShapes`),
/// plan without a memory limit, run, judge. Inputs and expected outputs are the `.pb` files' bytes.
pub fn run_case(model: &[u8], inputs: &[Vec<u8>], expected: &[Vec<u8>]) -> Verdict {
    let decode = |files: &[Vec<u8>]| files.iter().map(|b| Tensor::from_onnx_pb(b)).collect::<Result<Vec<_>, _>>();
    let (feeds, expected) = match (decode(inputs), decode(expected)) {
        (Ok(f), Ok(e)) => (f, e),
        (Err(e), _) | (_, Err(e)) => return Verdict::Skip(e.to_string()),
    };
    let mut model = match Model::load(model) {
        Ok(m) => m,
        Err(e) => return Verdict::Fail(e.to_string()),
    };
    let names: Vec<String> = model.inputs().iter().map(|i| i.name.clone()).collect();
    if names.len() != feeds.len() {
        return Verdict::Fail(format!("the planned model has {} inputs, the case feeds {}", names.len(), feeds.len()));
    }
    for (name, feed) in names.iter().zip(&feeds) {
        if let Err(e) = model.set_input_shape(name, &feed.dims) {
            return Verdict::Fail(e.to_string());
        }
    }
    let mut plan = match model.plan_within(None) {
        Ok(p) => p,
        Err(e) => return Verdict::Fail(e.to_string()),
    };
    match plan.run(names.into_iter().zip(feeds).collect()) {
        Ok(outputs) => judge(&expected, &outputs.into_iter().map(|(_, t)| t).collect::<Vec<_>>()),
        Err(e) => Verdict::Fail(e.to_string()),
    }
}

/// Same count, element types and shapes; integers, booleans and strings equal; floats within
/// the tolerance, NaN for NaN and the same infinity for an infinity.
pub fn judge(expected: &[Tensor], got: &[Tensor]) -> Verdict {
    if expected.len() != got.len() {
        return Verdict::Fail(format!("{} outputs, expected {}", got.len(), expected.len()));
    }
    for (ix, (want, got)) in expected.iter().zip(got).enumerate() {
        if want.dtype() != got.dtype() {
            return Verdict::Fail(format!("output {ix} is {}, expected {}", got.dtype(), want.dtype()));
        }
        if want.dims != got.dims {
            return Verdict::Fail(format!("output {ix} has dims {:?}, expected {:?}", got.dims, want.dims));
        }
        let floats = matches!(want.data, TensorData::F32(_) | TensorData::F16(_) | TensorData::F64(_));
        if !floats {
            if want.data != got.data {
                return Verdict::Fail(format!("output {ix} differs"));
            }
            continue;
        }
        for (i, (w, g)) in want.data.to_f64().into_iter().zip(got.data.to_f64()).enumerate() {
            let ok = if w.is_nan() { g.is_nan() } else if w.is_infinite() { w == g } else { (g - w).abs() <= ATOL + RTOL * w.abs() };
            if !ok {
                return Verdict::Fail(format!("output {ix} element {i} is {g}, expected {w}"));
            }
        }
    }
    Verdict::Pass
}
