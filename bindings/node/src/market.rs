//! `Market`: the local market of `template-market` (templates, versions and
//! their images in an OCI layout), with offline packages and relocation.
//!
//! Reads and small mutations are synchronous. Adding images, exports,
//! imports, relocation, `gc` and `verify` return Promises: they run on
//! libuv's thread pool and report progress through a callback that never
//! holds them up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use apptemplate_interop::{Classify, ErrorReport, from_data, parse_release_state, to_data};
use napi::bindgen_prelude::{AsyncTask, Buffer, Env, Error, Result, Status};
use napi_derive::napi;
use serde_json::Value;
use template_core::package::Inventory;
use template_core::{Overwrite, ReleaseState};
use template_market::{
    Compression, ExportBase, ExportRequest, ImportOptions, PublicKey, RegistryTarget,
    RelocateOptions, SecretKey, Trust,
};

use crate::data::{PublishOutcome, convert};
use crate::document::Template;
use crate::errors::thrown;
use crate::task::{Blocking, Data, ProgressCallback, report};

/// An error of the market, classified.
fn classified(err: template_market::MarketError) -> ErrorReport {
    err.report()
}

/// An argument the caller got wrong, as an `INVALID_ARGUMENT` report.
fn invalid(option: &str, message: String) -> ErrorReport {
    template_core::Error::InvalidOption {
        option: option.to_owned(),
        message,
    }
    .report()
}

/// A non-negative size given as a JavaScript number.
fn size(option: &str, value: i64) -> std::result::Result<u64, ErrorReport> {
    u64::try_from(value).map_err(|_| invalid(option, format!("must not be negative, got {value}")))
}

/// A public key given as minisign's `.pub` file text or its base64 line.
fn public_key(text: &str) -> std::result::Result<PublicKey, ErrorReport> {
    PublicKey::from_file_text(text)
        .or_else(|_| PublicKey::from_base64(text))
        .map_err(classified)
}

/// Hands a progress report to the callback as its Rust JSON.
fn forward<T: serde::Serialize>(callback: Option<&ProgressCallback<Value>>, progress: &T) {
    if let Ok(value) = to_data(progress) {
        report(callback, value);
    }
}

/// A local market rooted at a directory.
#[napi]
#[derive(Debug, Clone)]
pub struct Market {
    pub(crate) inner: template_market::Market,
}

/// Options of `Market.publish`.
#[napi(object)]
#[derive(Debug, Default)]
pub struct MarketPublishOptions {
    /// Replace draft or testing content published under the same number.
    pub overwrite: Option<bool>,
}

/// Options of `Market.deleteVersion`.
#[napi(object)]
#[derive(Debug, Default)]
pub struct DeleteOptions {
    /// Also delete released and deprecated versions.
    pub force: Option<bool>,
}

/// What an export leaves out; at most one of the two.
#[napi(object)]
#[derive(Debug, Default)]
pub struct ExportBaseOptions {
    /// Versions of the same template the destination holds: only layers
    /// they lack are carried.
    pub versions: Option<Vec<String>>,
    /// The destination market's inventory (`Market.inventory()` there):
    /// only blobs it lacks are carried.
    #[napi(ts_type = "Inventory")]
    pub inventory: Option<Value>,
}

/// What to export and where.
#[napi(object)]
#[derive(Debug)]
pub struct ExportOptions {
    /// Template id.
    pub template: String,
    /// Version numbers to include.
    pub versions: Vec<String>,
    /// File to write; with `partSize`, the base name of the parts
    /// (`<path>.part001`, ...).
    pub path: String,
    /// Split the package into parts of at most this many bytes.
    pub part_size: Option<i64>,
    /// A differential package: what the destination already holds.
    pub base: Option<ExportBaseOptions>,
    /// Secret key (minisign file text, as `generateKeyPair` gives it) that
    /// signs the package.
    pub signing_key: Option<String>,
    /// `zstd` (default) or `none` (a plain tar).
    #[napi(ts_type = "'zstd' | 'none'")]
    pub compression: Option<String>,
    /// zstd level, 1 to 19 (default 3).
    pub level: Option<i32>,
    /// Export draft versions too (refused otherwise: a draft is not for
    /// delivery).
    pub allow_draft: Option<bool>,
}

