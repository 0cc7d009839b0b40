//! The pure conversion from API objects to a draft version and its report.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolumeClaim, PodSpec, PodTemplateSpec, Probe, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};
use template_core::{
    AccessMode, Alphabet, Component, ConfigFile, ConnectionVar, DOCUMENT_FORMAT, EnvVar, ExecProbe,
    HttpProbe, Plugin, PluginAttachment, PluginKind, Port, Probes, Protocol, ReleaseState, Scaling,
    Scope, SecretRule, TcpProbe, TemplateInfo, TemplateVersion, Volume,
};

use super::evidence::{Authored, LAST_APPLIED, Seg};
use super::hosts::{ServiceForm, find_mentions};
use super::{
    CaptureOptions, CaptureReport, CapturedObjects, Confidence, DefaultedField, DigestSource,
    Evidence, ExternalHost, FlaggedEnv, ImageDecision, InferredDependency, LossyField, Note,
    SecretDecision, SecretHandling, SkippedObject,
};
use crate::render::FIELD_MANAGER;

const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Labels we render ourselves, or controllers add; never copied.
const RENDERED_LABELS: [&str; 6] = [
    LABEL_INSTANCE,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
];
const CONTROLLER_LABELS: [&str; 5] = [
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
];
/// Annotations controllers and kubectl write; never reported as lost.
const MANAGED_ANNOTATIONS: [&str; 4] = [
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/restartedAt",
    "kubectl.kubernetes.io/default-container",
];
/// Length of secrets generated in place of captured Secret values.
const GENERATED_LENGTH: u32 = 24;

/// One workload the draft is made from.
struct Workload<'a> {
    kind: &'static str,
    name: String,
    meta: &'a ObjectMeta,
    template: &'a PodTemplateSpec,
    replicas: Option<i32>,
    claim_templates: Vec<&'a PersistentVolumeClaim>,
    spec_json: Value,
    key: String,
    managed: bool,
    authored: Authored,
}

impl Workload<'_> {
    fn object(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    fn pod_labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }

    fn pod_spec(&self) -> Option<&PodSpec> {
        self.template.spec.as_ref()
    }
}

/// A dependency found while reading one component.
struct Edge {
    to: String,
    confidence: Confidence,
    evidence: String,
}

/// Service text to rewrite once dependencies are known.
struct Rewrite {
    component: String,
    location: TextLocation,
}

enum TextLocation {
    Env(String),
    File(String),
}

/// The conversion's working state.
struct Conversion<'a> {
    objects: &'a CapturedObjects,
    options: &'a CaptureOptions,
    report: CaptureReport,
    template_id: String,
    used_config_maps: BTreeSet<String>,
    used_secrets: BTreeSet<String>,
    used_claims: BTreeSet<String>,
    used_services: BTreeSet<String>,
    used_autoscalers: BTreeSet<String>,
    port_names: BTreeSet<String>,
    edges: BTreeMap<String, Vec<Edge>>,
    plugins: Vec<Plugin>,
    /// Claim name → `<component>/<volume>` of its first user.
    claim_owners: BTreeMap<String, String>,
    /// Workload name → component key, for references between objects.
    workload_keys: BTreeMap<String, String>,
    service_forms: Vec<ServiceForm>,
    /// Service name → (component key, service port → container port).
    service_targets: BTreeMap<String, (String, BTreeMap<u32, u32>)>,
}

/// Converts the objects of one application into a draft version and the
/// report of every decision. Pure: no I/O, same input gives same output.
pub fn convert(objects: &CapturedObjects, options: &CaptureOptions) -> CaptureReport {
    let mut workloads = collect_workloads(objects);
    let template_id = template_id(objects, options, &workloads);
    assign_keys(&mut workloads, &template_id);
    let mut cx = Conversion {
        objects,
        options,
        report: CaptureReport {
            version: TemplateVersion {
                format: DOCUMENT_FORMAT.to_owned(),
                template: TemplateInfo {
                    id: template_id.clone(),
                    name: options
                        .template_name
                        .clone()
                        .unwrap_or_else(|| template_id.clone()),
                    description: String::new(),
                    scope: Scope::Team,
                    tags: Vec::new(),
                    logo: None,
                },
                version: options
                    .version
                    .clone()
                    .unwrap_or_else(|| "0.1.0".to_owned()),
                alias: None,
                release_notes: String::new(),
                release_state: ReleaseState::Draft,
                created_at: None,
                modules: Vec::new(),
                config_groups: Vec::new(),
                plugins: Vec::new(),
                components: Vec::new(),
            },
            skipped: Vec::new(),
            unsupported: Vec::new(),
            lossy: Vec::new(),
            defaulted: Vec::new(),
            secrets: Vec::new(),
            flagged_env: Vec::new(),
            dependencies: Vec::new(),
            external_hosts: Vec::new(),
            images: Vec::new(),
            notes: Vec::new(),
        },
        template_id,
        used_config_maps: BTreeSet::new(),
        used_secrets: BTreeSet::new(),
        used_claims: BTreeSet::new(),
        used_services: BTreeSet::new(),
        used_autoscalers: BTreeSet::new(),
        port_names: BTreeSet::new(),
        edges: BTreeMap::new(),
        plugins: Vec::new(),
        claim_owners: BTreeMap::new(),
        workload_keys: workloads
            .iter()
            .map(|w| (w.name.clone(), w.key.clone()))
            .collect(),
        service_forms: Vec::new(),
        service_targets: BTreeMap::new(),
    };
    cx.index_services(&workloads);
    cx.claim_owners = claim_owners(objects, &workloads, &cx.template_id);
    let mut rewrites = Vec::new();
    let mut components = Vec::new();
    for workload in &workloads {
        components.push(cx.component(workload, &mut rewrites));
    }
    for (field, reason) in super::ALWAYS_LOST {
        cx.lossy("", "", field, reason);
    }
    cx.skip_unused();
    cx.skip_others();
    cx.infer_dependencies(&mut components, &rewrites);
    components.sort_by(|a, b| a.key.cmp(&b.key));
    cx.plugins.sort_by(|a, b| a.key.cmp(&b.key));
    cx.report.version.components = components;
    cx.report.version.plugins = std::mem::take(&mut cx.plugins);
    let r = &mut cx.report;
    r.skipped.sort();
    r.unsupported.sort();
    r.lossy.sort();
    r.lossy.dedup();
    r.defaulted.sort();
    r.secrets.sort();
    r.flagged_env.sort();
    r.external_hosts.sort();
    r.external_hosts.dedup();
    r.images.sort();
    cx.report
}

fn collect_workloads(objects: &CapturedObjects) -> Vec<Workload<'_>> {
    let mut out = Vec::new();
    for d in &objects.deployments {
        let Some(spec) = &d.spec else { continue };
        out.push(Workload {
            kind: "Deployment",
            name: d.metadata.name.clone().unwrap_or_default(),
            meta: &d.metadata,
            template: &spec.template,
            replicas: spec.replicas,
            claim_templates: Vec::new(),
            spec_json: serde_json::to_value(spec).unwrap_or(Value::Null),
            key: String::new(),
            managed: is_managed(&d.metadata),
            authored: Authored::of(&d.metadata, false),
        });
    }
    for s in &objects.stateful_sets {
        let Some(spec) = &s.spec else { continue };
        out.push(Workload {
            kind: "StatefulSet",
            name: s.metadata.name.clone().unwrap_or_default(),
            meta: &s.metadata,
            template: &spec.template,
            replicas: spec.replicas,
            claim_templates: spec.volume_claim_templates.iter().flatten().collect(),
            spec_json: serde_json::to_value(spec).unwrap_or(Value::Null),
            key: String::new(),
            managed: is_managed(&s.metadata),
            authored: Authored::of(&s.metadata, false),
        });
    }
    out.retain(|w| owner_of(w.meta).is_none());
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(b.kind)));
    out
}

fn is_managed(meta: &ObjectMeta) -> bool {
    let labels = meta.labels.as_ref();
    labels
        .and_then(|l| l.get(LABEL_MANAGED_BY))
        .map(String::as_str)
        == Some(FIELD_MANAGER)
        && labels.is_some_and(|l| l.contains_key(LABEL_COMPONENT) && l.contains_key(LABEL_INSTANCE))
}

fn owner_of(meta: &ObjectMeta) -> Option<String> {
    meta.owner_references
        .iter()
        .flatten()
        .next()
        .map(|o| format!("{}/{}", o.kind, o.name))
}

fn template_id(
    objects: &CapturedObjects,
    options: &CaptureOptions,
    workloads: &[Workload<'_>],
) -> String {
    if let Some(id) = &options.template_id {
        return id.clone();
    }
    let instances: BTreeSet<&str> = workloads
        .iter()
        .filter_map(|w| w.meta.labels.as_ref()?.get(LABEL_INSTANCE))
        .map(String::as_str)
        .collect();
    if instances.len() == 1
        && workloads.iter().all(|w| {
            w.meta
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(LABEL_INSTANCE))
        })
        && let Some(id) = instances.first()
    {
        return dns_label(id, 63);
    }
    dns_label(&objects.namespace, 63)
}

