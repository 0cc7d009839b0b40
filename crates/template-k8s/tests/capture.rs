//! Capture against the real control plane (see `cluster.rs` for how it is
//! started): a capture only reads, works with an account that may only
//! get/list/watch, gives back what apptemplate installed, and turns an
//! application apptemplate did not write into a draft that installs
//! elsewhere with equivalent objects. Without
//! `APPTEMPLATE_TEST_KUBECONFIG` the tests fail: they are not optional.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodTemplateSpec, ServiceAccount,
};
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use template_core::{Format, InstallOptions, LoadOptions, TemplateVersion, load};
use template_k8s::capture::{CaptureOptions, round_trip_differences};
use template_k8s::{
    EnvironmentProfile, Executor, ExecutorOptions, Exposure, LockOptions, WaitOptions,
};

const STORAGE_CLASS: &str = "apptemplate-test";

fn kubeconfig() -> String {
    std::env::var("APPTEMPLATE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "APPTEMPLATE_TEST_KUBECONFIG is not set: these tests need the real control plane. \
             Run `.ci/control-plane/start DIR`, then `export APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig`"
        )
    })
}

fn profile(namespace: &str) -> EnvironmentProfile {
    EnvironmentProfile {
        name: "test".into(),
        context: None,
        namespace: namespace.into(),
        registry: None,
        released_only: false,
        env_overrides: BTreeMap::new(),
        storage_class: Some(STORAGE_CLASS.into()),
    }
}

async fn admin() -> Client {
    template_k8s::connect(
        &profile("default"),
        Some(std::path::Path::new(&kubeconfig())),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

fn namespace(scenario: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{scenario}-{:05}", nanos % 100_000)
}

fn executor(client: &Client, namespace: &str) -> Executor {
    Executor::new(
        client.clone(),
        profile(namespace),
        ExecutorOptions {
            wait: WaitOptions {
                timeout: Duration::from_secs(120),
                poll_interval: Duration::from_millis(250),
            },
            concurrency: 4,
            lock: LockOptions {
                identity: "capture-test".into(),
                lease_duration: Duration::from_secs(15),
            },
            exposure: Exposure::NodePort,
        },
    )
}

/// Creates `object` through server-side apply (cluster-scoped when it has
/// no namespace), as `kubectl apply --server-side` does.
async fn apply(client: &Client, namespace: Option<&str>, object: &Value) {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let kind = object["kind"].as_str().expect("kind");
    let name = object["metadata"]["name"].as_str().expect("name");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "PersistentVolumeClaim" => "persistentvolumeclaims".to_owned(),
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers".to_owned(),
        "StorageClass" => "storageclasses".to_owned(),
        "PersistentVolume" => "persistentvolumes".to_owned(),
        other => format!("{}s", other.to_ascii_lowercase()),
    };
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural,
    };
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        name,
        &PatchParams::apply("kubectl").force(),
        &Patch::Apply(object),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {kind}/{name}: {e}"));
}

/// Nodes, the storage class, and one volume bound in advance to each claim
/// (nothing provisions volumes in this cluster).
async fn prepare(client: &Client, ns: &str, claims: &[&str]) {
    for n in ["kwok-node-a", "kwok-node-b"] {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok"}},
            "status": {"allocatable": {"cpu": "64", "memory": "512Gi", "pods": "250"},
                       "capacity": {"cpu": "64", "memory": "512Gi", "pods": "250"}}
        });
        let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        let _ = api
            .create(
                &PostParams::default(),
                &serde_json::from_value(node).expect("node"),
            )
            .await;
    }
    apply(client, None, &json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "apptemplate.test/none", "allowVolumeExpansion": true, "volumeBindingMode": "Immediate"
    }))
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
        )
        .await;
    for claim in claims {
        apply(
            client,
            None,
            &json!({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": format!("{ns}-{claim}")},
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                    "storageClassName": STORAGE_CLASS,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": format!("/tmp/{ns}/{claim}")},
                    "claimRef": {"namespace": ns, "name": claim}
                }
            }),
        )
        .await;
    }
}

