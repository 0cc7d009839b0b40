//! `diff`, `plan`, `install`, `upgrade`, `rollback`, `history`, `status`,
//! `deliver`: versions of the market on environments.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use template_core::{InstallOptions, Plan, PlanKind, RollbackOptions, UpgradeOptions};
use template_k8s::{
    DeliveryEvent, DetectedChange, EnvironmentProfile, ExecutorOptions, OperationReport,
};

use crate::cli::{
    DeliverArgs, DiffArgs, InstallArgs, InstallationArgs, ModuleArgs, PlanArgs, RollbackArgs,
    Target, UpgradeArgs,
};
use crate::commands::Context as Run;
use crate::failure::{Usage, code};
use crate::output::{Outcome, table};
use crate::progress::Reporter;

/// Format tag of plan files.
const PLAN_FORMAT: &str = "apptemplate-plan/1";

/// A plan file: what `plan` found and what `install`/`upgrade --plan`
/// carry out. The plan is stored with secret values masked; its digest
/// (over the full plan) is what the upgrade checks against.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    format: String,
    environment: String,
    namespace: String,
    template: String,
    operation: PlanKind,
    to_version: String,
    /// Content digests of the versions involved, as the market held them.
    market: BTreeMap<String, String>,
    /// Modules selected or left out on the command line.
    #[serde(default)]
    modules: BTreeMap<String, bool>,
    /// Digest of the full plan.
    digest: String,
    /// Values changed on the cluster that the plan keeps.
    #[serde(default)]
    drift: Vec<DetectedChange>,
    /// The plan, secrets masked.
    plan: Value,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn modules(args: &ModuleArgs) -> BTreeMap<String, bool> {
    args.with
        .iter()
        .map(|m| (m.clone(), true))
        .chain(args.without.iter().map(|m| (m.clone(), false)))
        .collect()
}

/// Plan JSON for people and consoles: secrets masked.
fn masked(plan: &Plan) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&plan.to_json()?)?)
}

/// The change table: one row per step.
fn change_table(plan: &Plan) -> String {
    let mut text = table(
        &["step", "wave", "component", "action", "changes", "why"],
        plan.steps.iter().map(|s| {
            vec![
                s.number.to_string(),
                s.wave.to_string(),
                s.component.clone(),
                serde_json::to_value(s.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                s.changes.len().to_string(),
                s.why.clone(),
            ]
        }),
    );
    for kept in plan.kept_customizations() {
        text.push_str(&format!("kept: {}\n", kept.path));
    }
    text
}

fn drift_lines(drift: &[DetectedChange]) -> String {
    drift
        .iter()
        .map(|d| {
            format!(
                "changed on the cluster: {} = {} (recorded {}, in {}); kept\n",
                d.path, d.live, d.recorded, d.object
            )
        })
        .collect()
}

fn content_digests(
    market: &template_market::Market,
    template: &str,
    versions: &[&str],
) -> anyhow::Result<BTreeMap<String, String>> {
    let all = market.versions(template)?;
    Ok(versions
        .iter()
        .filter_map(|v| {
            all.iter()
                .find(|s| s.version == *v)
                .map(|s| (s.version.clone(), s.content_digest.clone()))
        })
        .collect())
}

impl Run {
    fn delivery(&self, kubeconfig: Option<&Path>) -> anyhow::Result<template_delivery::Delivery> {
        let mut options = self
            .settings
            .file
            .executor
            .clone()
            .unwrap_or_else(|| ExecutorOptions::new(""));
        options.lock.identity = self.identity();
        let mut delivery = template_delivery::Delivery::new(self.settings.market()?, options)
            .with_relocate_options(self.settings.file.relocate.clone())
            .with_stop(crate::interrupt::stop_signal());
        if let Some(k) = self.settings.kubeconfig(kubeconfig) {
            delivery = delivery.with_kubeconfig(k);
        }
        for target in self.settings.registry_targets()? {
            delivery = delivery.with_registry(target);
        }
        Ok(delivery)
    }

    /// Who holds the lock: the flag, the config file, else USER@HOSTNAME.
    fn identity(&self) -> String {
        if !self.identity.is_empty() {
            return self.identity.clone();
        }
        if let Some(executor) = &self.settings.file.executor {
            return executor.lock.identity.clone();
        }
        let user = std::env::var("USER").unwrap_or_else(|_| "apptemplate".to_owned());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        if host.is_empty() {
            user
        } else {
            format!("{user}@{host}")
        }
    }

    pub(crate) fn wait_timeout(&self) -> Duration {
        self.settings
            .file
            .executor
            .as_ref()
            .map_or(Duration::from_secs(300), |e| e.wait.timeout)
    }

    pub(crate) fn environment(&self, target: &Target) -> anyhow::Result<EnvironmentProfile> {
        self.settings
            .environment(target.environment.as_deref(), target.namespace.as_deref())
    }
}

pub(crate) fn diff(run: &Run, args: &DiffArgs) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    let from = market.document(&args.template, &args.from)?;
    let to = market.document(&args.template, &args.to)?;
    let diff = template_core::diff(&from, &to)?;
    let json: Value = serde_json::from_str(&diff.to_json()?)?;
    let changed = !diff.is_empty();
    let text = if changed {
        diff.render_text()
    } else {
        format!(
            "{} {} and {} are the same",
            args.template, args.from, args.to
        )
    };
    let outcome = Outcome {
        json,
        text,
        exit_code: code::OK,
    };
    Ok(if changed && args.exit_code {
        outcome.with_exit_code(code::CHANGES_PENDING)
    } else {
        outcome
    })
}

