//! The market's options as plain data: what the bindings, a configuration
//! file or a command line give, read with serde.
//!
//! Every type refuses unknown fields (a misspelt option is an error naming
//! it, never silently ignored), gives every field a default, and writes
//! durations as seconds (`*_seconds`, fractions allowed).

use std::num::NonZeroU64;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use template_core::package::{Compression, ReaderLimits};

use crate::error::Result;
use crate::export::{ExportBase, ExportRequest};
use crate::registry::RegistryTarget;
use crate::signing::{PublicKey, SecretKey};

/// Archive compression as options name it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CompressionName {
    /// zstd (the default).
    #[default]
    Zstd,
    /// A plain tar (`oci-archive:` readable as is).
    None,
}

/// How an export is made: its base, signature, compression and splitting.
/// Serializes as `{base, signing_key, part_size, compression,
/// compression_level, allow_draft}`; `base` is `"full"` (the default),
/// `{"versions": [..]}` or `{"inventory": {..}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    /// What the destination already holds (left out of the package).
    pub base: ExportBase,
    /// Secret key (minisign file text) that signs the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub signing_key: Option<SecretKey>,
    /// Split the package into parts of at most this many bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_size: Option<NonZeroU64>,
    /// `zstd` (default) or `none`.
    pub compression: CompressionName,
    /// zstd level, 1 to 19 (3 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i32>,
    /// Export draft versions too; a draft is not for delivery, so without
    /// this exporting one is refused ([`crate::MarketError::DraftExport`]).
    pub allow_draft: bool,
}

impl ExportOptions {
    /// The request for `versions` of `template` with these options; zstd
    /// compresses on every core.
    pub fn request(&self, template: &str, versions: &[&str]) -> ExportRequest {
        let workers = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(1))
            .unwrap_or(1);
        let compression = match self.compression {
            CompressionName::Zstd => Compression::Zstd {
                level: self.compression_level.unwrap_or(3),
                workers,
            },
            CompressionName::None => Compression::None,
        };
        let mut request = ExportRequest::new(template, versions)
            .with_base(self.base.clone())
            .with_compression(compression);
        if let Some(key) = &self.signing_key {
            request = request.signed_with(key);
        }
        if self.allow_draft {
            request = request.allowing_drafts();
        }
        request
    }
}

/// Which packages an import accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Keys whose signatures are accepted.
    pub keys: Vec<PublicKey>,
    /// Accept packages without a signature.
    pub allow_unsigned: bool,
    /// Accept packages signed by a key not in `keys` (a signature that does
    /// not verify is never accepted).
    pub allow_untrusted: bool,
}

impl Trust {
    /// Accept packages signed by one of `keys`.
    pub fn keys(keys: Vec<PublicKey>) -> Self {
        Trust {
            keys,
            ..Trust::default()
        }
    }

    /// Accept unsigned packages (and packages from unknown keys): only for
    /// packages whose origin you trust by other means.
    pub fn anything() -> Self {
        Trust {
            keys: Vec::new(),
            allow_unsigned: true,
            allow_untrusted: true,
        }
    }
}

/// Options of an import. Its plain-data form is flat: `{trusted_keys,
/// allow_unsigned, allow_untrusted, reserve_bytes}`, each key a minisign
/// `.pub` file text or base64 line (the archive limits keep their
/// defaults).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(from = "ImportFields", into = "ImportFields")]
pub struct ImportOptions {
    /// Which signatures to accept.
    pub trust: Trust,
    /// Limits on the untrusted archive.
    pub limits: ReaderLimits,
    /// Free space to leave untouched on the market's filesystem.
    pub reserve_bytes: u64,
}

/// The plain-data form of [`ImportOptions`]: `{trusted_keys,
/// allow_unsigned, allow_untrusted, reserve_bytes}` (the archive limits
/// keep their defaults).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ImportFields {
    /// Public keys (minisign `.pub` file text or base64 line) whose
    /// signatures are accepted.
    #[schemars(with = "Vec<String>")]
    trusted_keys: Vec<PublicKey>,
    /// Accept unsigned packages.
    allow_unsigned: bool,
    /// Accept packages signed by a key not in `trusted_keys`.
    allow_untrusted: bool,
    /// Free space to leave untouched on the market's filesystem, in bytes.
    reserve_bytes: u64,
}

