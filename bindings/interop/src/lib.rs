//! # apptemplate-interop
//!
//! The part of the Python and Node bindings that does not depend on the
//! language: how `template-core` values and errors look as plain data
//! (`serde_json::Value`, the same content as the Rust JSON), and which error
//! class and stable code each core error belongs to.
//!
//! Both bindings convert through this crate, so a dict in Python and an
//! object in JavaScript carry exactly what the Rust JSON carries, and an error
//! has the same code in both. Nothing here decides anything about templates:
//! that is `template-core`'s job.
//!
//! New core modules (diffs, plans) and new crates (the market) are wrapped
//! the same way: their values go through [`to_data`] and [`from_data`], and
//! their errors get a case in [`error_report()`].

pub mod binding_types;
pub mod data;
pub mod error_report;
pub mod held;

pub use data::{
    ErrorData, from_data, options_from_data, outcome_data, parse_release_state, release_state_name,
    to_data,
};
pub use error_report::{Classify, ErrorClass, ErrorReport, error_report};
pub use held::HeldVersion;
