//! Inputs for `run` and `bench`: raw little-endian files, or deterministic pseudo-random data
//! shaped like the planned inputs.

use std::path::PathBuf;

use webinfer::{DType, Dim, Tensor, TensorData, TensorInfo};

pub fn build(inputs: &[TensorInfo], files: &[(String, PathBuf)]) -> Result<Vec<(String, Tensor)>, String> {
    if let Some((name, _)) = files.iter().find(|(n, _)| !inputs.iter().any(|i| &i.name == n)) {
        let known: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(format!("--input {name}: the model has no such input (inputs: {})", known.join(", ")));
    }
    inputs
        .iter()
        .enumerate()
        .map(|(ix, info)| {
            let dims = concrete_dims(info)?;
            let dtype = info
                .dtype
                .as_deref()
                .and_then(DType::from_name)
                .ok_or_else(|| format!("input `{}` has type {:?}, which webinfer cannot feed", info.name, info.dtype))?;
            let data = match files.iter().find(|(n, _)| n == &info.name) {
                Some((_, file)) => read_raw(file, dtype)?,
                None => generate(dtype, dims.iter().product(), ix as u64 + 1),
            };
            Ok((info.name.clone(), Tensor::new(dims, data)))
        })
        .collect()
}

fn concrete_dims(info: &TensorInfo) -> Result<Vec<usize>, String> {
    let dims = info.dims.as_ref().ok_or_else(|| format!("input `{}` has an unknown rank", info.name))?;
    dims.iter()
        .map(|d| match d {
            Dim::Fixed(v) => Ok(*v),
            _ => Err(format!(
                "input `{}` has a dynamic dim ({}); fix it with --shape {}=D,D,...",
                info.name,
                info.shape_string(),
                info.name
            )),
        })
        .collect()
}

fn read_raw(file: &PathBuf, dtype: DType) -> Result<TensorData, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let width = match dtype {
        DType::F32 | DType::I32 => 4,
        DType::I64 => 8,
        DType::I8 | DType::U8 | DType::Bool => 1,
    };
    if bytes.len() % width != 0 {
        return Err(format!("{}: {} bytes is not a whole number of {dtype} values", file.display(), bytes.len()));
    }
    let words = |w: usize| bytes.chunks_exact(w);
    Ok(match dtype {
        DType::F32 => TensorData::F32(words(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()),
        DType::I32 => TensorData::I32(words(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect()),
        DType::I64 => TensorData::I64(words(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()),
        DType::I8 => TensorData::I8(bytes.iter().map(|&b| b as i8).collect()),
        DType::U8 => TensorData::U8(bytes),
        DType::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
    })
}

/// xorshift64: reproducible inputs without a dependency.
fn generate(dtype: DType, len: usize, seed: u64) -> TensorData {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    match dtype {
        DType::F32 => TensorData::F32((0..len).map(|_| (unit() * 2.0 - 1.0) as f32).collect()),
        DType::I8 => TensorData::I8((0..len).map(|_| (unit() * 256.0 - 128.0) as i8).collect()),
        DType::U8 => TensorData::U8((0..len).map(|_| (unit() * 256.0) as u8).collect()),
        DType::I32 => TensorData::I32((0..len).map(|_| (unit() * 16.0) as i32).collect()),
        DType::I64 => TensorData::I64((0..len).map(|_| (unit() * 16.0) as i64).collect()),
        DType::Bool => TensorData::Bool((0..len).map(|_| unit() < 0.5).collect()),
    }
}