/// Component keys: our rendered component label when we rendered the
/// workload, else the workload name; stable across captures.
fn assign_keys(workloads: &mut [Workload<'_>], template: &str) {
    let mut taken = BTreeSet::new();
    for w in workloads.iter_mut() {
        let from_label = w
            .managed
            .then(|| w.meta.labels.as_ref()?.get(LABEL_COMPONENT).cloned())
            .flatten();
        let base = from_label.unwrap_or_else(|| {
            let name = w
                .name
                .strip_prefix(&format!("{template}-"))
                .filter(|_| w.managed)
                .unwrap_or(&w.name);
            dns_label(name, 63)
        });
        let mut key = base.clone();
        if taken.contains(&key) {
            key = dns_label(&format!("{base}-{}", w.kind.to_ascii_lowercase()), 63);
        }
        taken.insert(key.clone());
        w.key = key;
    }
}

/// A DNS label made from `text`: lowercase, other characters as `-`.
fn dns_label(text: &str, max: usize) -> String {
    let mapped: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut label: String = mapped.trim_matches('-').chars().take(max).collect();
    while label.ends_with('-') {
        label.pop();
    }
    if label.is_empty() || !label.starts_with(|c: char| c.is_ascii_alphabetic()) {
        label = format!("c{label}").chars().take(max).collect();
    }
    label
}

fn selects(selector: Option<&BTreeMap<String, String>>, labels: &BTreeMap<String, String>) -> bool {
    match selector {
        Some(sel) if !sel.is_empty() => sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        _ => false,
    }
}

impl Conversion<'_> {
    fn lossy(&mut self, component: &str, object: &str, field: &str, reason: impl Into<String>) {
        self.report.lossy.push(LossyField {
            component: component.to_owned(),
            object: object.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
        });
    }

    fn note(&mut self, component: &str, message: impl Into<String>) {
        self.report.notes.push(Note {
            component: component.to_owned(),
            message: message.into(),
        });
    }

    fn edge(&mut self, from: &str, to: &str, confidence: Confidence, evidence: String) {
        if from == to {
            return;
        }
        self.edges.entry(from.to_owned()).or_default().push(Edge {
            to: to.to_owned(),
            confidence,
            evidence,
        });
    }

    fn rendered_service(&self, key: &str) -> String {
        format!("{}-{key}", self.template_id)
    }

    /// Services that select a captured workload, as host forms and as the
    /// ports they route.
    fn index_services(&mut self, workloads: &[Workload<'_>]) {
        for service in &self.objects.services {
            let name = service.metadata.name.clone().unwrap_or_default();
            let Some(spec) = &service.spec else { continue };
            let Some(w) = workloads
                .iter()
                .find(|w| selects(spec.selector.as_ref(), &w.pod_labels()))
            else {
                continue;
            };
            let mut routes = BTreeMap::new();
            for p in spec.ports.iter().flatten() {
                let target = match &p.target_port {
                    Some(IntOrString::Int(n)) => u32::try_from(*n).ok(),
                    Some(IntOrString::String(named)) => container_port_named(w, named),
                    None => u32::try_from(p.port).ok(),
                };
                if let (Ok(port), Some(target)) = (u32::try_from(p.port), target) {
                    routes.insert(port, target);
                }
            }
            let mut ports: Vec<u32> = routes.keys().chain(routes.values()).copied().collect();
            ports.sort_unstable();
            ports.dedup();
            self.service_forms.push(ServiceForm {
                service: name.clone(),
                namespace: self.objects.namespace.clone(),
                ports,
            });
            self.service_targets.insert(name, (w.key.clone(), routes));
        }
    }

    fn component(&mut self, w: &Workload<'_>, rewrites: &mut Vec<Rewrite>) -> Component {
        let key = w.key.clone();
        let object = w.object();
        let spec = w.pod_spec().cloned().unwrap_or_default();
        let main_name = main_container(w, &spec);
        if spec.containers.len() > 1 {
            self.note(
                &key,
                format!(
                    "container `{main_name}` of {object} is the component; the other containers become sidecar plugins"
                ),
            );
        }
        let main = spec
            .containers
            .iter()
            .find(|c| c.name == main_name)
            .cloned()
            .unwrap_or_default();
        let container_path = |c: &str| format!("spec.template.spec.containers[{c}]");

        let (image, _) = self.image(w, &main, false);
        let mut component = Component {
            key: key.clone(),
            name: w.name.clone(),
            description: String::new(),
            module: None,
            image,
            command: main.command.clone().unwrap_or_default(),
            args: main.args.clone().unwrap_or_default(),
            ports: Vec::new(),
            env: Vec::new(),
            connection_info: Vec::new(),
            config_files: Vec::new(),
            volumes: Vec::new(),
            depends_on: Vec::new(),
            scaling: Scaling::default(),
            probes: Probes::default(),
            labels: BTreeMap::new(),
            plugins: Vec::new(),
        };

        component.ports = self.ports(w, &main);
        let (env, connection) = self.env(w, &main, &container_path(&main.name), rewrites);
        component.env = env;
        component.connection_info = connection;
        component.config_files =
            self.config_files(w, &spec, &main, &container_path(&main.name), rewrites);
        component.volumes = self.volumes(w, &spec, &main);
        component.scaling = self.scaling(w, &main);
        component.probes = self.probes(w, &main, &component.ports);
        component.labels = w
            .pod_labels()
            .into_iter()
            .filter(|(k, _)| {
                !RENDERED_LABELS.contains(&k.as_str()) && !CONTROLLER_LABELS.contains(&k.as_str())
            })
            .collect();
        self.pod_fields(w, &spec);
        self.container_fields(w, &main, &container_path(&main.name), false);

        // Every other container becomes a plugin.
        let sidecars = spec.containers.iter().filter(|c| c.name != main_name);
        let inits = spec.init_containers.iter().flatten();
        for (container, init) in sidecars.map(|c| (c, false)).chain(inits.map(|c| (c, true))) {
            let native_sidecar = init && container.restart_policy.as_deref() == Some("Always");
            let kind = if init && !native_sidecar {
                PluginKind::Init
            } else {
                PluginKind::Sidecar
            };
            if native_sidecar {
                self.note(
                    &key,
                    format!(
                        "init container `{}` restarts always (a native sidecar); it becomes a sidecar plugin",
                        container.name
                    ),
                );
            }
            let list = if init { "initContainers" } else { "containers" };
            let path = format!("spec.template.spec.{list}[{}]", container.name);
            let plugin_key = self.plugin(w, container, kind, &path);
            component.plugins.push(PluginAttachment {
                plugin: plugin_key,
                env: Vec::new(),
            });
        }
        component
    }

    fn image(&mut self, w: &Workload<'_>, container: &Container, plugin: bool) -> (String, bool) {
        let template_image = container.image.clone().unwrap_or_default();
        let mut decision = ImageDecision {
            component: w.key.clone(),
            container: container.name.clone(),
            template_image: template_image.clone(),
            image: template_image.clone(),
            source: DigestSource::Unresolved,
            pod_digests: Vec::new(),
            note: String::new(),
        };
        let parsed = oci_spec::distribution::Reference::from_str(&template_image).ok();
        let Some(reference) = parsed else {
            decision.note = "the image reference cannot be parsed; fix it in the draft".to_owned();
            self.report.images.push(decision);
            return (template_image, false);
        };
        // Digests the workload's pods report for this container.
        let selector = w
            .spec_json
            .pointer("/selector/matchLabels")
            .and_then(|v| serde_json::from_value::<BTreeMap<String, String>>(v.clone()).ok());
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut foreign = Vec::new();
        for pod in &self.objects.pods {
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            if !selects(selector.as_ref(), &labels) {
                continue;
            }
            let Some(status) = &pod.status else { continue };
            let statuses = status
                .container_statuses
                .iter()
                .flatten()
                .chain(status.init_container_statuses.iter().flatten());
            for s in statuses.filter(|s| s.name == container.name) {
                match digest_of_image_id(&s.image_id) {
                    Some((Some(repo), digest)) if same_repository(&repo, &reference) => {
                        *counts.entry(digest).or_default() += 1;
                    }
                    Some((repo, digest)) => foreign.push(format!(
                        "{}@{digest}",
                        repo.unwrap_or_else(|| "(no repository)".to_owned())
                    )),
                    None => {}
                }
            }
        }
        let base = match reference.tag() {
            Some(tag) => format!("{}/{}:{tag}", reference.registry(), reference.repository()),
            None => format!("{}/{}", reference.registry(), reference.repository()),
        };
        let _ = plugin;
        if let Some(digest) = reference.digest() {
            decision.source = DigestSource::Template;
            decision.image = template_image.clone();
            if counts.keys().any(|d| d != digest) {
                decision.pod_digests = counts.keys().cloned().collect();
                decision.note = "some pods run another digest than the pod template pins (a rollout in progress?)".to_owned();
            }
        } else if let Some((digest, _)) = counts
            .iter()
            .max_by_key(|(d, n)| (**n, std::cmp::Reverse(*d)))
        {
            decision.source = DigestSource::PodStatus;
            decision.image = format!("{base}@{digest}");
            if counts.len() > 1 {
                decision.pod_digests = counts.keys().cloned().collect();
                decision.note = format!(
                    "the workload's pods run {} different digests; the most common one was chosen; check the tag with the registry",
                    counts.len()
                );
            } else {
                decision.note = "the digest the pods run may be a platform image of a multi-arch index; resolve the tag with the registry to keep the index".to_owned();
            }
        } else {
            decision.image = template_image.clone();
            decision.note = if foreign.is_empty() {
                "no pod reports a digest for this repository; resolve the tag with the registry before publishing".to_owned()
            } else {
                format!(
                    "pod status names other repositories or bare config digests ({}); not trusted; resolve the tag with the registry",
                    foreign.join(", ")
                )
            };
        }
        let image = decision.image.clone();
        let resolved = decision.source != DigestSource::Unresolved;
        self.report.images.push(decision);
        (image, resolved)
    }

    fn ports(&mut self, w: &Workload<'_>, main: &Container) -> Vec<Port> {
        let mut out = Vec::new();
        let objects = self.objects;
        let services: Vec<&Service> = objects
            .services
            .iter()
            .filter(|s| {
                s.spec
                    .as_ref()
                    .is_some_and(|sp| selects(sp.selector.as_ref(), &w.pod_labels()))
            })
            .collect();
        for cp in main.ports.iter().flatten() {
            let Ok(number) = u32::try_from(cp.container_port) else {
                continue;
            };
            let mut port = Port {
                name: String::new(),
                port: number,
                protocol: if cp.protocol.as_deref() == Some("UDP") {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                inner: false,
                outer: false,
            };
            if cp.protocol.as_deref() == Some("SCTP") {
                self.lossy(
                    &w.key,
                    &w.object(),
                    &format!("ports[{number}].protocol"),
                    "SCTP is not in the model; the port is captured as TCP",
                );
            }
            for service in &services {
                let sname = service.metadata.name.clone().unwrap_or_default();
                let sobject = format!("Service/{sname}");
                let Some(spec) = &service.spec else { continue };
                let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
                for sp in spec.ports.iter().flatten() {
                    let targets = match &sp.target_port {
                        Some(IntOrString::Int(n)) => *n == cp.container_port,
                        Some(IntOrString::String(n)) => cp.name.as_deref() == Some(n.as_str()),
                        None => sp.port == cp.container_port,
                    };
                    if !targets {
                        continue;
                    }
                    self.used_services.insert(sname.clone());
                    match kind {
                        "NodePort" | "LoadBalancer" => {
                            port.outer = true;
                            // Pods reach a node-port Service by name too,
                            // except our own `-outer` ones (the inner
                            // Service is separate).
                            if !is_managed(&service.metadata) {
                                port.inner = true;
                            }
                        }
                        "ClusterIP" => port.inner = true,
                        other => self.lossy(
                            &w.key,
                            &sobject,
                            "spec.type",
                            format!("Service type {other} is not in the model"),
                        ),
                    }
                    match sp.app_protocol.as_deref() {
                        Some("http" | "kubernetes.io/h2c") => port.protocol = Protocol::Http,
                        Some("grpc") => port.protocol = Protocol::Grpc,
                        _ => {}
                    }
                    if sp.port != cp.container_port {
                        self.lossy(
                            &w.key,
                            &sobject,
                            &format!("spec.ports[{}].port", sp.port),
                            format!(
                                "the Service listens on {} for container port {}; the draft's Service listens on the container port, and references to the old port are rewritten",
                                sp.port, cp.container_port
                            ),
                        );
                    }
                    if let Some(node_port) = sp.node_port {
                        let port_value = json!(sp.port);
                        let authored = Authored::of(&service.metadata, false).authored(&[
                            Seg::Field("spec"),
                            Seg::Field("ports"),
                            Seg::Keyed("port", &port_value),
                            Seg::Field("nodePort"),
                        ]);
                        match authored {
                            Some((false, evidence)) => self.report.defaulted.push(DefaultedField {
                                object: sobject.clone(),
                                field: format!("spec.ports[{}].nodePort", sp.port),
                                value: node_port.to_string(),
                                evidence,
                            }),
                            _ => self.lossy(
                                &w.key,
                                &sobject,
                                &format!("spec.ports[{}].nodePort", sp.port),
                                format!(
                                    "node port {node_port} {}; the model cannot pin node ports, the environment assigns one",
                                    if authored.is_some() {
                                        "was set by the author"
                                    } else {
                                        "may have been set by the author (no apply record)"
                                    }
                                ),
                            ),
                        }
                    }
                }
                if spec
                    .session_affinity
                    .as_deref()
                    .is_some_and(|a| a != "None")
                {
                    self.lossy(
                        &w.key,
                        &sobject,
                        "spec.sessionAffinity",
                        "session affinity is not in the model",
                    );
                }
                if spec.external_traffic_policy.as_deref() == Some("Local") {
                    self.lossy(
                        &w.key,
                        &sobject,
                        "spec.externalTrafficPolicy",
                        "external traffic policy Local is not in the model",
                    );
                }
            }
            if !port.inner && !port.outer {
                self.note(
                    &w.key,
                    format!("container port {number} is exposed by no Service; captured as neither inner nor outer, with its transport protocol only (an application protocol is written on Services)"),
                );
            }
            port.name = self.port_name(&w.key, cp.name.as_deref(), number);
            out.push(port);
        }
        out
    }

    /// A port name unique in the application (at most 15 characters).
    fn port_name(&mut self, key: &str, name: Option<&str>, number: u32) -> String {
        let candidates = [
            name.map(|n| dns_label(n, 15)),
            Some(dns_label(&format!("{key}-{}", name.unwrap_or("")), 15)),
            Some(dns_label(&format!("{key}-{number}"), 15)),
        ];
        for candidate in candidates.into_iter().flatten() {
            if !candidate.is_empty() && self.port_names.insert(candidate.clone()) {
                if name.is_some_and(|n| n != candidate) {
                    self.note(
                        key,
                        format!(
                            "port `{}` is named `{candidate}` in the draft (port names are unique in a template)",
                            name.unwrap_or_default()
                        ),
                    );
                }
                return candidate;
            }
        }
        let mut n = 1;
        loop {
            let candidate = format!("p{number}-{n}");
            if self.port_names.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.objects
            .config_maps
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
    }

    fn secret(&self, name: &str) -> Option<&Secret> {
        self.objects
            .secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }

    /// The component a ConfigMap or Secret belongs to: our component label,
    /// else the workload whose name is the longest prefix of its name.
    fn owner_component(&self, meta: Option<&ObjectMeta>, name: &str) -> Option<String> {
        if let Some(meta) = meta
            && is_managed(meta)
            && let Some(c) = meta.labels.as_ref().and_then(|l| l.get(LABEL_COMPONENT))
        {
            return Some(c.clone());
        }
        self.workload_keys
            .iter()
            .filter(|(w, _)| name == w.as_str() || name.starts_with(&format!("{w}-")))
            .max_by_key(|(w, _)| w.len())
            .map(|(_, k)| k.clone())
    }

    fn reference_edge(&mut self, from: &str, kind: &str, name: &str, meta: Option<&ObjectMeta>) {
        if let Some(owner) = self.owner_component(meta, name)
            && owner != from
        {
            self.edge(
                from,
                &owner,
                Confidence::Medium,
                format!("uses {kind} `{name}` of component `{owner}`"),
            );
        }
    }

    /// The env of a container: literal values, ConfigMap values resolved,
    /// Secret values as the options say. Returns env and connection info
    /// (generated secrets).
    fn env(
        &mut self,
        w: &Workload<'_>,
        container: &Container,
        path: &str,
        rewrites: &mut Vec<Rewrite>,
    ) -> (Vec<EnvVar>, Vec<ConnectionVar>) {
        let key = w.key.clone();
        let object = w.object();
        let mut env: Vec<EnvVar> = Vec::new();
        let mut connection: Vec<ConnectionVar> = Vec::new();
        let mut seen = BTreeSet::new();

        for from in container.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            if let Some(cm_ref) = &from.config_map_ref {
                self.used_config_maps.insert(cm_ref.name.clone());
                let cm = self.config_map(&cm_ref.name).cloned();
                self.reference_edge(
                    &key,
                    "ConfigMap",
                    &cm_ref.name,
                    cm.as_ref().map(|c| &c.metadata),
                );
                match cm {
                    Some(cm) => {
                        for (k, v) in cm.data.iter().flatten() {
                            let name = format!("{prefix}{k}");
                            if seen.insert(name.clone()) {
                                env.push(plain(&name, v));
                                rewrites.push(Rewrite {
                                    component: key.clone(),
                                    location: TextLocation::Env(name.clone()),
                                });
                            }
                        }
                        self.note(
                            &key,
                            format!(
                                "env of `{}` from ConfigMap `{}` resolved to values",
                                container.name, cm_ref.name
                            ),
                        );
                    }
                    None => self.lossy(
                        &key,
                        &object,
                        &format!("{path}.envFrom"),
                        format!(
                            "ConfigMap `{}` does not exist; its variables are not captured",
                            cm_ref.name
                        ),
                    ),
                }
            }
            if let Some(secret_ref) = &from.secret_ref {
                self.used_secrets.insert(secret_ref.name.clone());
                let secret = self.secret(&secret_ref.name).cloned();
                self.reference_edge(
                    &key,
                    "Secret",
                    &secret_ref.name,
                    secret.as_ref().map(|s| &s.metadata),
                );
                let keys: Vec<String> = secret
                    .as_ref()
                    .map(|s| {
                        s.data
                            .iter()
                            .flatten()
                            .map(|(k, _)| k.clone())
                            .chain(s.string_data.iter().flatten().map(|(k, _)| k.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                if secret.is_none() {
                    self.lossy(
                        &key,
                        &object,
                        &format!("{path}.envFrom"),
                        format!(
                            "Secret `{}` does not exist; its variables are not captured",
                            secret_ref.name
                        ),
                    );
                }
                for k in keys {
                    let name = format!("{prefix}{k}");
                    if seen.insert(name.clone()) {
                        self.secret_var(
                            &key,
                            &name,
                            &secret_ref.name,
                            &k,
                            &mut env,
                            &mut connection,
                        );
                    }
                }
            }
        }

        for var in container.env.iter().flatten() {
            let name = var.name.clone();
            if !seen.insert(name.clone()) {
                // A later definition overrides envFrom; keep the explicit one.
                env.retain(|e| e.name != name);
                connection.retain(|c| c.name != name);
            }
            let Some(source) = &var.value_from else {
                let value = var.value.clone().unwrap_or_default();
                let confidential = looks_confidential(&name);
                if confidential {
                    self.report.flagged_env.push(FlaggedEnv {
                        component: key.clone(),
                        variable: name.clone(),
                        reason: "a literal value in a variable whose name looks like a password, token or key; kept and marked secret (masked in diffs); move it to a Secret".to_owned(),
                    });
                }
                env.push(EnvVar {
                    secret: confidential,
                    ..plain(&name, &value)
                });
                rewrites.push(Rewrite {
                    component: key.clone(),
                    location: TextLocation::Env(name.clone()),
                });
                continue;
            };
            if let Some(r) = &source.config_map_key_ref {
                self.used_config_maps.insert(r.name.clone());
                let cm = self.config_map(&r.name).cloned();
                self.reference_edge(&key, "ConfigMap", &r.name, cm.as_ref().map(|c| &c.metadata));
                match cm.as_ref().and_then(|c| c.data.as_ref()?.get(&r.key)) {
                    Some(value) => {
                        env.push(plain(&name, value));
                        rewrites.push(Rewrite {
                            component: key.clone(),
                            location: TextLocation::Env(name.clone()),
                        });
                    }
                    None => self.lossy(
                        &key,
                        &object,
                        &format!("{path}.env[{name}]"),
                        format!(
                            "ConfigMap key `{}/{}` is missing; the variable is not captured",
                            r.name, r.key
                        ),
                    ),
                }
            } else if let Some(r) = &source.secret_key_ref {
                self.used_secrets.insert(r.name.clone());
                if let Some(reference) = self.generated_reference(&r.name, &r.key) {
                    // A secret we generated for another component's connection info.
                    let (owner, var_name) = reference;
                    if owner == key || !self.workload_keys.values().any(|k| *k == owner) {
                        connection.push(generated(&var_name, None));
                        self.report.secrets.push(SecretDecision {
                            component: key.clone(),
                            variable: name.clone(),
                            source: format!("{}/{}", r.name, r.key),
                            handling: SecretHandling::Generated,
                        });
                    } else {
                        self.edge(
                            &key,
                            &owner,
                            Confidence::High,
                            format!("env {name} is the secret generated for component `{owner}`"),
                        );
                    }
                    continue;
                }
                let secret = self.secret(&r.name).cloned();
                self.reference_edge(
                    &key,
                    "Secret",
                    &r.name,
                    secret.as_ref().map(|s| &s.metadata),
                );
                self.secret_var(&key, &name, &r.name, &r.key, &mut env, &mut connection);
            } else {
                let what = if source.field_ref.is_some() {
                    "a pod field (fieldRef)"
                } else if source.resource_field_ref.is_some() {
                    "a container resource (resourceFieldRef)"
                } else {
                    "a source the model lacks"
                };
                self.lossy(
                    &key,
                    &object,
                    &format!("{path}.env[{name}]"),
                    format!("the value comes from {what}; the variable is not captured"),
                );
            }
        }
        (env, connection)
    }

    /// `(component, variable)` when `secret/key` is one of our generated
    /// secrets.
    fn generated_reference(&self, secret: &str, key: &str) -> Option<(String, String)> {
        if secret != crate::render::generated_secret_name(&self.template_id) {
            return None;
        }
        let (component, var) = key.split_once('.')?;
        Some((component.to_owned(), var.to_owned()))
    }

    fn secret_var(
        &mut self,
        component: &str,
        name: &str,
        secret: &str,
        key: &str,
        env: &mut Vec<EnvVar>,
        connection: &mut Vec<ConnectionVar>,
    ) {
        let source = format!("{secret}/{key}");
        let copy = self.options.copy_secret_values.contains(&source);
        let generate = self
            .options
            .generate_secrets
            .iter()
            .any(|p| glob(p, name) || glob(p, &source));
        let handling = if copy {
            let value = self.secret(secret).and_then(|s| {
                s.data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned())
                    .or_else(|| s.string_data.as_ref()?.get(key).cloned())
            });
            match value {
                Some(value) => {
                    env.push(EnvVar {
                        secret: true,
                        description: format!("copied from Secret key {source}"),
                        ..plain(name, &value)
                    });
                    SecretHandling::Copied
                }
                None => {
                    env.push(required(
                        name,
                        &source,
                        " (asked to copy, but the key was not found)",
                    ));
                    SecretHandling::Required
                }
            }
        } else if generate {
            connection.push(generated(name, Some(&source)));
            SecretHandling::Generated
        } else {
            env.push(required(name, &source, ""));
            SecretHandling::Required
        };
        self.report.secrets.push(SecretDecision {
            component: component.to_owned(),
            variable: name.to_owned(),
            source,
            handling,
        });
    }

    fn config_files(
        &mut self,
        w: &Workload<'_>,
        spec: &PodSpec,
        container: &Container,
        path: &str,
        rewrites: &mut Vec<Rewrite>,
    ) -> Vec<ConfigFile> {
        let key = w.key.clone();
        let object = w.object();
        let mut files = Vec::new();
        for mount in container.volume_mounts.iter().flatten() {
            let Some(volume) = spec.volumes.iter().flatten().find(|v| v.name == mount.name) else {
                continue;
            };
            let field = format!("{path}.volumeMounts[{}]", mount.mount_path);
            if mount.sub_path_expr.is_some() {
                self.lossy(
                    &key,
                    &object,
                    &field,
                    "subPathExpr is not in the model; the mount is not captured",
                );
                continue;
            }
            if let Some(source) = &volume.config_map {
                self.used_config_maps.insert(source.name.clone());
                let cm = self.config_map(&source.name).cloned();
                self.reference_edge(
                    &key,
                    "ConfigMap",
                    &source.name,
                    cm.as_ref().map(|c| &c.metadata),
                );
                let Some(cm) = cm else {
                    self.lossy(
                        &key,
                        &object,
                        &field,
                        format!(
                            "ConfigMap `{}` does not exist; its files are not captured",
                            source.name
                        ),
                    );
                    continue;
                };
                let default_mode = source.default_mode.unwrap_or(0o644);
                // (key in the ConfigMap, path under the mount, mode)
                let entries: Vec<(String, String, i32)> = match &source.items {
                    Some(items) => items
                        .iter()
                        .map(|i| {
                            (
                                i.key.clone(),
                                i.path.clone(),
                                i.mode.unwrap_or(default_mode),
                            )
                        })
                        .collect(),
                    None => cm
                        .data
                        .iter()
                        .flatten()
                        .map(|(k, _)| (k.clone(), k.clone(), default_mode))
                        .chain(
                            cm.binary_data
                                .iter()
                                .flatten()
                                .map(|(k, _)| (k.clone(), k.clone(), default_mode)),
                        )
                        .collect(),
                };
                for (cm_key, item_path, mode) in entries {
                    let mount_path = match &mount.sub_path {
                        Some(sub) if !sub.is_empty() => {
                            if *sub != item_path {
                                continue;
                            }
                            mount.mount_path.clone()
                        }
                        _ => format!("{}/{item_path}", mount.mount_path.trim_end_matches('/')),
                    };
                    if let Some(content) = cm.data.as_ref().and_then(|d| d.get(&cm_key)) {
                        files.push(ConfigFile {
                            mount_path: mount_path.clone(),
                            content: content.clone(),
                            mode: format!("{:04o}", mode & 0o7777),
                        });
                        rewrites.push(Rewrite {
                            component: key.clone(),
                            location: TextLocation::File(mount_path),
                        });
                    } else if cm
                        .binary_data
                        .as_ref()
                        .is_some_and(|d| d.contains_key(&cm_key))
                    {
                        self.lossy(&key, &format!("ConfigMap/{}", source.name), &format!("binaryData.{cm_key}"), format!("binary file {mount_path} is not in the model (config files are text)"));
                    }
                }
            } else if let Some(source) = &volume.secret {
                let secret_name = source.secret_name.clone().unwrap_or_default();
                self.used_secrets.insert(secret_name.clone());
                self.report.secrets.push(SecretDecision {
                    component: key.clone(),
                    variable: mount.mount_path.clone(),
                    source: format!("{secret_name}/*"),
                    handling: SecretHandling::NotCaptured,
                });
                self.lossy(&key, &object, &field, format!("files from Secret `{secret_name}` are not captured (the model has no secret files); provide them at install"));
            } else if volume.persistent_volume_claim.is_some() {
                // Volumes.
            } else if w
                .claim_templates
                .iter()
                .any(|t| t.metadata.name.as_deref() == Some(mount.name.as_str()))
            {
                // StatefulSet claim templates.
            } else {
                let kind = volume_kind(volume);
                self.lossy(
                    &key,
                    &object,
                    &field,
                    format!(
                        "{kind} volume `{}` at {} is not in the model",
                        volume.name, mount.mount_path
                    ),
                );
            }
        }
        files
    }

    fn volumes(&mut self, w: &Workload<'_>, spec: &PodSpec, container: &Container) -> Vec<Volume> {
        let key = w.key.clone();
        let object = w.object();
        let mut out: Vec<Volume> = Vec::new();
        for mount in container.volume_mounts.iter().flatten() {
            let volume_name = dns_label(mount.name.strip_prefix("vol-").unwrap_or(&mount.name), 63);
            // A claim template of the StatefulSet.
            if let Some(t) = w
                .claim_templates
                .iter()
                .find(|t| t.metadata.name.as_deref() == Some(mount.name.as_str()))
            {
                let claim_object = format!("{object} claim template {}", mount.name);
                let mut volume =
                    self.claim_volume(&key, &claim_object, t, &volume_name, &mount.mount_path);
                volume.name = volume_name;
                out.push(volume);
                continue;
            }
            let Some(source) = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == mount.name)
                .and_then(|v| v.persistent_volume_claim.as_ref())
            else {
                continue;
            };
            let claim_name = source.claim_name.clone();
            self.used_claims.insert(claim_name.clone());
            let objects = self.objects;
            let Some(claim) = objects
                .claims
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(claim_name.as_str()))
            else {
                self.lossy(
                    &key,
                    &object,
                    &format!("spec.template.spec.volumes[{}]", mount.name),
                    format!("claim `{claim_name}` does not exist; the volume is not captured"),
                );
                continue;
            };
            let claim_object = format!("PersistentVolumeClaim/{claim_name}");
            let owner = self.claim_owners.get(&claim_name).cloned();
            if let Some(owner) = owner.filter(|o| !o.starts_with(&format!("{key}/"))) {
                let volume =
                    self.claim_volume(&key, &claim_object, claim, &volume_name, &mount.mount_path);
                if volume.access_mode == AccessMode::ReadWriteOnce {
                    self.lossy(&key, &claim_object, "spec.accessModes", format!("the claim is mounted by `{owner}` too but is ReadWriteOnce; the draft shares it anyway, fix the access mode"));
                }
                out.push(Volume {
                    capacity: None,
                    storage_class: None,
                    shared_from: Some(owner),
                    ..volume
                });
                continue;
            }
            let volume =
                self.claim_volume(&key, &claim_object, claim, &volume_name, &mount.mount_path);
            out.push(volume);
        }
        out
    }

    fn claim_volume(
        &mut self,
        key: &str,
        object: &str,
        claim: &PersistentVolumeClaim,
        name: &str,
        mount_path: &str,
    ) -> Volume {
        let spec = claim.spec.clone().unwrap_or_default();
        let capacity = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone());
        if capacity.is_none() {
            self.lossy(
                key,
                object,
                "spec.resources.requests.storage",
                "the claim requests no size; set `capacity` in the draft",
            );
        }
        let modes = spec.access_modes.clone().unwrap_or_default();
        let access_mode = match modes.first().map(String::as_str) {
            Some("ReadWriteMany") => AccessMode::ReadWriteMany,
            Some("ReadOnlyMany") => AccessMode::ReadOnlyMany,
            Some("ReadWriteOncePod") => {
                self.lossy(
                    key,
                    object,
                    "spec.accessModes",
                    "ReadWriteOncePod is captured as read_write_once",
                );
                AccessMode::ReadWriteOnce
            }
            _ => AccessMode::ReadWriteOnce,
        };
        if modes.len() > 1 {
            self.lossy(
                key,
                object,
                "spec.accessModes",
                format!("only the first of {} access modes is kept", modes.len()),
            );
        }
        let authored = Authored::of(&claim.metadata, false)
            .authored(&[Seg::Field("spec"), Seg::Field("storageClassName")]);
        let storage_class = match (&spec.storage_class_name, authored) {
            (Some(class), Some((false, evidence))) => {
                self.report.defaulted.push(DefaultedField {
                    object: object.to_owned(),
                    field: "spec.storageClassName".to_owned(),
                    value: class.clone(),
                    evidence,
                });
                None
            }
            (class, _) => class.clone(),
        };
        for (field, present) in [
            ("spec.selector", spec.selector.is_some()),
            (
                "spec.dataSource",
                spec.data_source.is_some() || spec.data_source_ref.is_some(),
            ),
            (
                "spec.volumeMode",
                spec.volume_mode
                    .as_deref()
                    .is_some_and(|m| m != "Filesystem"),
            ),
        ] {
            if present {
                self.lossy(key, object, field, "not in the model");
            }
        }
        if spec.volume_name.is_some() {
            self.report.defaulted.push(DefaultedField {
                object: object.to_owned(),
                field: "spec.volumeName".to_owned(),
                value: spec.volume_name.clone().unwrap_or_default(),
                evidence: Evidence::KnownDefault,
            });
        }
        Volume {
            name: name.to_owned(),
            mount_path: mount_path.to_owned(),
            capacity,
            access_mode,
            storage_class,
            shared_from: None,
        }
    }

    fn scaling(&mut self, w: &Workload<'_>, main: &Container) -> Scaling {
        let key = w.key.clone();
        let object = w.object();
        let mut scaling = Scaling::default();
        let hpa: Option<HorizontalPodAutoscaler> = self
            .objects
            .autoscalers
            .iter()
            .find(|h| {
                h.spec.as_ref().is_some_and(|s| {
                    s.scale_target_ref.kind == w.kind && s.scale_target_ref.name == w.name
                })
            })
            .cloned();
        if let Some(hpa) = hpa {
            let name = hpa.metadata.name.clone().unwrap_or_default();
            self.used_autoscalers.insert(name.clone());
            let hobject = format!("HorizontalPodAutoscaler/{name}");
            let spec = hpa.spec.unwrap_or_default();
            let min = spec.min_replicas.unwrap_or(1);
            scaling.min_replicas = u32::try_from(min).unwrap_or(1);
            scaling.max_replicas = u32::try_from(spec.max_replicas).unwrap_or(1);
            let up = spec.behavior.as_ref().and_then(|b| b.scale_up.as_ref());
            if let Some(step) = up
                .and_then(|u| u.policies.as_ref())
                .and_then(|p| p.iter().find(|p| p.type_ == "Pods"))
            {
                scaling.step = u32::try_from(step.value).unwrap_or(1).max(1);
            }
            let cpu75 = spec.metrics.as_ref().is_some_and(|m| {
                m.len() == 1
                    && m[0].resource.as_ref().is_some_and(|r| {
                        r.name == "cpu"
                            && r.target.type_ == "Utilization"
                            && r.target.average_utilization == Some(75)
                    })
            });
            if !cpu75 {
                self.lossy(&key, &hobject, "spec.metrics", "the draft scales on CPU at 75% utilisation; other metrics and targets are not in the model");
            }
            if spec.behavior.is_some() {
                self.note(&key, format!("{hobject}: scaling behaviour other than the Pods step per minute is not kept"));
            }
            self.note(
                &key,
                format!(
                    "replicas {}..{} from {hobject}",
                    scaling.min_replicas, scaling.max_replicas
                ),
            );
        } else {
            match w.replicas {
                Some(r) => {
                    let r = u32::try_from(r).unwrap_or(1);
                    scaling.min_replicas = r;
                    scaling.max_replicas = r;
                }
                None => self.report.defaulted.push(DefaultedField {
                    object: object.clone(),
                    field: "spec.replicas".to_owned(),
                    value: "1".to_owned(),
                    evidence: Evidence::KnownDefault,
                }),
            }
        }
        let resources = main.resources.clone().unwrap_or_default();
        let get =
            |map: &Option<
                BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >,
             k: &str| { map.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone()) };
        scaling.cpu_request = get(&resources.requests, "cpu");
        scaling.memory_request = get(&resources.requests, "memory");
        scaling.cpu_limit = get(&resources.limits, "cpu");
        scaling.memory_limit = get(&resources.limits, "memory");
        for (which, map) in [
            ("requests", &resources.requests),
            ("limits", &resources.limits),
        ] {
            for name in map
                .iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| *k != "cpu" && *k != "memory")
            {
                self.lossy(
                    &key,
                    &object,
                    &format!(
                        "spec.template.spec.containers[{}].resources.{which}.{name}",
                        main.name
                    ),
                    "only cpu and memory resources are in the model",
                );
            }
        }
        scaling
    }

    fn probes(&mut self, w: &Workload<'_>, main: &Container, ports: &[Port]) -> Probes {
        let path = format!("spec.template.spec.containers[{}]", main.name);
        let liveness = main
            .liveness_probe
            .as_ref()
            .and_then(|p| self.probe(w, main, p, ports, &format!("{path}.livenessProbe")));
        let readiness = main
            .readiness_probe
            .as_ref()
            .and_then(|p| self.probe(w, main, p, ports, &format!("{path}.readinessProbe")));
        Probes {
            liveness,
            readiness,
        }
    }

    fn probe(
        &mut self,
        w: &Workload<'_>,
        main: &Container,
        p: &Probe,
        ports: &[Port],
        field: &str,
    ) -> Option<template_core::Probe> {
        let key = w.key.clone();
        let object = w.object();
        let resolve = |port: &IntOrString| -> Option<u32> {
            match port {
                IntOrString::Int(n) => u32::try_from(*n).ok(),
                IntOrString::String(name) => main
                    .ports
                    .iter()
                    .flatten()
                    .find(|c| c.name.as_deref() == Some(name.as_str()))
                    .and_then(|c| u32::try_from(c.container_port).ok()),
            }
        };
        let mut out = template_core::Probe {
            tcp: None,
            http: None,
            exec: None,
            initial_delay_seconds: p
                .initial_delay_seconds
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            period_seconds: p
                .period_seconds
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(10),
            timeout_seconds: p
                .timeout_seconds
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(1),
            failure_threshold: p
                .failure_threshold
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(3),
        };
        let port = if let Some(tcp) = &p.tcp_socket {
            let port = resolve(&tcp.port);
            out.tcp = port.map(|port| TcpProbe { port });
            port
        } else if let Some(http) = &p.http_get {
            if http.host.is_some()
                || http.scheme.as_deref().is_some_and(|s| s != "HTTP")
                || http.http_headers.as_ref().is_some_and(|h| !h.is_empty())
            {
                self.lossy(&key, &object, field, "host, HTTPS scheme and headers of HTTP probes are not in the model; the probe is a plain HTTP GET");
            }
            let port = resolve(&http.port);
            out.http = port.map(|port| HttpProbe {
                port,
                path: http
                    .path
                    .clone()
                    .filter(|p| p.starts_with('/'))
                    .unwrap_or_else(|| "/".to_owned()),
            });
            port
        } else if let Some(exec) = &p.exec {
            out.exec = Some(ExecProbe {
                command: exec.command.clone().unwrap_or_default(),
            });
            None
        } else {
            self.lossy(
                &key,
                &object,
                field,
                "gRPC probes are not in the model; the probe is not captured",
            );
            return None;
        };
        if let Some(port) = port
            && !ports.iter().any(|d| d.port == port)
        {
            self.lossy(&key, &object, field, format!("the probe targets port {port}, which the container does not declare; the probe is not captured"));
            return None;
        }
        if (p.tcp_socket.is_some() || p.http_get.is_some()) && port.is_none() {
            self.lossy(
                &key,
                &object,
                field,
                "the probe's named port is not declared; the probe is not captured",
            );
            return None;
        }
        if p.success_threshold.is_some_and(|s| s != 1) {
            self.lossy(
                &key,
                &object,
                &format!("{field}.successThreshold"),
                "success threshold is not in the model (1 is used)",
            );
        }
        if p.termination_grace_period_seconds.is_some() {
            self.lossy(
                &key,
                &object,
                &format!("{field}.terminationGracePeriodSeconds"),
                "not in the model",
            );
        }
        Some(out)
    }

    /// Pod-level and workload-level fields the model cannot carry: lossy
    /// when set to something else than the Kubernetes default.
    fn pod_fields(&mut self, w: &Workload<'_>, spec: &PodSpec) {
        let pod = serde_json::to_value(spec).unwrap_or(Value::Null);
        let pod_defaults: [(&str, Option<Value>); 31] = [
            ("serviceAccountName", Some(json!("default"))),
            ("serviceAccount", Some(json!("default"))),
            ("securityContext", Some(json!({}))),
            ("nodeSelector", None),
            ("affinity", None),
            ("tolerations", None),
            ("imagePullSecrets", None),
            ("hostNetwork", Some(json!(false))),
            ("hostPID", Some(json!(false))),
            ("hostIPC", Some(json!(false))),
            ("priorityClassName", None),
            ("priority", Some(json!(0))),
            ("topologySpreadConstraints", None),
            ("dnsPolicy", Some(json!("ClusterFirst"))),
            ("dnsConfig", None),
            ("schedulerName", Some(json!("default-scheduler"))),
            ("terminationGracePeriodSeconds", Some(json!(30))),
            ("restartPolicy", Some(json!("Always"))),
            ("hostAliases", None),
            ("runtimeClassName", None),
            ("shareProcessNamespace", Some(json!(false))),
            ("enableServiceLinks", Some(json!(true))),
            ("activeDeadlineSeconds", None),
            ("hostname", None),
            ("subdomain", None),
            ("readinessGates", None),
            ("automountServiceAccountToken", None),
            ("os", None),
            ("resourceClaims", None),
            ("schedulingGates", None),
            ("preemptionPolicy", Some(json!("PreemptLowerPriority"))),
        ];
        let pod_path = ["spec", "template", "spec"];
        for (field, default) in pod_defaults {
            self.field_check(w, &pod, &pod_path, field, default.as_ref());
        }
        let spec_json = w.spec_json.clone();
        let workload_defaults: Vec<(&str, Option<Value>)> = if w.kind == "Deployment" {
            vec![
                (
                    "strategy",
                    Some(
                        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                    ),
                ),
                ("revisionHistoryLimit", Some(json!(10))),
                ("progressDeadlineSeconds", Some(json!(600))),
                ("minReadySeconds", Some(json!(0))),
                ("paused", Some(json!(false))),
            ]
        } else {
            vec![
                ("podManagementPolicy", Some(json!("OrderedReady"))),
                (
                    "updateStrategy",
                    Some(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})),
                ),
                ("revisionHistoryLimit", Some(json!(10))),
                ("minReadySeconds", Some(json!(0))),
                (
                    "persistentVolumeClaimRetentionPolicy",
                    Some(json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
                ),
                ("ordinals", None),
            ]
        };
        for (field, default) in workload_defaults {
            if w.managed && matches!(field, "strategy") {
                continue; // The strategy we render ourselves.
            }
            self.field_check(w, &spec_json, &["spec"], field, default.as_ref());
        }
        for (k, _) in w.meta.annotations.iter().flatten() {
            if !MANAGED_ANNOTATIONS.contains(&k.as_str()) {
                self.lossy(
                    &w.key,
                    &w.object(),
                    &format!("metadata.annotations.{k}"),
                    "annotations are not in the model",
                );
            }
        }
        let template_annotations = w
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.clone());
        for (k, _) in template_annotations.iter().flatten() {
            if !MANAGED_ANNOTATIONS.contains(&k.as_str()) {
                self.lossy(
                    &w.key,
                    &w.object(),
                    &format!("spec.template.metadata.annotations.{k}"),
                    "pod annotations are not in the model",
                );
            }
        }
    }

    /// Fields of one container the model cannot carry.
    fn container_fields(&mut self, w: &Workload<'_>, c: &Container, path: &str, plugin: bool) {
        let value = serde_json::to_value(c).unwrap_or(Value::Null);
        let defaults: [(&str, Option<Value>); 11] = [
            ("securityContext", Some(json!({}))),
            ("lifecycle", None),
            ("workingDir", None),
            ("startupProbe", None),
            ("volumeDevices", None),
            ("stdin", Some(json!(false))),
            ("stdinOnce", Some(json!(false))),
            ("tty", Some(json!(false))),
            (
                "terminationMessagePath",
                Some(json!("/dev/termination-log")),
            ),
            ("terminationMessagePolicy", Some(json!("File"))),
            ("resizePolicy", None),
        ];
        let list = if path.contains("initContainers") {
            "initContainers"
        } else {
            "containers"
        };
        let name = json!(c.name);
        for (field, default) in defaults {
            let Some(found) = value.get(field).filter(|v| !v.is_null()) else {
                continue;
            };
            let seg_path = [
                Seg::Field("spec"),
                Seg::Field("template"),
                Seg::Field("spec"),
                Seg::Field(list),
                Seg::Keyed("name", &name),
                Seg::Field(field),
            ];
            self.classify(
                w,
                &format!("{path}.{field}"),
                found,
                default.as_ref(),
                &seg_path,
            );
        }
        // The pull policy Kubernetes defaults depends on the tag.
        if let Some(policy) = &c.image_pull_policy {
            let latest = c.image.as_deref().is_some_and(|i| {
                !i.contains('@')
                    && (i.ends_with(":latest") || !i.rsplit('/').next().unwrap_or(i).contains(':'))
            });
            let default = if latest { "Always" } else { "IfNotPresent" };
            let seg_path = [
                Seg::Field("spec"),
                Seg::Field("template"),
                Seg::Field("spec"),
                Seg::Field(list),
                Seg::Keyed("name", &name),
                Seg::Field("imagePullPolicy"),
            ];
            self.classify(
                w,
                &format!("{path}.imagePullPolicy"),
                &json!(policy),
                Some(&json!(default)),
                &seg_path,
            );
        }
        let _ = plugin;
    }

    fn field_check(
        &mut self,
        w: &Workload<'_>,
        object: &Value,
        prefix: &[&str],
        field: &str,
        default: Option<&Value>,
    ) {
        let Some(found) = object.get(field).filter(|v| !v.is_null()) else {
            return;
        };
        let mut segs: Vec<Seg<'_>> = prefix.iter().map(|p| Seg::Field(p)).collect();
        segs.push(Seg::Field(field));
        let display = format!("{}.{field}", prefix.join("."));
        self.classify(w, &display, found, default, &segs);
    }

    /// A value equal to the Kubernetes default is defaulted (whoever wrote
    /// it: rendering leaves it to Kubernetes again); any other value is a
    /// loss. Empty lists and maps are never pruned blindly: they count as
    /// defaulted only when the default is absent and nobody authored them.
    fn classify(
        &mut self,
        w: &Workload<'_>,
        display: &str,
        found: &Value,
        default: Option<&Value>,
        segs: &[Seg<'_>],
    ) {
        let authored = w.authored.authored(segs);
        let empty = match found {
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        let is_default = match default {
            Some(d) => d == found,
            None => empty && !matches!(authored, Some((true, _))),
        };
        if is_default {
            let evidence = match authored {
                Some((false, evidence)) => evidence,
                _ => Evidence::KnownDefault,
            };
            self.report.defaulted.push(DefaultedField {
                object: w.object(),
                field: display.to_owned(),
                value: compact(found),
                evidence,
            });
        } else {
            let by = match authored {
                Some((true, Evidence::LastApplied)) => {
                    " (set by the author: last-applied-configuration)"
                }
                Some((true, Evidence::AppliedFields)) => " (set by the author: server-side apply)",
                Some((false, _)) => " (set by the cluster, not by the author)",
                _ => "",
            };
            self.lossy(
                &w.key,
                &w.object(),
                display,
                format!("`{}` is not in the model{by}", compact(found)),
            );
        }
    }

    /// A sidecar or init container as a plugin; plugins with the same key
    /// and definition are shared between components.
    fn plugin(&mut self, w: &Workload<'_>, c: &Container, kind: PluginKind, path: &str) -> String {
        let base = dns_label(c.name.strip_prefix("plugin-").unwrap_or(&c.name), 63);
        let (image, _) = self.image(w, c, true);
        // Plugin env and files are kept as written: plugins are shared
        // between components, so hosts in them are not rewritten.
        let mut scratch = Vec::new();
        let (env, connection) = self.env(w, c, path, &mut scratch);
        for var in connection {
            self.lossy(
                &w.key,
                &w.object(),
                &format!("{path}.env[{}]", var.name),
                "plugins cannot have generated secrets; the variable is not captured",
            );
        }
        // Plugin files: ConfigMap mounts of the plugin container.
        let spec = w.pod_spec().cloned().unwrap_or_default();
        let config_files = self.config_files(w, &spec, c, path, &mut scratch);
        for mount in c.volume_mounts.iter().flatten() {
            let is_claim = spec
                .volumes
                .iter()
                .flatten()
                .any(|v| v.name == mount.name && v.persistent_volume_claim.is_some())
                || w.claim_templates
                    .iter()
                    .any(|t| t.metadata.name.as_deref() == Some(mount.name.as_str()));
            if is_claim {
                self.note(&w.key, format!("plugin `{base}` mounts volume `{}`; rendered sidecars see every component volume", mount.name));
            }
        }
        for (field, present) in [
            ("ports", c.ports.as_ref().is_some_and(|p| !p.is_empty())),
            (
                "resources",
                c.resources
                    .as_ref()
                    .is_some_and(|r| r.requests.is_some() || r.limits.is_some()),
            ),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
        ] {
            if present {
                self.lossy(
                    &w.key,
                    &w.object(),
                    &format!("{path}.{field}"),
                    "plugins have no ports, resources or probes in the model",
                );
            }
        }
        self.container_fields(w, c, path, true);
        let plugin = Plugin {
            key: base.clone(),
            name: c.name.clone(),
            kind,
            image,
            command: c.command.clone().unwrap_or_default(),
            args: c.args.clone().unwrap_or_default(),
            env,
            config_files,
        };
        let same = |p: &Plugin| {
            p.image == plugin.image
                && p.command == plugin.command
                && p.args == plugin.args
                && p.kind == plugin.kind
                && p.config_files == plugin.config_files
        };
        if let Some(existing) = self.plugins.iter().find(|p| p.key == base) {
            if same(existing) {
                // Per-component env differences become attachment overrides
                // only in apptemplate's own rendering; keep the first env.
                return base;
            }
            let key = dns_label(&format!("{}-{base}", w.key), 63);
            self.plugins.push(Plugin {
                key: key.clone(),
                ..plugin
            });
            return key;
        }
        self.plugins.push(plugin);
        base
    }

    fn skip_unused(&mut self) {
        let template = self.template_id.clone();
        for cm in &self.objects.config_maps {
            let name = cm.metadata.name.clone().unwrap_or_default();
            if self.used_config_maps.contains(&name) {
                continue;
            }
            let reason = if name == "kube-root-ca.crt" {
                "the cluster's CA bundle, put in every namespace".to_owned()
            } else if let Some(owner) = owner_of(&cm.metadata) {
                format!("owned by {owner}")
            } else {
                "used by no captured workload".to_owned()
            };
            self.report.skipped.push(SkippedObject {
                object: format!("ConfigMap/{name}"),
                reason,
            });
        }
        for secret in &self.objects.secrets {
            let name = secret.metadata.name.clone().unwrap_or_default();
            if self.used_secrets.contains(&name) {
                continue;
            }
            let reason = match secret.type_.as_deref() {
                Some("kubernetes.io/service-account-token") => "a service-account token".to_owned(),
                Some("apptemplate.io/document") => "apptemplate's installation record".to_owned(),
                _ if name == crate::render::generated_secret_name(&template) => {
                    "apptemplate's generated secrets (referenced as generated connection info)"
                        .to_owned()
                }
                _ => "used by no captured workload".to_owned(),
            };
            self.report.skipped.push(SkippedObject {
                object: format!("Secret/{name}"),
                reason,
            });
        }
        for claim in &self.objects.claims {
            let name = claim.metadata.name.clone().unwrap_or_default();
            if self.used_claims.contains(&name) {
                continue;
            }
            let owned_by_template = self.objects.stateful_sets.iter().any(|s| {
                let sname = s.metadata.name.clone().unwrap_or_default();
                s.spec.as_ref().is_some_and(|sp| {
                    sp.volume_claim_templates.iter().flatten().any(|t| {
                        name.starts_with(&format!(
                            "{}-{sname}-",
                            t.metadata.name.clone().unwrap_or_default()
                        ))
                    })
                })
            });
            let reason = if owned_by_template {
                "made from a StatefulSet claim template (captured with it)"
            } else {
                "mounted by no captured workload; its data is not part of the draft"
            };
            self.report.skipped.push(SkippedObject {
                object: format!("PersistentVolumeClaim/{name}"),
                reason: reason.to_owned(),
            });
        }
        for service in &self.objects.services {
            let name = service.metadata.name.clone().unwrap_or_default();
            if self.used_services.contains(&name) {
                continue;
            }
            let spec = service.spec.clone().unwrap_or_default();
            let entry = SkippedObject {
                object: format!("Service/{name}"),
                reason: if spec.type_.as_deref() == Some("ExternalName") {
                    format!(
                        "an ExternalName Service (to {}) is not in the model; list it as an external dependency",
                        spec.external_name.unwrap_or_default()
                    )
                } else if spec.selector.as_ref().is_none_or(BTreeMap::is_empty) {
                    "a Service without selector (manual endpoints) is not in the model".to_owned()
                } else {
                    "selects no port of a captured workload".to_owned()
                },
            };
            if entry.reason.contains("not in the model") {
                self.report.unsupported.push(entry);
            } else {
                self.report.skipped.push(entry);
            }
        }
        for hpa in &self.objects.autoscalers {
            let name = hpa.metadata.name.clone().unwrap_or_default();
            if !self.used_autoscalers.contains(&name) {
                self.report.skipped.push(SkippedObject {
                    object: format!("HorizontalPodAutoscaler/{name}"),
                    reason: "targets no captured workload".to_owned(),
                });
            }
        }
        for pod in &self.objects.pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let entry = SkippedObject {
                object: format!("Pod/{name}"),
                reason: match owner_of(&pod.metadata) {
                    Some(owner) => format!("owned by {owner}; pods are read only as evidence of image digests"),
                    None => "a Pod without a controller is not in the model; run it from a Deployment or StatefulSet".to_owned(),
                },
            };
            if pod.metadata.owner_references.is_none() {
                self.report.unsupported.push(entry);
            } else {
                self.report.skipped.push(entry);
            }
        }
        for d in self
            .objects
            .deployments
            .iter()
            .map(|d| (&d.metadata, "Deployment"))
            .chain(
                self.objects
                    .stateful_sets
                    .iter()
                    .map(|s| (&s.metadata, "StatefulSet")),
            )
        {
            if let Some(owner) = owner_of(d.0) {
                self.report.skipped.push(SkippedObject {
                    object: format!("{}/{}", d.1, d.0.name.clone().unwrap_or_default()),
                    reason: format!("owned by {owner}, which manages it"),
                });
            }
        }
    }

    fn skip_others(&mut self) {
        for other in &self.objects.others {
            let object = format!("{}/{}", other.kind, other.name);
            let skipped = |reason: &str| SkippedObject {
                object: object.clone(),
                reason: reason.to_owned(),
            };
            let entry = if let Some(owner) = &other.owner {
                Ok(skipped(&format!(
                    "owned by {owner}, which is captured or listed"
                )))
            } else {
                match other.kind.as_str() {
                    "Endpoints" | "EndpointSlice" => {
                        Ok(skipped("kept by Kubernetes from the Services"))
                    }
                    "Event" => Ok(skipped("an event, not a desired state")),
                    "ServiceAccount" if other.name == "default" => {
                        Ok(skipped("the namespace's default service account"))
                    }
                    "Lease" if other.name == crate::lock::lease_name(&self.template_id) => {
                        Ok(skipped("apptemplate's operation lock"))
                    }
                    "ReplicaSet" | "ControllerRevision" => Ok(skipped("kept by its controller")),
                    "PodMetrics" if other.api_version.starts_with("metrics.k8s.io/") => Ok(
                        skipped("usage measured by the metrics server, not a desired state"),
                    ),
                    kind => Err(skipped(&format!(
                        "kind {kind} is not in the template model"
                    ))),
                }
            };
            match entry {
                Ok(e) => self.report.skipped.push(e),
                Err(e) => self.report.unsupported.push(e),
            }
        }
    }

    /// Dependencies from env values and config files, references to other
    /// components' objects, and `*_HOST`/`*_PORT` pairs; hosts naming a
    /// dependency are rewritten to the Service the draft renders.
    fn infer_dependencies(&mut self, components: &mut [Component], rewrites: &[Rewrite]) {
        let forms = self.service_forms.clone();
        for rewrite in rewrites {
            let Some(component) = components.iter_mut().find(|c| c.key == rewrite.component) else {
                continue;
            };
            let (label, text) = match &rewrite.location {
                TextLocation::Env(name) => match component.env.iter().find(|e| e.name == *name) {
                    Some(e) => (format!("env {name}"), e.value.clone()),
                    None => continue,
                },
                TextLocation::File(path) => match component
                    .config_files
                    .iter()
                    .find(|f| f.mount_path == *path)
                {
                    Some(f) => (format!("file {path}"), f.content.clone()),
                    None => continue,
                },
            };
            let host_var = match &rewrite.location {
                TextLocation::Env(name) => {
                    let upper = name.to_ascii_uppercase();
                    [
                        "HOST", "ADDR", "ADDRESS", "SERVER", "URL", "URI", "ENDPOINT", "DSN",
                    ]
                    .iter()
                    .any(|s| upper.ends_with(s))
                }
                TextLocation::File(_) => false,
            };
            let mut replaced = text.clone();
            // Replace from the end so earlier spans stay valid.
            let mentions = find_mentions(&text, &forms);
            for m in mentions.iter().rev() {
                let Some(service) = &m.service else {
                    self.report.external_hosts.push(ExternalHost {
                        component: component.key.clone(),
                        host: match m.port {
                            Some(p) => format!("{}:{p}", m.host),
                            None => m.host.clone(),
                        },
                        evidence: label.clone(),
                    });
                    continue;
                };
                let Some((target, routes)) = self.service_targets.get(service).cloned() else {
                    continue;
                };
                let mut confidence = m.confidence;
                if confidence == Confidence::Medium && host_var {
                    confidence = Confidence::High;
                }
                let written = match m.port {
                    Some(p) => format!("{}:{p}", m.host),
                    None => m.host.clone(),
                };
                if target != component.key {
                    self.edges
                        .entry(component.key.clone())
                        .or_default()
                        .push(Edge {
                            to: target.clone(),
                            confidence,
                            evidence: format!("{label} names Service `{service}` as `{written}`"),
                        });
                }
                if confidence >= Confidence::Medium {
                    let new_host = self.rendered_service(&target);
                    let mut end = m.end;
                    let mut new_text = new_host.clone();
                    if let Some(p) = m.port
                        && let Some(t) = routes.get(&p)
                        && *t != p
                    {
                        end = m.end + 1 + p.to_string().len();
                        new_text = format!("{new_host}:{t}");
                    } else if m.port.is_some() {
                        // Keep the port as written.
                    }
                    let old = &replaced[m.start..end];
                    if old != new_text {
                        self.report.notes.push(Note {
                            component: component.key.clone(),
                            message: format!("{label}: `{old}` rewritten to `{new_text}`, the Service the draft renders for `{target}`"),
                        });
                        replaced.replace_range(m.start..end, &new_text);
                    }
                }
            }
            if replaced != text {
                match &rewrite.location {
                    TextLocation::Env(name) => {
                        if let Some(e) = component.env.iter_mut().find(|e| e.name == *name) {
                            e.value = replaced;
                        }
                    }
                    TextLocation::File(path) => {
                        if let Some(f) = component
                            .config_files
                            .iter_mut()
                            .find(|f| f.mount_path == *path)
                        {
                            f.content = replaced;
                        }
                    }
                }
            }
        }
        // *_HOST / *_PORT pairs.
        for component in components.iter() {
            for var in component.env.iter().filter(|e| e.name.ends_with("_HOST")) {
                let prefix = var.name.trim_end_matches("_HOST");
                let Some(port) = component
                    .env
                    .iter()
                    .find(|e| e.name == format!("{prefix}_PORT"))
                else {
                    continue;
                };
                let Ok(port_number) = port.value.trim().parse::<u32>() else {
                    continue;
                };
                let Some((target, _)) =
                    self.service_targets
                        .iter()
                        .find_map(|(name, (key, routes))| {
                            let host = var.value.trim();
                            let rendered = format!("{}-{key}", self.template_id);
                            let names = host == name
                                || host == rendered
                                || host.starts_with(&format!("{name}."));
                            (names
                                && (routes.contains_key(&port_number)
                                    || routes.values().any(|t| *t == port_number)))
                            .then(|| (key.clone(), ()))
                        })
                else {
                    continue;
                };
                if target != component.key {
                    self.edges
                        .entry(component.key.clone())
                        .or_default()
                        .push(Edge {
                            to: target,
                            confidence: Confidence::High,
                            evidence: format!(
                                "{} and {} name a Service and its port",
                                var.name, port.name
                            ),
                        });
                }
            }
        }
        // Merge evidence per edge and add the strong ones, strongest first,
        // leaving out any that would close a cycle.
        let mut merged: BTreeMap<(String, String), (Confidence, Vec<String>)> = BTreeMap::new();
        for (from, edges) in std::mem::take(&mut self.edges) {
            for e in edges {
                let entry = merged
                    .entry((from.clone(), e.to.clone()))
                    .or_insert((Confidence::Low, Vec::new()));
                entry.0 = entry.0.max(e.confidence);
                if !entry.1.contains(&e.evidence) {
                    entry.1.push(e.evidence);
                }
            }
        }
        let mut order: Vec<_> = merged.into_iter().collect();
        order.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for ((from, to), (confidence, evidence)) in order {
            let mut added = false;
            if confidence >= Confidence::Medium && !reaches(&graph, &to, &from) {
                graph.entry(from.clone()).or_default().insert(to.clone());
                added = true;
            } else if confidence >= Confidence::Medium {
                self.report.notes.push(Note {
                    component: from.clone(),
                    message: format!("dependency on `{to}` left out: it would close a cycle"),
                });
            }
            self.report.dependencies.push(InferredDependency {
                from,
                to,
                confidence,
                added,
                evidence,
            });
        }
        self.report.dependencies.sort();
        for component in components.iter_mut() {
            component.depends_on = graph
                .get(&component.key)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
        }
    }
}

