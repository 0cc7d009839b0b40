//! The error type of `template-delivery`.

/// Everything `template-delivery` can report: a failure of the cluster
/// side (`template-k8s`), of the market side (`template-market`), or a
/// template-level problem.
///
/// Each variant serializes as the error it wraps (its fields with `kind`);
/// [`Error::code`] gives the wrapped error's stable code.
#[derive(Debug, thiserror::Error, serde::Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Error {
    /// The cluster side failed: release gate, lock, rollout, Kubernetes
    /// API, stored state, a stop.
    #[error(transparent)]
    Kubernetes(#[from] template_k8s::Error),

    /// The local market failed: a version it lacks, an image relocation a
    /// registry refused, a pull stopped by its callback, a damaged market.
    #[error(transparent)]
    Market(#[from] template_market::MarketError),

    /// A template-level problem (invalid document, bad version...).
    #[error(transparent)]
    Template(#[from] template_core::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code of the error's class: the wrapped error's own.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Kubernetes(e) => e.code(),
            Error::Market(e) => e.code(),
            Error::Template(e) => e.code(),
        }
    }

    /// An operation that does not fit what is installed, or a task that
    /// stopped unexpectedly ([`template_k8s::Error::Precondition`]).
    pub(crate) fn precondition(message: String) -> Error {
        Error::Kubernetes(template_k8s::Error::Precondition { message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_errors_keep_their_code_and_form() {
        let market = Error::from(template_market::MarketError::Cancelled {
            what: "relocation".into(),
        });
        assert_eq!(market.code(), "CANCELLED");
        assert_eq!(
            serde_json::to_value(&market).unwrap(),
            serde_json::json!({"kind": "cancelled", "what": "relocation"})
        );
        let k8s = Error::precondition("it broke".into());
        assert_eq!(k8s.code(), "PRECONDITION_FAILED");
        assert_eq!(k8s.to_string(), "it broke");
    }
}
