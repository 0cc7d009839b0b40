//! Install, upgrade and rollback plans: values that say, step by step,
//! what will change and why, for a person to read before confirming and
//! for the Kubernetes adapter to carry out.
//!
//! One [`Plan`] type serves all three kinds. Each [`Step`] touches one
//! component and carries its target state, so [`apply`] (a pure function)
//! can compute the installed state after any prefix or subset of steps;
//! that is how a partly failed upgrade is described and rolled back.

mod apply;
mod install;
mod record;
mod render;
mod rollback;
mod upgrade;
mod waves;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use apply::{apply, apply_steps, install_state};
pub use install::{InstallOptions, Overrides, plan_install, plan_install_validated};
pub use record::RecordSummary;
pub use rollback::{Outcome, RollbackOptions, UpgradeRecord, plan_rollback};
pub use upgrade::{UpgradeOptions, plan_upgrade, plan_upgrade_validated};

use crate::container_env::{ContainerVar, EnvValue, container_env_with};
use crate::diff::{self, ChangeKind, FieldChange, LineHunk, Section};
use crate::error::{Error, Result};
use crate::installed::{InstalledComponent, InstalledState};
use crate::model::{ConnectionVar, Port, SecretRule, TemplateVersion, Volume};

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// First installation of a version.
    Install,
    /// Move to a newer version (all components or a chosen subset).
    Upgrade,
    /// Return to the state recorded before an earlier plan.
    Rollback,
}

/// An ordered, explained list of changes to one installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Install, upgrade or rollback.
    pub kind: PlanKind,
    /// Template id.
    pub template: String,
    /// Version the installation is at before the plan (none for install).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// Version the plan moves to.
    pub to_version: String,
    /// Version the installation as a whole is at once every step is done;
    /// a partial upgrade leaves it at `from_version` until every component
    /// has moved.
    pub version_after: String,
    /// Selected modules once every step is done.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub modules_after: BTreeSet<String>,
    /// The components a partial upgrade is limited to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<BTreeSet<String>>,
    /// The steps in execution order (by wave, then component key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Components whose definition is unchanged but now counts as part of
    /// another version: component key → version. Nothing runs differently,
    /// so they need no step; [`apply`] relabels them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version_labels: BTreeMap<String, String>,
    /// Generated secrets the plan needs that the installation lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_secrets: Vec<SecretToGenerate>,
    /// Values kept on components that need no step (e.g. a rollback that
    /// only relabels a component whose volume has grown since).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptCustomization>,
    /// Components a rollback leaves in place because the rolled-back plan
    /// added them (removed only when asked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_components: Vec<String>,
    /// Secret references a rollback keeps though the target state did not
    /// have them: data may already be protected by their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_secrets: Vec<String>,
    /// Things worth knowing that are not changes (e.g. replicas outside
    /// the new bounds, a dependency cycle in an invalid state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One step: one component created, updated, restored, orphaned or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// Position in the plan, from 1; "failed at step N" refers to it.
    pub number: usize,
    /// Wave, from 1: a step's dependencies are done in earlier waves;
    /// steps of one wave are independent of each other.
    pub wave: usize,
    /// Component key.
    pub component: String,
    /// What happens to the component.
    pub action: Action,
    /// Why, in one sentence.
    pub why: String,
    /// What changes in the running component, each with the rule behind it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PlannedChange>,
    /// Values deliberately not changed: the user's value wins over a new
    /// default, or a volume is not shrunk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptCustomization>,
    /// Customizations that no longer apply because the new version removed
    /// what they customized, or no longer lets the installer choose it.
    /// Reported, never dropped silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedCustomization>,
    /// Generated secrets the component uses (reference → rule).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRule>,
    /// Volumes this step stops mounting; their data is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained_volumes: Vec<Volume>,
    /// The component after the step; none when it is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<InstalledComponent>,
}

