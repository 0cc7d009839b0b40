//! Progress of a delivery, as plain data: what relocation pushed, which
//! step was applied, what is being waited for, and when an operation
//! ended. Events serialize with a `phase` tag, so the bindings hand them to
//! callbacks as dictionaries or objects.

use serde::Serialize;
use template_core::{PlanKind, RelocateEvent, RelocationCounts};

/// A progress callback; it may borrow from the caller (`'a`). Delivery
/// calls it on the caller's task, never from two threads at once; keep it
/// short (print, count, forward to a channel).
pub type ProgressFn<'a> = dyn Fn(&DeliveryEvent) + Send + Sync + 'a;

/// One progress event of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "phase", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// Images are being pushed to an environment's registry.
    Relocating {
        /// Registry (`host[:port][/prefix]`) the images go to.
        registry: String,
        /// What just happened.
        event: RelocateEvent,
        /// Bytes uploaded so far.
        bytes_done: u64,
        /// Bytes to upload in all (known once the registry was asked).
        bytes_total: u64,
        /// Blobs uploaded so far.
        blobs_done: usize,
        /// Blobs to upload in all.
        blobs_total: usize,
        /// The current item, `<repository>@<digest>` or `:<tag>`.
        item: String,
    },
    /// A registry holds every image of the version.
    Relocated {
        /// Registry the images went to.
        registry: String,
        /// What was checked, skipped, uploaded, mounted and put.
        #[serde(flatten)]
        counts: RelocationCounts,
    },
    /// The objects of one step were applied to the cluster.
    StepApplied {
        /// Environment name.
        environment: String,
        /// Namespace of the installation.
        namespace: String,
        /// Dependency wave of the step (steps of one wave run together).
        wave: usize,
        /// Step number in the plan.
        step: usize,
        /// Component of the step.
        component: String,
    },
    /// The step's workloads are being waited for until they are ready.
    Waiting {
        /// Environment name.
        environment: String,
        /// Namespace of the installation.
        namespace: String,
        /// Dependency wave of the step.
        wave: usize,
        /// Step number in the plan.
        step: usize,
        /// Component of the step.
        component: String,
        /// The workloads waited for, as `Kind/name`.
        objects: Vec<String>,
    },
    /// A step finished: its workloads are ready, or it failed.
    StepDone {
        /// Environment name.
        environment: String,
        /// Namespace of the installation.
        namespace: String,
        /// Dependency wave of the step.
        wave: usize,
        /// Step number in the plan.
        step: usize,
        /// Component of the step.
        component: String,
        /// Whether the step succeeded.
        ok: bool,
        /// Why it failed (none when it succeeded).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An operation on one environment ended and was recorded.
    Done {
        /// Environment name.
        environment: String,
        /// Namespace of the installation.
        namespace: String,
        /// Template id.
        template: String,
        /// Install, upgrade or rollback.
        operation: PlanKind,
        /// Revision the operation was recorded as.
        revision: u32,
        /// Whether every step succeeded.
        ok: bool,
    },
}
