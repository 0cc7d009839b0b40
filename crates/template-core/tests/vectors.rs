//! The shared test vectors (`tests/data/vectors/foundation.json`) hold for
//! the Rust core. The Python and Node suites check the same file, so the
//! three cannot drift; when a message or digest changes on purpose, update
//! the file and all three follow.

use serde_json::{Value, json};
use template_core::{
    CandidateFilter, Error, Format, IncrementalChange, LoadOptions, Overwrite, TemplateVersion,
    build_incremental, check_publish, content_digest, ensure_valid, load, set_release_state,
    to_json_string, to_yaml_string, upgrade_candidates, validate,
};

const VECTORS: &str = include_str!("../../../tests/data/vectors/foundation.json");
const FIXTURES: &[(&str, &str)] = &[
    (
        "pig/1.0.0.yaml",
        include_str!("../../../tests/data/pig/1.0.0.yaml"),
    ),
    (
        "pig/2.0.0.yaml",
        include_str!("../../../tests/data/pig/2.0.0.yaml"),
    ),
];

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors are JSON")
}

fn fixture(name: &str) -> TemplateVersion {
    let text = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    load(text.as_bytes(), Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

/// The base document with the top-level fields of `fields` replaced.
fn overlay(base: &Value, fields: &Value) -> Value {
    let mut doc = base.clone();
    if let (Some(doc), Some(fields)) = (doc.as_object_mut(), fields.as_object()) {
        for (k, v) in fields {
            doc.insert(k.clone(), v.clone());
        }
    }
    doc
}

fn document(value: &Value) -> TemplateVersion {
    serde_json::from_value(value.clone()).expect("vector document loads")
}

/// The core variant as the vectors name it (`kind`).
fn variant(err: &Error) -> &'static str {
    match err {
        Error::DocumentTooLarge { .. } => "document_too_large",
        Error::Syntax { .. } => "syntax",
        Error::Shape { .. } => "shape",
        Error::Validation { .. } => "validation",
        Error::InvalidVersion { .. } => "invalid_version",
        Error::InvalidTransition { .. } => "invalid_transition",
        Error::VersionExists { .. } => "version_exists",
        Error::ReleasedImmutable { .. } => "released_immutable",
        Error::PublishState { .. } => "publish_state",
        Error::TemplateMismatch { .. } => "template_mismatch",
        Error::VersionNotNewer { .. } => "version_not_newer",
        Error::Write { .. } => "write",
        _ => "other",
    }
}

fn assert_error(err: &Error, expected: &Value, case: &str) {
    assert_eq!(variant(err), expected["kind"], "{case}: {err}");
    assert_eq!(err.to_string(), expected["message"], "{case}");
    if let Error::Validation { problems } = err {
        assert_eq!(json!(problems), expected["problems"], "{case}");
    }
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a Vec<Value> {
    v[section]
        .as_array()
        .unwrap_or_else(|| panic!("section {section}"))
}

fn name(case: &Value) -> String {
    case["name"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn fixtures_have_their_digests_in_every_format() {
    let v = vectors();
    for case in cases(&v, "fixtures") {
        let file = case["file"].as_str().expect("file");
        let t = fixture(file);
        assert_eq!(t.template.id, case["id"], "{file}");
        assert_eq!(t.version, case["version"], "{file}");
        assert_eq!(json!(t.release_state), case["release_state"], "{file}");
        assert_eq!(json!(validate(&t)), case["problems"], "{file}");
        let digest = content_digest(&t).expect("digest");
        assert_eq!(digest, case["content_digest"], "{file}");
        let json = to_json_string(&t).expect("json");
        let from_json =
            load(json.as_bytes(), Format::Json, LoadOptions::default()).expect("json loads");
        assert_eq!(
            content_digest(&from_json).expect("digest"),
            digest,
            "{file} via JSON"
        );
        let from_data = document(&serde_json::to_value(&t).expect("data"));
        assert_eq!(
            content_digest(&from_data).expect("digest"),
            digest,
            "{file} via data"
        );
    }
}

#[test]
fn writing_is_byte_for_byte() {
    let v = vectors();
    let w = &v["writing"];
    let text = serde_json::to_vec(&w["document"]).expect("document");
    let t = load(&text, Format::Json, LoadOptions::default()).expect("loads");
    assert_eq!(to_json_string(&t).expect("json"), w["json"]);
    assert_eq!(to_yaml_string(&t).expect("yaml"), w["yaml"]);
    assert_eq!(content_digest(&t).expect("digest"), w["content_digest"]);
    let yaml = w["yaml"].as_str().expect("yaml");
    let from_yaml =
        load(yaml.as_bytes(), Format::Yaml, LoadOptions::default()).expect("yaml loads");
    assert_eq!(from_yaml, t);
    for same in w["same_content"].as_array().expect("same_content") {
        assert_eq!(
            content_digest(&document(same)).expect("digest"),
            w["content_digest"]
        );
    }
}

#[test]
fn text_that_does_not_load() {
    let v = vectors();
    for case in cases(&v, "load_text") {
        let format = match case["format"].as_str() {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        let options = match case["max_bytes"].as_u64() {
            Some(max) => LoadOptions {
                max_bytes: usize::try_from(max).expect("max_bytes"),
            },
            None => LoadOptions::default(),
        };
        let text = case["text"].as_str().expect("text");
        let err = load(text.as_bytes(), format, options).expect_err(&name(case));
        assert_error(&err, &case["error"], &name(case));
    }
}

#[test]
fn data_that_does_not_load() {
    // The bindings read dicts and objects with serde_path_to_error and report
    // `Error::Shape` at the failing path, without text positions.
    let v = vectors();
    for case in cases(&v, "load_data") {
        let err = serde_path_to_error::deserialize::<_, TemplateVersion>(case["document"].clone())
            .expect_err(&name(case));
        let err = Error::Shape {
            path: err.path().to_string(),
            message: err.into_inner().to_string(),
        };
        assert_error(&err, &case["error"], &name(case));
    }
}

#[test]
fn broken_documents_report_every_problem() {
    let v = vectors();
    for case in cases(&v, "validation") {
        let t = document(&case["document"]);
        assert_eq!(json!(validate(&t)), case["problems"], "{}", name(case));
        let err = ensure_valid(&t).expect_err(&name(case));
        assert_error(&err, &case["error"], &name(case));
    }
}

#[test]
fn release_state_transitions() {
    let v = vectors();
    for case in cases(&v, "release_state") {
        let label = format!("{} -> {}", case["from"], case["to"]);
        let mut t = document(&overlay(
            &v["base_document"],
            &json!({"release_state": case["from"]}),
        ));
        let to = serde_json::from_value(case["to"].clone()).expect("state");
        match set_release_state(&mut t, to) {
            Ok(()) => {
                assert_eq!(case["ok"], true, "{label}");
                assert_eq!(json!(t.release_state), case["to"], "{label}");
            }
            Err(err) => assert_error(&err, &case["error"], &label),
        }
    }
}

#[test]
fn upgrade_candidates_in_order() {
    let v = vectors();
    let base = &v["base_document"];
    for case in cases(&v, "upgrade_candidates") {
        let installed = document(&overlay(base, &case["installed"]));
        let available: Vec<TemplateVersion> = case["available"]
            .as_array()
            .expect("available")
            .iter()
            .map(|o| document(&overlay(base, o)))
            .collect();
        let filter = CandidateFilter {
            released_only: case["released_only"] == true,
        };
        match upgrade_candidates(&installed, &available, filter) {
            Ok(found) => {
                let versions: Vec<&str> = found.iter().map(|t| t.version.as_str()).collect();
                assert_eq!(json!(versions), case["expected"], "{}", name(case));
            }
            Err(err) => assert_error(&err, &case["error"], &name(case)),
        }
    }
}

#[test]
fn publish_rules() {
    let v = vectors();
    let base = &v["base_document"];
    for case in cases(&v, "check_publish") {
        let existing =
            (!case["existing"].is_null()).then(|| document(&overlay(base, &case["existing"])));
        let candidate = document(&overlay(base, &case["candidate"]));
        let overwrite = if case["overwrite"] == true {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        match check_publish(existing.as_ref(), &candidate, overwrite) {
            Ok(outcome) => assert_eq!(json!(outcome), case["outcome"], "{}", name(case)),
            Err(err) => assert_error(&err, &case["error"], &name(case)),
        }
    }
}

#[test]
fn incremental_publish() {
    let v = vectors();
    for case in cases(&v, "build_incremental") {
        let base = fixture(case["base"].as_str().expect("base"));
        let change =
            serde_path_to_error::deserialize::<_, IncrementalChange>(case["change"].clone());
        let result = match change {
            Ok(change) => build_incremental(&base, change),
            Err(err) => Err(Error::Shape {
                path: err.path().to_string(),
                message: err.into_inner().to_string(),
            }),
        };
        match result {
            Ok((next, summary)) => {
                assert_eq!(json!(summary), case["summary"], "{}", name(case));
                assert_eq!(next.version, case["version"], "{}", name(case));
                assert_eq!(
                    json!(next.release_state),
                    case["release_state"],
                    "{}",
                    name(case)
                );
                assert_eq!(
                    content_digest(&next).expect("digest"),
                    case["content_digest"],
                    "{}",
                    name(case)
                );
            }
            Err(err) => assert_error(&err, &case["error"], &name(case)),
        }
    }
}

#[test]
fn every_section_has_cases() {
    let v = vectors();
    for section in [
        "fixtures",
        "load_text",
        "load_data",
        "validation",
        "release_state",
        "upgrade_candidates",
        "check_publish",
        "build_incremental",
    ] {
        assert!(!cases(&v, section).is_empty(), "{section}");
    }
}
