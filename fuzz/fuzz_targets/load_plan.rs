//! Arbitrary bytes as a model: inspect, load, plan (under a small memory limit, so the fuzzer
//! explores parsing rather than allocation) and, when every input has a small fixed shape, one
//! run on zeros. Every failure must be an `Err` (a panic the engine catches is one); a panic that
//! escapes the engine is a finding.
#![no_main]

mod caught_panics;

use libfuzzer_sys::fuzz_target;
use webinfer::{DType, Dim, Model, Tensor, TensorData};

fuzz_target!(|data: &[u8]| {
    caught_panics::allow();
    let _ = webinfer::inspect(data);
    let Ok(model) = Model::load(data) else { return };
    let Ok(mut plan) = model.plan_within(Some(16 << 20)) else { return };
    let feeds: Option<Vec<(String, Tensor)>> = plan
        .inputs()
        .iter()
        .map(|info| {
            let dims: Vec<usize> = info.dims.as_ref()?.iter().map(|d| if let Dim::Fixed(v) = d { Some(*v) } else { None }).collect::<Option<_>>()?;
            let n: usize = dims.iter().product();
            if n > 1 << 16 {
                return None;
            }
            let data = TensorData::zeros(DType::from_name(info.dtype.as_deref()?)?, n);
            Some((info.name.clone(), Tensor::new(dims, data)))
        })
        .collect();
    if let Some(feeds) = feeds {
        let _ = plan.run(feeds);
    }
});
