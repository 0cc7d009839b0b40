//! The `apptemplate._apptemplate` extension module behind the Python package
//! `apptemplate`.
//!
//! Thin by design: each function converts its arguments, calls
//! `template-core`, `template-market` or `template-k8s`, and converts the
//! result back. Values cross as plain Python data with the content of the
//! Rust JSON (`convert`); errors become one exception class per kind
//! (`errors`). Modules: `document` (the `Template` class), `versions`,
//! `publish`, `plans` (diffs, plans, records, states), `market` (the
//! `Market` class and keys), `delivery` (the `Delivery` class, on one
//! shared tokio runtime); `options` reads option dicts, `progress` runs
//! progress callables.

use pyo3::prelude::*;

mod convert;
mod delivery;
mod document;
mod errors;
mod market;
mod options;
mod plans;
mod progress;
mod publish;
mod registry_market;
mod versions;

#[pymodule]
fn _apptemplate(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    document::register(m)?;
    versions::register(m)?;
    publish::register(m)?;
    plans::register(m)?;
    market::register(m)?;
    registry_market::register(m)?;
    delivery::register(m)?;
    Ok(())
}