/// What a step does to its component.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Install a component that is not there.
    Create,
    /// Move a component to a new definition.
    Update,
    /// Put a component back as a snapshot recorded it.
    Restore,
    /// Keep a component the template no longer has, marked orphaned.
    Orphan,
    /// Remove a component; its volumes are retained.
    Remove,
}

/// A change in a running component and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedChange {
    /// The change (path, old and new running value, secrets masked).
    #[serde(flatten)]
    pub change: FieldChange,
    /// Why it changes.
    pub rule: Rule,
}

/// The upgrade and rollback rules, as named reasons.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Image, command, probes, ports, plugins, labels, scaling and the rest
    /// of the definition follow the new version.
    FollowsNewVersion,
    /// The new version adds it.
    AddedByNewVersion,
    /// The new version removes it.
    RemovedByNewVersion,
    /// The running value still equalled the old default, so it takes the
    /// new default.
    NewDefaultTaken,
    /// The user had customized it, but the new version removes it.
    CustomizationDropped,
    /// The volume is no longer mounted; its data is kept.
    VolumeRetained,
    /// Put back as recorded in the snapshot.
    RestoredFromSnapshot,
    /// Injected by a dependency, which now provides another value (or
    /// none): the component's own definition is unchanged.
    FollowsDependency,
    /// Set by the operation's options (overrides).
    SetByOption,
}

/// A value kept on purpose against the target definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeptCustomization {
    /// Component key.
    pub component: String,
    /// Path of the value, e.g. `components[upms].env[JAVA_OPTS]`.
    pub path: String,
    /// Why it is kept.
    pub reason: KeepReason,
    /// The value that stays (masked if secret).
    pub kept_value: Value,
    /// The default of the version planned from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_default: Option<Value>,
    /// The default of the target (masked if secret), which did not win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_default: Option<Value>,
    /// For config files: line diff from the kept content to the new
    /// default, to merge by hand if wanted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineHunk>,
}

/// Why a value is kept.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The user changed it after install; the new default does not overwrite it.
    UserValue,
    /// Volumes never shrink; the larger running size stays.
    VolumeNeverShrinks,
    /// An existing volume cannot change storage class; the running one stays.
    StorageClassFixed,
}

/// A customization that no longer applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DroppedCustomization {
    /// Component key.
    pub component: String,
    /// Path of the customized value.
    pub path: String,
    /// The user's value (masked if secret), for the record.
    pub user_value: Value,
}

/// A secret to generate before the plan runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecretToGenerate {
    /// Reference (see [`crate::installed::secret_reference`]).
    pub reference: String,
    /// How to generate it.
    pub rule: SecretRule,
    /// `component.VARIABLE` entries that use it.
    pub used_by: Vec<String>,
}

impl Plan {
    /// Whether the plan changes nothing and reports nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
            && self.version_labels.is_empty()
            && self.kept.is_empty()
            && self.new_secrets.is_empty()
            && self.kept_components.is_empty()
            && self.kept_secrets.is_empty()
            && self.from_version.as_deref() == Some(self.version_after.as_str())
    }

    /// The step with this number.
    pub fn step(&self, number: usize) -> Option<&Step> {
        self.steps.iter().find(|s| s.number == number)
    }

    /// Every kept value of every step.
    pub fn kept_customizations(&self) -> impl Iterator<Item = &KeptCustomization> {
        self.steps
            .iter()
            .flat_map(|s| s.kept.iter())
            .chain(&self.kept)
    }

    /// Every dropped customization of every step.
    pub fn dropped_customizations(&self) -> impl Iterator<Item = &DroppedCustomization> {
        self.steps.iter().flat_map(|s| s.dropped.iter())
    }

    /// Components the plan marks orphaned.
    pub fn orphaned(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .filter(|s| s.action == Action::Orphan)
            .map(|s| s.component.as_str())
    }

    /// Pretty-printed JSON for people and consoles, deterministic (same
    /// plan, same bytes), with every secret value masked: secret env
    /// defaults and connection info in the targets, and customized values
    /// of secret variables. [`Plan::to_json_unmasked`] (and the plain
    /// `Serialize` form) keep them, because executing and recording a plan
    /// needs the real values; store that form, show this one.
    pub fn to_json(&self) -> Result<String> {
        let mut value = diff::to_value(self);
        for (i, step) in self.steps.iter().enumerate() {
            let Some(target) = &step.target else { continue };
            let Some(env) = value
                .pointer_mut(&format!("/steps/{i}/target/customizations/env"))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (name, v) in env.iter_mut() {
                if target.env_is_secret(name) {
                    *v = Value::String(diff::MASK.to_owned());
                }
            }
        }
        diff::mask_secrets(&mut value);
        diff::to_json(&value)
    }

    /// Deterministic JSON of the whole plan with every value in clear,
    /// secret env values included: the form to record and carry out.
    /// Show [`Plan::to_json`] to people; `Debug` masks secrets too.
    pub fn to_json_unmasked(&self) -> Result<String> {
        diff::to_json(&diff::to_value(self))
    }

    /// The text rendering for people (also available through `Display`).
    pub fn render_text(&self) -> String {
        self.to_string()
    }
}

