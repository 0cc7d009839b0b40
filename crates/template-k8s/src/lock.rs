//! One lock per installation: a `coordination.k8s.io` Lease named
//! `<template>-lock` in the application's namespace.
//!
//! The lease has a holder, an acquire time, a renew time and a duration.
//! The holder renews it while its operation runs; a lease not renewed
//! within its duration belongs to a dead client and is taken over by the
//! next operation, so an installation cannot stay stuck the way Helm's
//! "another operation is in progress" does. Every write carries the
//! resource version it read, so two clients racing for an expired lease
//! cannot both win.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::task::JoinHandle;

use crate::error::{Error, LockHeld, Result};

/// Name of the lease guarding installation `template`.
pub fn lease_name(template: &str) -> String {
    format!("{template}-lock")
}

/// Who takes the lock and for how long without renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// Holder identity shown to others, e.g. `alice@laptop pid 4242`.
    pub identity: String,
    /// The lease expires this long after its last renewal.
    pub lease_duration: Duration,
}

/// A held lock; renewed in the background until [`OperationLock::release`]
/// (or drop, which stops renewing and lets the lease expire).
#[derive(Debug)]
pub struct OperationLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    namespace: String,
    template: String,
    lost: Arc<AtomicBool>,
    renewer: Option<JoinHandle<()>>,
}

impl OperationLock {
    /// Takes the lock of installation `template` in `namespace`, taking
    /// over a lease whose holder stopped renewing it. Refuses with
    /// [`Error::Locked`] while another holder's lease is live.
    pub async fn acquire(
        client: &Client,
        namespace: &str,
        template: &str,
        options: &LockOptions,
    ) -> Result<OperationLock> {
        let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
        let name = lease_name(template);
        let duration = i32::try_from(options.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let action = || format!("taking lease {namespace}/{name}");
        let mut last_conflict = None;
        for _ in 0..3 {
            let now = Timestamp::now();
            let live = api
                .get_opt(&name)
                .await
                .map_err(|e| Error::kube(action(), e))?;
            let mut lease = match live {
                None => Lease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.to_owned()),
                        labels: Some(
                            [(
                                "app.kubernetes.io/managed-by".to_owned(),
                                crate::render::FIELD_MANAGER.to_owned(),
                            )]
                            .into(),
                        ),
                        ..Default::default()
                    },
                    spec: None,
                },
                Some(lease) => lease,
            };
            let spec = lease.spec.clone().unwrap_or_default();
            let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
            // A live lease refuses everyone, its own identity included: two
            // runs under one identity must not both proceed.
            if let Some(holder) = &holder
                && let Some(expires) = expiry(&spec)
                && expires > now
            {
                return Err(locked(namespace, template, &name, holder, &spec, expires));
            }
            let transitions = spec.lease_transitions.unwrap_or(0)
                + i32::from(holder.as_ref().is_some_and(|h| *h != options.identity));
            lease.spec = Some(LeaseSpec {
                holder_identity: Some(options.identity.clone()),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_duration_seconds: Some(duration),
                lease_transitions: Some(transitions),
                ..Default::default()
            });
            let written = if lease.metadata.resource_version.is_some() {
                api.replace(&name, &PostParams::default(), &lease).await
            } else {
                api.create(&PostParams::default(), &lease).await
            };
            match written {
                Ok(_) => {
                    let lost = Arc::new(AtomicBool::new(false));
                    let renewer = tokio::spawn(renew_loop(
                        api.clone(),
                        name.clone(),
                        options.identity.clone(),
                        options.lease_duration,
                        lost.clone(),
                    ));
                    return Ok(OperationLock {
                        api,
                        name,
                        identity: options.identity.clone(),
                        namespace: namespace.to_owned(),
                        template: template.to_owned(),
                        lost,
                        renewer: Some(renewer),
                    });
                }
                // Someone else wrote the lease between our read and write:
                // read again and decide with what they wrote.
                Err(kube::Error::Api(status))
                    if status.is_conflict() || status.is_already_exists() =>
                {
                    last_conflict = Some(status);
                }
                Err(e) => return Err(Error::kube(action(), e)),
            }
        }
        let status = last_conflict.map(|s| s.message).unwrap_or_default();
        Err(Error::Precondition {
            message: format!(
                "could not take lease {namespace}/{name}: other clients kept changing it ({status}); retry"
            ),
        })
    }

    /// Fails if the lease was lost (taken over after this client stopped
    /// renewing in time); the operation must stop writing.
    pub fn ensure_held(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::Precondition {
                message: format!(
                    "lost lease {}/{} of installation `{}` while working (it was not renewed in time and another client took it); stop and check the installation's history",
                    self.namespace, self.name, self.template
                ),
            });
        }
        Ok(())
    }

    /// Releases the lock: deletes the lease if this client still holds it.
    pub async fn release(mut self) -> Result<()> {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        let action = format!("releasing lease {}/{}", self.namespace, self.name);
        let Some(live) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| Error::kube(&action, e))?
        else {
            return Ok(());
        };
        let holder = live
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref());
        if holder != Some(self.identity.as_str()) {
            return Ok(());
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: live.metadata.resource_version.clone(),
                uid: live.metadata.uid.clone(),
            }),
            ..Default::default()
        };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(()),
            Err(e) => Err(Error::kube(action, e)),
        }
    }
}

