//! Symbols tract mints in a scope that no longer exists.
//!
//! tract rewrites some ops in a patch that has a symbol scope of its own: a `Slice` whose bounds
//! are computed at run time becomes a `DynSlice` whose length is a new symbol of that scope. The
//! scope is dropped once the patch is applied, and the run then fails ("Symbol <Sym0> points to
//! an invalid (dead ?) SymbolScope"). tract 0.23.9 and its main branch (December 2026) both do
//! this. Rebinding each such symbol to a fresh one of the model's own scope fixes the run.

use std::collections::HashMap;

use tract_onnx::prelude::*;

/// Returns `model` with every symbol whose scope is gone replaced by a new symbol of the
/// model's scope (the same model when there is none, the usual case).
pub(crate) fn rebind_orphans(model: TypedModel) -> TractResult<TypedModel> {
    let mut orphans: HashMap<Symbol, TDim> = HashMap::new();
    for node in model.nodes() {
        for output in &node.outputs {
            for symbol in output.fact.shape.iter().flat_map(|dim| dim.symbols()) {
                if symbol.scope().is_none() && !orphans.contains_key(&symbol) {
                    orphans.insert(symbol, model.symbols.new_with_prefix("len").to_dim());
                }
            }
        }
    }
    if orphans.is_empty() {
        return Ok(model);
    }
    model.set_symbols(&orphans)
}