/// A step before it is placed in a wave and numbered.
pub(crate) struct Draft {
    pub(crate) step: Step,
    /// Dependencies used for ordering.
    pub(crate) depends_on: BTreeSet<String>,
}

impl Draft {
    pub(crate) fn new(
        component: &str,
        action: Action,
        why: String,
        target: Option<InstalledComponent>,
    ) -> Draft {
        let depends_on = target
            .as_ref()
            .map(|t| t.spec.depends_on.iter().cloned().collect())
            .unwrap_or_default();
        Draft {
            step: Step {
                number: 0,
                wave: 0,
                component: component.to_owned(),
                action,
                why,
                changes: Vec::new(),
                kept: Vec::new(),
                dropped: Vec::new(),
                secrets: BTreeMap::new(),
                retained_volumes: Vec::new(),
                target,
            },
            depends_on,
        }
    }
}

/// Orders drafts into waves and numbers them: components that stay or
/// arrive go dependencies first; components that leave (orphan, remove)
/// come after, dependants first, so nothing loses a dependency while it
/// still runs. Returns the steps and a note if a cycle forced an order.
pub(crate) fn order(drafts: Vec<Draft>) -> (Vec<Step>, Vec<String>) {
    let (leaving, staying): (Vec<Draft>, Vec<Draft>) = drafts
        .into_iter()
        .partition(|d| matches!(d.step.action, Action::Orphan | Action::Remove));
    let mut notes = Vec::new();
    let mut steps = Vec::new();
    let mut wave = 0;
    for (group, reverse) in [(staying, false), (leaving, true)] {
        let graph: BTreeMap<String, BTreeSet<String>> = group
            .iter()
            .map(|d| (d.step.component.clone(), d.depends_on.clone()))
            .collect();
        let (mut layers, cyclic) = waves::layers(&graph);
        if !cyclic.is_empty() {
            notes.push(format!(
                "components {} depend on each other in a cycle; they are ordered by key in one wave",
                cyclic.join(", ")
            ));
        }
        if reverse {
            layers.reverse();
        }
        let mut by_key: BTreeMap<String, Step> = group
            .into_iter()
            .map(|d| (d.step.component.clone(), d.step))
            .collect();
        for layer in layers {
            wave += 1;
            for key in layer {
                if let Some(mut step) = by_key.remove(&key) {
                    step.wave = wave;
                    steps.push(step);
                }
            }
        }
    }
    for (i, step) in steps.iter_mut().enumerate() {
        step.number = i + 1;
    }
    (steps, notes)
}

