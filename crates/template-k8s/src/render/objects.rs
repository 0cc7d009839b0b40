//! One builder per Kubernetes object kind of a component.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::Resource;
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
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec, Secret, Service,
    ServicePort, ServiceSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use template_core::AccessMode;
use template_core::installed::InstalledState;

use super::{
    ComponentView, Exposure, RenderOptions, app_protocol, l4_protocol, meta, object_name,
    port_number, replica_count, selector_labels,
};
use crate::error::{Error, Result};

impl ComponentView<'_> {
    /// The component's config files, keys derived from their mount paths.
    pub(super) fn config_map(&self) -> Option<ConfigMap> {
        if self.files.is_empty() {
            return None;
        }
        let data = self
            .files
            .iter()
            .map(|f| (f.key.clone(), f.content.clone()))
            .collect();
        Some(ConfigMap {
            metadata: self.meta(&format!("{}-config", self.name)),
            data: Some(data),
            ..Default::default()
        })
    }

    /// The confidential fixed values: the component's secret env vars and
    /// connection info.
    pub(super) fn env_secret(&self) -> Option<Secret> {
        if self.env.secret_values.is_empty() {
            return None;
        }
        let data = self
            .env
            .secret_values
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
            .collect();
        Some(Secret {
            metadata: self.meta(&format!("{}-env", self.name)),
            data: Some(data),
            type_: Some("Opaque".to_owned()),
            ..Default::default()
        })
    }

    /// One claim per volume the component owns (not those it mounts from
    /// another component).
    pub(super) fn owned_claims(&self) -> Result<Vec<PersistentVolumeClaim>> {
        self.spec
            .volumes
            .iter()
            .filter(|v| v.shared_from.is_none())
            .map(|volume| pvc(self.state, self.key, volume, self.options, &self.labels))
            .collect()
    }

    /// The replica count the workload states: none when an autoscaler owns
    /// it, so an upgrade never resets what the autoscaler chose.
    fn replicas(&self) -> Option<i32> {
        (!self.autoscaled()).then(|| replica_count(self.installed.replicas()))
    }

    fn label_selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: Some(selector_labels(self.app(), self.key)),
            ..Default::default()
        }
    }

    /// The workload of a component that owns volumes.
    pub(super) fn stateful_set(&self, template: PodTemplateSpec) -> StatefulSet {
        StatefulSet {
            metadata: self.meta(&self.name),
            spec: Some(StatefulSetSpec {
                replicas: self.replicas(),
                selector: self.label_selector(),
                service_name: Some(self.name.clone()),
                template,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The workload of a stateless component: a rolling update that keeps
    /// every old pod until its replacement is up.
    pub(super) fn deployment(&self, template: PodTemplateSpec) -> Deployment {
        Deployment {
            metadata: self.meta(&self.name),
            spec: Some(DeploymentSpec {
                replicas: self.replicas(),
                selector: self.label_selector(),
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
        }
    }

    /// A ClusterIP Service for the inner ports and one exposed as the
    /// environment says for the outer ports, each only when it has ports.
    pub(super) fn services(&self) -> Vec<Service> {
        let mut services = Vec::new();
        for (suffix, outer) in [("", false), ("-outer", true)] {
            let ports: Vec<ServicePort> = self
                .spec
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
            let type_ = match (outer, self.options.exposure) {
                (false, _) => "ClusterIP",
                (true, Exposure::NodePort) => "NodePort",
                (true, Exposure::LoadBalancer) => "LoadBalancer",
            };
            services.push(Service {
                metadata: self.meta(&format!("{}{suffix}", self.name)),
                spec: Some(ServiceSpec {
                    type_: Some(type_.to_owned()),
                    selector: Some(selector_labels(self.app(), self.key)),
                    ports: Some(ports),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        services
    }

    /// A CPU autoscaler between the installed replica count and
    /// `max_replicas`, stepping by `step` pods a minute, when the component
    /// scales.
    pub(super) fn autoscaler(&self) -> Option<HorizontalPodAutoscaler> {
        if !self.autoscaled() {
            return None;
        }
        let scaling = &self.spec.scaling;
        let workload_kind = if self.spec.is_stateful() {
            StatefulSet::KIND
        } else {
            Deployment::KIND
        };
        let rules = HPAScalingRules {
            policies: Some(vec![HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: i32::try_from(scaling.step).unwrap_or(i32::MAX),
                period_seconds: 60,
            }]),
            ..Default::default()
        };
        Some(HorizontalPodAutoscaler {
            metadata: self.meta(&self.name),
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".to_owned()),
                    kind: workload_kind.to_owned(),
                    name: self.name.clone(),
                },
                min_replicas: Some(replica_count(self.installed.replicas())),
                max_replicas: replica_count(scaling.max_replicas),
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
        })
    }
}

/// A standalone claim for one volume, so it survives the workload, can be
/// expanded and can be mounted by other components. Retained volumes of
/// removed components come with no labels and get the selector labels.
pub(super) fn pvc(
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
            super::FIELD_MANAGER.to_owned(),
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
