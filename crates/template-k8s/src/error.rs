//! The error type of `template-k8s`.

/// Everything `template-k8s` can report.
///
/// Serializes as its fields with `kind`, the variant's snake_case name (core
/// errors as their own form, a step failure with its `cause`);
/// [`Error::code`] gives its stable code.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Error {
    /// The environment only accepts released versions.
    #[error(
        "environment `{environment}` only accepts released versions, but {template} {version} is {state}; release it in the market first or install into a non-production environment"
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

    /// Another operation holds the installation's lock.
    #[error(
        "installation `{}` in namespace `{}` is locked by {} since {} (lease `{}`, expires {}); wait for that operation to finish, or for the lease to expire if its client died",
        .0.template, .0.namespace, .0.holder, .0.since, .0.lease, .0.expires
    )]
    Locked(Box<LockHeld>),

    /// A workload did not become ready in time.
    #[error(
        "component `{component}`: {object} not ready after {waited_seconds}s: {condition}; check its pods (`kubectl -n {namespace} describe {object}`), then roll back or retry"
    )]
    NotReady {
        /// Namespace.
        namespace: String,
        /// Component key.
        component: String,
        /// The object waited for, as `Kind/name`.
        object: String,
        /// The condition that did not hold, with the observed values.
        condition: String,
        /// How long we waited.
        waited_seconds: u64,
    },

    /// A step of a plan failed; the record of the operation says so.
    #[error(
        "revision {revision} failed at step {step} (component `{component}`): {message}; the installation is partly changed, roll back to revision {revision} to restore the state before it"
    )]
    StepFailed {
        /// Revision the operation was recorded as.
        revision: u32,
        /// Number of the first failed step.
        step: usize,
        /// Component of that step.
        component: String,
        /// What failed, in words.
        message: String,
        /// What failed: [`Error::NotReady`] with its condition and waited
        /// time, a Kubernetes API error, ...
        cause: Box<Error>,
    },

    /// The operation was asked to stop ([`crate::StopSignal`]) and stopped
    /// at a safe point, between two waves; the record of the operation
    /// lists the steps done.
    #[error(
        "revision {revision} stopped as asked before wave {wave}: steps {applied_steps:?} were applied and recorded, {remaining} steps were not; run the operation again to finish it, or roll back revision {revision} to restore the state before it"
    )]
    Stopped {
        /// Revision the operation was recorded as.
        revision: u32,
        /// The first wave not started.
        wave: usize,
        /// Numbers of the steps done.
        applied_steps: Vec<usize>,
        /// Steps not started.
        remaining: usize,
    },

    /// Our state or history objects in the namespace are missing or unreadable.
    #[error("stored state `{object}` in namespace `{namespace}`: {message}")]
    Store {
        /// Namespace.
        namespace: String,
        /// Object (or document) concerned.
        object: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// A plan handed back to be carried out no longer matches what the
    /// cluster and the market call for.
    #[error(
        "the plan for `{template}` in namespace `{namespace}` is out of date: {reason}; the cluster or the market changed since it was made, so make a new plan and review it"
    )]
    StalePlan {
        /// Namespace of the installation.
        namespace: String,
        /// Template id.
        template: String,
        /// What differs.
        reason: String,
    },
    /// The operation does not fit what is installed.
    #[error("{message}")]
    Precondition {
        /// What is wrong and what to do.
        message: String,
    },

    /// The environment's cluster cannot be reached from the kubeconfig.
    #[error(
        "cannot connect to environment `{environment}`: {message}; check the kubeconfig and the profile's context"
    )]
    Connect {
        /// Environment name.
        environment: String,
        /// What failed.
        message: String,
    },

    /// The Kubernetes API refused or failed a request.
    #[error("Kubernetes API error while {action}: {source}")]
    Kube {
        /// What we were doing, e.g. "applying Deployment pig/gateway".
        action: String,
        /// The client error (`message` in the serialized form).
        #[source]
        #[serde(rename = "message", serialize_with = "display")]
        source: kube::Error,
    },

    /// The operation was stopped before it changed anything; running it
    /// again does it. Serializes as `{"kind": "cancelled", "what"}`, as
    /// the market's own stops do.
    #[error("{what} was cancelled; run it again to resume where it stopped")]
    Cancelled {
        /// What was stopped.
        what: String,
    },

    /// A template-level problem (invalid document, bad version...).
    #[error(transparent)]
    #[serde(untagged)]
    Template(#[from] template_core::Error),
}

/// Who holds a lock another operation wanted. Serializes with its field
/// names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockHeld {
    /// Namespace of the installation.
    pub namespace: String,
    /// Template id.
    pub template: String,
    /// Lease object name.
    pub lease: String,
    /// Identity of the holder.
    pub holder: String,
    /// When the holder acquired the lock (RFC 3339).
    pub since: String,
    /// When the lock expires unless renewed (RFC 3339).
    pub expires: String,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Writes a value by its `Display` form.
fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl Error {
    /// The stable code of the error's class (core errors keep theirs). Every variant is listed: a new one must choose its code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Template(core) => core.code(),
            Error::ReleaseGate { .. } => "RELEASE_GATE",
            Error::Render { .. }
            | Error::Store { .. }
            | Error::Connect { .. }
            | Error::Kube { .. } => "KUBERNETES_ERROR",
            Error::Locked(_) => "LOCKED",
            Error::Stopped { .. } | Error::Cancelled { .. } => "CANCELLED",
            Error::NotReady { .. } | Error::StepFailed { .. } => "ROLLOUT_FAILED",
            Error::Precondition { .. } | Error::StalePlan { .. } => "PRECONDITION_FAILED",
        }
    }

    /// Wraps a client error with what we were doing.
    pub(crate) fn kube(action: impl Into<String>, source: kube::Error) -> Error {
        Error::Kube {
            action: action.into(),
            source,
        }
    }
}
