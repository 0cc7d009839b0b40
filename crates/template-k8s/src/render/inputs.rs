//! What a component's containers read: config files keyed for its
//! ConfigMap, and the environment with the Secrets behind it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use template_core::EnvValue;
use template_core::installed::{InstalledComponent, InstalledState};

use super::{generated_secret_key, generated_secret_name, object_name};

/// A config file of the component or one of its plugins, with its key in
/// the ConfigMap.
pub(super) struct FileKey {
    pub(super) key: String,
    pub(super) mount_path: String,
    pub(super) content: String,
    pub(super) mode: i32,
    /// Plugin that mounts it; none for the component itself.
    pub(super) owner: Option<String>,
}

pub(super) fn config_file_keys(
    spec: &template_core::Component,
    installed: &InstalledComponent,
) -> Vec<FileKey> {
    let own = spec.config_files.iter().map(|f| (None, f));
    let plugin = installed
        .plugin_definitions
        .iter()
        .flat_map(|p| p.config_files.iter().map(move |f| (Some(p.key.clone()), f)));
    own.chain(plugin)
        .enumerate()
        .map(|(i, (owner, f))| {
            let base: String = f
                .mount_path
                .rsplit('/')
                .next()
                .unwrap_or("file")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            FileKey {
                key: format!("{i}-{base}"),
                mount_path: f.mount_path.clone(),
                content: f.content.clone(),
                mode: i32::from_str_radix(&f.mode, 8).unwrap_or(0o644),
                owner,
            }
        })
        .collect()
}

/// The container environment and the confidential values behind it.
pub(super) struct ContainerEnv {
    pub(super) vars: Vec<EnvVar>,
    /// Secret key → value for the component's `-env` Secret.
    pub(super) secret_values: BTreeMap<String, String>,
    /// The confidential fixed values the container reads from Secrets, as
    /// (variable, component, key, value): when one changes, the pods must
    /// be replaced, since a container reads its env only when it starts.
    pub(super) referenced_secrets: Vec<(String, String, String, String)>,
}

/// `sha256:<hex>` over the config files and referenced confidential
/// values (names included, values length-prefixed so no two inputs
/// collide), or none when the component has neither.
pub(super) fn inputs_checksum(
    files: &[FileKey],
    secrets: &[(String, String, String, String)],
) -> Option<String> {
    use sha2::{Digest, Sha256};
    if files.is_empty() && secrets.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    let mut field = |text: &str| {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    };
    for f in files {
        field("file");
        field(&f.key);
        field(&f.content);
    }
    for (var, component, key, value) in secrets {
        field("secret");
        field(var);
        field(component);
        field(key);
        field(value);
    }
    Some(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// Builds the container environment from the core's definition of what a
/// component receives ([`InstalledState::container_env_of`]): plain values
/// are written in, confidential ones referenced from the Secret that holds
/// them, addresses resolved to Service names.
pub(super) fn container_env(
    state: &InstalledState,
    installed: &InstalledComponent,
    spec: &template_core::Component,
) -> ContainerEnv {
    let app = state.template.as_str();
    let mut secret_values = BTreeMap::new();
    for var in spec.env.iter().filter(|v| v.secret) {
        secret_values
            .entry(var.name.clone())
            .or_insert_with(|| var.value.clone());
    }
    let mut referenced_secrets = Vec::new();
    let vars = state
        .container_env_of(installed)
        .into_iter()
        .inspect(|var| {
            if let EnvValue::ComponentSecret {
                component,
                key,
                value,
            } = &var.value
            {
                referenced_secrets.push((
                    var.name.clone(),
                    component.clone(),
                    key.clone(),
                    value.clone(),
                ));
            }
        })
        .map(|var| match var.value {
            EnvValue::Plain { value } => plain_env(&var.name, &value),
            EnvValue::Address { component } => plain_env(&var.name, &object_name(app, &component)),
            EnvValue::Generated { reference } => secret_env(
                &var.name,
                &generated_secret_name(app),
                &generated_secret_key(&reference),
            ),
            EnvValue::ComponentSecret { component, key, .. } => secret_env(
                &var.name,
                &format!("{}-env", object_name(app, &component)),
                &key,
            ),
        })
        .collect();
    // Confidential fixed connection values of this component live in its
    // Secret, where dependants reference them, even if shadowed here.
    for var in installed
        .spec
        .connection_info
        .iter()
        .filter(|v| v.secret && v.generate.is_none())
    {
        secret_values
            .entry(var.name.clone())
            .or_insert_with(|| var.value.clone().unwrap_or_default());
    }
    ContainerEnv {
        vars,
        secret_values,
        referenced_secrets,
    }
}

pub(super) fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}

pub(super) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
