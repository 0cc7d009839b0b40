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
//!
//! The builders are split by what they read: `inputs` turns config files
//! and the environment into keys and references, `pod` builds the pod
//! template and its containers, `objects` has one builder per object kind.

mod inputs;
mod objects;
mod pod;

use std::collections::BTreeMap;
use std::str::FromStr;

use k8s_openapi::Resource;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use template_core::Protocol;
use template_core::installed::{InstalledComponent, InstalledState};

use self::inputs::{ContainerEnv, FileKey};
use crate::error::{Error, Result};

/// The field manager name of every server-side apply of ours, and the
/// `app.kubernetes.io/managed-by` label of what we render.
pub const FIELD_MANAGER: &str = "apptemplate";

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
            &objects::pvc(state, &retained.component, spec, options, &BTreeMap::new())?,
        )?);
    }
    Ok(out)
}

/// Renders the objects of one installed component, in a fixed kind order:
/// ConfigMap, Secret, owned claims, workload, Services, autoscaler.
pub fn render_component(
    state: &InstalledState,
    key: &str,
    installed: &InstalledComponent,
    options: &RenderOptions,
) -> Result<Vec<RenderedObject>> {
    let view = ComponentView::new(state, key, installed, options);
    let mut out = Vec::new();
    if let Some(config) = view.config_map() {
        out.push(view.rendered(&config)?);
    }
    if let Some(secret) = view.env_secret() {
        out.push(view.rendered(&secret)?);
    }
    for claim in view.owned_claims()? {
        out.push(view.rendered(&claim)?);
    }
    let template = view.pod_template()?;
    out.push(if view.spec.is_stateful() {
        view.rendered(&view.stateful_set(template))?
    } else {
        view.rendered(&view.deployment(template))?
    });
    for service in view.services() {
        out.push(view.rendered(&service)?);
    }
    if let Some(autoscaler) = view.autoscaler() {
        out.push(view.rendered(&autoscaler)?);
    }
    Ok(out)
}

/// One component as every builder reads it: its effective spec, names,
/// labels, config files and environment, worked out once.
struct ComponentView<'a> {
    state: &'a InstalledState,
    key: &'a str,
    installed: &'a InstalledComponent,
    options: &'a RenderOptions,
    spec: template_core::Component,
    /// `<template>-<component>`, the name of the workload and its Service.
    name: String,
    labels: BTreeMap<String, String>,
    files: Vec<FileKey>,
    env: ContainerEnv,
}

impl<'a> ComponentView<'a> {
    fn new(
        state: &'a InstalledState,
        key: &'a str,
        installed: &'a InstalledComponent,
        options: &'a RenderOptions,
    ) -> Self {
        let spec = installed.effective();
        let files = inputs::config_file_keys(&spec, installed);
        let env = inputs::container_env(state, installed, &spec);
        ComponentView {
            state,
            key,
            installed,
            options,
            name: object_name(&state.template, key),
            labels: component_labels(&state.template, key, installed),
            spec,
            files,
            env,
        }
    }

    fn app(&self) -> &str {
        &self.state.template
    }

    /// Object metadata under `name`, with the component's labels.
    fn meta(&self, name: &str) -> ObjectMeta {
        meta(name, self.options, &self.labels)
    }

    /// Whether an autoscaler owns the replica count.
    fn autoscaled(&self) -> bool {
        self.spec.scaling.max_replicas > self.spec.scaling.min_replicas
    }

    fn rendered<K>(&self, object: &K) -> Result<RenderedObject>
    where
        K: Resource + Serialize + k8s_openapi::Metadata<Ty = ObjectMeta>,
    {
        to_rendered(Some(self.key), object)
    }
}

/// Pod template annotation holding a digest of what the pods read only
/// when they start and Kubernetes does not compare: the config files'
/// contents and the confidential values referenced from Secrets. When one
/// of them changes, the pod template changes with it and the workload
/// rolls out, so no pod keeps running on an old password or config.
pub const INPUTS_CHECKSUM: &str = "apptemplate.io/inputs-checksum";

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
        FIELD_MANAGER.to_owned(),
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
