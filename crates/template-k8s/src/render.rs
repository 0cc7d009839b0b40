//! Rendering: an installed state becomes the Kubernetes objects that run
//! it. Pure and deterministic — the same state and options give the same
//! objects in the same order — so it is tested without a cluster and its
//! output can be diffed and applied with server-side apply.
//!
//! What each component becomes:
//! - a Deployment, or a StatefulSet when it owns volumes;
//! - a ClusterIP Service for its inner ports, and a NodePort or
//!   LoadBalancer Service (as the environment says) for its outer ports;
//! - a ConfigMap with its config files, mounted file by file;
//! - a Secret with its confidential fixed values (env vars and connection
//!   info marked `secret`);
//! - one PersistentVolumeClaim per owned volume, standalone so it survives
//!   the workload, can be expanded, and can be mounted by other components;
//! - a HorizontalPodAutoscaler when `max_replicas > min_replicas`; the
//!   workload then leaves `replicas` to the autoscaler, so an upgrade never
//!   resets what the autoscaler chose.
//!
//! Generated secrets are referenced, never rendered: they live in one
//! Secret per installation (see [`generated_secret_name`]), created once by
//! the executor and kept across upgrades and rollbacks.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, ExecAction,
    HTTPGetAction, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    Secret, SecretKeySelector, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{ByteString, Resource};
use serde::{Deserialize, Serialize};
use template_core::EnvValue;
use template_core::installed::{InstalledComponent, InstalledState};
use template_core::{AccessMode, PluginKind, Protocol};

use crate::error::{Error, Result};

/// How outer ports are exposed in an environment.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// A port on every node.
    #[default]
    NodePort,
    /// A cloud or on-premises load balancer.
    LoadBalancer,
}

/// Environment settings that shape rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Namespace every object goes into.
    pub namespace: String,
    /// Registry the cluster pulls from (`host[:port][/prefix]`); images are
    /// rewritten to it, keeping repository path and digest. None keeps the
    /// template's references.
    pub registry: Option<String>,
    /// How outer ports are exposed.
    pub exposure: Exposure,
    /// Storage class for every volume, overriding the template's hints.
    pub storage_class: Option<String>,
}

/// One rendered object, as JSON ready for server-side apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedObject {
    /// Component the object belongs to; none for installation-wide objects.
    pub component: Option<String>,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// The whole object.
    pub object: serde_json::Value,
}

/// Name of the Secret holding the installation's generated secrets.
pub fn generated_secret_name(template: &str) -> String {
    format!("{template}-generated")
}

/// Key of a generated secret inside [`generated_secret_name`]: the
/// reference with `:` (not allowed in Secret keys) turned into `.`.
pub fn generated_secret_key(reference: &str) -> String {
    reference.replace(':', ".")
}

/// Name of every object of one component: `<template>-<component>`.
pub fn object_name(template: &str, component: &str) -> String {
    format!("{template}-{component}")
}

/// Labels that select the pods of one component. They never change, since
/// workload selectors are immutable.
pub fn selector_labels(template: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/instance".to_owned(), template.to_owned()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.to_owned(),
        ),
    ])
}

/// Renders every object of the installation, components in key order and,
/// within a component, in a fixed kind order.
pub fn render(state: &InstalledState, options: &RenderOptions) -> Result<Vec<RenderedObject>> {
    let mut out = Vec::new();
    for (key, component) in &state.components {
        out.extend(render_component(state, key, component, options)?);
    }
    for retained in &state.retained_volumes {
        let spec = &retained.volume;
        out.push(to_rendered(
            Some(&retained.component),
            &pvc(state, &retained.component, spec, options, &BTreeMap::new())?,
        )?);
    }
    Ok(out)
}