impl From<ImportFields> for ImportOptions {
    fn from(f: ImportFields) -> Self {
        ImportOptions {
            trust: Trust {
                keys: f.trusted_keys,
                allow_unsigned: f.allow_unsigned,
                allow_untrusted: f.allow_untrusted,
            },
            reserve_bytes: f.reserve_bytes,
            ..ImportOptions::default()
        }
    }
}

impl From<ImportOptions> for ImportFields {
    fn from(o: ImportOptions) -> Self {
        ImportFields {
            trusted_keys: o.trust.keys,
            allow_unsigned: o.trust.allow_unsigned,
            allow_untrusted: o.trust.allow_untrusted,
            reserve_bytes: o.reserve_bytes,
        }
    }
}

/// A registry and how to reach it, as plain data: `{registry, insecure,
/// username, password, auth_file, ca_file, public_roots}`. Turned into a
/// [`RegistryTarget`] (reading the files it names) by
/// [`RegistryAccess::target`]. Its `Debug` output hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryAccess {
    /// `host[:port][/prefix]`.
    pub registry: String,
    /// Plain HTTP instead of HTTPS.
    #[serde(default)]
    pub insecure: bool,
    /// User name (with `password`); anonymous when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password of `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A containers auth file (`auth.json`) or Docker `config.json` to
    /// take the credentials from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_file: Option<PathBuf>,
    /// A PEM file of extra certificate authorities to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Also trust the public web's root CAs (default true).
    #[serde(default = "yes")]
    pub public_roots: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for RegistryAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAccess")
            .field("registry", &self.registry)
            .field("insecure", &self.insecure)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("auth_file", &self.auth_file)
            .field("ca_file", &self.ca_file)
            .field("public_roots", &self.public_roots)
            .finish()
    }
}

impl RegistryAccess {
    /// Anonymous HTTPS access to `registry`, trusting the public roots.
    pub fn new(registry: impl Into<String>) -> Self {
        RegistryAccess {
            registry: registry.into(),
            insecure: false,
            username: None,
            password: None,
            auth_file: None,
            ca_file: None,
            public_roots: true,
        }
    }

