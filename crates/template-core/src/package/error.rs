//! Errors of the package reader and writer. Every variant names the archive
//! entry it is about and says what to do.

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
        source: Box<crate::Error>,
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
            | PackageError::Archive { .. } => "PACKAGE_INTEGRITY",
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
            | PackageError::Write { entry, .. } => Some(entry),
            PackageError::MissingBlobs { first, .. } => Some(first),
            PackageError::InvalidInput { .. } => None,
        }
    }
}
