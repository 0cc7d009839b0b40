//! Install plans: every selected component created, dependencies first,
//! with the environment's overrides recorded as customizations so later
//! upgrades keep them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Action, Draft, Plan, PlanKind, is_selected, new_secrets, order, select_modules};
use crate::error::{Error, Result};
use crate::installed::{InstalledComponent, InstalledState};
use crate::model::{Component, TemplateVersion};

/// Choices made when installing a version into one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallOptions {
    /// Optional modules switched on (`true`) or off (`false`); modules not
    /// listed follow their `enabled_by_default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, bool>,
    /// Per-environment values.
    #[serde(default)]
    pub overrides: Overrides,
}

/// Per-environment values that differ from the template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Env values: component key → variable name → value. Only editable
    /// variables may be overridden.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, BTreeMap<String, String>>,
    /// Replicas per component key, within the component's bounds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replicas: BTreeMap<String, u32>,
    /// Storage class for every volume of the installation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Storage class per volume, as `component/volume`; wins over
    /// `storage_class`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_storage_classes: BTreeMap<String, String>,
}

impl Overrides {
    /// Whether no value is overridden.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.replicas.is_empty()
            && self.storage_class.is_none()
            && self.volume_storage_classes.is_empty()
    }
}

/// Plans the installation of `version`: one create step per selected
/// component, in waves by dependency, and the secrets to generate.
///
/// The version must be valid; options naming unknown modules, components,
/// variables or volumes, or overriding what may not be changed, are
/// refused with [`Error::InvalidOption`].
///
/// ```
/// use template_core::{plan_install, install_state, InstallOptions, testing::minimal_version};
/// let v = minimal_version("shop", "1.0.0");
/// let plan = plan_install(&v, &InstallOptions::default())?;
/// assert_eq!(plan.steps.len(), 1);
/// let state = install_state(&plan)?;
/// assert_eq!(state.version, "1.0.0");
/// # Ok::<(), template_core::Error>(())
/// ```
pub fn plan_install(version: &TemplateVersion, options: &InstallOptions) -> Result<Plan> {
    crate::validate::ensure_valid(version)?;
    plan_checked_install(version, None, options)
}

/// [`plan_install`] of a version validated beforehand: the same plan,
/// without validating it again, its steps pointing at the version's
/// shared definitions instead of copies.
pub fn plan_install_validated(
    version: &crate::validate::ValidatedVersion,
    options: &InstallOptions,
) -> Result<Plan> {
    plan_checked_install(version, Some(version.shared_components()), options)
}

/// `shared`: the definitions of `version.components`, in order, to point
/// at instead of copying.
fn plan_checked_install(
    version: &TemplateVersion,
    shared: Option<&[Arc<Component>]>,
    options: &InstallOptions,
) -> Result<Plan> {
    let modules = select_modules(version, &options.modules, None)?;
    check_override_targets(version, &modules, &options.overrides)?;
    let mut drafts = Vec::new();
    for (index, spec) in version.components.iter().enumerate() {
        if !is_selected(spec, &modules) {
            continue;
        }
        let mut target = match shared.and_then(|s| s.get(index)) {
            Some(shared) => InstalledComponent::from_shared(version, shared.clone()),
            None => InstalledComponent::from_version(version, spec),
        };
        apply_overrides(&mut target, &options.overrides)?;
        let why = match &spec.module {
            Some(m) => format!("part of module `{m}` of version {}", version.version),
            None => format!("part of version {}", version.version),
        };
        let mut draft = Draft::new(&spec.key, Action::Create, why, None);
        draft.depends_on = spec.depends_on.iter().cloned().collect();
        draft.step.secrets = target.generated_secrets();
        draft.step.target = Some(target);
        drafts.push(draft);
    }
    let secrets = new_secrets(
        &InstalledState::empty(&version.template.id),
        &drafts,
        &BTreeMap::new(),
    );
    let (steps, notes) = order(drafts);
    Ok(Plan {
        kind: PlanKind::Install,
        template: version.template.id.clone(),
        from_version: None,
        to_version: version.version.clone(),
        version_after: version.version.clone(),
        modules_after: modules,
        scope: None,
        steps,
        version_labels: BTreeMap::new(),
        new_secrets: secrets,
        kept: Vec::new(),
        kept_components: Vec::new(),
        kept_secrets: Vec::new(),
        notes,
    })
}

/// Refuses overrides aimed at components that are not installed.
fn check_override_targets(
    version: &TemplateVersion,
    modules: &BTreeSet<String>,
    o: &Overrides,
) -> Result<()> {
    let installed = |key: &str| {
        version
            .component(key)
            .is_some_and(|c| is_selected(c, modules))
    };
    let keys = o
        .env
        .keys()
        .map(|k| (k.as_str(), format!("overrides.env[{k}]")))
        .chain(
            o.replicas
                .keys()
                .map(|k| (k.as_str(), format!("overrides.replicas[{k}]"))),
        )
        .chain(o.volume_storage_classes.keys().map(|k| {
            (
                k.split_once('/').map(|(c, _)| c).unwrap_or(k.as_str()),
                format!("overrides.volume_storage_classes[{k}]"),
            )
        }));
    for (key, option) in keys {
        if !installed(key) {
            return Err(Error::InvalidOption {
                option,
                message: format!(
                    "component `{key}` is not part of this installation (unknown key, or its module is not selected)"
                ),
            });
        }
    }
    Ok(())
}

/// Records the environment's overrides on one component as customizations.
fn apply_overrides(target: &mut InstalledComponent, o: &Overrides) -> Result<()> {
    let key = target.spec.key.clone();
    if let Some(vars) = o.env.get(&key) {
        for (name, value) in vars {
            let option = format!("overrides.env[{key}][{name}]");
            let var = target.check_env_value(name, &option)?;
            if var.value != *value {
                target
                    .customizations
                    .env
                    .insert(name.clone(), value.clone());
            }
        }
    }
    if let Some(&replicas) = o.replicas.get(&key) {
        target.check_replicas(replicas, &format!("overrides.replicas[{key}]"))?;
        let s = &target.spec.scaling;
        if replicas != s.min_replicas {
            target.customizations.replicas = Some(replicas);
        }
    }
    let mut named: BTreeSet<&str> = o
        .volume_storage_classes
        .keys()
        .filter_map(|k| k.split_once('/').filter(|(c, _)| *c == key).map(|(_, v)| v))
        .collect();
    for vol in target
        .spec
        .volumes
        .iter()
        .filter(|v| v.shared_from.is_none())
    {
        named.remove(vol.name.as_str());
        let class = o
            .volume_storage_classes
            .get(&format!("{key}/{}", vol.name))
            .or(o.storage_class.as_ref());
        if let Some(class) = class.filter(|c| vol.storage_class.as_ref() != Some(*c)) {
            target
                .customizations
                .volumes
                .entry(vol.name.clone())
                .or_default()
                .storage_class = Some(class.clone());
        }
    }
    if let Some(unknown) = named.into_iter().next() {
        return Err(Error::InvalidOption {
            option: format!("overrides.volume_storage_classes[{key}/{unknown}]"),
            message: format!("component `{key}` owns no volume `{unknown}`"),
        });
    }
    Ok(())
}
