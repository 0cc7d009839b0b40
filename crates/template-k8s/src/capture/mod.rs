//! Capture: the workloads of an application running on a cluster become a
//! draft template version, with a report of every decision and its
//! evidence.
//!
//! The conversion ([`convert()`]) is a pure function over the API objects,
//! tested without a cluster; [`capture()`] is the thin read-only layer that
//! lists those objects (it only ever discovers kinds, gets and lists).
//!
//! What a capture keeps and what it loses is listed in
//! `docs/capture.md`; every loss found in a given application is named in
//! [`CaptureReport::lossy`].

mod convert;
mod evidence;
mod hosts;
mod read;
mod round_trip;

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use serde::{Deserialize, Serialize};
use template_core::TemplateVersion;

pub use convert::convert;
pub use hosts::{HostMention, ServiceForm, find_mentions};
pub use read::capture;
pub use round_trip::{ALWAYS_LOST, round_trip_differences};

/// The API objects of one namespace a capture works from.
#[derive(Debug, Clone, Default)]
pub struct CapturedObjects {
    /// Namespace the objects were read from.
    pub namespace: String,
    /// Deployments of the application.
    pub deployments: Vec<Deployment>,
    /// StatefulSets of the application.
    pub stateful_sets: Vec<StatefulSet>,
    /// Services of the namespace.
    pub services: Vec<Service>,
    /// ConfigMaps of the namespace.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets of the namespace. Their values are read only for the keys
    /// [`CaptureOptions::copy_secret_values`] names.
    pub secrets: Vec<Secret>,
    /// PersistentVolumeClaims of the namespace.
    pub claims: Vec<PersistentVolumeClaim>,
    /// HorizontalPodAutoscalers (autoscaling/v2) of the namespace.
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    /// Pods, used only as evidence of the image digests they run.
    pub pods: Vec<Pod>,
    /// Every other object found, by kind and name, to be skipped or listed
    /// as a kind the model cannot express.
    pub others: Vec<OtherObject>,
}

impl CapturedObjects {
    /// Empty set of objects of `namespace`.
    pub fn new(namespace: &str) -> CapturedObjects {
        CapturedObjects {
            namespace: namespace.to_owned(),
            ..CapturedObjects::default()
        }
    }

    /// The objects of `namespace` given as JSON (e.g. read from manifest
    /// files or a `kubectl get -o json` list's items), each sorted by its
    /// `kind`. An object that does not parse is refused as an invalid
    /// option naming `objects[<index>]`, its kind and name.
    pub fn from_values(
        namespace: &str,
        objects: impl IntoIterator<Item = serde_json::Value>,
    ) -> template_core::Result<CapturedObjects> {
        let mut out = CapturedObjects::new(namespace);
        for (i, object) in objects.into_iter().enumerate() {
            out.push(object)
                .map_err(|message| template_core::Error::InvalidOption {
                    option: format!("objects[{i}]"),
                    message: format!("{message}; give the object as the API returns it"),
                })?;
        }
        Ok(out)
    }

    /// Adds one object given as JSON (e.g. read from a manifest file),
    /// sorted by its `kind`. An object of a kind the conversion reads but
    /// whose fields do not parse is refused with the reason.
    pub fn push(&mut self, object: serde_json::Value) -> Result<(), String> {
        fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
            serde_json::from_value(v).map_err(|e| e.to_string())
        }
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let name = object
            .pointer("/metadata/name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_owned();
        let what = |e: String| format!("{kind}/{name}: {e}");
        match kind.as_str() {
            "Deployment" => self.deployments.push(parse(object).map_err(what)?),
            "StatefulSet" => self.stateful_sets.push(parse(object).map_err(what)?),
            "Service" => self.services.push(parse(object).map_err(what)?),
            "ConfigMap" => self.config_maps.push(parse(object).map_err(what)?),
            "Secret" => self.secrets.push(parse(object).map_err(what)?),
            "PersistentVolumeClaim" => self.claims.push(parse(object).map_err(what)?),
            "HorizontalPodAutoscaler" => self.autoscalers.push(parse(object).map_err(what)?),
            "Pod" => self.pods.push(parse(object).map_err(what)?),
            _ => self.others.push(OtherObject {
                api_version: object["apiVersion"].as_str().unwrap_or_default().to_owned(),
                kind: kind.clone(),
                name: name.clone(),
                owner: object.pointer("/metadata/ownerReferences/0").map(|o| {
                    format!(
                        "{}/{}",
                        o["kind"].as_str().unwrap_or_default(),
                        o["name"].as_str().unwrap_or_default()
                    )
                }),
                secret_type: None,
            }),
        }
        Ok(())
    }
}

