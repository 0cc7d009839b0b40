//! The committed JSON Schema matches the model. Regenerate it with
//! `UPDATE_SCHEMA=1 cargo test -p template-core --test schema`.

// Tests read fixtures and files; the no-I/O rule is for the library.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;

#[test]
fn committed_schema_is_current() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/template-version.schema.json");
    let generated = template_core::schema::template_version_schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale; run `UPDATE_SCHEMA=1 cargo test -p template-core --test schema` and commit it",
        path.display()
    );
}

#[test]
fn schema_describes_the_document() {
    let schema = template_core::schema::template_version_schema();
    let required = schema["required"].as_array().expect("required list");
    for field in ["format", "template", "version", "components"] {
        assert!(required.iter().any(|r| r == field), "{field} not required");
    }
    assert!(schema["$defs"]["Component"]["properties"]["image"].is_object());
    assert_eq!(schema["$defs"]["Component"]["additionalProperties"], false);
}
