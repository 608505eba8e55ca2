//! Tensors across the boundary: JS feeds (`{ data, dims, type? }`, the shape of an
//! onnxruntime-web `Tensor`) into engine tensors, and engine outputs into plain JS objects.

use js_sys::{
    Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array, Int16Array, Int32Array, Int8Array, Object, Reflect,
    Uint16Array, Uint32Array, Uint8Array,
};
use wasm_bindgen::prelude::*;

use crate::engine::{DType, Dim, Tensor, TensorData, TensorInfo};

const TYPED_ARRAYS: &str = "Float32Array, Float64Array, Float16Array, Int8Array, Uint8Array, Int16Array, Uint16Array, \
                            Int32Array, Uint32Array, BigInt64Array, BigUint64Array, or an Array of strings";

/// Dims from a JS array of non-negative integers.
pub fn dims_from_js(value: &JsValue) -> Option<Vec<usize>> {
    let array: &Array = value.dyn_ref()?;
    array
        .iter()
        .map(|d| d.as_f64().filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= u32::MAX as f64).map(|v| v as usize))
        .collect()
}

/// `object[key]`, or `undefined` when it cannot be read.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `{ name: { data, dims, type? }, ... }` into named engine tensors.
pub fn feeds_from_js(feeds: &JsValue) -> Result<Vec<(String, Tensor)>, String> {
    let object: &Object = feeds
        .dyn_ref()
        .filter(|_| !feeds.is_null() && !Array::is_array(feeds))
        .ok_or("feeds must be an object mapping input names to tensors, e.g. { input: { data, dims } }")?;
    Object::entries(object)
        .iter()
        .map(|entry| {
            let pair: Array = entry.unchecked_into();
            let name = pair.get(0).as_string().unwrap_or_default();
            let tensor = tensor_from_js(&name, &pair.get(1))?;
            Ok((name, tensor))
        })
        .collect()
}

fn tensor_from_js(name: &str, value: &JsValue) -> Result<Tensor, String> {
    if !value.is_object() {
        return Err(format!("feed `{name}` must be an object {{ data, dims, type? }}"));
    }
    let data = get(value, "data");
    let declared = get(value, "type");
    let type_name = declared.as_string();
    if !declared.is_undefined() && type_name.is_none() {
        return Err(format!("feed `{name}`: type must be a string such as 'float32'"));
    }
    let wanted = match &type_name {
        Some(t) => Some(DType::from_name(t).ok_or_else(|| {
            format!("feed `{name}`: unknown type '{t}'; use one of {}", DType::ALL.map(|d| d.name()).join(", "))
        })?),
        None => None,
    };
    let data = typed_data(&data, wanted).ok_or_else(|| {
        let kind = if data.is_undefined() { "nothing".to_string() } else { describe_kind(&data) };
        match (&type_name, wanted) {
            (Some(t), Some(w)) if kind != "nothing" => format!(
                "feed `{name}`: type '{t}' does not match its data ({kind}); use {}",
                array_for(w)
            ),
            _ => format!("feed `{name}`: data must be a {TYPED_ARRAYS}, got {kind}"),
        }
    })?;
    let dims_value = get(value, "dims");
    let dims = if dims_value.is_undefined() {
        vec![data.len()]
    } else {
        dims_from_js(&dims_value)
            .ok_or_else(|| format!("feed `{name}`: dims must be an array of non-negative integers, e.g. [1, 3, 224, 224]"))?
    };
    Ok(Tensor::new(dims, data))
}