/// An object of a kind the conversion does not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherObject {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// Kind of the controlling owner, if another object owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Secret type, for Secrets (token Secrets are skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
}

/// Choices of the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureOptions {
    /// Template id of the draft; default: the `app.kubernetes.io/instance`
    /// label the workloads share, else the namespace.
    pub template_id: Option<String>,
    /// Display name; default: the template id.
    pub template_name: Option<String>,
    /// Version of the draft; default `0.1.0` (a publish into a market
    /// that has the template takes the next minor version after its
    /// newest instead).
    pub version: Option<String>,
    /// Secret variables to turn into secrets generated at install time
    /// instead of values required at install: each entry is a variable
    /// name or `secret/key`, with `*` matching any run of characters
    /// (e.g. `*_PASSWORD`).
    pub generate_secrets: Vec<String>,
    /// Secret values to copy into the draft, one entry per key as
    /// `secret/key`. Nothing else is ever copied.
    pub copy_secret_values: Vec<String>,
}

/// The draft and every decision taken to make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureReport {
    /// The draft version (release state `draft`). It may not validate when
    /// an image digest is unresolved (see [`CaptureReport::images`]).
    pub version: TemplateVersion,
    /// Objects left out on purpose, and why.
    pub skipped: Vec<SkippedObject>,
    /// Objects of kinds the model cannot express; nothing of them is in the
    /// draft.
    pub unsupported: Vec<SkippedObject>,
    /// Fields of captured objects the draft cannot carry, or carries
    /// changed.
    pub lossy: Vec<LossyField>,
    /// Values left out because Kubernetes defaulted them, with the evidence.
    pub defaulted: Vec<DefaultedField>,
    /// What became of every value that comes from a Secret.
    pub secrets: Vec<SecretDecision>,
    /// Literal env values whose names look confidential.
    pub flagged_env: Vec<FlaggedEnv>,
    /// Dependencies between components, with evidence and confidence.
    pub dependencies: Vec<InferredDependency>,
    /// Hosts named in env or config files that match no Service of the
    /// application.
    pub external_hosts: Vec<ExternalHost>,
    /// Where each image reference and digest came from.
    pub images: Vec<ImageDecision>,
    /// Other decisions (main container chosen, names derived, hosts
    /// rewritten), one sentence each.
    pub notes: Vec<Note>,
}

impl CaptureReport {
    /// Images whose digest could not be determined from the objects.
    pub fn unresolved_images(&self) -> Vec<&ImageDecision> {
        self.images
            .iter()
            .filter(|i| i.source == DigestSource::Unresolved)
            .collect()
    }

    /// Keys of `secret/key` whose values were copied into the draft.
    pub fn copied_values(&self) -> BTreeSet<String> {
        self.secrets
            .iter()
            .filter(|s| s.handling == SecretHandling::Copied)
            .map(|s| s.source.clone())
            .collect()
    }
}

/// An object left out of the draft.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SkippedObject {
    /// `Kind/name`.
    pub object: String,
    /// Why.
    pub reason: String,
}

