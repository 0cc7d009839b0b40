//! `Market`: the local market of `template-market` (templates, versions and
//! their images in an OCI layout), with offline packages and relocation.
//!
//! Reads and small mutations are synchronous. Adding images, exports,
//! imports, relocation, `gc` and `verify` return Promises: they run on
//! libuv's thread pool and report progress through a callback that never
//! holds them up. Each takes an optional `AbortSignal` last: aborted, the
//! operation stops at its next safe point (a progress report, or before it
//! starts) and rejects with `CANCELLED`; what it wrote stays valid, and a
//! rerun resumes.

use std::path::{Path, PathBuf};

use apptemplate_interop::{Classify, ErrorReport, from_data, parse_release_state, to_data};
use napi::bindgen_prelude::{AsyncTask, Buffer, Env, Object, Result};
use napi_derive::napi;
use serde_json::Value;
use template_core::{Overwrite, ReleaseState};
use template_market::{
    ExportOptions, ImportOptions, MarketOptions, RegistryAccess, RelocateOptions,
};

use crate::data::{PublishOutcome, convert};
use crate::document::Template;
use crate::errors::{js_error, thrown};
use crate::options::read_options;
use crate::task::{Abort, Blocking, Data, ProgressCallback, report};

/// An error of the market, classified.
fn classified(err: template_market::MarketError) -> ErrorReport {
    err.report()
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

/// A registry given as `host[:port][/prefix]` or as a `RegistryAccess`
/// object, read as the Rust `RegistryAccess`.
pub(crate) fn registry_access(target: Value) -> std::result::Result<RegistryAccess, ErrorReport> {
    match target {
        Value::String(registry) => Ok(RegistryAccess::new(registry)),
        value => from_data(value).map_err(|e| e.report()),
    }
}

/// Options read with serde as the Rust type defines them, classified.
fn options<T: serde::de::DeserializeOwned + Default>(
    value: Option<Value>,
) -> std::result::Result<T, ErrorReport> {
    read_options(value).map_err(|e| e.report())
}

#[napi]
impl Market {
    /// Opens the market at `root`, creating an empty one when the directory
    /// does not exist or is empty. `options` is the Rust `MarketOptions`
    /// (`lock_timeout_seconds`: give up waiting for another process's lock
    /// with code `LOCKED`; without it, wait as long as it takes).
    #[napi(factory, ts_args_type = "root: string, options?: MarketOptions")]
    pub fn open(env: &Env, root: String, options: Option<Value>) -> Result<Market> {
        let options: MarketOptions = self::options(options).map_err(|r| js_error(env, &r))?;
        template_market::Market::open_with(&root, &options)
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
    #[napi(
        ts_args_type = "dir: string, names?: Array<string> | null, signal?: AbortSignal",
        ts_return_type = "Promise<Array<ImageRef>>"
    )]
    pub fn add_oci_layout(
        &self,
        env: &Env,
        dir: String,
        names: Option<Vec<String>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Vec<template_market::ImageRef>, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("adding images")?;
            let names = names.unwrap_or_default();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            market
                .add_oci_layout(Path::new(&dir), &names)
                .map_err(classified)
        })))
    }

    /// Adds the images of a `docker save` tarball; resolves to their
    /// references.
    #[napi(
        ts_args_type = "path: string, signal?: AbortSignal",
        ts_return_type = "Promise<Array<ImageRef>>"
    )]
    pub fn add_docker_archive(
        &self,
        env: &Env,
        path: String,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Vec<template_market::ImageRef>, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("adding images")?;
            market
                .add_docker_archive(Path::new(&path))
                .map_err(classified)
        })))
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

    /// One version's document (`NOT_FOUND` when the market lacks it),
    /// validated as it is read: plans to it do not validate it again.
    #[napi]
    pub fn version(&self, env: &Env, template: String, version: String) -> Result<Template> {
        self.inner
            .version(&template, &version)
            .map(Template::from)
            .map_err(|e| thrown(env, &e))
    }

    /// One version's document as stored (`NOT_FOUND` when the market
    /// lacks it), not validated: it can be shown and compared even if it
    /// fails this release's rules.
    #[napi]
    pub fn document(&self, env: &Env, template: String, version: String) -> Result<Template> {
        self.inner
            .document(&template, &version)
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
        let state: ReleaseState = parse_release_state(&state).map_err(|e| thrown(env, &e))?;
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
    #[napi(
        ts_args_type = "signal?: AbortSignal",
        ts_return_type = "Promise<GcReport>"
    )]
    pub fn gc(
        &self,
        env: &Env,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::GcReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("gc")?;
            market.gc().map_err(classified)
        })))
    }

    /// Hashes every blob and checks every reference; resolves to what was
    /// found (an empty `problems` when the market is sound).
    #[napi(
        ts_args_type = "signal?: AbortSignal",
        ts_return_type = "Promise<VerifyReport>"
    )]
    pub fn verify(
        &self,
        env: &Env,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::VerifyReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("verify")?;
            market.verify().map_err(classified)
        })))
    }

    /// Writes an offline package of `versions` of `template` to `path`
    /// (with `options.part_size`, parts `<path>.part-000`, ...): full, or
    /// differential against `options.base`; signed with
    /// `options.signing_key`. `options` is the Rust `ExportOptions`.
    /// `progress` receives reports while it runs.
    #[napi(
        ts_args_type = "path: string, template: string, versions: Array<string>, options?: ExportOptions, progress?: (report: TransferProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<ExportReport>"
    )]
    pub fn export(
        &self,
        env: &Env,
        path: String,
        template: String,
        versions: Vec<String>,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::ExportReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("export")?;
            let options: ExportOptions = self::options(options)?;
            let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
            let request = options.request(&template, &refs);
            // The callback is called without waiting for JavaScript, so
            // only the signal stops the operation.
            let mut on_progress = |p: &template_market::Progress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
            };
            let path = PathBuf::from(&path);
            match options.part_size {
                Some(size) => market.export_to_parts(&request, &path, size.get(), &mut on_progress),
                None => market.export_to_file(&request, &path, &mut on_progress),
            }
            .map_err(classified)
        })))
    }

    /// Imports a package: a file, or its parts in order. Unsigned or
    /// untrusted packages are refused (`SIGNATURE_INVALID`) unless
    /// `options` allow them; a damaged package is `PACKAGE_INTEGRITY`; a
    /// differential one whose base is missing is `MISSING_BASE`. Nothing
    /// changes unless everything verifies; importing again changes nothing.
    #[napi(
        ts_args_type = "source: string | Array<string>, options?: ImportOptions, progress?: (report: TransferProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<ImportReport>"
    )]
    pub fn import(
        &self,
        env: &Env,
        source: napi::Either<String, Vec<String>>,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::ImportReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("import")?;
            let import_options: ImportOptions = self::options(options)?;
            // The callback is called without waiting for JavaScript, so
            // only the signal stops the operation.
            let mut on_progress = |p: &template_market::Progress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
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
        })))
    }

    /// Pushes every image of `template` `version` to a registry (given as
    /// `host[:port][/prefix]` or a `RegistryAccess`) over the OCI
    /// distribution API, skipping what it has; a rerun sends only what is
    /// missing. `options` is the Rust `RelocateOptions`.
    #[napi(
        ts_args_type = "template: string, version: string, target: string | RegistryAccess, options?: RelocateOptions, progress?: (report: RelocateProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<RelocateReport>"
    )]
    pub fn relocate_version(
        &self,
        env: &Env,
        template: String,
        version: String,
        target: Value,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::RelocateReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("relocate version")?;
            let target = registry_access(target)?.target().map_err(classified)?;
            let options: RelocateOptions = self::options(options)?;
            let mut on_progress = |p: &template_market::RelocateProgress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
            };
            market
                .relocate_version(&template, &version, &target, &options, &mut on_progress)
                .map_err(classified)
        })))
    }

    /// Pulls images (`host[:port]/repository[:tag][@sha256:…]`, all on the
    /// source registry, given as `host[:port]` or a `RegistryAccess`) into
    /// the market over the OCI distribution API: blobs the market has are
    /// skipped, an interrupted pull resumes, a multi-platform image keeps
    /// its whole index unless `options.platforms` filters it. `options` is
    /// the Rust `PullOptions`. Resolves to the report with each image as
    /// the market names it.
    #[napi(
        ts_args_type = "images: Array<string>, source: string | RegistryAccess, options?: PullOptions, progress?: (report: PullProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<PullReport>"
    )]
    pub fn pull(
        &self,
        env: &Env,
        images: Vec<String>,
        source: Value,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::PullReport, Data>>> {
        let market = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("pull")?;
            let source = registry_access(source)?.target().map_err(classified)?;
            let options: template_market::PullOptions = self::options(options)?;
            let mut on_progress = |p: &template_market::PullProgress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
            };
            market
                .pull(&images, &source, &options, &mut on_progress)
                .map_err(classified)
        })))
    }
}

/// Creates a new Ed25519 key pair for signing packages (from the operating
/// system's random source), as the Rust `KeyPairText`: `{key_id,
/// public_key, public_key_file, secret_key}`. The secret key is not
/// password-protected: store it like any other credential.
#[napi(ts_return_type = "KeyPair")]
pub fn generate_key_pair(env: &Env) -> Result<Value> {
    let pair = template_market::generate_key_pair()
        .and_then(|pair| pair.to_text())
        .map_err(|e| thrown(env, &e))?;
    convert(&pair)
}