pub(crate) fn plan(run: &Run, args: &PlanArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let market = delivery.market().clone();
    let modules = modules(&args.modules);
    let rt = runtime()?;
    let installed = rt.block_on(delivery.state(&env, &args.template))?;
    let (plan, drift, digest, versions) = match installed.filter(|s| !s.version.is_empty()) {
        None => {
            let doc = market.version(&args.template, &args.version)?;
            template_k8s::check_release_gate(&env, &doc)?;
            let plan = template_core::plan_install_validated(
                &doc,
                &InstallOptions {
                    modules: modules.clone(),
                    ..Default::default()
                },
            )?;
            let digest = template_k8s::plan_digest(&plan)?;
            (plan, Vec::new(), digest, vec![args.version.as_str()])
        }
        Some(state) => {
            let options = UpgradeOptions {
                modules: modules.clone(),
                ..Default::default()
            };
            let planned =
                rt.block_on(delivery.plan_upgrade(&env, &args.template, &args.version, &options))?;
            let from = state.version.clone();
            let versions = content_digests(
                &market,
                &args.template,
                &[from.as_str(), args.version.as_str()],
            )?;
            let file = PlanFile {
                format: PLAN_FORMAT.to_owned(),
                environment: env.name.clone(),
                namespace: env.namespace.clone(),
                template: args.template.clone(),
                operation: PlanKind::Upgrade,
                to_version: args.version.clone(),
                market: versions,
                modules: modules.clone(),
                digest: planned.digest.clone(),
                drift: planned.drift.clone(),
                plan: masked(&planned.plan)?,
            };
            return write_plan(args, &planned.plan, file);
        }
    };
    let file = PlanFile {
        format: PLAN_FORMAT.to_owned(),
        environment: env.name.clone(),
        namespace: env.namespace.clone(),
        template: args.template.clone(),
        operation: PlanKind::Install,
        to_version: args.version.clone(),
        market: content_digests(&market, &args.template, &versions)?,
        modules,
        digest,
        drift,
        plan: masked(&plan)?,
    };
    write_plan(args, &plan, file)
}

fn write_plan(args: &PlanArgs, plan: &Plan, file: PlanFile) -> anyhow::Result<Outcome> {
    let mut text = plan.render_text();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&drift_lines(&file.drift));
    if let Some(path) = &args.file {
        let bytes = serde_json::to_vec_pretty(&file)?;
        std::fs::write(path, bytes)
            .with_context(|| format!("writing plan file `{}`", path.display()))?;
        text.push_str(&format!(
            "plan written to {}; apply it with `apptemplate {} --plan {}`\n",
            path.display(),
            if file.operation == PlanKind::Install {
                "install"
            } else {
                "upgrade"
            },
            path.display()
        ));
    }
    let changes = !plan.is_empty();
    let outcome = Outcome::new(&file, text)?;
    Ok(if changes && args.exit_code {
        outcome.with_exit_code(code::CHANGES_PENDING)
    } else {
        outcome
    })
}