/// The engine data of a JS typed array. `wanted` settles what the array alone leaves open:
/// a Uint8Array is uint8 or bool, a Uint16Array is uint16 or float16 (bit patterns), as in
/// onnxruntime-web. `None` when the array does not fit the type.
fn typed_data(data: &JsValue, wanted: Option<DType>) -> Option<TensorData> {
    let found = if let Some(a) = data.dyn_ref::<Float32Array>() {
        TensorData::F32(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Float64Array>() {
        TensorData::F64(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Int8Array>() {
        TensorData::I8(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Uint8Array>() {
        TensorData::U8(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Int16Array>() {
        TensorData::I16(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Uint16Array>() {
        TensorData::U16(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Int32Array>() {
        TensorData::I32(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<Uint32Array>() {
        TensorData::U32(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<BigInt64Array>() {
        TensorData::I64(a.to_vec())
    } else if let Some(a) = data.dyn_ref::<BigUint64Array>() {
        TensorData::U64(a.to_vec())
    } else if describe_kind(data) == "Float16Array" {
        // Float16Array (Chrome 135+, Firefox 129+) has no js-sys binding yet: read its bits.
        let view = Uint16Array::new_with_byte_offset_and_length(
            &get(data, "buffer"),
            get(data, "byteOffset").as_f64()? as u32,
            get(data, "length").as_f64()? as u32,
        );
        TensorData::F16(view.to_vec())
    } else if Array::is_array(data) && wanted == Some(DType::String) {
        TensorData::String(data.unchecked_ref::<Array>().iter().map(|s| s.as_string()).collect::<Option<_>>()?)
    } else {
        return None;
    };
    Some(match (wanted, found) {
        (None, found) => found,
        (Some(DType::Bool), TensorData::U8(bytes)) => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        (Some(DType::F16), TensorData::U16(bits)) => TensorData::F16(bits),
        (Some(w), found) if w == found.dtype() => found,
        _ => return None,
    })
}

/// The JS array a type travels in.
fn array_for(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "a Float32Array",
        DType::F16 => "a Uint16Array of half-precision bit patterns, or a Float16Array",
        DType::F64 => "a Float64Array",
        DType::I8 => "an Int8Array",
        DType::U8 | DType::Bool => "a Uint8Array",
        DType::I16 => "an Int16Array",
        DType::U16 => "a Uint16Array",
        DType::I32 => "an Int32Array",
        DType::U32 => "a Uint32Array",
        DType::I64 => "a BigInt64Array",
        DType::U64 => "a BigUint64Array",
        DType::String => "an Array of strings",
    }
}

fn describe_kind(value: &JsValue) -> String {
    if Array::is_array(value) {
        return "a plain Array (wrap it, e.g. new Float32Array([...]))".into();
    }
    Object::try_from(value)
        .map(|o| String::from(o.constructor().name()))
        .unwrap_or_else(|| value.js_typeof().as_string().unwrap_or_default())
}

/// Named outputs as `{ name: { type, dims, data } }`.
pub fn outputs_to_js(outputs: Vec<(String, Tensor)>) -> Object {
    let result = Object::new();
    for (name, tensor) in outputs {
        let data: JsValue = match &tensor.data {
            TensorData::F32(v) => Float32Array::from(&v[..]).into(),
            // As onnxruntime-web returns float16: bit patterns in a Uint16Array.
            TensorData::F16(v) => Uint16Array::from(&v[..]).into(),
            TensorData::F64(v) => Float64Array::from(&v[..]).into(),
            TensorData::I8(v) => Int8Array::from(&v[..]).into(),
            TensorData::U8(v) => Uint8Array::from(&v[..]).into(),
            TensorData::I16(v) => Int16Array::from(&v[..]).into(),
            TensorData::U16(v) => Uint16Array::from(&v[..]).into(),
            TensorData::I32(v) => Int32Array::from(&v[..]).into(),
            TensorData::U32(v) => Uint32Array::from(&v[..]).into(),
            TensorData::I64(v) => BigInt64Array::from(&v[..]).into(),
            TensorData::U64(v) => BigUint64Array::from(&v[..]).into(),
            TensorData::String(v) => v.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into(),
            TensorData::Bool(v) => Uint8Array::from(&v.iter().map(|&b| b as u8).collect::<Vec<_>>()[..]).into(),
        };
        let out = Object::new();
        set(&out, "type", &tensor.dtype().name().into());
        set(&out, "dims", &tensor.dims.iter().map(|&d| JsValue::from_f64(d as f64)).collect::<Array>());
        set(&out, "data", &data);
        set(&result, &name, &out);
    }
    result
}

/// Model inputs/outputs as `[{ name, type, dims }]`, dims as numbers, names or null.
pub fn infos_to_js(infos: &[TensorInfo]) -> Array {
    infos
        .iter()
        .map(|info| {
            let o = Object::new();
            set(&o, "name", &info.name.as_str().into());
            set(&o, "type", &info.dtype.as_deref().map_or(JsValue::NULL, JsValue::from_str));
            let dims = info.dims.as_ref().map_or(JsValue::NULL, |dims| {
                dims.iter()
                    .map(|d| match d {
                        Dim::Fixed(v) => JsValue::from_f64(*v as f64),
                        Dim::Symbol(s) => JsValue::from_str(s),
                        Dim::Unknown => JsValue::NULL,
                    })
                    .collect::<Array>()
                    .into()
            });
            set(&o, "dims", &dims);
            JsValue::from(o)
        })
        .collect()
}

pub fn set(object: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), value);
}
