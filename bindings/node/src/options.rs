//! Option objects read with serde, as the Rust types define them
//! (snake_case field names, like the documents and the Rust JSON), through
//! `apptemplate_interop::options_from_data`: a misspelt field is an
//! `INVALID_ARGUMENT` error naming it (`options.prnue`), a wrong type a
//! `DOCUMENT_INVALID` error with its path.

use serde::de::DeserializeOwned;
use serde_json::Value;
use template_core::Error;

/// Reads `value` (absent or null means the type's default) as `T`.
pub(crate) fn read_options<T: DeserializeOwned + Default>(
    value: Option<Value>,
) -> Result<T, Error> {
    apptemplate_interop::options_from_data(value.unwrap_or(Value::Null), "options")
}
