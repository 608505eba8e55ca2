//! Tensors as the API carries them: a shape and a typed buffer, in the element types real
//! models take and produce. Conversions to and from tract's tensors live here and nowhere else.

use std::fmt;

use tract_onnx::prelude::{f16, DatumType, SymbolValues, TDim, Tensor as TractTensor, TractResult};

use super::error::{Error, Result};

/// Element types that cross the API. Names follow onnxruntime-web (`'float32'`, `'int64'`, ...)
/// so JS users see the strings they already know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    /// IEEE half precision, carried as its 16-bit patterns (JS: `Uint16Array`, as in
    /// onnxruntime-web, or `Float16Array` where the browser has one).
    F16,
    F64,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Bool,
    String,
}

impl DType {
    pub const ALL: [DType; 13] = [
        DType::F32,
        DType::F16,
        DType::F64,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::U16,
        DType::I32,
        DType::U32,
        DType::I64,
        DType::U64,
        DType::Bool,
        DType::String,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::F64 => "float64",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::I16 => "int16",
            DType::U16 => "uint16",
            DType::I32 => "int32",
            DType::U32 => "uint32",
            DType::I64 => "int64",
            DType::U64 => "uint64",
            DType::Bool => "bool",
            DType::String => "string",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per value; `None` for strings.
    pub fn width(self) -> Option<usize> {
        Some(match self {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::String => return None,
        })
    }

    pub(crate) fn from_datum(dt: DatumType) -> Option<DType> {
        Some(match dt {
            DatumType::F32 => DType::F32,
            DatumType::F16 => DType::F16,
            DatumType::F64 => DType::F64,
            DatumType::I8 => DType::I8,
            DatumType::U8 => DType::U8,
            DatumType::I16 => DType::I16,
            DatumType::U16 => DType::U16,
            DatumType::I32 => DType::I32,
            DatumType::U32 => DType::U32,
            DatumType::I64 => DType::I64,
            DatumType::U64 => DType::U64,
            DatumType::Bool => DType::Bool,
            DatumType::String => DType::String,
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
        // Shape and Size results inside tract; ONNX types them int64, and so does the engine.
        DatumType::TDim => "int64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A typed buffer; the variant is the element type.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    /// Half-precision bit patterns (see [`DType::F16`]).
    F16(Vec<u16>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
    String(Vec<String>),
}

/// `$body` once per variant, with `$v` bound to its vector.
macro_rules! each_variant {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::F32($v) => $body,
            TensorData::F16($v) => $body,
            TensorData::F64($v) => $body,
            TensorData::I8($v) => $body,
            TensorData::U8($v) => $body,
            TensorData::I16($v) => $body,
            TensorData::U16($v) => $body,
            TensorData::I32($v) => $body,
            TensorData::U32($v) => $body,
            TensorData::I64($v) => $body,
            TensorData::U64($v) => $body,
            TensorData::Bool($v) => $body,
            TensorData::String($v) => $body,
        }
    };
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F16(_) => DType::F16,
            TensorData::F64(_) => DType::F64,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
            TensorData::I16(_) => DType::I16,
            TensorData::U16(_) => DType::U16,
            TensorData::I32(_) => DType::I32,
            TensorData::U32(_) => DType::U32,
            TensorData::I64(_) => DType::I64,
            TensorData::U64(_) => DType::U64,
            TensorData::Bool(_) => DType::Bool,
            TensorData::String(_) => DType::String,
        }
    }

    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    /// `len` zeros (false, empty strings) of a type.
    pub fn zeros(dtype: DType, len: usize) -> TensorData {
        match dtype {
            DType::F32 => TensorData::F32(vec![0.0; len]),
            DType::F16 => TensorData::F16(vec![0; len]),
            DType::F64 => TensorData::F64(vec![0.0; len]),
            DType::I8 => TensorData::I8(vec![0; len]),
            DType::U8 => TensorData::U8(vec![0; len]),
            DType::I16 => TensorData::I16(vec![0; len]),
            DType::U16 => TensorData::U16(vec![0; len]),
            DType::I32 => TensorData::I32(vec![0; len]),
            DType::U32 => TensorData::U32(vec![0; len]),
            DType::I64 => TensorData::I64(vec![0; len]),
            DType::U64 => TensorData::U64(vec![0; len]),
            DType::Bool => TensorData::Bool(vec![false; len]),
            DType::String => TensorData::String(vec![String::new(); len]),
        }
    }

    /// Values from their little-endian bytes (bool: one byte each, non-zero is true; float16:
    /// the bit patterns). `None` for strings, which have no fixed width, and for a byte count
    /// that is not a whole number of values.
    pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<TensorData> {
        let width = dtype.width()?;
        if bytes.len() % width != 0 {
            return None;
        }
        macro_rules! words {
            ($t:ty) => {
                bytes.chunks_exact(width).map(|c| <$t>::from_le_bytes(c.try_into().unwrap())).collect()
            };
        }
        Some(match dtype {
            DType::F32 => TensorData::F32(words!(f32)),
            DType::F16 => TensorData::F16(words!(u16)),
            DType::F64 => TensorData::F64(words!(f64)),
            DType::I8 => TensorData::I8(words!(i8)),
            DType::U8 => TensorData::U8(bytes.to_vec()),
            DType::I16 => TensorData::I16(words!(i16)),
            DType::U16 => TensorData::U16(words!(u16)),
            DType::I32 => TensorData::I32(words!(i32)),
            DType::U32 => TensorData::U32(words!(u32)),
            DType::I64 => TensorData::I64(words!(i64)),
            DType::U64 => TensorData::U64(words!(u64)),
            DType::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
            DType::String => return None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value as f64 (bool as 0/1; 64-bit integers beyond 2^53 round; strings are NaN):
    /// for comparing with a reference and for reports, not for computing.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::F16(v) => v.iter().map(|&x| f16::from_bits(x).to_f64()).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::I8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I16(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U16(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
            TensorData::String(v) => vec![f64::NAN; v.len()],
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

    /// Decodes a serialized ONNX `TensorProto` (a `.pb` file, as ONNX's test cases and
    /// `onnx.numpy_helper.from_array(...).SerializeToString()` write them): test data and
    /// reference inputs without a conversion step.
    pub fn from_onnx_pb(bytes: &[u8]) -> Result<Tensor> {
        let decode = || -> TractResult<TractTensor> {
            let proto = tract_onnx::tensor::proto_from_reader(bytes)?;
            // Data stored beside the model (external data) has no file to come from here.
            tract_onnx::tensor::load_tensor(&tract_onnx::data_resolver::FopenDataResolver, &proto, None)
        };
        let invalid = |reason: String| Error::InvalidTensor { reason };
        let tensor = super::guard::catch(decode).map_err(invalid)?.map_err(|e| invalid(format!("{e:#}")))?;
        Tensor::from_tract("tensor", &tensor, &SymbolValues::default())
    }

    /// Converts to tract's tensor. The caller has checked that the element count matches the
    /// dims (tract would otherwise fail, and the caller knows the input's name for the message).
    pub(crate) fn to_tract(&self) -> Result<TractTensor> {
        let shape = &self.dims;
        let tensor = match &self.data {
            TensorData::F16(bits) => TractTensor::from_shape(shape, &bits.iter().map(|&b| f16::from_bits(b)).collect::<Vec<_>>()),
            TensorData::String(v) => tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape.as_slice(), v.clone())
                .map(TractTensor::from)
                .map_err(|e| tract_onnx::prelude::TractError::msg(e.to_string())),
            TensorData::F32(v) => TractTensor::from_shape(shape, v),
            TensorData::F64(v) => TractTensor::from_shape(shape, v),
            TensorData::I8(v) => TractTensor::from_shape(shape, v),
            TensorData::U8(v) => TractTensor::from_shape(shape, v),
            TensorData::I16(v) => TractTensor::from_shape(shape, v),
            TensorData::U16(v) => TractTensor::from_shape(shape, v),
            TensorData::I32(v) => TractTensor::from_shape(shape, v),
            TensorData::U32(v) => TractTensor::from_shape(shape, v),
            TensorData::I64(v) => TractTensor::from_shape(shape, v),
            TensorData::U64(v) => TractTensor::from_shape(shape, v),
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
            DatumType::F16 => TensorData::F16(copy::<f16>(t)?.iter().map(|x| x.to_bits()).collect()),
            DatumType::F64 => TensorData::F64(copy(t)?),
            DatumType::I8 => TensorData::I8(copy(t)?),
            DatumType::U8 => TensorData::U8(copy(t)?),
            DatumType::I16 => TensorData::I16(copy(t)?),
            DatumType::U16 => TensorData::U16(copy(t)?),
            DatumType::I32 => TensorData::I32(copy(t)?),
            DatumType::U32 => TensorData::U32(copy(t)?),
            DatumType::I64 => TensorData::I64(copy(t)?),
            DatumType::U64 => TensorData::U64(copy(t)?),
            DatumType::Bool => TensorData::Bool(copy(t)?),
            DatumType::String => TensorData::String(copy(t)?),
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
