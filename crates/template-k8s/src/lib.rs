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
//! - [`mod@capture`]: a running application read back as a draft version;
//! - [`progress`]: events of operations, for callers that report them,
//!   and generated secrets from [`random`].
//!
//! This crate knows nothing of markets: delivering a market's versions
//! (relocating images first) and publishing a capture into a market live
//! in `template-delivery`, above this crate and `template-market`.

pub mod apply;
pub mod capture;
pub mod drift;
pub mod environment;
pub mod error;
pub mod executor;
pub mod lock;
mod options;
pub mod progress;
pub mod random;
pub mod render;
pub mod store;
pub mod wait;

pub use capture::{CaptureOptions, CaptureReport, CapturedObjects, capture};
pub use drift::{DetectedChange, DriftKind};
pub use environment::{EnvironmentProfile, check_release_gate, connect};
pub use error::{Error, LockHeld, Result};
pub use executor::{
    Executor, OperationReport, PlannedOperation, StopSignal, plan_digest, stale_reason,
};
pub use lock::{LockOptions, OperationLock};
pub use options::ExecutorOptions;
pub use progress::{DeliveryEvent, ProgressFn};
pub use random::OsRandom;
pub use render::{
    Exposure, FIELD_MANAGER, INPUTS_CHECKSUM, RenderOptions, RenderedObject, render,
    render_component,
};
pub use store::Store;
pub use template_core::RecordSummary;
pub use wait::WaitOptions;
