//! `Col2Im`: the inverse of im2col. Each column of the input holds one block (a `block_shape`
//! window of every channel); the blocks are summed back into an image of `image_shape`, with
//! strides, dilations and pads as a convolution would have read them.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((
        expand(Col2Im {
            dilations: node.get_attr_opt_vec("dilations")?,
            pads: node.get_attr_opt_vec("pads")?,
            strides: node.get_attr_opt_vec("strides")?,
        }),
        vec![],
    ))
}

#[derive(Debug, Clone)]
struct Col2Im {
    dilations: Option<Vec<usize>>,
    pads: Option<Vec<usize>>,
    strides: Option<Vec<usize>>,
}

impl Expansion for Col2Im {
    fn name(&self) -> StaticName {
        "Col2Im".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&inputs[0].rank, 3)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.given(&inputs[1].value, move |s, image| {
            let image = super::ints(&image)?;
            s.equals(&outputs[0].rank, 2 + image.len() as i64)?;
            for (axis, &size) in image.iter().enumerate() {
                s.equals(&outputs[0].shape[2 + axis], (size as usize).to_dim())?;
            }
            Ok(())
        })?;
        s.given_2(&inputs[0].shape[1], &inputs[2].value, move |s, rows, block| {
            let block: i64 = super::ints(&block)?.iter().product();
            ensure!(block > 0, "Col2Im: an empty block_shape");
            s.equals(&outputs[0].shape[1], rows / block as u64)
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let image: Vec<usize> = super::known_ints(model, inputs[1], "Col2Im", "image_shape")?.iter().map(|&v| v as usize).collect();
        let block: Vec<usize> = super::known_ints(model, inputs[2], "Col2Im", "block_shape")?.iter().map(|&v| v as usize).collect();
        let n = image.len();
        ensure!(block.iter().all(|&b| b >= 1), "Col2Im: block_shape {block:?} has an empty axis");
        ensure!(block.len() == n, "Col2Im: image_shape has {n} axes, block_shape {}", block.len());
        let or_default = |v: &Option<Vec<usize>>, len: usize, default: usize, what: &str| -> TractResult<Vec<usize>> {
            let v = v.clone().unwrap_or_else(|| vec![default; len]);
            ensure!(v.len() == len, "Col2Im: {} {what} for {n} axes", v.len());
            Ok(v)
        };
        let positive = |v: &[usize]| v.iter().all(|&x| x >= 1);
        let op = Col2ImKernel {
            dilations: or_default(&self.dilations, n, 1, "dilations")?,
            pads: or_default(&self.pads, 2 * n, 0, "pads")?,
            strides: or_default(&self.strides, n, 1, "strides")?,
            image,
            block,
        };
        ensure!(positive(&op.strides) && positive(&op.dilations), "Col2Im: strides and dilations must be positive");
        model.wire_node(prefix, super::Kernel(op), &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Col2ImKernel {
    image: Vec<usize>,
    block: Vec<usize>,
    dilations: Vec<usize>,
    pads: Vec<usize>,
    strides: Vec<usize>,
}

impl Col2ImKernel {
    /// How many blocks fit along each axis.
    fn blocks(&self) -> TractResult<Vec<usize>> {
        let n = self.image.len();
        (0..n)
            .map(|i| {
                let padded = self.image[i] + self.pads[i] + self.pads[n + i];
                let extent = self.dilations[i] * (self.block[i] - 1) + 1;
                ensure!(padded >= extent && self.strides[i] > 0, "Col2Im: a block of {extent} does not fit {padded} along axis {i}");
                Ok((padded - extent) / self.strides[i] + 1)
            })
            .collect()
    }
}

/// Row-major coordinates of `index` in `shape`.
fn unravel(mut index: usize, shape: &[usize], out: &mut [usize]) {
    for axis in (0..shape.len()).rev() {
        out[axis] = index % shape[axis];
        index /= shape[axis];
    }
}

impl super::Compute for Col2ImKernel {
    fn name(&self) -> StaticName {
        "Col2Im".into()
    }

    fn eval(&self, _symbols: &SymbolValues, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = inputs[0].shape();
        let (batch, rows, columns) = (shape[0], shape[1], shape[2]);
        let n = self.image.len();
        let blocks = self.blocks()?;
        let block_size: usize = self.block.iter().product();
        let image_size: usize = self.image.iter().product();
        ensure!(rows % block_size == 0, "Col2Im: {rows} rows are not a whole number of {block_size}-element blocks");
        ensure!(columns == blocks.iter().product::<usize>(), "Col2Im: {columns} columns, but {blocks:?} blocks fit the image");
        let channels = rows / block_size;
        // Where block offset k of block l lands in the image (None: in the padding). The same for
        // every image and channel, so computed once.
        let (mut at_block, mut at_offset) = (vec![0; n], vec![0; n]);
        let mut pixels = Vec::with_capacity(block_size * columns);
        for k in 0..block_size {
            unravel(k, &self.block, &mut at_offset);
            for l in 0..columns {
                unravel(l, &blocks, &mut at_block);
                pixels.push((0..n).try_fold(0, |pixel, i| {
                    let p = (at_block[i] * self.strides[i] + at_offset[i] * self.dilations[i]).checked_sub(self.pads[i])?;
                    (p < self.image[i]).then_some(pixel * self.image[i] + p)
                }));
            }
        }
        let x = super::floats(&inputs[0])?;
        let mut y = vec![0.0; batch * channels * image_size];
        // One (image, channel) plane of the input per plane of the output.
        for (rows, image) in x.chunks(block_size * columns).zip(y.chunks_mut(image_size)) {
            for (&v, pixel) in rows.iter().zip(&pixels) {
                if let Some(pixel) = *pixel {
                    image[pixel] += v;
                }
            }
        }
        let out_shape: Vec<usize> = [batch, channels].into_iter().chain(self.image.iter().copied()).collect();
        Ok(tvec![super::float_tensor(y, &out_shape, inputs[0].datum_type())?.into_tvalue()])
    }

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let block_size: usize = self.block.iter().product();
        let channels = inputs[0].shape[1].clone() / block_size as u64;
        let shape: TVec<TDim> =
            [inputs[0].shape[0].clone(), channels].into_iter().chain(self.image.iter().map(|&d| d.to_dim())).collect();
        Ok(tvec![inputs[0].datum_type.fact(shape)])
    }
}
