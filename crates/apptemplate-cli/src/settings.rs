//! Settings in layers: flags and `APPTEMPLATE_*` variables (both through
//! clap) over the config file over defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use template_k8s::EnvironmentProfile;
use template_k8s::ExecutorOptions;
use template_market::{
    ImportOptions, Market, PublicKey, PullOptions, RegistryAccess, RegistryTarget, RelocateOptions,
};

use crate::cli::Global;
use crate::failure::Usage;

/// The config file, as written. The option sections are the libraries'
/// own option types (their serde forms), read as the bindings read them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Directory of the local market.
    #[serde(default)]
    pub(crate) market: Option<PathBuf>,
    /// kubeconfig file.
    #[serde(default)]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Executor settings (identity on the lock, waits, concurrency, lease).
    #[serde(default)]
    pub(crate) executor: Option<ExecutorOptions>,
    /// Image relocation settings.
    #[serde(default)]
    pub(crate) relocate: RelocateOptions,
    /// Import settings (trusted key texts, unsigned packages, reserve).
    #[serde(default)]
    pub(crate) import: ImportOptions,
    /// Image pull settings (parallelism, platforms, request timeout).
    #[serde(default)]
    pub(crate) pull: PullOptions,
    /// Environment profiles.
    #[serde(default)]
    pub(crate) environments: Vec<EnvironmentProfile>,
    /// How to reach registries.
    #[serde(default)]
    pub(crate) registries: Vec<RegistryAccess>,
    /// Public key files whose signatures imports accept.
    #[serde(default)]
    pub(crate) trusted_keys: Vec<PathBuf>,
}

/// Everything resolved.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) file: ConfigFile,
    pub(crate) market_dir: PathBuf,
}

impl Settings {
    /// Reads the config file named by `--config`/`APPTEMPLATE_CONFIG`, or
    /// the default one if it exists.
    pub(crate) fn load(global: &Global) -> anyhow::Result<Settings> {
        let path = match &global.config {
            Some(p) => Some(p.clone()),
            None => default_config_path().filter(|p| p.exists()),
        };
        let file = match &path {
            Some(p) => read_config(p)?,
            None => ConfigFile::default(),
        };
        let base = path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .unwrap_or_default();
        let market_dir = global
            .market
            .clone()
            .or_else(|| file.market.as_ref().map(|m| base.join(m)))
            .unwrap_or_else(|| PathBuf::from("market"));
        Ok(Settings {
            config_path: path,
            file,
            market_dir,
        })
    }

    /// Paths in the config file are relative to it.
    fn relative(&self, p: &Path) -> PathBuf {
        match self.config_path.as_deref().and_then(Path::parent) {
            Some(dir) => dir.join(p),
            None => p.to_owned(),
        }
    }

    /// Opens the market (creating an empty one if there is none).
    pub(crate) fn market(&self) -> anyhow::Result<Market> {
        Ok(Market::open(&self.market_dir)?)
    }

    /// The kubeconfig: the flag or variable, else the config file's; none
    /// means the default kubeconfig.
    pub(crate) fn kubeconfig(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_owned)
            .or_else(|| self.file.kubeconfig.as_deref().map(|p| self.relative(p)))
    }

    /// The profile named `name`, or an ad-hoc one for `namespace`.
    pub(crate) fn environment(
        &self,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> anyhow::Result<EnvironmentProfile> {
        match (name, namespace) {
            (Some(name), namespace) => {
                let mut env = self.profile(name)?.clone();
                if let Some(ns) = namespace {
                    ns.clone_into(&mut env.namespace);
                }
                Ok(env)
            }
            (None, Some(ns)) => Ok(EnvironmentProfile {
                name: ns.to_owned(),
                context: None,
                namespace: ns.to_owned(),
                registry: None,
                released_only: false,
                env_overrides: Default::default(),
                storage_class: None,
            }),
            (None, None) => Err(Usage(
                "no environment given: name a profile with --env NAME (or APPTEMPLATE_ENV), or a namespace with --namespace NS".to_owned(),
            )
            .into()),
        }
    }

    /// The profile named `name`.
    pub(crate) fn profile(&self, name: &str) -> anyhow::Result<&EnvironmentProfile> {
        self.file
            .environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .file
                    .environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                Usage(format!(
                    "environment `{name}` is not in the config file{}; known: {}",
                    self.config_path
                        .as_deref()
                        .map(|p| format!(" `{}`", p.display()))
                        .unwrap_or_default(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
                .into()
            })
    }

    /// Access to `registry` from the config file (the entry for it, or
    /// for its host), else anonymous HTTPS with the default auth file if
    /// any.
    pub(crate) fn registry_target(&self, registry: &str) -> anyhow::Result<RegistryTarget> {
        Ok(RegistryAccess::target_for(
            &self.registry_accesses(),
            registry,
        )?)
    }

    /// The config file's registry entries, their files relative to it.
    pub(crate) fn registry_accesses(&self) -> Vec<RegistryAccess> {
        self.file
            .registries
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a.auth_file = a.auth_file.as_deref().map(|p| self.relative(p));
                a.ca_file = a.ca_file.as_deref().map(|p| self.relative(p));
                a
            })
            .collect()
    }

    /// Every registry of the config file, as targets.
    pub(crate) fn registry_targets(&self) -> anyhow::Result<Vec<RegistryTarget>> {
        self.file
            .registries
            .iter()
            .map(|a| self.registry_target(&a.registry))
            .collect()
    }

    /// Import options of the config file with its trusted key files and
    /// `extra` added.
    pub(crate) fn import_options(&self, extra: &[PathBuf]) -> anyhow::Result<ImportOptions> {
        let mut options = self.file.import.clone();
        options.trust.keys.extend(self.trusted_keys(extra)?);
        Ok(options)
    }

    /// The config file's trusted keys and `extra`.
    pub(crate) fn trusted_keys(&self, extra: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
        self.file
            .trusted_keys
            .iter()
            .map(|p| self.relative(p))
            .chain(extra.iter().cloned())
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading public key `{}`", path.display()))?;
                PublicKey::from_file_text(&text)
                    .with_context(|| format!("public key `{}`", path.display()))
            })
            .collect()
    }
}

/// `$XDG_CONFIG_HOME/apptemplate/config.yaml` or `~/.config/...`.
fn default_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("apptemplate").join("config.yaml"))
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file `{}`", path.display()))?;
    let deserializer = serde_norway::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        Usage(format!(
            "config file `{}`: at `{}`: {}; see `apptemplate env --help` for its keys",
            path.display(),
            e.path(),
            e.inner()
        ))
        .into()
    })
}
