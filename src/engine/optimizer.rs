//! tract's declutter and codegen pass lists, run with a patch application that costs what the
//! patch touches.
//!
//! Why not `TypedModel::declutter` / `optimize`: tract 0.23's `ModelPatch::apply` compares every
//! node a patch adds with every node of the model (a search for duplicates whose result it then
//! discards), and gives each added node a unique name by scanning every name. Planning applies a
//! patch per rewrite (1,224 for the PP-OCR direction classifier) to a model of ~1,000-3,000
//! nodes, so that scan was a third of planning natively (`perf`, bench/PERFORMANCE.md section 20).
//! The passes, their order and their fixed point are tract's own (`Optimizer::declutter()` /
//! `codegen()`); only the application of their patches is webinfer's.

use std::collections::{HashMap, HashSet};

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::model::{SpecialOps, TypedModelPatch, STAGE_OPTIMIZED, TRACT_STAGE};
use tract_onnx::tract_core::ops::dummy::Dummy;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_core::optim::{Optimizer, OptimizerSession, TypedPass};

/// What `TypedModel::declutter` does.
pub(crate) fn declutter(model: &mut TypedModel) -> TractResult<()> {
    run(&Optimizer::declutter(), model)
}

/// What `TypedModel::optimize` does: codegen to a fixed point, then the stage marked.
pub(crate) fn optimize(model: &mut TypedModel) -> TractResult<()> {
    run(&Optimizer::codegen(), model)?;
    model.properties.insert(TRACT_STAGE.to_string(), rctensor0(STAGE_OPTIMIZED.to_string()));
    Ok(())
}

/// Every pass in turn, each until it has nothing left to patch, the whole list until a round
/// changes nothing (tract's `OptimizerSession::optimize`).
fn run(optimizer: &Optimizer, model: &mut TypedModel) -> TractResult<()> {
    let _proofs = model.symbols.proof_cache_session();
    let mut session = optimizer.session();
    let mut seen = HashSet::new();
    model.compact()?;
    loop {
        let mut changed = false;
        for pass in optimizer.passes.clone().iter_mut() {
            while run_pass(pass.as_mut(), &mut session, &mut seen, model)? {
                changed = true;
                model.compact()?;
            }
            model.compact()?;
        }
        // Each pass ends on a compaction: the next round starts from a compact model.
        if !changed {
            return Ok(());
        }
    }
}

/// One sweep of `pass`; true if it applied a patch.
fn run_pass(
    pass: &mut dyn TypedPass,
    session: &mut OptimizerSession,
    seen: &mut HashSet<String>,
    model: &mut TypedModel,
) -> TractResult<bool> {
    pass.reset()?;
    let mut names = Names::of(model);
    let mut patched = false;
    while let Some(mut patch) = pass.next(session, model)? {
        // A patch that says it must not come back is skipped the second time (tract's loop guard).
        if let Some(watchdog) = patch.dont_apply_twice.take() {
            if !seen.insert(watchdog) {
                continue;
            }
        }
        apply(patch, model, &mut names).with_context(|| format!("applying a patch of {pass:?}"))?;
        patched = true;
    }
    // As in tract, an in-place change alone does not call for another sweep.
    pass.run_direct(model)?;
    Ok(patched)
}

/// How many nodes carry each name: unique names without a scan of the model per node. Valid
/// until the model is changed other than by [`apply`] (compacted, or edited in place).
pub(crate) struct Names(HashMap<String, usize>);

impl Names {
    pub(crate) fn of(model: &TypedModel) -> Names {
        let mut names = Names(HashMap::with_capacity(model.nodes.len()));
        for node in &model.nodes {
            names.add(node.name.clone());
        }
        names
    }

    fn add(&mut self, name: String) {
        *self.0.entry(name).or_default() += 1;
    }

    fn remove(&mut self, name: &str) {
        if let Some(count) = self.0.get_mut(name) {
            *count -= 1;
            if *count == 0 {
                self.0.remove(name);
            }
        }
    }

