//! Tensors as the API carries them: a shape and a typed buffer, in the element types real
//! models take and produce. Conversions to and from tract's tensors live here and nowhere else.

use std::fmt;

use tract_onnx::prelude::{DatumType, SymbolValues, TDim, Tensor as TractTensor, TractResult};

use super::error::{Error, Result};

/// Element types that cross the API. Names follow onnxruntime-web (`'float32'`, `'int64'`, ...)
/// so JS users see the strings they already know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    I8,
    U8,
    I32,
    I64,
    Bool,
}

impl DType {
    pub const ALL: [DType; 6] = [DType::F32, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool];

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::Bool => "bool",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    pub(crate) fn from_datum(dt: DatumType) -> Option<DType> {
        Some(match dt {
            DatumType::F32 => DType::F32,
            DatumType::I8 => DType::I8,
            DatumType::U8 => DType::U8,
            DatumType::I32 => DType::I32,
            DatumType::I64 => DType::I64,
            DatumType::Bool => DType::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Name of any tract datum type, in onnxruntime's spelling where one exists, for messages and
/// model descriptions (a model may declare types the API cannot carry, e.g. float16).
pub(crate) fn datum_name(dt: DatumType) -> String {
    if let Some(d) = DType::from_datum(dt) {
        return d.name().to_string();
    }
    match dt {
        DatumType::F16 => "float16".into(),
        DatumType::F64 => "float64".into(),
        DatumType::I16 => "int16".into(),
        DatumType::U16 => "uint16".into(),
        DatumType::U32 => "uint32".into(),
        DatumType::U64 => "uint64".into(),
        DatumType::String => "string".into(),
        // Shape and Size results inside tract; ONNX types them int64, and so does the engine.
        DatumType::TDim => "int64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A typed buffer; the variant is the element type.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value as f64 (bool as 0/1; int64 beyond 2^53 rounds): for comparing with a
    /// reference and for reports, not for computing.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        }
    }
}

/// A shape and its data, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dims: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn new(dims: Vec<usize>, data: TensorData) -> Tensor {
        Tensor { dims, data }
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Converts to tract's tensor. The caller has checked that the element count matches the
    /// dims (tract would otherwise fail, and the caller knows the input's name for the message).
    pub(crate) fn to_tract(&self) -> Result<TractTensor> {
        let shape = &self.dims;
        let tensor = match &self.data {
            TensorData::F32(v) => TractTensor::from_shape(shape, v),
            TensorData::I8(v) => TractTensor::from_shape(shape, v),
            TensorData::U8(v) => TractTensor::from_shape(shape, v),
            TensorData::I32(v) => TractTensor::from_shape(shape, v),
            TensorData::I64(v) => TractTensor::from_shape(shape, v),
            TensorData::Bool(v) => TractTensor::from_shape(shape, v),
        };
        tensor.map_err(Error::run)
    }

    /// Converts tract's output tensor, refusing types the API cannot carry rather than casting
    /// them silently.
    pub(crate) fn from_tract(name: &str, t: &TractTensor, symbols: &SymbolValues) -> Result<Tensor> {
        fn copy<T: tract_onnx::prelude::Datum + Clone>(t: &TractTensor) -> Result<Vec<T>> {
            Ok(t.try_as_plain_ram().and_then(|v| v.as_slice::<T>()).map_err(Error::run)?.to_vec())
        }
        let data = match t.datum_type() {
            DatumType::F32 => TensorData::F32(copy(t)?),
            DatumType::I8 => TensorData::I8(copy(t)?),
            DatumType::U8 => TensorData::U8(copy(t)?),
            DatumType::I32 => TensorData::I32(copy(t)?),
            DatumType::I64 => TensorData::I64(copy(t)?),
            DatumType::Bool => TensorData::Bool(copy(t)?),
            // A `Shape` or `Size` result: dims inside tract, int64 in ONNX. A dim of a dynamic
            // input is a symbol (`batch`) whose value the feeds gave.
            DatumType::TDim => TensorData::I64(
                copy::<TDim>(t)?.iter().map(|d| d.eval_to_i64(symbols)).collect::<TractResult<_>>().map_err(Error::run)?,
            ),
            other => {
                return Err(Error::UnsupportedType {
                    what: format!(
                        "output `{name}` is {}, which webinfer cannot return; supported: {}",
                        datum_name(other),
                        DType::ALL.map(|d| d.name()).join(", ")
                    ),
                })
            }
        };
        Ok(Tensor { dims: t.shape().to_vec(), data })
    }
}
