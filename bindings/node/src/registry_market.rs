//! `RegistryMarket`: the market on an OCI registry
//! (`oci://host[:port]/namespace`) of `template-market`.
//!
//! Every method asks the registry, so every one returns a Promise whose
//! work runs on libuv's thread pool. Options, registries, progress, errors
//! and the optional trailing `AbortSignal` work as for `Market`.

use std::time::SystemTime;

use apptemplate_interop::{Classify, parse_release_state};
use napi::bindgen_prelude::{AsyncTask, Env, Object, Result};
use napi_derive::napi;
use serde_json::Value;
use template_core::{Overwrite, ValidatedVersion};
use template_market::{PullOptions, RelocateOptions, SecretKey};

use crate::document::Template;
use crate::errors::js_error;
use crate::market::{Market, MarketPublishOptions, registry_access};
use crate::options::read_options;
use crate::task::{Abort, Blocking, Data, ProgressCallback, report};

/// Hands a progress report to the callback as its Rust JSON.
fn forward<T: serde::Serialize>(callback: Option<&ProgressCallback<Value>>, progress: &T) {
    if let Ok(value) = apptemplate_interop::to_data(progress) {
        report(callback, value);
    }
}

/// A market on an OCI registry, at `oci://host[:port]/namespace`.
#[napi]
#[derive(Debug, Clone)]
pub struct RegistryMarket {
    inner: template_market::RegistryMarket,
}

