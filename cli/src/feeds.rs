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
            let file = files.iter().find(|(n, _)| n == &info.name).map(|(_, f)| f);
            if let Some(file) = file.filter(|f| is_tensor_proto(f)) {
                let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
                let tensor = Tensor::from_onnx_pb(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
                return Ok((info.name.clone(), tensor));
            }
            let data = match file {
                Some(file) => read_raw(file, dtype)?,
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

/// An ONNX `TensorProto` file (`.pb`, as ONNX's test data stores inputs): it holds its own type
/// and shape, where other files are raw little-endian values shaped like the planned input.
pub fn is_tensor_proto(file: &std::path::Path) -> bool {
    file.extension().is_some_and(|e| e == "pb")
}

fn read_raw(file: &PathBuf, dtype: DType) -> Result<TensorData, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    TensorData::from_le_bytes(dtype, &bytes).ok_or_else(|| match dtype.width() {
        None => format!("{}: {dtype} inputs cannot come from a raw file", file.display()),
        Some(_) => format!("{}: {} bytes is not a whole number of {dtype} values", file.display(), bytes.len()),
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
        // Half precision: values in [-1, 1), as bit patterns.
        DType::F16 => TensorData::F16((0..len).map(|_| half::f16::from_f64(unit() * 2.0 - 1.0).to_bits()).collect()),
        DType::F64 => TensorData::F64((0..len).map(|_| unit() * 2.0 - 1.0).collect()),
        DType::I16 => TensorData::I16((0..len).map(|_| (unit() * 16.0) as i16).collect()),
        DType::U16 => TensorData::U16((0..len).map(|_| (unit() * 16.0) as u16).collect()),
        DType::U32 => TensorData::U32((0..len).map(|_| (unit() * 16.0) as u32).collect()),
        DType::U64 => TensorData::U64((0..len).map(|_| (unit() * 16.0) as u64).collect()),
        DType::String => TensorData::String((0..len).map(|_| format!("s{}", (unit() * 16.0) as u32)).collect()),
    }
}

