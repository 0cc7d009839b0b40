//! The Node.js addon behind the npm package `apptemplate`.
//!
//! Thin by design: each function converts its arguments, calls
//! `template-core`, and converts the result back. Values cross as plain JS
//! objects with the content of the Rust JSON ([`data`]); core errors are
//! thrown as `Error`s with a stable `code`, `details` and, for validation,
//! `problems` (`errors`). The modules follow the core's: [`document`] (the
//! `Template` class), [`versions`], [`publish`]. Method and option names are
//! camelCase as JavaScript expects; data keeps the Rust JSON's field names.

pub mod data;
pub mod document;
mod errors;
pub mod publish;
pub mod versions;