fn read_plan(path: &Path) -> anyhow::Result<PlanFile> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading plan file `{}`", path.display()))?;
    let file: PlanFile = serde_json::from_slice(&bytes).map_err(|e| {
        Usage(format!(
            "`{}` is not a plan file written by `apptemplate plan`: {e}",
            path.display()
        ))
    })?;
    if file.format != PLAN_FORMAT {
        return Err(Usage(format!(
            "plan file `{}` has format `{}`; this version reads `{PLAN_FORMAT}`: make the plan again",
            path.display(),
            file.format
        ))
        .into());
    }
    Ok(file)
}

/// Refuses a plan file whose versions changed in the market since.
fn check_market(
    market: &template_market::Market,
    file: &PlanFile,
    path: &Path,
) -> anyhow::Result<()> {
    let versions: Vec<&str> = file.market.keys().map(String::as_str).collect();
    let now = content_digests(market, &file.template, &versions)?;
    for (version, digest) in &file.market {
        if now.get(version) != Some(digest) {
            return Err(anyhow::anyhow!(
                "the plan file `{}` was made with {} {version} of content {digest}, but the market now holds {}; make a new plan with `apptemplate plan` and review it",
                path.display(),
                file.template,
                now.get(version).map_or("no such version", String::as_str)
            ));
        }
    }
    Ok(())
}

/// Runs a delivery call with progress shown, returning its result.
fn with_progress<T>(run: &Run, work: impl AsyncFnOnce(Arc<Reporter>) -> T) -> anyhow::Result<T> {
    let reporter = run.reporter();
    let rt = runtime()?;
    let out = rt.block_on(work(reporter.clone()));
    reporter.finish();
    Ok(out)
}

fn report_outcome(
    verb: &str,
    env: &EnvironmentProfile,
    report: &OperationReport,
) -> anyhow::Result<Outcome> {
    let mut text = format!(
        "{} {} {verb} in namespace {} of {}: revision {}\n",
        report.state.template, report.state.version, env.namespace, env.name, report.revision
    );
    text.push_str(&drift_lines(&report.drift));
    for kept in report.plan.kept_customizations() {
        text.push_str(&format!("kept: {}\n", kept.path));
    }
    let json = json!({
        "revision": report.revision,
        "plan": masked(&report.plan)?,
        "drift": report.drift,
        "template": report.state.template,
        "version": report.state.version,
        "environment": env.name,
        "namespace": env.namespace,
    });
    Ok(Outcome {
        json,
        text,
        exit_code: code::OK,
    })
}

pub(crate) fn install(run: &Run, args: &InstallArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let (template, version, modules) = match &args.plan {
        Some(path) => {
            let file = read_plan(path)?;
            if file.operation != PlanKind::Install {
                return Err(Usage(format!(
                    "plan file `{}` plans an upgrade; apply it with `apptemplate upgrade --plan`",
                    path.display()
                ))
                .into());
            }
            check_market(delivery.market(), &file, path)?;
            let doc = delivery
                .market()
                .version(&file.template, &file.to_version)?;
            let plan = template_core::plan_install_validated(
                &doc,
                &InstallOptions {
                    modules: file.modules.clone(),
                    ..Default::default()
                },
            )?;
            if template_k8s::plan_digest(&plan)? != file.digest {
                return Err(anyhow::anyhow!(
                    "the plan file `{}` no longer matches what installing {} {} means; make a new plan with `apptemplate plan`",
                    path.display(),
                    file.template,
                    file.to_version
                ));
            }
            (file.template, file.to_version, file.modules)
        }
        None => {
            let (Some(t), Some(v)) = (&args.template, &args.version) else {
                return Err(
                    Usage("install needs TEMPLATE VERSION, or --plan FILE".to_owned()).into(),
                );
            };
            (t.clone(), v.clone(), modules(&args.modules))
        }
    };
    let options = InstallOptions {
        modules,
        ..Default::default()
    };
    let result = with_progress(run, async |reporter| {
        let progress = move |e: &DeliveryEvent| reporter.delivery(e);
        delivery
            .install(&env, &template, &version, &options, &progress)
            .await
    })??;
    report_outcome("installed", &env, &result)
}

