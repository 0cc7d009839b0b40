//! The error type of `template-core`.

use crate::model::ReleaseState;
use crate::problem::Problem;

/// Everything `template-core` can report. Each variant is a case a caller
/// can act on; messages say what was wrong, where, and what to do.
///
/// Serializes as its fields with `kind`, the variant's snake_case name
/// (`{"kind": "shape", "path": ..., "message": ...}`); a package error as
/// `{"kind": "package", "package_kind": ..., "entry": ..., <its fields>}`.
/// [`Error::code`] gives the stable code the bindings raise it with.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// The document is larger than the loader accepts.
    #[error(
        "document is {size} bytes, above the limit of {limit} bytes; split large config file contents out or raise LoadOptions::max_bytes"
    )]
    DocumentTooLarge {
        /// Size of the input.
        size: usize,
        /// The limit in force.
        limit: usize,
    },

    /// The input is not well-formed JSON or YAML.
    #[error(
        "{format} syntax error at line {line}, column {column}: {message}; fix the document and load it again"
    )]
    Syntax {
        /// `JSON` or `YAML`.
        format: &'static str,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What the parser said.
        message: String,
    },

    /// A field has the wrong type, is unknown, or a required one is missing.
    #[error("invalid document at `{path}`: {message}")]
    Shape {
        /// Path in the document, e.g. `components[3].ports[0].port`.
        path: String,
        /// What the parser said.
        message: String,
    },

    /// The document is well-formed but breaks the template rules. Every
    /// problem found is listed.
    #[error("{}", format_problems(.problems))]
    Validation {
        /// All problems, each with its path.
        problems: Vec<Problem>,
    },

    /// A string is not a semantic version.
    #[error("`{value}` is not a semantic version ({message}); use MAJOR.MINOR.PATCH, e.g. 2.0.0")]
    InvalidVersion {
        /// The rejected value.
        value: String,
        /// What the parser said.
        message: String,
    },

    /// A release-state change the life cycle does not allow.
    #[error(
        "template {template} version {version}: cannot go from {from} to {to}; allowed from {from}: {allowed}"
    )]
    InvalidTransition {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// Current state.
        from: ReleaseState,
        /// Requested state.
        to: ReleaseState,
        /// The states reachable from `from`, for the message.
        allowed: String,
    },

    /// The version number is already published with different content.
    #[error(
        "template {template} version {version} is already published with different content (published {existing}, new {candidate}); choose a new version number or publish with overwrite"
    )]
    VersionExists {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// Digest of the published content.
        existing: String,
        /// Digest of the refused content.
        candidate: String,
    },

    /// Released (or deprecated) versions are never overwritten.
    #[error(
        "template {template} version {version} is {state} and can never be overwritten; publish the change as a new version"
    )]
    ReleasedImmutable {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// Its state.
        state: ReleaseState,
    },

    /// A version is published directly in a state that must be reached
    /// through the life cycle.
    #[error(
        "template {template} version {version} cannot be published as {state}; publish it as draft or testing and set the release state after testing"
    )]
    PublishState {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// The refused state.
        state: ReleaseState,
    },

    /// Two documents of different templates were combined.
    #[error(
        "expected template `{expected}` but got `{found}`; versions of different templates cannot be combined"
    )]
    TemplateMismatch {
        /// Template id that was expected.
        expected: String,
        /// Template id that was given.
        found: String,
    },

    /// A new version must be newer than the version it is built from.
    #[error(
        "new version {new} is not newer than base version {base}; choose a higher version number"
    )]
    VersionNotNewer {
        /// Base version.
        base: String,
        /// Proposed version.
        new: String,
    },

    /// An option of a plan (module selection, override, component scope) or
    /// an edit of an installed state names something that does not exist or
    /// may not be changed.
    #[error("invalid option `{option}`: {message}")]
    InvalidOption {
        /// Which option, as a path, e.g. `overrides.env[gateway][JAVA_OPTS]`.
        option: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// An installed state, plan or record does not fit what it is combined with.
    #[error(
        "installed state of template `{template}` is at {found}, but {expected} was expected; {advice}"
    )]
    StateMismatch {
        /// Template id.
        template: String,
        /// What the operation expected (e.g. `version 1.0.0`).
        expected: String,
        /// What the state holds.
        found: String,
        /// What to do.
        advice: String,
    },

    /// A partial upgrade would leave a component referring (with
    /// `$(NAME)`) to a variable that only the target version of one of its
    /// dependencies provides, and that dependency is not upgraded.
    #[error(
        "partial upgrade to version {version}: `{component}` refers to `$({variable})`, which `{dependency}` provides only from version {version} on, and `{dependency}` is not among the components upgraded; include `{dependency}` in the components or upgrade it first"
    )]
    PartialUpgradeBreaksReference {
        /// The component that refers to the variable.
        component: String,
        /// The variable.
        variable: String,
        /// The dependency that provides it in the target version.
        dependency: String,
        /// The target version.
        version: String,
    },

    /// The caller's random source gave too few usable bytes to generate a secret.
    #[error(
        "the random source gave no usable bytes for secret `{reference}` after {attempts} draws; check the random source passed in"
    )]
    RandomSourceExhausted {
        /// The secret being generated.
        reference: String,
        /// Bytes drawn before giving up.
        attempts: usize,
    },

    /// Reading or writing an offline package failed; the inner error names
    /// the archive entry.
    #[error(transparent)]
    Package(
        #[from]
        #[serde(serialize_with = "package_details")]
        crate::package::PackageError,
    ),

    /// Writing a document failed (only possible through the caller's writer).
    #[error("could not write the document: {message}")]
    Write {
        /// What failed.
        message: String,
    },
}

