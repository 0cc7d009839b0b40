//! `Delivery`: versions of a market installed, upgraded and rolled back on
//! Kubernetes environments (`template_delivery::Delivery`).
//!
//! Every call runs on one tokio runtime shared by the whole module (built
//! on first use), with the GIL released; progress events (the Rust
//! `DeliveryEvent`, tagged by `phase`) reach the `progress` callable as
//! dicts. Environments are profile dicts shaped like the Rust
//! `EnvironmentProfile` (`name`, `namespace`, and optionally `context`,
//! `registry`, `released_only`, `env_overrides`, `storage_class`).

use std::path::PathBuf;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;
use template_core::{InstallOptions, RollbackOptions, UpgradeOptions};
use template_delivery::{
    Delivery as RustDelivery, DeliveryEvent, DeliveryOptions, EnvironmentOutcome,
};
use template_k8s::{EnvironmentProfile, StopSignal};
use tokio::runtime::Runtime;

use crate::convert::{data_to_py, value_to_py};
use crate::errors::raise;
use crate::market::Market;
use crate::options::{kwargs_options, options_from_py};
use crate::plans::read;
use crate::progress::Callback;

/// The module's one runtime; its threads serve every `Delivery`.
fn runtime() -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("apptemplate")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))
}

/// Runs `future` on the shared runtime with the GIL released.
fn block_on<F: std::future::Future + Send>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F::Output: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| rt.block_on(future)))
}

fn profile(env: &Bound<'_, PyAny>) -> PyResult<EnvironmentProfile> {
    read(env)
}

/// The outcome of one environment as plain data; its error, when it
/// failed, as `{code, message, details}`.
fn outcome_data(outcome: &EnvironmentOutcome) -> PyResult<Value> {
    apptemplate_interop::outcome_data(outcome)
        .map_err(|e| PyRuntimeError::new_err(format!("outcome has no JSON form: {e}")))
}

/// Delivers versions of a market to Kubernetes environments.
#[pyclass(name = "Delivery", module = "apptemplate", frozen)]
#[derive(Debug)]
pub(crate) struct Delivery {
    inner: RustDelivery,
}

#[pymethods]
impl Delivery {
    /// A delivery from `market`. The keyword options are the Rust
    /// `DeliveryOptions`: `kubeconfig` (default: `$KUBECONFIG`,
    /// `~/.kube/config`; each profile's `context` selects the cluster),
    /// `registries` (`RegistryAccess` dicts for registries profiles name;
    /// others are reached anonymously over HTTPS), `executor` (`identity`
    /// of the lock holder, `wait_timeout_seconds`, `poll_interval_seconds`,
    /// `concurrency` of steps per wave, `lease_duration_seconds`,
    /// `exposure` `"node_port"` or `"load_balancer"`) and `relocate`
    /// (`parallelism`, `chunk_size`, `push_tags`,
    /// `request_timeout_seconds`).
    #[new]
    #[pyo3(signature = (market, **options))]
    fn new(market: PyRef<'_, Market>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options: DeliveryOptions = kwargs_options(options)?;
        let inner = RustDelivery::from_options(market.inner.clone(), &options).map_err(raise)?;
        Ok(Delivery { inner })
    }

