//! The executor's options, and their plain-data form (bindings,
//! configuration files): unknown fields refused, every field defaulted,
//! durations in seconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use template_core::option_fields::{at_least_one, seconds};

use crate::lock::LockOptions;
use crate::render::Exposure;
use crate::wait::WaitOptions;

/// How the executor works. Serializes flat as `{identity,
/// wait_timeout_seconds, poll_interval_seconds, concurrency,
/// lease_duration_seconds, exposure}`; absent fields keep the defaults of
/// [`ExecutorOptions::new`] (holder `apptemplate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(from = "ExecutorFields", into = "ExecutorFields")]
pub struct ExecutorOptions {
    /// Readiness waits.
    pub wait: WaitOptions,
    /// Steps of one wave applied at the same time, at most.
    pub concurrency: usize,
    /// Lock holder identity and lease duration.
    pub lock: LockOptions,
    /// How outer ports are exposed.
    pub exposure: Exposure,
}

impl ExecutorOptions {
    /// Defaults for holder `identity`: 5-minute readiness timeout, four
    /// steps at a time, a 30-second lease, outer ports as NodePorts.
    pub fn new(identity: &str) -> ExecutorOptions {
        ExecutorOptions {
            wait: WaitOptions::default(),
            concurrency: 4,
            lock: LockOptions {
                identity: identity.to_owned(),
                lease_duration: std::time::Duration::from_secs(30),
            },
            exposure: Exposure::NodePort,
        }
    }
}

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
}
