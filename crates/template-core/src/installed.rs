//! What is installed in one environment: a value the Kubernetes adapter
//! stores and every plan starts from.
//!
//! The state is self-contained: each component keeps the template
//! definition it runs (from whichever version it was last installed,
//! upgraded or rolled back to), because after a partial upgrade components
//! run different versions, and after a version drops a component the
//! orphan has no version document left. Rollback therefore needs no market
//! access, which matters for offline delivery.
//!
//! On top of the definition, each component records only what the user (or
//! the install options) changed: env values, config file contents,
//! replicas, volume sizes and storage classes. Generated secrets appear by
//! reference, never by value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Component, ConnectionVar, EnvVar, Plugin, SecretRule, TemplateVersion, Volume};
use crate::quantity::parse_quantity;

/// The installed state of one template in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstalledState {
    /// Template id.
    pub template: String,
    /// Version the installation as a whole is at; after a partial upgrade
    /// some components may already run a newer one (see
    /// [`InstalledComponent::version`]). Empty before the first install.
    pub version: String,
    /// Selected module groups (required ones included).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub modules: BTreeSet<String>,
    /// Installed components by key.
    #[serde(default)]
    pub components: BTreeMap<String, InstalledComponent>,
    /// Generated secrets by reference (see [`secret_reference`]), with the
    /// rule they were generated with. Values live only in the environment.
    /// References are never dropped by a plan: data may already be
    /// protected by the value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRule>,
    /// Volumes no longer mounted (their component was pruned, or a version
    /// dropped them) whose data is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained_volumes: Vec<RetainedVolume>,
}

/// One installed component. `Debug` masks the values of secret variables
/// (defaults and customized values alike).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstalledComponent {
    /// Template version the definition comes from.
    pub version: String,
    /// The template definition the component runs.
    // Shared with a validated version it came from: cloning a component
    // of a plan or a state does not copy its definition.
    pub spec: Arc<Component>,
    /// Variables injected by the version's config groups, in group order,
    /// leaving out names the component defines itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_env: Vec<EnvVar>,
    /// Definitions of the plugins the component attaches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_definitions: Vec<Plugin>,
    /// Values that differ from the definition because someone chose them.
    #[serde(default, skip_serializing_if = "Customizations::is_empty")]
    pub customizations: Customizations,
    /// The template dropped the component in a later version; it keeps
    /// running with its data until pruned.
    #[serde(default, skip_serializing_if = "is_false")]
    pub orphaned: bool,
}

impl std::fmt::Debug for InstalledComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Customized values do not say whether they are secret; the
        // component's definition does.
        let env: BTreeMap<&str, &str> = self
            .customizations
            .env
            .iter()
            .map(|(name, value)| {
                let shown = if self.env_is_secret(name) {
                    crate::model::MASK
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        let customizations = DebugCustomizations {
            env,
            inner: &self.customizations,
        };
        f.debug_struct("InstalledComponent")
            .field("version", &self.version)
            .field("spec", &self.spec)
            .field("shared_env", &self.shared_env)
            .field("plugin_definitions", &self.plugin_definitions)
            .field("customizations", &customizations)
            .field("orphaned", &self.orphaned)
            .finish()
    }
}

/// [`Customizations`] for `Debug`, with secret env values masked.
struct DebugCustomizations<'a> {
    env: BTreeMap<&'a str, &'a str>,
    inner: &'a Customizations,
}

impl std::fmt::Debug for DebugCustomizations<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customizations")
            .field("env", &self.env)
            .field("config_files", &self.inner.config_files)
            .field("replicas", &self.inner.replicas)
            .field("volumes", &self.inner.volumes)
            .finish()
    }
}

/// Values of one component that differ from its template definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Customizations {
    /// Env values by variable name (component or shared variables).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Config file contents by mount path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_files: BTreeMap<String, String>,
    /// Replica count, when not the template's `min_replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Volume settings by volume name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeCustomization>,
}

impl Customizations {
    /// Whether nothing is customized.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.config_files.is_empty()
            && self.replicas.is_none()
            && self.volumes.is_empty()
    }
}

/// Volume settings that differ from the template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VolumeCustomization {
    /// Size the volume was expanded to (or kept at), as a quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// Storage class chosen for this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

impl VolumeCustomization {
    fn is_empty(&self) -> bool {
        self.capacity.is_none() && self.storage_class.is_none()
    }
}

