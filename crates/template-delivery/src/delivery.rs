//! Delivery: a version of the local market to one or several environments.
//!
//! [`Delivery`] joins the market (`template-market`) and the
//! [`Executor`] (`template-k8s`): it reads the version documents from the market, checks
//! each environment's release gate, pushes the version's images to the
//! environment's registry before anything is applied, and then installs,
//! upgrades or rolls back, reporting progress as [`DeliveryEvent`]s.
//!
//! - [`Delivery::install`], [`Delivery::upgrade`] and [`Delivery::rollback`]
//!   work on one environment. `upgrade` reads the installed version from
//!   the cluster and its document from the market.
//! - [`Delivery::deliver`] takes one version to several environments: every
//!   release gate is checked first (if one refuses, nothing is touched
//!   anywhere), the images are relocated once per distinct registry, then
//!   each environment is installed (nothing there), upgraded (another
//!   version there) or left unchanged (that version there already). Every
//!   environment gets an [`EnvironmentOutcome`]; a failure in one does not
//!   stop the others.
//!
//! Relocation ([`template_market::Market::relocate_version`]) asks the
//! registry what it has, so a rerun pushes nothing and an interrupted one
//! resumes. Workloads then reference the relocated images by digest
//! (`<registry>/<repository>@sha256:…`, see
//! [`template_k8s::render::relocate_image`]). Profiles without a registry keep the
//! template's image references and skip relocation. Access to a registry
//! (plain HTTP, credentials, CA) is given with [`Delivery::with_registry`];
//! a registry named by a profile and not given is reached anonymously over
//! HTTPS.
//!
//! Secrets the template generates are drawn from the operating system's
//! random generator ([`OsRandom`]).
//!
//! Market calls block on files and the network, so they run on Tokio's
//! blocking threads; the progress callback is always called on the
//! caller's task.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::{Serialize, Serializer};
use template_core::{
    InstallOptions, InstalledState, RelocationCounts, RollbackOptions, TemplateVersion,
    UpgradeOptions, ValidatedVersion,
};
use template_market::{Market, RegistryTarget, RelocateOptions, RelocateProgress, RelocateReport};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

pub use template_k8s::{DeliveryEvent, ProgressFn};
use template_k8s::{
    EnvironmentProfile, Executor, ExecutorOptions, OperationReport, OsRandom, PlannedOperation,
    RecordSummary, StopSignal, check_release_gate, connect, stale_reason,
};

use crate::error::{Error, Result};

/// Delivers versions of a local market to environments.
#[derive(Clone)]
pub struct Delivery {
    market: Market,
    options: ExecutorOptions,
    kubeconfig: Option<PathBuf>,
    registries: Vec<RegistryTarget>,
    relocate: RelocateOptions,
    stop: StopSignal,
    environments_at_once: usize,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("market", &self.market.root())
            .field("options", &self.options)
            .field("kubeconfig", &self.kubeconfig)
            .field("registries", &self.registries)
            .field("relocate", &self.relocate)
            .field("environments_at_once", &self.environments_at_once)
            .finish()
    }
}

/// Environments [`Delivery::deliver`] works on at once unless told.
pub const DEFAULT_ENVIRONMENTS_AT_ONCE: usize = 4;

/// What [`Delivery::deliver`] does in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryAction {
    /// The template was not installed there: install the version.
    Install,
    /// Another version was installed: upgrade to this one.
    Upgrade,
    /// This version was installed already: nothing to do.
    Unchanged,
}

impl DeliveryAction {
    /// `install`, `upgrade` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryAction::Install => "install",
            DeliveryAction::Upgrade => "upgrade",
            DeliveryAction::Unchanged => "unchanged",
        }
    }
}

/// What one relocation pushed to a registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RelocationSummary {
    /// Registry (`host[:port][/prefix]`).
    pub registry: String,
    /// Images of the version.
    pub images: usize,
    /// What was checked, skipped, uploaded, mounted and put.
    #[serde(flatten)]
    pub counts: RelocationCounts,
}

impl RelocationSummary {
    fn of(registry: &str, report: &RelocateReport) -> RelocationSummary {
        RelocationSummary {
            registry: registry.to_owned(),
            images: report.images.len(),
            counts: report.counts,
        }
    }
}

