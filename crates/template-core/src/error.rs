//! The error types of `template-core`: [`Error`] and the package
//! reader's and writer's [`PackageError`]. They live in one module because
//! each can hold the other (a package error wraps the error of a document
//! inside the package, and [`Error::Package`] wraps a package error).

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
        PackageError,
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
fn package_details<S: serde::Serializer>(package: &PackageError, s: S) -> Result<S::Ok, S::Error> {
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

// Errors of the package reader and writer. Every variant names the archive
// entry it is about and says what to do.

/// Why a package could not be read or written. Serializes as its fields
/// with `kind`, the variant's snake_case name.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PackageError {
    /// An entry name that could escape the destination directory.
    #[error(
        "archive entry `{entry}` is refused: {reason}; the package was not made by this tool or was tampered with, do not extract it"
    )]
    UnsafePath {
        /// The entry name as found in the archive.
        entry: String,
        /// Why it is unsafe (absolute, `..`, not UTF-8, ...).
        reason: &'static str,
    },

    /// A symlink, hardlink, device, FIFO or extension header.
    #[error(
        "archive entry `{entry}` is a {kind}, which packages never contain; refusing the package"
    )]
    ForbiddenEntryType {
        /// The entry name.
        entry: String,
        /// What the entry is (`entry_type` in the serialized form).
        #[serde(rename = "entry_type")]
        kind: String,
    },

    /// An entry the format does not define, or a blob the manifest does not list.
    #[error(
        "archive entry `{entry}` is not part of the package format ({detail}); refusing the package"
    )]
    UndefinedEntry {
        /// The entry name.
        entry: String,
        /// Why it is undefined.
        detail: String,
    },

    /// The same entry twice.
    #[error("archive entry `{entry}` appears twice; refusing the package")]
    DuplicateEntry {
        /// The entry name.
        entry: String,
    },

    /// An entry where another one must come.
    #[error(
        "archive entry `{entry}` is out of place: expected {expected}; the package is damaged or was repacked by another tool, export it again"
    )]
    OutOfOrder {
        /// The entry found.
        entry: String,
        /// What the format requires there.
        expected: String,
    },

    /// Content whose sha256 differs from its name or descriptor.
    #[error(
        "archive entry `{entry}` is corrupt: its sha256 is {actual} but {expected} was expected; the package was damaged in transit or tampered with, copy it again"
    )]
    DigestMismatch {
        /// The entry name.
        entry: String,
        /// The digest the package promises.
        expected: String,
        /// The digest of the bytes found.
        actual: String,
    },

    /// Content whose size differs from its descriptor.
    #[error(
        "archive entry `{entry}` has {actual} bytes but {expected} were declared; the package was damaged or tampered with, copy it again"
    )]
    SizeMismatch {
        /// The entry name.
        entry: String,
        /// Declared size.
        expected: u64,
        /// Size found.
        actual: u64,
    },

    /// The archive ends early.
    #[error(
        "package is truncated at `{entry}`: {detail}; the copy is incomplete (check free space and media, and for a split package that every part is present) and copy it again"
    )]
    Truncated {
        /// The last entry reached.
        entry: String,
        /// What was missing.
        detail: String,
    },

    /// A JSON entry larger than the limit.
    #[error(
        "archive entry `{entry}` is {size} bytes of JSON, above the limit of {limit} bytes; refusing it (raise ReaderLimits::max_json_bytes only for a package you trust)"
    )]
    JsonTooLarge {
        /// The entry name.
        entry: String,
        /// Its (declared or observed) size.
        size: u64,
        /// The limit.
        limit: u64,
    },

    /// A JSON entry that does not parse or has the wrong shape.
    #[error(
        "archive entry `{entry}` is not valid {what}: {message}; the package is damaged or was not made by this tool"
    )]
    InvalidJson {
        /// The entry name.
        entry: String,
        /// What the entry should have been.
        what: &'static str,
        /// What the parser said.
        message: String,
    },

    /// More data comes out of the decompressor than a real package can hold.
    #[error(
        "package looks like a decompression bomb at `{entry}`: {decompressed} bytes decompressed from {compressed} compressed bytes exceed {limit}; refusing it"
    )]
    DecompressionBomb {
        /// The entry being read.
        entry: String,
        /// Bytes out of the decompressor so far.
        decompressed: u64,
        /// Bytes of compressed input read so far.
        compressed: u64,
        /// The limit that tripped, in words.
        limit: String,
    },

    /// A format or layout version this build does not understand.
    #[error(
        "archive entry `{entry}` declares format `{found}`, but this build reads only `{supported}`; upgrade the tool that imports the package"
    )]
    UnsupportedFormat {
        /// The entry name.
        entry: String,
        /// The declared format.
        found: String,
        /// The supported one.
        supported: String,
    },

    /// Entries that contradict each other (manifest, index, documents).
    #[error("archive entry `{entry}` is inconsistent with the package manifest: {detail}")]
    Inconsistent {
        /// The entry name.
        entry: String,
        /// What contradicts what.
        detail: String,
    },

    /// Blobs listed in the manifest never appeared in the archive.
    #[error(
        "package ends before {count} listed blob(s) appeared (first missing: {first}); the copy is incomplete, copy it again"
    )]
    MissingBlobs {
        /// How many blobs are missing.
        count: usize,
        /// Entry name of the first missing blob.
        first: String,
    },

    /// A template version document in the package is invalid.
    #[error("archive entry `{entry}` holds an invalid template version: {source}")]
    Document {
        /// The entry name.
        entry: String,
        /// What is wrong with the document.
        #[source]
        source: Box<Error>,
    },

    /// The zstd stream asks for a larger decoding window than the reader
    /// allows: a limit, not damage.
    #[error(
        "package at `{entry}` was compressed with a zstd window above this reader's limit of {limit} bytes (2^{window_log_limit}; `zstd --long` makes such packages); recompress it with a smaller window (`zstd -dc pkg.tar.zst | zstd -3 -o pkg2.tar.zst`), or raise ReaderLimits::max_zstd_window_log for a package you trust"
    )]
    CompressionWindowTooLarge {
        /// The last entry reached.
        entry: String,
        /// The limit, as a power of two.
        window_log_limit: u32,
        /// The limit in bytes.
        limit: u64,
    },

    /// Bytes follow the end of the tar archive (a second package appended,
    /// or data hidden after the end).
    #[error(
        "package has data after the end of its archive (after `{entry}`, at byte {offset} of the archive): a second package was appended or the file was tampered with; refusing it, copy the package again (one package per file)"
    )]
    TrailingData {
        /// The last entry of the archive.
        entry: String,
        /// Offset of the first unexpected byte in the decompressed archive.
        offset: u64,
    },

    /// The compressed stream or the tar framing is damaged.
    #[error("package is damaged near `{entry}`: {message}; copy it again")]
    Archive {
        /// The last entry reached.
        entry: String,
        /// What the decoder said.
        message: String,
    },

    /// The writer was given a manifest or blob it cannot package.
    #[error("cannot write the package: {detail}")]
    InvalidInput {
        /// What is wrong.
        detail: String,
    },

    /// The destination of the writer failed.
    #[error(
        "cannot write the package at `{entry}`: {message}; check the destination (free space, permissions) and export again"
    )]
    Write {
        /// The entry being written.
        entry: String,
        /// What the writer said.
        message: String,
    },
}

