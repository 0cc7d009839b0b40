//! Reading one application's objects from a cluster: list calls only, so a
//! capture never changes the cluster and works with a service account that
//! may only get, list and watch.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::evidence::LAST_APPLIED;
use super::{CaptureOptions, CaptureReport, CapturedObjects, OtherObject, SkippedObject, convert};
use crate::error::{Error, Result};

/// Reads the application in `namespace` (its workloads narrowed by the
/// label `selector`, e.g. `app.kubernetes.io/instance=shop`) and converts
/// it. Only lists objects; never writes.
pub async fn capture(
    client: &Client,
    namespace: &str,
    selector: Option<&str>,
    options: &CaptureOptions,
) -> Result<CaptureReport> {
    let selected = match selector {
        Some(s) if !s.is_empty() => ListParams::default().labels(s),
        _ => ListParams::default(),
    };
    let all = ListParams::default();
    let mut objects = CapturedObjects {
        namespace: namespace.to_owned(),
        deployments: list::<Deployment>(client, namespace, &selected).await?,
        stateful_sets: list::<StatefulSet>(client, namespace, &selected).await?,
        services: list::<Service>(client, namespace, &all).await?,
        config_maps: list::<ConfigMap>(client, namespace, &all).await?,
        secrets: list::<Secret>(client, namespace, &all).await?,
        claims: list::<PersistentVolumeClaim>(client, namespace, &all).await?,
        autoscalers: list::<HorizontalPodAutoscaler>(client, namespace, &all).await?,
        pods: list::<Pod>(client, namespace, &selected).await?,
        others: Vec::new(),
    };
    // The annotation holds a client-side-applied Secret's data in clear;
    // drop it before anything else sees the object.
    for secret in &mut objects.secrets {
        if let Some(a) = secret.metadata.annotations.as_mut() {
            a.remove(LAST_APPLIED);
        }
    }
    let mut unreadable = Vec::new();
    macro_rules! others {
        ($($kind:ty),* $(,)?) => {$(
            match list::<$kind>(client, namespace, &selected).await {
                Ok(items) => objects.others.extend(items.iter().map(|o| other(o, o.meta(), None))),
                Err(e) => unreadable.push(SkippedObject {
                    object: format!("{}/*", <$kind as k8s_openapi::Resource>::KIND),
                    reason: format!("could not be listed ({e}); objects of this kind were not examined"),
                }),
            }
        )*};
    }
    others!(
        ReplicaSet,
        DaemonSet,
        Job,
        CronJob,
        ServiceAccount,
        Ingress,
        NetworkPolicy,
        PodDisruptionBudget,
        Role,
        RoleBinding,
        Endpoints,
    );
    let mut report = convert(&objects, options);
    report.unsupported.extend(unreadable);
    Ok(report)
}

fn other<K: Resource<DynamicType = ()>>(
    _object: &K,
    meta: &ObjectMeta,
    secret_type: Option<String>,
) -> OtherObject {
    OtherObject {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        owner: meta
            .owner_references
            .iter()
            .flatten()
            .next()
            .map(|o| format!("{}/{}", o.kind, o.name)),
        secret_type,
    }
}

async fn list<K>(client: &Client, namespace: &str, params: &ListParams) -> Result<Vec<K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let list = api.list(params).await.map_err(|e| {
        Error::kube(
            format!(
                "listing {} in namespace {namespace} to capture the application",
                K::kind(&())
            ),
            e,
        )
    })?;
    Ok(list.items)
}
