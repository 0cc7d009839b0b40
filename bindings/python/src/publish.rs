//! Publishing rules and incremental publishing.

use apptemplate_interop::from_data;
use pyo3::prelude::*;
use template_core::{IncrementalChange, Overwrite};

use crate::convert::{data_to_py, value_from_py};
use crate::document::Template;
use crate::errors::core_error;

/// Whether `candidate` may be published where the market holds `existing`
/// (None when the number is new). Returns the outcome as a dict
/// (`{"outcome": "created" | "unchanged" | "replaced", "digest": ..., ...}`).
#[pyfunction]
#[pyo3(signature = (existing, candidate, *, overwrite = false))]
fn check_publish<'py>(
    py: Python<'py>,
    existing: Option<PyRef<'py, Template>>,
    candidate: PyRef<'py, Template>,
    overwrite: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let overwrite = if overwrite {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let outcome = template_core::check_publish(
        existing.as_deref().map(|t| t.inner.version()),
        &candidate.inner,
        overwrite,
    )
    .map_err(core_error)?;
    data_to_py(py, &outcome)
}

/// A new version from `base` and `change` (a dict shaped like the Rust
/// `IncrementalChange`: `version`, and optionally `alias`, `release_notes`,
/// `created_at`, `components`, `plugins`, `modules`). Returns the new
/// template and a summary dict (`replaced`, `added`, `carried_over`).
#[pyfunction]
fn build_incremental<'py>(
    py: Python<'py>,
    base: PyRef<'py, Template>,
    change: &Bound<'py, PyAny>,
) -> PyResult<(Template, Bound<'py, PyAny>)> {
    let change: IncrementalChange = from_data(value_from_py(change)?).map_err(core_error)?;
    let (next, summary) =
        template_core::build_incremental(&base.inner, change).map_err(core_error)?;
    Ok((Template::from(next), data_to_py(py, &summary)?))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_publish, m)?)?;
    m.add_function(wrap_pyfunction!(build_incremental, m)?)
}