pub(crate) fn upgrade(run: &Run, args: &UpgradeArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let (template, version, options, digest) = match &args.plan {
        Some(path) => {
            let file = read_plan(path)?;
            if file.operation != PlanKind::Upgrade {
                return Err(Usage(format!(
                    "plan file `{}` plans an install; apply it with `apptemplate install --plan`",
                    path.display()
                ))
                .into());
            }
            if file.namespace != env.namespace {
                return Err(Usage(format!(
                    "plan file `{}` was made for namespace `{}` ({}), not `{}`",
                    path.display(),
                    file.namespace,
                    file.environment,
                    env.namespace
                ))
                .into());
            }
            check_market(delivery.market(), &file, path)?;
            let options = UpgradeOptions {
                modules: file.modules.clone(),
                ..Default::default()
            };
            (file.template, file.to_version, options, file.digest)
        }
        None => {
            let (Some(t), Some(v)) = (&args.template, &args.version) else {
                return Err(
                    Usage("upgrade needs TEMPLATE VERSION, or --plan FILE".to_owned()).into(),
                );
            };
            let options = UpgradeOptions::default();
            let rt = runtime()?;
            let planned = rt.block_on(delivery.plan_upgrade(&env, t, v, &options))?;
            let mut shown = format!(
                "Upgrade of {t} in namespace {} of {} to {v}:\n",
                env.namespace, env.name
            );
            shown.push_str(&change_table(&planned.plan));
            shown.push_str(&drift_lines(&planned.drift));
            run.printer.note(shown.trim_end());
            confirm(run, args.yes)?;
            (t.clone(), v.clone(), options, planned.digest)
        }
    };
    let result = with_progress(run, async |reporter| {
        let progress = move |e: &DeliveryEvent| reporter.delivery(e);
        delivery
            .upgrade_as_planned(&env, &template, &version, &options, &digest, &progress)
            .await
    })??;
    report_outcome("upgraded", &env, &result)
}

/// Asks `Continue? [y/N]` on a terminal; never prompts elsewhere.
fn confirm(run: &Run, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Usage(
            "not on a terminal, so nothing is asked: review the changes above and run again with --yes, or make a plan file with `apptemplate plan` and apply it with --plan".to_owned(),
        )
        .into());
    }
    let go = dialoguer::Confirm::new()
        .with_prompt("Continue?")
        .default(false)
        .interact()
        .context("reading the answer")?;
    let _ = run;
    if go {
        Ok(())
    } else {
        Err(anyhow::anyhow!("stopped: nothing was changed"))
    }
}

pub(crate) fn rollback(run: &Run, args: &RollbackArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let rt = runtime()?;
    let revision = match args.revision {
        Some(r) => r,
        None => rt
            .block_on(delivery.history(&env, &args.template))?
            .last()
            .map(|r| r.revision)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`{}` has no history in namespace {}: nothing to roll back",
                    args.template,
                    env.namespace
                )
            })?,
    };
    drop(rt);
    if !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        run.printer.note(&format!(
            "Roll {} in namespace {} back to the state before revision {revision}.",
            args.template, env.namespace
        ));
        confirm(run, false)?;
    }
    let result = with_progress(run, async |reporter| {
        let progress = move |e: &DeliveryEvent| reporter.delivery(e);
        delivery
            .rollback(
                &env,
                &args.template,
                revision,
                &RollbackOptions::default(),
                &progress,
            )
            .await
    })??;
    report_outcome(
        &format!("rolled back (undoing revision {revision})"),
        &env,
        &result,
    )
}

