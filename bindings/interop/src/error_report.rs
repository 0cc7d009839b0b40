//! Core errors as the bindings raise them: a class with a stable code, the
//! message, and the error's fields as plain data.

use serde_json::{Value, json};
use template_core::Error;
use template_k8s::Error as K8sError;
use template_market::MarketError;

use crate::data::{release_state_name, to_data};

/// The error classes of the bindings: one per kind of failure a caller can
/// act on. Python raises one exception class per value, JavaScript sets
/// [`ErrorClass::code`] as the `code` of the thrown `Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The input is not a readable document: syntax, shape or size.
    Document,
    /// The document breaks template rules; see the problems.
    Validation,
    /// A version number is not a semantic version.
    InvalidVersion,
    /// The version number cannot be used: taken, frozen, or not newer.
    VersionConflict,
    /// The release life cycle does not allow the state.
    ReleaseState,
    /// Versions of two different templates were combined.
    TemplateMismatch,
    /// Writing a document failed.
    Write,
    /// An option or argument is not usable (unknown module, bad export).
    InvalidArgument,
    /// An offline package is damaged, truncated, tampered with or hostile;
    /// the details name the archive entry.
    PackageIntegrity,
    /// A package is unsigned, signed by an untrusted key, or its signature
    /// does not verify.
    Signature,
    /// A differential package needs a base the market lacks.
    MissingBase,
    /// A template, version, image or blob the market does not hold.
    NotFound,
    /// Not enough free disk space.
    InsufficientSpace,
    /// The market's files, keys or image sources failed (I/O, damage).
    Market,
    /// A registry refused or failed a relocation request.
    Registry,
    /// A progress callback stopped the operation; running it again resumes.
    Cancelled,
    /// Another operation holds the installation's lock.
    Locked,
    /// A production environment refused an unreleased version.
    ReleaseGate,
    /// Objects were applied but a workload did not become ready, or a
    /// step failed; the installation is partly changed.
    Rollout,
    /// The operation does not fit what is installed.
    Precondition,
    /// The cluster could not be reached, or its API failed.
    Kubernetes,
    /// A core error this version of the bindings does not classify yet.
    Other,
}

impl ErrorClass {
    /// Every class, base class ([`ErrorClass::Other`]) last.
    pub const ALL: [ErrorClass; 22] = [
        ErrorClass::Document,
        ErrorClass::Validation,
        ErrorClass::InvalidVersion,
        ErrorClass::VersionConflict,
        ErrorClass::ReleaseState,
        ErrorClass::TemplateMismatch,
        ErrorClass::Write,
        ErrorClass::InvalidArgument,
        ErrorClass::PackageIntegrity,
        ErrorClass::Signature,
        ErrorClass::MissingBase,
        ErrorClass::NotFound,
        ErrorClass::InsufficientSpace,
        ErrorClass::Market,
        ErrorClass::Registry,
        ErrorClass::Cancelled,
        ErrorClass::Locked,
        ErrorClass::ReleaseGate,
        ErrorClass::Rollout,
        ErrorClass::Precondition,
        ErrorClass::Kubernetes,
        ErrorClass::Other,
    ];

    /// The stable code: JavaScript's `error.code`, Python's `error.code`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorClass::Document => "DOCUMENT_INVALID",
            ErrorClass::Validation => "VALIDATION_FAILED",
            ErrorClass::InvalidVersion => "INVALID_VERSION",
            ErrorClass::VersionConflict => "VERSION_CONFLICT",
            ErrorClass::ReleaseState => "RELEASE_STATE",
            ErrorClass::TemplateMismatch => "TEMPLATE_MISMATCH",
            ErrorClass::Write => "WRITE_FAILED",
            ErrorClass::InvalidArgument => "INVALID_ARGUMENT",
            ErrorClass::PackageIntegrity => "PACKAGE_INTEGRITY",
            ErrorClass::Signature => "SIGNATURE_INVALID",
            ErrorClass::MissingBase => "MISSING_BASE",
            ErrorClass::NotFound => "NOT_FOUND",
            ErrorClass::InsufficientSpace => "INSUFFICIENT_SPACE",
            ErrorClass::Market => "MARKET_ERROR",
            ErrorClass::Registry => "REGISTRY_ERROR",
            ErrorClass::Cancelled => "CANCELLED",
            ErrorClass::Locked => "LOCKED",
            ErrorClass::ReleaseGate => "RELEASE_GATE",
            ErrorClass::Rollout => "ROLLOUT_FAILED",
            ErrorClass::Precondition => "PRECONDITION_FAILED",
            ErrorClass::Kubernetes => "KUBERNETES_ERROR",
            ErrorClass::Other => "TEMPLATE_ERROR",
        }
    }

    /// The Python exception class name (in `apptemplate.exceptions`).
    pub fn python_name(self) -> &'static str {
        match self {
            ErrorClass::Document => "DocumentError",
            ErrorClass::Validation => "ValidationError",
            ErrorClass::InvalidVersion => "InvalidVersionError",
            ErrorClass::VersionConflict => "VersionConflictError",
            ErrorClass::ReleaseState => "ReleaseStateError",
            ErrorClass::TemplateMismatch => "TemplateMismatchError",
            ErrorClass::Write => "WriteError",
            ErrorClass::InvalidArgument => "InvalidArgumentError",
            ErrorClass::PackageIntegrity => "PackageIntegrityError",
            ErrorClass::Signature => "SignatureError",
            ErrorClass::MissingBase => "MissingBaseError",
            ErrorClass::NotFound => "NotFoundError",
            ErrorClass::InsufficientSpace => "InsufficientSpaceError",
            ErrorClass::Market => "MarketError",
            ErrorClass::Registry => "RegistryError",
            ErrorClass::Cancelled => "OperationCancelledError",
            ErrorClass::Locked => "LockedError",
            ErrorClass::ReleaseGate => "ReleaseGateError",
            ErrorClass::Rollout => "RolloutError",
            ErrorClass::Precondition => "PreconditionError",
            ErrorClass::Kubernetes => "KubernetesError",
            ErrorClass::Other => "TemplateError",
        }
    }
}

