//! Small valid documents for examples, doctests and property tests.

use crate::model::{Component, DOCUMENT_FORMAT, Scaling, TemplateInfo, TemplateVersion};

/// A digest that is well-formed but names no real blob.
pub const EXAMPLE_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A valid version of template `id` with one component, `web`.
pub fn minimal_version(id: &str, version: &str) -> TemplateVersion {
    TemplateVersion {
        format: DOCUMENT_FORMAT.to_owned(),
        template: TemplateInfo {
            id: id.to_owned(),
            name: id.to_owned(),
            description: String::new(),
            scope: Default::default(),
            tags: Vec::new(),
            logo: None,
        },
        version: version.to_owned(),
        alias: None,
        release_notes: String::new(),
        release_state: Default::default(),
        created_at: None,
        modules: Vec::new(),
        config_groups: Vec::new(),
        plugins: Vec::new(),
        components: vec![minimal_component("web")],
    }
}

/// A valid component with key `key`, one image pinned by digest and nothing else.
pub fn minimal_component(key: &str) -> Component {
    Component {
        key: key.to_owned(),
        name: key.to_owned(),
        description: String::new(),
        module: None,
        image: format!("registry.example.com/demo/{key}:1.0@{EXAMPLE_DIGEST}"),
        command: Vec::new(),
        args: Vec::new(),
        ports: Vec::new(),
        env: Vec::new(),
        connection_info: Vec::new(),
        config_files: Vec::new(),
        volumes: Vec::new(),
        depends_on: Vec::new(),
        scaling: Scaling::default(),
        probes: Default::default(),
        labels: Default::default(),
        plugins: Vec::new(),
    }
}