/// How [`Delivery::deliver`] ended in one environment. Exactly one of
/// `report` and `error` is set, except for [`DeliveryAction::Unchanged`]
/// where neither is. Serializes with the error as its message.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EnvironmentOutcome {
    /// Environment name.
    pub environment: String,
    /// Namespace of the installation.
    pub namespace: String,
    /// What was done; none when the installed state could not be read.
    pub action: Option<DeliveryAction>,
    /// Version installed before, if any.
    pub from_version: Option<String>,
    /// Version delivered.
    pub to_version: String,
    /// The relocation of the images to the environment's registry (shared
    /// by the environments with the same registry); none without registry
    /// or when nothing was to be done.
    pub relocation: Option<RelocationSummary>,
    /// What the operation did, when it succeeded.
    pub report: Option<OperationReport>,
    /// Why it failed: relocation, cluster, rollout. Typed, so callers can
    /// classify it.
    #[serde(serialize_with = "error_message")]
    #[schemars(with = "Option<String>")]
    pub error: Option<Error>,
}

impl EnvironmentOutcome {
    /// Whether the environment now runs the delivered version.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

fn error_message<S: Serializer>(
    error: &Option<Error>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match error {
        Some(e) => serializer.serialize_some(&e.to_string()),
        None => serializer.serialize_none(),
    }
}

/// One environment of a delivery, once its installed state was read.
struct Prepared {
    executor: Executor,
    action: DeliveryAction,
    from_version: Option<String>,
}

impl Delivery {
    /// Delivers from `market`; executors on every environment use
    /// `options`. Without [`Delivery::with_kubeconfig`], clusters are
    /// reached through the default kubeconfig (`$KUBECONFIG`,
    /// `~/.kube/config`).
    pub fn new(market: Market, options: ExecutorOptions) -> Delivery {
        Delivery {
            market,
            options,
            kubeconfig: None,
            registries: Vec::new(),
            relocate: RelocateOptions::default(),
            stop: StopSignal::default(),
            environments_at_once: DEFAULT_ENVIRONMENTS_AT_ONCE,
        }
    }

    /// Works on up to `n` environments at once in [`Delivery::deliver`]
    /// (connecting, installing, upgrading); 1 goes one after another. At
    /// least 1.
    pub fn with_environments_at_once(mut self, n: usize) -> Delivery {
        self.environments_at_once = n.max(1);
        self
    }

    /// Stops operations at their next safe point once `stop` is raised:
    /// before the next wave of an install, upgrade or rollback (which then
    /// fails with [`template_k8s::Error::Stopped`], recorded as partly applied),
    /// and before the next environment of [`Delivery::deliver`].
    pub fn with_stop(mut self, stop: StopSignal) -> Delivery {
        self.stop = stop;
        self
    }

