//! `Delivery`: versions of a market to Kubernetes environments
//! (`template_delivery::Delivery`). Every operation returns a Promise
//! whose work runs on napi's tokio runtime; progress events (the Rust
//! `DeliveryEvent`s as plain objects, tagged by `phase`) reach the callback
//! through a threadsafe function called without blocking. Each operation
//! takes an optional `AbortSignal` last: aborted, an install, upgrade,
//! reconfiguration or rollback stops before its next wave (recorded as
//! partly applied; run it again to finish it, or roll it back), a
//! `deliver` before its next environment, a read at once; the Promise
//! rejects with `CANCELLED`.

use std::sync::Arc;

use apptemplate_interop::{Classify, ErrorReport, from_data, to_data};
use napi::bindgen_prelude::{Env, Object, PromiseRaw, Result};
use napi_derive::napi;
use serde_json::Value;
use template_core::{InstallOptions, RollbackOptions, UpgradeOptions};
use template_delivery::{DeliveryEvent, DeliveryOptions, EnvironmentOutcome};
use template_k8s::{EnvironmentProfile, StopSignal};

use crate::errors::js_error;
use crate::market::Market;
use crate::options::read_options;
use crate::task::{Abort, ProgressCallback, report};

/// Delivers the versions of a market to environments: release gate,
/// relocation of the images to the environment's registry, then install,
/// upgrade or rollback on its cluster, recorded there for later rollbacks.
#[napi]
#[derive(Debug, Clone)]
pub struct Delivery {
    inner: Arc<template_delivery::Delivery>,
    /// The signal of the operations started since the last `stop()`.
    stop: Arc<std::sync::Mutex<StopSignal>>,
}

type Outcome<T> = std::result::Result<T, ErrorReport>;

/// Reads an environment profile given as a plain object (`DOCUMENT_INVALID`
/// naming the field when it does not fit).
fn profile(value: Value) -> Outcome<EnvironmentProfile> {
    from_data(value).map_err(|e| e.report())
}

fn data<T: serde::Serialize>(value: &T) -> Outcome<Value> {
    to_data(value).map_err(|e| {
        template_core::Error::Write {
            message: e.to_string(),
        }
        .report()
    })
}

/// The plain form of one environment's outcome; its error, if any, as
/// `{code, message, details}`.
fn outcome_data(outcome: &EnvironmentOutcome) -> Outcome<Value> {
    apptemplate_interop::outcome_data(outcome).map_err(|e| {
        template_core::Error::Write {
            message: e.to_string(),
        }
        .report()
    })
}

/// A progress function for the Rust side that forwards every event.
fn forward(
    callback: Option<ProgressCallback<Value>>,
) -> impl Fn(&DeliveryEvent) + Send + Sync + 'static {
    move |event: &DeliveryEvent| {
        if let Ok(value) = to_data(event) {
            report(callback.as_ref(), value);
        }
    }
}

/// Runs `work` on napi's tokio runtime; the Promise resolves to its value
/// or rejects with its classified error.
fn promise<'env, F>(env: &'env Env, work: F) -> Result<PromiseRaw<'env, Value>>
where
    F: std::future::Future<Output = Outcome<Value>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(work.await) }, |env, out| match out {
        Ok(value) => Ok(value),
        Err(report) => Err(js_error(env, &report)),
    })
}

impl Delivery {
    /// The delivery for one operation, stopped by `stop()` or by its own
    /// `AbortSignal`.
    fn running(
        &self,
        env: &Env,
        signal: Option<Object<'_>>,
    ) -> Result<Arc<template_delivery::Delivery>> {
        let shared = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let abort = Abort::watch_under(env, signal, &shared)?;
        Ok(Arc::new(
            self.inner.as_ref().clone().with_stop(abort.stop_signal()),
        ))
    }
}

