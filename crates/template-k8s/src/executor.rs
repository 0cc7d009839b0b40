//! Carries out install, upgrade and rollback plans on one environment.
//!
//! Every operation takes the installation's lock, plans with
//! `template-core`, applies the plan's steps wave by wave (steps of one
//! wave in parallel, at most [`ExecutorOptions::concurrency`] at a time),
//! waits for each step's workloads to be ready, and records the operation
//! as a revision of the history. The record is written when the operation
//! starts and updated after every wave, so a client killed half-way
//! leaves a record that says which steps were done; the state is written
//! once, at the end, and read from such a record until then (see
//! [`Store`]).
//!
//! A step whose objects were applied counts as done in the stored state
//! even if its workload never became ready: the cluster runs its new
//! definition, so a rollback must put the old one back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};
use serde_json::json;
use template_core::{
    Action, InstallOptions, InstalledState, Outcome, Plan, RandomSource, RecordSummary,
    RollbackOptions, TemplateVersion, UpgradeOptions, UpgradeRecord, ValidatedVersion, apply_steps,
    generate_secrets, plan_install_validated, plan_rollback, plan_upgrade_validated,
};
use tokio::task::JoinSet;

use crate::apply::{apply_object, dynamic_api};
use crate::drift::{DetectedChange, detect_drift};
use crate::environment::{EnvironmentProfile, check_release_gate};
use crate::error::{Error, Result};
use crate::lock::OperationLock;
use crate::options::ExecutorOptions;
use crate::progress::{DeliveryEvent, ProgressFn};
use crate::render::FIELD_MANAGER;
use crate::render::{
    RenderOptions, RenderedObject, generated_secret_key, generated_secret_name, render_component,
};
use crate::store::Store;
use crate::wait::{WaitOptions, is_waited_for, wait_ready};

/// What an operation did. Serializes as plain data (the bindings hand it
/// out as a dictionary or object).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OperationReport {
    /// Revision the operation is recorded as.
    pub revision: u32,
    /// The plan that ran.
    pub plan: Plan,
    /// Values users changed directly on the cluster: kept by an upgrade;
    /// found before a rollback, which puts the recorded values back.
    pub drift: Vec<DetectedChange>,
    /// The installed state afterwards.
    pub state: InstalledState,
    /// Nothing was to be done (e.g. a reconfiguration that changes no
    /// value): nothing was applied or recorded, and `revision` is the
    /// latest revision of the history.
    pub unchanged: bool,
}

/// A plan made against the cluster without changing it, with the values
/// users changed there (which the plan keeps) and the plan's digest, which
/// [`Executor::upgrade_as_planned`] takes back. Keep the digest and show
/// [`Plan::to_json`] (secrets masked); the plain serde form of the plan
/// holds secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOperation {
    /// The plan.
    pub plan: Plan,
    /// Values users changed directly on the cluster, folded into the plan.
    pub drift: Vec<DetectedChange>,
    /// [`plan_digest`] of the plan.
    pub digest: String,
}

/// The digest (`sha256:…`) of a plan's full serde form, secret values
/// included: equal digests mean the same plan.
pub fn plan_digest(plan: &Plan) -> Result<String> {
    let bytes = serde_json::to_vec(plan).map_err(|e| Error::Precondition {
        message: format!("the plan cannot be serialized ({e}); report this as a bug"),
    })?;
    Ok(template_core::package::sha256_of(&bytes))
}

/// Carries out plans on one environment.
#[derive(Clone)]
pub struct Executor {
    client: Client,
    profile: EnvironmentProfile,
    options: ExecutorOptions,
    progress: Option<Arc<ProgressFn<'static>>>,
    stop: StopSignal,
}

