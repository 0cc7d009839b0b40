//! The summary of an upgrade record: one line of an installation's
//! history, stored beside the record so a history is read without loading
//! every record.

use serde::{Deserialize, Serialize};

use super::PlanKind;
use super::rollback::{Outcome, UpgradeRecord};

/// One line of history, readable without loading the whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordSummary {
    /// Revision number, from 1.
    pub revision: u32,
    /// Install, upgrade or rollback.
    pub kind: PlanKind,
    /// Version before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// Version planned to.
    pub to_version: String,
    /// How it ended: `succeeded`, `failed at step N: ...`, `partly applied`.
    pub outcome: String,
    /// Steps whose objects were applied, in plan order: every step of a
    /// success; for a failure, exactly those applied (steps of one wave run
    /// together, so steps numbered after the failed one may be among them).
    #[serde(default)]
    pub applied_steps: Vec<usize>,
    /// Start time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// End time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl RecordSummary {
    /// The summary of `record` stored as `revision`.
    pub fn of(revision: u32, record: &UpgradeRecord) -> RecordSummary {
        RecordSummary {
            revision,
            kind: record.plan.kind,
            from_version: record.plan.from_version.clone(),
            to_version: record.plan.to_version.clone(),
            applied_steps: record.applied_steps().into_iter().collect(),
            outcome: match &record.outcome {
                Outcome::Succeeded => "succeeded".to_owned(),
                Outcome::FailedAtStep { step, message, .. } => {
                    format!("failed at step {step}: {message}")
                }
                Outcome::PartlyApplied { applied_steps } => {
                    let steps: Vec<String> =
                        applied_steps.iter().map(ToString::to_string).collect();
                    format!("partly applied (steps {})", steps.join(", "))
                }
            },
            started_at: record.started_at.clone(),
            finished_at: record.finished_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::minimal_version;
    use crate::{InstallOptions, install_state, plan_install};

    /// A record of a three-step install of `shop` that ended with `outcome`.
    fn record(outcome: Outcome) -> UpgradeRecord {
        let mut doc = minimal_version("shop", "1.0.0");
        for name in ["worker", "cron"] {
            let mut more = doc.components[0].clone();
            more.name = name.into();
            more.key = name.into();
            doc.components.push(more);
        }
        let plan = plan_install(&doc, &InstallOptions::default()).unwrap();
        assert_eq!(plan.steps.len(), 3, "{plan:?}");
        let mut before = install_state(&plan).unwrap();
        before.components.clear();
        UpgradeRecord::new(before, plan, outcome)
    }

    #[test]
    fn a_failed_outcome_keeps_the_steps_applied_after_the_failed_one() {
        let failed = record(Outcome::FailedAtStep {
            step: 2,
            message: "not ready".into(),
            applied_steps: Some(vec![1, 2, 3]),
        });
        assert_eq!(
            failed.applied_steps().into_iter().collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let summary = RecordSummary::of(4, &failed);
        assert_eq!(summary.applied_steps, [1, 2, 3]);
        assert_eq!(summary.outcome, "failed at step 2: not ready");
        assert_eq!(summary.revision, 4);
    }

    #[test]
    fn a_failed_outcome_written_without_applied_steps_means_the_steps_before() {
        let json = serde_json::json!({"status": "failed_at_step", "step": 2, "message": "x"});
        let outcome: Outcome = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            json,
            "an old record is written back as it was read"
        );
        let old = record(outcome);
        assert_eq!(old.applied_steps().into_iter().collect::<Vec<_>>(), [1]);
        assert_eq!(RecordSummary::of(1, &old).applied_steps, [1]);
    }
}
