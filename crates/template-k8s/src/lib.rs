//! # template-k8s
//!
//! Carries out `template-core` plans on Kubernetes clusters with `kube`:
//! server-side apply with our field manager, generation-aware waits, state
//! and history stored in the application's namespace.
//!
//! This crate starts with the environment profiles of the seeds'
//! multi-cluster delivery (test, prod-A, prod-B) and their release gate;
//! rendering and plan execution build on them.

pub mod environment;
pub mod error;
pub mod render;

pub use environment::{EnvironmentProfile, check_release_gate};
pub use error::{Error, Result};
pub use render::{Exposure, RenderOptions, RenderedObject, render, render_component};

/// The field manager name used for every server-side apply of ours.
pub const FIELD_MANAGER: &str = "apptemplate";
