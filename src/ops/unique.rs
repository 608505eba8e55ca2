//! `Unique`: the distinct values (or, with `axis`, the distinct slices along it), sorted or in
//! order of first appearance, with up to three more outputs: each one's first index in the input,
//! each input element's (slice's) index in the result, and how often each occurs. How many there
//! are is known only once the input is: the output length is a symbol the run binds.

use std::cmp::Ordering;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = Unique {
        axis: node.get_attr_opt("axis")?,
        sorted: node.get_attr_opt::<i64>("sorted")?.unwrap_or(1) == 1,
        outputs: node.output.len(),
        count: ctx.template.symbols.new_with_prefix("unique"),
    };
    Ok((expand(op), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Unique {
    axis: Option<i64>,
    sorted: bool,
    outputs: usize,
    /// How many distinct values (slices) the input has.
    count: Symbol,
}

impl Unique {
    fn axis(&self, rank: usize) -> TractResult<Option<usize>> {
        let Some(axis) = self.axis else { return Ok(None) };
        let positive = if axis < 0 { axis + rank as i64 } else { axis };
        ensure!((0..rank as i64).contains(&positive), "Unique: axis {axis} is out of range for rank {rank}");
        Ok(Some(positive as usize))
    }
}

impl Expansion for Unique {
    fn name(&self) -> StaticName {
        "Unique".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.outputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, self.outputs)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        for (ix, output) in outputs.iter().enumerate().skip(1) {
            s.equals(&output.datum_type, i64::datum_type())?;
            s.equals(&output.rank, 1)?;
            if ix != 2 {
                s.equals(&output.shape[0], self.count.to_dim())?;
            }
        }
        s.given(&inputs[0].rank, move |s, rank| {
            let rank = rank as usize;
            match self.axis(rank)? {
                None => {
                    s.equals(&outputs[0].rank, 1)?;
                    s.equals(&outputs[0].shape[0], self.count.to_dim())?;
                    if outputs.len() > 2 {
                        s.given(&inputs[0].shape, move |s, shape| s.equals(&outputs[2].shape[0], shape.iter().product::<TDim>()))?;
                    }
                }
                Some(axis) => {
                    s.equals(&outputs[0].rank, rank as i64)?;
                    for a in 0..rank {
                        if a == axis {
                            s.equals(&outputs[0].shape[a], self.count.to_dim())?;
                        } else {
                            s.equals(&outputs[0].shape[a], &inputs[0].shape[a])?;
                        }
                    }
                    if outputs.len() > 2 {
                        s.equals(&outputs[2].shape[0], &inputs[0].shape[axis])?;
                    }
                }
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let rank = model.outlet_fact(inputs[0])?.rank();
        let op = UniqueKernel { axis: self.axis(rank)?, sorted: self.sorted, outputs: self.outputs, count: self.count.clone() };
        model.wire_node(prefix, super::Kernel(op), inputs)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UniqueKernel {
    axis: Option<usize>,
    sorted: bool,
    outputs: usize,
    count: Symbol,
}

/// Slices compared element by element, the first difference deciding (NaN sorts as equal).
fn compare<K: PartialOrd>(a: &[K], b: &[K]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| x.partial_cmp(y).unwrap_or(Ordering::Equal)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// For slices `keys` (each `width` long): the first index of each distinct slice, in result
/// order, each slice's index in the result, and each distinct slice's count.
fn distinct<K: PartialOrd>(keys: &[K], width: usize, sorted: bool) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let slices = if width == 0 { 0 } else { keys.len() / width };
    let slice = |i: usize| &keys[i * width..][..width];
    let mut order: Vec<usize> = (0..slices).collect();
    order.sort_by(|&a, &b| compare(slice(a), slice(b))); // stable: each group starts at its first
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for &i in &order {
        match groups.last_mut() {
            Some((first, members)) if compare(slice(*first), slice(i)).is_eq() => members.push(i),
            _ => groups.push((i, vec![i])),
        }
    }
    if !sorted {
        groups.sort_by_key(|(first, _)| *first);
    }
    let mut inverse = vec![0; slices];
    for (at, (_, members)) in groups.iter().enumerate() {
        for &m in members {
            inverse[m] = at;
        }
    }
    let firsts = groups.iter().map(|(first, _)| *first).collect();
    let counts = groups.iter().map(|(_, members)| members.len()).collect();
    (firsts, inverse, counts)
}

impl super::Compute for UniqueKernel {
    fn name(&self) -> StaticName {
        "Unique".into()
    }

    fn mints_runtime_symbols(&self) -> bool {
        true
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let dt = input.datum_type();
        // Slices as rows: the axis moved first, then flattened.
        let rows = match self.axis {
            Some(axis) if axis != 0 => {
                let mut permutation: Vec<usize> = (0..input.rank()).collect();
                permutation.remove(axis);
                permutation.insert(0, axis);
                input.clone().into_tensor().permute_axes(&permutation)?
            }
            Some(_) => input.clone().into_tensor(),
            None => input.clone().into_tensor().into_shape(&[input.len(), 1])?,
        };
        let slices = rows.shape().first().copied().unwrap_or(0);
        let width = if slices == 0 { 0 } else { rows.len() / slices };
        let (firsts, inverse, counts) = match dt {
            DatumType::I64 => distinct(rows.to_plain_array_view::<i64>()?.as_slice().context("Unique: layout")?, width, self.sorted),
            DatumType::U64 => distinct(rows.to_plain_array_view::<u64>()?.as_slice().context("Unique: layout")?, width, self.sorted),
            DatumType::String | DatumType::Bool => bail!("Unique: {dt:?} inputs are not supported"),
            _ => distinct(&super::floats(&rows)?, width, self.sorted),
        };
        let picked: Vec<Tensor> =
            firsts.iter().map(|&i| rows.slice(0, i, i + 1)).collect::<TractResult<_>>()?;
        let mut values = if picked.is_empty() {
            let mut shape: TVec<usize> = rows.shape().into();
            shape[0] = 0;
            Tensor::zero_dt(dt, &shape)?
        } else {
            Tensor::stack_tensors(0, &picked)?
        };
        values = match self.axis {
            Some(axis) if axis != 0 => {
                let mut permutation: Vec<usize> = (1..values.rank()).collect();
                permutation.insert(axis, 0);
                values.permute_axes(&permutation)?
            }
            Some(_) => values,
            None => values.into_shape(&[firsts.len()])?,
        };
        let as_i64 = |v: &[usize]| tensor1(&v.iter().map(|&x| x as i64).collect::<Vec<_>>()).into_tvalue();
        let all = [values.into_tvalue(), as_i64(&firsts), as_i64(&inverse), as_i64(&counts)];
        Ok(all.into_iter().take(self.outputs).collect())
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        let count = self.count.to_dim();
        let (values, slices) = match self.axis {
            None => (tvec![count.clone()], input.shape.iter().product::<TDim>()),
            Some(axis) => {
                let mut shape: TVec<TDim> = input.shape.to_tvec();
                shape[axis] = count.clone();
                (shape, input.shape[axis].clone())
            }
        };
        let all = [
            input.datum_type.fact(values),
            i64::fact([count.clone()]),
            i64::fact([slices]),
            i64::fact([count]),
        ];
        Ok(all.into_iter().take(self.outputs).collect())
    }
}
