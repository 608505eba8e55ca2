//! `TreeEnsemble` (ai.onnx.ml 5): decision-tree ensembles in the layout that replaced
//! `TreeEnsembleRegressor`/`Classifier`'s parallel attribute lists: nodes and leaves in separate
//! arrays, thresholds and leaf weights as tensors (float or double), explicit tree roots, and a
//! set-membership test (`x in {...}`) for categorical splits.
//!
//! Also the kernel both tree operators share ([`Forest`]): each tree is walked from its root to a
//! leaf for each row, and the leaves' weights per target are aggregated over the trees (sum,
//! average, min or max) and added to the base values. Comparisons are made between the feature as
//! given and the threshold as stored (both widened exactly to f64), sums are kept in f64.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ints = |name: &str| -> TractResult<Vec<i64>> { Ok(node.get_attr_opt_vec::<i64>(name)?.unwrap_or_default()) };
    let tensor = |name: &str| -> TractResult<Option<Tensor>> {
        node.get_attr_opt::<&tract_onnx::pb::TensorProto>(name)?.map(|proto| ctx.load_tensor(proto)).transpose()
    };
    let floats = |name: &str| -> TractResult<Option<Vec<f64>>> { tensor(name)?.map(|t| super::floats(&t)).transpose() };
    let splits = floats("nodes_splits")?.context("TreeEnsemble: no nodes_splits")?;
    let modes: Vec<i64> = match tensor("nodes_modes")? {
        Some(t) => super::ints(&t)?,
        None => bail!("TreeEnsemble: no nodes_modes"),
    };
    let (features, true_ids, false_ids) = (ints("nodes_featureids")?, ints("nodes_truenodeids")?, ints("nodes_falsenodeids")?);
    let (true_leafs, false_leafs) = (ints("nodes_trueleafs")?, ints("nodes_falseleafs")?);
    let missing_true = ints("nodes_missing_value_tracks_true")?;
    let count = modes.len();
    ensure!(
        [splits.len(), features.len(), true_ids.len(), false_ids.len(), true_leafs.len(), false_leafs.len()]
            .iter()
            .all(|&n| n == count),
        "TreeEnsemble: the nodes_* attributes differ in length"
    );
    let (leaf_targets, leaf_weights) = (ints("leaf_targetids")?, floats("leaf_weights")?.unwrap_or_default());
    ensure!(leaf_targets.len() == leaf_weights.len(), "TreeEnsemble: leaf_targetids and leaf_weights differ in length");
    let targets = node.get_attr_opt::<i64>("n_targets")?.unwrap_or(1).max(1) as usize;

    // Interior nodes first, then the leaves, in one array: a link to leaf `i` is `count + i`.
    let link = |is_leaf: i64, id: i64| -> TractResult<usize> {
        let (base, len) = if is_leaf != 0 { (count, leaf_targets.len()) } else { (0, count) };
        ensure!((0..len as i64).contains(&id), "TreeEnsemble: a link to {} {id} of {len}", if is_leaf != 0 { "leaf" } else { "node" });
        Ok(base + id as usize)
    };
    // Each BRANCH_MEMBER node's set, in node order, NaN-delimited.
    let members = floats("membership_values")?.unwrap_or_default();
    let mut sets = members.split(|v| v.is_nan());
    let mut nodes = Vec::with_capacity(count + leaf_targets.len());
    for i in 0..count {
        let test = match modes[i] {
            0 => Test::LessEqual,
            1 => Test::Less,
            2 => Test::GreaterEqual,
            3 => Test::Greater,
            4 => Test::Equal,
            5 => Test::NotEqual,
            6 => Test::Member(sets.next().context("TreeEnsemble: fewer membership sets than BRANCH_MEMBER nodes")?.to_vec()),
            other => bail!("TreeEnsemble: unknown node mode {other}"),
        };
        ensure!(features[i] >= 0, "TreeEnsemble: a negative feature index");
        nodes.push(TreeNode {
            test: Some(test),
            feature: features[i] as usize,
            threshold: splits[i],
            yes: link(true_leafs[i], true_ids[i])?,
            no: link(false_leafs[i], false_ids[i])?,
            missing_goes_yes: missing_true.get(i).is_some_and(|&m| m != 0),
            weights: Vec::new(),
        });
    }
    for (&target, &weight) in leaf_targets.iter().zip(&leaf_weights) {
        ensure!((0..targets as i64).contains(&target), "TreeEnsemble: target {target} of {targets}");
        nodes.push(TreeNode { weights: vec![(target as usize, weight)], ..TreeNode::leaf() });
    }
    let roots = ints("tree_roots")?
        .into_iter()
        .map(|root| {
            ensure!((0..count as i64).contains(&root), "TreeEnsemble: tree root {root} of {count} nodes");
            let r = root as usize;
            // A tree that is one leaf: a root whose two links are the same leaf.
            Ok(if true_leafs[r] != 0 && false_leafs[r] != 0 && true_ids[r] == false_ids[r] { nodes[r].yes } else { r })
        })
        .collect::<TractResult<Vec<_>>>()?;
    let aggregate = match node.get_attr_opt::<i64>("aggregate_function")?.unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => bail!("TreeEnsemble: unknown aggregate_function {other}"),
    };
    let post = node.get_attr_opt::<i64>("post_transform")?.unwrap_or(0);
    ensure!(post == 0, "TreeEnsemble: post_transform {post} is not supported (only 0, NONE)");
    let forest = Forest { name: "TreeEnsemble", nodes, roots, targets, aggregate, base: vec![], output: None };
    Ok((expand(ForestRules(forest)), vec![]))
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test {
    LessEqual,
    Less,
    GreaterEqual,
    Greater,
    Equal,
    NotEqual,
    Member(Vec<f64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct TreeNode {
    /// None for a leaf.
    pub test: Option<Test>,
    pub feature: usize,
    pub threshold: f64,
    pub yes: usize,
    pub no: usize,
    pub missing_goes_yes: bool,
    /// A leaf's (target, weight) contributions.
    pub weights: Vec<(usize, f64)>,
}

impl TreeNode {
    pub fn leaf() -> TreeNode {
        TreeNode { test: None, feature: 0, threshold: 0.0, yes: 0, no: 0, missing_goes_yes: false, weights: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Forest {
    /// The operator's name, for errors.
    pub name: &'static str,
    pub nodes: Vec<TreeNode>,
    pub roots: Vec<usize>,
    pub targets: usize,
    pub aggregate: Aggregate,
    pub base: Vec<f64>,
    /// The output's type; None: the input's.
    pub output: Option<DatumType>,
}

impl Eq for Forest {}

impl Forest {
    fn leaf(&self, root: usize, row: &[f64]) -> TractResult<&TreeNode> {
        let mut at = root;
        for _ in 0..=self.nodes.len() {
            let node = &self.nodes[at];
            let Some(test) = &node.test else { return Ok(node) };
            let x = *row.get(node.feature).with_context(|| format!("{}: feature {} of {}", self.name, node.feature, row.len()))?;
            let t = node.threshold;
            // As onnxruntime: the comparison as IEEE gives it (NaN != t holds), or a missing value
            // sent the way the node says.
            let holds = match test {
                Test::LessEqual => x <= t,
                Test::Less => x < t,
                Test::GreaterEqual => x >= t,
                Test::Greater => x > t,
                Test::Equal => x == t,
                Test::NotEqual => x != t,
                Test::Member(set) => set.contains(&x),
            };
            at = if holds || (node.missing_goes_yes && x.is_nan()) { node.yes } else { node.no };
        }
        bail!("{}: a tree with a cycle", self.name)
    }
}

#[derive(Debug, Clone)]
pub(super) struct ForestRules(pub Forest);

impl Expansion for ForestRules {
    fn name(&self) -> StaticName {
        self.0.name.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        match self.0.output {
            Some(dt) => s.equals(&outputs[0].datum_type, dt)?,
            None => s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?,
        }
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
        self.name.into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let rows = inputs[0].shape()[0];
        let x = super::floats(&inputs[0])?;
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
        let dt = self.output.unwrap_or(inputs[0].datum_type());
        Ok(tvec![super::float_tensor(out, &[rows, self.targets], dt)?.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let dt = self.output.unwrap_or(inputs[0].datum_type);
        Ok(tvec![dt.fact([inputs[0].shape[0].clone(), self.targets.to_dim()])])
    }
}