/// User edits to a whole installed state, by component key: the plain-data
/// input of [`InstalledState::customized`], read alike by every face
/// (Python's `customize` keywords, Node's `customize` object). A misspelt
/// field is refused by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateCustomizations {
    /// Env values: component key → variable name → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, BTreeMap<String, String>>,
    /// Config file contents: component key → mount path → content.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_files: BTreeMap<String, BTreeMap<String, String>>,
    /// Replica counts by component key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replicas: BTreeMap<String, u32>,
    /// Volume sizes (quantities, only growing): component key → volume
    /// name → capacity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_capacities: BTreeMap<String, BTreeMap<String, String>>,
}

/// A volume whose data is kept though nothing mounts it any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetainedVolume {
    /// Component that owned it.
    pub component: String,
    /// The volume as it was last mounted (capacity and class effective).
    pub volume: Volume,
}

impl InstalledState {
    /// Nothing installed yet.
    pub fn empty(template: &str) -> InstalledState {
        InstalledState {
            template: template.to_owned(),
            version: String::new(),
            modules: BTreeSet::new(),
            components: BTreeMap::new(),
            secrets: BTreeMap::new(),
            retained_volumes: Vec::new(),
        }
    }

    /// The installed component with this key.
    pub fn component(&self, key: &str) -> Option<&InstalledComponent> {
        self.components.get(key)
    }

    /// Records that the user set env var `name` of `component` to `value`.
    /// Setting the template default removes the customization.
    pub fn set_env(&mut self, component: &str, name: &str, value: &str) -> Result<()> {
        let c = self.component_mut(component, "env")?;
        let default = c
            .check_env_value(name, &format!("components[{component}].env[{name}]"))?
            .value
            .clone();
        if default == value {
            c.customizations.env.remove(name);
        } else {
            c.customizations
                .env
                .insert(name.to_owned(), value.to_owned());
        }
        Ok(())
    }

    /// Records that the user replaced the content of a config file.
    pub fn set_config_file(
        &mut self,
        component: &str,
        mount_path: &str,
        content: &str,
    ) -> Result<()> {
        let c = self.component_mut(component, "config_files")?;
        let Some(file) = c
            .spec
            .config_files
            .iter()
            .find(|f| f.mount_path == mount_path)
        else {
            return Err(Error::InvalidOption {
                option: format!("components[{component}].config_files[{mount_path}]"),
                message: format!("component `{component}` has no config file at `{mount_path}`"),
            });
        };
        if file.content == content {
            c.customizations.config_files.remove(mount_path);
        } else {
            c.customizations
                .config_files
                .insert(mount_path.to_owned(), content.to_owned());
        }
        Ok(())
    }

    /// Records that the user scaled the component to `replicas`.
    pub fn set_replicas(&mut self, component: &str, replicas: u32) -> Result<()> {
        let c = self.component_mut(component, "replicas")?;
        c.check_replicas(replicas, &format!("components[{component}].replicas"))?;
        c.customizations.replicas = (replicas != c.spec.scaling.min_replicas).then_some(replicas);
        Ok(())
    }

    /// Records that the user expanded a volume. Volumes never shrink, so a
    /// size below the current one is refused.
    pub fn set_volume_capacity(
        &mut self,
        component: &str,
        volume: &str,
        capacity: &str,
    ) -> Result<()> {
        let option = format!("components[{component}].volumes[{volume}].capacity");
        let c = self.component_mut(component, "volumes")?;
        let Some(spec) = c
            .spec
            .volumes
            .iter()
            .find(|v| v.name == volume && v.shared_from.is_none())
        else {
            return Err(Error::InvalidOption {
                option,
                message: format!("component `{component}` owns no volume `{volume}`"),
            });
        };
        let Some(new) = parse_quantity(capacity) else {
            return Err(Error::InvalidOption {
                option,
                message: format!("`{capacity}` is not a quantity; write e.g. 20Gi"),
            });
        };
        let spec_capacity = spec.capacity.clone();
        let current = c.volume_capacity(volume).and_then(parse_quantity);
        if current.is_some_and(|cur| new < cur) {
            return Err(Error::InvalidOption {
                option,
                message: format!("volumes never shrink; `{capacity}` is below the current size"),
            });
        }
        let entry = c
            .customizations
            .volumes
            .entry(volume.to_owned())
            .or_default();
        entry.capacity = (spec_capacity.as_deref() != Some(capacity)).then(|| capacity.to_owned());
        if entry.is_empty() {
            c.customizations.volumes.remove(volume);
        }
        Ok(())
    }

