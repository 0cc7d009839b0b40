//! Upgrade plans: a three-way merge of the installed state, the version it
//! came from and the version it goes to.
//!
//! The rules:
//! - image, command, probes, ports, plugins, labels and the rest of the
//!   definition follow the new version;
//! - env values and config file contents still equal to the old default
//!   take the new default; values the user changed are kept and reported
//!   with the new default (never overwritten, never silently stale);
//! - new env vars, ports, volumes and components are added; volumes are
//!   never removed or shrunk (a dropped volume is retained with its data);
//! - components the new version drops are kept and marked orphaned, or
//!   removed with `prune`, their volumes retained either way;
//! - a subset of components can be upgraded alone;
//! - steps run dependencies first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::install::Overrides;
use super::{
    Action, ComponentsAfter, Draft, DroppedCustomization, KeepReason, KeptCustomization, Plan,
    PlanKind, Rule, follow_dependencies, is_removed_entry, is_selected, new_secrets,
    only_label_differs, order, running_changes, select_modules, shown, with_rule,
};
use crate::container_env::ContainerVar;
use crate::diff::{ChangeKind, Section, line_diff};
use crate::error::{Error, Result};
use crate::installed::{InstalledComponent, InstalledState, VolumeCustomization};
use crate::model::{Component, TemplateVersion};
use crate::name_hash::NameMap;
use crate::quantity::parse_quantity;

/// Choices made for one upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeOptions {
    /// Optional modules switched on or off; modules not listed keep the
    /// installed choice, and modules new in the target follow their default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, bool>,
    /// Upgrade only these components (partial upgrade); all when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<BTreeSet<String>>,
    /// Remove components the new version no longer has, instead of keeping
    /// them orphaned. Their volumes are retained either way.
    #[serde(default)]
    pub prune: bool,
    /// Values to set on installed components, checked as at install: env
    /// values of editable variables and replicas within the template's
    /// bounds. They are recorded as customizations, so later upgrades keep
    /// them. With the installed version as the target, this reconfigures
    /// the installation in place. Storage classes are chosen at install.
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
}

/// Plans the upgrade of `installed` from version `from` to version `to`.
///
/// Fails when the three belong to different templates, when `installed`
/// is not at `from`, when `to` is older than `from`, when `to` is invalid,
/// or when an option names something unknown. A plan from a version to
/// itself is empty.
///
/// ```
/// use template_core::{plan_install, plan_upgrade, install_state, InstallOptions, UpgradeOptions, testing::minimal_version};
/// let a = minimal_version("shop", "1.0.0");
/// let mut b = minimal_version("shop", "1.1.0");
/// b.components[0].image = "registry.example.com/demo/web:1.1@sha256:1111111111111111111111111111111111111111111111111111111111111111".into();
/// let state = install_state(&plan_install(&a, &InstallOptions::default())?)?;
/// let plan = plan_upgrade(&state, &a, &b, &UpgradeOptions::default())?;
/// assert_eq!(plan.steps[0].changes[0].change.path, "components[web].image");
/// assert!(plan_upgrade(&state, &a, &a, &UpgradeOptions::default())?.is_empty());
/// # Ok::<(), template_core::Error>(())
/// ```
pub fn plan_upgrade(
    installed: &InstalledState,
    from: &TemplateVersion,
    to: &TemplateVersion,
    options: &UpgradeOptions,
) -> Result<Plan> {
    check_inputs(installed, from, to)?;
    crate::validate::ensure_valid(to)?;
    plan_checked_upgrade(installed, from, to, None, options)
}

/// [`plan_upgrade`] to a version validated beforehand: the same plan,
/// without validating `to` again.
pub fn plan_upgrade_validated(
    installed: &InstalledState,
    from: &TemplateVersion,
    to: &crate::validate::ValidatedVersion,
    options: &UpgradeOptions,
) -> Result<Plan> {
    check_inputs(installed, from, to)?;
    plan_checked_upgrade(installed, from, to, Some(to.shared_components()), options)
}