/// Claim name → `<component>/<volume>` of the component that owns it: our
/// component label on claims we rendered, else the first workload (by
/// name) that mounts it. Other components mount it `shared_from` there.
fn claim_owners(
    objects: &CapturedObjects,
    workloads: &[Workload<'_>],
    template: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for w in workloads {
        let Some(spec) = w.pod_spec() else { continue };
        let main = main_container(w, spec);
        let Some(container) = spec.containers.iter().find(|c| c.name == main) else {
            continue;
        };
        for mount in container.volume_mounts.iter().flatten() {
            let Some(claim) = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == mount.name)
                .and_then(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
            else {
                continue;
            };
            let labelled = objects
                .claims
                .iter()
                .find(|c| c.metadata.name.as_deref() == Some(claim.as_str()))
                .filter(|c| is_managed(&c.metadata))
                .and_then(|c| c.metadata.labels.as_ref()?.get(LABEL_COMPONENT).cloned());
            match labelled {
                Some(owner) => {
                    let volume = claim
                        .strip_prefix(&format!("{template}-{owner}-"))
                        .map(|v| dns_label(v, 63))
                        .unwrap_or_else(|| {
                            dns_label(mount.name.strip_prefix("vol-").unwrap_or(&mount.name), 63)
                        });
                    out.insert(claim, format!("{owner}/{volume}"));
                }
                None => {
                    let volume =
                        dns_label(mount.name.strip_prefix("vol-").unwrap_or(&mount.name), 63);
                    out.entry(claim)
                        .or_insert_with(|| format!("{}/{volume}", w.key));
                }
            }
        }
    }
    out
}

/// Whether `to` is reachable from `from` in `graph`.
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(graph.get(&node).into_iter().flatten().cloned());
        }
    }
    false
}

