//! The Node.js addon behind the npm package `apptemplate`.
//!
//! Thin by design: each function converts its arguments, calls
//! `template-core`, `template-market` or `template-k8s`, and converts the
//! result back. Values cross as plain JS objects with the content of the
//! Rust JSON ([`data`], [`task::Data`]); errors of every wrapped crate are
//! thrown, or rejected, as `Error`s with a stable `code`, `details` and, for
//! validation, `problems`. The modules follow the crates': [`document`] (the
//! `Template` class), [`versions`], [`publish`], [`plans`] (diffs, plans,
//! installed states), [`market`] (the `Market` class) and [`delivery`] (the
//! `Delivery` class, Kubernetes). Method and option names are camelCase as
//! JavaScript expects; data keeps the Rust JSON's field names, and so do
//! the core's option objects (`InstallOptions`, ...), which serde reads.
//!
//! Long operations return Promises: blocking work runs on libuv's thread
//! pool ([`task`]), Kubernetes work on napi's tokio runtime; progress
//! reaches JavaScript through threadsafe functions called without
//! blocking.

pub mod data;
pub mod delivery;
pub mod document;
mod errors;
pub mod market;
mod options;
pub mod plans;
pub mod publish;
pub mod registry_market;
pub mod task;
pub mod versions;
