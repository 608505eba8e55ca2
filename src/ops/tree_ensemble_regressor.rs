//! `TreeEnsembleRegressor` (ai.onnx.ml 1-3: what skl2onnx writes for scikit-learn's random
//! forests, gradient boosting and decision trees used as regressors; tract has only the
//! classifier). Its parallel `nodes_*`/`target_*` lists are read into the forest that
//! `TreeEnsemble` (ai.onnx.ml 5) runs: the same walk, in float32 out.

use std::collections::HashMap;

use super::tree_ensemble::{Aggregate, Forest, ForestRules, Test, TreeNode};

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints = |name: &str| -> TractResult<Vec<i64>> { Ok(node.get_attr_opt_vec::<i64>(name)?.unwrap_or_default()) };
    let floats = |name: &str| -> TractResult<Vec<f32>> { Ok(node.get_attr_opt_vec::<f32>(name)?.unwrap_or_default()) };
    let (tree_ids, node_ids, features) = (ints("nodes_treeids")?, ints("nodes_nodeids")?, ints("nodes_featureids")?);
    let (true_ids, false_ids, values) = (ints("nodes_truenodeids")?, ints("nodes_falsenodeids")?, floats("nodes_values")?);
    let modes: Vec<String> = node.get_attr_opt_vec("nodes_modes")?.unwrap_or_default();
    let missing_true = ints("nodes_missing_value_tracks_true")?;
    let count = tree_ids.len();
    ensure!(
        [node_ids.len(), features.len(), true_ids.len(), false_ids.len(), values.len(), modes.len()].iter().all(|&n| n == count),
        "TreeEnsembleRegressor: the nodes_* attributes differ in length (values given as tensors are not supported)"
    );
    let index: HashMap<(i64, i64), usize> = tree_ids.iter().zip(&node_ids).enumerate().map(|(i, (&t, &n))| ((t, n), i)).collect();
    let link = |tree: i64, id: i64| index.get(&(tree, id)).copied().with_context(|| format!("TreeEnsembleRegressor: tree {tree} has no node {id}"));
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        let test = match modes[i].as_str() {
            "LEAF" => None,
            "BRANCH_LEQ" => Some(Test::LessEqual),
            "BRANCH_LT" => Some(Test::Less),
            "BRANCH_GTE" => Some(Test::GreaterEqual),
            "BRANCH_GT" => Some(Test::Greater),
            "BRANCH_EQ" => Some(Test::Equal),
            "BRANCH_NEQ" => Some(Test::NotEqual),
            other => bail!("TreeEnsembleRegressor: unknown node mode {other:?}"),
        };
        let (yes, no) = match test {
            Some(_) => (link(tree_ids[i], true_ids[i])?, link(tree_ids[i], false_ids[i])?),
            None => (0, 0),
        };
        ensure!(features[i] >= 0, "TreeEnsembleRegressor: a negative feature index");
        nodes.push(TreeNode {
            test,
            feature: features[i] as usize,
            threshold: values[i] as f64,
            yes,
            no,
            missing_goes_yes: missing_true.get(i).is_some_and(|&m| m != 0),
            weights: Vec::new(),
        });
    }
    let (target_trees, target_nodes, target_ids) = (ints("target_treeids")?, ints("target_nodeids")?, ints("target_ids")?);
    let weights = floats("target_weights")?;
    ensure!(
        [target_nodes.len(), target_ids.len(), weights.len()].iter().all(|&n| n == target_trees.len()),
        "TreeEnsembleRegressor: the target_* attributes differ in length"
    );
    let targets: usize = node.get_attr_opt::<i64>("n_targets")?.unwrap_or(1).max(1) as usize;
    for i in 0..target_trees.len() {
        ensure!((0..targets as i64).contains(&target_ids[i]), "TreeEnsembleRegressor: target {} of {targets}", target_ids[i]);
        let leaf = link(target_trees[i], target_nodes[i])?;
        nodes[leaf].weights.push((target_ids[i] as usize, weights[i] as f64));
    }
    // Each tree's root: its node 0, else the first listed.
    let mut roots: Vec<(i64, usize)> = Vec::new();
    for (i, &tree) in tree_ids.iter().enumerate() {
        match roots.iter_mut().find(|(t, _)| *t == tree) {
            Some(root) if node_ids[i] == 0 => root.1 = i,
            Some(_) => {}
            None => roots.push((tree, i)),
        }
    }
    let aggregate = match node.get_attr_opt::<String>("aggregate_function")?.as_deref().unwrap_or("SUM") {
        "SUM" => Aggregate::Sum,
        "AVERAGE" => Aggregate::Average,
        "MIN" => Aggregate::Min,
        "MAX" => Aggregate::Max,
        other => bail!("TreeEnsembleRegressor: unknown aggregate_function {other:?}"),
    };
    let post = node.get_attr_opt::<String>("post_transform")?.unwrap_or_else(|| "NONE".into());
    ensure!(post == "NONE", "TreeEnsembleRegressor: post_transform {post} is not supported (only NONE)");
    let base: Vec<f64> = floats("base_values")?.into_iter().map(f64::from).collect();
    ensure!(base.is_empty() || base.len() == targets, "TreeEnsembleRegressor: {} base_values for {targets} targets", base.len());
    let roots = roots.into_iter().map(|(_, r)| r).collect();
    let forest = Forest { name: "TreeEnsembleRegressor", nodes, roots, targets, aggregate, base, output: Some(f32::datum_type()) };
    Ok((expand(ForestRules(forest)), vec![]))
}
