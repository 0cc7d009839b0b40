//! # template-core
//!
//! The application template model and everything that can be computed about
//! it without touching the outside world: loading and validating template
//! documents, content digests, version order and the release life cycle,
//! publishing rules, and incremental publishing.
//!
//! This crate performs no I/O: no filesystem, network, clock or operating
//! system randomness. Codecs work over [`std::io::Read`] and
//! [`std::io::Write`]; times and random bytes are passed in by the caller.
//! A test (`tests/no_io.rs`) enforces this over the sources and the
//! dependency tree.
//!
//! ```
//! use template_core::{load, validate, content_digest, Format, LoadOptions};
//!
//! let doc = r#"
//! format: apptemplate.io/v1
//! template: { id: shop, name: Shop }
//! version: 1.0.0
//! components:
//!   - key: web
//!     name: Web
//!     image: "registry.example.com/shop/web:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"
//! "#;
//! let version = load(doc.as_bytes(), Format::Yaml, LoadOptions::default())?;
//! assert!(validate(&version).is_empty());
//! assert!(content_digest(&version)?.starts_with("sha256:"));
//! # Ok::<(), template_core::Error>(())
//! ```

pub mod container_env;
pub mod diff;
pub mod document;
pub mod error;
pub mod image_ref;
pub mod installed;
pub mod model;
mod name_hash;
pub mod option_fields;
pub mod package;
pub mod plan;
mod problem;
pub mod publish;
pub mod quantity;
pub mod relocation;
pub mod schema;
pub mod secrets;
/// Small valid documents for tests, doctests and benchmarks; built for
/// this crate's tests and with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;
pub mod versions;

pub use container_env::{ContainerVar, EnvOrigin, EnvValue};
pub use diff::{ChangeKind, ComponentDiff, FieldChange, Section, VersionDiff, diff};
pub use document::{
    Format, LoadOptions, canonical_json, content_digest, load, load_from_reader, to_json_string,
    to_yaml_string, write_json, write_yaml,
};
pub use error::{Error, Result};
pub use installed::{
    Customizations, InstalledComponent, InstalledState, RetainedVolume, StateCustomizations,
    VolumeCustomization, secret_reference,
};
pub use model::*;
pub use plan::{
    Action, InstallOptions, KeepReason, KeptCustomization, Outcome, Overrides, Plan, PlanKind,
    RecordSummary, RollbackOptions, Rule, Step, UpgradeOptions, UpgradeRecord, apply, apply_steps,
    install_state, plan_install, plan_install_validated, plan_rollback, plan_upgrade,
    plan_upgrade_validated,
};
pub use publish::{
    IncrementalChange, IncrementalSummary, Overwrite, PublishOutcome, build_incremental,
    check_publish,
};
pub use relocation::{RelocateEvent, RelocationCounts};
pub use secrets::{RandomSource, SecretValue, generate_secret, generate_secrets};
pub use validate::{Problem, ProblemKind, ValidatedVersion, ensure_valid, validate};
pub use versions::{
    CandidateFilter, parse_version, set_release_state, sort_versions, upgrade_candidates,
};
