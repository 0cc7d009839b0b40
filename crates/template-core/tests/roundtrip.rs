//! Property tests: documents survive JSON and YAML round trips, the content
//! digest ignores key order, state and creation time, and no input makes
//! the loader panic.

use proptest::prelude::*;
use template_core::{
    AccessMode, Alphabet, Component, ConfigFile, ConnectionVar, EnvVar, Format, LoadOptions, Port,
    Protocol, ReleaseState, SecretRule, TemplateVersion, Volume, content_digest, load,
    testing::minimal_version, to_json_string, to_yaml_string,
};

fn text() -> impl Strategy<Value = String> {
    // Printable text including YAML-significant characters, newlines and
    // non-ASCII, to exercise quoting.
    prop::string::string_regex("[a-zA-Z0-9 :#&*!|>'\"%@`{}\\[\\],.\\-\n\u{00e9}\u{4e2d}]{0,24}")
        .expect("valid regex")
}

fn name() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-z][a-z0-9-]{0,10}[a-z0-9]").expect("valid regex")
}

fn env_var() -> impl Strategy<Value = EnvVar> {
    (name(), text(), text(), any::<bool>(), any::<bool>()).prop_map(
        |(name, value, description, editable, secret)| EnvVar {
            name: name.to_uppercase().replace('-', "_"),
            value,
            description,
            editable,
            secret,
        },
    )
}

fn component() -> impl Strategy<Value = Component> {
    (
        name(),
        text(),
        prop::collection::vec(env_var(), 0..4),
        prop::collection::vec((name(), 1u32..65_536, any::<bool>(), any::<bool>()), 0..3),
        prop::collection::vec((text(), "[0-7]{4}"), 0..3),
        prop::option::of((1u32..300, 0usize..4, prop::option::of(name()))),
        prop::collection::btree_map(name(), name(), 0..3),
        (0u32..5, 0u32..5),
    )
        .prop_map(
            |(key, content, env, ports, files, secret, labels, (min, max))| {
                let mut c = template_core::testing::minimal_component(&key);
                c.env = env;
                c.ports = ports
                    .into_iter()
                    .map(|(name, port, inner, outer)| Port {
                        name,
                        port,
                        protocol: Protocol::Http,
                        inner,
                        outer,
                    })
                    .collect();
                c.config_files = files
                    .into_iter()
                    .enumerate()
                    .map(|(i, (extra, mode))| ConfigFile {
                        mount_path: format!("/etc/app/{i}.conf"),
                        content: format!("{content}{extra}"),
                        mode,
                    })
                    .collect();
                c.connection_info = secret
                    .into_iter()
                    .map(|(length, alphabet, group)| ConnectionVar {
                        name: "PASSWORD".into(),
                        value: None,
                        generate: Some(SecretRule {
                            length,
                            alphabet: [
                                Alphabet::Alphanumeric,
                                Alphabet::LowerAlphanumeric,
                                Alphabet::Hex,
                                Alphabet::Symbols,
                            ][alphabet],
                            group,
                        }),
                        description: String::new(),
                        secret: true,
                    })
                    .collect();
                c.volumes = vec![Volume {
                    name: "data".into(),
                    mount_path: "/data".into(),
                    capacity: Some(format!("{}Gi", min + 1)),
                    access_mode: AccessMode::ReadWriteMany,
                    storage_class: None,
                    shared_from: None,
                }];
                c.labels = labels;
                c.scaling.min_replicas = min;
                c.scaling.max_replicas = max;
                c
            },
        )
}

fn version() -> impl Strategy<Value = TemplateVersion> {
    (
        name(),
        (0u64..20, 0u64..20, 0u64..20),
        prop::option::of(text()),
        text(),
        prop::collection::vec(component(), 1..5),
        0usize..4,
    )
        .prop_map(|(id, (a, b, c), alias, notes, components, state)| {
            let mut v = minimal_version(&id, &format!("{a}.{b}.{c}"));
            v.alias = alias;
            v.release_notes = notes;
            v.components = components;
            v.release_state = [
                ReleaseState::Draft,
                ReleaseState::Testing,
                ReleaseState::Released,
                ReleaseState::Deprecated,
            ][state];
            v
        })
}

/// Reverses the key order of every JSON object, recursively.
fn reverse_keys(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .rev()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        reverse_keys(v)
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(reverse_keys).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn json_round_trip(v in version()) {
        let json = to_json_string(&v).unwrap();
        let back = load(json.as_bytes(), Format::Json, LoadOptions::default()).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(to_json_string(&back).unwrap(), json);
    }

    #[test]
    fn yaml_round_trip(v in version()) {
        let yaml = to_yaml_string(&v).unwrap();
        let back = load(yaml.as_bytes(), Format::Yaml, LoadOptions::default()).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(to_yaml_string(&back).unwrap(), yaml);
    }

    #[test]
    fn digest_ignores_key_order_state_and_time(v in version(), when in 0u32..28) {
        let value = serde_json::to_value(&v).unwrap();
        let shuffled = reverse_keys(&value);
        let back = load(shuffled.as_bytes(), Format::Json, LoadOptions::default()).unwrap();
        let digest = content_digest(&v).unwrap();
        prop_assert_eq!(content_digest(&back).unwrap(), digest.clone());
        let mut later = v.clone();
        later.created_at = Some(format!("2026-02-{:02}T10:00:00Z", when + 1));
        later.release_state = ReleaseState::Deprecated;
        prop_assert_eq!(content_digest(&later).unwrap(), digest.clone());
        let mut changed = v.clone();
        changed.release_notes.push('!');
        prop_assert_ne!(content_digest(&changed).unwrap(), digest);
    }

    #[test]
    fn loader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = load(&bytes, Format::Detect, LoadOptions::default());
        let _ = load(&bytes, Format::Json, LoadOptions::default());
        let _ = load(&bytes, Format::Yaml, LoadOptions::default());
    }

    #[test]
    fn validation_never_panics_on_mutated_documents(v in version(), cut in 0usize..4096) {
        // Truncate a valid document anywhere; whatever still loads validates
        // without panicking.
        let json = to_json_string(&v).unwrap();
        let end = cut.min(json.len());
        if let Ok(doc) = load(&json.as_bytes()[..end], Format::Json, LoadOptions::default()) {
            let _ = template_core::validate(&doc);
        }
        let _ = template_core::validate(&v);
    }
}