/// How a market is opened.
#[napi(object)]
#[derive(Debug, Default)]
pub struct MarketOpenOptions {
    /// Give up waiting for the market's lock after this many milliseconds
    /// (an error with code `LOCKED` naming the holder); without it, wait as
    /// long as it takes.
    pub lock_timeout_ms: Option<u32>,
}

/// Which packages an import accepts, and its limits.
#[napi(object)]
#[derive(Debug, Default)]
pub struct MarketImportOptions {
    /// Public keys (minisign `.pub` file text or base64 line) whose
    /// signatures are accepted.
    pub trusted_keys: Option<Vec<String>>,
    /// Accept unsigned packages.
    pub allow_unsigned: Option<bool>,
    /// Accept packages signed by a key not in `trustedKeys` (a signature
    /// that does not verify is never accepted).
    pub allow_untrusted: Option<bool>,
    /// Free space to leave untouched on the market's filesystem, in bytes.
    pub reserve_bytes: Option<i64>,
}

/// The registry images are relocated to, and how to reach it.
#[napi(object)]
#[derive(Debug)]
pub struct RegistryOptions {
    /// `host[:port][/prefix]`.
    pub registry: String,
    /// Plain HTTP instead of HTTPS (a registry on 127.0.0.1 or a trusted
    /// network).
    pub insecure: Option<bool>,
    /// User name (with `password`), sent as Basic auth to the registry or
    /// its token service; anonymous when absent.
    pub username: Option<String>,
    /// Password of `username`.
    pub password: Option<String>,
    /// A PEM file of extra certificate authorities to trust (the private
    /// CA of an air-gapped site).
    pub ca_file: Option<String>,
    /// A containers auth file (`auth.json` of `skopeo login`) or Docker
    /// `config.json` to take the credentials from.
    pub auth_file: Option<String>,
}

impl RegistryOptions {
    pub(crate) fn target(&self) -> std::result::Result<RegistryTarget, ErrorReport> {
        let mut target = RegistryTarget::new(self.registry.clone());
        target.insecure = self.insecure.unwrap_or(false);
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => {
                target = target.with_credentials(user.clone(), password.clone());
            }
            (None, None) => {}
            _ => {
                return Err(invalid(
                    "username",
                    "give both `username` and `password`, or neither".to_owned(),
                ));
            }
        }
        if let Some(path) = &self.ca_file {
            target = target.with_ca_file(path).map_err(classified)?;
        }
        if let Some(path) = &self.auth_file {
            target = target.with_auth_file(path).map_err(classified)?;
        }
        Ok(target)
    }
}

/// How a relocation works.
#[napi(object)]
#[derive(Debug, Default)]
pub struct MarketRelocateOptions {
    /// Blobs uploaded at once (default 4).
    pub parallelism: Option<u32>,
    /// Blobs larger than this many bytes are uploaded in chunks of it.
    pub chunk_size: Option<i64>,
    /// Also put each manifest by its image's tag (default true).
    pub push_tags: Option<bool>,
    /// Timeout of one HTTP request in seconds (default 600).
    pub request_timeout_seconds: Option<u32>,
}

impl MarketRelocateOptions {
    pub(crate) fn options(&self) -> std::result::Result<RelocateOptions, ErrorReport> {
        let mut options = RelocateOptions::default();
        if let Some(n) = self.parallelism {
            options.parallelism = n.max(1) as usize;
        }
        if let Some(n) = self.chunk_size {
            options.chunk_size = size("chunkSize", n)?;
        }
        if let Some(b) = self.push_tags {
            options.push_tags = b;
        }
        if let Some(s) = self.request_timeout_seconds {
            options.request_timeout = Duration::from_secs(u64::from(s));
        }
        Ok(options)
    }
}