/// Renders the objects of one installed component.
pub fn render_component(
    state: &InstalledState,
    key: &str,
    installed: &InstalledComponent,
    options: &RenderOptions,
) -> Result<Vec<RenderedObject>> {
    let app = state.template.as_str();
    let spec = installed.effective();
    let name = object_name(app, key);
    let labels = component_labels(app, key, installed);
    let mut objects = Vec::new();

    // Config files: one ConfigMap, keys derived from the mount paths.
    let file_keys = config_file_keys(&spec, installed);
    if !file_keys.is_empty() {
        let data: BTreeMap<String, String> = file_keys
            .iter()
            .map(|f| (f.key.clone(), f.content.clone()))
            .collect();
        let cm = ConfigMap {
            metadata: meta(&format!("{name}-config"), options, &labels),
            data: Some(data),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &cm)?);
    }

    // Confidential fixed values.
    let env = container_env(state, installed, &spec);
    let secret_data: BTreeMap<String, ByteString> = env
        .secret_values
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
        .collect();
    if !secret_data.is_empty() {
        let secret = Secret {
            metadata: meta(&format!("{name}-env"), options, &labels),
            data: Some(secret_data),
            type_: Some("Opaque".to_owned()),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &secret)?);
    }

    // Volumes the component owns.
    for volume in spec.volumes.iter().filter(|v| v.shared_from.is_none()) {
        objects.push(to_rendered(
            Some(key),
            &pvc(state, key, volume, options, &labels)?,
        )?);
    }

    // Pod template.
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    if !file_keys.is_empty() {
        volumes.push(Volume {
            name: "config".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("{name}-config"),
                items: Some(
                    file_keys
                        .iter()
                        .map(|f| KeyToPath {
                            key: f.key.clone(),
                            path: f.key.clone(),
                            mode: Some(f.mode),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        });
        for f in file_keys.iter().filter(|f| f.owner.is_none()) {
            mounts.push(VolumeMount {
                name: "config".to_owned(),
                mount_path: f.mount_path.clone(),
                sub_path: Some(f.key.clone()),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
    for volume in &spec.volumes {
        let claim = match &volume.shared_from {
            Some(share) => {
                let (owner, vol) = share.split_once('/').unwrap_or((share.as_str(), ""));
                format!("{}-{vol}", object_name(app, owner))
            }
            None => format!("{name}-{}", volume.name),
        };
        let volume_name = format!("vol-{}", volume.name);
        volumes.push(Volume {
            name: volume_name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                read_only: Some(volume.access_mode == AccessMode::ReadOnlyMany),
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: volume_name,
            mount_path: volume.mount_path.clone(),
            ..Default::default()
        });
    }

    let main = Container {
        name: key.to_owned(),
        image: Some(relocate_image(&spec.image, options.registry.as_deref())?),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: non_empty(spec.command.clone()),
        args: non_empty(spec.args.clone()),
        ports: non_empty(
            spec.ports
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: port_number(p.port),
                    protocol: Some(l4_protocol(p.protocol).to_owned()),
                    ..Default::default()
                })
                .collect(),
        ),
        env: non_empty(env.vars),
        resources: resources(&spec.scaling),
        liveness_probe: spec.probes.liveness.as_ref().map(probe),
        readiness_probe: spec.probes.readiness.as_ref().map(probe),
        volume_mounts: non_empty(mounts.clone()),
        ..Default::default()
    };

    let mut containers = vec![main];
    let mut init_containers = Vec::new();
    for plugin in &installed.plugin_definitions {
        let overrides: Vec<&template_core::EnvVar> = spec
            .plugins
            .iter()
            .filter(|a| a.plugin == plugin.key)
            .flat_map(|a| a.env.iter())
            .collect();
        let mut plugin_env: Vec<EnvVar> = Vec::new();
        let mut seen = BTreeSet::new();
        for var in overrides.into_iter().chain(plugin.env.iter()) {
            if seen.insert(var.name.clone()) {
                plugin_env.push(plain_env(&var.name, &var.value));
            }
        }
        let plugin_mounts: Vec<VolumeMount> = file_keys
            .iter()
            .filter(|f| f.owner.as_deref() == Some(plugin.key.as_str()))
            .map(|f| VolumeMount {
                name: "config".to_owned(),
                mount_path: f.mount_path.clone(),
                sub_path: Some(f.key.clone()),
                read_only: Some(true),
                ..Default::default()
            })
            // Sidecars see the component's volumes too (log shippers).
            .chain(mounts.iter().filter(|m| m.name != "config").cloned())
            .collect();
        let container = Container {
            name: format!("plugin-{}", plugin.key),
            image: Some(relocate_image(&plugin.image, options.registry.as_deref())?),
            image_pull_policy: Some("IfNotPresent".to_owned()),
            command: non_empty(plugin.command.clone()),
            args: non_empty(plugin.args.clone()),
            env: non_empty(plugin_env),
            volume_mounts: non_empty(plugin_mounts),
            ..Default::default()
        };
        match plugin.kind {
            PluginKind::Sidecar => containers.push(container),
            PluginKind::Init => init_containers.push(container),
        }
    }

    let selector = selector_labels(app, key);
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            annotations: inputs_checksum(&file_keys, &env.referenced_secrets)
                .map(|sum| BTreeMap::from([(INPUTS_CHECKSUM.to_owned(), sum)])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers,
            init_containers: non_empty(init_containers),
            volumes: non_empty(volumes),
            ..Default::default()
        }),
    };
    let autoscaled = spec.scaling.max_replicas > spec.scaling.min_replicas;
    let replicas = if autoscaled {
        None
    } else {
        Some(replica_count(installed.replicas()))
    };
    let label_selector = LabelSelector {
        match_labels: Some(selector),
        ..Default::default()
    };
    if spec.is_stateful() {
        let sts = StatefulSet {
            metadata: meta(&name, options, &labels),
            spec: Some(StatefulSetSpec {
                replicas,
                selector: label_selector,
                service_name: Some(name.clone()),
                template,
                ..Default::default()
            }),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &sts)?);
    } else {
        let deployment = Deployment {
            metadata: meta(&name, options, &labels),
            spec: Some(DeploymentSpec {
                replicas,
                selector: label_selector,
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_unavailable: Some(IntOrString::Int(0)),
                        max_surge: Some(IntOrString::Int(1)),
                    }),
                }),
                template,
                ..Default::default()
            }),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &deployment)?);
    }

    // Services.
    for (suffix, outer) in [("", false), ("-outer", true)] {
        let ports: Vec<ServicePort> = spec
            .ports
            .iter()
            .filter(|p| if outer { p.outer } else { p.inner })
            .map(|p| ServicePort {
                name: Some(p.name.clone()),
                port: port_number(p.port),
                target_port: Some(IntOrString::String(p.name.clone())),
                protocol: Some(l4_protocol(p.protocol).to_owned()),
                app_protocol: app_protocol(p.protocol).map(str::to_owned),
                ..Default::default()
            })
            .collect();
        if ports.is_empty() {
            continue;
        }
        let type_ = match (outer, options.exposure) {
            (false, _) => "ClusterIP",
            (true, Exposure::NodePort) => "NodePort",
            (true, Exposure::LoadBalancer) => "LoadBalancer",
        };
        let service = Service {
            metadata: meta(&format!("{name}{suffix}"), options, &labels),
            spec: Some(ServiceSpec {
                type_: Some(type_.to_owned()),
                selector: Some(selector_labels(app, key)),
                ports: Some(ports),
                ..Default::default()
            }),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &service)?);
    }

    if autoscaled {
        let workload_kind = if spec.is_stateful() {
            StatefulSet::KIND
        } else {
            Deployment::KIND
        };
        let step = i32::try_from(spec.scaling.step).unwrap_or(i32::MAX);
        let rules = HPAScalingRules {
            policies: Some(vec![HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: step,
                period_seconds: 60,
            }]),
            ..Default::default()
        };
        let hpa = HorizontalPodAutoscaler {
            metadata: meta(&name, options, &labels),
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".to_owned()),
                    kind: workload_kind.to_owned(),
                    name: name.clone(),
                },
                min_replicas: Some(replica_count(installed.replicas())),
                max_replicas: replica_count(spec.scaling.max_replicas),
                metrics: Some(vec![MetricSpec {
                    type_: "Resource".to_owned(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".to_owned(),
                        target: MetricTarget {
                            type_: "Utilization".to_owned(),
                            average_utilization: Some(75),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                }]),
                behavior: Some(HorizontalPodAutoscalerBehavior {
                    scale_up: Some(rules.clone()),
                    scale_down: Some(rules),
                }),
            }),
            ..Default::default()
        };
        objects.push(to_rendered(Some(key), &hpa)?);
    }
    Ok(objects)
}

