//! Version order: upgrade candidates.

use pyo3::prelude::*;
use template_core::CandidateFilter;

use crate::document::Template;
use crate::errors::core_error;

/// The versions in `available` of the same template as `installed` and
/// newer than it, oldest first; only released ones if `released_only`.
#[pyfunction]
#[pyo3(signature = (installed, available, *, released_only = false))]
fn upgrade_candidates(
    installed: PyRef<'_, Template>,
    available: Vec<PyRef<'_, Template>>,
    released_only: bool,
) -> PyResult<Vec<Template>> {
    let candidates = template_core::upgrade_candidates(
        &installed.inner,
        available.iter().map(|t| t.inner.version()),
        CandidateFilter { released_only },
    )
    .map_err(core_error)?;
    Ok(candidates
        .into_iter()
        .cloned()
        .map(Template::from)
        .collect())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(upgrade_candidates, m)?)
}
