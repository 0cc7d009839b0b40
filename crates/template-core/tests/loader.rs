//! Loader errors: syntax, shape (with document path), size limits.

use template_core::{Error, Format, LoadOptions, load};

#[test]
fn json_syntax_error_names_line_and_column() {
    let err = load(
        b"{\n  \"format\": ,\n}",
        Format::Json,
        LoadOptions::default(),
    )
    .unwrap_err();
    match err {
        Error::Syntax {
            format,
            line,
            column,
            ..
        } => {
            assert_eq!(format, "JSON");
            assert_eq!((line, column), (2, 13));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn yaml_syntax_error_names_line() {
    let err = load(
        b"format: apptemplate.io/v1\ntemplate: {id: a\nversion: 1",
        Format::Yaml,
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Syntax { format: "YAML", line, .. } if line >= 1),
        "{err:?}"
    );
}

#[test]
fn wrong_type_names_the_path() {
    let doc = br#"{"format": "apptemplate.io/v1", "template": {"id": "a", "name": "A"},
        "version": "1.0.0", "components": [{"key": "web", "name": "Web", "image": "x",
        "ports": [{"name": "http", "port": "eighty"}]}]}"#;
    let err = load(doc, Format::Json, LoadOptions::default()).unwrap_err();
    match err {
        Error::Shape { path, .. } => assert_eq!(path, "components[0].ports[0].port"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_field_is_refused_with_its_path() {
    let doc = "format: apptemplate.io/v1\ntemplate: {id: a, name: A}\nversion: 1.0.0\ncomponents:\n  - key: web\n    name: Web\n    image: x\n    replicas: 3\n";
    let err = load(doc.as_bytes(), Format::Yaml, LoadOptions::default()).unwrap_err();
    match err {
        Error::Shape { path, message } => {
            assert_eq!(path, "components[0].replicas");
            assert!(message.contains("replicas"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn missing_required_field() {
    let err = load(
        b"format: apptemplate.io/v1\nversion: 1.0.0\ncomponents: []\n",
        Format::Yaml,
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("template"), "{err}");
}

#[test]
fn oversize_document_is_refused_before_parsing() {
    let big = vec![b' '; 1025];
    let err = load(&big, Format::Detect, LoadOptions { max_bytes: 1024 }).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DocumentTooLarge {
                size: 1025,
                limit: 1024
            }
        ),
        "{err:?}"
    );
}

#[test]
fn trailing_garbage_after_json_is_refused() {
    let doc = br#"{"format": "apptemplate.io/v1", "template": {"id": "a", "name": "A"}, "version": "1.0.0", "components": []} {}"#;
    let err = load(doc, Format::Json, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err:?}");
}

#[test]
fn yaml_alias_bomb_is_refused() {
    let mut doc =
        String::from("format: apptemplate.io/v1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        doc.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    assert!(load(doc.as_bytes(), Format::Yaml, LoadOptions::default()).is_err());
}
