//! Reading one application's objects from a cluster: discovery and list
//! calls only, so a capture never changes the cluster and works with a
//! service account that may only get, list and watch.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::evidence::LAST_APPLIED;
use super::{CaptureOptions, CaptureReport, CapturedObjects, OtherObject, SkippedObject, convert};
use crate::error::{Error, Result};

/// Reads the application in `namespace` (its workloads narrowed by the
/// label `selector`, e.g. `app.kubernetes.io/instance=shop`) and converts
/// it. Only discovers and lists; never writes.
///
/// Besides the kinds the conversion reads, every namespaced kind the
/// cluster serves (in the preferred version of its group) is listed, so an
/// object of a kind the model cannot express, custom resources included,
/// is reported rather than silently left out. A kind that cannot be listed
/// is reported once, as `Kind/*`.
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
    for resource in other_resources(client).await? {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        // Names and owners are all the conversion needs: the objects'
        // contents (a custom resource may hold credentials) are not read.
        match api.list_metadata(&selected).await {
            Ok(list) => objects
                .others
                .extend(list.items.iter().map(|o| other(&resource, &o.metadata))),
            Err(e) => unreadable.push(SkippedObject {
                object: format!("{}/*", resource.kind),
                reason: format!(
                    "{} could not be listed ({e}); objects of this kind were not examined",
                    resource.api_version
                ),
            }),
        }
    }
    let mut report = convert(&objects, options);
    report.unsupported.extend(unreadable);
    report.unsupported.sort();
    Ok(report)
}

/// Kinds [`capture`] lists with their own types; discovery skips them.
const READ_KINDS: [(&str, &str); 8] = [
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("", "Service"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "PersistentVolumeClaim"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("", "Pod"),
];

/// Every other namespaced resource the cluster lists, in the preferred
/// version of each group, by group name. Events (core and
/// `events.k8s.io`) are left out: they record what happened, not what
/// should run, and a busy namespace holds thousands.
async fn other_resources(client: &Client) -> Result<Vec<ApiResource>> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        // Servers before aggregated discovery (Kubernetes 1.26) answer
        // group by group.
        Err(_) => Discovery::new(client.clone())
            .run()
            .await
            .map_err(|e| Error::kube("discovering the kinds the cluster serves", e))?,
    };
    Ok(discovery
        .groups_alphabetical()
        .into_iter()
        .flat_map(|g| g.recommended_resources())
        .filter(|(r, caps)| wanted(r, caps))
        .map(|(r, _)| r)
        .collect())
}

fn wanted(resource: &ApiResource, caps: &ApiCapabilities) -> bool {
    let read = READ_KINDS
        .iter()
        .any(|(g, k)| resource.group == *g && resource.kind == *k);
    let event = resource.kind == "Event" && matches!(resource.group.as_str(), "" | "events.k8s.io");
    caps.scope == Scope::Namespaced && caps.supports_operation(verbs::LIST) && !read && !event
}

fn other(resource: &ApiResource, meta: &ObjectMeta) -> OtherObject {
    OtherObject {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
        name: meta.name.clone().unwrap_or_default(),
        owner: meta
            .owner_references
            .iter()
            .flatten()
            .next()
            .map(|o| format!("{}/{}", o.kind, o.name)),
        secret_type: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(group: &str, kind: &str) -> ApiResource {
        let api_version = if group.is_empty() {
            "v1".to_owned()
        } else {
            format!("{group}/v1")
        };
        ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version,
            kind: kind.into(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
        }
    }

    fn caps(scope: Scope, operations: &[&str]) -> ApiCapabilities {
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn discovery_keeps_namespaced_listable_kinds_the_reader_does_not_read() {
        let listable = caps(Scope::Namespaced, &[verbs::GET, verbs::LIST]);
        for (group, kind) in [
            ("batch", "Job"),
            ("coordination.k8s.io", "Lease"),
            ("apps", "ControllerRevision"),
            ("example.com", "Widget"),
            // Same kind name in another group is another kind.
            ("example.com", "Deployment"),
        ] {
            assert!(wanted(&resource(group, kind), &listable), "{group}/{kind}");
        }
        for (group, kind) in [
            ("apps", "Deployment"),
            ("", "Pod"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("", "Event"),
            ("events.k8s.io", "Event"),
        ] {
            assert!(!wanted(&resource(group, kind), &listable), "{group}/{kind}");
        }
        assert!(!wanted(
            &resource("rbac.authorization.k8s.io", "ClusterRole"),
            &caps(Scope::Cluster, &[verbs::LIST])
        ));
        assert!(!wanted(
            &resource("authorization.k8s.io", "LocalSubjectAccessReview"),
            &caps(Scope::Namespaced, &[verbs::CREATE])
        ));
    }
}