    /// This state with every edit of `edits` recorded, as the `set_*`
    /// methods record them: env values, then config files, then replicas,
    /// then volume capacities, each in key order. The first edit refused
    /// is the error (naming the component and what was edited), and
    /// nothing is recorded then.
    ///
    /// ```
    /// use template_core::{install_state, plan_install, InstallOptions, StateCustomizations};
    /// use template_core::testing::minimal_version;
    /// let state = install_state(&plan_install(&minimal_version("shop", "1.0.0"), &InstallOptions::default())?)?;
    /// let mut edits = StateCustomizations::default();
    /// edits.replicas.insert("ghost".into(), 2);
    /// let err = state.customized(&edits).unwrap_err();
    /// assert!(err.to_string().contains("ghost"));
    /// assert_eq!(state.customized(&StateCustomizations::default())?, state);
    /// # Ok::<(), template_core::Error>(())
    /// ```
    pub fn customized(&self, edits: &StateCustomizations) -> Result<InstalledState> {
        let mut state = self.clone();
        for (component, vars) in &edits.env {
            for (name, value) in vars {
                state.set_env(component, name, value)?;
            }
        }
        for (component, files) in &edits.config_files {
            for (mount_path, content) in files {
                state.set_config_file(component, mount_path, content)?;
            }
        }
        for (component, &replicas) in &edits.replicas {
            state.set_replicas(component, replicas)?;
        }
        for (component, volumes) in &edits.volume_capacities {
            for (volume, capacity) in volumes {
                state.set_volume_capacity(component, volume, capacity)?;
            }
        }
        Ok(state)
    }

    fn component_mut(&mut self, key: &str, what: &str) -> Result<&mut InstalledComponent> {
        self.components
            .get_mut(key)
            .ok_or_else(|| Error::InvalidOption {
                option: format!("components[{key}].{what}"),
                message: format!("no component `{key}` is installed"),
            })
    }
}

impl InstalledComponent {
    /// The component as version `version` defines it, before any
    /// customization.
    pub fn from_version(version: &TemplateVersion, spec: &Component) -> InstalledComponent {
        InstalledComponent::from_shared(version, Arc::new(spec.clone()))
    }

    /// [`InstalledComponent::from_version`] with a definition already
    /// shared (a validated version's), which it keeps without a copy.
    pub fn from_shared(version: &TemplateVersion, shared: Arc<Component>) -> InstalledComponent {
        let spec = &*shared;
        let mut groups = version
            .config_groups
            .iter()
            .filter(|g| g.components.contains(&spec.key))
            .peekable();
        // The component's own names, gathered only when a group applies:
        // most components are in none.
        let own: BTreeSet<&str> = match groups.peek() {
            Some(_) => spec.env.iter().map(|e| e.name.as_str()).collect(),
            None => BTreeSet::new(),
        };
        let mut seen = BTreeSet::new();
        let mut shared_env = Vec::new();
        for group in groups {
            for var in &group.env {
                if !own.contains(var.name.as_str()) && seen.insert(var.name.clone()) {
                    shared_env.push(var.clone());
                }
            }
        }
        let mut attached = BTreeSet::new();
        let plugin_definitions = spec
            .plugins
            .iter()
            .filter(|a| attached.insert(a.plugin.as_str()))
            .filter_map(|a| version.plugin(&a.plugin).cloned())
            .collect();
        InstalledComponent {
            version: version.version.clone(),
            shared_env,
            plugin_definitions,
            customizations: Customizations::default(),
            orphaned: false,
            spec: shared,
        }
    }

    /// Whether `version` gives this component's definition the same shared
    /// variables and plugin definitions it runs with (the definition itself
    /// is compared by the caller). Allocates nothing.
    pub(crate) fn same_context(&self, version: &TemplateVersion) -> bool {
        let key = &self.spec.key;
        let mut shared = self.shared_env.iter();
        let mut seen: Vec<&str> = Vec::new();
        for group in version
            .config_groups
            .iter()
            .filter(|g| g.components.contains(key))
        {
            for var in &group.env {
                if self.spec.env.iter().any(|e| e.name == var.name)
                    || seen.contains(&var.name.as_str())
                {
                    continue;
                }
                seen.push(&var.name);
                if shared.next() != Some(var) {
                    return false;
                }
            }
        }
        if shared.next().is_some() {
            return false;
        }
        let mut defs = self.plugin_definitions.iter();
        let mut attached: Vec<&str> = Vec::new();
        for a in &self.spec.plugins {
            if attached.contains(&a.plugin.as_str()) {
                continue;
            }
            attached.push(&a.plugin);
            if let Some(p) = version.plugin(&a.plugin)
                && defs.next() != Some(p)
            {
                return false;
            }
        }
        defs.next().is_none()
    }

