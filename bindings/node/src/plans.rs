//! Diffs, install/upgrade/rollback plans and installed states: the core's
//! pure planning functions. Diffs, plans, states and records are plain
//! objects with the content of their Rust JSON; options are plain objects
//! with the Rust field names (snake_case).

use std::collections::BTreeSet;

use apptemplate_interop::from_data;
use napi::bindgen_prelude::{Env, Result};
use napi_derive::napi;
use serde_json::Value;
use template_core::{
    InstallOptions, InstalledState, Plan, RollbackOptions, StateCustomizations, UpgradeOptions,
    UpgradeRecord, VersionDiff,
};

use crate::data::convert;
use crate::document::Template;
use crate::errors::core_error;
use crate::options::read_options;

/// Reads a core value given as plain data (`DOCUMENT_INVALID` naming the
/// field when it does not fit).
fn read<T: serde::de::DeserializeOwned>(env: &Env, value: Value) -> Result<T> {
    from_data(value).map_err(|e| core_error(env, e))
}

/// Everything that differs between two versions of one template
/// (`TEMPLATE_MISMATCH` for versions of different templates).
#[napi(ts_return_type = "VersionDiff")]
pub fn diff(env: &Env, from: &Template, to: &Template) -> Result<Value> {
    let d = template_core::diff(&from.inner, &to.inner).map_err(|e| core_error(env, e))?;
    convert(&d)
}

/// A diff as a console shows it: grouped per component, secrets masked,
/// config files as line diffs.
#[napi(ts_args_type = "diff: VersionDiff")]
pub fn render_diff(env: &Env, diff: Value) -> Result<String> {
    Ok(read::<VersionDiff>(env, diff)?.render_text())
}

/// A plan as a console shows it: its steps by wave, each with why and what
/// changes.
#[napi(ts_args_type = "plan: Plan")]
pub fn render_plan(env: &Env, plan: Value) -> Result<String> {
    Ok(read::<Plan>(env, plan)?.render_text())
}

/// A plan as pretty JSON text for people and logs, with every secret value
/// masked (the plain object keeps them: executing a plan needs them).
#[napi(ts_args_type = "plan: Plan")]
pub fn plan_json(env: &Env, plan: Value) -> Result<String> {
    read::<Plan>(env, plan)?
        .to_json()
        .map_err(|e| core_error(env, e))
}

/// Plans the installation of `version` (which must be valid) with
/// `options` (`modules`, `overrides`); unknown option names and
/// overrides of unknown things are `INVALID_ARGUMENT` errors.
#[napi(
    ts_args_type = "version: Template, options?: InstallOptions",
    ts_return_type = "Plan"
)]
pub fn plan_install(env: &Env, version: &Template, options: Option<Value>) -> Result<Value> {
    let options: InstallOptions = read_options(options).map_err(|e| core_error(env, e))?;
    let version = version.inner.validated().map_err(|e| core_error(env, e))?;
    let plan =
        template_core::plan_install_validated(version, &options).map_err(|e| core_error(env, e))?;
    convert(&plan)
}

/// Plans the upgrade of `installed` from version `from` to version `to`
/// with `options` (`modules`, `components`, `prune`).
#[napi(
    ts_args_type = "installed: InstalledState, from: Template, to: Template, options?: UpgradeOptions",
    ts_return_type = "Plan"
)]
pub fn plan_upgrade(
    env: &Env,
    installed: Value,
    from: &Template,
    to: &Template,
    options: Option<Value>,
) -> Result<Value> {
    let installed: InstalledState = read(env, installed)?;
    let options: UpgradeOptions = read_options(options).map_err(|e| core_error(env, e))?;
    let to = to.inner.validated().map_err(|e| core_error(env, e))?;
    let plan = template_core::plan_upgrade_validated(&installed, &from.inner, to, &options)
        .map_err(|e| core_error(env, e))?;
    convert(&plan)
}

/// Plans the return from `current` to the state recorded before `record`
/// with `options` (`remove_added`).
#[napi(
    ts_args_type = "record: UpgradeRecord, current: InstalledState, options?: RollbackOptions",
    ts_return_type = "Plan"
)]
pub fn plan_rollback(
    env: &Env,
    record: Value,
    current: Value,
    options: Option<Value>,
) -> Result<Value> {
    let record: UpgradeRecord = read(env, record)?;
    let current: InstalledState = read(env, current)?;
    let options: RollbackOptions = read_options(options).map_err(|e| core_error(env, e))?;
    let plan = template_core::plan_rollback(&record, &current, &options)
        .map_err(|e| core_error(env, e))?;
    convert(&plan)
}