#[napi]
impl Delivery {
    /// A delivery from `market` with `options`, the Rust
    /// `DeliveryOptions`: `kubeconfig`, `registries` (`RegistryAccess`
    /// objects), `executor` (`identity`, `wait_timeout_seconds`,
    /// `poll_interval_seconds`, `concurrency`, `lease_duration_seconds`,
    /// `exposure`) and `relocate` (`RelocateOptions`).
    #[napi(
        constructor,
        ts_args_type = "market: Market, options?: DeliveryOptions"
    )]
    pub fn new(env: Env, market: &Market, options: Option<Value>) -> Result<Self> {
        let options: DeliveryOptions =
            read_options(options).map_err(|e| js_error(&env, &e.report()))?;
        let inner = template_delivery::Delivery::from_options(market.inner.clone(), &options)
            .map_err(|e| js_error(&env, &e.report()))?;
        Ok(Delivery {
            inner: Arc::new(inner),
            stop: Arc::default(),
        })
    }

    /// Stops the operations of this delivery running now at their next
    /// safe point: an install, upgrade, reconfiguration or rollback before
    /// its next wave (it then rejects with `CANCELLED`, recorded as partly
    /// applied; run it again to finish it), a `deliver` before its next
    /// environment. Operations started afterwards are not affected. To
    /// stop one operation only, pass it an `AbortSignal`.
    #[napi]
    pub fn stop(&self) {
        let mut current = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.stop();
        *current = StopSignal::new();
    }

    /// The installed state of `template` in the environment, or null when
    /// it is not installed there.
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, signal?: AbortSignal",
        ts_return_type = "Promise<InstalledState | null>"
    )]
    pub fn state<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        promise(env, async move {
            let work = async {
                let profile = profile(environment)?;
                let state = delivery
                    .state(&profile, &template)
                    .await
                    .map_err(|e| e.report())?;
                data(&state)
            };
            abort.race("reading the state", work).await
        })
    }

    /// The recorded operations on `template` in the environment, oldest
    /// first (revisions to roll back to).
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, signal?: AbortSignal",
        ts_return_type = "Promise<Array<RecordSummary>>"
    )]
    pub fn history<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.inner.clone();
        let abort = Abort::watch(env, signal)?;
        promise(env, async move {
            let work = async {
                let profile = profile(environment)?;
                let history = delivery
                    .history(&profile, &template)
                    .await
                    .map_err(|e| e.report())?;
                data(&history)
            };
            abort.race("reading the history", work).await
        })
    }

    /// Installs `template` `version` into the environment: release gate
    /// (`RELEASE_GATE`), relocation of its images to the profile's
    /// registry, then every component in dependency waves, waiting for
    /// readiness (`ROLLOUT_FAILED` when one does not become ready).
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, version: string, options?: InstallOptions | null, progress?: (event: DeliveryEvent) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<OperationReport>"
    )]
    pub fn install<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        version: String,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.running(env, signal)?;
        let options: Outcome<InstallOptions> = read_options(options).map_err(|e| e.report());
        promise(env, async move {
            let (profile, options) = (profile(environment)?, options?);
            let report = delivery
                .install(&profile, &template, &version, &options, &forward(progress))
                .await
                .map_err(|e| e.report())?;
            data(&report)
        })
    }

    /// Upgrades the environment's installation of `template` to version
    /// `to`; the installed version is read from the cluster, both documents
    /// from the market. Values users changed on the cluster are kept.
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, to: string, options?: UpgradeOptions | null, progress?: (event: DeliveryEvent) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<OperationReport>"
    )]
    pub fn upgrade<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        to: String,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.running(env, signal)?;
        let options: Outcome<UpgradeOptions> = read_options(options).map_err(|e| e.report());
        promise(env, async move {
            let (profile, options) = (profile(environment)?, options?);
            let report = delivery
                .upgrade(&profile, &template, &to, &options, &forward(progress))
                .await
                .map_err(|e| e.report())?;
            data(&report)
        })
    }

    /// Reconfigures the environment's installation of `template` at its
    /// installed version: modules on or off, pruning, override values, as
    /// `options` says. Recorded as a revision (rollback-able); when
    /// nothing changes the report says `unchanged` and nothing is recorded.
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, options?: UpgradeOptions | null, progress?: (event: DeliveryEvent) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<OperationReport>"
    )]
    pub fn reconfigure<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.running(env, signal)?;
        let options: Outcome<UpgradeOptions> = read_options(options).map_err(|e| e.report());
        promise(env, async move {
            let (profile, options) = (profile(environment)?, options?);
            let report = delivery
                .reconfigure(&profile, &template, &options, &forward(progress))
                .await
                .map_err(|e| e.report())?;
            data(&report)
        })
    }

    /// Puts the environment's installation back to the state recorded
    /// before `revision` (see `history`).
    #[napi(
        ts_args_type = "environment: EnvironmentProfile, template: string, revision: number, options?: RollbackOptions | null, progress?: (event: DeliveryEvent) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<OperationReport>"
    )]
    pub fn rollback<'env>(
        &self,
        env: &'env Env,
        environment: Value,
        template: String,
        revision: u32,
        options: Option<Value>,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.running(env, signal)?;
        let options: Outcome<RollbackOptions> = read_options(options).map_err(|e| e.report());
        promise(env, async move {
            let (profile, options) = (profile(environment)?, options?);
            let report = delivery
                .rollback(&profile, &template, revision, &options, &forward(progress))
                .await
                .map_err(|e| e.report())?;
            data(&report)
        })
    }

    /// Delivers one version to several environments: every release gate
    /// is checked first (if one refuses, the Promise rejects with
    /// `RELEASE_GATE` and nothing is touched), images are relocated once
    /// per registry, then each environment is installed, upgraded or left
    /// unchanged. Resolves to one outcome per environment; a failed
    /// environment has `error` (`{code, message, details}`) and does not
    /// stop the others.
    #[napi(
        ts_args_type = "environments: Array<EnvironmentProfile>, template: string, version: string, progress?: (event: DeliveryEvent) => unknown, signal?: AbortSignal",
        ts_return_type = "Promise<Array<EnvironmentOutcome>>"
    )]
    pub fn deliver<'env>(
        &self,
        env: &'env Env,
        environments: Vec<Value>,
        template: String,
        version: String,
        progress: Option<ProgressCallback<Value>>,
        signal: Option<Object<'_>>,
    ) -> Result<PromiseRaw<'env, Value>> {
        let delivery = self.running(env, signal)?;
        promise(env, async move {
            let profiles = environments
                .into_iter()
                .map(profile)
                .collect::<Outcome<Vec<_>>>()?;
            let outcomes = delivery
                .deliver(&profiles, &template, &version, &forward(progress))
                .await
                .map_err(|e| e.report())?;
            let values = outcomes
                .iter()
                .map(outcome_data)
                .collect::<Outcome<Vec<_>>>()?;
            Ok(Value::Array(values))
        })
    }
}

