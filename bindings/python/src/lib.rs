//! The `apptemplate._apptemplate` extension module behind the Python package
//! `apptemplate`.
//!
//! Thin by design: each function converts its arguments, calls
//! `template-core`, and converts the result back. Values cross as plain
//! Python data with the content of the Rust JSON (`convert`); core errors
//! become one exception class per kind (`errors`). The modules follow the
//! core's: `document` (the `Template` class), `versions`, `publish`.
//! A new core module gets a file here with its own `register`.

use pyo3::prelude::*;

mod convert;
mod document;
mod errors;
mod publish;
mod versions;

#[pymodule]
fn _apptemplate(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    document::register(m)?;
    versions::register(m)?;
    publish::register(m)?;
    Ok(())
}