/// A config file of the component or one of its plugins, with its key in
/// the ConfigMap.
struct FileKey {
    key: String,
    mount_path: String,
    content: String,
    mode: i32,
    /// Plugin that mounts it; none for the component itself.
    owner: Option<String>,
}

fn config_file_keys(
    spec: &template_core::Component,
    installed: &InstalledComponent,
) -> Vec<FileKey> {
    let own = spec.config_files.iter().map(|f| (None, f));
    let plugin = installed
        .plugin_definitions
        .iter()
        .flat_map(|p| p.config_files.iter().map(move |f| (Some(p.key.clone()), f)));
    own.chain(plugin)
        .enumerate()
        .map(|(i, (owner, f))| {
            let base: String = f
                .mount_path
                .rsplit('/')
                .next()
                .unwrap_or("file")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            FileKey {
                key: format!("{i}-{base}"),
                mount_path: f.mount_path.clone(),
                content: f.content.clone(),
                mode: i32::from_str_radix(&f.mode, 8).unwrap_or(0o644),
                owner,
            }
        })
        .collect()
}

/// The container environment and the confidential values behind it.
struct ContainerEnv {
    vars: Vec<EnvVar>,
    /// Secret key → value for the component's `-env` Secret.
    secret_values: BTreeMap<String, String>,
    /// The confidential fixed values the container reads from Secrets, as
    /// (variable, component, key, value): when one changes, the pods must
    /// be replaced, since a container reads its env only when it starts.
    referenced_secrets: Vec<(String, String, String, String)>,
}