/// `shared`: the definitions of `to.components`, in order, to point at
/// instead of copying.
fn plan_checked_upgrade(
    installed: &InstalledState,
    from: &TemplateVersion,
    to: &TemplateVersion,
    shared: Option<&[Arc<Component>]>,
    options: &UpgradeOptions,
) -> Result<Plan> {
    // The plan is merged from the state with the options' values set, and
    // its steps are then described against the state as it runs.
    let original = installed;
    let wanted = with_overrides(installed, &options.overrides)?;
    let installed = wanted.as_ref().unwrap_or(original);
    let modules = select_modules(to, &options.modules, Some((&installed.modules, from)))?;
    if let Some(scope) = &options.components {
        for key in scope {
            if to.component(key).is_none() && !installed.components.contains_key(key) {
                return Err(Error::InvalidOption {
                    option: format!("components[{key}]"),
                    message: format!(
                        "`{key}` is neither installed nor part of version {}",
                        to.version
                    ),
                });
            }
        }
    }
    let in_scope = |key: &str| options.components.as_ref().is_none_or(|s| s.contains(key));

    let mut drafts = Vec::new();
    let mut labels = BTreeMap::new();
    let mut notes = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, spec) in to.components.iter().enumerate() {
        if !seen.insert(spec.key.as_str()) || !in_scope(&spec.key) || !is_selected(spec, &modules) {
            continue;
        }
        let current = installed.components.get(&spec.key);
        // Compared once: a merged copy keeps the definition as it is.
        let spec_same = current.is_some_and(|c| *c.spec == *spec);
        // Most components of a large template do not change between two
        // versions: recognise them without building a merged copy.
        if spec_same
            && let Some(current) = current
            && !current.orphaned
            && InstalledComponent::same_context(current, to)
        {
            if current.version != to.version {
                labels.insert(spec.key.clone(), to.version.clone());
            }
            continue;
        }
        let fresh = match shared.and_then(|s| s.get(index)) {
            Some(shared) => InstalledComponent::from_shared(to, shared.clone()),
            None => InstalledComponent::from_version(to, spec),
        };
        match current {
            None => {
                let why = match &spec.module {
                    Some(m) if from.component(&spec.key).is_some() || from.module(m).is_some() => {
                        format!("module `{m}` is selected")
                    }
                    Some(m) => format!("new in version {} (module `{m}`)", to.version),
                    None => format!("new in version {}", to.version),
                };
                let mut draft = Draft::new(&spec.key, Action::Create, why, None);
                draft.step.secrets = fresh.generated_secrets();
                draft.depends_on = spec.depends_on.iter().cloned().collect();
                draft.step.target = Some(fresh);
                drafts.push(draft);
            }
            Some(current) => {
                let merged = merge(current, fresh, &to.version, &mut notes);
                if merged.target == *current {
                    continue;
                }
                if spec_same && only_label_differs(current, &merged.target) {
                    labels.insert(spec.key.clone(), to.version.clone());
                    continue;
                }
                let why = update_reason(current, &merged, &to.version);
                let mut draft = Draft::new(&spec.key, Action::Update, why, None);
                draft.depends_on = spec.depends_on.iter().cloned().collect();
                draft.step.changes = merged.changes;
                draft.step.kept = merged.kept;
                draft.step.dropped = merged.dropped;
                draft.step.retained_volumes = merged.retained;
                draft.step.secrets = merged.target.generated_secrets();
                draft.step.target = Some(merged.target);
                drafts.push(draft);
            }
        }
        for dep in &spec.depends_on {
            let present =
                installed.components.get(dep).is_some_and(|c| !c.orphaned) || in_scope(dep);
            if !present {
                notes.push(format!(
                    "`{}` in version {} depends on `{dep}`, which this partial upgrade leaves out; include `{dep}` or upgrade it first",
                    spec.key, to.version
                ));
            }
        }
    }
    // First component of each key, as `to.component` finds it.
    let mut to_by_key: NameMap<'_, &Component> = NameMap::with_len(to.components.len());
    for c in &to.components {
        to_by_key.insert_first(c.key.as_str(), c);
    }
    for (key, current) in &installed.components {
        if !in_scope(key) {
            continue;
        }
        let why_leaving = match to_by_key.get(key.as_str()).copied() {
            None => format!("removed from the template in version {}", to.version),
            Some(spec) if !is_selected(spec, &modules) => {
                format!(
                    "its module `{}` is not selected",
                    spec.module.as_deref().unwrap_or_default()
                )
            }
            Some(_) => continue,
        };
        if options.prune {
            let mut draft = Draft::new(
                key,
                Action::Remove,
                format!("{why_leaving}; pruned, its volumes are kept"),
                None,
            );
            draft.depends_on = current.spec.depends_on.iter().cloned().collect();
            draft.step.retained_volumes = current.owned_volumes();
            draft.step.changes = with_rule(running_changes(key, Some(current), None), |_| {
                Rule::RemovedByNewVersion
            });
            drafts.push(draft);
        } else if !current.orphaned {
            let mut target = current.clone();
            target.orphaned = true;
            let why = format!(
                "{why_leaving}; kept running with its data as an orphan (prune to remove it)"
            );
            drafts.push(Draft::new(key, Action::Orphan, why, Some(target)));
        }
    }

    let installed = original;
    if let Some(wanted) = &wanted {
        rebase_overrides(
            installed,
            wanted,
            &options.overrides,
            &mut drafts,
            &mut labels,
        );
    }
    follow_dependencies(installed, &mut drafts, &mut labels);
    if options.components.is_some() {
        check_partial_references(installed, to, &drafts, &in_scope, &mut notes)?;
    }
    let secrets = new_secrets(installed, &drafts, &installed.secrets);
    let version_after = version_after(
        installed,
        to,
        &modules,
        &drafts,
        &labels,
        options.components.is_some(),
    );
    let (steps, order_notes) = order(drafts);
    notes.extend(order_notes);
    Ok(Plan {
        kind: PlanKind::Upgrade,
        template: to.template.id.clone(),
        from_version: Some(from.version.clone()),
        to_version: to.version.clone(),
        version_after,
        modules_after: modules,
        scope: options.components.clone(),
        steps,
        version_labels: labels,
        new_secrets: secrets,
        kept: Vec::new(),
        kept_components: Vec::new(),
        kept_secrets: Vec::new(),
        notes,
    })
}

