//! `Session`: what a web page holds. Created once from a URL or bytes (download -> verify ->
//! cache -> parse -> plan), then `run` as often as needed.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::convert::{feeds_from_js, infos_to_js, outputs_to_js, set};
use super::source::{load, LoadOptions, Verified};
use super::types::{Feeds, LoadInfo, ModelSource, Names, OpTimes, Outputs, SessionOptions, ValueInfos};
#[cfg(feature = "threads")]
use super::threads::run_on_pool;
use super::{alive, js_error, now_ms};
use crate::engine::{Model, Plan};

/// A loaded, verified and planned model, ready to run.
///
/// ```js
/// const session = await Session.create('/models/net.onnx', { sha256, onProgress });
/// const { logits } = session.run({ input: { data: new Float32Array(3 * 224 * 224), dims: [1, 3, 224, 224] } });
/// ```
#[wasm_bindgen]
pub struct Session {
    // Behind a RefCell so `run` takes `&self`: after a crash wasm-bindgen's own borrow flag stays
    // taken, and a `&mut self` call would fail with its generic "recursive use" message before
    // `alive` could say what happened.
    // AssertUnwindSafe: wasm-bindgen wants a session it may unwind through, and a panic leaves
    // nothing half-updated in it: the plan catches tract's panics itself and rebuilds its run
    // state (engine/guard.rs), and the RefCell's borrow is released as the panic unwinds.
    plan: AssertUnwindSafe<RefCell<Plan>>,
    load_info: Object,
}

#[wasm_bindgen]
impl Session {
    /// Loads a model from a URL (streamed, verified against `options.sha256`, cached by digest)
    /// or from its bytes, and plans it. Rejects with an `Error` saying what went wrong.
    pub async fn create(source: ModelSource, options: Option<SessionOptions>) -> Result<Session, JsError> {
        alive()?;
        let options = LoadOptions::from_js(&options.map_or(JsValue::UNDEFINED, Into::into)).map_err(js_error)?;
        let verified = load(&source, &options).await.map_err(js_error)?;

        let start = now_ms();
        let mut model = Model::load(&verified.bytes)?;
        for (name, dims) in &options.input_shapes {
            model.set_input_shape(name, dims)?;
        }
        let parse_ms = now_ms() - start;

        let start = now_ms();
        let mut stages = vec![];
        let plan = model.plan_observed(options.memory_limit, |stage| stages.push((stage, now_ms())))?;
        let plan_ms = now_ms() - start;
        let info = load_info(&verified, parse_ms, plan_ms);
        // Where planning went, stage by stage (`webinfer profile` shows the same natively).
        let mut last = start;
        let by_stage = Object::new();
        for (stage, at) in stages {
            set(&by_stage, stage.name(), &(at - last).into());
            last = at;
        }
        set(&info, "planStagesMs", &by_stage);
        // "ahead", or "per-shape" / "per-value" when the plan is made at run time for the feeds.
        set(&info, "planning", &plan.planning().into());
        Ok(Session { plan: AssertUnwindSafe(RefCell::new(plan)), load_info: info })
    }

    /// Runs the model. `feeds` maps every input name to `{ data, dims, type? }`; the result
    /// maps every output name to `{ type, dims, data }`. A bad feed throws an `Error` and leaves
    /// the session usable.
    pub fn run(&self, feeds: Feeds) -> Result<Outputs, JsError> {
        alive()?;
        let feeds = feeds_from_js(&feeds).map_err(js_error)?;
        let mut plan = self.plan.borrow_mut();
        let plan: &mut Plan = &mut plan;
        let outputs = run_on_pool(|| plan.run(feeds))?;
        Ok(outputs_to_js(outputs).unchecked_into())
    }

    /// Runs the model `runs` times and returns `[{ op, nodes, ms }]`: milliseconds per run
    /// spent in each kind of operator, slowest first. For finding where inference time goes.
    pub fn profile(&self, feeds: Feeds, runs: u32) -> Result<OpTimes, JsError> {
        alive()?;
        let feeds = feeds_from_js(&feeds).map_err(js_error)?;
        let mut plan = self.plan.borrow_mut();
        let plan: &mut Plan = &mut plan;
        let times = run_on_pool(|| plan.profile(feeds, runs.max(1) as usize, now_ms))?;
        Ok(times
            .into_iter()
            .map(|t| {
                let o = Object::new();
                set(&o, "op", &t.op.as_str().into());
                set(&o, "nodes", &(t.nodes as f64).into());
                set(&o, "ms", &t.ms.into());
                JsValue::from(o)
            })
            .collect::<js_sys::Array>()
            .unchecked_into())
    }

    #[wasm_bindgen(getter, js_name = inputNames)]
    pub fn input_names(&self) -> Result<Names, JsError> {
        Ok(names(self.plan()?.inputs()))
    }

    #[wasm_bindgen(getter, js_name = outputNames)]
    pub fn output_names(&self) -> Result<Names, JsError> {
        Ok(names(self.plan()?.outputs()))
    }

    /// Inputs as planned: `[{ name, type, dims }]`, dynamic dims as their names.
    #[wasm_bindgen(getter)]
    pub fn inputs(&self) -> Result<ValueInfos, JsError> {
        Ok(infos_to_js(self.plan()?.inputs()).unchecked_into())
    }

    #[wasm_bindgen(getter)]
    pub fn outputs(&self) -> Result<ValueInfos, JsError> {
        Ok(infos_to_js(self.plan()?.outputs()).unchecked_into())
    }

    /// Where the model came from (network, cache, bytes), its size and digest, and the time
    /// each loading step took.
    #[wasm_bindgen(getter, js_name = loadInfo)]
    pub fn load_info(&self) -> LoadInfo {
        self.load_info.clone().unchecked_into()
    }
}

impl Session {
    /// The plan, read-only; after a crash (a `run` that trapped still holds it) an Error.
    fn plan(&self) -> Result<std::cell::Ref<'_, Plan>, JsError> {
        alive()?;
        self.plan.try_borrow().map_err(|_| js_error("the session is busy in another call"))
    }
}

fn names(infos: &[crate::engine::TensorInfo]) -> Names {
    infos.iter().map(|i| JsValue::from_str(&i.name)).collect::<js_sys::Array>().unchecked_into()
}

fn load_info(v: &Verified, parse_ms: f64, plan_ms: f64) -> Object {
    let info = Object::new();
    set(&info, "source", &v.origin.name().into());
    set(&info, "bytes", &JsValue::from_f64(v.bytes.len() as f64));
    set(&info, "sha256", &v.sha256.as_str().into());
    set(&info, "fetchMs", &v.fetch_ms.into());
    set(&info, "verifyMs", &v.verify_ms.into());
    set(&info, "digestWith", &v.digest_with.name().into());
    set(&info, "parseMs", &parse_ms.into());
    set(&info, "planMs", &plan_ms.into());
    info
}

/// Without threads an inference runs on the calling thread.
#[cfg(not(feature = "threads"))]
fn run_on_pool<T>(run: impl FnOnce() -> T) -> T {
    run()
}
