//! Errors of the wrapped crates thrown (or rejected) as JavaScript `Error`s
//! with a stable `code` (see `apptemplate_interop::ErrorClass::code`),
//! `details` (the error's fields, with `kind` naming the Rust variant) and,
//! for validation, `problems`.

use apptemplate_interop::{Classify, ErrorReport};
use napi::JsValue;
use napi::bindgen_prelude::{Env, Error, JsObjectValue, Object, Result, Status};

/// The `Error` to throw for a core error.
pub(crate) fn core_error(env: &Env, err: template_core::Error) -> Error {
    js_error(env, &err.report())
}

/// The `Error` to throw for an error of any wrapped crate.
pub(crate) fn thrown<E: Classify>(env: &Env, err: &E) -> Error {
    js_error(env, &err.report())
}

/// The `Error` for a classified report; built on the JavaScript thread.
pub(crate) fn js_error(env: &Env, report: &ErrorReport) -> Error {
    match error_object(env, report) {
        Ok(object) => Error::from(object.to_unknown()),
        // Could not build the object (the environment is going away): throw
        // at least the message.
        Err(_) => Error::new(Status::GenericFailure, report.message.clone()),
    }
}

fn error_object<'env>(env: &'env Env, report: &ErrorReport) -> Result<Object<'env>> {
    let mut object = env.create_error(Error::new(Status::GenericFailure, &report.message))?;
    object.set_named_property("code", report.class.code())?;
    object.set_named_property("details", &report.details)?;
    if let Some(problems) = &report.problems {
        object.set_named_property("problems", problems)?;
    }
    Ok(object)
}