/// Refuses a partial upgrade that leaves a component it changes referring
/// with `$(NAME)` (in env values, command or arguments) to a variable the
/// component no longer receives, when an out-of-scope dependency provides
/// it in the target version. A reference nothing provides is noted.
fn check_partial_references(
    installed: &InstalledState,
    to: &TemplateVersion,
    drafts: &[Draft],
    in_scope: &dyn Fn(&str) -> bool,
    notes: &mut Vec<String>,
) -> Result<()> {
    let after = ComponentsAfter::new(installed, drafts);
    for draft in drafts {
        let Some(target) = after.get(&draft.step.component) else {
            continue;
        };
        let key = target.spec.key.as_str();
        let unresolved = |env: Vec<ContainerVar>, c: &InstalledComponent| {
            let names: BTreeSet<String> = env.into_iter().map(|v| v.name).collect();
            references(c)
                .into_iter()
                .filter(|r| !names.contains(r))
                .collect::<BTreeSet<String>>()
        };
        let before = installed
            .components
            .get(key)
            .map(|c| unresolved(installed.container_env_of(c), c))
            .unwrap_or_default();
        for variable in unresolved(after.container_env_of(target), target) {
            if before.contains(&variable) {
                continue;
            }
            let provider = target.spec.depends_on.iter().find(|d| {
                !in_scope(d.as_str())
                    && to
                        .component(d.as_str())
                        .is_some_and(|c| provides(c, &variable))
            });
            match provider {
                Some(dependency) => {
                    return Err(Error::PartialUpgradeBreaksReference {
                        component: key.to_owned(),
                        variable,
                        dependency: dependency.clone(),
                        version: to.version.clone(),
                    });
                }
                None => notes.push(format!(
                    "`{key}` refers to `$({variable})`, which none of its dependencies provides; the reference stays as written"
                )),
            }
        }
    }
    Ok(())
}

/// The `$(NAME)` references of a component's env values, command and
/// arguments (`$$(NAME)` is an escaped literal).
fn references(c: &InstalledComponent) -> BTreeSet<String> {
    let effective = c.effective_cow();
    let texts = effective
        .env
        .iter()
        .map(|e| e.value.as_str())
        .chain(effective.command.iter().map(String::as_str))
        .chain(effective.args.iter().map(String::as_str));
    let mut out = BTreeSet::new();
    for text in texts {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i + 1 < bytes.len() {
            if bytes[i] == b'$' && bytes[i + 1] == b'$' {
                i += 2;
            } else if bytes[i] == b'$' && bytes[i + 1] == b'(' {
                match text[i + 2..].find(')') {
                    Some(end) => {
                        let name = &text[i + 2..i + 2 + end];
                        if !name.is_empty() {
                            out.insert(name.to_owned());
                        }
                        i += end + 3;
                    }
                    None => break,
                }
            } else {
                i += 1;
            }
        }
    }
    out
}

