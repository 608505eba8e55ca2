//! The loop webinfer's separable kernels share (resizing, pooling): one pass per axis, each
//! turning every block of the axes before it, `len_in` runs of the `inner` values after it, into
//! `len_out` runs. Blocks are split over the threaded build's pool; each pass writes straight into
//! the tensor the next one reads.

use tract_onnx::prelude::*;

use super::parallel;

/// Runs the passes `axes` (each `(axis, len_out)`, in order) over `input` of `input_shape`.
/// `pass_block(pass, src, inner, out)` computes one block of pass number `pass`: `src` holds the
/// block's `len_in * inner` values, `out` its `len_out * inner`, filled with `start` beforehand.
pub(crate) fn run(
    input: &[f32],
    input_shape: &[usize],
    axes: impl IntoIterator<Item = (usize, usize)>,
    start: f32,
    pass_block: impl Fn(usize, &[f32], usize, &mut [f32]) + Sync,
) -> TractResult<Tensor> {
    let mut shape: TVec<usize> = input_shape.into();
    let mut result: Option<Tensor> = None;
    for (pass, (axis, len_out)) in axes.into_iter().enumerate() {
        let (len_in, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
        shape[axis] = len_out;
        // SAFETY: f32 has no invalid bit patterns; filled with `start` right away.
        let mut out = unsafe { Tensor::uninitialized::<f32>(&shape)? };
        {
            let previous = result.as_ref().map(|t| t.try_as_plain_ram()).transpose()?;
            let src = match &previous {
                Some(view) => view.as_slice::<f32>()?,
                None => input,
            };
            let mut plain = out.try_as_plain_ram_mut()?;
            let out = plain.as_slice_mut::<f32>()?;
            out.fill(start);
            let (block_in, block_out) = (len_in * inner, len_out * inner);
            if block_out > 0 {
                parallel::split_chunks_mut(out, block_out, |first, blocks| {
                    for (i, out) in blocks.chunks_exact_mut(block_out).enumerate() {
                        pass_block(pass, &src[(first + i) * block_in..][..block_in], inner, out);
                    }
                });
            }
        }
        result = Some(out);
    }
    match result {
        Some(tensor) => Ok(tensor),
        None => Ok(Tensor::from_shape(input_shape, input)?),
    }
}
