//! The pod template of a component: its volumes, its main container and
//! the containers of its plugins.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EnvVar, ExecAction, HTTPGetAction, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use template_core::{AccessMode, Plugin, PluginKind};

use super::inputs::{inputs_checksum, plain_env};
use super::{
    ComponentView, INPUTS_CHECKSUM, l4_protocol, non_empty, object_name, port_number,
    relocate_image, seconds,
};
use crate::error::Result;

/// Name of the pod volume that carries the config files.
const CONFIG_VOLUME: &str = "config";

impl ComponentView<'_> {
    /// The pod template. Its annotation carries the digest of the inputs
    /// a pod reads only when it starts, so a change to them rolls it out.
    pub(super) fn pod_template(&self) -> Result<PodTemplateSpec> {
        let (volumes, mounts) = self.volumes_and_mounts();
        let mut containers = vec![self.main_container(&mounts)?];
        let mut init_containers = Vec::new();
        for plugin in &self.installed.plugin_definitions {
            let container = self.plugin_container(plugin, &mounts)?;
            match plugin.kind {
                PluginKind::Sidecar => containers.push(container),
                PluginKind::Init => init_containers.push(container),
            }
        }
        Ok(PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(self.labels.clone()),
                annotations: inputs_checksum(&self.files, &self.env.referenced_secrets)
                    .map(|sum| BTreeMap::from([(INPUTS_CHECKSUM.to_owned(), sum)])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers,
                init_containers: non_empty(init_containers),
                volumes: non_empty(volumes),
                ..Default::default()
            }),
        })
    }

    /// The pod's volumes, and the main container's mounts: the config
    /// files file by file, then every volume, owned or shared.
    fn volumes_and_mounts(&self) -> (Vec<Volume>, Vec<VolumeMount>) {
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        if !self.files.is_empty() {
            volumes.push(Volume {
                name: CONFIG_VOLUME.to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: format!("{}-config", self.name),
                    items: Some(
                        self.files
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
            mounts.extend(self.config_mounts(None));
        }
        for volume in &self.spec.volumes {
            let claim = match &volume.shared_from {
                Some(share) => {
                    let (owner, vol) = share.split_once('/').unwrap_or((share.as_str(), ""));
                    format!("{}-{vol}", object_name(self.app(), owner))
                }
                None => format!("{}-{}", self.name, volume.name),
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
        (volumes, mounts)
    }

    /// Mounts of the config files of the component (`owner` none) or of
    /// one of its plugins.
    fn config_mounts<'s>(
        &'s self,
        owner: Option<&'s str>,
    ) -> impl Iterator<Item = VolumeMount> + 's {
        self.files
            .iter()
            .filter(move |f| f.owner.as_deref() == owner)
            .map(|f| VolumeMount {
                name: CONFIG_VOLUME.to_owned(),
                mount_path: f.mount_path.clone(),
                sub_path: Some(f.key.clone()),
                read_only: Some(true),
                ..Default::default()
            })
    }

    fn main_container(&self, mounts: &[VolumeMount]) -> Result<Container> {
        let spec = &self.spec;
        Ok(Container {
            name: self.key.to_owned(),
            image: Some(relocate_image(
                &spec.image,
                self.options.registry.as_deref(),
            )?),
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
            env: non_empty(self.env.vars.clone()),
            resources: resources(&spec.scaling),
            liveness_probe: spec.probes.liveness.as_ref().map(probe),
            readiness_probe: spec.probes.readiness.as_ref().map(probe),
            volume_mounts: non_empty(mounts.to_vec()),
            ..Default::default()
        })
    }

    /// A plugin's container: its env with the component's overrides first,
    /// its own config files, and the component's volumes (log shippers
    /// read them).
    fn plugin_container(&self, plugin: &Plugin, mounts: &[VolumeMount]) -> Result<Container> {
        let overrides = self
            .spec
            .plugins
            .iter()
            .filter(|a| a.plugin == plugin.key)
            .flat_map(|a| a.env.iter());
        let mut env: Vec<EnvVar> = Vec::new();
        let mut seen = BTreeSet::new();
        for var in overrides.chain(plugin.env.iter()) {
            if seen.insert(var.name.as_str()) {
                env.push(plain_env(&var.name, &var.value));
            }
        }
        let plugin_mounts: Vec<VolumeMount> = self
            .config_mounts(Some(plugin.key.as_str()))
            .chain(mounts.iter().filter(|m| m.name != CONFIG_VOLUME).cloned())
            .collect();
        Ok(Container {
            name: format!("plugin-{}", plugin.key),
            image: Some(relocate_image(
                &plugin.image,
                self.options.registry.as_deref(),
            )?),
            image_pull_policy: Some("IfNotPresent".to_owned()),
            command: non_empty(plugin.command.clone()),
            args: non_empty(plugin.args.clone()),
            env: non_empty(env),
            volume_mounts: non_empty(plugin_mounts),
            ..Default::default()
        })
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