/// An error of one of the wrapped crates, classified for the bindings.
pub trait Classify {
    /// The class, message and fields of the error.
    fn report(&self) -> ErrorReport;
}

impl Classify for Error {
    fn report(&self) -> ErrorReport {
        error_report(self)
    }
}

impl Classify for MarketError {
    fn report(&self) -> ErrorReport {
        let (class, details) = match self {
            MarketError::Core(core) => return error_report(core),
            MarketError::Io {
                action,
                path,
                source,
            } => (
                ErrorClass::Market,
                json!({"kind": "io", "action": action, "path": path, "message": source.to_string()}),
            ),
            MarketError::NotFound { what, market } => (
                ErrorClass::NotFound,
                json!({"kind": "not_found", "what": what, "market": market}),
            ),
            MarketError::MissingContent {
                template,
                version,
                path,
                digest,
            } => (
                ErrorClass::NotFound,
                json!({"kind": "missing_content", "template": template, "version": version, "path": path, "digest": digest}),
            ),
            MarketError::MissingBase {
                template,
                base,
                missing_blobs,
                missing_bytes,
            } => (
                ErrorClass::MissingBase,
                json!({"kind": "missing_base", "template": template, "base": base, "missing_blobs": missing_blobs, "missing_bytes": missing_bytes}),
            ),
            MarketError::InsufficientSpace {
                path,
                needed,
                available,
            } => (
                ErrorClass::InsufficientSpace,
                json!({"kind": "insufficient_space", "path": path, "needed": needed, "available": available}),
            ),
            MarketError::Unsigned { manifest_digest } => (
                ErrorClass::Signature,
                json!({"kind": "unsigned", "manifest_digest": manifest_digest}),
            ),
            MarketError::UntrustedKey {
                manifest_digest,
                key_id,
            } => (
                ErrorClass::Signature,
                json!({"kind": "untrusted_key", "manifest_digest": manifest_digest, "key_id": key_id}),
            ),
            MarketError::BadSignature {
                manifest_digest,
                message,
            } => (
                ErrorClass::Signature,
                json!({"kind": "bad_signature", "manifest_digest": manifest_digest, "message": message}),
            ),
            MarketError::Key { message } => (
                ErrorClass::Signature,
                json!({"kind": "key", "message": message}),
            ),
            MarketError::InvalidImageSource {
                source_path,
                message,
            } => (
                ErrorClass::Market,
                json!({"kind": "invalid_image_source", "path": source_path, "message": message}),
            ),
            MarketError::DeleteReleased {
                template,
                version,
                state,
            } => (
                ErrorClass::ReleaseState,
                json!({"kind": "delete_released", "template": template, "version": version, "state": release_state_name(*state)}),
            ),
            MarketError::Corrupt { path, message } => (
                ErrorClass::Market,
                json!({"kind": "corrupt", "path": path, "message": message}),
            ),
            MarketError::Registry {
                registry,
                item,
                message,
            } => (
                ErrorClass::Registry,
                json!({"kind": "registry", "registry": registry, "item": item, "message": message}),
            ),
            MarketError::Cancelled { what } => (
                ErrorClass::Cancelled,
                json!({"kind": "cancelled", "what": what}),
            ),
            MarketError::InvalidExport { message } => (
                ErrorClass::InvalidArgument,
                json!({"kind": "invalid_export", "message": message}),
            ),
            _ => (ErrorClass::Other, json!({"kind": "other"})),
        };
        ErrorReport {
            class,
            message: self.to_string(),
            details,
            problems: None,
        }
    }
}