fn shop_manifests() -> Vec<Value> {
    let path = format!(
        "{}/../../tests/data/capture/shop.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_norway::Value = serde::Deserialize::deserialize(d).expect("yaml");
            serde_json::to_value(v).expect("json")
        })
        .collect()
}

async fn apply_shop(client: &Client, ns: &str) {
    prepare(client, ns, &["cache-data", "data-db-0"]).await;
    for object in shop_manifests() {
        apply(client, Some(ns), &object).await;
    }
    wait_ready(client, ns, &["web", "api", "cache"], &["db"]).await;
}

async fn wait_ready(client: &Client, ns: &str, deployments: &[&str], stateful_sets: &[&str]) {
    let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let s: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    for _ in 0..240 {
        let mut ready = true;
        for name in deployments {
            let o = d.get(name).await.expect("deployment");
            let want = o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            ready &= o
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0)
                >= want;
        }
        for name in stateful_sets {
            let o = s.get(name).await.expect("statefulset");
            let want = o.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            ready &= o
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0)
                >= want;
        }
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the shop in {ns} did not become ready");
}

/// `Kind/name` → resourceVersion of every object in `ns` of the kinds a
/// capture reads.
async fn versions(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let discovery = kube::Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != kube::discovery::Scope::Namespaced
                || !caps.supports_operation(kube::discovery::verbs::LIST)
                || resource.kind == "Event"
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for o in list.items {
                out.insert(
                    format!(
                        "{}/{}",
                        resource.kind,
                        o.metadata.name.clone().unwrap_or_default()
                    ),
                    o.metadata.resource_version.clone().unwrap_or_default(),
                );
            }
        }
    }
    out
}

/// Waits until nothing in the namespace changes for two seconds (the
/// controllers are done), and returns the resourceVersions.
async fn settled_versions(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let mut last = versions(client, ns).await;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = versions(client, ns).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("objects in {ns} kept changing");
}

/// A client authenticated as a service account that may only get, list
/// and watch in `ns`, every kind of every group.
async fn read_only_client(admin: &Client, ns: &str) -> Client {
    reader_of(admin, ns, "capture-reader", &["*"]).await
}

/// A client authenticated as service account `name`, which may only get,
/// list and watch the kinds of `groups` in `ns`.
async fn reader_of(admin: &Client, ns: &str, name: &str, groups: &[&str]) -> Client {
    let verbs = json!(["get", "list", "watch"]);
    apply(
        admin,
        Some(ns),
        &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
    )
    .await;
    apply(
        admin,
        Some(ns),
        &json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name},
            "rules": [{"apiGroups": groups, "resources": ["*"], "verbs": verbs}]
        }),
    )
    .await;
    apply(
        admin,
        Some(ns),
        &json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
        }),
    )
    .await;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
            .expect("request");
    let token = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("token for the read-only account")
        .status
        .expect("token status")
        .token;
    let mut kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig()).expect("kubeconfig");
    for user in &mut kubeconfig.auth_infos {
        if let Some(info) = user.auth_info.as_mut() {
            info.token = Some(token.clone().into());
        }
    }
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c1_capture_only_reads_and_needs_only_read_rights() {
    let ns = namespace("c1-capture");
    let admin = admin().await;
    apply_shop(&admin, &ns).await;
    let reader = read_only_client(&admin, &ns).await;

    // The account really is read-only.
    let config_maps: Api<ConfigMap> = Api::namespaced(reader.clone(), &ns);
    let denied = config_maps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "probe"}})).expect("cm"),
        )
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref s)) if s.code == 403),
        "{denied:?}"
    );

    let before = settled_versions(&admin, &ns).await;
    let report = template_k8s::capture(
        &reader,
        &ns,
        None,
        &CaptureOptions {
            template_id: Some("shop".into()),
            ..CaptureOptions::default()
        },
    )
    .await
    .expect("capture with read rights only");
    let after = versions(&admin, &ns).await;
    assert_eq!(before, after, "a capture changed objects");
    assert!(before.len() > 15, "{before:?}");
    let keys: Vec<&str> = report
        .version
        .components
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(keys, ["api", "cache", "db", "web"]);
    assert!(
        template_core::validate(&report.version).is_empty(),
        "{:#?}",
        template_core::validate(&report.version)
    );
    // Read rights are enough to list every kind discovery finds: the only
    // objects outside the model are the reader's own account and rights.
    assert_eq!(
        unsupported(&report),
        BTreeSet::from([
            "Role/capture-reader".to_owned(),
            "RoleBinding/capture-reader".to_owned(),
            "ServiceAccount/capture-reader".to_owned(),
        ]),
        "{:#?}",
        report.unsupported
    );
}

