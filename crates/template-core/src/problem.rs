//! What validation reports: one [`Problem`] per broken rule, with its
//! kind and its path in the document. A leaf of the module graph, so the
//! error type can carry problems without depending on the validator.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// Where: a path in the document.
    pub path: String,
    /// What kind of problem, for programs.
    pub kind: ProblemKind,
    /// What is wrong and what to do, for people.
    pub message: String,
}

/// The kinds of problems validation reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The `format` tag is not one this library reads.
    UnknownFormat,
    /// A required text is empty.
    Empty,
    /// An identifier does not follow the naming rules.
    InvalidName,
    /// Two entries share a key or name that must be unique.
    DuplicateKey,
    /// The version is not a semantic version.
    InvalidVersion,
    /// A creation time is not RFC 3339.
    InvalidTimestamp,
    /// An image reference cannot be parsed.
    InvalidImage,
    /// An image reference is not pinned by digest.
    ImageWithoutDigest,
    /// A digest is malformed.
    InvalidDigest,
    /// A dependency names no component of the version.
    UnknownDependency,
    /// Dependencies form a cycle.
    DependencyCycle,
    /// A component depends on one that may not be installed.
    OptionalDependency,
    /// A port number is out of range or claimed twice.
    PortConflict,
    /// Two mounts claim one path.
    MountPathConflict,
    /// A mount path is not absolute or not clean.
    InvalidPath,
    /// A file mode is not octal permission bits.
    InvalidMode,
    /// A quantity cannot be parsed or is zero.
    InvalidQuantity,
    /// A volume share points nowhere usable.
    InvalidVolumeShare,
    /// Replica bounds or steps are inconsistent.
    ReplicaRange,
    /// A request is above its limit.
    ResourceRange,
    /// A probe has no target or more than one.
    ProbeWithoutTarget,
    /// A probe setting is out of range.
    InvalidProbe,
    /// A connection variable has neither or both of value and generate.
    InvalidConnectionInfo,
    /// A secret rule is out of range.
    InvalidSecretRule,
    /// One shared-secret group is used with different rules.
    SecretGroupConflict,
    /// A component names a module the version does not declare.
    UnknownModule,
    /// A component attaches a plugin the version does not declare.
    UnknownPlugin,
    /// A config group lists an unknown component.
    UnknownComponent,
    /// A label key or value breaks the Kubernetes label rules.
    InvalidLabel,
    /// The version has no components.
    NoComponents,
}
