//! The executor's and the delivery's options as plain data (bindings,
//! configuration files): unknown fields refused, every field defaulted,
//! durations in seconds.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use template_market::{Market, RegistryAccess, RelocateOptions, at_least_one, seconds};

use crate::delivery::Delivery;
use crate::executor::ExecutorOptions;
use crate::lock::LockOptions;
use crate::render::Exposure;
use crate::wait::WaitOptions;

/// The plain-data form of [`ExecutorOptions`]: `{identity,
/// wait_timeout_seconds, poll_interval_seconds, concurrency,
/// lease_duration_seconds, exposure}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ExecutorFields {
    /// Who holds the installation's lock while an operation runs (default
    /// `apptemplate`).
    identity: String,
    /// Give up on a workload not ready after this many seconds (default 300).
    #[serde(with = "seconds")]
    #[schemars(with = "f64")]
    wait_timeout_seconds: Duration,
    /// Seconds to wait before watching a workload again when the API server
    /// ended a watch early; readiness is watched, not polled (default 0.1).
    #[serde(with = "seconds")]
    #[schemars(with = "f64")]
    poll_interval_seconds: Duration,
    /// Steps of one dependency wave applied at the same time (default 4, at
    /// least 1).
    #[serde(with = "at_least_one")]
    #[schemars(with = "u64")]
    concurrency: usize,
    /// The lock's lease expires this many seconds after its last renewal
    /// (default 30).
    #[serde(with = "seconds")]
    #[schemars(with = "f64")]
    lease_duration_seconds: Duration,
    /// How outer ports are exposed (default `node_port`).
    exposure: Exposure,
}

impl Default for ExecutorFields {
    fn default() -> Self {
        ExecutorOptions::default().into()
    }
}

impl From<ExecutorFields> for ExecutorOptions {
    fn from(f: ExecutorFields) -> Self {
        ExecutorOptions {
            wait: WaitOptions {
                timeout: f.wait_timeout_seconds,
                poll_interval: f.poll_interval_seconds,
            },
            concurrency: f.concurrency,
            lock: LockOptions {
                identity: f.identity,
                lease_duration: f.lease_duration_seconds,
            },
            exposure: f.exposure,
        }
    }
}

impl From<ExecutorOptions> for ExecutorFields {
    fn from(o: ExecutorOptions) -> Self {
        ExecutorFields {
            identity: o.lock.identity,
            wait_timeout_seconds: o.wait.timeout,
            poll_interval_seconds: o.wait.poll_interval,
            concurrency: o.concurrency,
            lease_duration_seconds: o.lock.lease_duration,
            exposure: o.exposure,
        }
    }
}

impl Default for ExecutorOptions {
    /// [`ExecutorOptions::new`] for holder `apptemplate`.
    fn default() -> Self {
        ExecutorOptions::new("apptemplate")
    }
}

/// How a [`Delivery`] reaches clusters and registries and how it works:
/// `{kubeconfig, registries, executor, relocate, environments_at_once}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryOptions {
    /// kubeconfig file; the default one (`$KUBECONFIG`, `~/.kube/config`)
    /// when absent. Each profile's `context` selects the cluster in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// Access to the registries profiles name; others are reached
    /// anonymously over HTTPS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<RegistryAccess>,
    /// Readiness waits, concurrency, lock and exposure.
    pub executor: ExecutorOptions,
    /// How images are relocated to the registries.
    pub relocate: RelocateOptions,
    /// Environments a `deliver` works on at once (default 4, at least 1;
    /// 1 delivers one after another).
    #[serde(with = "at_least_one")]
    #[schemars(with = "u64")]
    pub environments_at_once: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            kubeconfig: None,
            registries: Vec::new(),
            executor: ExecutorOptions::default(),
            relocate: RelocateOptions::default(),
            environments_at_once: crate::delivery::DEFAULT_ENVIRONMENTS_AT_ONCE,
        }
    }
}

impl Delivery {
    /// A delivery from `market` with `options`; fails as
    /// [`RegistryAccess::target`] does for a registry's access.
    pub fn from_options(
        market: Market,
        options: &DeliveryOptions,
    ) -> template_market::Result<Delivery> {
        let mut delivery = Delivery::new(market, options.executor.clone())
            .with_relocate_options(options.relocate.clone())
            .with_environments_at_once(options.environments_at_once);
        if let Some(path) = &options.kubeconfig {
            delivery = delivery.with_kubeconfig(path);
        }
        for access in &options.registries {
            delivery = delivery.with_registry(access.target()?);
        }
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn executor_options_are_flat_with_seconds() {
        let options: ExecutorOptions = serde_json::from_value(json!({
            "identity": "alice",
            "wait_timeout_seconds": 90,
            "poll_interval_seconds": 0.25,
            "exposure": "load_balancer"
        }))
        .unwrap();
        assert_eq!(options.lock.identity, "alice");
        assert_eq!(options.wait.timeout, Duration::from_secs(90));
        assert_eq!(options.wait.poll_interval, Duration::from_millis(250));
        assert_eq!(options.exposure, Exposure::LoadBalancer);
        assert_eq!(options.concurrency, 4);
        let zero = serde_json::from_value::<ExecutorOptions>(json!({"concurrency": 0}));
        assert!(zero.unwrap_err().to_string().contains("at least 1"));
        let wrong = serde_json::from_value::<ExecutorOptions>(json!({"exposure": "ingress"}));
        assert!(wrong.is_err());
        let back = serde_json::to_value(ExecutorOptions::default()).unwrap();
        assert_eq!(back["lease_duration_seconds"], json!(30.0));
    }

    #[test]
    fn delivery_options_nest_the_executor_and_relocation() {
        let options: DeliveryOptions = serde_json::from_value(json!({
            "registries": [{"registry": "127.0.0.1:5000", "insecure": true}],
            "executor": {"concurrency": 2},
            "relocate": {"parallelism": 8}
        }))
        .unwrap();
        assert_eq!(options.executor.concurrency, 2);
        assert_eq!(options.relocate.parallelism, 8);
        assert!(options.registries[0].insecure);
        assert!(serde_json::from_value::<DeliveryOptions>(json!({"identity": "x"})).is_err());
    }
}
