//! What users changed on the cluster since we last applied: env values,
//! config file contents, replicas (of the workload, or the autoscaler's
//! minimum) and volume sizes. The changes are folded into the installed
//! state as customizations before an upgrade is planned, so the three-way
//! plan keeps and reports them instead of overwriting them.
//!
//! Reading the cluster ([`read_live`]) is separate from deciding what
//! changed ([`fold_live`], pure), which is tested without a cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use template_core::InstalledState;
use template_core::quantity::parse_quantity;

use crate::apply::{dynamic_api, storage_request};
use crate::error::{Error, Result};
use crate::render::{RenderOptions, RenderedObject, object_name, render_component};

/// What kind of value a user changed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// An env value of the component's container.
    Env,
    /// The content of a config file.
    ConfigFile,
    /// The replica count of the workload (or the autoscaler's minimum).
    Replicas,
    /// The requested size of a volume.
    VolumeSize,
}

/// One value changed on the cluster, now recorded as a customization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DetectedChange {
    /// Component key.
    pub component: String,
    /// Path of the value, e.g. `components[upms].env[JAVA_OPTS]`.
    pub path: String,
    /// What changed.
    pub kind: DriftKind,
    /// Where it was found, as `Kind/name`.
    pub object: String,
    /// The value recorded before (masked if secret).
    pub recorded: String,
    /// The value found on the cluster (masked if secret).
    pub live: String,
    /// Why the value is not kept, when the template does not allow it (an
    /// env var that is not editable, replicas outside the template's
    /// bounds): the next operation puts the template's value back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_kept: Option<String>,
}

/// Live objects by `(kind, name)`, as JSON.
pub type LiveObjects = BTreeMap<(String, String), Value>;

/// Reads the live counterparts of `objects` (absent ones are left out).
pub async fn read_live(
    client: &Client,
    namespace: &str,
    objects: &[RenderedObject],
) -> Result<LiveObjects> {
    let mut live = LiveObjects::new();
    for object in objects {
        let api = dynamic_api(client, namespace, &object.kind)?;
        let found = api.get_opt(&object.name).await.map_err(|e| {
            Error::kube(
                format!(
                    "reading {}/{} to detect user changes",
                    object.kind, object.name
                ),
                e,
            )
        })?;
        if let Some(found) = found {
            live.insert(
                (object.kind.clone(), object.name.clone()),
                serde_json::to_value(found).unwrap_or(Value::Null),
            );
        }
    }
    Ok(live)
}

/// Reads the cluster and returns `state` with the users' changes recorded
/// as customizations, and the list of those changes.
pub async fn detect_drift(
    client: &Client,
    state: &InstalledState,
    options: &RenderOptions,
) -> Result<(InstalledState, Vec<DetectedChange>)> {
    let mut objects = Vec::new();
    for (key, component) in &state.components {
        objects.extend(render_component(state, key, component, options)?);
    }
    let live = read_live(client, &options.namespace, &objects).await?;
    fold_live(state, options, &live)
}