impl PackageError {
    /// The stable code of the error's class: `PACKAGE_INTEGRITY` for a
    /// damaged, truncated or hostile package; `WRITE_FAILED` when the
    /// writer's destination failed; `INVALID_ARGUMENT` when the writer was
    /// given something it cannot write. Every variant is listed.
    pub fn code(&self) -> &'static str {
        match self {
            PackageError::UnsafePath { .. }
            | PackageError::ForbiddenEntryType { .. }
            | PackageError::UndefinedEntry { .. }
            | PackageError::DuplicateEntry { .. }
            | PackageError::OutOfOrder { .. }
            | PackageError::DigestMismatch { .. }
            | PackageError::SizeMismatch { .. }
            | PackageError::Truncated { .. }
            | PackageError::JsonTooLarge { .. }
            | PackageError::InvalidJson { .. }
            | PackageError::DecompressionBomb { .. }
            | PackageError::UnsupportedFormat { .. }
            | PackageError::Inconsistent { .. }
            | PackageError::MissingBlobs { .. }
            | PackageError::Document { .. }
            | PackageError::Archive { .. }
            | PackageError::TrailingData { .. }
            // Refused for a limit, not damage; `package_kind` tells them
            // apart and the message says how to raise the limit.
            | PackageError::CompressionWindowTooLarge { .. } => "PACKAGE_INTEGRITY",
            // What the writer was given, or where it writes: not the
            // package's fault.
            PackageError::InvalidInput { .. } => "INVALID_ARGUMENT",
            PackageError::Write { .. } => "WRITE_FAILED",
        }
    }

    /// The archive entry the error is about, when there is one.
    pub fn entry(&self) -> Option<&str> {
        match self {
            PackageError::UnsafePath { entry, .. }
            | PackageError::ForbiddenEntryType { entry, .. }
            | PackageError::UndefinedEntry { entry, .. }
            | PackageError::DuplicateEntry { entry }
            | PackageError::OutOfOrder { entry, .. }
            | PackageError::DigestMismatch { entry, .. }
            | PackageError::SizeMismatch { entry, .. }
            | PackageError::Truncated { entry, .. }
            | PackageError::JsonTooLarge { entry, .. }
            | PackageError::InvalidJson { entry, .. }
            | PackageError::DecompressionBomb { entry, .. }
            | PackageError::UnsupportedFormat { entry, .. }
            | PackageError::Inconsistent { entry, .. }
            | PackageError::Document { entry, .. }
            | PackageError::Archive { entry, .. }
            | PackageError::CompressionWindowTooLarge { entry, .. }
            | PackageError::TrailingData { entry, .. }
            | PackageError::Write { entry, .. } => Some(entry),
            PackageError::MissingBlobs { first, .. } => Some(first),
            PackageError::InvalidInput { .. } => None,
        }
    }
}