fn unsupported(report: &template_k8s::CaptureReport) -> BTreeSet<String> {
    report
        .unsupported
        .iter()
        .map(|u| u.object.clone())
        .collect()
}

fn pig() -> TemplateVersion {
    let path = format!(
        "{}/../../tests/data/pig/1.0.0.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    load(&bytes[..], Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

fn random() -> impl FnMut(&mut [u8]) + Send {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    move |buf: &mut [u8]| {
        for b in buf {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = (state >> 24) as u8;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_capturing_installed_pig_gives_back_the_version() {
    let ns = namespace("c2-pig");
    let admin = admin().await;
    prepare(
        &admin,
        &ns,
        &["pig-mysql-data", "pig-redis-data", "pig-upms-upload"],
    )
    .await;
    let version = pig();
    executor(&admin, &ns)
        .install(
            &checked(&version),
            &InstallOptions::default(),
            &mut random(),
        )
        .await
        .unwrap_or_else(|e| panic!("installing Pig: {e}"));

    let options = CaptureOptions::default();
    let report = template_k8s::capture(
        &admin,
        &ns,
        Some("app.kubernetes.io/instance=pig"),
        &options,
    )
    .await
    .expect("capture");
    assert_eq!(report.version.template.id, "pig");
    let differences = round_trip_differences(&version, &report);
    assert!(differences.is_empty(), "{differences:#?}");
    assert!(report.unsupported.is_empty(), "{:#?}", report.unsupported);
    // The whole namespace, records and cluster-made objects included, holds
    // nothing outside the model either.
    let whole = template_k8s::capture(&admin, &ns, None, &options)
        .await
        .expect("capture of the namespace");
    assert!(whole.unsupported.is_empty(), "{:#?}", whole.unsupported);
    assert_eq!(whole.version.components, report.version.components);
    let again = template_k8s::capture(
        &admin,
        &ns,
        Some("app.kubernetes.io/instance=pig"),
        &options,
    )
    .await
    .expect("capture again");
    assert_eq!(
        again.version, report.version,
        "a second capture gives the same draft"
    );
}

fn pod_template(client_object: &Value) -> PodTemplateSpec {
    serde_json::from_value(client_object["spec"]["template"].clone()).expect("pod template")
}

fn main_container(t: &PodTemplateSpec, name: &str) -> Container {
    t.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == name).cloned())
        .unwrap_or_else(|| panic!("no container {name}"))
}

async fn object(client: &Client, ns: &str, kind: &str, name: &str) -> Value {
    match kind {
        "Deployment" => serde_json::to_value(
            Api::<Deployment>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .expect(name),
        ),
        _ => serde_json::to_value(
            Api::<StatefulSet>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .expect(name),
        ),
    }
    .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c3_an_application_apptemplate_did_not_write_installs_elsewhere_equivalent() {
    let source = namespace("c3-source");
    let target = namespace("c3-target");
    let admin = admin().await;
    apply_shop(&admin, &source).await;
    let report = template_k8s::capture(
        &admin,
        &source,
        None,
        &CaptureOptions {
            template_id: Some("shop".into()),
            ..CaptureOptions::default()
        },
    )
    .await
    .expect("capture");
    let draft = report.version.clone();
    assert!(
        template_core::validate(&draft).is_empty(),
        "{:#?}",
        template_core::validate(&draft)
    );

    prepare(&admin, &target, &["shop-cache-data", "shop-db-data"]).await;
    let mut options = InstallOptions::default();
    for (component, var) in [("api", "DB_PASSWORD"), ("db", "POSTGRES_PASSWORD")] {
        options
            .overrides
            .env
            .entry(component.into())
            .or_default()
            .insert(var.into(), "installer-chosen".into());
    }
    executor(&admin, &target)
        .install(&checked(&draft), &options, &mut random())
        .await
        .unwrap_or_else(|e| panic!("installing the captured draft: {e}"));

    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), &source);
    let installed_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), &target);
    for (kind, name) in [
        ("Deployment", "web"),
        ("Deployment", "api"),
        ("StatefulSet", "db"),
        ("Deployment", "cache"),
    ] {
        let original = pod_template(&object(&admin, &source, kind, name).await);
        // A component that owns a volume is rendered as a StatefulSet.
        let stateful = draft.component(name).is_some_and(|c| c.is_stateful());
        let installed_kind = if stateful {
            "StatefulSet"
        } else {
            "Deployment"
        };
        let installed =
            pod_template(&object(&admin, &target, installed_kind, &format!("shop-{name}")).await);
        let a = main_container(&original, name);
        let b = main_container(&installed, name);
        assert_eq!(a.image, b.image, "{name}: image");
        assert_eq!(a.command, b.command, "{name}: command");
        assert_eq!(a.args, b.args, "{name}: args");
        let ports = |c: &Container| {
            c.ports
                .iter()
                .flatten()
                .map(|p| p.container_port)
                .collect::<Vec<_>>()
        };
        assert_eq!(ports(&a), ports(&b), "{name}: ports");
        assert_eq!(a.resources, b.resources, "{name}: resources");
        for (pa, pb) in [
            (&a.liveness_probe, &b.liveness_probe),
            (&a.readiness_probe, &b.readiness_probe),
        ] {
            assert_eq!(pa.is_some(), pb.is_some(), "{name}: probe");
            if let (Some(pa), Some(pb)) = (pa, pb) {
                assert_eq!(
                    pa.period_seconds.unwrap_or(10),
                    pb.period_seconds.unwrap_or(10),
                    "{name}: probe period"
                );
                assert_eq!(
                    pa.initial_delay_seconds.unwrap_or(0),
                    pb.initial_delay_seconds.unwrap_or(0),
                    "{name}: probe delay"
                );
                assert_eq!(pa.exec, pb.exec, "{name}: exec probe");
                assert_eq!(
                    pa.http_get.as_ref().and_then(|h| h.path.clone()),
                    pb.http_get.as_ref().and_then(|h| h.path.clone()),
                    "{name}: http probe"
                );
            }
        }
        // Mount paths of files and volumes.
        let mounts = |c: &Container| {
            let mut m: Vec<String> = c
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.clone())
                .collect();
            m.sort();
            m
        };
        assert_eq!(mounts(&a), mounts(&b), "{name}: mounts");
        // Env: every original variable is there, with the original value
        // (hosts of dependencies renamed to the installed Services).
        let installed_env: BTreeMap<String, Option<String>> = b
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        let component = draft.component(name).expect("component");
        for var in &component.env {
            let value = installed_env
                .get(&var.name)
                .unwrap_or_else(|| panic!("{name}: env {} not installed", var.name));
            if !var.secret {
                assert_eq!(
                    value.as_deref(),
                    Some(var.value.as_str()),
                    "{name}: env {}",
                    var.name
                );
            }
        }
        for var in a.env.iter().flatten() {
            assert!(
                installed_env.contains_key(&var.name),
                "{name}: env {} lost",
                var.name
            );
        }
        for file in &component.config_files {
            let map = installed_maps
                .get(&format!("shop-{name}-config"))
                .await
                .expect("config map");
            assert!(
                map.data.iter().flatten().any(|(_, v)| *v == file.content),
                "{name}: file {}",
                file.mount_path
            );
        }
    }
    // The nginx file is the original one, with the API's host renamed.
    let original = config_maps.get("web-config").await.expect("web-config");
    let content = &original.data.expect("data")["nginx.conf"];
    let captured = &draft.component("web").expect("web").config_files[0].content;
    assert_eq!(
        captured,
        &content.replace("http://api:8080", "http://shop-api:8080")
    );
    // Volumes keep their sizes.
    let claims: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        Api::namespaced(admin.clone(), &target);
    for (claim, size) in [("shop-cache-data", "1Gi"), ("shop-db-data", "2Gi")] {
        let c = claims
            .get(claim)
            .await
            .unwrap_or_else(|e| panic!("{claim}: {e}"));
        let requested = c
            .spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned());
        assert_eq!(requested.map(|q| q.0).as_deref(), Some(size), "{claim}");
    }
}