    /// The definition of env var `name` if the installer may choose its
    /// value; `option` names where the value comes from in the error.
    /// Every way a value enters an installed state (install overrides,
    /// edits, values found on the cluster) goes through this check.
    pub fn check_env_value(&self, name: &str, option: &str) -> Result<&EnvVar> {
        let key = &self.spec.key;
        let Some(var) = self
            .spec
            .env
            .iter()
            .chain(&self.shared_env)
            .find(|e| e.name == name)
        else {
            return Err(Error::InvalidOption {
                option: option.to_owned(),
                message: format!(
                    "component `{key}` has no env var `{name}`; use a name from its template"
                ),
            });
        };
        if !var.editable {
            return Err(Error::InvalidOption {
                option: option.to_owned(),
                message: format!(
                    "env var `{name}` of `{key}` is not editable; the template fixes its value"
                ),
            });
        }
        Ok(var)
    }

    /// Checks that the component may run `replicas` replicas: within the
    /// template's `min_replicas..=max_replicas`. `option` names where the
    /// value comes from in the error.
    pub fn check_replicas(&self, replicas: u32, option: &str) -> Result<()> {
        let s = &self.spec.scaling;
        if replicas < s.min_replicas || replicas > s.max_replicas.max(s.min_replicas) {
            return Err(Error::InvalidOption {
                option: option.to_owned(),
                message: format!(
                    "{replicas} is outside {}..={} replicas allowed by the template",
                    s.min_replicas, s.max_replicas
                ),
            });
        }
        Ok(())
    }

    /// Default of env var `name` (component variables first, then shared).
    pub fn env_default(&self, name: &str) -> Option<&str> {
        self.spec
            .env
            .iter()
            .chain(&self.shared_env)
            .find(|e| e.name == name)
            .map(|e| e.value.as_str())
    }

    /// Whether env var `name` is marked secret.
    pub fn env_is_secret(&self, name: &str) -> bool {
        self.spec
            .env
            .iter()
            .chain(&self.shared_env)
            .any(|e| e.name == name && e.secret)
    }

