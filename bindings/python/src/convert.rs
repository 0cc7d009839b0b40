//! Plain Python data (dict, list, str, int, float, bool, None) to and from
//! `serde_json::Value`, the form `apptemplate-interop` works in.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted, as serde_json's own limit; also what stops a
/// dict that contains itself.
const MAX_DEPTH: usize = 128;

/// Python data to a JSON value. Dict keys must be strings; tuples read as
/// lists; paths (`os.PathLike`) as their string.
pub(crate) fn value_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    value_from_py_at(obj, 0)
}

fn value_from_py_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "data is nested deeper than {MAX_DEPTH} levels (or contains itself)"
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is a subclass of int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(PyValueError::new_err(format!(
            "integer {obj} does not fit in 64 bits"
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{obj} is not a finite number")));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, item) in dict.iter() {
            let key = key.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("dict keys must be str, not {}", type_name(&key)))
            })?;
            map.insert(
                key.to_cow()?.into_owned(),
                value_from_py_at(&item, depth + 1)?,
            );
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|item| value_from_py_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple
            .iter()
            .map(|item| value_from_py_at(&item, depth + 1))
            .collect::<PyResult<_>>()
            .map(Value::Array);
    }
    // Paths (`os.PathLike`, e.g. `pathlib.Path`) read as their string,
    // since options such as `kubeconfig` or `auth_file` are paths.
    if obj.hasattr("__fspath__")? {
        let path = obj.call_method0("__fspath__")?;
        if let Ok(s) = path.cast::<PyString>() {
            return Ok(Value::String(s.to_cow()?.into_owned()));
        }
    }
    Err(PyTypeError::new_err(format!(
        "{} is not plain data; use dict, list, str, int, float, bool, None or a path",
        type_name(obj)
    )))
}

/// A JSON value as Python data: objects become dicts, arrays lists.
pub(crate) fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A core value as Python data, through its Rust JSON.
pub(crate) fn data_to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let data = apptemplate_interop::to_data(value)
        .map_err(|e| PyValueError::new_err(format!("value has no JSON form: {e}")))?;
    value_to_py(py, &data)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}