impl Classify for K8sError {
    fn report(&self) -> ErrorReport {
        let (class, details) = match self {
            K8sError::Template(core) => return error_report(core),
            K8sError::Market(market) => return market.report(),
            K8sError::ReleaseGate {
                environment,
                template,
                version,
                state,
            } => (
                ErrorClass::ReleaseGate,
                json!({"kind": "release_gate", "environment": environment, "template": template, "version": version, "state": release_state_name(*state)}),
            ),
            K8sError::Render { component, message } => (
                ErrorClass::Kubernetes,
                json!({"kind": "render", "component": component, "message": message}),
            ),
            K8sError::Locked(held) => (
                ErrorClass::Locked,
                json!({"kind": "locked", "namespace": held.namespace, "template": held.template, "lease": held.lease, "holder": held.holder, "since": held.since, "expires": held.expires}),
            ),
            K8sError::NotReady {
                namespace,
                component,
                object,
                condition,
                waited_seconds,
            } => (
                ErrorClass::Rollout,
                json!({"kind": "not_ready", "namespace": namespace, "component": component, "object": object, "condition": condition, "waited_seconds": waited_seconds}),
            ),
            K8sError::StepFailed {
                revision,
                step,
                component,
                message,
            } => (
                ErrorClass::Rollout,
                json!({"kind": "step_failed", "revision": revision, "step": step, "component": component, "message": message}),
            ),
            K8sError::Store {
                namespace,
                object,
                message,
            } => (
                ErrorClass::Kubernetes,
                json!({"kind": "store", "namespace": namespace, "object": object, "message": message}),
            ),
            K8sError::StalePlan {
                namespace,
                template,
                reason,
            } => (
                ErrorClass::Precondition,
                json!({"kind": "stale_plan", "namespace": namespace, "template": template, "reason": reason}),
            ),
            K8sError::Precondition { message } => (
                ErrorClass::Precondition,
                json!({"kind": "precondition", "message": message}),
            ),
            K8sError::Connect {
                environment,
                message,
            } => (
                ErrorClass::Kubernetes,
                json!({"kind": "connect", "environment": environment, "message": message}),
            ),
            K8sError::Kube { action, source } => (
                ErrorClass::Kubernetes,
                json!({"kind": "kube", "action": action, "message": source.to_string()}),
            ),
            _ => (ErrorClass::Other, json!({"kind": "other"})),
        };
        ErrorReport {
            class,
            message: self.to_string(),
            details,
            problems: None,
        }
    }
}

/// A core error in the form the bindings raise it.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    /// Which class (and code) the error belongs to.
    pub class: ErrorClass,
    /// The core's message, unchanged.
    pub message: String,
    /// The error's fields as an object, with `kind` naming the core variant
    /// in snake case (`version_exists`, `shape`, ...).
    pub details: Value,
    /// For validation errors, every problem as `{path, kind, message}`.
    pub problems: Option<Value>,
}