impl Drop for OperationLock {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
    }
}

/// When the lease expires unless renewed.
fn expiry(spec: &LeaseSpec) -> Option<Timestamp> {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    renewed.checked_add(SignedDuration::from_secs(seconds)).ok()
}

fn locked(
    namespace: &str,
    template: &str,
    lease: &str,
    holder: &str,
    spec: &LeaseSpec,
    expires: Timestamp,
) -> Error {
    Error::Locked(Box::new(LockHeld {
        namespace: namespace.to_owned(),
        template: template.to_owned(),
        lease: lease.to_owned(),
        holder: holder.to_owned(),
        since: spec
            .acquire_time
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_else(|| "an unknown time".to_owned()),
        expires: expires.to_string(),
    }))
}

/// Renews the lease every third of its duration while we hold it.
async fn renew_loop(
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    lost: Arc<AtomicBool>,
) {
    let period = (duration / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(period).await;
        let mut lease = match api.get_opt(&name).await {
            Ok(Some(lease)) => lease,
            // Deleted under us: someone broke the lock.
            Ok(None) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // Unreachable API server: retry; the lease stays ours until it
            // expires.
            Err(_) => continue,
        };
        let Some(spec) = lease.spec.as_mut() else {
            lost.store(true, Ordering::SeqCst);
            return;
        };
        if spec.holder_identity.as_deref() != Some(identity.as_str()) {
            lost.store(true, Ordering::SeqCst);
            return;
        }
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        // A failed renewal is retried next period; the lease stays ours
        // until it expires.
        let _ = api.replace(&name, &PostParams::default(), &lease).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_renew_time_plus_duration() {
        let t: Timestamp = "2026-11-22T10:00:00Z".parse().expect("timestamp");
        let spec = LeaseSpec {
            renew_time: Some(MicroTime(t)),
            lease_duration_seconds: Some(30),
            ..Default::default()
        };
        assert_eq!(
            expiry(&spec).map(|e| e.to_string()).as_deref(),
            Some("2026-11-22T10:00:30Z")
        );
        assert_eq!(expiry(&LeaseSpec::default()), None);
    }

    #[test]
    fn locked_error_names_holder_and_time() {
        let t: Timestamp = "2026-11-22T10:00:00Z".parse().expect("timestamp");
        let spec = LeaseSpec {
            acquire_time: Some(MicroTime(t)),
            ..Default::default()
        };
        let err = locked("shop", "shop", "shop-lock", "ci-runner-7", &spec, t).to_string();
        assert!(
            err.contains("locked by ci-runner-7 since 2026-11-22T10:00:00Z"),
            "{err}"
        );
    }
}
