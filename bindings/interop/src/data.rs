//! Core values as plain data (`serde_json::Value`) and back.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use template_core::{Error, ReleaseState};

/// The plain-data form of a core value: exactly what its Rust JSON holds.
///
/// Fails only for values whose JSON form does not exist (a map with
/// non-string keys); no core type is like that.
pub fn to_data<T: Serialize>(value: &T) -> serde_json::Result<Value> {
    serde_json::to_value(value)
}

/// A core value read from plain data (a template document given as a Python
/// dict or a JavaScript object, an incremental change, ...). A field of the
/// wrong type, an unknown field, or a missing required one gives
/// [`Error::Shape`] with the path of the field, as the document loader
/// reports it for JSON text, but without text positions.
pub fn from_data<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| Error::Shape {
        path: err.path().to_string(),
        message: err.into_inner().to_string(),
    })
}

/// Options (install, upgrade, rollback, export, import, relocation,
/// delivery...) read from plain data: the one reader of every option type
/// for every language. `argument` names the argument in messages (e.g.
/// `options`; empty for keyword arguments, whose paths start at the field).
///
/// A value of the right type that is refused (a misspelt field, an unknown
/// name such as `compression: "gzip"`, a 0 where at least 1 is needed, a
/// key that does not parse) is an [`Error::InvalidOption`] naming the
/// option's path; a value of the wrong type or a missing required field is
/// [`Error::Shape`] with the path. Null means the defaults.
pub fn options_from_data<T: DeserializeOwned + Default>(
    value: Value,
    argument: &str,
) -> Result<T, Error> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let at = match (argument.is_empty(), path == ".") {
            (_, true) => argument.to_owned(),
            (true, false) => path,
            (false, false) => format!("{argument}.{path}"),
        };
        let message = err.into_inner().to_string();
        if message.starts_with("invalid type") || message.starts_with("missing field") {
            Error::Shape { path: at, message }
        } else if message.starts_with("unknown field") {
            Error::InvalidOption {
                option: at,
                message: format!("{message}; check its spelling"),
            }
        } else {
            Error::InvalidOption {
                option: at,
                message,
            }
        }
    })
}

/// One environment's outcome of a delivery as plain data: its Rust JSON,
/// with `error` (when it failed) as `{code, message, details}` so callers
/// can tell a refused release gate from a lock or a rollout failure.
pub fn outcome_data(outcome: &template_delivery::EnvironmentOutcome) -> serde_json::Result<Value> {
    let mut value = to_data(outcome)?;
    if let (Some(err), Value::Object(map)) = (&outcome.error, &mut value) {
        let report = crate::Classify::report(err);
        let error = ErrorData {
            code: report.class.code().to_owned(),
            message: report.message,
            details: report.details,
        };
        map.insert("error".to_owned(), to_data(&error)?);
    }
    Ok(value)
}

/// An error as plain data, classified like a thrown one: how a delivery
/// reports an environment that failed.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ErrorData {
    /// The stable code of the error's class (`LOCKED`, `ROLLOUT`, ...).
    pub code: String,
    /// The message, for people.
    pub message: String,
    /// The error's fields, with `kind` naming the case.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub details: Value,
}

/// The release state named as in documents (`draft`, `testing`,
/// `released`, `deprecated`); anything else is
/// [`Error::InvalidOption`] (option `state`) listing the names.
pub fn parse_release_state(name: &str) -> Result<ReleaseState, Error> {
    name.parse()
}

/// The name of a release state as documents write it.
pub fn release_state_name(state: ReleaseState) -> String {
    state.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn release_states_round_trip_by_name() {
        for state in [
            ReleaseState::Draft,
            ReleaseState::Testing,
            ReleaseState::Released,
            ReleaseState::Deprecated,
        ] {
            assert_eq!(
                parse_release_state(&release_state_name(state)).ok(),
                Some(state)
            );
        }
        let err = parse_release_state("gone").unwrap_err().to_string();
        assert!(
            err.contains("`gone`") && err.contains("deprecated"),
            "{err}"
        );
    }

    #[test]
    fn misspelt_options_name_the_field_and_the_choices() {
        let given = json!({"overrides": {"replica": {"web": 2}}});
        let err = options_from_data::<template_core::InstallOptions>(given, "options").unwrap_err();
        let Error::InvalidOption { option, message } = err else {
            panic!("expected an invalid option, got {err:?}");
        };
        assert_eq!(option, "options.overrides.replica");
        assert!(message.contains("`replicas`"), "{message}");

        let wrong_type = json!({"prune": "yes"});
        let err =
            options_from_data::<template_core::UpgradeOptions>(wrong_type, "options").unwrap_err();
        assert!(
            matches!(&err, Error::Shape { path, .. } if path == "options.prune"),
            "{err:?}"
        );
        let defaults: template_core::RollbackOptions =
            options_from_data(Value::Null, "options").unwrap();
        assert_eq!(defaults, template_core::RollbackOptions::default());
    }

    #[test]
    fn shape_errors_carry_the_field_path() {
        let change = json!({"version": "1.1.0", "components": [{"key": "web"}]});
        let err = from_data::<template_core::IncrementalChange>(change).unwrap_err();
        let Error::Shape { path, message } = err else {
            panic!("expected a shape error, got {err:?}");
        };
        assert_eq!(path, "components[0]");
        assert!(message.contains("name"), "{message}");
    }
}