/// Folds the live values into `state` (pure).
pub fn fold_live(
    state: &InstalledState,
    options: &RenderOptions,
    live: &LiveObjects,
) -> Result<(InstalledState, Vec<DetectedChange>)> {
    let mut next = state.clone();
    let mut changes = Vec::new();
    for (key, component) in &state.components {
        let rendered = render_component(state, key, component, options)?;
        let name = object_name(&state.template, key);
        let get = |kind: &str, n: &str| live.get(&(kind.to_owned(), n.to_owned()));
        let workload = rendered
            .iter()
            .find(|o| o.kind == "Deployment" || o.kind == "StatefulSet");

        if let Some(workload) = workload
            && let Some(live_workload) = get(&workload.kind, &workload.name)
        {
            let object = format!("{}/{}", workload.kind, workload.name);
            let env_secret = get("Secret", &format!("{name}-env"))
                .and_then(|s| serde_json::from_value::<Secret>(s.clone()).ok());
            for (var, live_value) in live_env(live_workload, key, env_secret.as_ref()) {
                let Some(recorded) = component.env_value(&var) else {
                    continue; // connection info and dependency addresses
                };
                if recorded == live_value {
                    continue;
                }
                let secret = component.env_is_secret(&var);
                let recorded = shown(recorded, secret);
                let not_kept = refused(next.set_env(key, &var, &live_value))?;
                changes.push(DetectedChange {
                    component: key.clone(),
                    path: format!("components[{key}].env[{var}]"),
                    kind: DriftKind::Env,
                    object: object.clone(),
                    recorded,
                    live: shown(&live_value, secret),
                    not_kept,
                });
            }
            let rendered_replicas = workload
                .object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64);
            let live_replicas = live_workload
                .pointer("/spec/replicas")
                .and_then(Value::as_i64);
            if let (Some(r), Some(l)) = (rendered_replicas, live_replicas)
                && r != l
                && let Ok(l) = u32::try_from(l)
            {
                let not_kept = refused(next.set_replicas(key, l))?;
                changes.push(DetectedChange {
                    component: key.clone(),
                    path: format!("components[{key}].replicas"),
                    kind: DriftKind::Replicas,
                    object,
                    recorded: r.to_string(),
                    live: l.to_string(),
                    not_kept,
                });
            }
            // Config files: ConfigMap keys map to mount paths through the
            // main container's mounts of the `config` volume.
            let mounts = config_mounts(&workload.object, key);
            if let Some(cm) = rendered.iter().find(|o| o.kind == "ConfigMap")
                && let Some(live_cm) = get("ConfigMap", &cm.name)
            {
                for (file_key, mount_path) in &mounts {
                    let want = cm.object.pointer(&format!("/data/{}", escape(file_key)));
                    let have = live_cm.pointer(&format!("/data/{}", escape(file_key)));
                    if let (Some(Value::String(want)), Some(Value::String(have))) = (want, have)
                        && want != have
                        && next.set_config_file(key, mount_path, have).is_ok()
                    {
                        changes.push(DetectedChange {
                            component: key.clone(),
                            path: format!("components[{key}].config_files[{mount_path}]"),
                            kind: DriftKind::ConfigFile,
                            object: format!("ConfigMap/{}", cm.name),
                            recorded: want.clone(),
                            live: have.clone(),
                            not_kept: None,
                        });
                    }
                }
            }
        }

        // An autoscaled component: the autoscaler owns the replicas, but a
        // user may have raised or lowered its minimum.
        if let Some(hpa) = rendered
            .iter()
            .find(|o| o.kind == "HorizontalPodAutoscaler")
            && let Some(live_hpa) = get(&hpa.kind, &hpa.name)
        {
            let want = hpa
                .object
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64);
            let have = live_hpa
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64);
            if let (Some(w), Some(h)) = (want, have)
                && w != h
                && let Ok(h) = u32::try_from(h)
            {
                let not_kept = refused(next.set_replicas(key, h))?;
                changes.push(DetectedChange {
                    component: key.clone(),
                    path: format!("components[{key}].replicas"),
                    kind: DriftKind::Replicas,
                    object: format!("HorizontalPodAutoscaler/{}", hpa.name),
                    recorded: w.to_string(),
                    live: h.to_string(),
                    not_kept,
                });
            }
        }

        for volume in component.owned_volumes() {
            let claim = format!("{name}-{}", volume.name);
            let Some(live_claim) = get("PersistentVolumeClaim", &claim) else {
                continue;
            };
            let (Some(recorded), Some(have)) =
                (volume.capacity.clone(), storage_request(live_claim))
            else {
                continue;
            };
            let bigger = match (parse_quantity(&have), parse_quantity(&recorded)) {
                (Some(h), Some(r)) => h > r,
                _ => false,
            };
            if bigger {
                next.set_volume_capacity(key, &volume.name, &have)?;
                changes.push(DetectedChange {
                    component: key.clone(),
                    path: format!("components[{key}].volumes[{}].capacity", volume.name),
                    kind: DriftKind::VolumeSize,
                    object: format!("PersistentVolumeClaim/{claim}"),
                    recorded,
                    live: have,
                    not_kept: None,
                });
            }
        }
    }
    Ok((next, changes))
}

/// Env values of container `container` of a live workload; values taken
/// from the component's own `-env` Secret are resolved through it.
fn live_env(
    workload: &Value,
    container: &str,
    env_secret: Option<&Secret>,
) -> Vec<(String, String)> {
    let containers = workload
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array);
    let Some(main) = containers.and_then(|cs| cs.iter().find(|c| c["name"] == container)) else {
        return Vec::new();
    };
    let secret_name = env_secret.and_then(|s| s.metadata.name.as_deref());
    let mut out = Vec::new();
    for entry in main["env"].as_array().into_iter().flatten() {
        let Some(name) = entry["name"].as_str() else {
            continue;
        };
        if let Some(value) = entry["value"].as_str() {
            out.push((name.to_owned(), value.to_owned()));
        } else if let Some(reference) = entry.pointer("/valueFrom/secretKeyRef")
            && reference["name"].as_str().is_some()
            && reference["name"].as_str() == secret_name
            && let Some(key) = reference["key"].as_str()
            && let Some(bytes) = env_secret
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.get(key))
        {
            out.push((
                name.to_owned(),
                String::from_utf8_lossy(&bytes.0).into_owned(),
            ));
        } else if entry.get("value").is_some_and(Value::is_null) || entry.get("valueFrom").is_none()
        {
            // `value: ""` is dropped by the API server.
            out.push((name.to_owned(), String::new()));
        }
    }
    out
}

/// A value the template does not allow is reported, not recorded: the
/// reason, or none when it was recorded.
fn refused(result: template_core::Result<()>) -> Result<Option<String>> {
    match result {
        Ok(()) => Ok(None),
        Err(template_core::Error::InvalidOption { message, .. }) => {
            Ok(Some(format!("{message}; the template's value is put back")))
        }
        Err(e) => Err(e.into()),
    }
}

/// ConfigMap key → mount path, for the `config` mounts of the main container.
fn config_mounts(workload: &Value, container: &str) -> Vec<(String, String)> {
    let containers = workload
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array);
    let Some(main) = containers.and_then(|cs| cs.iter().find(|c| c["name"] == container)) else {
        return Vec::new();
    };
    main["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["name"] == "config")
        .filter_map(|m| {
            Some((
                m["subPath"].as_str()?.to_owned(),
                m["mountPath"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// JSON pointer escaping of one path segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn shown(value: &str, secret: bool) -> String {
    if secret {
        template_core::diff::MASK.to_owned()
    } else {
        value.to_owned()
    }
}
