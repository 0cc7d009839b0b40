//! Upgrade records and rollback plans.
//!
//! A record keeps the installed state before a plan, the plan and its
//! outcome. Rolling back to a record restores the images and configuration
//! of that snapshot, whatever happened since (later upgrades, a partly
//! failed step, another rollback). Components added since are kept unless
//! asked; volumes are never removed or shrunk; secret references are
//! never dropped.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    Action, Draft, KeepReason, KeptCustomization, Plan, PlanKind, Rule, follow_dependencies,
    is_removed_entry, new_secrets, only_label_differs, order, running_changes, with_rule,
};
use crate::error::{Error, Result};
use crate::installed::{InstalledComponent, InstalledState};
use crate::quantity::parse_quantity;

/// What happened when a plan was carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every step was done.
    Succeeded,
    /// Step `step` failed (and may be half done); the steps in
    /// `applied_steps` were done.
    FailedAtStep {
        /// Number of the failed step.
        step: usize,
        /// What went wrong, as the adapter reported it.
        message: String,
        /// Numbers of the steps whose objects were applied, in plan order.
        /// The steps of one wave run together, so steps numbered after
        /// `step` may be among them. Absent in records written before this
        /// field existed, which mean the steps numbered before `step`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        applied_steps: Option<Vec<usize>>,
    },
    /// Only these steps were done (e.g. the executor was interrupted).
    PartlyApplied {
        /// Numbers of the steps done.
        applied_steps: Vec<usize>,
    },
}

/// A plan as it was carried out, with the state before it, so it can be
/// rolled back later. Rollbacks are recorded the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpgradeRecord {
    /// The installed state before the plan ran: the rollback target.
    pub before: InstalledState,
    /// The plan that ran.
    pub plan: Plan,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started (RFC 3339), supplied by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended (RFC 3339), supplied by the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl UpgradeRecord {
    /// A record without times.
    pub fn new(before: InstalledState, plan: Plan, outcome: Outcome) -> UpgradeRecord {
        UpgradeRecord {
            before,
            plan,
            outcome,
            started_at: None,
            finished_at: None,
        }
    }

    /// The numbers of the steps that were done.
    pub fn applied_steps(&self) -> BTreeSet<usize> {
        match &self.outcome {
            Outcome::Succeeded => self.plan.steps.iter().map(|s| s.number).collect(),
            Outcome::FailedAtStep {
                applied_steps: Some(applied_steps),
                ..
            }
            | Outcome::PartlyApplied { applied_steps } => applied_steps.iter().copied().collect(),
            Outcome::FailedAtStep {
                step,
                applied_steps: None,
                ..
            } => self
                .plan
                .steps
                .iter()
                .map(|s| s.number)
                .filter(|n| n < step)
                .collect(),
        }
    }

    /// The installed state after the plan, as far as the outcome says it
    /// ran (a half-done failed step counts as not done).
    pub fn state_after(&self) -> Result<InstalledState> {
        super::apply_steps(&self.before, &self.plan, &self.applied_steps())
    }
}

/// Choices made for one rollback.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackOptions {
    /// Remove components that are not in the snapshot (those the upgrade
    /// added). By default they are kept, as the seeds' platform does.
    /// Their volumes are retained either way.
    #[serde(default)]
    pub remove_added: bool,
}