    /// The installed state of `template` in `env` (a dict), or None.
    fn state<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let state = block_on(py, self.inner.state(&env, template))?.map_err(raise)?;
        data_to_py(py, &state)
    }

    /// The history of `template` in `env`, oldest first: `{revision, kind,
    /// from_version, to_version, outcome, started_at, finished_at}`.
    fn history<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let history = block_on(py, self.inner.history(&env, template))?.map_err(raise)?;
        data_to_py(py, &history)
    }

    /// Pushes the images of `version` of `template` to `env`'s registry,
    /// skipping what it has (what `install`, `upgrade` and `deliver` do
    /// first). Returns what was pushed, or None when the profile names no
    /// registry.
    #[pyo3(signature = (env, template, version, *, progress = None))]
    fn relocate<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
        version: &str,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let callback = Callback::new(progress);
        let report = |e: &DeliveryEvent| {
            callback.report(serde_json::to_value(e).unwrap_or(Value::Null));
        };
        let result = block_on(py, self.inner.relocate(&env, template, version, &report))?;
        let summary = callback.finish(result.map_err(raise))?;
        data_to_py(py, &summary)
    }

    /// Installs `version` of `template` into `env`: release gate, images
    /// relocated to the profile's registry, then the plan in waves.
    /// `options` is a dict shaped like the Rust `InstallOptions`. Returns
    /// the report `{revision, plan, drift, state}`.
    #[pyo3(signature = (env, template, version, options = None, *, progress = None))]
    fn install<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
        version: &str,
        options: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let options: InstallOptions = options_from_py(options, "options")?;
        let callback = Callback::new(progress);
        // A callback that raises stops the operation at its next safe
        // point (between two waves); the exception is re-raised.
        let stop = StopSignal::new();
        let inner = self.inner.clone().with_stop(stop.clone());
        let report = |e: &DeliveryEvent| {
            if !callback.report(serde_json::to_value(e).unwrap_or(Value::Null)) {
                stop.stop();
            }
        };
        let result = block_on(
            py,
            inner.install(&env, template, version, &options, &report),
        )?;
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Upgrades `template` in `env` from the installed version to `to`,
    /// keeping the user's changes. `options` is a dict shaped like the
    /// Rust `UpgradeOptions`. Returns the report.
    #[pyo3(signature = (env, template, to, options = None, *, progress = None))]
    fn upgrade<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
        to: &str,
        options: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let options: UpgradeOptions = options_from_py(options, "options")?;
        let callback = Callback::new(progress);
        // A callback that raises stops the operation at its next safe
        // point (between two waves); the exception is re-raised.
        let stop = StopSignal::new();
        let inner = self.inner.clone().with_stop(stop.clone());
        let report = |e: &DeliveryEvent| {
            if !callback.report(serde_json::to_value(e).unwrap_or(Value::Null)) {
                stop.stop();
            }
        };
        let result = block_on(py, inner.upgrade(&env, template, to, &options, &report))?;
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Reconfigures `template` in `env` at its installed version: modules
    /// on or off, pruning, override values, as `options` (shaped like the
    /// Rust `UpgradeOptions`) says. Recorded as a revision; when nothing
    /// changes the report says `unchanged` and nothing is recorded.
    #[pyo3(signature = (env, template, options = None, *, progress = None))]
    fn reconfigure<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
        options: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let options: UpgradeOptions = options_from_py(options, "options")?;
        let callback = Callback::new(progress);
        // A callback that raises stops the operation at its next safe
        // point (between two waves); the exception is re-raised.
        let stop = StopSignal::new();
        let inner = self.inner.clone().with_stop(stop.clone());
        let report = |e: &DeliveryEvent| {
            if !callback.report(serde_json::to_value(e).unwrap_or(Value::Null)) {
                stop.stop();
            }
        };
        let result = block_on(py, inner.reconfigure(&env, template, &options, &report))?;
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Returns `template` in `env` to the state before revision `revision`
    /// of its history. `options` is a dict shaped like the Rust
    /// `RollbackOptions`. Returns the report.
    #[pyo3(signature = (env, template, revision, options = None, *, progress = None))]
    fn rollback<'py>(
        &self,
        py: Python<'py>,
        env: &Bound<'py, PyAny>,
        template: &str,
        revision: u32,
        options: Option<&Bound<'py, PyAny>>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let env = profile(env)?;
        let options: RollbackOptions = options_from_py(options, "options")?;
        let callback = Callback::new(progress);
        // A callback that raises stops the operation at its next safe
        // point (between two waves); the exception is re-raised.
        let stop = StopSignal::new();
        let inner = self.inner.clone().with_stop(stop.clone());
        let report = |e: &DeliveryEvent| {
            if !callback.report(serde_json::to_value(e).unwrap_or(Value::Null)) {
                stop.stop();
            }
        };
        let result = block_on(
            py,
            inner.rollback(&env, template, revision, &options, &report),
        )?;
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Takes `version` to every environment of `envs`: every release gate
    /// first (nothing is touched if one refuses), images relocated once per
    /// registry, then install, upgrade or nothing per environment. Returns
    /// one outcome dict per environment (`environment`, `namespace`,
    /// `action`, `from_version`, `to_version`, `relocation`, `report`,
    /// `error` as `{code, message, details}` when it failed).
    #[pyo3(signature = (envs, template, version, *, progress = None))]
    fn deliver<'py>(
        &self,
        py: Python<'py>,
        envs: Vec<Bound<'py, PyAny>>,
        template: &str,
        version: &str,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let envs = envs
            .iter()
            .map(|e| profile(e))
            .collect::<PyResult<Vec<_>>>()?;
        let callback = Callback::new(progress);
        // A callback that raises stops the operation at its next safe
        // point (between two waves); the exception is re-raised.
        let stop = StopSignal::new();
        let inner = self.inner.clone().with_stop(stop.clone());
        let report = |e: &DeliveryEvent| {
            if !callback.report(serde_json::to_value(e).unwrap_or(Value::Null)) {
                stop.stop();
            }
        };
        let result = block_on(py, inner.deliver(&envs, template, version, &report))?;
        let outcomes = callback.finish(result.map_err(raise))?;
        let data = outcomes
            .iter()
            .map(outcome_data)
            .collect::<PyResult<Vec<_>>>()?;
        value_to_py(py, &Value::Array(data))
    }

    fn __repr__(&self) -> String {
        format!("<Delivery from {}>", self.inner.market().root().display())
    }
}