    /// Reads clusters' contexts from the kubeconfig at `path`.
    pub fn with_kubeconfig(mut self, path: impl Into<PathBuf>) -> Delivery {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Access (plain HTTP, credentials, CA) to the registry a profile
    /// names. It applies to profiles naming the same registry, or another
    /// prefix on the same host; a target given again replaces the earlier
    /// one.
    pub fn with_registry(mut self, target: RegistryTarget) -> Delivery {
        self.registries.retain(|t| t.registry != target.registry);
        self.registries.push(target);
        self
    }

    /// Parallelism, chunk size and timeouts of relocations.
    pub fn with_relocate_options(mut self, options: RelocateOptions) -> Delivery {
        self.relocate = options;
        self
    }

    /// The market delivered from.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// An executor for `env`, connected to its cluster.
    pub async fn executor(&self, env: &EnvironmentProfile) -> Result<Executor> {
        let client = connect(env, self.kubeconfig.as_deref()).await?;
        Ok(Executor::new(client, env.clone(), self.options.clone()).with_stop(self.stop.clone()))
    }

    /// The installed state of `template` in `env`; none if not installed.
    pub async fn state(
        &self,
        env: &EnvironmentProfile,
        template: &str,
    ) -> Result<Option<InstalledState>> {
        Ok(self.executor(env).await?.state(template).await?)
    }

    /// The history of `template` in `env`, oldest first.
    pub async fn history(
        &self,
        env: &EnvironmentProfile,
        template: &str,
    ) -> Result<Vec<RecordSummary>> {
        Ok(self.executor(env).await?.history(template).await?)
    }

    /// The registry target for a profile's `registry`: the access given with
    /// [`Delivery::with_registry`] for it (or for its host), else anonymous
    /// HTTPS.
    pub fn registry_target(&self, registry: &str) -> RegistryTarget {
        let wanted = registry.trim_end_matches('/');
        let host = |r: &str| {
            let r = r.trim_end_matches('/');
            r.split_once('/').map_or(r, |(h, _)| h).to_owned()
        };
        let found = self
            .registries
            .iter()
            .find(|t| t.registry.trim_end_matches('/') == wanted)
            .or_else(|| {
                self.registries
                    .iter()
                    .find(|t| host(&t.registry) == host(wanted))
            });
        match found {
            Some(access) => {
                let mut target = access.clone();
                target.registry = wanted.to_owned();
                target
            }
            None => RegistryTarget::new(wanted),
        }
    }

    /// Pushes the images of `template` `version` to `env`'s registry,
    /// skipping what it has; none when the profile names no registry.
    pub async fn relocate(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        version: &str,
        progress: &ProgressFn<'_>,
    ) -> Result<Option<RelocationSummary>> {
        let Some(registry) = env.registry.as_deref() else {
            return Ok(None);
        };
        let target = self.registry_target(registry);
        let (tx, mut rx) = unbounded_channel();
        let market = self.market.clone();
        let options = self.relocate.clone();
        let (template, version) = (template.to_owned(), version.to_owned());
        let registry = target.registry.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut callback = |p: &RelocateProgress<'_>| {
                let _ = tx.send(relocation_event(&target.registry, p));
                ControlFlow::Continue(())
            };
            market.relocate_version(&template, &version, &target, &options, &mut callback)
        });
        // The sender is dropped when the relocation returns.
        while let Some(event) = rx.recv().await {
            progress(&event);
        }
        let report = task.await.map_err(|e| stopped("relocation", &e))??;
        let summary = RelocationSummary::of(&registry, &report);
        progress(&DeliveryEvent::Relocated {
            registry,
            counts: summary.counts,
        });
        Ok(Some(summary))
    }

    /// Installs `template` `version` into `env`: release gate, relocation
    /// of the version's images to the profile's registry (skipping what is
    /// there), then [`Executor::install`].
    pub async fn install(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        version: &str,
        options: &InstallOptions,
        progress: &ProgressFn<'_>,
    ) -> Result<OperationReport> {
        let doc = self.version_document(template, version).await?;
        check_release_gate(env, &doc)?;
        let executor = self.executor(env).await?;
        if let Some(installed) = installed_version(&executor, template).await? {
            return Err(Error::precondition(format!(
                "`{template}` is already installed in namespace `{}` of environment `{}` at version {installed}; upgrade it instead",
                env.namespace, env.name
            )));
        }
        self.relocate(env, template, version, progress).await?;
        run_install(executor, &doc, options, progress).await
    }

    /// Upgrades `template` in `env` to `to`. The installed version is read
    /// from the cluster and its document from the market; the images of
    /// `to` are relocated first. `to` may be the installed version: see
    /// [`Delivery::reconfigure`].
    pub async fn upgrade(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        to: &str,
        options: &UpgradeOptions,
        progress: &ProgressFn<'_>,
    ) -> Result<OperationReport> {
        let target = self.version_document(template, to).await?;
        check_release_gate(env, &target)?;
        let executor = self.executor(env).await?;
        let Some(from) = installed_version(&executor, template).await? else {
            return Err(Error::precondition(format!(
                "`{template}` is not installed in namespace `{}` of environment `{}`; install it first",
                env.namespace, env.name
            )));
        };
        let current = if from == to {
            TemplateVersion::clone(&target)
        } else {
            self.installed_document(template, &from).await?
        };
        self.relocate(env, template, to, progress).await?;
        run_upgrade(executor, &current, &target, options, progress).await
    }

    /// Reconfigures `template` in `env` at its installed version: switches
    /// optional modules on or off, prunes orphans, sets override values,
    /// as `options` says. Recorded as a revision (rollback-able like any
    /// other); when nothing changes, nothing is recorded and the report
    /// says [`OperationReport::unchanged`].
    pub async fn reconfigure(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        options: &UpgradeOptions,
        progress: &ProgressFn<'_>,
    ) -> Result<OperationReport> {
        let executor = self.executor(env).await?;
        let Some(installed) = installed_version(&executor, template).await? else {
            return Err(Error::precondition(format!(
                "`{template}` is not installed in namespace `{}` of environment `{}`; install it first",
                env.namespace, env.name
            )));
        };
        self.upgrade(env, template, &installed, options, progress)
            .await
    }

    /// What [`Delivery::upgrade`] of `template` in `env` to `to` would do
    /// now, changing nothing: the plan and the values users changed on the
    /// cluster it keeps. Carry it out with [`Delivery::upgrade_as_planned`].
    pub async fn plan_upgrade(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        to: &str,
        options: &UpgradeOptions,
    ) -> Result<PlannedOperation> {
        let (executor, current, target) = self.upgrade_versions(env, template, to).await?;
        Ok(executor.plan_upgrade(&current, &target, options).await?)
    }

    /// Upgrades `template` in `env` to `to` exactly as the plan with digest
    /// `planned` says ([`PlannedOperation::digest`] from
    /// [`Delivery::plan_upgrade`]); refused with [`template_k8s::Error::StalePlan`]
    /// before anything is applied when the cluster or the market changed so
    /// that the plan made now differs. Images are relocated first.
    pub async fn upgrade_as_planned(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        to: &str,
        options: &UpgradeOptions,
        planned: &str,
        progress: &ProgressFn<'_>,
    ) -> Result<OperationReport> {
        let (executor, current, target) = self.upgrade_versions(env, template, to).await?;
        // Checked before the images are pushed, and again under the lock.
        let now = executor.plan_upgrade(&current, &target, options).await?;
        if now.digest != planned {
            return Err(template_k8s::Error::StalePlan {
                namespace: env.namespace.clone(),
                template: template.to_owned(),
                reason: stale_reason(planned, &now.digest),
            }
            .into());
        }
        self.relocate(env, template, to, progress).await?;
        let mut random = OsRandom::new()?;
        let (current, target, options) = (&current, &target, options);
        observed(executor, progress, move |executor| async move {
            executor
                .upgrade_as_planned(current, target, options, planned, &mut random)
                .await
        })
        .await
        .map_err(Error::from)
    }

    /// The executor, installed version document and target document of an
    /// upgrade of `template` in `env` to `to`.
    async fn upgrade_versions(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        to: &str,
    ) -> Result<(Executor, TemplateVersion, ValidatedVersion)> {
        let target = self.version_document(template, to).await?;
        check_release_gate(env, &target)?;
        let executor = self.executor(env).await?;
        let Some(from) = installed_version(&executor, template).await? else {
            return Err(Error::precondition(format!(
                "`{template}` is not installed in namespace `{}` of environment `{}`; install it first",
                env.namespace, env.name
            )));
        };
        let current = self.installed_document(template, &from).await?;
        Ok((executor, current, target))
    }

    /// Rolls `template` in `env` back to the state recorded before
    /// `revision`; recorded as a revision of its own. Values users edited on
    /// the cluster meanwhile are put back to the recorded ones and listed in
    /// [`OperationReport::drift`].
    pub async fn rollback(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        revision: u32,
        options: &RollbackOptions,
        progress: &ProgressFn<'_>,
    ) -> Result<OperationReport> {
        let executor = self.executor(env).await?;
        let template = template.to_owned();
        let options = options.clone();
        observed(executor, progress, move |executor| async move {
            executor.rollback(&template, revision, &options).await
        })
        .await
        .map_err(Error::from)
    }

    /// Delivers `template` `version` to every environment of `envs`: checks
    /// every release gate first (an unreleased version for a production
    /// profile fails the whole call with [`template_k8s::Error::ReleaseGate`] before any
    /// environment is touched), reads what each one runs, relocates the
    /// images once per distinct registry, then installs or upgrades the
    /// environments, up to [`Delivery::with_environments_at_once`] of them
    /// at a time (each with its own lock, executor and progress events,
    /// which name the environment). One outcome per environment, in the
    /// order of `envs`; a failure in one environment is reported in its
    /// outcome and does not stop the others.
    pub async fn deliver(
        &self,
        envs: &[EnvironmentProfile],
        template: &str,
        version: &str,
        progress: &ProgressFn<'_>,
    ) -> Result<Vec<EnvironmentOutcome>> {
        let doc = self.version_document(template, version).await?;
        for env in envs {
            check_release_gate(env, &doc)?;
        }
        let at_once = self.environments_at_once.max(1);
        // Connecting and reading each environment's state, several at once,
        // in the order of `envs`.
        let preparing: Vec<_> = envs
            .iter()
            .map(|env| self.prepare(env, template, version))
            .collect();
        let prepared_all: Vec<Result<Prepared>> =
            stream::iter(preparing).buffered(at_once).collect().await;
        let mut outcomes = Vec::with_capacity(envs.len());
        let mut prepared = Vec::with_capacity(envs.len());
        for (env, result) in envs.iter().zip(prepared_all) {
            let mut outcome = EnvironmentOutcome {
                environment: env.name.clone(),
                namespace: env.namespace.clone(),
                action: None,
                from_version: None,
                to_version: version.to_owned(),
                relocation: None,
                report: None,
                error: None,
            };
            match result {
                Ok(p) => {
                    outcome.action = Some(p.action);
                    outcome.from_version = p.from_version.clone();
                    prepared.push(Some(p));
                }
                Err(e) => {
                    outcome.error = Some(e);
                    prepared.push(None);
                }
            }
            outcomes.push(outcome);
        }

        // Relocation, once per registry some environment needs.
        let mut relocated: BTreeMap<String, RelocationSummary> = BTreeMap::new();
        for (env, (p, outcome)) in envs.iter().zip(prepared.iter_mut().zip(&mut outcomes)) {
            let Some(registry) = env.registry.as_deref() else {
                continue;
            };
            if p.as_ref()
                .is_none_or(|p| p.action == DeliveryAction::Unchanged)
            {
                continue;
            }
            let key = registry.trim_end_matches('/').to_owned();
            if let Some(summary) = relocated.get(&key) {
                outcome.relocation = Some(summary.clone());
                continue;
            }
            // A registry that failed for one environment is tried again
            // for the next one using it (a rerun resumes where it stopped).
            match self.relocate(env, template, version, progress).await {
                Ok(summary) => {
                    if let Some(summary) = summary {
                        outcome.relocation = Some(summary.clone());
                        relocated.insert(key, summary);
                    }
                }
                Err(e) => {
                    outcome.error = Some(e);
                    *p = None;
                }
            }
        }

        // The installed versions' documents, read once each.
        let mut documents: BTreeMap<String, TemplateVersion> = BTreeMap::new();
        for (p, outcome) in prepared.iter_mut().zip(&mut outcomes) {
            let Some(from) = p
                .as_ref()
                .filter(|p| p.action == DeliveryAction::Upgrade)
                .and_then(|p| p.from_version.clone())
            else {
                continue;
            };
            if documents.contains_key(&from) {
                continue;
            }
            match self.installed_document(template, &from).await {
                Ok(current) => {
                    documents.insert(from, current);
                }
                Err(e) => {
                    outcome.error = Some(e);
                    *p = None;
                }
            }
        }

        // The installs and upgrades, several environments at once; a
        // stopped delivery starts no further environment.
        let runs: Vec<_> = prepared
            .into_iter()
            .zip(&mut outcomes)
            .filter_map(|(p, outcome)| Some(self.run_one(p?, outcome, &doc, &documents, progress)))
            .collect();
        stream::iter(runs)
            .buffer_unordered(at_once)
            .collect::<Vec<()>>()
            .await;
        Ok(outcomes)
    }

    /// Installs or upgrades one prepared environment of a `deliver`,
    /// writing the report or the error into its outcome.
    async fn run_one(
        &self,
        p: Prepared,
        outcome: &mut EnvironmentOutcome,
        doc: &ValidatedVersion,
        documents: &BTreeMap<String, TemplateVersion>,
        progress: &ProgressFn<'_>,
    ) {
        if p.action == DeliveryAction::Unchanged {
            return;
        }
        if self.stop.is_stopped() {
            outcome.error = Some(Error::Market(template_market::MarketError::Cancelled {
                what: format!(
                    "the delivery to environment `{}` (not started)",
                    outcome.environment
                ),
            }));
            return;
        }
        let result = match p.action {
            DeliveryAction::Unchanged => return,
            DeliveryAction::Install => {
                run_install(p.executor, doc, &InstallOptions::default(), progress).await
            }
            DeliveryAction::Upgrade => {
                let from = p.from_version.as_deref().unwrap_or_default();
                // Read before the runs start; an unreadable one already
                // failed this environment.
                let Some(current) = documents.get(from) else {
                    return;
                };
                run_upgrade(
                    p.executor,
                    current,
                    doc,
                    &UpgradeOptions::default(),
                    progress,
                )
                .await
            }
        };
        match result {
            Ok(report) => outcome.report = Some(report),
            Err(e) => outcome.error = Some(e),
        }
    }

    /// Connects to `env` and decides what delivering `version` means there.
    async fn prepare(
        &self,
        env: &EnvironmentProfile,
        template: &str,
        version: &str,
    ) -> Result<Prepared> {
        let executor = self.executor(env).await?;
        let from_version = installed_version(&executor, template).await?;
        let action = match from_version.as_deref() {
            None => DeliveryAction::Install,
            Some(v) if v == version => DeliveryAction::Unchanged,
            Some(_) => DeliveryAction::Upgrade,
        };
        Ok(Prepared {
            executor,
            action,
            from_version,
        })
    }

    /// A version to install or upgrade to, read and validated on a
    /// blocking thread.
    async fn version_document(&self, template: &str, version: &str) -> Result<ValidatedVersion> {
        let (template, version) = (template.to_owned(), version.to_owned());
        self.read_market(move |market| market.version(&template, &version))
            .await
    }

    /// The installed version's document as stored, read on a blocking
    /// thread: an upgrade starts from it whether or not it passes this
    /// release's rules.
    async fn installed_document(&self, template: &str, version: &str) -> Result<TemplateVersion> {
        let (template, version) = (template.to_owned(), version.to_owned());
        self.read_market(move |market| market.document(&template, &version))
            .await
    }

    /// Runs `read` on the market on a blocking thread.
    async fn read_market<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Market) -> template_market::Result<T> + Send + 'static,
    {
        let market = self.market.clone();
        tokio::task::spawn_blocking(move || read(&market))
            .await
            .map_err(|e| stopped("market read", &e))?
            .map_err(Error::from)
    }
}

