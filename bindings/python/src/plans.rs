//! Diffs, plans, applying plans, upgrade records and installed states.
//!
//! Plans, states and records cross as dicts with the content of their Rust
//! JSON (what `template-k8s` stores); the functions read them back with
//! serde, so a dict returned by one function is accepted by the next.

use std::collections::BTreeMap;

use apptemplate_interop::from_data;
use pyo3::prelude::*;
use serde::de::DeserializeOwned;
use template_core::{
    InstallOptions, InstalledState, Plan, RollbackOptions, StateCustomizations, UpgradeOptions,
    UpgradeRecord,
};

use crate::convert::{data_to_py, value_from_py};
use crate::document::Template;
use crate::errors::core_error;
use crate::options::options_from_py;

/// A value of the core read from a dict (`DocumentError` with the path of
/// a field that does not fit).
pub(crate) fn read<T: DeserializeOwned>(obj: &Bound<'_, PyAny>) -> PyResult<T> {
    from_data(value_from_py(obj)?).map_err(core_error)
}

/// What changed from `old` to `new` (same template), as a dict: metadata,
/// modules, config groups, plugins and components, each change with its
/// path, old and new value (secret values masked) and line hunks.
#[pyfunction]
fn diff<'py>(
    py: Python<'py>,
    old: PyRef<'py, Template>,
    new: PyRef<'py, Template>,
) -> PyResult<Bound<'py, PyAny>> {
    let d = template_core::diff(&old.inner, &new.inner).map_err(core_error)?;
    data_to_py(py, &d)
}

/// The diff from `old` to `new` as text for people (`+`/`-`/`~` lines and
/// unified hunks).
#[pyfunction]
fn diff_text(old: PyRef<'_, Template>, new: PyRef<'_, Template>) -> PyResult<String> {
    let d = template_core::diff(&old.inner, &new.inner).map_err(core_error)?;
    Ok(d.render_text())
}

/// The plan installing `version`. `options` is a dict shaped like the Rust
/// `InstallOptions` (`modules`, `overrides`: `env`, `replicas`,
/// `storage_class`, `volume_storage_classes`).
#[pyfunction]
#[pyo3(signature = (version, options = None))]
fn plan_install<'py>(
    py: Python<'py>,
    version: PyRef<'py, Template>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let options: InstallOptions = options_from_py(options, "options")?;
    let version = version.inner.validated().map_err(core_error)?;
    let plan = template_core::plan_install_validated(version, &options).map_err(core_error)?;
    data_to_py(py, &plan)
}

/// The plan upgrading `installed` (a state dict at version `old`) to `new`:
/// values the user changed are kept and listed. `options` is a dict shaped
/// like the Rust `UpgradeOptions` (`modules`, `components`, `prune`).
#[pyfunction]
#[pyo3(signature = (installed, old, new, options = None))]
fn plan_upgrade<'py>(
    py: Python<'py>,
    installed: &Bound<'py, PyAny>,
    old: PyRef<'py, Template>,
    new: PyRef<'py, Template>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let installed: InstalledState = read(installed)?;
    let options: UpgradeOptions = options_from_py(options, "options")?;
    let new = new.inner.validated().map_err(core_error)?;
    let plan = template_core::plan_upgrade_validated(&installed, &old.inner, new, &options)
        .map_err(core_error)?;
    data_to_py(py, &plan)
}

/// The plan returning `current` to the state recorded before `record` (an
/// upgrade record dict: `before`, `plan`, `outcome`). `options` is a dict
/// shaped like the Rust `RollbackOptions` (`remove_added`).
#[pyfunction]
#[pyo3(signature = (record, current, options = None))]
fn plan_rollback<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    current: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let record: UpgradeRecord = read(record)?;
    let current: InstalledState = read(current)?;
    let options: RollbackOptions = options_from_py(options, "options")?;
    let plan = template_core::plan_rollback(&record, &current, &options).map_err(core_error)?;
    data_to_py(py, &plan)
}

/// A plan as text for people (waves, steps, reasons, kept values).
#[pyfunction]
fn plan_text(plan: &Bound<'_, PyAny>) -> PyResult<String> {
    let plan: Plan = read(plan)?;
    Ok(plan.render_text())
}

/// A plan as pretty JSON text for people and logs, with every secret value
/// masked (the dict form keeps them: executing a plan needs them).
#[pyfunction]
fn plan_json(plan: &Bound<'_, PyAny>) -> PyResult<String> {
    let plan: Plan = read(plan)?;
    plan.to_json().map_err(core_error)
}

/// The installed state after every step of `plan` ran on `state`.
#[pyfunction]
fn apply<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyAny>,
    plan: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let state: InstalledState = read(state)?;
    let plan: Plan = read(plan)?;
    data_to_py(
        py,
        &template_core::apply(&state, &plan).map_err(core_error)?,
    )
}