/// The running differences between two states of one component, with
/// secrets masked: its effective definition (customizations applied),
/// shared variables included, and its plugin definitions.
pub(crate) fn running_changes(
    key: &str,
    old: Option<&InstalledComponent>,
    new: Option<&InstalledComponent>,
) -> Vec<FieldChange> {
    let old_eff = old.map(InstalledComponent::effective_cow);
    let new_eff = new.map(InstalledComponent::effective_cow);
    let mut changes = diff::component_changes(key, old_eff.as_deref(), new_eff.as_deref());
    let old_plugins = old.map_or(&[][..], |c| &c.plugin_definitions);
    let new_plugins = new.map_or(&[][..], |c| &c.plugin_definitions);
    if old_plugins != new_plugins {
        diff::plugin_definition_changes(
            &mut changes,
            &format!("components[{key}]"),
            Section::Plugins,
            old_plugins,
            new_plugins,
        );
    }
    changes
}

/// Whether two states of a component differ only in their version label.
pub(crate) fn only_label_differs(a: &InstalledComponent, b: &InstalledComponent) -> bool {
    a.version != b.version
        && a.spec == b.spec
        && a.shared_env == b.shared_env
        && a.plugin_definitions == b.plugin_definitions
        && a.customizations == b.customizations
        && a.orphaned == b.orphaned
}

