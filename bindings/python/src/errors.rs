//! The exception classes, one per error class of `apptemplate-interop`, all
//! under `TemplateError` and importable from `apptemplate.exceptions`.
//!
//! Every class has a `code` class attribute (the stable code Node uses as
//! `error.code`); every raised instance has `details` (the error's fields as
//! a dict, with `kind` naming the core variant), and `ValidationError`
//! instances have `problems`.

use apptemplate_interop::{ErrorClass, error_report};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::convert::value_to_py;

create_exception!(
    apptemplate.exceptions,
    TemplateError,
    PyException,
    "Base class of every error apptemplate raises."
);
create_exception!(
    apptemplate.exceptions,
    DocumentError,
    TemplateError,
    "The input is not a readable template document: syntax, shape (wrong type, unknown or missing field, with its path) or size."
);
create_exception!(
    apptemplate.exceptions,
    ValidationError,
    TemplateError,
    "The document breaks template rules; `problems` lists each with its path."
);
create_exception!(
    apptemplate.exceptions,
    InvalidVersionError,
    TemplateError,
    "A version number is not a semantic version."
);
create_exception!(
    apptemplate.exceptions,
    VersionConflictError,
    TemplateError,
    "The version number cannot be used: already published with other content, released (never overwritten), or not newer than the base."
);
create_exception!(
    apptemplate.exceptions,
    ReleaseStateError,
    TemplateError,
    "The release life cycle does not allow the requested state."
);
create_exception!(
    apptemplate.exceptions,
    TemplateMismatchError,
    TemplateError,
    "Versions of two different templates were combined."
);
create_exception!(
    apptemplate.exceptions,
    WriteError,
    TemplateError,
    "Writing a document failed."
);

/// The Python class of an error class.
fn class_type(py: Python<'_>, class: ErrorClass) -> Bound<'_, PyType> {
    match class {
        ErrorClass::Document => py.get_type::<DocumentError>(),
        ErrorClass::Validation => py.get_type::<ValidationError>(),
        ErrorClass::InvalidVersion => py.get_type::<InvalidVersionError>(),
        ErrorClass::VersionConflict => py.get_type::<VersionConflictError>(),
        ErrorClass::ReleaseState => py.get_type::<ReleaseStateError>(),
        ErrorClass::TemplateMismatch => py.get_type::<TemplateMismatchError>(),
        ErrorClass::Write => py.get_type::<WriteError>(),
        _ => py.get_type::<TemplateError>(),
    }
}

/// Adds the exception classes to the module, each with its `code`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for class in ErrorClass::ALL {
        let ty = class_type(py, class);
        ty.setattr("code", class.code())?;
        m.add(ty.name()?, ty)?;
    }
    Ok(())
}

/// A core error as the exception of its class, with `details` (and
/// `problems` for validation) set on the instance.
pub(crate) fn core_error(err: template_core::Error) -> PyErr {
    let report = error_report(&err);
    Python::attach(|py| {
        let exc = PyErr::from_type(class_type(py, report.class), report.message);
        let value = exc.value(py);
        let attached = value_to_py(py, &report.details)
            .and_then(|details| value.setattr("details", details))
            .and_then(|()| match &report.problems {
                Some(problems) => value.setattr("problems", value_to_py(py, problems)?),
                None => Ok(()),
            });
        match attached {
            Ok(()) => exc,
            Err(e) => e,
        }
    })
}