fn export_request(options: &ExportOptions) -> std::result::Result<ExportRequest, ErrorReport> {
    let versions: Vec<&str> = options.versions.iter().map(String::as_str).collect();
    let mut request = ExportRequest::new(&options.template, &versions);
    request.allow_draft = options.allow_draft.unwrap_or(false);
    if let Some(base) = &options.base {
        request = request.with_base(match (&base.versions, &base.inventory) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "base",
                    "give `versions` or `inventory`, not both".to_owned(),
                ));
            }
            (Some(v), None) => ExportBase::Versions(v.clone()),
            (None, Some(inventory)) => ExportBase::Inventory(
                from_data::<Inventory>(inventory.clone()).map_err(|e| e.report())?,
            ),
            (None, None) => ExportBase::Full,
        });
    }
    if let Some(key) = &options.signing_key {
        let key = SecretKey::from_file_text(key).map_err(classified)?;
        request = request.signed_with(&key);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    match options.compression.as_deref() {
        None | Some("zstd") => {
            request = request.with_compression(Compression::Zstd {
                level: options.level.unwrap_or(3),
                workers,
            });
        }
        Some("none") => request = request.with_compression(Compression::None),
        Some(other) => {
            return Err(invalid(
                "compression",
                format!("`{other}` is not a compression; use `zstd` or `none`"),
            ));
        }
    }
    Ok(request)
}

#[napi]
impl Market {
    /// Opens the market at `root`, creating an empty one when the directory
    /// does not exist or is empty.
    #[napi(factory)]
    pub fn open(env: &Env, root: String, options: Option<MarketOpenOptions>) -> Result<Market> {
        let mut open = template_market::MarketOptions::default();
        if let Some(ms) = options.and_then(|o| o.lock_timeout_ms) {
            open.lock_timeout = Some(Duration::from_millis(u64::from(ms)));
        }
        template_market::Market::open_with(&root, &open)
            .map(|inner| Market { inner })
            .map_err(|e| thrown(env, &e))
    }

    /// The market's directory.
    #[napi(getter)]
    pub fn root(&self) -> String {
        self.inner.root().display().to_string()
    }

