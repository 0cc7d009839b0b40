//! `Delivery`: versions of a market installed, upgraded and rolled back on
//! Kubernetes environments (`template_k8s::Delivery`).
//!
//! Every call runs on one tokio runtime shared by the whole module (built
//! on first use), with the GIL released; progress events (the Rust
//! `DeliveryEvent`, tagged by `phase`) reach the `progress` callable as
//! dicts. Environments are profile dicts shaped like the Rust
//! `EnvironmentProfile` (`name`, `namespace`, and optionally `context`,
//! `registry`, `released_only`, `env_overrides`, `storage_class`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;
use template_core::{InstallOptions, RollbackOptions, UpgradeOptions};
use template_k8s::render::Exposure;
use template_k8s::{
    Delivery as RustDelivery, DeliveryEvent, EnvironmentOutcome, EnvironmentProfile,
    ExecutorOptions,
};
use tokio::runtime::Runtime;

use crate::convert::{data_to_py, value_to_py};
use crate::errors::{invalid_argument, raise};
use crate::market::{Market, RegistryAccess, registry_target, relocate_options};
use crate::options::options_from_py;
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

fn seconds(argument: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|e| invalid_argument(argument, format!("{value} seconds: {e}")))
}

/// A registry's access from a dict `{registry, insecure, username,
/// password, auth_file, ca_file, public_roots}`.
fn registry_from_dict(item: &Bound<'_, PyAny>) -> PyResult<template_market::RegistryTarget> {
    let dict = item
        .cast::<PyDict>()
        .map_err(|_| invalid_argument("registries", "each registry is a dict"))?;
    let mut access = RegistryAccess {
        public_roots: true,
        ..RegistryAccess::default()
    };
    let mut registry = None;
    for (key, value) in dict.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "registry" => registry = Some(value.extract::<String>()?),
            "insecure" => access.insecure = value.extract()?,
            "username" => access.username = value.extract()?,
            "password" => access.password = value.extract()?,
            "auth_file" => access.auth_file = value.extract()?,
            "ca_file" => access.ca_file = value.extract()?,
            "public_roots" => access.public_roots = value.extract()?,
            other => {
                return Err(invalid_argument(
                    &format!("registries.{other}"),
                    "unknown field; use registry, insecure, username, password, auth_file, ca_file, public_roots",
                ));
            }
        }
    }
    let registry =
        registry.ok_or_else(|| invalid_argument("registries.registry", "missing field"))?;
    registry_target(&registry, access)
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
    /// A delivery from `market`. Clusters are reached through `kubeconfig`
    /// (default: `$KUBECONFIG`, `~/.kube/config`) and each profile's
    /// `context`. `registries` gives access to registries profiles name
    /// (dicts `{registry, insecure, username, password, auth_file,
    /// ca_file, public_roots}`); others are reached anonymously over HTTPS.
    /// `identity` names the lock holder; `wait_timeout`/`poll_interval`
    /// (seconds) shape readiness waits; `concurrency` is steps per wave at
    /// once; `exposure` is `"node_port"` or `"load_balancer"`; the
    /// `relocate_*` values tune image pushes.
    #[new]
    #[pyo3(signature = (market, *, kubeconfig = None, registries = None, identity = "apptemplate-python",
                        wait_timeout = None, poll_interval = None, concurrency = None,
                        lease_duration = None, exposure = None, relocate_parallelism = None,
                        relocate_chunk_size = None, relocate_push_tags = None,
                        relocate_request_timeout = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        market: PyRef<'_, Market>,
        kubeconfig: Option<PathBuf>,
        registries: Option<Vec<Bound<'_, PyAny>>>,
        identity: &str,
        wait_timeout: Option<f64>,
        poll_interval: Option<f64>,
        concurrency: Option<usize>,
        lease_duration: Option<f64>,
        exposure: Option<&str>,
        relocate_parallelism: Option<usize>,
        relocate_chunk_size: Option<u64>,
        relocate_push_tags: Option<bool>,
        relocate_request_timeout: Option<f64>,
    ) -> PyResult<Self> {
        let mut options = ExecutorOptions::new(identity);
        if let Some(t) = wait_timeout {
            options.wait.timeout = seconds("wait_timeout", t)?;
        }
        if let Some(t) = poll_interval {
            options.wait.poll_interval = seconds("poll_interval", t)?;
        }
        if let Some(c) = concurrency {
            if c == 0 {
                return Err(invalid_argument("concurrency", "must be at least 1"));
            }
            options.concurrency = c;
        }
        if let Some(t) = lease_duration {
            options.lock.lease_duration = seconds("lease_duration", t)?;
        }
        options.exposure = match exposure {
            None | Some("node_port") => Exposure::NodePort,
            Some("load_balancer") => Exposure::LoadBalancer,
            Some(other) => {
                return Err(invalid_argument(
                    "exposure",
                    format!("`{other}` is not an exposure; use \"node_port\" or \"load_balancer\""),
                ));
            }
        };
        let mut inner = RustDelivery::new(market.inner.clone(), options).with_relocate_options(
            relocate_options(
                relocate_parallelism,
                relocate_chunk_size,
                relocate_push_tags,
                relocate_request_timeout,
            )?,
        );
        if let Some(path) = kubeconfig {
            inner = inner.with_kubeconfig(path);
        }
        for item in registries.unwrap_or_default() {
            inner = inner.with_registry(registry_from_dict(&item)?);
        }
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
        let report = |e: &DeliveryEvent| {
            callback.report(serde_json::to_value(e).unwrap_or(Value::Null));
        };
        let result = block_on(
            py,
            self.inner
                .install(&env, template, version, &options, &report),
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
        let report = |e: &DeliveryEvent| {
            callback.report(serde_json::to_value(e).unwrap_or(Value::Null));
        };
        let result = block_on(
            py,
            self.inner.upgrade(&env, template, to, &options, &report),
        )?;
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
        let report = |e: &DeliveryEvent| {
            callback.report(serde_json::to_value(e).unwrap_or(Value::Null));
        };
        let result = block_on(
            py,
            self.inner
                .rollback(&env, template, revision, &options, &report),
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
        let report = |e: &DeliveryEvent| {
            callback.report(serde_json::to_value(e).unwrap_or(Value::Null));
        };
        let result = block_on(py, self.inner.deliver(&envs, template, version, &report))?;
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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Delivery>()?;
    m.add_function(wrap_pyfunction!(capture, m)?)
}
