//! Environment profiles: where one delivery target lives and what it
//! accepts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use template_core::{ReleaseState, TemplateVersion};

use crate::error::{Error, Result};

/// One delivery target: a cluster context, a namespace, the registry its
/// nodes pull from, and its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentProfile {
    /// Name people use for it, e.g. `prod-qingdao`.
    pub name: String,
    /// kubeconfig context; none means the current context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Namespace the application is installed into.
    pub namespace: String,
    /// Registry the cluster pulls from (`host[:port][/prefix]`); images are
    /// relocated there and referenced by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Only released versions may be installed (production).
    #[serde(default)]
    pub released_only: bool,
    /// Per-environment overrides of env values, by component key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// Storage class used instead of the template's hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// A client for the profile's cluster: its context of the kubeconfig at
/// `kubeconfig`, or of the default kubeconfig (`$KUBECONFIG`,
/// `~/.kube/config`) when none is given.
pub async fn connect(
    profile: &EnvironmentProfile,
    kubeconfig: Option<&std::path::Path>,
) -> Result<kube::Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let failed = |message: String| Error::Connect {
        environment: profile.name.clone(),
        message,
    };
    let options = KubeConfigOptions {
        context: profile.context.clone(),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| failed(format!("reading {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| failed(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| failed(e.to_string()))
}

/// Refuses versions a production environment must not run.
pub fn check_release_gate(profile: &EnvironmentProfile, version: &TemplateVersion) -> Result<()> {
    if profile.released_only && version.release_state != ReleaseState::Released {
        return Err(Error::ReleaseGate {
            environment: profile.name.clone(),
            template: version.template.id.clone(),
            version: version.version.clone(),
            state: version.release_state,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use template_core::testing::minimal_version;

    fn profile(released_only: bool) -> EnvironmentProfile {
        EnvironmentProfile {
            name: "prod-a".into(),
            context: None,
            namespace: "pig".into(),
            registry: None,
            released_only,
            env_overrides: BTreeMap::new(),
            storage_class: None,
        }
    }

    #[test]
    fn production_refuses_unreleased_versions() {
        let mut v = minimal_version("pig", "1.0.0");
        let err = check_release_gate(&profile(true), &v).unwrap_err();
        assert!(err.to_string().contains("prod-a"), "{err}");
        assert!(check_release_gate(&profile(false), &v).is_ok());
        v.release_state = ReleaseState::Released;
        assert!(check_release_gate(&profile(true), &v).is_ok());
    }
}