    /// Adds the images of an OCI image layout directory (all of them, or
    /// those named in `names`); resolves to their references.
    #[napi(ts_return_type = "Promise<Array<ImageRef>>")]
    pub fn add_oci_layout(
        &self,
        dir: String,
        names: Option<Vec<String>>,
    ) -> AsyncTask<Blocking<Vec<template_market::ImageRef>, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || {
            let names = names.unwrap_or_default();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            market
                .add_oci_layout(Path::new(&dir), &names)
                .map_err(classified)
        }))
    }

    /// Adds the images of a `docker save` tarball; resolves to their
    /// references.
    #[napi(ts_return_type = "Promise<Array<ImageRef>>")]
    pub fn add_docker_archive(
        &self,
        path: String,
    ) -> AsyncTask<Blocking<Vec<template_market::ImageRef>, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || {
            market
                .add_docker_archive(Path::new(&path))
                .map_err(classified)
        }))
    }

    /// Stores a blob (e.g. a logo) and returns its digest.
    #[napi]
    pub fn add_blob(&self, env: &Env, bytes: Buffer) -> Result<String> {
        self.inner.add_blob(&bytes).map_err(|e| thrown(env, &e))
    }

    /// Publishes a version: it must be valid, draft or testing, and every
    /// image and the logo must be in the market. An existing number is
    /// accepted only with identical content, or with `overwrite` of
    /// unreleased content (`VERSION_CONFLICT` otherwise).
    #[napi]
    pub fn publish(
        &self,
        env: &Env,
        version: &Template,
        options: Option<MarketPublishOptions>,
    ) -> Result<PublishOutcome> {
        let overwrite = match options.and_then(|o| o.overwrite) {
            Some(true) => Overwrite::Allow,
            _ => Overwrite::Refuse,
        };
        let outcome = self
            .inner
            .publish(&version.inner, overwrite)
            .map_err(|e| thrown(env, &e))?;
        convert(&outcome)
    }

    /// Every template with its versions, oldest first.
    #[napi(ts_return_type = "Array<TemplateSummary>")]
    pub fn templates(&self, env: &Env) -> Result<Value> {
        let all = self.inner.templates().map_err(|e| thrown(env, &e))?;
        convert(&all)
    }

    /// The versions of `template`, oldest first.
    #[napi(ts_return_type = "Array<VersionSummary>")]
    pub fn versions(&self, env: &Env, template: String) -> Result<Value> {
        let all = self
            .inner
            .versions(&template)
            .map_err(|e| thrown(env, &e))?;
        convert(&all)
    }

    /// One version's document (`NOT_FOUND` when the market lacks it).
    #[napi]
    pub fn version(&self, env: &Env, template: String, version: String) -> Result<Template> {
        self.inner
            .version(&template, &version)
            .map(Template::from)
            .map_err(|e| thrown(env, &e))
    }

    /// Every image the market names.
    #[napi(ts_return_type = "Array<ImageRef>")]
    pub fn images(&self, env: &Env) -> Result<Value> {
        let all = self.inner.images().map_err(|e| thrown(env, &e))?;
        convert(&all)
    }

    /// Moves a version to another release state, as the life cycle allows
    /// (`RELEASE_STATE` otherwise).
    #[napi(ts_args_type = "template: string, version: string, state: ReleaseState")]
    pub fn set_release_state(
        &self,
        env: &Env,
        template: String,
        version: String,
        state: String,
    ) -> Result<()> {
        let state: ReleaseState =
            parse_release_state(&state).map_err(|e| Error::new(Status::InvalidArg, e))?;
        self.inner
            .set_release_state(&template, &version, state)
            .map_err(|e| thrown(env, &e))
    }

    /// What the market holds (blob digests and versions), to hand to
    /// whoever prepares differential packages for it.
    #[napi(ts_return_type = "Inventory")]
    pub fn inventory(&self, env: &Env) -> Result<Value> {
        let inventory = self.inner.inventory().map_err(|e| thrown(env, &e))?;
        convert(&inventory)
    }

    /// Removes a version from the catalog; released and deprecated ones
    /// need `force`. Blobs are freed by `gc`.
    #[napi]
    pub fn delete_version(
        &self,
        env: &Env,
        template: String,
        version: String,
        options: Option<DeleteOptions>,
    ) -> Result<()> {
        let force = options.and_then(|o| o.force).unwrap_or(false);
        self.inner
            .delete_version(&template, &version, force)
            .map_err(|e| thrown(env, &e))
    }

    /// Removes blobs no version uses.
    #[napi(ts_return_type = "Promise<GcReport>")]
    pub fn gc(&self) -> AsyncTask<Blocking<template_market::GcReport, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || market.gc().map_err(classified)))
    }

    /// Hashes every blob and checks every reference; resolves to what was
    /// found (an empty `problems` when the market is sound).
    #[napi(ts_return_type = "Promise<VerifyReport>")]
    pub fn verify(&self) -> AsyncTask<Blocking<template_market::VerifyReport, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || market.verify().map_err(classified)))
    }

    /// Writes an offline package of `options.versions`: full, or
    /// differential against `options.base`; signed with
    /// `options.signingKey`; one file or parts of `options.partSize`.
    /// `progress` receives reports while it runs.
    #[napi(
        ts_args_type = "options: ExportOptions, progress?: (report: TransferProgress) => unknown",
        ts_return_type = "Promise<ExportReport>"
    )]
    pub fn export(
        &self,
        options: ExportOptions,
        progress: Option<ProgressCallback<Value>>,
    ) -> AsyncTask<Blocking<template_market::ExportReport, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || {
            let request = export_request(&options)?;
            // Called without waiting for JavaScript: the callback cannot
            // cancel, so the operation always continues.
            let mut on_progress = |p: &template_market::Progress<'_>| {
                forward(progress.as_ref(), p);
                std::ops::ControlFlow::Continue(())
            };
            let path = PathBuf::from(&options.path);
            match options.part_size {
                Some(part_size) => market.export_to_parts(
                    &request,
                    &path,
                    size("partSize", part_size)?,
                    &mut on_progress,
                ),
                None => market.export_to_file(&request, &path, &mut on_progress),
            }
            .map_err(classified)
        }))
    }

    /// Imports a package: a file, or its parts in order. Unsigned or
    /// untrusted packages are refused (`SIGNATURE_INVALID`) unless
    /// `options` allow them; a damaged package is `PACKAGE_INTEGRITY`; a
    /// differential one whose base is missing is `MISSING_BASE`. Nothing
    /// changes unless everything verifies; importing again changes nothing.
    #[napi(
        ts_args_type = "source: string | Array<string>, options?: MarketImportOptions, progress?: (report: TransferProgress) => unknown",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import(
        &self,
        source: napi::Either<String, Vec<String>>,
        options: Option<MarketImportOptions>,
        progress: Option<ProgressCallback<Value>>,
    ) -> AsyncTask<Blocking<template_market::ImportReport, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || {
            let options = options.unwrap_or_default();
            let keys = options
                .trusted_keys
                .iter()
                .flatten()
                .map(|k| public_key(k))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let import_options = ImportOptions {
                trust: Trust {
                    keys,
                    allow_unsigned: options.allow_unsigned.unwrap_or(false),
                    allow_untrusted: options.allow_untrusted.unwrap_or(false),
                },
                reserve_bytes: size("reserveBytes", options.reserve_bytes.unwrap_or(0))?,
                ..ImportOptions::default()
            };
            // Called without waiting for JavaScript: the callback cannot
            // cancel, so the operation always continues.
            let mut on_progress = |p: &template_market::Progress<'_>| {
                forward(progress.as_ref(), p);
                std::ops::ControlFlow::Continue(())
            };
            match source {
                napi::Either::A(file) => {
                    market.import_file(Path::new(&file), &import_options, &mut on_progress)
                }
                napi::Either::B(parts) => {
                    let parts: Vec<PathBuf> = parts.into_iter().map(PathBuf::from).collect();
                    market.import_parts(&parts, &import_options, &mut on_progress)
                }
            }
            .map_err(classified)
        }))
    }

    /// Pushes every image of `template` `version` to a registry over the
    /// OCI distribution API, skipping what it has; a rerun sends only what
    /// is missing.
    #[napi(
        ts_args_type = "template: string, version: string, target: RegistryOptions, options?: MarketRelocateOptions, progress?: (report: RelocateProgress) => unknown",
        ts_return_type = "Promise<RelocateReport>"
    )]
    pub fn relocate_version(
        &self,
        template: String,
        version: String,
        target: RegistryOptions,
        options: Option<MarketRelocateOptions>,
        progress: Option<ProgressCallback<Value>>,
    ) -> AsyncTask<Blocking<template_market::RelocateReport, Data>> {
        let market = self.inner.clone();
        AsyncTask::new(Blocking::data(move || {
            let target = target.target()?;
            let options = options.unwrap_or_default().options()?;
            let mut on_progress = |p: &template_market::RelocateProgress<'_>| {
                forward(progress.as_ref(), p);
                std::ops::ControlFlow::Continue(())
            };
            market
                .relocate_version(&template, &version, &target, &options, &mut on_progress)
                .map_err(classified)
        }))
    }
}

/// A signing key pair, as text to store.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The key's id, as minisign prints it.
    #[napi(js_name = "key_id")]
    pub key_id: String,
    /// The public key as one base64 line (`minisign -P`); give it to
    /// everyone who imports your packages.
    #[napi(js_name = "public_key")]
    pub public_key: String,
    /// The public key in minisign's `.pub` file format.
    #[napi(js_name = "public_key_file")]
    pub public_key_file: String,
    /// The secret key in minisign's (unencrypted) key file format; keep it
    /// secret, it signs packages.
    #[napi(js_name = "secret_key")]
    pub secret_key: String,
}

/// Creates a new Ed25519 key pair for signing packages (from the operating
/// system's random source). The secret key is not password-protected:
/// store it like any other credential.
#[napi]
pub fn generate_key_pair(env: &Env) -> Result<KeyPair> {
    let pair = template_market::generate_key_pair().map_err(|e| thrown(env, &e))?;
    Ok(KeyPair {
        key_id: pair.public.key_id(),
        public_key: pair.public.to_base64(),
        public_key_file: pair.public.to_file_text().map_err(|e| thrown(env, &e))?,
        secret_key: pair.secret.to_file_text().map_err(|e| thrown(env, &e))?,
    })
}