/// Classifies a core error and lays out its fields as plain data.
pub fn error_report(err: &Error) -> ErrorReport {
    let (class, details) = match err {
        Error::DocumentTooLarge { size, limit } => (
            ErrorClass::Document,
            json!({"kind": "document_too_large", "size": size, "limit": limit}),
        ),
        Error::Syntax {
            format,
            line,
            column,
            message,
        } => (
            ErrorClass::Document,
            json!({"kind": "syntax", "format": format, "line": line, "column": column, "message": message}),
        ),
        Error::Shape { path, message } => (
            ErrorClass::Document,
            json!({"kind": "shape", "path": path, "message": message}),
        ),
        Error::Validation { .. } => (ErrorClass::Validation, json!({"kind": "validation"})),
        Error::InvalidVersion { value, message } => (
            ErrorClass::InvalidVersion,
            json!({"kind": "invalid_version", "value": value, "message": message}),
        ),
        Error::InvalidTransition {
            template,
            version,
            from,
            to,
            allowed: _,
        } => (
            ErrorClass::ReleaseState,
            json!({
                "kind": "invalid_transition",
                "template": template,
                "version": version,
                "from": release_state_name(*from),
                "to": release_state_name(*to),
                "allowed": from.next_states().iter().map(|s| release_state_name(*s)).collect::<Vec<_>>(),
            }),
        ),
        Error::VersionExists {
            template,
            version,
            existing,
            candidate,
        } => (
            ErrorClass::VersionConflict,
            json!({"kind": "version_exists", "template": template, "version": version, "existing": existing, "candidate": candidate}),
        ),
        Error::ReleasedImmutable {
            template,
            version,
            state,
        } => (
            ErrorClass::VersionConflict,
            json!({"kind": "released_immutable", "template": template, "version": version, "state": release_state_name(*state)}),
        ),
        Error::PublishState {
            template,
            version,
            state,
        } => (
            ErrorClass::ReleaseState,
            json!({"kind": "publish_state", "template": template, "version": version, "state": release_state_name(*state)}),
        ),
        Error::TemplateMismatch { expected, found } => (
            ErrorClass::TemplateMismatch,
            json!({"kind": "template_mismatch", "expected": expected, "found": found}),
        ),
        Error::VersionNotNewer { base, new } => (
            ErrorClass::VersionConflict,
            json!({"kind": "version_not_newer", "base": base, "new": new}),
        ),
        Error::Write { message } => (
            ErrorClass::Write,
            json!({"kind": "write", "message": message}),
        ),
        Error::InvalidOption { option, message } => (
            ErrorClass::InvalidArgument,
            json!({"kind": "invalid_option", "option": option, "message": message}),
        ),
        Error::StateMismatch {
            template,
            expected,
            found,
            advice,
        } => (
            ErrorClass::Precondition,
            json!({"kind": "state_mismatch", "template": template, "expected": expected, "found": found, "advice": advice}),
        ),
        Error::Package(package) => (
            ErrorClass::PackageIntegrity,
            json!({"kind": "package", "entry": package.entry()}),
        ),
        // Variants added to the core after this binding: raised as the base
        // class until they are classified here.
        _ => (ErrorClass::Other, json!({"kind": "other"})),
    };
    let problems = match err {
        Error::Validation { problems } => Some(to_data(problems).unwrap_or(Value::Null)),
        _ => None,
    };
    ErrorReport {
        class,
        message: err.to_string(),
        details,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use template_core::testing::minimal_version;
    use template_core::{ReleaseState, set_release_state, validate};

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::BTreeSet<_> =
            ErrorClass::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), ErrorClass::ALL.len());
    }

    #[test]
    fn python_names_are_distinct_and_end_in_error() {
        let names: std::collections::BTreeSet<_> =
            ErrorClass::ALL.iter().map(|c| c.python_name()).collect();
        assert_eq!(names.len(), ErrorClass::ALL.len());
        assert!(names.iter().all(|n| n.ends_with("Error")), "{names:?}");
    }

    #[test]
    fn market_errors_are_classified_with_their_fields() {
        let report = MarketError::MissingBase {
            template: "pig".into(),
            base: "version(s) 1.0.0".into(),
            missing_blobs: 3,
            missing_bytes: 4096,
        }
        .report();
        assert_eq!(report.class.code(), "MISSING_BASE");
        assert_eq!(report.details["missing_blobs"], json!(3));
        assert!(
            report.message.contains("import the base first"),
            "{}",
            report.message
        );

        // Core errors wrapped by the market keep the core's class.
        let wrapped = MarketError::Core(Error::VersionNotNewer {
            base: "2.0.0".into(),
            new: "1.0.0".into(),
        });
        assert_eq!(wrapped.report().class, ErrorClass::VersionConflict);
    }

    #[test]
    fn kubernetes_errors_are_classified_with_their_fields() {
        let locked = K8sError::Locked(Box::new(template_k8s::LockHeld {
            namespace: "shop".into(),
            template: "pig".into(),
            lease: "apptemplate-pig".into(),
            holder: "ci-runner-7".into(),
            since: "2026-11-22T03:00:00Z".into(),
            expires: "2026-11-22T03:00:30Z".into(),
        }))
        .report();
        assert_eq!(locked.class.code(), "LOCKED");
        assert_eq!(locked.details["holder"], json!("ci-runner-7"));

        let market = K8sError::Market(MarketError::Cancelled {
            what: "relocation".into(),
        })
        .report();
        assert_eq!(market.class.code(), "CANCELLED");
    }

    #[test]
    fn validation_errors_carry_their_problems() {
        let mut v = minimal_version("demo", "1.0.0");
        v.components[0].image = "nginx:latest".into();
        let problems = validate(&v);
        let report = error_report(&Error::Validation {
            problems: problems.clone(),
        });
        assert_eq!(report.class.code(), "VALIDATION_FAILED");
        assert_eq!(
            report.problems,
            Some(serde_json::to_value(&problems).unwrap())
        );
    }

    #[test]
    fn transitions_name_states_as_documents_do() {
        let mut v = minimal_version("demo", "1.0.0");
        let err = set_release_state(&mut v, ReleaseState::Released).unwrap_err();
        let report = error_report(&err);
        assert_eq!(report.class, ErrorClass::ReleaseState);
        assert_eq!(
            report.details,
            json!({"kind": "invalid_transition", "template": "demo", "version": "1.0.0",
                   "from": "draft", "to": "released", "allowed": ["testing"]})
        );
    }
}