pub(crate) fn history(run: &Run, args: &InstallationArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let lines = runtime()?.block_on(delivery.history(&env, &args.template))?;
    let text = table(
        &["revision", "operation", "from", "to", "outcome", "finished"],
        lines.iter().map(|l| {
            vec![
                l.revision.to_string(),
                serde_json::to_value(l.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                l.from_version.clone().unwrap_or_else(|| "-".to_owned()),
                l.to_version.clone(),
                l.outcome.clone(),
                l.finished_at.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        }),
    );
    Outcome::new(&lines, text)
}

pub(crate) fn status(run: &Run, args: &InstallationArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let delivery = run.delivery(args.target.kubeconfig.as_deref())?;
    let state = runtime()?.block_on(delivery.state(&env, &args.template))?;
    let Some(state) = state.filter(|s| !s.version.is_empty()) else {
        return Outcome::new(
            &json!({"installed": false}),
            format!(
                "{} is not installed in namespace {} of {}",
                args.template, env.namespace, env.name
            ),
        );
    };
    let mut text = format!(
        "{} {} in namespace {} of {}\n",
        state.template, state.version, env.namespace, env.name
    );
    text.push_str(&table(
        &["component", "version", "customized", "orphaned"],
        state.components.iter().map(|(key, c)| {
            vec![
                key.clone(),
                c.version.clone(),
                if c.customizations.is_empty() {
                    "no"
                } else {
                    "yes"
                }
                .to_owned(),
                if c.orphaned { "yes" } else { "no" }.to_owned(),
            ]
        }),
    ));
    let mut json = serde_json::to_value(&state)?;
    mask_customized_env(&mut json);
    Outcome::new(&json!({"installed": true, "state": json}), text)
}

/// Customized env values may be secrets; the status shows only their names.
fn mask_customized_env(state: &mut Value) {
    let Some(components) = state.get_mut("components").and_then(Value::as_object_mut) else {
        return;
    };
    for c in components.values_mut() {
        if let Some(env) = c
            .pointer_mut("/customizations/env")
            .and_then(Value::as_object_mut)
        {
            for v in env.values_mut() {
                *v = Value::String("REDACTED".to_owned());
            }
        }
    }
}

pub(crate) fn deliver(run: &Run, args: &DeliverArgs) -> anyhow::Result<Outcome> {
    let envs: Vec<EnvironmentProfile> = if args.environments.is_empty() {
        run.settings.file.environments.clone()
    } else {
        args.environments
            .iter()
            .map(|n| run.settings.profile(n).cloned())
            .collect::<anyhow::Result<_>>()?
    };
    if envs.is_empty() {
        return Err(Usage(
            "no environments: name them with --env, or list them in the config file".to_owned(),
        )
        .into());
    }
    let delivery = run
        .delivery(args.kubeconfig.as_deref())?
        .with_environments_at_once(args.at_once);
    let outcomes = with_progress(run, async |reporter| {
        let progress = move |e: &DeliveryEvent| reporter.delivery(e);
        delivery
            .deliver(&envs, &args.template, &args.version, &progress)
            .await
    })??;
    let failed = outcomes.iter().filter(|o| !o.succeeded()).count();
    let text = table(
        &["environment", "namespace", "action", "from", "to", "result"],
        outcomes.iter().map(|o| {
            vec![
                o.environment.clone(),
                o.namespace.clone(),
                o.action.map_or("-", |a| a.as_str()).to_owned(),
                o.from_version.clone().unwrap_or_else(|| "-".to_owned()),
                o.to_version.clone(),
                match (&o.error, &o.report) {
                    (Some(e), _) => format!("FAILED: {e}"),
                    (None, Some(r)) => format!("revision {}", r.revision),
                    (None, None) => "unchanged".to_owned(),
                },
            ]
        }),
    );
    // Plans in the masked form (secret values never printed), errors as
    // their code and message.
    let json = outcomes
        .iter()
        .map(|o| {
            let report = match &o.report {
                Some(r) => json!({
                    "revision": r.revision,
                    "plan": masked(&r.plan)?,
                    "drift": r.drift,
                    "version": r.state.version,
                }),
                None => Value::Null,
            };
            Ok(json!({
                "environment": o.environment,
                "namespace": o.namespace,
                "action": o.action,
                "from_version": o.from_version,
                "to_version": o.to_version,
                "relocation": o.relocation,
                "report": report,
                "error": o.error.as_ref().map(|e| json!({"code": e.code(), "message": e.to_string()})),
            }))
        })
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let outcome = Outcome::new(&json, text)?;
    Ok(match failed {
        0 => outcome,
        n if n == outcomes.len() => outcome.with_exit_code(code::ERROR),
        _ => outcome.with_exit_code(code::PARTIAL),
    })
}
