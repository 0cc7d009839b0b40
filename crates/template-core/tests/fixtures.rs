//! The Pig fixtures load, validate, round-trip, and differ as documented.

use template_core::{
    Format, LoadOptions, content_digest, load, to_json_string, to_yaml_string, validate,
};

const PIG_1: &str = include_str!("../../../tests/data/pig/1.0.0.yaml");
const PIG_2: &str = include_str!("../../../tests/data/pig/2.0.0.yaml");

fn pig(text: &str) -> template_core::TemplateVersion {
    load(text.as_bytes(), Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

#[test]
fn pig_fixtures_are_valid() {
    for text in [PIG_1, PIG_2] {
        let v = pig(text);
        assert_eq!(validate(&v), vec![], "{} has problems", v.version);
    }
}

#[test]
fn pig_fixtures_have_the_seed_components() {
    let v1 = pig(PIG_1);
    let keys: Vec<&str> = v1.components.iter().map(|c| c.key.as_str()).collect();
    for key in [
        "nacos", "gateway", "auth", "upms", "codegen", "monitor", "ui", "mysql", "redis",
    ] {
        assert!(keys.contains(&key), "missing {key}");
    }
    let v2 = pig(PIG_2);
    let report = v2
        .component("report")
        .expect("2.0.0 adds the report module");
    let module = v2
        .module(report.module.as_deref().unwrap_or_default())
        .expect("module declared");
    assert!(module.optional && !module.enabled_by_default);
    assert_ne!(
        v1.component("gateway").map(|c| &c.image),
        v2.component("gateway").map(|c| &c.image)
    );
    assert_eq!(v1.component("mysql"), v2.component("mysql"));
}

#[test]
fn yaml_and_json_round_trip_with_one_digest() {
    for text in [PIG_1, PIG_2] {
        let v = pig(text);
        let json = to_json_string(&v).unwrap();
        let from_json = load(json.as_bytes(), Format::Detect, LoadOptions::default()).unwrap();
        assert_eq!(from_json, v);
        let yaml = to_yaml_string(&v).unwrap();
        let from_yaml = load(yaml.as_bytes(), Format::Detect, LoadOptions::default()).unwrap();
        assert_eq!(from_yaml, v);
        assert_eq!(
            content_digest(&from_json).unwrap(),
            content_digest(&v).unwrap()
        );
        // Writing twice gives the same bytes.
        assert_eq!(to_json_string(&from_yaml).unwrap(), json);
    }
    assert_ne!(
        content_digest(&pig(PIG_1)).unwrap(),
        content_digest(&pig(PIG_2)).unwrap()
    );
}
