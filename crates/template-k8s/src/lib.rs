//! # template-k8s
//!
//! Carries out `template-core` plans on Kubernetes clusters with `kube`:
//! server-side apply with our field manager, generation-aware waits, state
//! and history stored in the application's namespace.
//!
//! - [`environment`]: profiles of the seeds' multi-cluster delivery (test,
//!   prod-A, prod-B), their release gate, and [`connect`];
//! - [`mod@render`]: installed state to objects (pure);
//! - [`executor`]: install, upgrade and rollback in dependency waves, with
//!   the pieces it is built from: [`apply`] (server-side apply, claims only
//!   grow), [`wait`] (generation-aware readiness), [`lock`] (a Lease that
//!   expires and is taken over), [`store`] (state and history as small
//!   Secrets in the namespace) and [`drift`] (user edits found on the
//!   cluster, kept by upgrades);
//! - [`delivery`]: versions of a local market to one or several
//!   environments, images relocated to each environment's registry first,
//!   with [`progress`] events and generated secrets from [`random`].

pub mod apply;
pub mod capture;
pub mod delivery;
pub mod drift;
pub mod environment;
pub mod error;
pub mod executor;
pub mod lock;
pub mod options;
pub mod progress;
pub mod publish;
pub mod random;
pub mod render;
pub mod store;
pub mod wait;

pub use capture::{CaptureOptions, CaptureReport, CapturedObjects, capture};
pub use delivery::{
    DEFAULT_ENVIRONMENTS_AT_ONCE, Delivery, DeliveryAction, EnvironmentOutcome, RelocationSummary,
};
pub use drift::{DetectedChange, DriftKind};
pub use environment::{EnvironmentProfile, check_release_gate, connect};
pub use error::{Error, LockHeld, Result};
pub use executor::{
    Executor, ExecutorOptions, OperationReport, PlannedOperation, StopSignal, plan_digest,
};
pub use lock::{LockOptions, OperationLock};
pub use options::DeliveryOptions;
pub use progress::{DeliveryEvent, ProgressFn};
pub use publish::{
    PublishFromClusterCallback, PublishFromClusterOptions, PublishFromClusterProgress,
    PublishFromClusterReport, publish_from_cluster,
};
pub use random::OsRandom;
pub use render::{
    Exposure, INPUTS_CHECKSUM, RenderOptions, RenderedObject, render, render_component,
};
pub use store::Store;
pub use template_core::RecordSummary;
pub use wait::WaitOptions;

/// The field manager name used for every server-side apply of ours.
pub const FIELD_MANAGER: &str = "apptemplate";