/// Captures the application running in `environment`'s namespace (its
/// workloads narrowed by the label `selector`) as a draft version and the
/// report of every decision (`template_k8s::capture`). Only reads the
/// cluster. `options` is a dict shaped like the Rust `CaptureOptions`.
#[pyfunction]
#[pyo3(signature = (environment, *, kubeconfig = None, selector = None, options = None))]
fn capture<'py>(
    py: Python<'py>,
    environment: &Bound<'py, PyAny>,
    kubeconfig: Option<PathBuf>,
    selector: Option<String>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let profile = profile(environment)?;
    let options: template_k8s::CaptureOptions = options_from_py(options, "options")?;
    let report = block_on(py, async {
        let client = template_k8s::connect(&profile, kubeconfig.as_deref()).await?;
        template_k8s::capture(&client, &profile.namespace, selector.as_deref(), &options).await
    })?
    .map_err(raise)?;
    data_to_py(py, &report)
}

/// Converts API objects of one namespace (dicts as the API returns them,
/// e.g. from manifest files) into a draft version and the report of every
/// decision, without a cluster (`template_k8s::capture::convert`): the
/// same conversion `capture` applies to what it reads.
#[pyfunction]
#[pyo3(signature = (namespace, objects, *, options = None))]
fn capture_objects<'py>(
    py: Python<'py>,
    namespace: &str,
    objects: Vec<Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let options: template_k8s::CaptureOptions = options_from_py(options, "options")?;
    let objects = objects
        .iter()
        .map(crate::convert::value_from_py)
        .collect::<PyResult<Vec<_>>>()?;
    let objects = template_k8s::CapturedObjects::from_values(namespace, objects).map_err(raise)?;
    data_to_py(py, &template_k8s::capture::convert(&objects, &options))
}

/// Publishes the application running in `environment`'s namespace into
/// `market` in one step (`template_delivery::publish_from_cluster`): capture,
/// pull of its images from their registries, digests pinned, publish (the
/// next minor version after the market's newest unless `options` names
/// one; nothing when the application equals it). `options` is a dict
/// shaped like the Rust `PublishFromClusterOptions` (`capture`, `pull`, `registries`,
/// `node_platforms`, `overwrite`). `progress` gets one dict per report with
/// a `stage` (`capture`, `captured`, `pull`, `publish`); an exception it
/// raises stops the publish (nothing is published; a rerun resumes the
/// pull) and is re-raised. Returns the report.
#[pyfunction]
#[pyo3(signature = (market, environment, *, kubeconfig = None, selector = None, options = None, progress = None))]
fn publish_from_cluster<'py>(
    py: Python<'py>,
    market: &Market,
    environment: &Bound<'py, PyAny>,
    kubeconfig: Option<PathBuf>,
    selector: Option<String>,
    options: Option<&Bound<'py, PyAny>>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let profile = profile(environment)?;
    let options: template_delivery::PublishFromClusterOptions =
        options_from_py(options, "options")?;
    let callback = Callback::new(progress);
    let market = market.inner.clone();
    let result = block_on(py, async {
        let client = template_k8s::connect(&profile, kubeconfig.as_deref()).await?;
        let mut report = |p: &template_delivery::PublishFromClusterProgress| {
            if callback.report(serde_json::to_value(p).unwrap_or(Value::Null)) {
                std::ops::ControlFlow::Continue(())
            } else {
                std::ops::ControlFlow::Break(())
            }
        };
        template_delivery::publish_from_cluster(
            &client,
            &profile.namespace,
            selector.as_deref(),
            &market,
            &options,
            &mut report,
        )
        .await
    })?;
    let report = callback.finish(result.map_err(raise))?;
    data_to_py(py, &report)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Delivery>()?;
    m.add_function(wrap_pyfunction!(capture, m)?)?;
    m.add_function(wrap_pyfunction!(capture_objects, m)?)?;
    m.add_function(wrap_pyfunction!(publish_from_cluster, m)?)
}
