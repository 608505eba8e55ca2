//! Arbitrary feeds for real models (the test fixtures): any names, types, shapes and values,
//! NaN and infinities included. `Plan::run` must answer `Ok` or `Err`, never panic, and the
//! plan must keep working.
#![no_main]

use std::sync::{Mutex, OnceLock};

mod caught_panics;

use libfuzzer_sys::fuzz_target;
use webinfer::{DType, Model, Plan, Tensor, TensorData};

const MODELS: [&[u8]; 4] = [
    include_bytes!("../../tests/fixtures/models/conv_f32.onnx"),
    include_bytes!("../../tests/fixtures/models/qdq_int8.onnx"),
    include_bytes!("../../tests/fixtures/models/dynamic_batch.onnx"),
    include_bytes!("../../tests/fixtures/models/dtypes.onnx"),
];

fn plans() -> &'static Vec<Mutex<Plan>> {
    static PLANS: OnceLock<Vec<Mutex<Plan>>> = OnceLock::new();
    PLANS.get_or_init(|| MODELS.iter().map(|m| Mutex::new(Model::load(m).unwrap().plan().unwrap())).collect())
}

/// Bytes -> values, front to back.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }
}

fuzz_target!(|data: &[u8]| {
    caught_panics::allow();
    let mut b = Bytes(data);
    let mut plan = plans()[b.byte() as usize % MODELS.len()].lock().unwrap();
    let names: Vec<String> = plan.inputs().iter().map(|i| i.name.clone()).collect();
    let mut feeds = Vec::new();
    for _ in 0..b.byte() % 4 {
        // Mostly the real names, sometimes a wrong one.
        let pick = b.byte() as usize;
        let name = names.get(pick % (names.len() + 1)).cloned().unwrap_or_else(|| "nope".into());
        let dims: Vec<usize> = (0..b.byte() % 5).map(|_| (b.byte() % 20) as usize).collect();
        let n = b.byte() as usize * 4;
        let dtype = DType::ALL[b.byte() as usize % DType::ALL.len()];
        let raw = b.take(n).to_vec();
        // Strings have no byte encoding: a few short ones from the bytes.
        let data = TensorData::from_le_bytes(dtype, &raw[..raw.len() / dtype.width().unwrap_or(1) * dtype.width().unwrap_or(1)])
            .unwrap_or_else(|| TensorData::String(raw.chunks(3).map(|c| String::from_utf8_lossy(c).into_owned()).collect()));
        feeds.push((name, Tensor::new(dims, data)));
    }
    let _ = plan.run(feeds);
});