fn main_container(w: &Workload<'_>, spec: &PodSpec) -> String {
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let annotated = w
        .template
        .metadata
        .as_ref()
        .and_then(|m| {
            m.annotations
                .as_ref()?
                .get("kubectl.kubernetes.io/default-container")
        })
        .map(String::as_str);
    [Some(w.key.as_str()), annotated, Some(w.name.as_str())]
        .into_iter()
        .flatten()
        .find(|n| names.contains(n))
        .or_else(|| names.first().copied())
        .unwrap_or_default()
        .to_owned()
}

fn container_port_named(w: &Workload<'_>, name: &str) -> Option<u32> {
    w.pod_spec()?
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| u32::try_from(p.container_port).ok())
}

fn volume_kind(volume: &k8s_openapi::api::core::v1::Volume) -> &'static str {
    if volume.empty_dir.is_some() {
        "emptyDir"
    } else if volume.host_path.is_some() {
        "hostPath"
    } else if volume.projected.is_some() {
        "projected"
    } else if volume.downward_api.is_some() {
        "downwardAPI"
    } else if volume.csi.is_some() || volume.ephemeral.is_some() {
        "ephemeral"
    } else {
        "this"
    }
}

/// `(repository, digest)` from a pod status `imageID` in its runtime forms
/// (`docker-pullable://repo@sha256:…`, `repo@sha256:…`); a bare digest
/// (often the config digest) has no repository.
fn digest_of_image_id(image_id: &str) -> Option<(Option<String>, String)> {
    let id = image_id
        .strip_prefix("docker-pullable://")
        .or_else(|| image_id.strip_prefix("docker://"))
        .unwrap_or(image_id);
    if id.is_empty() {
        return None;
    }
    match id.rsplit_once('@') {
        Some((repo, digest)) if valid_digest(digest) => {
            Some((Some(repo.to_owned()), digest.to_owned()))
        }
        None if valid_digest(id) => Some((None, id.to_owned())),
        _ => None,
    }
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

fn same_repository(repo: &str, reference: &oci_spec::distribution::Reference) -> bool {
    let Ok(parsed) = oci_spec::distribution::Reference::from_str(repo) else {
        return false;
    };
    parsed.registry() == reference.registry() && parsed.repository() == reference.repository()
}

fn looks_confidential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "PWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| upper.contains(w))
        || upper.ends_with("_KEY")
}

/// Matches `text` against `pattern`, where `*` matches any run.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: value.to_owned(),
        description: String::new(),
        editable: true,
        secret: false,
    }
}

fn required(name: &str, source: &str, extra: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: String::new(),
        description: format!(
            "Required at install: the value of Secret key {source}, not copied{extra}."
        ),
        editable: true,
        secret: true,
    }
}

fn generated(name: &str, source: Option<&str>) -> ConnectionVar {
    ConnectionVar {
        name: name.to_owned(),
        value: None,
        generate: Some(SecretRule {
            length: GENERATED_LENGTH,
            alphabet: Alphabet::Alphanumeric,
            group: source.map(|s| dns_label(&s.replace('/', "-"), 63)),
        }),
        description: match source {
            Some(s) => format!("Generated at install in place of Secret key {s}."),
            None => String::new(),
        },
        secret: false,
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
