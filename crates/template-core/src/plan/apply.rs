//! The installed state after a plan, or after some of its steps: the pure
//! counterpart of what the Kubernetes adapter does, used to record state
//! and to check the plan laws.

use std::collections::BTreeSet;

use super::{Action, Plan};
use crate::error::{Error, Result};
use crate::installed::{InstalledState, RetainedVolume};

/// The state after every step of `plan`.
pub fn apply(state: &InstalledState, plan: &Plan) -> Result<InstalledState> {
    let all: BTreeSet<usize> = plan.steps.iter().map(|s| s.number).collect();
    apply_steps(state, plan, &all)
}

/// The state after an install plan, starting from nothing.
pub fn install_state(plan: &Plan) -> Result<InstalledState> {
    apply(&InstalledState::empty(&plan.template), plan)
}

/// The state after the steps of `plan` whose numbers are in `done`, in
/// plan order. The version and module selection move only when every step
/// is done; version labels need no work and always apply.
pub fn apply_steps(
    state: &InstalledState,
    plan: &Plan,
    done: &BTreeSet<usize>,
) -> Result<InstalledState> {
    if state.template != plan.template {
        return Err(Error::TemplateMismatch {
            expected: state.template.clone(),
            found: plan.template.clone(),
        });
    }
    let mut next = state.clone();
    for step in plan.steps.iter().filter(|s| done.contains(&s.number)) {
        for volume in &step.retained_volumes {
            let entry = RetainedVolume {
                component: step.component.clone(),
                volume: volume.clone(),
            };
            if !next.retained_volumes.contains(&entry) {
                next.retained_volumes.push(entry);
            }
        }
        for (reference, rule) in &step.secrets {
            next.secrets
                .entry(reference.clone())
                .or_insert_with(|| rule.clone());
        }
        match (step.action, &step.target) {
            (Action::Remove, _) | (_, None) => {
                next.components.remove(&step.component);
            }
            (_, Some(target)) => {
                // A volume mounted again is no longer merely retained.
                let mounted: BTreeSet<String> =
                    target.owned_volumes().into_iter().map(|v| v.name).collect();
                next.retained_volumes.retain(|r| {
                    !(r.component == step.component && mounted.contains(&r.volume.name))
                });
                next.components
                    .insert(step.component.clone(), target.clone());
            }
        }
    }
    for (key, version) in &plan.version_labels {
        if let Some(c) = next.components.get_mut(key) {
            c.version = version.clone();
        }
    }
    if plan.steps.iter().all(|s| done.contains(&s.number)) {
        next.version = plan.version_after.clone();
        next.modules = plan.modules_after.clone();
    }
    Ok(next)
}