impl Error {
    /// The stable code of the error's class, as the bindings and the
    /// command line report it (`DOCUMENT_INVALID`, `VALIDATION_FAILED`,
    /// ...). Every variant is listed: a new one must choose its code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::DocumentTooLarge { .. } | Error::Syntax { .. } | Error::Shape { .. } => {
                "DOCUMENT_INVALID"
            }
            Error::Validation { .. } => "VALIDATION_FAILED",
            Error::InvalidVersion { .. } => "INVALID_VERSION",
            Error::InvalidTransition { .. } | Error::PublishState { .. } => "RELEASE_STATE",
            Error::VersionExists { .. }
            | Error::ReleasedImmutable { .. }
            | Error::VersionNotNewer { .. } => "VERSION_CONFLICT",
            Error::TemplateMismatch { .. } => "TEMPLATE_MISMATCH",
            Error::InvalidOption { .. } | Error::RandomSourceExhausted { .. } => "INVALID_ARGUMENT",
            Error::StateMismatch { .. } | Error::PartialUpgradeBreaksReference { .. } => {
                "PRECONDITION_FAILED"
            }
            Error::Package(package) => package.code(),
            Error::Write { .. } => "WRITE_FAILED",
        }
    }
}

/// A package error's fields beside `kind: "package"`: its own kind as
/// `package_kind`, and `entry` (null when it names none).
fn package_details<S: serde::Serializer>(
    package: &crate::package::PackageError,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    let mut value = serde_json::to_value(package).map_err(serde::ser::Error::custom)?;
    if let serde_json::Value::Object(map) = &mut value {
        if let Some(kind) = map.remove("kind") {
            map.insert("package_kind".to_owned(), kind);
        }
        map.insert("entry".to_owned(), serde_json::json!(package.entry()));
    }
    value.serialize(s)
}

fn format_problems(problems: &[Problem]) -> String {
    let mut out = format!(
        "template has {} problem{}; fix each and validate again:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.path);
        out.push_str(": ");
        out.push_str(&p.message);
    }
    out
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