/// The modules selected in `version`: required modules always; optional
/// ones as `requested` says, else as `previous` had them if the module
/// existed in `previous_modules`, else by their default. Unknown keys and
/// attempts to leave out a required module are refused.
pub(crate) fn select_modules(
    version: &TemplateVersion,
    requested: &BTreeMap<String, bool>,
    previous: Option<(&BTreeSet<String>, &TemplateVersion)>,
) -> Result<BTreeSet<String>> {
    for (key, on) in requested {
        match version.module(key) {
            None => {
                return Err(Error::InvalidOption {
                    option: format!("modules[{key}]"),
                    message: format!(
                        "version {} has no module `{key}`; choose from: {}",
                        version.version,
                        version
                            .modules
                            .iter()
                            .map(|m| m.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            Some(m) if !m.optional && !on => {
                return Err(Error::InvalidOption {
                    option: format!("modules[{key}]"),
                    message: format!("module `{key}` is required and cannot be left out"),
                });
            }
            Some(_) => {}
        }
    }
    let mut selected = BTreeSet::new();
    for m in &version.modules {
        let on = if !m.optional {
            true
        } else if let Some(on) = requested.get(&m.key) {
            *on
        } else if let Some((chosen, _)) = previous.filter(|(_, prev)| prev.module(&m.key).is_some())
        {
            chosen.contains(&m.key)
        } else {
            m.enabled_by_default
        };
        if on {
            selected.insert(m.key.clone());
        }
    }
    Ok(selected)
}

/// Whether a component of `version` is installed under `modules`.
pub(crate) fn is_selected(component: &crate::model::Component, modules: &BTreeSet<String>) -> bool {
    component
        .module
        .as_ref()
        .is_none_or(|m| modules.contains(m))
}

/// Secrets used by the drafts' targets that `existing` lacks, each listed
/// once with every `component.VAR` of the state once the drafts are done
/// (from `before`) that receives it: the components that declare it and
/// their dependants.
pub(crate) fn new_secrets(
    before: &InstalledState,
    drafts: &[Draft],
    existing: &BTreeMap<String, SecretRule>,
) -> Vec<SecretToGenerate> {
    let mut out: BTreeMap<String, SecretToGenerate> = BTreeMap::new();
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in drafts.iter().filter_map(|d| d.step.target.as_ref()) {
        for var in &t.spec.connection_info {
            let (Some(reference), Some(rule)) = (
                crate::installed::secret_reference(&t.spec.key, var),
                var.generate.clone(),
            ) else {
                continue;
            };
            if existing.contains_key(&reference) {
                continue;
            }
            declared
                .entry(reference.clone())
                .or_default()
                .push(format!("{}.{}", t.spec.key, var.name));
            out.entry(reference.clone())
                .or_insert_with(|| SecretToGenerate {
                    reference,
                    rule,
                    used_by: Vec::new(),
                });
        }
    }
    if out.is_empty() {
        return Vec::new();
    }
    let after = ComponentsAfter::new(before, drafts);
    for (key, component) in after.iter() {
        for var in after.container_env_of(component) {
            if let EnvValue::Generated { reference } = &var.value
                && let Some(secret) = out.get_mut(reference)
            {
                secret.used_by.push(format!("{key}.{}", var.name));
            }
        }
    }
    for (reference, secret) in &mut out {
        // A declarer that shadows its own variable still needs the value
        // stored; name it so the secret is never listed as unused.
        if secret.used_by.is_empty() {
            secret.used_by = declared.remove(reference).unwrap_or_default();
        }
    }
    out.into_values().collect()
}

/// The components `before` has once every draft is done (version labels
/// aside), by key. It borrows them: a plan asks about that state for a few
/// components, and copying every component of a large installation would
/// cost more than planning itself.
pub(crate) struct ComponentsAfter<'a>(BTreeMap<&'a str, &'a InstalledComponent>);

impl<'a> ComponentsAfter<'a> {
    pub(crate) fn new(before: &'a InstalledState, drafts: &'a [Draft]) -> Self {
        let mut after: BTreeMap<&str, &InstalledComponent> = before
            .components
            .iter()
            .map(|(k, c)| (k.as_str(), c))
            .collect();
        for d in drafts {
            match (&d.step.action, &d.step.target) {
                (Action::Remove, _) | (_, None) => {
                    after.remove(d.step.component.as_str());
                }
                (_, Some(target)) => {
                    after.insert(d.step.component.as_str(), target);
                }
            }
        }
        ComponentsAfter(after)
    }

    /// The component with this key.
    pub(crate) fn get(&self, key: &str) -> Option<&'a InstalledComponent> {
        self.0.get(key).copied()
    }

    /// Every component, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &'a InstalledComponent)> + '_ {
        self.0.iter().map(|(k, c)| (*k, *c))
    }

    /// [`InstalledState::container_env_of`] in this state.
    pub(crate) fn container_env_of(&self, installed: &'a InstalledComponent) -> Vec<ContainerVar> {
        container_env_with(installed, |key| self.get(key))
    }
}

/// Adds an update step for every component the drafts leave alone whose
/// container environment they change: a dependency that now provides
/// other connection info or ports, or that arrives or leaves. The step's
/// target is the component as it runs (relabelled if `labels` moves it to
/// another version); its changes list the variables that change.
pub(crate) fn follow_dependencies(
    before: &InstalledState,
    drafts: &mut Vec<Draft>,
    labels: &mut BTreeMap<String, String>,
) {
    fn provides(c: Option<&InstalledComponent>) -> Option<(&[ConnectionVar], Vec<&Port>)> {
        c.map(|c| {
            (
                c.spec.connection_info.as_slice(),
                c.spec.ports.iter().filter(|p| p.inner).collect(),
            )
        })
    }
    // What the drafted components provide decides whether anything else
    // needs a look; most upgrades change no connection info.
    let mut drafted: BTreeMap<&str, Option<&InstalledComponent>> = BTreeMap::new();
    for d in drafts.iter() {
        let target = match (&d.step.action, &d.step.target) {
            (Action::Remove, _) | (_, None) => None,
            (_, Some(target)) => Some(target),
        };
        drafted.insert(d.step.component.as_str(), target);
    }
    let changed: BTreeSet<&str> = drafted
        .iter()
        .filter(|(k, after)| provides(before.components.get(**k)) != provides(**after))
        .map(|(k, _)| *k)
        .collect();
    if changed.is_empty() {
        return;
    }
    let after = ComponentsAfter::new(before, drafts);
    let mut added = Vec::new();
    for (key, component) in after.iter() {
        if drafted.contains_key(key) {
            continue;
        }
        let sources: Vec<&str> = component
            .spec
            .depends_on
            .iter()
            .map(String::as_str)
            .filter(|d| changed.contains(d))
            .collect();
        if sources.is_empty() {
            continue;
        }
        let old_env = before.container_env(key).unwrap_or_default();
        let new_env = after.container_env_of(component);
        if old_env == new_env {
            continue;
        }
        let reasons: Vec<String> = sources
            .iter()
            .map(
                |d| match (before.components.contains_key(*d), after.get(d).is_some()) {
                    (true, false) => format!("{d} is no longer installed"),
                    (false, true) => format!("{d} is now installed"),
                    _ => format!("connection info of {d} changed"),
                },
            )
            .collect();
        let why = format!(
            "{}; its own definition is unchanged, its environment follows",
            reasons.join("; ")
        );
        let mut target = component.clone();
        if let Some(version) = labels.remove(key) {
            target.version = version;
        }
        let mut draft = Draft::new(key, Action::Update, why, Some(target));
        draft.step.changes = env_changes(key, &old_env, &new_env);
        draft.step.secrets = component.generated_secrets();
        added.push(draft);
    }
    drafts.extend(added);
}

/// Changes of a container environment, as planned changes.
fn env_changes(key: &str, old: &[ContainerVar], new: &[ContainerVar]) -> Vec<PlannedChange> {
    let shown_value = |v: &EnvValue| match v {
        EnvValue::Plain { value } => Value::String(value.clone()),
        EnvValue::Address { component } => Value::String(format!("address of {component}")),
        EnvValue::ComponentSecret { .. } | EnvValue::Generated { .. } => {
            Value::String(diff::MASK.to_owned())
        }
    };
    let old_by: BTreeMap<&str, &ContainerVar> = old.iter().map(|v| (v.name.as_str(), v)).collect();
    let new_by: BTreeMap<&str, &ContainerVar> = new.iter().map(|v| (v.name.as_str(), v)).collect();
    let names: BTreeSet<&str> = old_by.keys().chain(new_by.keys()).copied().collect();
    let mut out = Vec::new();
    for name in names {
        let (o, n) = (old_by.get(name), new_by.get(name));
        if o.map(|v| &v.value) == n.map(|v| &v.value) {
            continue;
        }
        let (kind, field) = match (o, n) {
            (None, _) => (ChangeKind::Added, None),
            (_, None) => (ChangeKind::Removed, None),
            _ => (ChangeKind::Changed, Some("value".to_owned())),
        };
        let secret =
            o.is_some_and(|v| v.value.is_secret()) || n.is_some_and(|v| v.value.is_secret());
        let path = match &field {
            Some(f) => format!("components[{key}].env[{name}].{f}"),
            None => format!("components[{key}].env[{name}]"),
        };
        out.push(PlannedChange {
            change: FieldChange {
                path,
                section: Section::Env,
                item: Some(name.to_owned()),
                field,
                kind,
                old: o.map(|v| shown_value(&v.value)),
                new: n.map(|v| shown_value(&v.value)),
                secret,
                lines: Vec::new(),
            },
            rule: Rule::FollowsDependency,
        });
    }
    out
}

/// A masked or plain JSON string for reports.
pub(crate) fn shown(value: &str, secret: bool) -> Value {
    if secret {
        Value::String(diff::MASK.to_owned())
    } else {
        Value::String(value.to_owned())
    }
}

/// Tags changes with `rule`.
pub(crate) fn with_rule(
    changes: Vec<FieldChange>,
    rule: impl Fn(&FieldChange) -> Rule,
) -> Vec<PlannedChange> {
    changes
        .into_iter()
        .map(|change| {
            let rule = rule(&change);
            PlannedChange { change, rule }
        })
        .collect()
}

/// Whether a change is a whole entry of `section` removed.
pub(crate) fn is_removed_entry(c: &FieldChange, section: Section) -> bool {
    c.section == section && c.kind == ChangeKind::Removed && c.field.is_none()
}