    /// The target: credentials given or read from `auth_file`, CA
    /// certificates read from `ca_file`. Fails with
    /// [`template_core::Error::InvalidOption`] when only
    /// one of `username` and `password` is given, and as
    /// [`RegistryTarget::with_auth_file`] and
    /// [`RegistryTarget::with_ca_file`] do for the files.
    pub fn target(&self) -> Result<RegistryTarget> {
        let mut target = RegistryTarget::new(self.registry.clone());
        target.insecure = self.insecure;
        target.public_roots = self.public_roots;
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => {
                target = target.with_credentials(user.clone(), password.clone());
            }
            (None, None) => {}
            _ => {
                return Err(crate::error::MarketError::Core(
                    template_core::Error::InvalidOption {
                        option: "password".to_owned(),
                        message: format!(
                            "registry {}: give both `username` and `password`, or neither",
                            self.registry
                        ),
                    },
                ));
            }
        }
        if let Some(path) = &self.auth_file {
            target = target.with_auth_file(path)?;
        }
        if let Some(path) = &self.ca_file {
            target = target.with_ca_file(path)?;
        }
        Ok(target)
    }

    /// The target for `registry` (`host[:port][/prefix]`) among
    /// `accesses`: the entry naming it, else the first entry for the same
    /// host (taking `registry` as its address), else anonymous HTTPS. An
    /// entry that gives neither credentials nor an auth file, and the
    /// anonymous fallback, take credentials from the default auth files
    /// ([`RegistryTarget::with_default_auth_file`]).
    ///
    /// ```
    /// use template_market::RegistryAccess;
    /// let mut dev = RegistryAccess::new("registry.dev.example.com:5000");
    /// dev.insecure = true;
    /// let target = RegistryAccess::target_for(&[dev], "registry.dev.example.com:5000/shop")?;
    /// assert!(target.insecure);
    /// assert_eq!(target.registry, "registry.dev.example.com:5000/shop");
    /// # Ok::<(), template_market::MarketError>(())
    /// ```
    pub fn target_for(accesses: &[RegistryAccess], registry: &str) -> Result<RegistryTarget> {
        let wanted = registry.trim_end_matches('/');
        let host = |r: &str| {
            let r = r.trim_end_matches('/');
            r.split_once('/').map_or(r, |(h, _)| h).to_owned()
        };
        let entry = accesses
            .iter()
            .find(|a| a.registry.trim_end_matches('/') == wanted)
            .or_else(|| accesses.iter().find(|a| host(&a.registry) == host(wanted)));
        let Some(entry) = entry else {
            return RegistryTarget::new(wanted).with_default_auth_file();
        };
        let mut access = entry.clone();
        wanted.clone_into(&mut access.registry);
        let target = access.target()?;
        if access.auth_file.is_none() && access.username.is_none() {
            target.with_default_auth_file()
        } else {
            Ok(target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::relocate::RelocateOptions;
    use serde_json::json;

    #[test]
    fn export_options_read_their_base_and_refuse_a_zero_part_size() {
        let options: ExportOptions = serde_json::from_value(json!({
            "base": {"versions": ["1.0.0"]},
            "compression": "none",
            "part_size": 1024
        }))
        .unwrap();
        assert!(matches!(&options.base, ExportBase::Versions(v) if v == &["1.0.0"]));
        let request = options.request("pig", &["2.0.0"]);
        assert_eq!(request.compression, Compression::None);
        assert!(serde_json::from_value::<ExportOptions>(json!({"part_size": 0})).is_err());
        assert!(serde_json::from_value::<ExportOptions>(json!({"compression": "gzip"})).is_err());
        assert!(serde_json::from_value::<ExportOptions>(json!({"base_versions": []})).is_err());
        let full: ExportOptions = serde_json::from_value(json!({})).unwrap();
        assert!(matches!(full.base, ExportBase::Full));
    }

    #[test]
    fn import_options_are_flat_and_keys_take_either_form() {
        let pair = crate::generate_key_pair().unwrap().to_text().unwrap();
        let options: ImportOptions = serde_json::from_value(json!({
            "trusted_keys": [pair.public_key, pair.public_key_file],
            "allow_unsigned": true
        }))
        .unwrap();
        assert_eq!(options.trust.keys.len(), 2);
        assert_eq!(options.trust.keys[0], options.trust.keys[1]);
        assert!(options.trust.allow_unsigned && !options.trust.allow_untrusted);
        let back = serde_json::to_value(&options).unwrap();
        assert_eq!(back["trusted_keys"][0], json!(pair.public_key));
        let err = serde_json::from_value::<ImportOptions>(json!({"trusted_keys": ["x"]}));
        assert!(err.is_err());
    }

    #[test]
    fn relocate_options_use_seconds_and_refuse_zero_parallelism() {
        let options: RelocateOptions = serde_json::from_value(json!({
            "parallelism": 2,
            "request_timeout_seconds": 1.5
        }))
        .unwrap();
        assert_eq!(options.parallelism, 2);
        assert_eq!(options.request_timeout, Duration::from_millis(1500));
        assert_eq!(options.chunk_size, RelocateOptions::default().chunk_size);
        let zero = serde_json::from_value::<RelocateOptions>(json!({"parallelism": 0}));
        assert!(zero.unwrap_err().to_string().contains("at least 1"));
        let round = serde_json::to_value(RelocateOptions::default()).unwrap();
        assert_eq!(round["request_timeout_seconds"], json!(600.0));
    }

    #[test]
    fn registry_access_needs_both_credentials() {
        let access: RegistryAccess =
            serde_json::from_value(json!({"registry": "r.example", "username": "u"})).unwrap();
        assert!(access.public_roots);
        let err = access.target().unwrap_err();
        assert!(err.to_string().contains("`password`"), "{err}");
        let hidden = RegistryAccess {
            password: Some("s3cret".into()),
            ..RegistryAccess::new("r")
        };
        assert!(!format!("{hidden:?}").contains("s3cret"));
    }
}
