//! `TreeEnsembleRegressor` (ai.onnx.ml: what skl2onnx writes for scikit-learn's random forests,
//! gradient boosting and decision trees used as regressors; tract has only the classifier). Each
//! tree is walked from its root to a leaf for each row; the leaves' weights per target are
//! aggregated over the trees (sum, average, min or max) and added to `base_values`. Sums are kept
//! in f64, comparisons in the thresholds' f32, as onnxruntime compares.

use std::collections::HashMap;

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
            threshold: values[i],
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
    let forest = Forest { nodes, roots: roots.into_iter().map(|(_, r)| r).collect(), targets, aggregate, base };
    Ok((expand(ForestRules(forest)), vec![]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Test {
    LessEqual,
    Less,
    GreaterEqual,
    Greater,
    Equal,
    NotEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq)]
struct TreeNode {
    /// None for a leaf.
    test: Option<Test>,
    feature: usize,
    threshold: f32,
    yes: usize,
    no: usize,
    missing_goes_yes: bool,
    /// A leaf's (target, weight) contributions.
    weights: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Forest {
    nodes: Vec<TreeNode>,
    roots: Vec<usize>,
    targets: usize,
    aggregate: Aggregate,
    base: Vec<f64>,
}

impl Eq for Forest {}

impl Forest {
    fn leaf(&self, root: usize, row: &[f32]) -> TractResult<&TreeNode> {
        let mut at = root;
        for _ in 0..=self.nodes.len() {
            let node = &self.nodes[at];
            let Some(test) = node.test else { return Ok(node) };
            let x = *row.get(node.feature).with_context(|| format!("TreeEnsembleRegressor: feature {} of {}", node.feature, row.len()))?;
            let yes = if x.is_nan() {
                node.missing_goes_yes
            } else {
                let t = node.threshold;
                match test {
                    Test::LessEqual => x <= t,
                    Test::Less => x < t,
                    Test::GreaterEqual => x >= t,
                    Test::Greater => x > t,
                    Test::Equal => x == t,
                    Test::NotEqual => x != t,
                }
            };
            at = if yes { node.yes } else { node.no };
        }
        bail!("TreeEnsembleRegressor: a tree with a cycle")
    }
}

#[derive(Debug, Clone)]
struct ForestRules(Forest);

impl Expansion for ForestRules {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.0.targets.to_dim())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, super::Kernel(self.0.clone()), inputs)
    }
}

impl super::Compute for Forest {
    fn name(&self) -> StaticName {
        "TreeEnsembleRegressor".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let rows = inputs[0].shape()[0];
        let x: Vec<f32> = inputs[0].cast_to::<f32>()?.to_plain_array_view::<f32>()?.iter().copied().collect();
        let width = if rows == 0 { 0 } else { x.len() / rows };
        let mut out = Vec::with_capacity(rows * self.targets);
        for r in 0..rows {
            let row = &x[r * width..][..width];
            let mut scores: Vec<Option<f64>> = vec![None; self.targets];
            for &root in &self.roots {
                for &(target, w) in &self.leaf(root, row)?.weights {
                    let score = &mut scores[target];
                    *score = Some(match (self.aggregate, *score) {
                        (_, None) => w,
                        (Aggregate::Sum | Aggregate::Average, Some(s)) => s + w,
                        (Aggregate::Min, Some(s)) => s.min(w),
                        (Aggregate::Max, Some(s)) => s.max(w),
                    });
                }
            }
            for (t, score) in scores.into_iter().enumerate() {
                let mut v = score.unwrap_or(0.0);
                if self.aggregate == Aggregate::Average {
                    v /= self.roots.len().max(1) as f64;
                }
                out.push(v + self.base.get(t).copied().unwrap_or(0.0));
            }
        }
        Ok(tvec![super::float_tensor(out, &[rows, self.targets], f32::datum_type())?.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec![f32::fact([inputs[0].shape[0].clone(), self.targets.to_dim()])])
    }
}