/// Asks operations to stop at the next safe point: an install, upgrade or
/// rollback stops before its next wave (never within one, so no component
/// is left half-applied by the stop), and is recorded as partly applied;
/// a delivery also starts no further environment. Clones share the
/// signal: keep one, hand one to [`Executor::with_stop`] (or to a
/// delivery's `with_stop` in `template-delivery`), and call
/// [`StopSignal::stop`] from anywhere (a Ctrl-C handler, another task).
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    raised: Arc<std::sync::atomic::AtomicBool>,
    /// The signals this one also follows ([`StopSignal::linked`]).
    followed: Vec<Arc<std::sync::atomic::AtomicBool>>,
}

impl StopSignal {
    /// A signal not raised yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// A new signal that is raised by its own [`StopSignal::stop`] and also
    /// whenever this one is: one operation's signal (an `AbortSignal` in
    /// Node) under a signal that stops every operation of a delivery.
    pub fn linked(&self) -> StopSignal {
        let mut followed = self.followed.clone();
        followed.push(Arc::clone(&self.raised));
        StopSignal {
            raised: Arc::default(),
            followed,
        }
    }

    /// Asks every operation holding this signal (or one linked to it) to
    /// stop at its next safe point.
    pub fn stop(&self) {
        self.raised.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`StopSignal::stop`] was called on this signal or on one it
    /// was linked from.
    pub fn is_stopped(&self) -> bool {
        std::iter::once(&self.raised)
            .chain(&self.followed)
            .any(|flag| flag.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("profile", &self.profile)
            .field("options", &self.options)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor for `profile`, talking to the cluster through `client`
    /// (built from the profile's kubeconfig context by the caller).
    pub fn new(client: Client, profile: EnvironmentProfile, options: ExecutorOptions) -> Executor {
        Executor {
            client,
            profile,
            options,
            progress: None,
            stop: StopSignal::default(),
        }
    }

    /// The same executor, stopping its operations before their next wave
    /// once `stop` is raised (see [`StopSignal`]); they then fail with
    /// [`Error::Stopped`], the record listing the steps done.
    pub fn with_stop(mut self, stop: StopSignal) -> Executor {
        self.stop = stop;
        self
    }

    /// The same executor, reporting steps applied, waits and finished
    /// operations to `hook` (see [`DeliveryEvent`]). The hook may be called
    /// from several tasks of one wave at once.
    pub fn with_progress(mut self, hook: Arc<ProgressFn<'static>>) -> Executor {
        self.progress = Some(hook);
        self
    }

    fn report(&self, event: &DeliveryEvent) {
        if let Some(hook) = &self.progress {
            hook(event);
        }
    }

    /// The environment this executor works on.
    pub fn profile(&self) -> &EnvironmentProfile {
        &self.profile
    }

    /// How objects are rendered for this environment.
    pub fn render_options(&self) -> RenderOptions {
        RenderOptions {
            namespace: self.profile.namespace.clone(),
            registry: self.profile.registry.clone(),
            exposure: self.options.exposure,
            storage_class: self.profile.storage_class.clone(),
        }
    }

    /// The store of installation `template`.
    pub fn store(&self, template: &str) -> Store {
        Store::new(&self.client, &self.profile.namespace, template)
    }

    /// The installed state of `template`; none if not installed.
    pub async fn state(&self, template: &str) -> Result<Option<InstalledState>> {
        self.store(template).load_state().await
    }

    /// The history of `template`, oldest first.
    pub async fn history(&self, template: &str) -> Result<Vec<RecordSummary>> {
        self.store(template).history().await
    }

    /// Installs `version`. Refused by the release gate for unreleased
    /// versions in production profiles, and if the template is installed.
    /// The profile's env overrides apply where `options` sets none.
    /// `version` was validated once when it was loaded (a market returns
    /// its versions so), and is not validated again here.
    pub async fn install(
        &self,
        version: &ValidatedVersion,
        options: &InstallOptions,
        random: &mut (dyn RandomSource + Send),
    ) -> Result<OperationReport> {
        check_release_gate(&self.profile, version)?;
        let template = version.template.id.as_str();
        self.ensure_namespace().await?;
        let lock = self.lock(template).await?;
        let result = async {
            let store = self.store(template);
            if let Some(state) = store.load_state().await?
                && !state.version.is_empty()
            {
                return Err(Error::Precondition {
                    message: format!(
                        "`{template}` is already installed in namespace `{}` at version {}; upgrade it instead",
                        self.profile.namespace, state.version
                    ),
                });
            }
            let mut options = options.clone();
            for (component, vars) in &self.profile.env_overrides {
                let entry = options.overrides.env.entry(component.clone()).or_default();
                for (name, value) in vars {
                    entry.entry(name.clone()).or_insert_with(|| value.clone());
                }
            }
            let plan = plan_install_validated(version, &options)?;
            self.ensure_generated_secrets(&plan, random).await?;
            self.run(&lock, &store, InstalledState::empty(template), plan, Vec::new())
                .await
        }
        .await;
        finish(lock, result).await
    }

    /// Upgrades `template` from version `from` (what is installed) to `to`,
    /// keeping the values users changed on the cluster (reported in
    /// [`OperationReport::drift`] and the plan's kept customizations).
    /// With `to` the installed version, this reconfigures in place: the
    /// options' module choices, pruning and overrides apply, recorded as a
    /// revision like any upgrade. A plan with nothing to do applies and
    /// records nothing and reports [`OperationReport::unchanged`]. As
    /// with [`Executor::install`], `to` is not validated again.
    pub async fn upgrade(
        &self,
        from: &TemplateVersion,
        to: &ValidatedVersion,
        options: &UpgradeOptions,
        random: &mut (dyn RandomSource + Send),
    ) -> Result<OperationReport> {
        self.upgrade_checked(from, to, options, None, random).await
    }

    /// What [`Executor::upgrade`] would do now, without changing anything:
    /// the plan over the installed state with the values users changed on
    /// the cluster folded in, and those values. Hand the plan back to
    /// [`Executor::upgrade_as_planned`] to carry out exactly it.
    pub async fn plan_upgrade(
        &self,
        from: &TemplateVersion,
        to: &ValidatedVersion,
        options: &UpgradeOptions,
    ) -> Result<PlannedOperation> {
        check_release_gate(&self.profile, to)?;
        let template = to.template.id.as_str();
        let store = self.store(template);
        let state = self.installed(&store, template).await?;
        self.check_from(&state, template, from)?;
        let (state, drift) = detect_drift(&self.client, &state, &self.render_options()).await?;
        let plan = plan_upgrade_validated(&state, from, to, options)?;
        let digest = plan_digest(&plan)?;
        Ok(PlannedOperation {
            plan,
            drift,
            digest,
        })
    }

    /// Carries out the plan whose digest is `planned` (from
    /// [`Executor::plan_upgrade`]) and nothing else: under the
    /// installation's lock the plan is made again, and if the cluster
    /// (state, values users changed) or the versions changed since, so that
    /// it differs, the upgrade is refused with [`Error::StalePlan`] before
    /// anything is applied.
    pub async fn upgrade_as_planned(
        &self,
        from: &TemplateVersion,
        to: &ValidatedVersion,
        options: &UpgradeOptions,
        planned: &str,
        random: &mut (dyn RandomSource + Send),
    ) -> Result<OperationReport> {
        self.upgrade_checked(from, to, options, Some(planned), random)
            .await
    }

    async fn upgrade_checked(
        &self,
        from: &TemplateVersion,
        to: &ValidatedVersion,
        options: &UpgradeOptions,
        planned: Option<&str>,
        random: &mut (dyn RandomSource + Send),
    ) -> Result<OperationReport> {
        check_release_gate(&self.profile, to)?;
        let template = to.template.id.as_str();
        let lock = self.lock(template).await?;
        let result = async {
            let store = self.store(template);
            let state = self.installed(&store, template).await?;
            self.check_from(&state, template, from)?;
            let (state, drift) = detect_drift(&self.client, &state, &self.render_options()).await?;
            let plan = plan_upgrade_validated(&state, from, to, options)?;
            if let Some(planned) = planned {
                let now = plan_digest(&plan)?;
                if now != planned {
                    return Err(Error::StalePlan {
                        namespace: self.profile.namespace.clone(),
                        template: template.to_owned(),
                        reason: stale_reason(planned, &now),
                    });
                }
            }
            if plan.is_empty() {
                let revision = store.newest_revision().await?;
                return Ok(OperationReport {
                    revision,
                    plan,
                    drift,
                    state,
                    unchanged: true,
                });
            }
            self.ensure_generated_secrets(&plan, random).await?;
            self.run(&lock, &store, state, plan, drift).await
        }
        .await;
        finish(lock, result).await
    }

    fn check_from(
        &self,
        state: &InstalledState,
        template: &str,
        from: &TemplateVersion,
    ) -> Result<()> {
        if state.version != from.version {
            return Err(Error::Precondition {
                message: format!(
                    "`{template}` in namespace `{}` is at version {}, not {}; upgrade from the installed version",
                    self.profile.namespace, state.version, from.version
                ),
            });
        }
        Ok(())
    }

    /// Rolls `template` back to the state recorded before revision
    /// `revision`; recorded as a revision of its own. Values users edited
    /// on the cluster since the last operation are read first and listed
    /// in [`OperationReport::drift`]: the rollback puts the recorded values
    /// back where it touches them.
    pub async fn rollback(
        &self,
        template: &str,
        revision: u32,
        options: &RollbackOptions,
    ) -> Result<OperationReport> {
        let lock = self.lock(template).await?;
        let result = async {
            let store = self.store(template);
            let current = self.installed(&store, template).await?;
            let record = store.record(revision).await?;
            let plan = plan_rollback(&record, &current, options)?;
            let (_, drift) = detect_drift(&self.client, &current, &self.render_options()).await?;
            self.run(&lock, &store, current, plan, drift).await
        }
        .await;
        finish(lock, result).await
    }

    async fn lock(&self, template: &str) -> Result<OperationLock> {
        OperationLock::acquire(
            &self.client,
            &self.profile.namespace,
            template,
            &self.options.lock,
        )
        .await
    }

    async fn installed(&self, store: &Store, template: &str) -> Result<InstalledState> {
        store
            .load_state()
            .await?
            .ok_or_else(|| Error::Precondition {
                message: format!(
                    "`{template}` is not installed in namespace `{}`; install it first",
                    self.profile.namespace
                ),
            })
    }

    async fn ensure_namespace(&self) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let name = &self.profile.namespace;
        if api
            .get_opt(name)
            .await
            .map_err(|e| Error::kube(format!("reading namespace {name}"), e))?
            .is_some()
        {
            return Ok(());
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
            Err(e) => Err(Error::kube(format!("creating namespace {name}"), e)),
        }
    }

    /// Creates the values of the plan's new generated secrets in the
    /// `<template>-generated` Secret. Keys already there are never
    /// overwritten: data may be protected by them.
    async fn ensure_generated_secrets(
        &self,
        plan: &Plan,
        random: &mut (dyn RandomSource + Send),
    ) -> Result<()> {
        if plan.new_secrets.is_empty() {
            return Ok(());
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.profile.namespace);
        let name = generated_secret_name(&plan.template);
        let action = format!(
            "writing generated secrets into Secret {}/{name}",
            self.profile.namespace
        );
        let live = api
            .get_opt(&name)
            .await
            .map_err(|e| Error::kube(&action, e))?;
        let present: BTreeSet<String> = live
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        let existing: BTreeSet<String> = plan
            .new_secrets
            .iter()
            .filter(|s| present.contains(&generated_secret_key(&s.reference)))
            .map(|s| s.reference.clone())
            .collect();
        let values = generate_secrets(plan, &existing, random)?;
        if values.is_empty() {
            return Ok(());
        }
        let data: BTreeMap<String, ByteString> = values
            .iter()
            .map(|(reference, value)| {
                (
                    generated_secret_key(reference),
                    ByteString(value.expose().as_bytes().to_vec()),
                )
            })
            .collect();
        if live.is_none() {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.profile.namespace.clone()),
                    labels: Some(BTreeMap::from([
                        (
                            "app.kubernetes.io/managed-by".to_owned(),
                            FIELD_MANAGER.to_owned(),
                        ),
                        (
                            "app.kubernetes.io/part-of".to_owned(),
                            plan.template.clone(),
                        ),
                    ])),
                    ..Default::default()
                },
                type_: Some("Opaque".to_owned()),
                data: Some(data),
                ..Default::default()
            };
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..Default::default()
            };
            api.create(&params, &secret)
                .await
                .map_err(|e| Error::kube(&action, e))?;
        } else {
            // A merge patch adding only the missing keys.
            let patch = json!({ "data": data });
            let params = PatchParams {
                field_manager: Some(FIELD_MANAGER.to_owned()),
                ..Default::default()
            };
            api.patch(&name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| Error::kube(&action, e))?;
        }
        Ok(())
    }

    /// Applies `plan` over `before` wave by wave and records it.
    async fn run(
        &self,
        lock: &OperationLock,
        store: &Store,
        before: InstalledState,
        plan: Plan,
        drift: Vec<DetectedChange>,
    ) -> Result<OperationReport> {
        if self.stop.is_stopped() {
            return Err(Error::Cancelled {
                what: format!(
                    "the {} of `{}` in namespace `{}` (stopped before its first wave: nothing was changed or recorded)",
                    serde_json::to_value(plan.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    plan.template,
                    self.profile.namespace
                ),
            });
        }
        let mut record = UpgradeRecord::new(
            before.clone(),
            plan.clone(),
            Outcome::PartlyApplied {
                applied_steps: Vec::new(),
            },
        );
        record.started_at = Some(now());
        let revision = store.append_record(&record).await?;
        let options = self.render_options();
        let waves: BTreeSet<usize> = plan.steps.iter().map(|s| s.wave).collect();
        let last_wave = waves.last().copied();
        let mut done: BTreeSet<usize> = BTreeSet::new();
        let mut failure: Option<(usize, String, Error)> = None;
        let mut stopped_before: Option<usize> = None;
        for wave in waves {
            if self.stop.is_stopped() {
                stopped_before = Some(wave);
                break;
            }
            if let Err(e) = lock.ensure_held() {
                failure = plan
                    .steps
                    .iter()
                    .find(|s| s.wave == wave)
                    .map(|s| (s.number, s.component.clone(), e));
                break;
            }
            let steps: Vec<usize> = plan
                .steps
                .iter()
                .filter(|s| s.wave == wave)
                .map(|s| s.number)
                .collect();
            // Render from the state as it will be after this wave, so a
            // component sees its dependencies' new connection info.
            let mut through: BTreeSet<usize> = done.clone();
            through.extend(&steps);
            let target_state = apply_steps(&before, &plan, &through)?;
            let mut tasks = Vec::new();
            for number in steps {
                let Some(step) = plan.step(number) else {
                    continue;
                };
                let work = match (step.action, &step.target) {
                    (Action::Remove, _) | (_, None) => {
                        let Some(old) = before.components.get(&step.component) else {
                            done.insert(number);
                            continue;
                        };
                        StepWork::Remove(render_component(&before, &step.component, old, &options)?)
                    }
                    (_, Some(target)) => StepWork::Apply(render_component(
                        &target_state,
                        &step.component,
                        target,
                        &options,
                    )?),
                };
                tasks.push((number, step.component.clone(), work));
            }
            let results = self.run_wave(wave, tasks).await;
            for (number, component, result) in results {
                // Applied objects count as done even when not ready.
                done.insert(number);
                if let Err(e) = result
                    && failure.as_ref().is_none_or(|(n, _, _)| number < *n)
                {
                    failure = Some((number, component, e));
                }
            }
            // After the last wave the state and the final record are
            // written at once, so an intermediate record would be
            // overwritten unread.
            if failure.is_some() || Some(wave) == last_wave {
                break;
            }
            // The journal: until the state is written, this says what
            // runs (`Store::load_state`).
            record.outcome = Outcome::PartlyApplied {
                applied_steps: done.iter().copied().collect(),
            };
            store.write_record(revision, &record).await?;
        }
        let state = apply_steps(&before, &plan, &done)?;
        store.save_state_after(&state, revision).await?;
        record.finished_at = Some(now());
        record.outcome = match (&failure, stopped_before) {
            (Some((step, _, cause)), _) => Outcome::FailedAtStep {
                step: *step,
                message: cause.to_string(),
                applied_steps: Some(done.iter().copied().collect()),
            },
            (None, Some(_)) => Outcome::PartlyApplied {
                applied_steps: done.iter().copied().collect(),
            },
            (None, None) => Outcome::Succeeded,
        };
        store.write_record(revision, &record).await?;
        self.report(&DeliveryEvent::Done {
            environment: self.profile.name.clone(),
            namespace: self.profile.namespace.clone(),
            template: plan.template.clone(),
            operation: plan.kind,
            revision,
            ok: failure.is_none() && stopped_before.is_none(),
        });
        if let (None, Some(wave)) = (&failure, stopped_before) {
            return Err(Error::Stopped {
                revision,
                wave,
                remaining: plan.steps.len().saturating_sub(done.len()),
                applied_steps: done.into_iter().collect(),
            });
        }
        if let Some((step, component, cause)) = failure {
            return Err(Error::StepFailed {
                revision,
                step,
                component,
                message: cause.to_string(),
                cause: Box::new(cause),
            });
        }
        Ok(OperationReport {
            revision,
            plan,
            drift,
            state,
            unchanged: false,
        })
    }

    /// Runs the steps of one wave, at most `concurrency` at a time.
    async fn run_wave(
        &self,
        wave: usize,
        tasks: Vec<(usize, String, StepWork)>,
    ) -> Vec<(usize, String, Result<()>)> {
        let limit = self.options.concurrency.max(1);
        let mut set: JoinSet<Result<()>> = JoinSet::new();
        let mut running: BTreeMap<tokio::task::Id, (usize, String)> = BTreeMap::new();
        let mut results = Vec::new();
        let mut queue = tasks.into_iter();
        loop {
            while set.len() < limit {
                let Some((number, component, work)) = queue.next() else {
                    break;
                };
                let client = self.client.clone();
                let wait = self.options.wait;
                let reporter = StepReporter {
                    hook: self.progress.clone(),
                    environment: self.profile.name.clone(),
                    namespace: self.profile.namespace.clone(),
                    wave,
                    step: number,
                    component: component.clone(),
                };
                let handle = set.spawn(async move { work.run(&client, wait, &reporter).await });
                running.insert(handle.id(), (number, component));
            }
            let Some(joined) = set.join_next_with_id().await else {
                break;
            };
            let (id, result) = match joined {
                Ok((id, result)) => (id, result),
                Err(e) => (
                    e.id(),
                    Err(Error::Precondition {
                        message: format!("the step's task stopped unexpectedly: {e}"),
                    }),
                ),
            };
            if let Some((number, component)) = running.remove(&id) {
                results.push((number, component, result));
            }
        }
        results
    }
}

