//! The error type of the market.

use std::path::PathBuf;

use template_core::package::PackageError;

/// Everything the market can report. Each variant is a case a caller can
/// act on; the message says what was wrong, where, and what to do.
///
/// Serializes as its fields with `kind`, the variant's snake_case name (a
/// core error as the core's own form); [`MarketError::code`] gives its
/// stable code.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MarketError {
    /// A filesystem operation failed.
    #[error("could not {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create", "read", "rename".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error (`message` in the serialized form).
        #[source]
        #[serde(rename = "message", serialize_with = "display")]
        source: std::io::Error,
    },

    /// A template, version, image or blob the market does not hold.
    #[error("{what} is not in the market at `{}`; list what it holds with `versions`/`images`, or import it first", market.display())]
    NotFound {
        /// What was looked for.
        what: String,
        /// The market's root.
        market: PathBuf,
    },

    /// A version refers to an image or logo the market does not hold.
    #[error(
        "template {template} version {version}: `{path}` refers to {digest}, which is not in the market; add the image (from an OCI layout or `docker save` tarball) before publishing"
    )]
    MissingContent {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// Path in the document, e.g. `components[gateway].image`.
        path: String,
        /// The missing digest.
        digest: String,
    },

    /// A differential package whose base this market lacks.
    #[error(
        "the package is differential against {base} of template {template}, which this market lacks: {missing_blobs} blob(s) ({missing_bytes} bytes) are missing; import the base first, or ask for a full package or one made against this market's inventory"
    )]
    MissingBase {
        /// Template id.
        template: String,
        /// The base, in words (e.g. "version(s) 1.0.0").
        base: String,
        /// How many needed blobs are missing.
        missing_blobs: usize,
        /// Their total size.
        missing_bytes: u64,
    },

    /// Not enough free space for an import or export.
    #[error(
        "not enough free space at `{}`: {needed} bytes needed, {available} available; free some space (or run gc) and try again", path.display()
    )]
    InsufficientSpace {
        /// Where the space is needed.
        path: PathBuf,
        /// Bytes needed (including the reserve asked for).
        needed: u64,
        /// Bytes available.
        available: u64,
    },

    /// The package carries no signature and unsigned packages were not allowed.
    #[error(
        "package {manifest_digest} is not signed; ask the sender for a signed package, or allow unsigned packages explicitly if you trust where it came from"
    )]
    Unsigned {
        /// Digest of the package manifest.
        manifest_digest: String,
    },

    /// The package is signed by a key that is not trusted.
    #[error(
        "package {manifest_digest} is signed by key {key_id}, which is not among the trusted keys; add the sender's public key to the trusted keys if you trust it"
    )]
    UntrustedKey {
        /// Digest of the package manifest.
        manifest_digest: String,
        /// The signing key's id (hex).
        key_id: String,
    },

    /// The signature does not verify.
    #[error(
        "package {manifest_digest}: the signature does not verify ({message}); the package was tampered with or damaged, do not import it"
    )]
    BadSignature {
        /// Digest of the package manifest.
        manifest_digest: String,
        /// What the verifier said.
        message: String,
    },

    /// A key could not be created, read or used.
    #[error("signing key problem: {message}")]
    Key {
        /// What went wrong.
        message: String,
    },

    /// Images given to `add_*` could not be read.
    #[error("cannot add images from `{}`: {message}", source_path.display())]
    InvalidImageSource {
        /// The layout directory or tarball (`path` in the serialized form).
        #[serde(rename = "path")]
        source_path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A released version is deleted without force.
    #[error(
        "template {template} version {version} is {state:?}; environments may run it, so it is deleted only with force"
    )]
    DeleteReleased {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// Its state.
        state: template_core::ReleaseState,
    },

    /// The market's files are damaged.
    #[error("the market at `{}` is damaged: {message}; run verify for details", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A registry refused or failed a request of an image relocation.
    #[error("registry {registry}: {item}: {message}")]
    Registry {
        /// The registry (`host[:port][/prefix]`).
        registry: String,
        /// The repository and blob, manifest or tag concerned.
        item: String,
        /// What happened, and what to do.
        message: String,
    },

    /// A concurrent writer to a registry market changed what this
    /// operation was writing (the same version number with other content,
    /// or a release transition from the same state).
    #[error("registry market {location}: {item}: {message}")]
    Conflict {
        /// The market (`oci://<host>/<namespace>`).
        location: String,
        /// The repository and tag concerned.
        item: String,
        /// What happened, and what to do.
        message: String,
    },

    /// An operation was stopped by its progress callback.
    #[error("{what} was cancelled; run it again to resume where it stopped")]
    Cancelled {
        /// What was stopped.
        what: String,
    },

    /// Another process held the market's lock for longer than the lock
    /// timeout.
    #[error(
        "the market at `{}` is locked by {holder}; gave up after waiting {waited_ms} ms; let that operation finish (or stop it) and try again, or wait longer (lock timeout)", market.display()
    )]
    LockTimeout {
        /// The market's root.
        market: PathBuf,
        /// Who holds the lock, as far as known.
        holder: String,
        /// How long the operation waited, in milliseconds.
        waited_ms: u64,
    },

    /// A draft version was exported without allowing drafts.
    #[error(
        "template {template} version {version} is a draft, which is not for delivery; move it to testing or released first, or export it as a draft on purpose (option `allow_draft`)"
    )]
    DraftExport {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
    },

    /// An export was asked for something it cannot do.
    #[error("cannot export: {message}")]
    InvalidExport {
        /// What is wrong.
        message: String,
    },

    /// A rule of the template model, a document, or the package format
    /// (package errors arrive as [`template_core::Error::Package`] and name
    /// the archive entry).
    #[error(transparent)]
    #[serde(untagged)]
    Core(#[from] template_core::Error),
}

