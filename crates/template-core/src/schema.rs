//! The JSON Schema of template documents, generated from the model types.
//! The committed copy in `schema/template-version.schema.json` is checked
//! against this by a test, so consoles always validate against the truth.

/// The JSON Schema (draft 2020-12) of a [`crate::model::TemplateVersion`] document.
pub fn template_version_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(crate::model::TemplateVersion))
        .unwrap_or(serde_json::Value::Null)
}

/// The schema as pretty JSON text with a trailing newline, as committed.
pub fn template_version_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&template_version_schema()).unwrap_or_default();
    text.push('\n');
    text
}
