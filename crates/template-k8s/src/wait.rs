//! Generation-aware readiness waits.
//!
//! A workload counts as ready only when its controller has seen the
//! latest spec (`status.observedGeneration == metadata.generation`) and
//! every replica runs that spec and is ready (and, for Deployments,
//! available; for StatefulSets, the current revision is the update
//! revision). Checking the generation first avoids reporting the previous
//! rollout as finished right after a patch.
//!
//! Waiting costs one watch request per workload (not one read per poll
//! interval): the API server first sends the workload's current state,
//! then every change, so a rollout is seen finished the moment its
//! controller reports it.

use std::pin::pin;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kube::api::{DynamicObject, WatchEvent, WatchParams};

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::Client;
use serde_json::Value;

use crate::apply::dynamic_api;
use crate::error::{Error, Result};
use crate::render::RenderedObject;

/// How long and how often to wait for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up on a workload after this long.
    pub timeout: Duration,
    /// Pause before watching a workload again when the API server ended a
    /// watch early (readiness is otherwise seen as it changes, not polled).
    pub poll_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// Longest single watch request; the API server may end one earlier.
const MAX_WATCH_SECONDS: u64 = 290;

/// Whether a live object is ready; `Err` carries the condition that does
/// not hold yet, with the observed values, for the timeout message.
pub fn readiness(kind: &str, live: &Value) -> std::result::Result<(), String> {
    let int = |path: &str| live.pointer(path).and_then(Value::as_i64);
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = int("/status/observedGeneration").unwrap_or(0);
    match kind {
        Deployment::KIND | StatefulSet::KIND => {
            if observed < generation {
                return Err(format!(
                    "observedGeneration {observed} < generation {generation} (controller has not seen the latest spec)"
                ));
            }
            let wanted = int("/spec/replicas").unwrap_or(1);
            let total = int("/status/replicas").unwrap_or(0);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let ready = int("/status/readyReplicas").unwrap_or(0);
            let available = int("/status/availableReplicas").unwrap_or(0);
            let summary = format!(
                "{updated} of {wanted} replicas updated, {ready} ready, {available} available, {total} in total"
            );
            if updated >= wanted && total > wanted {
                // Old pods stay because the new ones never became ready
                // (readiness counts old and new pods alike).
                return Err(format!(
                    "{summary}: {} old replica(s) still running because the updated pods are not ready",
                    total - wanted
                ));
            }
            if updated < wanted || ready < wanted || available < wanted || total > wanted {
                return Err(summary);
            }
            if kind == StatefulSet::KIND {
                let current = live.pointer("/status/currentRevision");
                let update = live.pointer("/status/updateRevision");
                if wanted > 0 && current != update {
                    return Err(format!(
                        "{summary}; current revision is not the update revision"
                    ));
                }
            }
            Ok(())
        }
        Job::KIND => {
            let conditions = live
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let holds = |t: &str| {
                conditions
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            if holds("Failed") {
                // Terminal: report at once through the same path.
                return Err("job failed".to_owned());
            }
            if holds("Complete") {
                Ok(())
            } else {
                Err("job has not completed".to_owned())
            }
        }
        _ => Ok(()),
    }
}

/// Whether objects of this kind are waited for.
pub fn is_waited_for(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "Job")
}

/// Waits until the workloads among `objects` of `component` are ready.
pub async fn wait_ready(
    client: &Client,
    namespace: &str,
    component: &str,
    objects: &[RenderedObject],
    options: WaitOptions,
) -> Result<()> {
    let start = Instant::now();
    for object in objects.iter().filter(|o| is_waited_for(&o.kind)) {
        let api = dynamic_api(client, namespace, &object.kind)?;
        let label = format!("{}/{}", object.kind, object.name);
        let not_ready = |condition: String| Error::NotReady {
            namespace: namespace.to_owned(),
            component: component.to_owned(),
            object: label.clone(),
            condition,
            waited_seconds: start.elapsed().as_secs(),
        };
        let mut condition = "object does not exist".to_owned();
        'watching: loop {
            let remaining = options.timeout.saturating_sub(start.elapsed());
            if remaining.is_zero() {
                return Err(not_ready(condition));
            }
            // No resource version: the server starts with the current
            // state (a synthetic ADDED event) read from etcd, then changes.
            let params = WatchParams::default()
                .fields(&format!("metadata.name={}", object.name))
                .timeout(remaining.as_secs().clamp(1, MAX_WATCH_SECONDS) as u32)
                .disable_bookmarks();
            let events = api.watch(&params, "").await.map_err(|e| {
                Error::kube(format!("watching {label} of component `{component}`"), e)
            })?;
            let mut events = pin!(events);
            loop {
                let remaining = options.timeout.saturating_sub(start.elapsed());
                let event = match tokio::time::timeout(remaining, events.next()).await {
                    Err(_) => return Err(not_ready(condition)),
                    Ok(None) => {
                        // The server ended the watch: watch again.
                        tokio::time::sleep(options.poll_interval.min(remaining)).await;
                        continue 'watching;
                    }
                    Ok(Some(event)) => event.map_err(|e| {
                        Error::kube(format!("watching {label} of component `{component}`"), e)
                    })?,
                };
                let live: DynamicObject = match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => o,
                    WatchEvent::Deleted(_) => {
                        condition = "object does not exist".to_owned();
                        continue;
                    }
                    WatchEvent::Bookmark(_) => continue,
                    // E.g. 410 Gone: the history is compacted; start over.
                    WatchEvent::Error(_) => {
                        tokio::time::sleep(options.poll_interval.min(remaining)).await;
                        continue 'watching;
                    }
                };
                let value = serde_json::to_value(&live).unwrap_or(Value::Null);
                match readiness(&object.kind, &value) {
                    Ok(()) => break 'watching,
                    Err(c) => condition = c,
                }
                if object.kind == Job::KIND && condition == "job failed" {
                    return Err(not_ready(condition));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_is_not_ready_before_its_controller_saw_the_new_spec() {
        let live = json!({
            "metadata": {"generation": 3},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
        });
        let err = readiness("Deployment", &live).unwrap_err();
        assert!(err.contains("observedGeneration 2 < generation 3"), "{err}");
    }

    #[test]
    fn a_rollout_with_old_pods_left_is_not_ready() {
        let live = json!({
            "metadata": {"generation": 3},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}
        });
        let err = readiness("Deployment", &live).unwrap_err();
        assert!(err.contains("1 of 2 replicas updated"), "{err}");
        let stuck = json!({
            "metadata": {"generation": 3},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
        });
        let err = readiness("Deployment", &stuck).unwrap_err();
        assert!(err.contains("1 old replica(s) still running"), "{err}");
    }

    #[test]
    fn a_finished_rollout_is_ready() {
        let live = json!({
            "metadata": {"generation": 3},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
        });
        assert_eq!(readiness("Deployment", &live), Ok(()));
        let sts = json!({
            "metadata": {"generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "currentRevision": "a", "updateRevision": "b"}
        });
        assert!(readiness("StatefulSet", &sts).is_err());
    }

    #[test]
    fn jobs_complete_or_fail() {
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(readiness("Job", &done), Ok(()));
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(readiness("Job", &failed), Err("job failed".to_owned()));
    }
}