impl From<PackageError> for MarketError {
    fn from(e: PackageError) -> Self {
        MarketError::Core(template_core::Error::Package(e))
    }
}

/// Writes a value by its `Display` form.
pub(crate) fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl MarketError {
    /// The stable code of the error's class (a core error keeps the
    /// core's). Every variant is listed: a new one must choose its code.
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::Core(core) => core.code(),
            MarketError::Io { .. }
            | MarketError::InvalidImageSource { .. }
            | MarketError::Corrupt { .. } => "MARKET_ERROR",
            MarketError::NotFound { .. } | MarketError::MissingContent { .. } => "NOT_FOUND",
            MarketError::MissingBase { .. } => "MISSING_BASE",
            MarketError::InsufficientSpace { .. } => "INSUFFICIENT_SPACE",
            MarketError::Unsigned { .. }
            | MarketError::UntrustedKey { .. }
            | MarketError::BadSignature { .. }
            | MarketError::Key { .. } => "SIGNATURE_INVALID",
            MarketError::DeleteReleased { .. } => "RELEASE_STATE",
            MarketError::Registry { .. } => "REGISTRY_ERROR",
            MarketError::Conflict { .. } => "VERSION_CONFLICT",
            MarketError::Cancelled { .. } => "CANCELLED",
            MarketError::InvalidExport { .. } | MarketError::DraftExport { .. } => {
                "INVALID_ARGUMENT"
            }
            MarketError::LockTimeout { .. } => "LOCKED",
        }
    }

    /// The package error inside, if this is one.
    pub fn as_package_error(&self) -> Option<&PackageError> {
        match self {
            MarketError::Core(template_core::Error::Package(e)) => Some(e),
            _ => None,
        }
    }
}

/// Result with [`MarketError`].
pub type Result<T, E = MarketError> = std::result::Result<T, E>;

/// Builds the `map_err` closure for an I/O error on a path.
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> MarketError {
    let path = path.into();
    move |source| MarketError::Io {
        action,
        path,
        source,
    }
}