#[napi]
impl RegistryMarket {
    /// The market at `location` (`oci://host[:port]/namespace`), reached
    /// with the entry of `registries` for its registry (`host[:port]`
    /// strings or `RegistryAccess` objects, as for
    /// `Market.relocateVersion`), else over HTTPS with the default
    /// `auth.json`. Nothing is asked of the registry until an operation
    /// runs.
    #[napi(
        constructor,
        ts_args_type = "location: string, registries?: Array<string | RegistryAccess> | null"
    )]
    pub fn new(env: Env, location: String, registries: Option<Vec<Value>>) -> Result<Self> {
        let accesses = registries
            .unwrap_or_default()
            .into_iter()
            .map(registry_access)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| js_error(&env, &e))?;
        template_market::RegistryMarket::open(&location, &accesses)
            .map(|inner| RegistryMarket { inner })
            .map_err(|e| js_error(&env, &e.report()))
    }

    /// The market's location, `oci://host[:port]/namespace`.
    #[napi(getter)]
    pub fn location(&self) -> String {
        self.inner.location().to_owned()
    }

    /// Publishes `template` `version` of the local `market` here: its
    /// images, then its artifact. `options` is the Rust `RelocateOptions`;
    /// `publish.overwrite` allows replacing unreleased content under the
    /// same number. `progress` gets the relocation's reports. Aborted, it
    /// stops at the next report (a rerun resumes). Resolves to
    /// `{outcome, reference, artifact, transfer}`.
    #[napi(
        ts_args_type = "market: Market, template: string, version: string, options?: RelocateOptions | null, publish?: MarketPublishOptions | null, progress?: (report: RelocateProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<RegistryPublishReport>"
    )]
    pub fn publish_from(
        &self,
        env: &Env,
        market: &Market,
        template: String,
        version: String,
        options: Option<Value>,
        publish: Option<MarketPublishOptions>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::RegistryPublishReport, Data>>> {
        let (remote, local) = (self.inner.clone(), market.inner.clone());
        let overwrite = if publish.and_then(|p| p.overwrite).unwrap_or(false) {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("publishing to the registry market")?;
            let options: RelocateOptions = read_options(options).map_err(|e| e.report())?;
            let mut on_progress = |p: &template_market::RelocateProgress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
            };
            remote
                .publish_from(
                    &local,
                    &template,
                    &version,
                    overwrite,
                    &options,
                    &mut on_progress,
                )
                .map_err(|e| e.report())
        })))
    }

    /// The versions of `template`, oldest first, as
    /// `{template, version, state, content_digest}`.
    #[napi(
        ts_args_type = "template: string, signal?: AbortSignal",
        ts_return_type = "Promise<Array<VersionSummary>>"
    )]
    pub fn versions(
        &self,
        env: &Env,
        template: String,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Vec<template_market::VersionSummary>, Data>>> {
        let remote = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("listing versions")?;
            remote.versions(&template).map_err(|e| e.report())
        })))
    }

    /// Every template with its versions.
    #[napi(
        ts_args_type = "signal?: AbortSignal",
        ts_return_type = "Promise<Array<TemplateSummary>>"
    )]
    pub fn templates(
        &self,
        env: &Env,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Vec<template_market::TemplateSummary>, Data>>> {
        let remote = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("listing templates")?;
            remote.templates().map_err(|e| e.report())
        })))
    }

    /// One version's document, with its current release state.
    #[napi(
        ts_args_type = "template: string, version: string, signal?: AbortSignal",
        ts_return_type = "Promise<Template>"
    )]
    pub fn version(
        &self,
        env: &Env,
        template: String,
        version: String,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<ValidatedVersion, Template>>> {
        let remote = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::new(
            move || {
                abort.check("reading a version")?;
                remote.version(&template, &version).map_err(|e| e.report())
            },
            |doc| Ok(Template::from(doc)),
        )))
    }

    /// The release transitions of a version, in chain order.
    #[napi(
        ts_args_type = "template: string, version: string, signal?: AbortSignal",
        ts_return_type = "Promise<Array<ReleaseTransition>>"
    )]
    pub fn transitions(
        &self,
        env: &Env,
        template: String,
        version: String,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Vec<template_market::ReleaseTransition>, Data>>> {
        let remote = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("reading transitions")?;
            remote
                .transitions(&template, &version)
                .map_err(|e| e.report())
        })))
    }

    /// Moves a version to another release state, as the life cycle
    /// allows, by writing a transition (signed with `signingKey`, secret
    /// key file text, when given) dated now. Resolves to the transition,
    /// or null when the version is in `state` already.
    #[napi(
        ts_args_type = "template: string, version: string, state: ReleaseState, signingKey?: string | null, signal?: AbortSignal",
        ts_return_type = "Promise<ReleaseTransition | null>"
    )]
    pub fn set_release_state(
        &self,
        env: &Env,
        template: String,
        version: String,
        state: String,
        signing_key: Option<String>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<Option<template_market::ReleaseTransition>, Data>>> {
        let remote = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("setting the release state")?;
            let state = parse_release_state(&state).map_err(|e| e.report())?;
            let key = signing_key
                .map(|text| text.parse::<SecretKey>())
                .transpose()
                .map_err(|e| e.report())?;
            remote
                .set_release_state(&template, &version, state, key.as_ref(), SystemTime::now())
                .map_err(|e| e.report())
        })))
    }

    /// Pulls a version and its images from here into the local `market`,
    /// with its current release state. `options` is the Rust
    /// `PullOptions`; `progress` gets the pull's reports. Aborted, it stops
    /// at the next report (a rerun resumes). Resolves to
    /// `{outcome, pull}`.
    #[napi(
        ts_args_type = "market: Market, template: string, version: string, options?: PullOptions | null, progress?: (report: PullProgress) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<FetchReport>"
    )]
    pub fn fetch_into(
        &self,
        env: &Env,
        market: &Market,
        template: String,
        version: String,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<AsyncTask<Blocking<template_market::FetchReport, Data>>> {
        let (remote, local) = (self.inner.clone(), market.inner.clone());
        let abort = Abort::watch(env, signal)?;
        Ok(AsyncTask::new(Blocking::data(move || {
            abort.check("fetching from the registry market")?;
            let options: PullOptions = read_options(options).map_err(|e| e.report())?;
            let mut on_progress = |p: &template_market::PullProgress<'_>| {
                forward(progress.as_ref(), p);
                abort.flow()
            };
            remote
                .fetch_into(&local, &template, &version, &options, &mut on_progress)
                .map_err(|e| e.report())
        })))
    }
}