/// Plans the return from `current` to the state recorded before `record`.
///
/// ```
/// use template_core::*;
/// let a = testing::minimal_version("shop", "1.0.0");
/// let mut b = testing::minimal_version("shop", "1.1.0");
/// b.components[0].image = "registry.example.com/demo/web:1.1@sha256:1111111111111111111111111111111111111111111111111111111111111111".into();
/// let before = install_state(&plan_install(&a, &InstallOptions::default())?)?;
/// let plan = plan_upgrade(&before, &a, &b, &UpgradeOptions::default())?;
/// let outcome = Outcome::FailedAtStep { step: 1, message: "image pull failed".into(), applied_steps: Some(vec![]) };
/// let record = UpgradeRecord::new(before.clone(), plan, outcome);
/// let current = record.state_after()?;
/// let rollback = plan_rollback(&record, &current, &RollbackOptions::default())?;
/// assert_eq!(apply(&current, &rollback)?, before);
/// # Ok::<(), template_core::Error>(())
/// ```
pub fn plan_rollback(
    record: &UpgradeRecord,
    current: &InstalledState,
    options: &RollbackOptions,
) -> Result<Plan> {
    let snapshot = &record.before;
    if snapshot.template != current.template {
        return Err(Error::TemplateMismatch {
            expected: current.template.clone(),
            found: snapshot.template.clone(),
        });
    }
    if record.plan.template != snapshot.template {
        return Err(Error::TemplateMismatch {
            expected: snapshot.template.clone(),
            found: record.plan.template.clone(),
        });
    }
    let mut drafts = Vec::new();
    let mut labels = BTreeMap::new();
    let mut kept_components = Vec::new();
    let mut kept_without_step = Vec::new();
    let mut modules_after = snapshot.modules.clone();
    let back_to = if snapshot.version.is_empty() {
        "the state before install".to_owned()
    } else {
        format!("version {}", snapshot.version)
    };

    for (key, wanted) in &snapshot.components {
        match current.components.get(key) {
            None => {
                let why = format!(
                    "{key} was removed after the snapshot; recreated as it was at {back_to}, reattaching retained volumes"
                );
                let mut draft = Draft::new(key, Action::Restore, why, Some(wanted.clone()));
                draft.step.secrets = wanted.generated_secrets();
                drafts.push(draft);
            }
            Some(running) => {
                let (target, kept) = never_shrink(running, wanted.clone());
                if target == *running {
                    continue;
                }
                if only_label_differs(running, &target) {
                    labels.insert(key.clone(), target.version.clone());
                    kept_without_step.extend(kept);
                    continue;
                }
                let why = format!(
                    "restore image and configuration of {back_to} (component definition of {})",
                    target.version
                );
                let mut draft = Draft::new(key, Action::Restore, why, None);
                draft.step.changes =
                    with_rule(running_changes(key, Some(running), Some(&target)), |c| {
                        if is_removed_entry(c, crate::diff::Section::Volumes) {
                            Rule::VolumeRetained
                        } else {
                            Rule::RestoredFromSnapshot
                        }
                    });
                let restored: BTreeSet<String> =
                    target.owned_volumes().into_iter().map(|v| v.name).collect();
                draft.step.retained_volumes = running
                    .owned_volumes()
                    .into_iter()
                    .filter(|v| !restored.contains(&v.name))
                    .collect();
                draft.step.kept = kept;
                draft.step.secrets = target.generated_secrets();
                draft.depends_on = target.spec.depends_on.iter().cloned().collect();
                draft.step.target = Some(target);
                drafts.push(draft);
            }
        }
    }
    for (key, running) in &current.components {
        if snapshot.components.contains_key(key) {
            continue;
        }
        if options.remove_added {
            let why = format!(
                "{key} was not installed at {back_to}; removed on request, its volumes are kept"
            );
            let mut draft = Draft::new(key, Action::Remove, why, None);
            draft.depends_on = running.spec.depends_on.iter().cloned().collect();
            draft.step.retained_volumes = running.owned_volumes();
            draft.step.changes = with_rule(running_changes(key, Some(running), None), |_| {
                Rule::RestoredFromSnapshot
            });
            drafts.push(draft);
        } else {
            kept_components.push(key.clone());
            if let Some(m) = &running.spec.module {
                modules_after.insert(m.clone());
            }
        }
    }

    let kept_secrets = current
        .secrets
        .keys()
        .filter(|k| !snapshot.secrets.contains_key(*k))
        .cloned()
        .collect();
    follow_dependencies(current, &mut drafts, &mut labels);
    let secrets = new_secrets(current, &drafts, &current.secrets);
    let (steps, notes) = order(drafts);
    Ok(Plan {
        kind: PlanKind::Rollback,
        template: snapshot.template.clone(),
        from_version: Some(current.version.clone()),
        to_version: snapshot.version.clone(),
        version_after: snapshot.version.clone(),
        modules_after,
        scope: None,
        steps,
        version_labels: labels,
        new_secrets: secrets,
        kept: kept_without_step,
        kept_components,
        kept_secrets,
        notes,
    })
}

/// The snapshot's component, except that a volume larger now than in the
/// snapshot keeps its size (Kubernetes cannot shrink a claim; Helm's
/// rollback fails on exactly this) and an existing volume keeps its class.
fn never_shrink(
    running: &InstalledComponent,
    mut target: InstalledComponent,
) -> (InstalledComponent, Vec<KeptCustomization>) {
    let mut kept = Vec::new();
    let key = running.spec.key.clone();
    let names: Vec<String> = target.owned_volumes().into_iter().map(|v| v.name).collect();
    for name in names {
        let Some(now) = running.volume_capacity(&name).map(str::to_owned) else {
            continue;
        };
        let then = target.volume_capacity(&name).map(str::to_owned);
        let larger_now = match then.as_deref().map(parse_quantity) {
            Some(Some(t)) => parse_quantity(&now).is_some_and(|n| n > t),
            Some(None) => then.as_deref() != Some(now.as_str()),
            None => true,
        };
        if larger_now {
            target
                .customizations
                .volumes
                .entry(name.clone())
                .or_default()
                .capacity = Some(now.clone());
            kept.push(KeptCustomization {
                component: key.clone(),
                path: format!("components[{key}].volumes[{name}].capacity"),
                reason: KeepReason::VolumeNeverShrinks,
                kept_value: now.into(),
                old_default: None,
                new_default: then.map(Into::into),
                lines: Vec::new(),
            });
        }
        if let Some(class) = running.volume_storage_class(&name).map(str::to_owned)
            && target.volume_storage_class(&name) != Some(class.as_str())
        {
            let then = target.volume_storage_class(&name).map(str::to_owned);
            target
                .customizations
                .volumes
                .entry(name.clone())
                .or_default()
                .storage_class = Some(class.clone());
            kept.push(KeptCustomization {
                component: key.clone(),
                path: format!("components[{key}].volumes[{name}].storage_class"),
                reason: KeepReason::StorageClassFixed,
                kept_value: class.into(),
                old_default: None,
                new_default: then.map(Into::into),
                lines: Vec::new(),
            });
        }
    }
    (target, kept)
}
