//! Server-side apply of rendered objects with our field manager.
//!
//! Every object is applied with `force`: the executor renders what the
//! installation should run *after* folding the user's live edits into the
//! installed state (see [`crate::drift`]), so taking ownership of a field
//! another manager touched never discards a value the plan did not mean to
//! change.
//!
//! PersistentVolumeClaims are the exception: once created, only their size
//! may grow. An existing claim is only ever expanded, never shrunk and
//! never re-applied, so upgrades, rollbacks and prunes cannot lose data.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::json;
use template_core::quantity::parse_quantity;

use crate::error::{Error, Result};
use crate::render::FIELD_MANAGER;
use crate::render::RenderedObject;

/// The API resource of a kind the renderer produces.
pub(crate) fn api_resource(kind: &str) -> Option<ApiResource> {
    Some(match kind {
        ConfigMap::KIND => ApiResource::erase::<ConfigMap>(&()),
        Secret::KIND => ApiResource::erase::<Secret>(&()),
        PersistentVolumeClaim::KIND => ApiResource::erase::<PersistentVolumeClaim>(&()),
        Service::KIND => ApiResource::erase::<Service>(&()),
        Deployment::KIND => ApiResource::erase::<Deployment>(&()),
        StatefulSet::KIND => ApiResource::erase::<StatefulSet>(&()),
        HorizontalPodAutoscaler::KIND => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        Job::KIND => ApiResource::erase::<Job>(&()),
        _ => return None,
    })
}

/// A dynamic API for `kind` in `namespace`.
pub(crate) fn dynamic_api(
    client: &Client,
    namespace: &str,
    kind: &str,
) -> Result<Api<DynamicObject>> {
    let resource = api_resource(kind).ok_or_else(|| Error::Render {
        component: String::new(),
        message: format!("objects of kind {kind} cannot be applied by this adapter"),
    })?;
    Ok(Api::namespaced_with(client.clone(), namespace, &resource))
}

/// Applies one rendered object into `namespace`.
pub async fn apply_object(client: &Client, namespace: &str, object: &RenderedObject) -> Result<()> {
    let api = dynamic_api(client, namespace, &object.kind)?;
    let what = format!(
        "applying {}/{} in namespace {namespace}{}",
        object.kind,
        object.name,
        object
            .component
            .as_deref()
            .map(|c| format!(" (component `{c}`)"))
            .unwrap_or_default()
    );
    if object.kind == PersistentVolumeClaim::KIND {
        return apply_claim(&api, object, &what).await;
    }
    if matches!(object.kind.as_str(), "Deployment" | "StatefulSet")
        && object.object.pointer("/spec/replicas").is_none()
    {
        hand_over_replicas(&api, object, &what).await?;
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&object.name, &params, &Patch::Apply(&object.object))
        .await
        .map_err(|e| Error::kube(what, e))?;
    Ok(())
}

/// Field manager that holds `spec.replicas` while it passes from us to an
/// autoscaler.
const HANDOVER_MANAGER: &str = "apptemplate-handover";

/// A workload that becomes autoscaled is applied without `replicas`. If we
/// owned the field, server-side apply would remove it and the workload
/// would drop to one replica until the autoscaler reacts. A second manager
/// first applies the current count, so the field survives our letting go
/// and the autoscaler takes it from there.
async fn hand_over_replicas(
    api: &Api<DynamicObject>,
    object: &RenderedObject,
    what: &str,
) -> Result<()> {
    let Some(live) = api
        .get_opt(&object.name)
        .await
        .map_err(|e| Error::kube(what, e))?
    else {
        return Ok(());
    };
    let owned_by_us = live
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.manager.as_deref() == Some(FIELD_MANAGER))
        .filter_map(|m| m.fields_v1.as_ref())
        .any(|f| f.0.pointer("/f:spec/f:replicas").is_some());
    let Some(replicas) = live.data.pointer("/spec/replicas").cloned() else {
        return Ok(());
    };
    if !owned_by_us {
        return Ok(());
    }
    let patch = json!({
        "apiVersion": object.api_version,
        "kind": object.kind,
        "metadata": {"name": object.name},
        "spec": {"replicas": replicas},
    });
    api.patch(
        &object.name,
        &PatchParams::apply(HANDOVER_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|e| {
        Error::kube(
            format!("{what}: handing replicas over to the autoscaler"),
            e,
        )
    })?;
    Ok(())
}

/// Creates a claim, or expands an existing one when the rendered size is
/// larger; anything else about an existing claim is left alone.
async fn apply_claim(api: &Api<DynamicObject>, object: &RenderedObject, what: &str) -> Result<()> {
    let live = api
        .get_opt(&object.name)
        .await
        .map_err(|e| Error::kube(what, e))?;
    let Some(live) = live else {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch(&object.name, &params, &Patch::Apply(&object.object))
            .await
            .map_err(|e| Error::kube(what, e))?;
        return Ok(());
    };
    let wanted = storage_request(&object.object);
    let current = storage_request(&live.data);
    let grows = match (
        wanted.as_deref().and_then(parse_quantity),
        current.as_deref().and_then(parse_quantity),
    ) {
        (Some(w), Some(c)) => w > c,
        _ => false,
    };
    if let (true, Some(wanted)) = (grows, wanted) {
        // A merge patch of the size alone: the rest of a claim is immutable
        // and its size is owned by whoever expanded it last.
        let patch = json!({"spec": {"resources": {"requests": {"storage": wanted}}}});
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..Default::default()
        };
        api.patch(&object.name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| Error::kube(format!("{what}: expanding to {wanted}"), e))?;
    }
    Ok(())
}

/// `spec.resources.requests.storage` of a claim.
pub(crate) fn storage_request(claim: &serde_json::Value) -> Option<String> {
    claim
        .pointer("/spec/resources/requests/storage")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendered_kind_has_an_api_resource() {
        for kind in [
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "Service",
            "Deployment",
            "StatefulSet",
            "HorizontalPodAutoscaler",
        ] {
            assert!(api_resource(kind).is_some(), "{kind}");
        }
        assert!(api_resource("Pod").is_none());
    }

    #[test]
    fn storage_request_reads_the_claim_size() {
        let claim = json!({"spec": {"resources": {"requests": {"storage": "10Gi"}}}});
        assert_eq!(storage_request(&claim).as_deref(), Some("10Gi"));
        assert_eq!(storage_request(&json!({})), None);
    }
}
