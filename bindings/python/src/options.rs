//! Option dicts and keyword arguments (install, upgrade, rollback, export,
//! import, relocation, delivery options) read into the Rust
//! option types with `apptemplate_interop::options_from_data`: a misspelt
//! field raises `InvalidArgumentError` naming it, a wrong type
//! `DocumentError` with its path.

use apptemplate_interop::options_from_data;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;

use crate::convert::value_from_py;
use crate::errors::core_error;

/// Reads `obj` (a dict, or None for the defaults) as a `T`.
pub(crate) fn options_from_py<T>(obj: Option<&Bound<'_, PyAny>>, argument: &str) -> PyResult<T>
where
    T: DeserializeOwned + Default,
{
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(T::default());
    };
    options_from_data(value_from_py(obj)?, argument).map_err(core_error)
}

/// Reads keyword arguments (`**options`) as a `T`: a misspelt keyword
/// raises `InvalidArgumentError` naming it.
pub(crate) fn kwargs_options<T>(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<T>
where
    T: DeserializeOwned + Default,
{
    match kwargs {
        Some(dict) => options_from_data(value_from_py(dict.as_any())?, "").map_err(core_error),
        None => Ok(T::default()),
    }
}
