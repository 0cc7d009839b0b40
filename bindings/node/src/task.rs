//! Long operations off the JavaScript thread: blocking work (file I/O,
//! compression, hashing) runs as an `AsyncTask` on libuv's thread pool and
//! settles a Promise; progress reaches JavaScript through a threadsafe
//! function called in non-blocking mode, so neither the work nor the
//! callback ever waits for the event loop. An `AbortSignal` passed to an
//! operation raises its `Abort` flag, which the work checks at its safe
//! points.

use std::sync::Arc;

use apptemplate_interop::{Classify, ErrorReport};
use napi::Task;
use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::JsValuesTupleIntoVec;
use napi::bindgen_prelude::{Env, Error, Result, Status, ToNapiValue, TypeName, ValueType};
use napi::bindgen_prelude::{FnArgs, Function, Object};
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};

use serde_json::Value;
use template_k8s::StopSignal;

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

/// `EventTarget.addEventListener(type, listener, options)`.
type AddEventListener<'env> =
    Function<'env, FnArgs<(&'static str, Function<'env, (), ()>, Object<'env>)>, ()>;

/// One operation's stop signal, raised by the `AbortSignal` the caller
/// passed (if any). Market work checks it before it starts and at every
/// progress report; deliveries hand it to the executor, which stops
/// between waves; reads race it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Abort {
    stop: StopSignal,
    notify: Arc<tokio::sync::Notify>,
}

impl Abort {
    /// The signal of `signal`: raised already when it is aborted, else when
    /// it fires its `abort` event. A value that is not an `AbortSignal`
    /// (no `aborted`, no `addEventListener`) is an argument error.
    pub(crate) fn watch(env: &Env, signal: Option<Object<'_>>) -> Result<Abort> {
        Abort::watch_under(env, signal, &StopSignal::new())
    }

    /// As [`Abort::watch`], for an operation that `parent` stops too (a
    /// delivery's `stop()`).
    pub(crate) fn watch_under(
        env: &Env,
        signal: Option<Object<'_>>,
        parent: &StopSignal,
    ) -> Result<Abort> {
        let abort = Abort {
            stop: parent.linked(),
            notify: Arc::default(),
        };
        let Some(signal) = signal else {
            return Ok(abort);
        };
        let not_a_signal = |_| {
            Error::new(
                Status::InvalidArg,
                "signal: expected an AbortSignal (e.g. AbortController's `signal`)",
            )
        };
        let aborted: bool = signal.get_named_property("aborted").map_err(not_a_signal)?;
        if aborted {
            abort.raise();
            return Ok(abort);
        }
        let add: AddEventListener<'_> = signal
            .get_named_property("addEventListener")
            .map_err(not_a_signal)?;
        let raised = abort.clone();
        let listener = env.create_function_from_closure("onAbort", move |_| {
            raised.raise();
            Ok(())
        })?;
        let mut once = Object::new(env)?;
        once.set_named_property("once", true)?;
        add.apply(signal, ("abort", listener, once).into())?;
        Ok(abort)
    }

    fn raise(&self) {
        self.stop.stop();
        self.notify.notify_waiters();
    }

    /// The signal to hand to an executor or delivery.
    pub(crate) fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// `CANCELLED` for `what` when the signal fired, before work starts.
    pub(crate) fn check(&self, what: &str) -> std::result::Result<(), ErrorReport> {
        if self.stop.is_stopped() {
            Err(cancelled(what))
        } else {
            Ok(())
        }
    }

    /// Whether a running operation goes on (checked at each progress
    /// report).
    pub(crate) fn flow(&self) -> std::ops::ControlFlow<()> {
        if self.stop.is_stopped() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }

    /// Runs a read that changes nothing: it is dropped when the signal
    /// fires, and the Promise rejects with `CANCELLED` at once. (A delivery's
    /// `stop()` raises no event, so it reaches a read only before it starts.)
    pub(crate) async fn race<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = std::result::Result<T, ErrorReport>>,
    ) -> std::result::Result<T, ErrorReport> {
        self.check(what)?;
        tokio::select! {
            out = work => out,
            () = self.fired() => Err(cancelled(what)),
        }
    }

    async fn fired(&self) {
        loop {
            let notified = self.notify.notified();
            if self.stop.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// The market's `CANCELLED` error for `what`.
fn cancelled(what: &str) -> ErrorReport {
    template_market::MarketError::Cancelled {
        what: what.to_owned(),
    }
    .report()
}
