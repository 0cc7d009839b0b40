//! A delivery's options as plain data (bindings, configuration files):
//! unknown fields refused, every field defaulted, durations in seconds.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use template_core::option_fields::at_least_one;
use template_k8s::ExecutorOptions;
use template_market::{Market, RegistryAccess, RelocateOptions};

use crate::delivery::{DEFAULT_ENVIRONMENTS_AT_ONCE, Delivery};

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
            environments_at_once: DEFAULT_ENVIRONMENTS_AT_ONCE,
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
        assert_eq!(options.environments_at_once, DEFAULT_ENVIRONMENTS_AT_ONCE);
        assert!(
            serde_json::from_value::<DeliveryOptions>(json!({"environments_at_once": 0})).is_err(),
            "at least one environment at a time"
        );
        assert!(serde_json::from_value::<DeliveryOptions>(json!({"identity": "x"})).is_err());
    }
}