    fn taken(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// `prefix` if no node has it, else the first free `prefix.N` (tract's `unique_name`).
    fn unique(&self, prefix: &str) -> String {
        if !self.taken(prefix) {
            return prefix.to_string();
        }
        (1..).map(|i| format!("{prefix}.{i}")).find(|name| !self.taken(name)).expect("a free name")
    }
}

/// Inserts the patch's nodes, reroutes the wires it replaces, turns what no longer feeds
/// anything into dummies (removed by the next compaction) and keeps names unique.
pub(crate) fn apply(patch: TypedModelPatch, model: &mut TypedModel, names: &mut Names) -> TractResult<()> {
    let TypedModelPatch { model: body, taps, shunts, obliterate, inputs: replaced_inputs, .. } = patch;
    let mut wires = taps;
    let mut model_inputs = model.input_outlets()?.to_vec();
    let mut added = Vec::new();
    for node in body.nodes {
        let is_source = node.op_is::<TypedSource>();
        if is_source && wires.contains_key(&OutletId::new(node.id, 0)) {
            continue; // a tap: the wire already exists in the model
        }
        let facts = node.outputs.iter().map(|o| o.fact.clone()).collect::<TVec<_>>();
        let outputs = facts.len();
        names.add(node.name.clone());
        let id = model.add_node(node.name, node.op, facts)?;
        for slot in 0..outputs {
            wires.insert(OutletId::new(node.id, slot), OutletId::new(id, slot));
        }
        if is_source {
            // A new source replaces one of the model's inputs.
            let replaced = *replaced_inputs.get(&node.id).context("a new source that replaces no input")?;
            for input in model_inputs.iter_mut().filter(|input| input.node == replaced) {
                input.node = id;
            }
        }
        added.push((id, node.inputs));
    }
    let mut shunted: Vec<_> = shunts.iter().collect();
    shunted.sort();
    for (&outlet, &by) in shunted {
        let by = *wires.get(&by).context("a shunt to a wire the patch does not have")?;
        let successors = model.nodes[outlet.node].outputs[outlet.slot].successors.clone();
        for successor in successors {
            model.add_edge(by, successor)?;
        }
        for output in model.outputs.iter_mut().filter(|output| **output == outlet) {
            *output = by;
        }
        if let Some(label) = model.outlet_labels.remove(&outlet) {
            model.set_outlet_label(by, label)?;
        }
    }
    for (id, inputs) in &added {
        for (slot, input) in inputs.iter().enumerate() {
            let from = *wires.get(input).context("a patch node fed by a wire the patch does not have")?;
            model.add_edge(from, InletId::new(*id, slot))?;
        }
    }
    for node in obliterate {
        model.nodes[node].op = model.create_dummy();
    }
    model.set_input_outlets(&model_inputs)?;
    // Nodes whose outputs were shunted away, then their inputs, as long as nothing reads them.
    let mut maybe_garbage: Vec<usize> = shunts.keys().map(|outlet| outlet.node).collect();
    while let Some(candidate) = maybe_garbage.pop() {
        let node = &model.nodes[candidate];
        if node.op_is::<Dummy>() && node.outputs.is_empty()
            || model.outputs.iter().any(|o| o.node == candidate)
            || model.inputs.iter().any(|i| i.node == candidate)
            || node.outputs.iter().any(|o| !o.successors.is_empty())
        {
            continue;
        }
        let dummy = model.create_dummy();
        let node = &mut model.nodes[candidate];
        node.op = dummy;
        let name = std::mem::replace(&mut node.name, format!("Dummy-node-{candidate}"));
        names.remove(&name);
        names.add(node.name.clone());
        node.outputs.clear(); // drops the facts, and the constants they hold
        let inputs = std::mem::take(&mut node.inputs);
        for input in inputs {
            model.nodes[input.node].outputs[input.slot].successors.retain(|s| s.node != candidate);
            maybe_garbage.push(input.node);
        }
    }
    // Names tract's rewrites leave to be made unique ("prefix#...") or that clash with others.
    for (id, _) in &added {
        let name = &model.nodes[*id].name;
        let renamed = if let Some((prefix, _)) = name.split_once('#') {
            Some(names.unique(prefix))
        } else if names.0.get(name).is_some_and(|&count| count > 1) {
            Some(names.unique(name))
        } else {
            None
        };
        if let Some(renamed) = renamed {
            names.remove(&model.nodes[*id].name);
            names.add(renamed.clone());
            model.nodes[*id].name = renamed;
        }
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::Model;
    use tract_onnx::prelude::InferenceModelExt;

    /// Node by node: the op, its inputs and its output facts; names as a whole (tract numbers a
    /// patch's clashing names in hash order), each name once.
    fn assert_same_graph(ours: &TypedModel, tracts: &TypedModel, what: &str) {
        assert_eq!(ours.nodes.len(), tracts.nodes.len(), "{what}: node count");
        for (a, b) in ours.nodes.iter().zip(&tracts.nodes) {
            assert_eq!(a.op.name(), b.op.name(), "{what}: node {}", a.id);
            assert_eq!(format!("{:?}", a.op), format!("{:?}", b.op), "{what}: node {} ({})", a.id, a.name);
            assert_eq!(a.inputs, b.inputs, "{what}: inputs of node {} ({})", a.id, a.name);
            let facts = |n: &TypedNode| n.outputs.iter().map(|o| format!("{:?}", o.fact)).collect::<Vec<_>>();
            assert_eq!(facts(a), facts(b), "{what}: outputs of node {} ({})", a.id, a.name);
        }
        assert_eq!(ours.inputs, tracts.inputs, "{what}: model inputs");
        assert_eq!(ours.outputs, tracts.outputs, "{what}: model outputs");
        let names = |m: &TypedModel| {
            let mut names: Vec<_> = m.nodes.iter().map(|n| n.name.clone()).collect();
            names.sort();
            names
        };
        let (mine, theirs) = (names(ours), names(tracts));
        assert_eq!(mine, theirs, "{what}: node names");
        assert!(mine.windows(2).all(|w| w[0] != w[1]), "{what}: a name given twice");
    }

    /// Every committed fixture model (convolutions in both layouts, QDQ, recurrent and control
    /// flow, detectors with dynamic axes, float16, trees): the graphs this driver leaves after
    /// declutter and after optimize are tract's own, node for node.
    #[test]
    fn plans_the_graph_tracts_own_driver_plans() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
        let mut compared = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let what = path.file_name().unwrap().to_string_lossy().into_owned();
            let Ok(model) = Model::load(&std::fs::read(&path).unwrap()) else { continue };
            let Ok(mut typed) = model.graph().clone().into_typed() else { continue };
            crate::ops::before_declutter(&mut typed).unwrap();
            let (mut ours, mut tracts) = (typed.clone(), typed);
            let ours_ok = declutter(&mut ours);
            let tracts_ok = tracts.declutter();
            assert_eq!(ours_ok.is_ok(), tracts_ok.is_ok(), "{what}: declutter {ours_ok:?} vs {tracts_ok:?}");
            if ours_ok.is_err() {
                continue;
            }
            assert_same_graph(&ours, &tracts, &format!("{what}, decluttered"));
            let ours_ok = optimize(&mut ours);
            let tracts_ok = tracts.optimize();
            assert_eq!(ours_ok.is_ok(), tracts_ok.is_ok(), "{what}: optimize {ours_ok:?} vs {tracts_ok:?}");
            if ours_ok.is_ok() {
                assert_same_graph(&ours, &tracts, &format!("{what}, optimized"));
                compared += 1;
            }
        }
        assert!(compared >= 100, "only {compared} fixture models planned");
    }
}
