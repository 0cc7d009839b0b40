//! Long operations off the JavaScript thread: blocking work (file I/O,
//! compression, hashing) runs as an `AsyncTask` on libuv's thread pool and
//! settles a Promise; progress reaches JavaScript through a threadsafe
//! function called in non-blocking mode, so neither the work nor the
//! callback ever waits for the event loop.

use apptemplate_interop::ErrorReport;
use napi::Task;
use napi::bindgen_prelude::JsValuesTupleIntoVec;
use napi::bindgen_prelude::{Env, Error, Result, Status, ToNapiValue, TypeName, ValueType};
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};

use serde_json::Value;

use crate::errors::js_error;

/// A JavaScript progress callback: called with one report at a time, on the
/// JavaScript thread, while the operation keeps running. What it returns is
/// ignored; an exception it throws surfaces as an uncaught exception and
/// does not stop the operation.
pub type ProgressCallback<T> = ThreadsafeFunction<T, UnknownReturnValue, T, Status, false>;

/// Hands `event` to the callback without waiting for the event loop; a
/// report the queue cannot take is dropped (later ones carry the totals).
pub(crate) fn report<T: 'static + Send + JsValuesTupleIntoVec>(
    callback: Option<&ProgressCallback<T>>,
    event: T,
) {
    if let Some(callback) = callback {
        let _ = callback.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

type Job<T> = Box<dyn FnOnce() -> std::result::Result<T, ErrorReport> + Send>;

/// Blocking work whose result `finish` turns into the Promise's value, and
/// whose error is rejected as a classified `Error`.
pub struct Blocking<T: Send + 'static, V> {
    job: Option<Job<T>>,
    finish: fn(T) -> Result<V>,
}

impl<T: Send + 'static, V> std::fmt::Debug for Blocking<T, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("done", &self.job.is_none())
            .finish()
    }
}

impl<T: Send + 'static, V> Blocking<T, V> {
    /// Work to run on the thread pool.
    pub(crate) fn new(
        job: impl FnOnce() -> std::result::Result<T, ErrorReport> + Send + 'static,
        finish: fn(T) -> Result<V>,
    ) -> Self {
        Blocking {
            job: Some(Box::new(job)),
            finish,
        }
    }
}

impl<T: Send + serde::Serialize + 'static> Blocking<T, Data> {
    /// Work to run on the thread pool whose result the Promise resolves to
    /// as plain data: its Rust JSON.
    pub(crate) fn data(
        job: impl FnOnce() -> std::result::Result<T, ErrorReport> + Send + 'static,
    ) -> Self {
        Blocking::new(job, |value| crate::data::convert(&value).map(Data))
    }
}

/// Plain data (a value's Rust JSON) that a Promise resolves to.
#[derive(Debug)]
pub struct Data(pub Value);

impl TypeName for Data {
    fn type_name() -> &'static str {
        "Object"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Data {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        // SAFETY: the caller's guarantees about `env` are passed on as they are.
        unsafe { Value::to_napi_value(env, val.0) }
    }
}

impl<T: Send + 'static, V: ToNapiValue + TypeName> Task for Blocking<T, V> {
    type Output = std::result::Result<T, ErrorReport>;
    type JsValue = V;

    fn compute(&mut self) -> Result<Self::Output> {
        let job = self
            .job
            .take()
            .ok_or_else(|| Error::new(Status::GenericFailure, "the operation already ran"))?;
        Ok(job())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<V> {
        match output {
            Ok(value) => (self.finish)(value),
            Err(report) => Err(js_error(&env, &report)),
        }
    }
}
