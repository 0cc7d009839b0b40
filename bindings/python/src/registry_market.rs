//! `RegistryMarket`: the market on an OCI registry
//! (`oci://host[:port]/namespace`) of `template-market`.
//!
//! Every method asks the registry, so every one runs without the GIL.
//! Options, registries, progress and errors cross as for `Market`.

use std::ops::ControlFlow;
use std::time::SystemTime;

use apptemplate_interop::parse_release_state;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use template_core::Overwrite;
use template_market::{
    PullOptions, PullProgress, RegistryMarket as RustRegistryMarket, RelocateOptions,
    RelocateProgress, SecretKey,
};

use crate::convert::data_to_py;
use crate::document::Template;
use crate::errors::{core_error, raise};
use crate::market::{Market, progress_data, registry_access};
use crate::options::kwargs_options;
use crate::plans::read;
use crate::progress::Callback;

/// A market on an OCI registry, at `oci://host[:port]/namespace`.
#[pyclass(name = "RegistryMarket", module = "apptemplate", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct RegistryMarket {
    inner: RustRegistryMarket,
}

#[pymethods]
impl RegistryMarket {
    /// The market at `location` (`oci://host[:port]/namespace`), reached
    /// with the entry of `registries` for its registry (`host[:port]` or
    /// `RegistryAccess` dicts, as for `Market.relocate_version`), else over
    /// HTTPS with the default `auth.json`. Nothing is asked of the
    /// registry until an operation runs.
    #[new]
    #[pyo3(signature = (location, registries = None))]
    fn new(location: &str, registries: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<Self> {
        let accesses = registries
            .unwrap_or_default()
            .iter()
            .map(registry_access)
            .collect::<PyResult<Vec<_>>>()?;
        RustRegistryMarket::open(location, &accesses)
            .map(|inner| RegistryMarket { inner })
            .map_err(raise)
    }

    /// The market's location, `oci://host[:port]/namespace`.
    #[getter]
    fn location(&self) -> &str {
        self.inner.location()
    }

    /// Publishes `template` `version` of the local `market` here: its
    /// images, then its artifact. The keyword options are the Rust
    /// `RelocateOptions`; `overwrite` allows replacing unreleased content
    /// under the same number. `progress` gets the relocation's reports; an
    /// exception it raises stops the publication (a rerun resumes) and is
    /// re-raised. Returns `{outcome, reference, artifact, transfer}`.
    #[pyo3(signature = (market, template, version, *, overwrite = false, progress = None, **options))]
    #[allow(clippy::too_many_arguments)]
    fn publish_from<'py>(
        &self,
        py: Python<'py>,
        market: PyRef<'py, Market>,
        template: &str,
        version: &str,
        overwrite: bool,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: RelocateOptions = kwargs_options(options)?;
        let overwrite = if overwrite {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        let local = market.inner.clone();
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &RelocateProgress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            self.inner
                .publish_from(&local, template, version, overwrite, &options, &mut report)
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// The versions of `template`, oldest first, as
    /// `{template, version, state, content_digest}`.
    fn versions<'py>(&self, py: Python<'py>, template: &str) -> PyResult<Bound<'py, PyAny>> {
        let versions = py.detach(|| self.inner.versions(template)).map_err(raise)?;
        data_to_py(py, &versions)
    }

    /// Every template with its versions.
    fn templates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let templates = py.detach(|| self.inner.templates()).map_err(raise)?;
        data_to_py(py, &templates)
    }

    /// One version's document, with its current release state.
    fn version(&self, py: Python<'_>, template: &str, version: &str) -> PyResult<Template> {
        py.detach(|| self.inner.version(template, version))
            .map(Template::from)
            .map_err(raise)
    }

    /// The release transitions of a version, in chain order.
    fn transitions<'py>(
        &self,
        py: Python<'py>,
        template: &str,
        version: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let transitions = py
            .detach(|| self.inner.transitions(template, version))
            .map_err(raise)?;
        data_to_py(py, &transitions)
    }

    /// Moves a version to another release state, as the life cycle
    /// allows, by writing a transition (signed with `signing_key`, secret
    /// key file text, when given) dated now. Returns the transition, or
    /// None when the version is in `state` already.
    #[pyo3(signature = (template, version, state, *, signing_key = None))]
    fn set_release_state<'py>(
        &self,
        py: Python<'py>,
        template: &str,
        version: &str,
        state: &str,
        signing_key: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let state = parse_release_state(state).map_err(core_error)?;
        let key = signing_key
            .filter(|k| !k.is_none())
            .map(read::<SecretKey>)
            .transpose()?;
        let transition = py
            .detach(|| {
                self.inner.set_release_state(
                    template,
                    version,
                    state,
                    key.as_ref(),
                    SystemTime::now(),
                )
            })
            .map_err(raise)?;
        data_to_py(py, &transition)
    }

    /// Pulls a version and its images from here into the local `market`,
    /// with its current release state. The keyword options are the Rust
    /// `PullOptions`. `progress` gets the pull's reports; an exception it
    /// raises stops the fetch (a rerun resumes) and is re-raised. Returns
    /// `{outcome, pull}`.
    #[pyo3(signature = (market, template, version, *, progress = None, **options))]
    fn fetch_into<'py>(
        &self,
        py: Python<'py>,
        market: PyRef<'py, Market>,
        template: &str,
        version: &str,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: PullOptions = kwargs_options(options)?;
        let local = market.inner.clone();
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &PullProgress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            self.inner
                .fetch_into(&local, template, version, &options, &mut report)
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    fn __repr__(&self) -> String {
        format!("<RegistryMarket {}>", self.inner.location())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RegistryMarket>()
}