/// The version installed in the executor's environment, if any.
async fn installed_version(executor: &Executor, template: &str) -> Result<Option<String>> {
    Ok(executor
        .state(template)
        .await?
        .map(|s| s.version)
        .filter(|v| !v.is_empty()))
}

async fn run_install(
    executor: Executor,
    doc: &ValidatedVersion,
    options: &InstallOptions,
    progress: &ProgressFn<'_>,
) -> Result<OperationReport> {
    let mut random = OsRandom::new()?;
    observed(executor, progress, move |executor| async move {
        executor.install(doc, options, &mut random).await
    })
    .await
    .map_err(Error::from)
}

async fn run_upgrade(
    executor: Executor,
    from: &TemplateVersion,
    to: &ValidatedVersion,
    options: &UpgradeOptions,
    progress: &ProgressFn<'_>,
) -> Result<OperationReport> {
    let mut random = OsRandom::new()?;
    observed(executor, progress, move |executor| async move {
        executor.upgrade(from, to, options, &mut random).await
    })
    .await
    .map_err(Error::from)
}

/// Runs `operation` on `executor` with its events forwarded to `progress`
/// on this task (the executor reports from the tasks of a wave).
async fn observed<F, Fut, T>(executor: Executor, progress: &ProgressFn<'_>, operation: F) -> T
where
    F: FnOnce(Executor) -> Fut,
    Fut: Future<Output = T>,
{
    let (tx, mut rx) = unbounded_channel::<DeliveryEvent>();
    let hook: Arc<ProgressFn<'static>> = Arc::new(move |event: &DeliveryEvent| {
        let _ = tx.send(event.clone());
    });
    let work = operation(executor.with_progress(hook));
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => {
                drain(&mut rx, progress);
                return out;
            }
            Some(event) = rx.recv() => progress(&event),
        }
    }
}

