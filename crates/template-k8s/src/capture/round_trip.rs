//! Comparing a capture with the version that was installed: what a
//! capture of an apptemplate installation must give back, field by field,
//! leaving out only the fields every capture loses ([`ALWAYS_LOST`]).

use std::collections::{BTreeMap, BTreeSet};

use template_core::{Component, Protocol, TemplateVersion};

use super::CaptureReport;

/// Fields of the model no capture can recover from the objects, because
/// rendering does not write them onto the cluster (or writes them merged).
/// Every report lists them in [`CaptureReport::lossy`] with an empty
/// component.
pub const ALWAYS_LOST: [(&str, &str); 14] = [
    (
        "template.name, description, scope, tags, logo",
        "catalogue data is not on the cluster; fill it in before publishing",
    ),
    (
        "alias, release_notes, created_at",
        "version data is not on the cluster",
    ),
    (
        "modules, components[].module",
        "module groups are not rendered; every captured component is always installed",
    ),
    (
        "config_groups",
        "shared variables are rendered into each component's env and are captured there",
    ),
    (
        "components[].name, description",
        "the display name becomes the workload name",
    ),
    ("components[].env[].description, editable", "not rendered"),
    (
        "components[].env (injected)",
        "variables injected from dependencies' connection info and `<PORT>_HOST`/`<PORT>_PORT` are captured as the dependant's own env",
    ),
    (
        "components[].connection_info",
        "rendered into dependants' env; only generated secrets are recovered, with a default length and alphabet",
    ),
    ("components[].scaling.min_memory", "not rendered"),
    (
        "components[].scaling.step without autoscaling",
        "the step is rendered only on an autoscaler (max_replicas above min_replicas); without one it is captured as 1",
    ),
    (
        "plugins[].name, plugins[].env overrides per component",
        "the plugin name becomes the container name; per-component overrides are merged into the plugin env",
    ),
    (
        "secret values",
        "values from Secrets are not copied unless asked per key",
    ),
    (
        "components[].ports[].protocol of a port no Service exposes",
        "the application protocol (http, grpc) is rendered only on Services; such a port is captured as tcp",
    ),
    (
        "components[].volumes[].storage_class",
        "the class in use is captured; an environment's override cannot be told from the template's hint",
    ),
];

/// What differs between `installed` and the capture of it, besides the
/// fields in [`ALWAYS_LOST`]: one line per difference, empty when the
/// round trip holds.
pub fn round_trip_differences(installed: &TemplateVersion, report: &CaptureReport) -> Vec<String> {
    let mut out = Vec::new();
    let captured = &report.version;
    let keys = |v: &TemplateVersion| {
        v.components
            .iter()
            .map(|c| c.key.clone())
            .collect::<Vec<_>>()
    };
    let (mut a, mut b) = (keys(installed), keys(captured));
    a.sort();
    b.sort();
    if a != b {
        out.push(format!("components: installed {a:?}, captured {b:?}"));
    }
    for want in &installed.components {
        let Some(have) = captured.component(&want.key) else {
            continue;
        };
        compare_component(installed, captured, want, have, &mut out);
    }
    out
}

