//! Progress callbacks: a Python callable called with one dict per report
//! from Rust code running without the GIL.
//!
//! The callback reattaches to the interpreter for each call. When it
//! raises, it is not called again; the exception is kept and re-raised
//! when the operation returns. Operations whose Rust API can be stopped
//! (relocation, exports, imports before their commit) stop at once; the
//! others finish first.

use std::sync::Mutex;

use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::value_to_py;

/// A progress callable, or none, and the first exception it raised.
#[derive(Debug)]
pub(crate) struct Callback {
    func: Option<Py<PyAny>>,
    raised: Mutex<Option<PyErr>>,
}

impl Callback {
    /// Wraps `func`, which may be None (no reports).
    pub(crate) fn new(func: Option<Bound<'_, PyAny>>) -> Callback {
        Callback {
            func: func.filter(|f| !f.is_none()).map(Bound::unbind),
            raised: Mutex::new(None),
        }
    }

    /// Calls the callable with `report` as a dict. Returns false when it
    /// raised, now or before: the operation should stop if it can.
    pub(crate) fn report(&self, report: Value) -> bool {
        let Some(func) = &self.func else {
            return true;
        };
        let mut raised = match self.raised.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if raised.is_some() {
            return false;
        }
        let result = Python::attach(|py| {
            let data = value_to_py(py, &report)?;
            func.call1(py, (data,)).map(drop)
        });
        match result {
            Ok(()) => true,
            Err(err) => {
                *raised = Some(err);
                false
            }
        }
    }

    /// The operation's result, unless the callback raised: then its
    /// exception, which wins over the operation's own error (a stopped
    /// operation fails because the callback asked it to).
    pub(crate) fn finish<T>(self, result: PyResult<T>) -> PyResult<T> {
        let raised = match self.raised.into_inner() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        match raised {
            Some(err) => Err(err),
            None => result,
        }
    }
}