/// The installed state after every step of `plan`.
#[napi(
    ts_args_type = "state: InstalledState, plan: Plan",
    ts_return_type = "InstalledState"
)]
pub fn apply(env: &Env, state: Value, plan: Value) -> Result<Value> {
    let state: InstalledState = read(env, state)?;
    let plan: Plan = read(env, plan)?;
    convert(&template_core::apply(&state, &plan).map_err(|e| core_error(env, e))?)
}

/// The installed state after the steps of `plan` numbered in `done`.
#[napi(
    ts_args_type = "state: InstalledState, plan: Plan, done: Array<number>",
    ts_return_type = "InstalledState"
)]
pub fn apply_steps(env: &Env, state: Value, plan: Value, done: Vec<u32>) -> Result<Value> {
    let state: InstalledState = read(env, state)?;
    let plan: Plan = read(env, plan)?;
    let done: BTreeSet<usize> = done.into_iter().map(|n| n as usize).collect();
    convert(&template_core::apply_steps(&state, &plan, &done).map_err(|e| core_error(env, e))?)
}

/// The installed state an install plan leads to, from nothing.
#[napi(ts_args_type = "plan: Plan", ts_return_type = "InstalledState")]
pub fn install_state(env: &Env, plan: Value) -> Result<Value> {
    let plan: Plan = read(env, plan)?;
    convert(&template_core::install_state(&plan).map_err(|e| core_error(env, e))?)
}

/// The installed state after a recorded plan, as far as its outcome says
/// it ran (a failed step counts as not done).
#[napi(
    ts_args_type = "record: UpgradeRecord",
    ts_return_type = "InstalledState"
)]
pub fn record_state_after(env: &Env, record: Value) -> Result<Value> {
    let record: UpgradeRecord = read(env, record)?;
    convert(&record.state_after().map_err(|e| core_error(env, e))?)
}

/// The numbers of the steps a recorded plan did.
#[napi(ts_args_type = "record: UpgradeRecord")]
pub fn record_applied_steps(env: &Env, record: Value) -> Result<Vec<u32>> {
    let record: UpgradeRecord = read(env, record)?;
    Ok(record
        .applied_steps()
        .into_iter()
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .collect())
}

/// An upgrade record of `plan` run on `before`, ended with `outcome`
/// (`{status: 'succeeded'}`, `{status: 'failed_at_step', step, message,
/// applied_steps}`
/// or `{status: 'partly_applied', applied_steps}`); the times are RFC 3339
/// text supplied by the caller.
#[napi(
    ts_args_type = "before: InstalledState, plan: Plan, outcome: Outcome, startedAt?: string, finishedAt?: string",
    ts_return_type = "UpgradeRecord"
)]
pub fn upgrade_record(
    env: &Env,
    before: Value,
    plan: Value,
    outcome: Value,
    started_at: Option<String>,
    finished_at: Option<String>,
) -> Result<Value> {
    let mut record = UpgradeRecord::new(read(env, before)?, read(env, plan)?, read(env, outcome)?);
    record.started_at = started_at;
    record.finished_at = finished_at;
    convert(&record)
}

/// The installed state of `template` before its first install.
#[napi(ts_return_type = "InstalledState")]
pub fn empty_state(template: String) -> Result<Value> {
    convert(&InstalledState::empty(&template))
}

/// `state` with user edits recorded as customizations (kept by upgrades):
/// `customizations` has the fields of the Rust `StateCustomizations`
/// (`env`, `config_files`, `replicas`, `volume_capacities`, by component
/// key). A misspelt field or a refused edit is `INVALID_ARGUMENT` naming
/// it.
#[napi(
    ts_args_type = "state: InstalledState, customizations: StateCustomizations",
    ts_return_type = "InstalledState"
)]
pub fn customize(env: &Env, state: Value, customizations: Value) -> Result<Value> {
    let state: InstalledState = read(env, state)?;
    let edits: StateCustomizations =
        apptemplate_interop::options_from_data(customizations, "customizations")
            .map_err(|e| core_error(env, e))?;
    convert(&state.customized(&edits).map_err(|e| core_error(env, e))?)
}