/// Whether `component` gives its dependants variable `name`.
fn provides(component: &Component, name: &str) -> bool {
    component.connection_info.iter().any(|v| v.name == name)
        || component.ports.iter().filter(|p| p.inner).any(|p| {
            let prefix = p.name.to_ascii_uppercase().replace('-', "_");
            name == format!("{prefix}_HOST") || name == format!("{prefix}_PORT")
        })
}

/// `installed` with the options' values set, each checked as at install;
/// none when the options set nothing.
fn with_overrides(installed: &InstalledState, o: &Overrides) -> Result<Option<InstalledState>> {
    if o.is_empty() {
        return Ok(None);
    }
    if o.storage_class.is_some() || !o.volume_storage_classes.is_empty() {
        return Err(Error::InvalidOption {
            option: "overrides.storage_class".to_owned(),
            message: "storage classes are chosen at install; an existing volume keeps its class"
                .to_owned(),
        });
    }
    let mut state = installed.clone();
    let component = |state: &InstalledState, key: &str, option: &str| {
        state
            .components
            .get(key)
            .cloned()
            .ok_or_else(|| Error::InvalidOption {
                option: option.to_owned(),
                message: format!(
                    "no component `{key}` is installed; overrides apply to installed components"
                ),
            })
    };
    for (key, vars) in &o.env {
        let c = component(&state, key, &format!("overrides.env[{key}]"))?;
        for (name, value) in vars {
            c.check_env_value(name, &format!("overrides.env[{key}][{name}]"))?;
            state.set_env(key, name, value)?;
        }
    }
    for (key, replicas) in &o.replicas {
        let option = format!("overrides.replicas[{key}]");
        component(&state, key, &option)?.check_replicas(*replicas, &option)?;
        state.set_replicas(key, *replicas)?;
    }
    Ok(Some(state))
}

/// Describes the drafts, merged from `wanted` (the state with the
/// options' values set), against `installed` (the state as it runs), and
/// adds a step for each component whose only change is such a value.
fn rebase_overrides(
    installed: &InstalledState,
    wanted: &InstalledState,
    o: &Overrides,
    drafts: &mut Vec<Draft>,
    labels: &mut BTreeMap<String, String>,
) {
    for (key, target) in &wanted.components {
        let Some(running) = installed.components.get(key) else {
            continue;
        };
        if running == target {
            continue;
        }
        let set_here = |c: &crate::diff::FieldChange| match c.section {
            Section::Env => c
                .item
                .as_ref()
                .is_some_and(|name| o.env.get(key).is_some_and(|v| v.contains_key(name))),
            Section::Scaling => o.replicas.contains_key(key),
            _ => false,
        };
        if let Some(draft) = drafts.iter_mut().find(|d| d.step.component == *key) {
            let Some(t) = &draft.step.target else {
                continue;
            };
            let rules: BTreeMap<String, Rule> = draft
                .step
                .changes
                .iter()
                .map(|c| (c.change.path.clone(), c.rule))
                .collect();
            draft.step.changes = with_rule(running_changes(key, Some(running), Some(t)), |c| {
                if set_here(c) {
                    Rule::SetByOption
                } else {
                    rules
                        .get(&c.path)
                        .copied()
                        .unwrap_or(Rule::FollowsNewVersion)
                }
            });
            draft.step.why.push_str("; with the values the options set");
            continue;
        }
        let mut target = target.clone();
        if let Some(version) = labels.remove(key) {
            target.version = version;
        }
        let changes = with_rule(running_changes(key, Some(running), Some(&target)), |_| {
            Rule::SetByOption
        });
        let mut what: Vec<String> = o
            .env
            .get(key)
            .into_iter()
            .flat_map(|v| v.keys().map(|n| format!("env {n}")))
            .collect();
        if o.replicas.contains_key(key) {
            what.push("replicas".to_owned());
        }
        let why = format!("the options set {}", what.join(", "));
        let mut draft = Draft::new(key, Action::Update, why, None);
        draft.depends_on = target.spec.depends_on.iter().cloned().collect();
        draft.step.changes = changes;
        draft.step.secrets = target.generated_secrets();
        draft.step.target = Some(target);
        drafts.push(draft);
    }
}