    /// Value env var `name` runs with: the customization or the default.
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.customizations
            .env
            .get(name)
            .map(String::as_str)
            .or_else(|| self.env_default(name))
    }

    /// Content config file `mount_path` runs with.
    pub fn config_content(&self, mount_path: &str) -> Option<&str> {
        self.customizations
            .config_files
            .get(mount_path)
            .map(String::as_str)
            .or_else(|| {
                self.spec
                    .config_files
                    .iter()
                    .find(|f| f.mount_path == mount_path)
                    .map(|f| f.content.as_str())
            })
    }

    /// Replicas the component runs with.
    pub fn replicas(&self) -> u32 {
        self.customizations
            .replicas
            .unwrap_or(self.spec.scaling.min_replicas)
    }

    /// Size volume `name` has: the customization or the template's.
    pub fn volume_capacity(&self, name: &str) -> Option<&str> {
        self.customizations
            .volumes
            .get(name)
            .and_then(|v| v.capacity.as_deref())
            .or_else(|| {
                self.spec
                    .volumes
                    .iter()
                    .find(|v| v.name == name)
                    .and_then(|v| v.capacity.as_deref())
            })
    }

    /// Storage class volume `name` uses: the customization or the hint.
    pub fn volume_storage_class(&self, name: &str) -> Option<&str> {
        self.customizations
            .volumes
            .get(name)
            .and_then(|v| v.storage_class.as_deref())
            .or_else(|| {
                self.spec
                    .volumes
                    .iter()
                    .find(|v| v.name == name)
                    .and_then(|v| v.storage_class.as_deref())
            })
    }

    /// The definition with every customization applied: what actually runs.
    /// Shared variables are appended to `env`; replicas show as
    /// `scaling.min_replicas`.
    pub fn effective(&self) -> Component {
        let mut c = Component::clone(&self.spec);
        c.env.extend(self.shared_env.iter().cloned());
        for var in &mut c.env {
            if let Some(v) = self.customizations.env.get(&var.name) {
                var.value = v.clone();
            }
        }
        for file in &mut c.config_files {
            if let Some(content) = self.customizations.config_files.get(&file.mount_path) {
                file.content = content.clone();
            }
        }
        if let Some(r) = self.customizations.replicas {
            c.scaling.min_replicas = r;
        }
        for vol in &mut c.volumes {
            self.customize_volume(vol);
        }
        c
    }

    /// Applies the volume customizations to `vol`, as [`Self::effective`] does.
    fn customize_volume(&self, vol: &mut Volume) {
        if let Some(custom) = self.customizations.volumes.get(&vol.name) {
            if custom.capacity.is_some() {
                vol.capacity = custom.capacity.clone();
            }
            if custom.storage_class.is_some() {
                vol.storage_class = custom.storage_class.clone();
            }
        }
    }

    /// [`Self::effective`], borrowing the definition when nothing applies
    /// to it (no shared variables, no customizations).
    pub(crate) fn effective_cow(&self) -> std::borrow::Cow<'_, Component> {
        if self.shared_env.is_empty() && self.customizations.is_empty() {
            std::borrow::Cow::Borrowed(&self.spec)
        } else {
            std::borrow::Cow::Owned(self.effective())
        }
    }

    /// Volumes the component owns, as they run (effective size and class).
    pub fn owned_volumes(&self) -> Vec<Volume> {
        // The volumes of `effective()`, without copying the rest.
        self.spec
            .volumes
            .iter()
            .filter(|v| v.shared_from.is_none())
            .map(|v| {
                let mut vol = v.clone();
                self.customize_volume(&mut vol);
                vol
            })
            .collect()
    }

    /// Generated secrets the component uses: reference and rule.
    pub fn generated_secrets(&self) -> BTreeMap<String, SecretRule> {
        self.spec
            .connection_info
            .iter()
            .filter_map(|v| Some((secret_reference(&self.spec.key, v)?, v.generate.clone()?)))
            .collect()
    }
}

