//! The shared capture vectors (`tests/data/vectors/capture.json`): API
//! objects and options in, the whole capture report out. The Python
//! (`capture_objects`) and Node (`captureObjects`) suites check the same
//! file, so the conversion the three languages expose cannot drift. When
//! the conversion changes on purpose, regenerate the file with
//! `UPDATE_VECTORS=1 cargo test -p template-k8s --test capture_vectors`
//! and review its diff.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use serde_json::{Value, json};
use template_k8s::capture::{CaptureOptions, CapturedObjects, convert};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/capture.json"
);

fn shop() -> Vec<Value> {
    let path = format!(
        "{}/../../tests/data/capture/shop.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_norway::Value = serde::Deserialize::deserialize(d).expect("yaml");
            serde_json::to_value(v).expect("json")
        })
        .collect()
}

/// A small application with what the shop lacks: a tag without digest, a
/// Job, an object owned by another, the namespace's default objects.
fn edges() -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "worker", "labels": {"app": "worker"}},
            "spec": {"selector": {"matchLabels": {"app": "worker"}}, "template": {
                "metadata": {"labels": {"app": "worker"}},
                "spec": {"containers": [{"name": "worker", "image": "registry.example.com/jobs/worker:2.1",
                    "env": [{"name": "QUEUE_HOST", "value": "queue"}, {"name": "QUEUE_PORT", "value": "5672"},
                            {"name": "API_TOKEN", "value": "literal-looks-secret"}]}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "queue", "labels": {"app": "queue"}},
            "spec": {"selector": {"matchLabels": {"app": "queue"}}, "template": {
                "metadata": {"labels": {"app": "queue"}},
                "spec": {"containers": [{"name": "queue",
                    "image": "registry.example.com/library/rabbitmq:3.13@sha256:7777777777777777777777777777777777777777777777777777777777777777",
                    "ports": [{"containerPort": 5672}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "queue"},
            "spec": {"selector": {"app": "queue"}, "ports": [{"port": 5672, "targetPort": 5672}]}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "migrate", "image": "registry.example.com/jobs/migrate:1"}]}}}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "queue-5d8f",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "queue", "uid": "u1"}]}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"}}),
    ]
}

fn cases() -> Vec<(&'static str, &'static str, Vec<Value>, Value)> {
    vec![
        (
            "the shop, written by hand, defaults",
            "shop",
            shop(),
            json!({"template_id": "shop"}),
        ),
        (
            "the shop with generated and copied secrets",
            "shop",
            shop(),
            json!({"template_id": "shop", "template_name": "Shop", "version": "2.0.0",
                   "generate_secrets": ["*PASSWORD*"], "copy_secret_values": ["db-credentials/password"]}),
        ),
        (
            "tags without digest, a job, owned and default objects",
            "jobs",
            edges(),
            json!({}),
        ),
    ]
}

fn report(namespace: &str, objects: &[Value], options: &Value) -> Value {
    let options: CaptureOptions = serde_json::from_value(options.clone()).expect("options");
    let mut captured = CapturedObjects::new(namespace);
    for o in objects {
        captured.push(o.clone()).expect("object");
    }
    serde_json::to_value(convert(&captured, &options)).expect("report")
}

#[test]
fn capture_vectors_hold() {
    let generated: Vec<Value> = cases()
        .into_iter()
        .map(|(name, namespace, objects, options)| {
            let report = report(namespace, &objects, &options);
            json!({"name": name, "namespace": namespace, "objects": objects, "options": options, "report": report})
        })
        .collect();
    let document = json!({
        "about": [
            "Shared vectors of the capture conversion: API objects and options in, the whole report out.",
            "Checked by crates/template-k8s/tests/capture_vectors.rs, bindings/python/tests and bindings/node/test alike.",
            "Regenerate with `UPDATE_VECTORS=1 cargo test -p template-k8s --test capture_vectors`; expected values are the Rust conversion's."
        ],
        "cases": generated,
    });
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&document).expect("json") + "\n";
        std::fs::write(PATH, text).expect("write the vectors");
        return;
    }
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| {
        panic!("{PATH}: {e}; generate it with UPDATE_VECTORS=1 cargo test -p template-k8s --test capture_vectors")
    });
    let stored: Value = serde_json::from_str(&text).expect("vectors are JSON");
    let stored_cases = stored["cases"].as_array().expect("cases");
    assert_eq!(
        stored_cases.len(),
        document["cases"].as_array().map_or(0, Vec::len)
    );
    for (stored, generated) in stored_cases
        .iter()
        .zip(document["cases"].as_array().into_iter().flatten())
    {
        let name = generated["name"].as_str().unwrap_or_default();
        assert_eq!(stored["objects"], generated["objects"], "{name}: objects");
        assert_eq!(stored["options"], generated["options"], "{name}: options");
        // The stored objects, converted now, give the stored report.
        let now = report(
            stored["namespace"].as_str().unwrap_or_default(),
            stored["objects"].as_array().map_or(&[][..], Vec::as_slice),
            &stored["options"],
        );
        assert_eq!(
            now, stored["report"],
            "{name}: the report changed; if on purpose, regenerate with UPDATE_VECTORS=1"
        );
    }
    // The vectors say what they should: the secret value stays out unless
    // copied, the tag stays unresolved, the Job is listed.
    let text = serde_json::to_string(&stored_cases[0]["report"]).unwrap_or_default();
    assert!(!text.contains("s3cr3t-Pa55word-never-copied"));
    let copied = serde_json::to_string(&stored_cases[1]["report"]).unwrap_or_default();
    assert!(copied.contains("s3cr3t-Pa55word-never-copied"));
    let edges = &stored_cases[2]["report"];
    assert!(
        edges["images"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["source"] == "unresolved")
    );
    assert!(
        edges["unsupported"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| u["object"] == "Job/migrate")
    );
}