fn check_inputs(
    installed: &InstalledState,
    from: &TemplateVersion,
    to: &TemplateVersion,
) -> Result<()> {
    if from.template.id != to.template.id {
        return Err(Error::TemplateMismatch {
            expected: from.template.id.clone(),
            found: to.template.id.clone(),
        });
    }
    if installed.template != from.template.id {
        return Err(Error::TemplateMismatch {
            expected: installed.template.clone(),
            found: from.template.id.clone(),
        });
    }
    if installed.version != from.version {
        return Err(Error::StateMismatch {
            template: installed.template.clone(),
            expected: format!("version {}", from.version),
            found: format!("version {}", installed.version),
            advice: format!("plan the upgrade from version {}", installed.version),
        });
    }
    if to.semver()? < from.semver()? {
        return Err(Error::VersionNotNewer {
            base: from.version.clone(),
            new: to.version.clone(),
        });
    }
    Ok(())
}

/// The version the whole installation is at after the plan: the target
/// for a full upgrade; for a partial one, the target only once every
/// component runs it.
fn version_after(
    installed: &InstalledState,
    to: &TemplateVersion,
    modules: &BTreeSet<String>,
    drafts: &[Draft],
    labels: &BTreeMap<String, String>,
    partial: bool,
) -> String {
    if !partial {
        return to.version.clone();
    }
    let mut after: BTreeMap<&str, Option<&InstalledComponent>> = installed
        .components
        .iter()
        .map(|(k, c)| (k.as_str(), Some(c)))
        .collect();
    for d in drafts {
        after.insert(d.step.component.as_str(), d.step.target.as_ref());
    }
    let all_moved = after.iter().all(|(k, c)| match c {
        None => true,
        Some(c) => c.orphaned || c.version == to.version || labels.get(*k) == Some(&to.version),
    });
    let all_present = to
        .components
        .iter()
        .filter(|c| is_selected(c, modules))
        .all(|c| after.get(c.key.as_str()).is_some_and(Option::is_some));
    if all_moved && all_present {
        to.version.clone()
    } else {
        installed.version.clone()
    }
}

/// The outcome of merging one installed component with its new definition.
struct Merge {
    target: InstalledComponent,
    changes: Vec<super::PlannedChange>,
    kept: Vec<KeptCustomization>,
    dropped: Vec<DroppedCustomization>,
    retained: Vec<crate::model::Volume>,
}

/// What a merge keeps of the user's values and what it has to drop.
#[derive(Default)]
struct Customized {
    kept: Vec<KeptCustomization>,
    dropped: Vec<DroppedCustomization>,
}

/// The three-way merge of one component: `current` (old definition plus
/// customizations) against `target` (the new definition, uncustomized).
/// Each kind of customization is carried over by its own function below.
fn merge(
    current: &InstalledComponent,
    mut target: InstalledComponent,
    to_version: &str,
    notes: &mut Vec<String>,
) -> Merge {
    let mut customized = Customized::default();
    merge_env(current, &mut target, to_version, &mut customized, notes);
    merge_config_files(current, &mut target, &mut customized);
    merge_replicas(current, &mut target, to_version, &mut customized, notes);
    let retained = merge_volumes(current, &mut target, &mut customized);
    let key = current.spec.key.as_str();
    let changes = with_rule(running_changes(key, Some(current), Some(&target)), |c| {
        change_rule(current, c)
    });
    Merge {
        target,
        changes,
        kept: customized.kept,
        dropped: customized.dropped,
        retained,
    }
}

