//! The shared test vectors (`tests/data/vectors/foundation.json` and
//! `tests/data/vectors/plans.json`) hold for the Rust core. The Python and
//! Node suites check the same files, so the three cannot drift; when a
//! message, digest or plan changes on purpose, update the file (plans.json:
//! `UPDATE_VECTORS=1 cargo test -p template-core --test vectors`) and all
//! three follow.

// Tests read fixtures and files; the no-I/O rule is for the library.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

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

// ---------------------------------------------------------------------------
// Plans (`tests/data/vectors/plans.json`): diff, install, upgrade with a kept
// customization, apply, and rollback after a failed step, on the Pig
// fixtures. Regenerate with
// `UPDATE_VECTORS=1 cargo test -p template-core --test vectors`.

const PLAN_VECTORS_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/plans.json"
);

/// The customer's heap setting, kept over the new default by the upgrade.
const CUSTOMER_HEAP: &str = "-Xms1g -Xmx3g";

fn plan_vectors_about() -> Value {
    json!([
        "Shared test vectors of diffs, plans, apply and rollback on the Pig fixtures (tests/data/pig).",
        "Checked by crates/template-core/tests/vectors.rs, bindings/python/tests and bindings/node/test alike.",
        "Regenerate with `UPDATE_VECTORS=1 cargo test -p template-core --test vectors`; expected values are the Rust core's.",
        "Every value is the plain serde JSON of the Rust type (plans unmasked); `text` is the core's render_text().",
        "from/to: fixture paths under tests/data. diff: diff(from, to) as `json` and `text`.",
        "install: plan_install(from, options) as `plan` and `text`; `state` is install_state(plan).",
        "install.json: the plan as Plan::to_json() text, secret values masked (Python plan_json, Node planJson).",
        "customizations: the customer's edits (StateCustomizations: upms env JAVA_OPTS, kept by the upgrade); an input.",
        "installed: install.state customized with `customizations` (InstalledState::customized; Python and Node customize).",
        "upgrade: plan_upgrade(installed, from, to, options) as `plan` and `text`; `state` is apply(installed, plan).",
        "rollback: the record is the UpgradeRecord {before: installed, plan: upgrade.plan, outcome: rollback.outcome};",
        "`current` is record.state_after(); `plan`/`text` are plan_rollback(record, current, options);",
        "`state` is apply(current, plan): the snapshot's images and config, volumes never shrunk."
    ])
}

fn plan_json(plan: &template_core::Plan) -> Value {
    serde_json::to_value(plan).expect("plan JSON")
}

/// Computes every expected value of plans.json from the inputs it holds
/// (options, installed state, outcome), as the bindings do.
fn compute_plan_vectors(inputs: &Value) -> Value {
    use template_core::{
        InstallOptions, RollbackOptions, StateCustomizations, UpgradeOptions, UpgradeRecord, apply,
        diff, install_state, plan_install, plan_rollback, plan_upgrade,
    };
    let from_file = inputs["from"].as_str().expect("from");
    let to_file = inputs["to"].as_str().expect("to");
    let (from, to) = (fixture(from_file), fixture(to_file));

    let d = diff(&from, &to).expect("diff");

    let install_options: InstallOptions =
        serde_json::from_value(inputs["install"]["options"].clone()).expect("install options");
    let install = plan_install(&from, &install_options).expect("plan_install");
    let installed_fresh = install_state(&install).expect("install_state");

    let customizations: StateCustomizations = match inputs.get("customizations") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone()).expect("customizations"),
        _ => serde_json::from_value(json!({"env": {"upms": {"JAVA_OPTS": CUSTOMER_HEAP}}}))
            .expect("customer edit"),
    };
    let installed = installed_fresh
        .customized(&customizations)
        .expect("customized");

    let upgrade_options: UpgradeOptions =
        serde_json::from_value(inputs["upgrade"]["options"].clone()).expect("upgrade options");
    let upgrade = plan_upgrade(&installed, &from, &to, &upgrade_options).expect("plan_upgrade");
    let upgraded = apply(&installed, &upgrade).expect("apply");

    let outcome = inputs["rollback"]["outcome"].clone();
    let record: UpgradeRecord = serde_json::from_value(json!({
        "before": installed,
        "plan": upgrade,
        "outcome": outcome,
    }))
    .expect("record");
    let current = record.state_after().expect("state_after");
    let rollback_options: RollbackOptions =
        serde_json::from_value(inputs["rollback"]["options"].clone()).expect("rollback options");
    let rollback = plan_rollback(&record, &current, &rollback_options).expect("plan_rollback");
    let rolled_back = apply(&current, &rollback).expect("apply rollback");

    json!({
        "about": plan_vectors_about(),
        "from": from_file,
        "to": to_file,
        "diff": {"json": d, "text": d.render_text()},
        "install": {
            "options": install_options,
            "plan": plan_json(&install),
            "text": install.render_text(),
            "json": install.to_json().expect("masked plan JSON"),
            "state": installed_fresh,
        },
        "customizations": customizations,
        "installed": installed,
        "upgrade": {
            "options": upgrade_options,
            "plan": plan_json(&upgrade),
            "text": upgrade.render_text(),
            "state": upgraded,
        },
        "rollback": {
            "outcome": record.outcome,
            "current": current,
            "options": rollback_options,
            "plan": plan_json(&rollback),
            "text": rollback.render_text(),
            "state": rolled_back,
        },
    })
}