/// The installed state after only the steps numbered in `steps` ran.
#[pyfunction]
fn apply_steps<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyAny>,
    plan: &Bound<'py, PyAny>,
    steps: Vec<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let state: InstalledState = read(state)?;
    let plan: Plan = read(plan)?;
    let steps = steps.into_iter().collect();
    data_to_py(
        py,
        &template_core::apply_steps(&state, &plan, &steps).map_err(core_error)?,
    )
}

/// The installed state an install plan leads to.
#[pyfunction]
fn install_state<'py>(py: Python<'py>, plan: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let plan: Plan = read(plan)?;
    data_to_py(
        py,
        &template_core::install_state(&plan).map_err(core_error)?,
    )
}

/// An upgrade record dict of `plan` run on `before`, ended with `outcome`
/// (`{"status": "succeeded"}`, `{"status": "failed_at_step", "step": N,
/// "message": ..., "applied_steps": [...]}` or `{"status": "partly_applied", "applied_steps": [...]}`).
#[pyfunction]
#[pyo3(signature = (before, plan, outcome, *, started_at = None, finished_at = None))]
fn upgrade_record<'py>(
    py: Python<'py>,
    before: &Bound<'py, PyAny>,
    plan: &Bound<'py, PyAny>,
    outcome: &Bound<'py, PyAny>,
    started_at: Option<String>,
    finished_at: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut record = UpgradeRecord::new(read(before)?, read(plan)?, read(outcome)?);
    record.started_at = started_at;
    record.finished_at = finished_at;
    data_to_py(py, &record)
}

/// The installed state after a record's plan, as far as its outcome says
/// it ran (a failed step counts as not done).
#[pyfunction]
fn record_state_after<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let record: UpgradeRecord = read(record)?;
    data_to_py(py, &record.state_after().map_err(core_error)?)
}

/// The numbers of the steps a record's plan did, in order.
#[pyfunction]
fn record_applied_steps(record: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let record: UpgradeRecord = read(record)?;
    Ok(record.applied_steps().into_iter().collect())
}

/// The installed state of `template` before its first install.
#[pyfunction]
fn empty_state<'py>(py: Python<'py>, template: &str) -> PyResult<Bound<'py, PyAny>> {
    data_to_py(py, &InstalledState::empty(template))
}

/// `state` with user edits recorded as customizations (kept by upgrades):
/// `env` (component → name → value), `config_files` (component → mount
/// path → content), `replicas` (component → count), `volume_capacities`
/// (component → volume → capacity, only growing). The fields of the Rust
/// `StateCustomizations`, applied by `InstalledState::customized`.
#[pyfunction]
#[pyo3(signature = (state, *, env = None, config_files = None, replicas = None, volume_capacities = None))]
fn customize<'py>(
    py: Python<'py>,
    state: &Bound<'py, PyAny>,
    env: Option<BTreeMap<String, BTreeMap<String, String>>>,
    config_files: Option<BTreeMap<String, BTreeMap<String, String>>>,
    replicas: Option<BTreeMap<String, u32>>,
    volume_capacities: Option<BTreeMap<String, BTreeMap<String, String>>>,
) -> PyResult<Bound<'py, PyAny>> {
    let state: InstalledState = read(state)?;
    let edits = StateCustomizations {
        env: env.unwrap_or_default(),
        config_files: config_files.unwrap_or_default(),
        replicas: replicas.unwrap_or_default(),
        volume_capacities: volume_capacities.unwrap_or_default(),
    };
    data_to_py(py, &state.customized(&edits).map_err(core_error)?)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(diff_text, m)?)?;
    m.add_function(wrap_pyfunction!(plan_install, m)?)?;
    m.add_function(wrap_pyfunction!(plan_upgrade, m)?)?;
    m.add_function(wrap_pyfunction!(plan_rollback, m)?)?;
    m.add_function(wrap_pyfunction!(plan_text, m)?)?;
    m.add_function(wrap_pyfunction!(plan_json, m)?)?;
    m.add_function(wrap_pyfunction!(apply, m)?)?;
    m.add_function(wrap_pyfunction!(apply_steps, m)?)?;
    m.add_function(wrap_pyfunction!(install_state, m)?)?;
    m.add_function(wrap_pyfunction!(upgrade_record, m)?)?;
    m.add_function(wrap_pyfunction!(record_state_after, m)?)?;
    m.add_function(wrap_pyfunction!(record_applied_steps, m)?)?;
    m.add_function(wrap_pyfunction!(empty_state, m)?)?;
    m.add_function(wrap_pyfunction!(customize, m)?)
}
