//! Core errors as the bindings raise them: a class with a stable code, the
//! message, and the error's fields as plain data.

use serde_json::{Value, json};
use template_core::Error;
use template_delivery::Error as DeliveryError;
use template_k8s::Error as K8sError;
use template_market::MarketError;

use crate::data::to_data;

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

impl ErrorClass {
    /// The class of a stable code, as the crates' `code()` methods give
    /// it; [`ErrorClass::Other`] for a code this version does not know.
    pub fn from_code(code: &str) -> ErrorClass {
        ErrorClass::ALL
            .into_iter()
            .find(|class| class.code() == code)
            .unwrap_or(ErrorClass::Other)
    }
}

/// An error of one of the wrapped crates, classified for the bindings.
pub trait Classify {
    /// The class, message and fields of the error.
    fn report(&self) -> ErrorReport;
}

/// The report of an error that serializes its own fields (with `kind`)
/// and knows its code: the classification lives in the crates' `code()`
/// methods, the details are the error's serialized form.
fn report_of<E: serde::Serialize + std::fmt::Display>(err: &E, code: &str) -> ErrorReport {
    let details =
        to_data(err).unwrap_or_else(|e| json!({"kind": "other", "message": e.to_string()}));
    ErrorReport {
        class: ErrorClass::from_code(code),
        message: err.to_string(),
        details,
        problems: None,
    }
}

impl Classify for Error {
    fn report(&self) -> ErrorReport {
        error_report(self)
    }
}

impl Classify for MarketError {
    fn report(&self) -> ErrorReport {
        match self {
            MarketError::Core(core) => error_report(core),
            other => report_of(other, other.code()),
        }
    }
}

impl Classify for K8sError {
    fn report(&self) -> ErrorReport {
        match self {
            K8sError::Template(core) => error_report(core),
            other => report_of(other, other.code()),
        }
    }
}

impl Classify for DeliveryError {
    fn report(&self) -> ErrorReport {
        match self {
            DeliveryError::Kubernetes(k8s) => k8s.report(),
            DeliveryError::Market(market) => market.report(),
            DeliveryError::Template(core) => error_report(core),
            // A variant added later is still classified by its own code.
            other => report_of(other, other.code()),
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
    /// The error's serialized form: its fields, with `kind` naming the
    /// variant in snake case (`version_exists`, `shape`, ...).
    pub details: Value,
    /// For validation errors, every problem as `{path, kind, message}`.
    pub problems: Option<Value>,
}

/// Classifies a core error and lays out its fields as plain data.
pub fn error_report(err: &Error) -> ErrorReport {
    let mut report = report_of(err, err.code());
    match err {
        // The states a version may move to, as documents name them.
        Error::InvalidTransition { from, .. } => {
            report.details["allowed"] = json!(
                from.next_states()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
            );
        }
        Error::Validation { problems } => {
            report.problems = Some(to_data(problems).unwrap_or(Value::Null));
        }
        _ => {}
    }
    report
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

        let market = DeliveryError::Market(MarketError::Cancelled {
            what: "relocation".into(),
        })
        .report();
        assert_eq!(market.class.code(), "CANCELLED");
        let stopped = K8sError::Cancelled {
            what: "the install".into(),
        }
        .report();
        assert_eq!(stopped.class.code(), "CANCELLED");
        assert_eq!(
            stopped.details,
            json!({"kind": "cancelled", "what": "the install"})
        );
        assert_eq!(market.details["kind"], stopped.details["kind"]);
    }

    #[test]
    fn package_errors_keep_their_kind_and_writer_failures_are_not_integrity() {
        use template_core::package::PackageError;
        let digest = Error::Package(PackageError::DigestMismatch {
            entry: "blobs/sha256/ab".into(),
            expected: "sha256:ab".into(),
            actual: "sha256:cd".into(),
        })
        .report();
        assert_eq!(digest.class.code(), "PACKAGE_INTEGRITY");
        assert_eq!(
            digest.details,
            json!({"kind": "package", "package_kind": "digest_mismatch",
                   "entry": "blobs/sha256/ab", "expected": "sha256:ab", "actual": "sha256:cd"})
        );
        let write = MarketError::from(PackageError::Write {
            entry: "index.json".into(),
            message: "No space left on device".into(),
        })
        .report();
        assert_eq!(write.class.code(), "WRITE_FAILED");
        assert_eq!(write.details["package_kind"], json!("write"));
    }

    #[test]
    fn every_variant_has_its_own_class_no_catch_all() {
        let random = Error::RandomSourceExhausted {
            reference: "db.password".into(),
            attempts: 64,
        }
        .report();
        assert_eq!(random.class, ErrorClass::InvalidArgument);
        assert_eq!(random.details["kind"], json!("random_source_exhausted"));
        assert_eq!(random.details["attempts"], json!(64));
    }

    #[test]
    fn a_step_failure_keeps_its_typed_cause() {
        let err = K8sError::StepFailed {
            revision: 3,
            step: 2,
            component: "ui".into(),
            message: "not ready".into(),
            cause: Box::new(K8sError::NotReady {
                namespace: "shop".into(),
                component: "ui".into(),
                object: "Deployment/pig-ui".into(),
                condition: "1/2 replicas updated".into(),
                waited_seconds: 90,
            }),
        };
        let report = err.report();
        assert_eq!(report.class.code(), "ROLLOUT_FAILED");
        assert_eq!(report.details["cause"]["kind"], json!("not_ready"));
        assert_eq!(report.details["cause"]["waited_seconds"], json!(90));
        assert_eq!(
            report.details["cause"]["condition"],
            json!("1/2 replicas updated")
        );
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
