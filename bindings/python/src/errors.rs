//! The exception classes, one per error class of `apptemplate-interop`, all
//! under `TemplateError` and importable from `apptemplate.exceptions`.
//!
//! Every class has a `code` class attribute (the stable code Node uses as
//! `error.code`); every raised instance has `details` (the error's fields as
//! a dict, with `kind` naming the Rust variant), and `ValidationError`
//! instances have `problems`. Core, market and Kubernetes errors are
//! classified by `apptemplate_interop::Classify`.

use apptemplate_interop::{Classify, ErrorClass, ErrorReport};
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

/// Declares the exception classes under `TemplateError` and the mapping
/// from error classes to them, so the two cannot disagree.
macro_rules! exception_classes {
    ($($class:ident => $name:ident: $doc:literal;)*) => {
        $(create_exception!(apptemplate.exceptions, $name, TemplateError, $doc);)*

        /// The Python class of an error class.
        fn class_type(py: Python<'_>, class: ErrorClass) -> Bound<'_, PyType> {
            match class {
                $(ErrorClass::$class => py.get_type::<$name>(),)*
                _ => py.get_type::<TemplateError>(),
            }
        }
    };
}

exception_classes! {
    Document => DocumentError: "The input is not a readable template document: syntax, shape (wrong type, unknown or missing field, with its path) or size.";
    Validation => ValidationError: "The document breaks template rules; `problems` lists each with its path.";
    InvalidVersion => InvalidVersionError: "A version number is not a semantic version.";
    VersionConflict => VersionConflictError: "The version number cannot be used: already published with other content, released (never overwritten), or not newer than the base.";
    ReleaseState => ReleaseStateError: "The release life cycle does not allow the requested state (or deleting a released version without force).";
    TemplateMismatch => TemplateMismatchError: "Versions of two different templates were combined.";
    Write => WriteError: "Writing a document failed.";
    InvalidArgument => InvalidArgumentError: "An option or argument is not usable: unknown field, module, component, or an impossible export.";
    PackageIntegrity => PackageIntegrityError: "An offline package is damaged, truncated, tampered with or hostile; `details` names the archive entry.";
    Signature => SignatureError: "A package is unsigned, signed by an untrusted key, or its signature does not verify; or a key cannot be read.";
    MissingBase => MissingBaseError: "A differential package needs a base version or blobs this market lacks.";
    NotFound => NotFoundError: "A template, version, image or blob the market does not hold.";
    InsufficientSpace => InsufficientSpaceError: "Not enough free disk space for the operation.";
    Market => MarketError: "The market's files, keys or image sources failed (I/O, damage).";
    Registry => RegistryError: "A registry refused or failed a relocation request.";
    Cancelled => OperationCancelledError: "The operation was stopped (by a progress callback); running it again resumes.";
    Locked => LockedError: "Another operation holds the installation's lock.";
    ReleaseGate => ReleaseGateError: "A production environment refused a version that is not released.";
    Rollout => RolloutError: "Objects were applied but a workload did not become ready, or a step failed; the installation is partly changed.";
    Precondition => PreconditionError: "The operation does not fit what is installed.";
    Kubernetes => KubernetesError: "The cluster could not be reached, or its API failed.";
}

/// Adds the exception classes to the module, each with its `code`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for class in ErrorClass::ALL {
        let ty = class_type(py, class);
        ty.setattr("code", class.code())?;
        m.add(class.python_name(), ty)?;
    }
    Ok(())
}

/// A classified error as the exception of its class, with `details` (and
/// `problems` for validation) set on the instance.
pub(crate) fn from_report(report: ErrorReport) -> PyErr {
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

/// Any error of the wrapped crates (core, market, Kubernetes) as the
/// exception of its class.
pub(crate) fn raise<E: Classify>(err: E) -> PyErr {
    from_report(err.report())
}

/// A core error as the exception of its class.
pub(crate) fn core_error(err: template_core::Error) -> PyErr {
    raise(err)
}