fn compare_component(
    installed: &TemplateVersion,
    captured: &TemplateVersion,
    want: &Component,
    have: &Component,
    out: &mut Vec<String>,
) {
    let key = &want.key;
    let mut diff = |field: &str, a: String, b: String| {
        if a != b {
            out.push(format!(
                "components[{key}].{field}: installed {a}, captured {b}"
            ));
        }
    };
    diff("image", want.image.clone(), have.image.clone());
    diff(
        "command",
        format!("{:?}", want.command),
        format!("{:?}", have.command),
    );
    diff(
        "args",
        format!("{:?}", want.args),
        format!("{:?}", have.args),
    );
    // A port no Service exposes keeps only its transport on the cluster.
    let ports = |c: &Component| {
        c.ports
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if !p.inner && !p.outer && matches!(p.protocol, Protocol::Http | Protocol::Grpc) {
                    p.protocol = Protocol::Tcp;
                }
                p
            })
            .collect::<Vec<_>>()
    };
    diff(
        "ports",
        format!("{:?}", ports(want)),
        format!("{:?}", ports(have)),
    );
    let files = |c: &Component| {
        let mut f: Vec<_> = c
            .config_files
            .iter()
            .map(|f| (f.mount_path.clone(), f.content.clone(), f.mode.clone()))
            .collect();
        f.sort();
        f
    };
    diff(
        "config_files",
        format!("{:?}", files(want)),
        format!("{:?}", files(have)),
    );
    let volumes = |c: &Component| {
        c.volumes
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.mount_path.clone(),
                    v.capacity.clone(),
                    v.access_mode,
                    v.shared_from.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    diff(
        "volumes",
        format!("{:?}", volumes(want)),
        format!("{:?}", volumes(have)),
    );
    let scaling = |c: &Component| {
        let s = &c.scaling;
        (
            s.min_replicas,
            s.max_replicas,
            if s.max_replicas > s.min_replicas {
                s.step
            } else {
                1
            },
            s.cpu_request.clone(),
            s.cpu_limit.clone(),
            s.memory_request.clone(),
            s.memory_limit.clone(),
        )
    };
    diff(
        "scaling",
        format!("{:?}", scaling(want)),
        format!("{:?}", scaling(have)),
    );
    diff(
        "probes",
        format!("{:?}", want.probes),
        format!("{:?}", have.probes),
    );
    diff(
        "labels",
        format!("{:?}", want.labels),
        format!("{:?}", have.labels),
    );
    // Every installed variable is captured with its value (secret values
    // are required at install, not copied).
    let captured_env: BTreeMap<&str, &template_core::EnvVar> =
        have.env.iter().map(|e| (e.name.as_str(), e)).collect();
    for var in &want.env {
        match captured_env.get(var.name.as_str()) {
            None => diff(
                &format!("env[{}]", var.name),
                "present".into(),
                "missing".into(),
            ),
            Some(c) if var.secret => diff(
                &format!("env[{}].secret", var.name),
                "true".into(),
                c.secret.to_string(),
            ),
            Some(c) => diff(
                &format!("env[{}]", var.name),
                var.value.clone(),
                c.value.clone(),
            ),
        }
    }
    // Dependencies visible on the cluster are found again.
    for dep in &want.depends_on {
        let visible = installed
            .component(dep)
            .is_some_and(|d| d.ports.iter().any(|p| p.inner) || !d.connection_info.is_empty());
        if visible && !have.depends_on.contains(dep) {
            diff(
                &format!("depends_on[{dep}]"),
                "present".into(),
                "missing".into(),
            );
        }
    }
    let overridden: BTreeSet<&str> = want
        .plugins
        .iter()
        .filter(|a| !a.env.is_empty())
        .map(|a| a.plugin.as_str())
        .collect();
    let attached = |v: &TemplateVersion, c: &Component| {
        let mut p: Vec<_> = c
            .plugins
            .iter()
            .filter_map(|a| v.plugin(&a.plugin))
            .map(|p| {
                // Per-component overrides are merged into the plugin's env.
                let mut env: Vec<_> = if overridden.contains(p.key.as_str()) {
                    Vec::new()
                } else {
                    p.env.iter().map(|e| (&e.name, &e.value)).collect()
                };
                env.sort();
                let mut files: Vec<_> = p
                    .config_files
                    .iter()
                    .map(|f| (&f.mount_path, &f.content, &f.mode))
                    .collect();
                files.sort();
                format!(
                    "{} {:?} {} {:?} {:?} env {env:?} files {files:?}",
                    p.key, p.kind, p.image, p.command, p.args
                )
            })
            .collect();
        p.sort();
        p
    };
    diff(
        "plugins",
        format!("{:?}", attached(installed, want)),
        format!("{:?}", attached(captured, have)),
    );
}

#[cfg(test)]
mod tests;