/// Pod template annotation holding a digest of what the pods read only
/// when they start and Kubernetes does not compare: the config files'
/// contents and the confidential values referenced from Secrets. When one
/// of them changes, the pod template changes with it and the workload
/// rolls out, so no pod keeps running on an old password or config.
pub const INPUTS_CHECKSUM: &str = "apptemplate.io/inputs-checksum";

/// `sha256:<hex>` over the config files and referenced confidential
/// values (names included, values length-prefixed so no two inputs
/// collide), or none when the component has neither.
fn inputs_checksum(
    files: &[FileKey],
    secrets: &[(String, String, String, String)],
) -> Option<String> {
    use sha2::{Digest, Sha256};
    if files.is_empty() && secrets.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    let mut field = |text: &str| {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    for f in files {
        field("file");
        field(&f.key);
        field(&f.content);
    }
    for (var, component, key, value) in secrets {
        field("secret");
        field(var);
        field(component);
        field(key);
        field(value);
    }
    Some(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Builds the container environment from the core's definition of what a
/// component receives ([`InstalledState::container_env_of`]): plain values
/// are written in, confidential ones referenced from the Secret that holds
/// them, addresses resolved to Service names.
fn container_env(
    state: &InstalledState,
    installed: &InstalledComponent,
    spec: &template_core::Component,
) -> ContainerEnv {
    let app = state.template.as_str();
    let mut secret_values = BTreeMap::new();
    for var in spec.env.iter().filter(|v| v.secret) {
        secret_values
            .entry(var.name.clone())
            .or_insert_with(|| var.value.clone());
    }
    let mut referenced_secrets = Vec::new();
    let vars = state
        .container_env_of(installed)
        .into_iter()
        .inspect(|var| {
            if let EnvValue::ComponentSecret {
                component,
                key,
                value,
            } = &var.value
            {
                referenced_secrets.push((
                    var.name.clone(),
                    component.clone(),
                    key.clone(),
                    value.clone(),
                ));
            }
        })
        .map(|var| match var.value {
            EnvValue::Plain { value } => plain_env(&var.name, &value),
            EnvValue::Address { component } => plain_env(&var.name, &object_name(app, &component)),
            EnvValue::Generated { reference } => secret_env(
                &var.name,
                &generated_secret_name(app),
                &generated_secret_key(&reference),
            ),
            EnvValue::ComponentSecret { component, key, .. } => secret_env(
                &var.name,
                &format!("{}-env", object_name(app, &component)),
                &key,
            ),
        })
        .collect();
    // Confidential fixed connection values of this component live in its
    // Secret, where dependants reference them, even if shadowed here.
    for var in installed
        .spec
        .connection_info
        .iter()
        .filter(|v| v.secret && v.generate.is_none())
    {
        secret_values
            .entry(var.name.clone())
            .or_insert_with(|| var.value.clone().unwrap_or_default());
    }
    ContainerEnv {
        vars,
        secret_values,
        referenced_secrets,
    }
}

fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pvc(
    state: &InstalledState,
    component: &str,
    volume: &template_core::Volume,
    options: &RenderOptions,
    labels: &BTreeMap<String, String>,
) -> Result<PersistentVolumeClaim> {
    let name = format!(
        "{}-{}",
        object_name(&state.template, component),
        volume.name
    );
    let capacity = volume.capacity.clone().ok_or_else(|| Error::Render {
        component: component.to_owned(),
        message: format!("volume `{}` has no capacity", volume.name),
    })?;
    let mut labels = labels.clone();
    if labels.is_empty() {
        labels = selector_labels(&state.template, component);
        labels.insert(
            "app.kubernetes.io/managed-by".to_owned(),
            crate::FIELD_MANAGER.to_owned(),
        );
    }
    let access = match volume.access_mode {
        AccessMode::ReadWriteOnce => "ReadWriteOnce",
        AccessMode::ReadWriteMany => "ReadWriteMany",
        AccessMode::ReadOnlyMany => "ReadOnlyMany",
    };
    Ok(PersistentVolumeClaim {
        metadata: meta(&name, options, &labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![access.to_owned()]),
            storage_class_name: options
                .storage_class
                .clone()
                .or_else(|| volume.storage_class.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(capacity))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn component_labels(
    app: &str,
    key: &str,
    installed: &InstalledComponent,
) -> BTreeMap<String, String> {
    let mut labels = installed.spec.labels.clone();
    labels.extend(selector_labels(app, key));
    labels.insert("app.kubernetes.io/name".to_owned(), key.to_owned());
    labels.insert("app.kubernetes.io/part-of".to_owned(), app.to_owned());
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        crate::FIELD_MANAGER.to_owned(),
    );
    if valid_label_value(&installed.version) {
        labels.insert(
            "app.kubernetes.io/version".to_owned(),
            installed.version.clone(),
        );
    }
    labels
}

fn valid_label_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn meta(name: &str, options: &RenderOptions, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(options.namespace.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    }
}

fn resources(scaling: &template_core::Scaling) -> Option<ResourceRequirements> {
    let pick = |pairs: [(&str, &Option<String>); 2]| {
        let map: BTreeMap<String, Quantity> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|q| ((*k).to_owned(), Quantity(q.clone()))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let requests = pick([
        ("cpu", &scaling.cpu_request),
        ("memory", &scaling.memory_request),
    ]);
    let limits = pick([
        ("cpu", &scaling.cpu_limit),
        ("memory", &scaling.memory_limit),
    ]);
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..Default::default()
    })
}

fn probe(p: &template_core::Probe) -> Probe {
    Probe {
        tcp_socket: p.tcp.as_ref().map(|t| TCPSocketAction {
            port: IntOrString::Int(port_number(t.port)),
            ..Default::default()
        }),
        http_get: p.http.as_ref().map(|h| HTTPGetAction {
            port: IntOrString::Int(port_number(h.port)),
            path: Some(h.path.clone()),
            ..Default::default()
        }),
        exec: p.exec.as_ref().map(|e| ExecAction {
            command: Some(e.command.clone()),
        }),
        initial_delay_seconds: Some(seconds(p.initial_delay_seconds)),
        period_seconds: Some(seconds(p.period_seconds)),
        timeout_seconds: Some(seconds(p.timeout_seconds)),
        failure_threshold: Some(seconds(p.failure_threshold)),
        ..Default::default()
    }
}

/// Rewrites `image` to pull from `registry`, keeping the repository path and
/// the digest: `registry.example.com/pig/gateway:3.9@sha256:…` with registry
/// `10.0.0.5:5000/mirror` becomes `10.0.0.5:5000/mirror/pig/gateway@sha256:…`.
pub fn relocate_image(image: &str, registry: Option<&str>) -> Result<String> {
    let Some(registry) = registry else {
        return Ok(image.to_owned());
    };
    let reference =
        oci_spec::distribution::Reference::from_str(image).map_err(|e| Error::Render {
            component: String::new(),
            message: format!("image `{image}` cannot be parsed: {e}"),
        })?;
    let digest = reference.digest().ok_or_else(|| Error::Render {
        component: String::new(),
        message: format!("image `{image}` is not pinned by digest"),
    })?;
    Ok(format!(
        "{}/{}@{digest}",
        registry.trim_end_matches('/'),
        reference.repository()
    ))
}

fn to_rendered<K>(component: Option<&str>, object: &K) -> Result<RenderedObject>
where
    K: Resource + Serialize + k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    let mut value = serde_json::to_value(object).map_err(|e| Error::Render {
        component: component.unwrap_or_default().to_owned(),
        message: format!("could not serialize {}: {e}", K::KIND),
    })?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".to_owned(), K::API_VERSION.into());
        map.insert("kind".to_owned(), K::KIND.into());
    }
    Ok(RenderedObject {
        component: component.map(str::to_owned),
        api_version: K::API_VERSION.to_owned(),
        kind: K::KIND.to_owned(),
        name: object.metadata().name.clone().unwrap_or_default(),
        object: value,
    })
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn port_number(port: u32) -> i32 {
    i32::try_from(port).unwrap_or(0)
}

fn seconds(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn replica_count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn l4_protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "UDP",
        _ => "TCP",
    }
}

fn app_protocol(protocol: Protocol) -> Option<&'static str> {
    match protocol {
        Protocol::Http => Some("http"),
        Protocol::Grpc => Some("grpc"),
        _ => None,
    }
}
