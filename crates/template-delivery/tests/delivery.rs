//! Delivery scenarios against the real control plane (see template-k8s's `cluster.rs`:
//! `APPTEMPLATE_TEST_KUBECONFIG`, failing without it) and a real
//! `docker-registry` started on 127.0.0.1 by each test: versions published
//! in a local market with synthetic images are relocated to the registry
//! and installed, upgraded across environments, or refused by a release
//! gate. Claims bind to the control plane's pool of volumes (a storage
//! class that allows expansion, as on a cloud cluster).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use template_core::{InstallOptions, PlanKind, ReleaseState, TemplateVersion, UpgradeOptions};
use template_delivery::{Delivery, DeliveryAction, DeliveryEvent, Error};
use template_k8s::Error as K8sError;
use template_k8s::{EnvironmentProfile, ExecutorOptions, Exposure, LockOptions, WaitOptions};
use template_market::testkit::registry::LocalRegistry;
use template_market::testkit::{self, LayerSizes};
use template_market::{ImageRef, Market, RegistryTarget};

/// The test registry (Debian's `docker-registry` on 127.0.0.1).
struct Registry(LocalRegistry);

impl Registry {
    fn start() -> Registry {
        Registry(LocalRegistry::start().unwrap())
    }

    fn address(&self) -> String {
        self.0.address()
    }

    fn access(&self) -> RegistryTarget {
        let mut target = RegistryTarget::new(self.address());
        target.insecure = true;
        target
    }

    /// Whether the registry serves `repository@digest` (a manifest).
    fn has_manifest(&self, reference: &str) -> bool {
        let rest = reference
            .strip_prefix(&format!("{}/", self.address()))
            .unwrap_or_else(|| panic!("{reference} is not in {}", self.address()));
        let (repository, digest) = rest.split_once('@').unwrap();
        let answer = ureq::head(&format!(
            "http://{}/v2/{repository}/manifests/{digest}",
            self.address()
        ))
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        )
        .call();
        matches!(answer, Ok(r) if r.status() == 200)
    }
}

fn kubeconfig() -> String {
    std::env::var("APPTEMPLATE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "APPTEMPLATE_TEST_KUBECONFIG is not set: these tests need the real control plane. \
             Run `.ci/control-plane/start DIR`, then \
             `export APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig`, and stop it afterwards with \
             `.ci/control-plane/stop DIR`"
        )
    })
}

async fn client() -> Client {
    let env = profile("probe", "default", None, false);
    template_k8s::connect(&env, Some(std::path::Path::new(&kubeconfig())))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A namespace name unique to this run of `scenario`.
fn namespace(scenario: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{scenario}-{:05}", nanos % 100_000)
}

/// The storage class of the control plane's pool of volumes (the Pig
/// fixtures' hint, `fast-ssd`, does not exist there, as on many clusters).
const POOL_CLASS: &str = "apptemplate-pool";

/// A profile whose claims bind to the pool's volumes.
fn profile(
    name: &str,
    namespace: &str,
    registry: Option<&str>,
    released_only: bool,
) -> EnvironmentProfile {
    EnvironmentProfile {
        name: name.into(),
        context: None,
        namespace: namespace.into(),
        registry: registry.map(str::to_owned),
        released_only,
        env_overrides: BTreeMap::new(),
        storage_class: Some(POOL_CLASS.into()),
    }
}

fn delivery(market: &Market, registry: &Registry) -> Delivery {
    Delivery::new(
        market.clone(),
        ExecutorOptions {
            wait: WaitOptions {
                timeout: Duration::from_secs(120),
                poll_interval: Duration::from_millis(250),
            },
            concurrency: 4,
            lock: LockOptions {
                identity: "delivery-test".into(),
                lease_duration: Duration::from_secs(15),
            },
            exposure: Exposure::NodePort,
        },
    )
    .with_kubeconfig(kubeconfig())
    .with_registry(registry.access())
}

/// Collects every event; `take` hands them out and starts again.
#[derive(Default)]
struct Events(Mutex<Vec<DeliveryEvent>>);

impl Events {
    fn record(&self, event: &DeliveryEvent) {
        self.0.lock().unwrap().push(event.clone());
    }

    fn take(&self) -> Vec<DeliveryEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// `(blobs_uploaded, bytes_uploaded)` of every `Relocated` event.
fn relocations(events: &[DeliveryEvent]) -> Vec<(usize, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            DeliveryEvent::Relocated { counts, .. } => {
                Some((counts.blobs_uploaded, counts.bytes_uploaded))
            }
            _ => None,
        })
        .collect()
}

