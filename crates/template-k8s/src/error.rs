//! The error type of `template-k8s`.

/// Everything `template-k8s` can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A template-level problem (invalid document, bad version...).
    #[error(transparent)]
    Template(#[from] template_core::Error),

    /// The environment only accepts released versions.
    #[error(
        "environment `{environment}` only accepts released versions, but {template} {version} is {state:?}; release it in the market first or install into a non-production environment"
    )]
    ReleaseGate {
        /// Environment name.
        environment: String,
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// The version's state.
        state: template_core::ReleaseState,
    },

    /// An installed state cannot be turned into Kubernetes objects.
    #[error("cannot render component `{component}`: {message}")]
    Render {
        /// Component key (empty when not tied to one).
        component: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API error while {action}: {source}")]
    Kube {
        /// What we were doing, e.g. "applying Deployment pig/gateway".
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
