//! # template-delivery
//!
//! Joins a local market (`template-market`) and the Kubernetes executor
//! (`template-k8s`), the two crates below it, which know nothing of each
//! other:
//!
//! - [`delivery`]: versions of a market to one or several environments,
//!   images relocated to each environment's registry first, with progress
//!   events ([`DeliveryEvent`]);
//! - [`publish`]: a running application captured from its cluster, its
//!   images pulled into a market, published as a version;
//! - [`options`]: a delivery's options as plain data;
//! - [`error`]: one error wrapping the cluster's, the market's and the
//!   core's.

pub mod delivery;
pub mod error;
pub mod options;
pub mod publish;

pub use delivery::{
    DEFAULT_ENVIRONMENTS_AT_ONCE, Delivery, DeliveryAction, EnvironmentOutcome, RelocationSummary,
};
pub use error::{Error, Result};
pub use options::DeliveryOptions;
pub use publish::{
    PublishFromClusterCallback, PublishFromClusterOptions, PublishFromClusterProgress,
    PublishFromClusterReport, publish_from_cluster,
};
pub use template_k8s::{DeliveryEvent, ProgressFn};