/// What one step does on the cluster.
#[derive(Debug)]
enum StepWork {
    /// Apply these objects, then wait for the workloads among them.
    Apply(Vec<RenderedObject>),
    /// Delete these objects, except claims (data is never deleted).
    Remove(Vec<RenderedObject>),
}

/// Where one step reports its progress.
struct StepReporter {
    hook: Option<Arc<ProgressFn<'static>>>,
    environment: String,
    namespace: String,
    wave: usize,
    step: usize,
    component: String,
}

impl StepReporter {
    fn applied(&self) {
        self.send(DeliveryEvent::StepApplied {
            environment: self.environment.clone(),
            namespace: self.namespace.clone(),
            wave: self.wave,
            step: self.step,
            component: self.component.clone(),
        });
    }

    fn waiting(&self, objects: Vec<String>) {
        self.send(DeliveryEvent::Waiting {
            environment: self.environment.clone(),
            namespace: self.namespace.clone(),
            wave: self.wave,
            step: self.step,
            component: self.component.clone(),
            objects,
        });
    }

    fn done(&self, result: &Result<()>) {
        self.send(DeliveryEvent::StepDone {
            environment: self.environment.clone(),
            namespace: self.namespace.clone(),
            wave: self.wave,
            step: self.step,
            component: self.component.clone(),
            ok: result.is_ok(),
            error: result.as_ref().err().map(ToString::to_string),
        });
    }