/// The reference of the generated secret behind connection variable `var`
/// of `component`: `group:<group>` for shared secrets, `<component>:<NAME>`
/// otherwise; `None` for fixed values.
pub fn secret_reference(component: &str, var: &ConnectionVar) -> Option<String> {
    let rule = var.generate.as_ref()?;
    Some(match &rule.group {
        Some(group) => format!("group:{group}"),
        None => format!("{component}:{}", var.name),
    })
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{minimal_component, minimal_version};

    fn state() -> InstalledState {
        let mut v = minimal_version("shop", "1.0.0");
        v.components[0].env.push(EnvVar {
            name: "LOG".into(),
            value: "info".into(),
            description: String::new(),
            editable: true,
            secret: false,
        });
        v.components[0].volumes.push(Volume {
            name: "data".into(),
            mount_path: "/data".into(),
            capacity: Some("10Gi".into()),
            access_mode: Default::default(),
            storage_class: None,
            shared_from: None,
        });
        let mut s = InstalledState::empty("shop");
        s.components.insert(
            "web".into(),
            InstalledComponent::from_version(&v, &v.components[0]),
        );
        s
    }

    #[test]
    fn setting_the_default_removes_the_customization() {
        let mut s = state();
        s.set_env("web", "LOG", "debug").unwrap();
        assert_eq!(s.components["web"].env_value("LOG"), Some("debug"));
        s.set_env("web", "LOG", "info").unwrap();
        assert!(s.components["web"].customizations.is_empty());
        assert!(matches!(
            s.set_env("web", "NOPE", "x"),
            Err(Error::InvalidOption { .. })
        ));
        assert!(matches!(
            s.set_env("db", "LOG", "x"),
            Err(Error::InvalidOption { .. })
        ));
    }

    #[test]
    fn edits_are_checked_like_install_overrides() {
        let mut v = minimal_version("shop", "1.0.0");
        v.components[0].env.push(EnvVar {
            name: "MODE".into(),
            value: "cluster".into(),
            description: String::new(),
            editable: false,
            secret: false,
        });
        v.components[0].scaling.min_replicas = 2;
        v.components[0].scaling.max_replicas = 4;
        let mut s = InstalledState::empty("shop");
        s.components.insert(
            "web".into(),
            InstalledComponent::from_version(&v, &v.components[0]),
        );
        let message = |e: Error| match e {
            Error::InvalidOption { message, .. } => message,
            other => panic!("{other}"),
        };

        let edit = message(s.set_env("web", "MODE", "standalone").unwrap_err());
        let mut options = crate::InstallOptions::default();
        options
            .overrides
            .env
            .entry("web".into())
            .or_default()
            .insert("MODE".into(), "standalone".into());
        let install = message(crate::plan_install(&v, &options).unwrap_err());
        assert_eq!(edit, install);
        assert!(edit.contains("not editable"), "{edit}");

        for replicas in [1, 5] {
            let edit = message(s.set_replicas("web", replicas).unwrap_err());
            let mut options = crate::InstallOptions::default();
            options.overrides.replicas.insert("web".into(), replicas);
            let install = message(crate::plan_install(&v, &options).unwrap_err());
            assert_eq!(edit, install);
        }
        s.set_replicas("web", 3).unwrap();
        assert_eq!(s.components["web"].replicas(), 3);
        // Nothing refused was recorded.
        assert_eq!(s.components["web"].env_value("MODE"), Some("cluster"));
    }

    #[test]
    fn volumes_only_grow() {
        let mut s = state();
        s.set_volume_capacity("web", "data", "20Gi").unwrap();
        assert_eq!(s.components["web"].volume_capacity("data"), Some("20Gi"));
        assert!(s.set_volume_capacity("web", "data", "15Gi").is_err());
        assert!(s.set_volume_capacity("web", "data", "lots").is_err());
    }

    #[test]
    fn customized_records_every_edit_in_order() {
        let mut edits: StateCustomizations = serde_json::from_value(serde_json::json!({
            "env": {"web": {"LOG": "debug"}},
            "volume_capacities": {"web": {"data": "20Gi"}},
        }))
        .unwrap();
        let s = state();
        let after = s.customized(&edits).unwrap();
        assert_eq!(after.components["web"].env_value("LOG"), Some("debug"));
        assert_eq!(
            after.components["web"].volume_capacity("data"),
            Some("20Gi")
        );
        // The same edits through the `set_*` methods give the same state.
        let mut by_hand = s.clone();
        by_hand.set_env("web", "LOG", "debug").unwrap();
        by_hand.set_volume_capacity("web", "data", "20Gi").unwrap();
        assert_eq!(after, by_hand);
        assert_eq!(s.customized(&StateCustomizations::default()).unwrap(), s);

        // The first refused edit is the error, and nothing is recorded.
        edits.replicas.insert("db".into(), 2);
        match s.customized(&edits) {
            Err(Error::InvalidOption { option, message }) => {
                assert_eq!(option, "components[db].replicas");
                assert!(message.contains("`db`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        edits.replicas.clear();
        edits
            .config_files
            .insert("web".into(), [("/etc/nope".into(), "x".into())].into());
        match s.customized(&edits) {
            Err(Error::InvalidOption { option, .. }) => {
                assert_eq!(option, "components[web].config_files[/etc/nope]");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn misspelt_customizations_are_refused() {
        let err = serde_json::from_value::<StateCustomizations>(serde_json::json!({
            "replica": {"web": 2}
        }))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `replica`"), "{err}");
    }

    #[test]
    fn shared_env_leaves_out_own_names() {
        let mut v = minimal_version("shop", "1.0.0");
        v.components.push(minimal_component("api"));
        v.components[0].env.push(EnvVar {
            name: "TZ".into(),
            value: "UTC".into(),
            description: String::new(),
            editable: true,
            secret: false,
        });
        let var = |n: &str, val: &str| EnvVar {
            name: n.into(),
            value: val.into(),
            description: String::new(),
            editable: true,
            secret: false,
        };
        v.config_groups.push(crate::model::ConfigGroup {
            name: "g".into(),
            components: vec!["web".into(), "api".into()],
            env: vec![var("TZ", "Asia/Shanghai"), var("PROFILE", "prod")],
        });
        let web = InstalledComponent::from_version(&v, &v.components[0]);
        assert_eq!(web.shared_env.len(), 1);
        assert_eq!(web.env_value("TZ"), Some("UTC"));
        let api = InstalledComponent::from_version(&v, &v.components[1]);
        assert_eq!(api.env_value("TZ"), Some("Asia/Shanghai"));
    }
}
