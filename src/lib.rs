#![doc = include_str!("../README.md")]
//!
//! This facade crate re-exports the workspace crates under one name and
//! hosts the examples, end-to-end tests and benchmarks.

pub use template_core as core;
pub use template_delivery as delivery;
pub use template_k8s as k8s;
pub use template_market as market;