/// A field the draft cannot carry or carries changed.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct LossyField {
    /// Component key; empty for template-wide losses.
    pub component: String,
    /// `Kind/name` of the object the field is in.
    pub object: String,
    /// Path of the field in the object, e.g.
    /// `spec.template.spec.containers[web].securityContext`.
    pub field: String,
    /// What is lost and what to do.
    pub reason: String,
}

/// A value left out because Kubernetes, not the author, set it.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DefaultedField {
    /// `Kind/name`.
    pub object: String,
    /// Path of the field.
    pub field: String,
    /// The value found.
    pub value: String,
    /// How it was told apart from an authored value.
    pub evidence: Evidence,
}

/// How a field was known to be set by the author or by Kubernetes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The `kubectl.kubernetes.io/last-applied-configuration` annotation.
    LastApplied,
    /// The fields owned by a server-side-apply `Apply` manager.
    AppliedFields,
    /// No record of what the author sent; the value equals the known
    /// Kubernetes default.
    KnownDefault,
}

/// What became of one value that comes from a Secret.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SecretDecision {
    /// Component key.
    pub component: String,
    /// Variable (or file path) in the component.
    pub variable: String,
    /// `secret/key` it comes from.
    pub source: String,
    /// What the draft holds.
    pub handling: SecretHandling,
}

/// How a secret value is carried.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SecretHandling {
    /// A secret variable without value: the installer must give one.
    Required,
    /// A secret generated at install time (shared by every use of the same
    /// `secret/key`).
    Generated,
    /// The value was copied into the draft, as the options asked.
    Copied,
    /// A file from a Secret: the model has no secret files; not captured.
    NotCaptured,
}

/// A literal env value that looks confidential.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FlaggedEnv {
    /// Component key.
    pub component: String,
    /// Variable name.
    pub variable: String,
    /// Why it was flagged and what was done.
    pub reason: String,
}

/// One inferred dependency edge.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct InferredDependency {
    /// Dependant component key.
    pub from: String,
    /// Component depended on.
    pub to: String,
    /// How sure the inference is.
    pub confidence: Confidence,
    /// Whether the edge is in the draft's `depends_on` (low-confidence
    /// edges and edges closing a cycle are only reported).
    pub added: bool,
    /// Every piece of evidence, e.g. `env DB_URL names Service db:5432`.
    pub evidence: Vec<String>,
}

/// Confidence of an inference.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A bare word that happens to equal a Service name.
    Low,
    /// A whole value naming a Service in a host variable, or a reference to
    /// another component's ConfigMap or Secret.
    Medium,
    /// A qualified DNS name, a host with a Service port, a URL, or a
    /// `*_HOST`/`*_PORT` pair that matches a Service.
    High,
}

/// A host that matches no Service of the application.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ExternalHost {
    /// Component key.
    pub component: String,
    /// Host as written (with port if one was given).
    pub host: String,
    /// Where it was found, e.g. `env DATABASE_URL`.
    pub evidence: String,
}

/// Where one image of the draft came from.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ImageDecision {
    /// Component key.
    pub component: String,
    /// Container name in the pod template.
    pub container: String,
    /// `image` of the pod template.
    pub template_image: String,
    /// Reference written into the draft.
    pub image: String,
    /// Where the digest came from.
    pub source: DigestSource,
    /// Digests the workload's pods run, when they differ from each other
    /// or from the one chosen.
    pub pod_digests: Vec<String>,
    /// What to know about this image.
    pub note: String,
}

/// Source of an image digest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DigestSource {
    /// The pod template pins the image by digest.
    Template,
    /// The status of the workload's pods, whose repository matches.
    PodStatus,
    /// The registry, asked for the tag's digest.
    Registry,
    /// Unknown: resolve the tag with the registry before publishing.
    Unresolved,
}

/// A decision worth telling that fits no other list.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Note {
    /// Component key; empty for template-wide notes.
    pub component: String,
    /// What was decided and why.
    pub message: String,
}