fn drain(rx: &mut UnboundedReceiver<DeliveryEvent>, progress: &ProgressFn<'_>) {
    rx.close();
    while let Ok(event) = rx.try_recv() {
        progress(&event);
    }
}

/// The delivery event of one relocation progress report, for callers that
/// relocate on their own (`images push`) and report like a delivery does.
pub fn relocation_event(registry: &str, p: &RelocateProgress<'_>) -> DeliveryEvent {
    DeliveryEvent::Relocating {
        registry: registry.to_owned(),
        event: p.event,
        bytes_done: p.bytes_done,
        bytes_total: p.bytes_total,
        blobs_done: p.blobs_done,
        blobs_total: p.blobs_total,
        item: p.item.to_owned(),
    }
}

fn stopped(what: &str, e: &tokio::task::JoinError) -> Error {
    Error::precondition(format!(
        "the {what} task stopped unexpectedly ({e}); run the operation again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use template_k8s::render::relocate_image;
    use template_market::ImageRef;

    fn delivery() -> (tempfile::TempDir, Delivery) {
        let dir = tempfile::tempdir().unwrap();
        let market = Market::open(dir.path().join("market")).unwrap();
        (dir, Delivery::new(market, ExecutorOptions::new("test")))
    }

    #[test]
    fn rendered_images_are_the_relocated_references() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for registry in ["127.0.0.1:5000", "10.0.0.5:5000/mirror", "reg.local/a/b/"] {
            for name in [
                "registry.example.com/pig/pig-gateway:3.9",
                "redis:7",
                "docker.io/library/mysql:8.0",
            ] {
                let target = RegistryTarget::new(registry);
                let image = ImageRef {
                    name: name.to_owned(),
                    digest: digest.clone(),
                };
                assert_eq!(
                    relocate_image(&format!("{name}@{digest}"), Some(registry)).unwrap(),
                    target.relocated_reference(&image).unwrap(),
                    "{registry} {name}"
                );
            }
        }
    }

    #[test]
    fn registry_access_applies_to_the_same_host() {
        let (_dir, delivery) = delivery();
        let mut access = RegistryTarget::new("127.0.0.1:5000");
        access.insecure = true;
        let delivery = delivery.with_registry(access);
        let exact = delivery.registry_target("127.0.0.1:5000/");
        assert!(exact.insecure);
        assert_eq!(exact.registry, "127.0.0.1:5000");
        let prefixed = delivery.registry_target("127.0.0.1:5000/mirror");
        assert!(prefixed.insecure);
        assert_eq!(prefixed.registry, "127.0.0.1:5000/mirror");
        let other = delivery.registry_target("registry.example.com");
        assert!(!other.insecure);
    }

    #[test]
    fn events_serialize_with_a_phase_tag() {
        let event = DeliveryEvent::StepApplied {
            environment: "test".into(),
            namespace: "pig".into(),
            wave: 0,
            step: 1,
            component: "mysql".into(),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["phase"], "step_applied");
        assert_eq!(value["component"], "mysql");
        let outcome = EnvironmentOutcome {
            environment: "prod".into(),
            namespace: "pig".into(),
            action: Some(DeliveryAction::Upgrade),
            from_version: Some("1.0.0".into()),
            to_version: "2.0.0".into(),
            relocation: None,
            report: None,
            error: Some(Error::precondition("it broke".into())),
        };
        let value = serde_json::to_value(&outcome).unwrap();
        assert_eq!(value["action"], "upgrade");
        assert_eq!(value["error"], "it broke");
        assert!(!outcome.succeeded());
    }

    #[tokio::test]
    async fn a_version_the_market_lacks_is_refused_before_any_cluster_is_reached() {
        let (_dir, delivery) = delivery();
        let env = EnvironmentProfile {
            name: "test".into(),
            context: Some("no-such-context".into()),
            namespace: "pig".into(),
            registry: None,
            released_only: false,
            env_overrides: BTreeMap::new(),
            storage_class: None,
        };
        let err = delivery
            .deliver(&[env], "pig", "9.9.9", &|_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Market(_)), "{err}");
    }
}