/// Env values the user set: kept over a new default unless the variable
/// is gone or no longer editable; reported when the default moved.
fn merge_env(
    current: &InstalledComponent,
    target: &mut InstalledComponent,
    to_version: &str,
    customized: &mut Customized,
    notes: &mut Vec<String>,
) {
    let key = current.spec.key.as_str();
    for (name, user) in &current.customizations.env {
        let secret = current.env_is_secret(name) || target.env_is_secret(name);
        let path = format!("components[{key}].env[{name}]");
        let old_default = current.env_default(name);
        match target.env_default(name).map(str::to_owned) {
            None => customized.dropped.push(DroppedCustomization {
                component: key.to_owned(),
                path,
                user_value: shown(user, secret),
            }),
            Some(new_default) if new_default == *user => {}
            // A value the new version does not let the installer choose is
            // not kept: it is reported and the template's value runs.
            Some(_) if target.check_env_value(name, &path).is_err() => {
                notes.push(format!(
                    "`{key}`: env var `{name}` is not editable in version {to_version}; your value is dropped and the template's value applies"
                ));
                customized.dropped.push(DroppedCustomization {
                    component: key.to_owned(),
                    path,
                    user_value: shown(user, secret),
                });
            }
            Some(new_default) => {
                target.customizations.env.insert(name.clone(), user.clone());
                if old_default != Some(new_default.as_str()) {
                    customized.kept.push(KeptCustomization {
                        component: key.to_owned(),
                        path,
                        reason: KeepReason::UserValue,
                        kept_value: shown(user, secret),
                        old_default: old_default.map(|d| shown(d, secret)),
                        new_default: Some(shown(&new_default, secret)),
                        lines: Vec::new(),
                    });
                }
            }
        }
    }
}

/// Config file contents the user set: kept over a new default unless the
/// file is gone; reported with a line diff when the default moved.
fn merge_config_files(
    current: &InstalledComponent,
    target: &mut InstalledComponent,
    customized: &mut Customized,
) {
    let key = current.spec.key.as_str();
    for (mount, user) in &current.customizations.config_files {
        let path = format!("components[{key}].config_files[{mount}]");
        let old_default = current
            .spec
            .config_files
            .iter()
            .find(|f| f.mount_path == *mount)
            .map(|f| f.content.as_str());
        match target
            .spec
            .config_files
            .iter()
            .find(|f| f.mount_path == *mount)
            .map(|f| f.content.clone())
        {
            None => customized.dropped.push(DroppedCustomization {
                component: key.to_owned(),
                path,
                user_value: shown(user, false),
            }),
            Some(new_default) if new_default == *user => {}
            Some(new_default) => {
                target
                    .customizations
                    .config_files
                    .insert(mount.clone(), user.clone());
                if old_default != Some(new_default.as_str()) {
                    customized.kept.push(KeptCustomization {
                        component: key.to_owned(),
                        path,
                        reason: KeepReason::UserValue,
                        kept_value: shown(user, false),
                        old_default: old_default.map(|d| shown(d, false)),
                        lines: line_diff(user, &new_default),
                        new_default: Some(shown(&new_default, false)),
                    });
                }
            }
        }
    }
}

/// A replica count the user set: kept, reported when the default moved,
/// and noted when the new bounds no longer allow it.
fn merge_replicas(
    current: &InstalledComponent,
    target: &mut InstalledComponent,
    to_version: &str,
    customized: &mut Customized,
    notes: &mut Vec<String>,
) {
    let Some(replicas) = current.customizations.replicas else {
        return;
    };
    let key = current.spec.key.as_str();
    let old_default = current.spec.scaling.min_replicas;
    let (new_min, new_max) = (
        target.spec.scaling.min_replicas,
        target.spec.scaling.max_replicas,
    );
    if replicas == new_min {
        return;
    }
    target.customizations.replicas = Some(replicas);
    if old_default != new_min {
        customized.kept.push(KeptCustomization {
            component: key.to_owned(),
            path: format!("components[{key}].replicas"),
            reason: KeepReason::UserValue,
            kept_value: replicas.into(),
            old_default: Some(old_default.into()),
            new_default: Some(new_min.into()),
            lines: Vec::new(),
        });
    }
    if replicas < new_min || replicas > new_max.max(new_min) {
        notes.push(format!(
            "`{key}` keeps your {replicas} replicas, outside the {new_min}..={new_max} that version {to_version} allows; rescale it if needed"
        ));
    }
}