fn images(version: &TemplateVersion) -> BTreeMap<String, ImageRef> {
    version
        .components
        .iter()
        .map(|c| {
            let (name, digest) = c.image.split_once('@').unwrap();
            (
                c.key.clone(),
                ImageRef {
                    name: name.to_owned(),
                    digest: digest.to_owned(),
                },
            )
        })
        .collect()
}

/// The image of every Deployment and StatefulSet of `namespace`, by name.
async fn workload_images(client: &Client, namespace: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    for d in deployments.list(&Default::default()).await.unwrap() {
        let image = d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone()
            .unwrap();
        out.insert(d.metadata.name.unwrap(), image);
    }
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    for s in sets.list(&Default::default()).await.unwrap() {
        let image = s.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone()
            .unwrap();
        out.insert(s.metadata.name.unwrap(), image);
    }
    out
}

/// Every workload of `namespace` runs the relocated image of its component
/// in `version`, and the registry serves each of them.
async fn assert_relocated(
    client: &Client,
    namespace: &str,
    version: &TemplateVersion,
    registry: &Registry,
    components: usize,
) {
    let target = RegistryTarget::new(registry.address());
    let live = workload_images(client, namespace).await;
    assert_eq!(live.len(), components, "{live:?}");
    for (key, image) in images(version) {
        let Some(running) = live.get(&format!("pig-{key}")) else {
            continue;
        };
        let expected = target.relocated_reference(&image).unwrap();
        assert_eq!(running, &expected, "component {key}");
        assert!(
            running.starts_with(&format!("{}/", registry.address()))
                && running.contains("@sha256:"),
            "{running}"
        );
        assert!(registry.has_manifest(running), "registry lacks {running}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_relocates_images_first_and_a_second_install_pushes_nothing() {
    let started = Instant::now();
    let client = client().await;
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path().join("market")).unwrap();
    let (v1, _) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let delivery = delivery(&market, &registry);
    let events = Events::default();
    let progress = |e: &DeliveryEvent| events.record(e);

    let first_ns = namespace("deliver-a");
    let first = profile("site-a", &first_ns, Some(&registry.address()), false);
    let report = delivery
        .install(
            &first,
            "pig",
            "1.0.0",
            &InstallOptions::default(),
            &progress,
        )
        .await
        .unwrap_or_else(|e| panic!("install into {first_ns}: {e}"));
    assert_eq!(report.state.version, "1.0.0");
    assert_eq!(report.plan.kind, PlanKind::Install);
    let seen = events.take();
    let pushed = relocations(&seen);
    assert_eq!(pushed.len(), 1, "one relocation: {pushed:?}");
    assert!(pushed[0].0 > 0 && pushed[0].1 > 0, "{pushed:?}");
    eprintln!(
        "first relocation: {} blobs, {} bytes",
        pushed[0].0, pushed[0].1
    );
    // Relocation came before anything was applied, and every step reported.
    let first_applied = seen
        .iter()
        .position(|e| matches!(e, DeliveryEvent::StepApplied { .. }))
        .expect("steps reported");
    let relocated_at = seen
        .iter()
        .position(|e| matches!(e, DeliveryEvent::Relocated { .. }))
        .unwrap();
    assert!(relocated_at < first_applied);
    let steps_done = seen
        .iter()
        .filter(|e| matches!(e, DeliveryEvent::StepDone { ok: true, .. }))
        .count();
    assert_eq!(steps_done, report.plan.steps.len());
    assert!(
        seen.iter()
            .any(|e| matches!(e, DeliveryEvent::Waiting { .. }))
    );
    assert!(matches!(
        seen.last(),
        Some(DeliveryEvent::Done {
            ok: true,
            operation: PlanKind::Install,
            ..
        })
    ));
    let components = report.state.components.len();
    assert_relocated(&client, &first_ns, &v1, &registry, components).await;
    // Claims bound to the pool's volumes.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &first_ns);
    let claims = claims.list(&Default::default()).await.unwrap();
    assert!(!claims.items.is_empty());
    for claim in claims.items {
        assert_eq!(
            claim.status.and_then(|s| s.phase).as_deref(),
            Some("Bound"),
            "{:?}",
            claim.metadata.name
        );
    }

    // The same version into another namespace: the registry has it all.
    let second_ns = namespace("deliver-b");
    let second = profile("site-b", &second_ns, Some(&registry.address()), false);
    delivery
        .install(
            &second,
            "pig",
            "1.0.0",
            &InstallOptions::default(),
            &progress,
        )
        .await
        .unwrap_or_else(|e| panic!("install into {second_ns}: {e}"));
    let pushed = relocations(&events.take());
    assert_eq!(pushed, vec![(0, 0)], "a rerun pushes nothing");
    assert_relocated(&client, &second_ns, &v1, &registry, components).await;
    eprintln!("second relocation: 0 blobs, 0 bytes");

    // Installing again is refused before anything is pushed or applied.
    let err = delivery
        .install(
            &second,
            "pig",
            "1.0.0",
            &InstallOptions::default(),
            &progress,
        )
        .await
        .expect_err("already installed");
    assert!(
        matches!(err, Error::Kubernetes(K8sError::Precondition { .. })),
        "{err}"
    );
    assert!(events.take().is_empty());
    let history = delivery.history(&second, "pig").await.unwrap();
    assert_eq!(history.len(), 1);
    eprintln!(
        "delivery install x2 with relocation: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_gates_all_environments_then_installs_and_upgrades_each() {
    let started = Instant::now();
    let client = client().await;
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path().join("market")).unwrap();
    let (v1, _) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let delivery = delivery(&market, &registry);
    let events = Events::default();
    let progress = |e: &DeliveryEvent| events.record(e);
    let (test_ns, prod_ns) = (namespace("test"), namespace("prod"));
    let envs = [
        profile("test", &test_ns, Some(&registry.address()), false),
        profile("prod", &prod_ns, Some(&registry.address()), true),
    ];

    // A draft: production refuses it, and neither namespace is touched.
    let err = delivery
        .deliver(&envs, "pig", "1.0.0", &progress)
        .await
        .expect_err("draft refused by prod");
    let message = err.to_string();
    eprintln!("release gate: {message}");
    assert!(
        matches!(err, Error::Kubernetes(K8sError::ReleaseGate { .. })),
        "{message}"
    );
    assert!(
        message.contains("`prod`") && message.contains("1.0.0"),
        "{message}"
    );
    assert!(events.take().is_empty(), "nothing relocated or applied");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [&test_ns, &prod_ns] {
        assert!(
            namespaces.get_opt(ns).await.unwrap().is_none(),
            "{ns} was created"
        );
    }
    assert!(delivery.state(&envs[0], "pig").await.unwrap().is_none());

    // Released: both installed, images relocated once for the shared registry.
    market
        .set_release_state("pig", "1.0.0", ReleaseState::Testing)
        .unwrap();
    market
        .set_release_state("pig", "1.0.0", ReleaseState::Released)
        .unwrap();
    let outcomes = delivery
        .deliver(&envs, "pig", "1.0.0", &progress)
        .await
        .unwrap();
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| {
            (
                o.environment.as_str(),
                o.action,
                o.error.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("test", Some(DeliveryAction::Install), None),
            ("prod", Some(DeliveryAction::Install), None)
        ]
    );
    let pushed = relocations(&events.take());
    assert_eq!(pushed.len(), 1, "once per registry: {pushed:?}");
    assert!(pushed[0].0 > 0);
    let components = outcomes[0].report.as_ref().unwrap().state.components.len();
    for ns in [&test_ns, &prod_ns] {
        assert_relocated(&client, ns, &v1, &registry, components).await;
    }
    let json = serde_json::to_value(&outcomes).unwrap();
    assert_eq!(json[1]["action"], "install");
    assert_eq!(json[1]["report"]["state"]["version"], "1.0.0");

    // 2.0 published and released: both upgraded, per-environment outcomes.
    let v2 =
        testkit::publish_pig_incremental(&market, &v1, "2.0.0", LayerSizes::default()).unwrap();
    market
        .set_release_state("pig", "2.0.0", ReleaseState::Testing)
        .unwrap();
    market
        .set_release_state("pig", "2.0.0", ReleaseState::Released)
        .unwrap();
    let outcomes = delivery
        .deliver(&envs, "pig", "2.0.0", &progress)
        .await
        .unwrap();
    for outcome in &outcomes {
        assert_eq!(outcome.action, Some(DeliveryAction::Upgrade));
        assert_eq!(outcome.from_version.as_deref(), Some("1.0.0"));
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        let report = outcome.report.as_ref().unwrap();
        assert_eq!(report.plan.kind, PlanKind::Upgrade);
        assert_eq!(report.state.version, "2.0.0");
        let relocation = outcome.relocation.as_ref().unwrap();
        assert!(relocation.counts.blobs_uploaded > 0, "{relocation:?}");
        assert!(
            relocation.counts.blobs_skipped > 0,
            "base layers were there"
        );
    }
    let components = outcomes[0].report.as_ref().unwrap().state.components.len();
    for ns in [&test_ns, &prod_ns] {
        assert_relocated(&client, ns, &v2, &registry, components).await;
        let history = delivery
            .history(&profile("any", ns, None, false), "pig")
            .await
            .unwrap();
        let kinds: Vec<_> = history
            .iter()
            .map(|h| (h.kind, h.outcome.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PlanKind::Install, "succeeded"),
                (PlanKind::Upgrade, "succeeded")
            ]
        );
    }
    let done: Vec<_> = events
        .take()
        .into_iter()
        .filter_map(|e| match e {
            DeliveryEvent::Done {
                environment,
                operation,
                ok,
                ..
            } => Some((environment, operation, ok)),
            _ => None,
        })
        .collect();
    // Environments run at once, so their operations end in any order.
    let mut done = done;
    done.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        done,
        vec![
            ("prod".to_owned(), PlanKind::Upgrade, true),
            ("test".to_owned(), PlanKind::Upgrade, true)
        ]
    );

    // Delivered again: nothing to do, nothing pushed, no lock left.
    let outcomes = delivery
        .deliver(&envs, "pig", "2.0.0", &progress)
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| o.action == Some(DeliveryAction::Unchanged) && o.succeeded())
    );
    assert!(events.take().is_empty());
    let leases: Api<Lease> = Api::namespaced(client.clone(), &prod_ns);
    assert!(leases.get_opt("pig-lock").await.unwrap().is_none());

    // An edit made on prod's cluster, then a rollback of the upgrade: the
    // edit is found and reported before the recorded values go back.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &prod_ns);
    sets.patch(
        "pig-upms",
        &PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        },
        &Patch::Strategic(
            serde_json::json!({"spec": {"template": {"spec": {"containers": [
                {"name": "upms", "env": [{"name": "JAVA_OPTS", "value": "-Xmx4g"}]}
            ]}}}}),
        ),
    )
    .await
    .unwrap();
    let rollback = delivery
        .rollback(&envs[1], "pig", 2, &Default::default(), &progress)
        .await
        .unwrap_or_else(|e| panic!("rollback: {e}"));
    assert_eq!(rollback.state.version, "1.0.0");
    let drift: Vec<_> = rollback
        .drift
        .iter()
        .map(|d| (d.path.as_str(), d.live.as_str()))
        .collect();
    assert!(
        drift.contains(&("components[upms].env[JAVA_OPTS]", "-Xmx4g")),
        "{drift:?}"
    );
    assert!(matches!(
        events.take().last(),
        Some(DeliveryEvent::Done {
            operation: PlanKind::Rollback,
            ok: true,
            ..
        })
    ));
    eprintln!(
        "deliver gate + install x2 + upgrade x2 + rollback: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_environment_does_not_stop_the_others() {
    let client = client().await;
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path().join("market")).unwrap();
    let (v1, _) = testkit::publish_pig(&market, "1.0.0").unwrap();
    // Nothing listens on port 1 of 127.0.0.1: relocation to it fails.
    let mut closed = RegistryTarget::new("127.0.0.1:1");
    closed.insecure = true;
    let delivery = delivery(&market, &registry).with_registry(closed);
    let (broken_ns, good_ns) = (namespace("unreachable"), namespace("reachable"));
    let envs = [
        profile("site-down", &broken_ns, Some("127.0.0.1:1"), false),
        profile("site-up", &good_ns, Some(&registry.address()), false),
    ];
    let outcomes = delivery
        .deliver(&envs, "pig", "1.0.0", &|_| {})
        .await
        .unwrap();
    let down = &outcomes[0];
    assert_eq!(down.action, Some(DeliveryAction::Install));
    let error = down.error.as_ref().expect("relocation failed");
    assert!(matches!(error, Error::Market(_)), "{error}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    assert!(down.report.is_none());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(
        namespaces.get_opt(&broken_ns).await.unwrap().is_none(),
        "nothing applied where images could not be pushed"
    );
    let up = &outcomes[1];
    assert!(up.succeeded(), "{:?}", up.error);
    let report = up.report.as_ref().unwrap();
    assert_eq!(report.state.version, "1.0.0");
    assert_relocated(
        &client,
        &good_ns,
        &v1,
        &registry,
        report.state.components.len(),
    )
    .await;
    let json = serde_json::to_value(&outcomes).unwrap();
    assert!(json[0]["error"].as_str().unwrap().contains("127.0.0.1:1"));
}