    fn send(&self, event: DeliveryEvent) {
        if let Some(hook) = &self.hook {
            hook(&event);
        }
    }
}

impl StepWork {
    async fn run(self, client: &Client, wait: WaitOptions, reporter: &StepReporter) -> Result<()> {
        let result = self.carry_out(client, wait, reporter).await;
        reporter.done(&result);
        result
    }

    async fn carry_out(
        self,
        client: &Client,
        wait: WaitOptions,
        reporter: &StepReporter,
    ) -> Result<()> {
        let namespace = reporter.namespace.as_str();
        let component = reporter.component.as_str();
        match self {
            StepWork::Apply(objects) => {
                for object in &objects {
                    apply_object(client, namespace, object).await?;
                }
                reporter.applied();
                let waited: Vec<String> = objects
                    .iter()
                    .filter(|o| is_waited_for(&o.kind))
                    .map(|o| format!("{}/{}", o.kind, o.name))
                    .collect();
                if !waited.is_empty() {
                    reporter.waiting(waited);
                }
                wait_ready(client, namespace, component, &objects, wait).await
            }
            StepWork::Remove(objects) => {
                for object in objects.iter().filter(|o| o.kind != "PersistentVolumeClaim") {
                    let api = dynamic_api(client, namespace, &object.kind)?;
                    match api.delete(&object.name, &DeleteParams::background()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(s)) if s.is_not_found() => {}
                        Err(e) => {
                            return Err(Error::kube(
                                format!(
                                    "deleting {}/{} of removed component `{component}`",
                                    object.kind, object.name
                                ),
                                e,
                            ));
                        }
                    }
                }
                reporter.applied();
                Ok(())
            }
        }
    }
}

/// Releases the lock whatever happened; the operation's error wins.
/// In words, how the plan made now differs from the one handed in: the
/// `reason` of [`Error::StalePlan`].
pub fn stale_reason(planned: &str, now: &str) -> String {
    format!("the plan made now has digest {now}, the one given {planned}")
}

async fn finish(lock: OperationLock, result: Result<OperationReport>) -> Result<OperationReport> {
    let released = lock.release().await;
    let report = result?;
    released?;
    Ok(report)
}

fn now() -> String {
    Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::StopSignal;

    #[test]
    fn a_linked_signal_follows_its_parent_but_not_the_other_way() {
        let delivery = StopSignal::new();
        let first = delivery.linked();
        let second = first.linked();
        first.stop();
        assert!(first.is_stopped() && second.is_stopped());
        assert!(
            !delivery.is_stopped(),
            "a linked signal must not stop its parent"
        );

        let third = delivery.linked();
        assert!(!third.is_stopped());
        delivery.stop();
        assert!(delivery.is_stopped() && third.is_stopped());
        assert!(
            third.clone().is_stopped(),
            "clones share the signal they were made from"
        );
    }
}
