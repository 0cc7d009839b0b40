//! Exit codes and how failures are shown: the library's typed error with
//! what to do, its class and code, and with `--verbose` the causes.

use apptemplate_interop::{Classify, ErrorClass, ErrorReport};
use serde_json::{Value, json};

/// Exit codes (documented in `--help` and the crate README).
pub(crate) mod code {
    pub(crate) const OK: u8 = 0;
    pub(crate) const ERROR: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const CHANGES_PENDING: u8 = 3;
    pub(crate) const VERIFICATION: u8 = 4;
    pub(crate) const PARTIAL: u8 = 5;
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// A wrong argument or setting: exit code 2.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A failure, classified.
#[derive(Debug)]
pub(crate) struct Classified {
    pub(crate) exit_code: u8,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Value,
    pub(crate) causes: Vec<String>,
}

/// The library error inside `err`, if any, as the bindings classify it.
fn library_report(err: &anyhow::Error) -> Option<ErrorReport> {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<template_delivery::Error>() {
            return Some(e.report());
        }
        if let Some(e) = cause.downcast_ref::<template_k8s::Error>() {
            return Some(e.report());
        }
        if let Some(e) = cause.downcast_ref::<template_market::MarketError>() {
            return Some(e.report());
        }
        if let Some(e) = cause.downcast_ref::<template_core::Error>() {
            return Some(e.report());
        }
    }
    None
}

/// Classifies `err` for its exit code and its JSON form.
pub(crate) fn classify(err: &anyhow::Error) -> Classified {
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    if let Some(usage) = err.downcast_ref::<Usage>() {
        return Classified {
            exit_code: code::USAGE,
            code: "USAGE",
            message: usage.0.clone(),
            details: json!({"kind": "usage"}),
            causes,
        };
    }
    match library_report(err) {
        Some(report) => {
            let exit_code = match report.class {
                ErrorClass::PackageIntegrity | ErrorClass::Signature => code::VERIFICATION,
                ErrorClass::Cancelled => code::INTERRUPTED,
                _ => code::ERROR,
            };
            let mut details = report.details;
            if let (Some(problems), Some(map)) = (report.problems, details.as_object_mut()) {
                map.insert("problems".to_owned(), problems);
            }
            Classified {
                exit_code,
                code: report.class.code(),
                // The outermost message: context the command added, then
                // the library's own words.
                message: err.to_string(),
                details,
                causes,
            }
        }
        None => Classified {
            exit_code: code::ERROR,
            code: "ERROR",
            message: err.to_string(),
            details: json!({"kind": "other"}),
            causes,
        },
    }
}

impl Classified {
    /// The JSON form of the failure (inside the output document).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "exit_code": self.exit_code,
            "message": self.message,
            "details": self.details,
            "causes": self.causes,
        })
    }
}