/// Volumes: never shrunk and never moved to another storage class; a
/// volume the new version drops is returned, to be retained with its data.
fn merge_volumes(
    current: &InstalledComponent,
    target: &mut InstalledComponent,
    customized: &mut Customized,
) -> Vec<crate::model::Volume> {
    let key = current.spec.key.as_str();
    let mut retained = Vec::new();
    for old in current.owned_volumes() {
        let Some(new) = target
            .spec
            .volumes
            .iter()
            .find(|v| v.name == old.name)
            .cloned()
        else {
            retained.push(old);
            continue;
        };
        let path = format!("components[{key}].volumes[{}]", old.name);
        let mut custom = VolumeCustomization::default();
        if let Some(running) = &old.capacity
            && new.capacity.as_ref() != Some(running)
        {
            let grows = match (
                new.capacity.as_deref().and_then(parse_quantity),
                parse_quantity(running),
            ) {
                (Some(n), Some(r)) => n >= r,
                // Not comparable: keeping the running size is the safe side.
                _ => false,
            };
            if !grows {
                custom.capacity = Some(running.clone());
                customized.kept.push(KeptCustomization {
                    component: key.to_owned(),
                    path: format!("{path}.capacity"),
                    reason: KeepReason::VolumeNeverShrinks,
                    kept_value: running.clone().into(),
                    old_default: current
                        .spec
                        .volumes
                        .iter()
                        .find(|v| v.name == old.name)
                        .and_then(|v| v.capacity.clone())
                        .map(Into::into),
                    new_default: new.capacity.clone().map(Into::into),
                    lines: Vec::new(),
                });
            }
        }
        if let Some(class) = &old.storage_class
            && new.storage_class.as_ref() != Some(class)
        {
            custom.storage_class = Some(class.clone());
            let hint_changed = current
                .spec
                .volumes
                .iter()
                .find(|v| v.name == old.name)
                .map(|v| &v.storage_class)
                != Some(&new.storage_class);
            if hint_changed {
                customized.kept.push(KeptCustomization {
                    component: key.to_owned(),
                    path: format!("{path}.storage_class"),
                    reason: KeepReason::StorageClassFixed,
                    kept_value: class.clone().into(),
                    old_default: None,
                    new_default: new.storage_class.clone().map(Into::into),
                    lines: Vec::new(),
                });
            }
        }
        if custom.capacity.is_some() || custom.storage_class.is_some() {
            target
                .customizations
                .volumes
                .insert(old.name.clone(), custom);
        }
    }
    retained
}

/// The rule an upgrade applies to one change of a merged component.
fn change_rule(current: &InstalledComponent, c: &crate::diff::FieldChange) -> Rule {
    let customized = |section| match (section, c.item.as_deref()) {
        (Section::Env, Some(name)) => current.customizations.env.contains_key(name),
        (Section::ConfigFiles, Some(mount)) => {
            current.customizations.config_files.contains_key(mount)
        }
        _ => false,
    };
    if is_removed_entry(c, Section::Volumes) {
        Rule::VolumeRetained
    } else if (is_removed_entry(c, Section::Env) || is_removed_entry(c, Section::ConfigFiles))
        && customized(c.section)
    {
        Rule::CustomizationDropped
    } else if matches!(c.section, Section::Env | Section::ConfigFiles)
        && c.kind == ChangeKind::Changed
        && matches!(c.field.as_deref(), Some("value" | "content"))
    {
        Rule::NewDefaultTaken
    } else if c.kind == ChangeKind::Added && c.field.is_none() {
        Rule::AddedByNewVersion
    } else if c.kind == ChangeKind::Removed && c.field.is_none() {
        Rule::RemovedByNewVersion
    } else {
        Rule::FollowsNewVersion
    }
}

fn update_reason(current: &InstalledComponent, merged: &Merge, to_version: &str) -> String {
    let sections: BTreeSet<&'static str> = merged
        .changes
        .iter()
        .map(|c| section_name(c.change.section))
        .collect();
    let mut why = if sections.is_empty() {
        format!("version {to_version} changes only values you customized; your values stay")
    } else {
        format!(
            "version {to_version} changes {}",
            sections.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    if current.orphaned {
        why.push_str("; the component is part of the template again");
    }
    if !merged.kept.is_empty() {
        why.push_str(&format!("; {} value(s) kept", merged.kept.len()));
    }
    why
}

pub(crate) fn section_name(s: Section) -> &'static str {
    match s {
        Section::Metadata => "metadata",
        Section::Modules => "modules",
        Section::PluginDefinitions | Section::Plugins => "plugins",
        Section::ConfigGroups => "config groups",
        Section::Identity => "name",
        Section::Module => "module",
        Section::Image => "image",
        Section::Command => "command",
        Section::Ports => "ports",
        Section::Env => "env",
        Section::ConnectionInfo => "connection info",
        Section::ConfigFiles => "config files",
        Section::Volumes => "volumes",
        Section::Dependencies => "dependencies",
        Section::Scaling => "scaling",
        Section::Probes => "probes",
        Section::Labels => "labels",
    }
}