/// Captures the application running in `environment`'s namespace (its
/// workloads narrowed by the label `selector`) as a draft version with the
/// report of every decision (Rust `template_k8s::capture`). Only reads the
/// cluster; `kubeconfig` defaults to `$KUBECONFIG` or `~/.kube/config`.
#[napi(
    ts_args_type = "environment: EnvironmentProfile, options?: CaptureOptions | null, selector?: string | null, kubeconfig?: string | null, signal?: AbortSignal",
    ts_return_type = "Promise<CaptureReport>"
)]
pub fn capture<'env>(
    env: &'env Env,
    environment: Value,
    options: Option<Value>,
    selector: Option<String>,
    kubeconfig: Option<String>,
    signal: Option<Object<'_>>,
) -> Result<PromiseRaw<'env, Value>> {
    let options: Outcome<template_k8s::CaptureOptions> =
        read_options(options).map_err(|e| e.report());
    let abort = Abort::watch(env, signal)?;
    promise(env, async move {
        let work = async {
            let (profile, options) = (profile(environment)?, options?);
            let client =
                template_k8s::connect(&profile, kubeconfig.as_deref().map(std::path::Path::new))
                    .await
                    .map_err(|e| e.report())?;
            let report =
                template_k8s::capture(&client, &profile.namespace, selector.as_deref(), &options)
                    .await
                    .map_err(|e| e.report())?;
            data(&report)
        };
        abort.race("capture", work).await
    })
}

/// Publishes the application running in `environment`'s namespace into
/// `market` in one step (Rust `template_delivery::publish_from_cluster`):
/// capture, pull of its images from their registries, digests pinned,
/// publish (the next minor version after the market's newest unless
/// `options.capture.version` names one; nothing when the application
/// equals it). `options` is the Rust `PublishFromClusterOptions`; `progress` gets the
/// Rust `PublishFromClusterProgress` reports, tagged by `stage`. Resolves to the
/// report.
#[napi(
    ts_args_type = "market: Market, environment: EnvironmentProfile, options?: PublishFromClusterOptions | null, selector?: string | null, kubeconfig?: string | null, progress?: (report: PublishFromClusterProgress) => unknown, signal?: AbortSignal",
    ts_return_type = "Promise<PublishFromClusterReport>"
)]
pub fn publish_from_cluster<'env>(
    env: &'env Env,
    market: &Market,
    environment: Value,
    options: Option<Value>,
    selector: Option<String>,
    kubeconfig: Option<String>,
    progress: Option<ProgressCallback<Value>>,
    signal: Option<Object<'_>>,
) -> Result<PromiseRaw<'env, Value>> {
    let options: Outcome<template_delivery::PublishFromClusterOptions> =
        read_options(options).map_err(|e| e.report());
    let market = market.inner.clone();
    let abort = Abort::watch(env, signal)?;
    promise(env, async move {
        abort.check("publishing from the cluster")?;
        let (profile, options) = (profile(environment)?, options?);
        let client =
            template_k8s::connect(&profile, kubeconfig.as_deref().map(std::path::Path::new))
                .await
                .map_err(|e| e.report())?;
        let mut forward = |p: &template_delivery::PublishFromClusterProgress| {
            if let Ok(value) = to_data(p) {
                report(progress.as_ref(), value);
            }
            abort.flow()
        };
        let published = template_delivery::publish_from_cluster(
            &client,
            &profile.namespace,
            selector.as_deref(),
            &market,
            &options,
            &mut forward,
        )
        .await
        .map_err(|e| e.report())?;
        data(&published)
    })
}

/// Converts API objects of one namespace (plain objects as the API returns
/// them, e.g. from manifest files) into a draft version and the report of
/// every decision, without a cluster (Rust
/// `template_k8s::capture::convert`): the same conversion `capture`
/// applies to what it reads.
#[napi(
    ts_args_type = "namespace: string, objects: Array<Record<string, any>>, options?: CaptureOptions | null",
    ts_return_type = "CaptureReport"
)]
pub fn capture_objects(
    env: Env,
    namespace: String,
    objects: Vec<Value>,
    options: Option<Value>,
) -> Result<Value> {
    let options: template_k8s::CaptureOptions =
        read_options(options).map_err(|e| js_error(&env, &e.report()))?;
    let objects = template_k8s::CapturedObjects::from_values(&namespace, objects)
        .map_err(|e| js_error(&env, &e.report()))?;
    data(&template_k8s::capture::convert(&objects, &options)).map_err(|e| js_error(&env, &e))
}
