//! Tensors across the boundary: JS feeds (`{ data, dims, type? }`, the shape of an
//! onnxruntime-web `Tensor`) into engine tensors, and engine outputs into plain JS objects.

use js_sys::{Array, BigInt64Array, Float32Array, Int32Array, Int8Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::engine::{DType, Dim, Tensor, TensorData, TensorInfo};

const TYPED_ARRAYS: &str = "Float32Array, Int8Array, Uint8Array, Int32Array or BigInt64Array";

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
    let (mut found, data) = if let Some(a) = data.dyn_ref::<Float32Array>() {
        (DType::F32, TensorData::F32(a.to_vec()))
    } else if let Some(a) = data.dyn_ref::<Int8Array>() {
        (DType::I8, TensorData::I8(a.to_vec()))
    } else if let Some(a) = data.dyn_ref::<Uint8Array>() {
        (DType::U8, TensorData::U8(a.to_vec()))
    } else if let Some(a) = data.dyn_ref::<Int32Array>() {
        (DType::I32, TensorData::I32(a.to_vec()))
    } else if let Some(a) = data.dyn_ref::<BigInt64Array>() {
        (DType::I64, TensorData::I64(a.to_vec()))
    } else {
        let kind = if data.is_undefined() { "nothing".to_string() } else { describe_kind(&data) };
        return Err(format!("feed `{name}`: data must be a {TYPED_ARRAYS}, got {kind}"));
    };
    let mut data = data;
    let declared = get(value, "type");
    if !declared.is_undefined() {
        let type_name = declared.as_string().unwrap_or_default();
        let wanted = DType::from_name(&type_name).ok_or_else(|| {
            format!("feed `{name}`: unknown type '{type_name}'; use one of {}", DType::ALL.map(|d| d.name()).join(", "))
        })?;
        // bool travels as Uint8Array, as in onnxruntime-web.
        if let (DType::Bool, TensorData::U8(bytes)) = (wanted, &data) {
            data = TensorData::Bool(bytes.iter().map(|&b| b != 0).collect());
            found = DType::Bool;
        }
        if wanted != found {
            return Err(format!(
                "feed `{name}`: type '{type_name}' does not match its data ({}); use a typed array of that type",
                describe_kind(&get(value, "data"))
            ));
        }
    }
    let dims_value = get(value, "dims");
    let dims = if dims_value.is_undefined() {
        vec![data.len()]
    } else {
        dims_from_js(&dims_value)
            .ok_or_else(|| format!("feed `{name}`: dims must be an array of non-negative integers, e.g. [1, 3, 224, 224]"))?
    };
    Ok(Tensor::new(dims, data))
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
            TensorData::I8(v) => Int8Array::from(&v[..]).into(),
            TensorData::U8(v) => Uint8Array::from(&v[..]).into(),
            TensorData::I32(v) => Int32Array::from(&v[..]).into(),
            TensorData::I64(v) => BigInt64Array::from(&v[..]).into(),
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