/// Waits until the API server serves and discovery lists `group`.
async fn wait_served(client: &Client, group: &str) {
    for _ in 0..120 {
        if let Ok(d) = kube::Discovery::new(client.clone()).run_aggregated().await
            && d.has_group(group)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("group {group} was never served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c4_kinds_outside_the_model_are_found_by_discovery() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

    let ns = namespace("c4-kinds");
    let admin = admin().await;
    apply_shop(&admin, &ns).await;
    // A custom resource of a group unique to this run (definitions are
    // cluster-wide, and other tests run at the same time).
    let group = format!("{ns}.example.com");
    let definition = format!("widgets.{group}");
    apply(&admin, None, &json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": definition},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    }))
    .await;
    wait_served(&admin, &group).await;
    apply(
        &admin,
        Some(&ns),
        &json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "blue"}, "spec": {"size": 3}}),
    )
    .await;
    apply(&admin, Some(&ns), &json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "nightly-report"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "report", "image": "registry.example.com/shop/report:1.0", "command": ["report"]}]
        }}}
    }))
    .await;
    let options = CaptureOptions {
        template_id: Some("shop".into()),
        ..CaptureOptions::default()
    };
    let report = template_k8s::capture(&admin, &ns, None, &options).await;
    // A reader of the core, apps and autoscaling groups only: every other
    // kind is one entry, not one per object or per attempt.
    let narrow = reader_of(&admin, &ns, "narrow-reader", &["", "apps", "autoscaling"]).await;
    let narrow_report = template_k8s::capture(&narrow, &ns, None, &options).await;
    let definitions: Api<CustomResourceDefinition> = Api::all(admin.clone());
    definitions
        .delete(&definition, &Default::default())
        .await
        .expect("deleting the definition");

    let report = report.expect("capture");
    assert_eq!(
        unsupported(&report),
        BTreeSet::from(["Job/nightly-report".to_owned(), "Widget/blue".to_owned()]),
        "{:#?}",
        report.unsupported
    );
    let widget = report
        .unsupported
        .iter()
        .find(|u| u.object == "Widget/blue")
        .expect("widget");
    assert!(
        widget.reason.contains("not in the template model"),
        "{widget:?}"
    );
    let keys: Vec<&str> = report
        .version
        .components
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(keys, ["api", "cache", "db", "web"]);

    let narrow_report = narrow_report.expect("capture with narrow rights");
    assert_eq!(narrow_report.version, report.version);
    let unreadable: Vec<&str> = narrow_report
        .unsupported
        .iter()
        .filter(|u| u.reason.contains("could not be listed"))
        .map(|u| u.object.as_str())
        .collect();
    let kinds: BTreeSet<&str> = unreadable.iter().copied().collect();
    assert_eq!(
        kinds.len(),
        unreadable.len(),
        "one entry per kind: {unreadable:?}"
    );
    for kind in ["Widget/*", "Job/*", "Role/*", "Lease/*"] {
        assert!(kinds.contains(kind), "{kind} not reported: {unreadable:?}");
    }
    assert!(
        unreadable.iter().all(|k| k.ends_with("/*")),
        "{unreadable:?}"
    );
    // What the narrow account may read is still examined.
    let examined = unsupported(&narrow_report);
    assert!(
        examined.contains("ServiceAccount/narrow-reader"),
        "{examined:?}"
    );
    for readable in [
        "ServiceAccount/*",
        "Endpoints/*",
        "ControllerRevision/*",
        "ReplicaSet/*",
    ] {
        assert!(
            !kinds.contains(readable),
            "{readable} reported: {unreadable:?}"
        );
    }
}

/// `version`, validated as a market returns it.
fn checked(version: &TemplateVersion) -> template_core::ValidatedVersion {
    template_core::ValidatedVersion::new(version.clone()).expect("a valid version")
}