/// The inputs used when plans.json does not exist yet.
fn default_plan_inputs() -> Value {
    json!({
        "from": "pig/1.0.0.yaml",
        "to": "pig/2.0.0.yaml",
        "install": {"options": {"overrides": {"env": {"monitor": {"ADMIN_PASSWORD": "Sup3r-s3cret-admin"}}}}},
        "upgrade": {"options": {}},
        "rollback": {
            "options": {},
            "outcome": {"status": "failed_at_step", "step": 3, "message": "image pull failed"},
        },
    })
}

#[test]
fn plan_vectors_are_the_cores_results() {
    let regenerate = std::env::var_os("UPDATE_VECTORS").is_some();
    let stored: Option<Value> = std::fs::read_to_string(PLAN_VECTORS_PATH)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("plans.json is JSON"));
    let inputs = stored.clone().unwrap_or_else(default_plan_inputs);
    let computed = compute_plan_vectors(&inputs);
    if regenerate {
        let mut text = serde_json::to_string_pretty(&computed).expect("JSON");
        text.push('\n');
        std::fs::write(PLAN_VECTORS_PATH, text).expect("write plans.json");
        return;
    }
    let stored = stored.expect(
        "tests/data/vectors/plans.json is missing; run `UPDATE_VECTORS=1 cargo test -p template-core --test vectors`",
    );
    for section in [
        "diff",
        "install",
        "customizations",
        "installed",
        "upgrade",
        "rollback",
        "about",
    ] {
        assert_eq!(
            computed[section], stored[section],
            "plans.json section `{section}` is stale; run `UPDATE_VECTORS=1 cargo test -p template-core --test vectors` and review the change"
        );
    }
}

#[test]
fn plan_vectors_show_the_kept_customization_and_the_failed_step() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(PLAN_VECTORS_PATH).expect("plans.json exists"),
    )
    .expect("JSON");
    let kept: Vec<&Value> = v["upgrade"]["plan"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .flat_map(|s| s["kept"].as_array().into_iter().flatten())
        .collect();
    assert!(
        kept.iter()
            .any(|k| k["path"] == "components[upms].env[JAVA_OPTS]"),
        "the upgrade keeps the customer's heap: {kept:?}"
    );
    assert_eq!(
        v["upgrade"]["state"]["components"]["upms"]["customizations"]["env"]["JAVA_OPTS"],
        CUSTOMER_HEAP
    );
    assert_eq!(v["rollback"]["outcome"]["status"], "failed_at_step");
    let installed = v["installed"]["components"]
        .as_object()
        .expect("components");
    for (key, component) in installed {
        let restored = &v["rollback"]["state"]["components"][key];
        assert_eq!(
            restored["spec"], component["spec"],
            "rollback restores {key}"
        );
        assert_eq!(restored["version"], component["version"], "{key}");
    }
}