/// The value of env var `name` of workload `workload`'s first container.
async fn workload_env(
    client: &Client,
    namespace: &str,
    workload: &str,
    name: &str,
) -> Option<String> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let template = match deployments.get_opt(workload).await.unwrap() {
        Some(d) => d.spec.unwrap().template,
        None => {
            let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
            sets.get(workload).await.unwrap().spec.unwrap().template
        }
    };
    template.spec.unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfigure_in_place_is_recorded_and_rolled_back() {
    let client = client().await;
    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path().join("market")).unwrap();
    testkit::publish_pig(&market, "1.0.0").unwrap();
    let delivery = Delivery::new(
        market.clone(),
        ExecutorOptions {
            wait: WaitOptions {
                timeout: Duration::from_secs(120),
                poll_interval: Duration::from_millis(250),
            },
            concurrency: 4,
            lock: LockOptions {
                identity: "reconfigure-test".into(),
                lease_duration: Duration::from_secs(15),
            },
            exposure: Exposure::NodePort,
        },
    )
    .with_kubeconfig(kubeconfig());
    let ns = namespace("reconfigure");
    let env = profile("site", &ns, None, false);
    delivery
        .install(&env, "pig", "1.0.0", &InstallOptions::default(), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("install: {e}"));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    assert!(deployments.get_opt("pig-monitor").await.unwrap().is_some());

    // The ops module off (pruned) and a heap override, at the same version.
    let options: UpgradeOptions = serde_json::from_value(serde_json::json!({
        "modules": {"ops": false},
        "prune": true,
        "overrides": {"env": {"upms": {"JAVA_OPTS": "-Xms1g -Xmx2g"}}}
    }))
    .unwrap();
    let report = delivery
        .upgrade(&env, "pig", "1.0.0", &options, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("reconfigure: {e}"));
    assert!(!report.unchanged);
    assert_eq!(report.plan.from_version.as_deref(), Some("1.0.0"));
    assert_eq!(report.state.version, "1.0.0");
    assert!(!report.state.modules.contains("ops"));
    assert!(deployments.get_opt("pig-monitor").await.unwrap().is_none());
    assert_eq!(
        workload_env(&client, &ns, "pig-upms", "JAVA_OPTS")
            .await
            .as_deref(),
        Some("-Xms1g -Xmx2g")
    );
    let history = delivery.history(&env, "pig").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].kind, PlanKind::Upgrade);

    // The same again: nothing to do is an outcome, and nothing is recorded.
    let again = delivery
        .reconfigure(&env, "pig", &options, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("reconfigure again: {e}"));
    assert!(again.unchanged, "{}", again.plan);
    assert_eq!(again.revision, report.revision);
    assert_eq!(delivery.history(&env, "pig").await.unwrap().len(), 2);

    // A value the template does not allow is refused before anything runs.
    let forbidden: UpgradeOptions = serde_json::from_value(serde_json::json!({
        "overrides": {"replicas": {"upms": 99}}
    }))
    .unwrap();
    let err = delivery
        .reconfigure(&env, "pig", &forbidden, &|_| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("overrides.replicas[upms]"),
        "{err}"
    );

    // Rolled back like any other revision.
    delivery
        .rollback(&env, "pig", report.revision, &Default::default(), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("rollback: {e}"));
    assert!(deployments.get_opt("pig-monitor").await.unwrap().is_some());
    assert_eq!(
        workload_env(&client, &ns, "pig-upms", "JAVA_OPTS")
            .await
            .as_deref(),
        Some("-Xms256m -Xmx512m")
    );
    let state = delivery.state(&env, "pig").await.unwrap().unwrap();
    assert!(state.modules.contains("ops"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_an_install_between_waves_and_running_it_again_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path().join("market")).unwrap();
    testkit::publish_pig(&market, "1.0.0").unwrap();
    let stop = template_k8s::StopSignal::new();
    let delivery = Delivery::new(
        market.clone(),
        ExecutorOptions {
            wait: WaitOptions {
                timeout: Duration::from_secs(120),
                poll_interval: Duration::from_millis(250),
            },
            concurrency: 4,
            lock: LockOptions {
                identity: "stop-test".into(),
                lease_duration: Duration::from_secs(15),
            },
            exposure: Exposure::NodePort,
        },
    )
    .with_kubeconfig(kubeconfig())
    .with_stop(stop.clone());
    let ns = namespace("stop");
    let env = profile("site", &ns, None, false);
    // Raised as soon as the first step is ready: the wave it is in
    // finishes, the next one never starts.
    let raise = stop.clone();
    let err = delivery
        .install(
            &env,
            "pig",
            "1.0.0",
            &InstallOptions::default(),
            &move |e| {
                if matches!(e, DeliveryEvent::StepDone { .. }) {
                    raise.stop();
                }
            },
        )
        .await
        .expect_err("the install stops");
    let Error::Kubernetes(K8sError::Stopped {
        revision,
        wave,
        applied_steps,
        remaining,
    }) = &err
    else {
        panic!("not a stop: {err}");
    };
    assert_eq!(err.code(), "CANCELLED");
    assert_eq!(*revision, 1);
    assert!(
        *wave > 1 && !applied_steps.is_empty() && *remaining > 0,
        "{err}"
    );
    let history = delivery.history(&env, "pig").await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].outcome.contains("partly"), "{:?}", history[0]);
    let state = delivery.state(&env, "pig").await.unwrap().unwrap();
    assert_eq!(state.components.len(), applied_steps.len());

    // Run again without the stop: the objects applied before are applied
    // again unchanged, the rest is added.
    let on = Delivery::new(market.clone(), ExecutorOptions::new("stop-test"))
        .with_kubeconfig(kubeconfig());
    let finished = on
        .install(&env, "pig", "1.0.0", &InstallOptions::default(), &|_| {})
        .await
        .unwrap_or_else(|e| panic!("finishing: {e}"));
    let pig = testkit::pig_fixture("1.0.0").unwrap();
    let whole = template_core::plan_install(&pig, &InstallOptions::default()).unwrap();
    assert_eq!(finished.state.components.len(), whole.steps.len());
    assert_eq!(finished.state.version, "1.0.0");
    assert_eq!(delivery.history(&env, "pig").await.unwrap().len(), 2);
}
