use serde_json::{Value, json};
use template_core::{Format, InstallOptions, LoadOptions, install_state, load, plan_install};

use super::*;
use crate::capture::CapturedObjects;
use crate::render::{Exposure, RenderOptions, render};

fn manifests(path: &str) -> Vec<Value> {
    let path = format!("{}/../../tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_norway::Value = serde::Deserialize::deserialize(d).expect("yaml");
            serde_json::to_value(v).expect("json")
        })
        .collect()
}

fn objects_of(docs: Vec<Value>, namespace: &str) -> CapturedObjects {
    let mut objects = CapturedObjects::new(namespace);
    for mut d in docs {
        d["metadata"]["namespace"] = json!(namespace);
        // The API server turns stringData into data.
        if d["kind"] == "Secret"
            && let Some(string_data) = d.get("stringData").cloned()
        {
            let data: serde_json::Map<String, Value> = string_data
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let bytes = v.as_str().unwrap_or_default().as_bytes().to_vec();
                    (
                        k.clone(),
                        serde_json::to_value(k8s_openapi::ByteString(bytes)).expect("bytes"),
                    )
                })
                .collect();
            d["data"] = Value::Object(data);
            d.as_object_mut().expect("object").remove("stringData");
        }
        objects.push(d).expect("fixture object");
    }
    objects
}

fn shop() -> CapturedObjects {
    objects_of(manifests("capture/shop.yaml"), "shop")
}

fn options() -> CaptureOptions {
    CaptureOptions {
        template_id: Some("shop".into()),
        ..CaptureOptions::default()
    }
}

fn component<'a>(report: &'a CaptureReport, key: &str) -> &'a Component {
    report
        .version
        .component(key)
        .unwrap_or_else(|| panic!("no component {key}: {:#?}", report.version.components))
}

fn env<'a>(c: &'a Component, name: &str) -> &'a EnvVar {
    c.env
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{}: no env {name}: {:?}", c.key, c.env))
}

#[test]
fn the_shop_becomes_a_valid_draft() {
    let report = convert(&shop(), &options());
    let problems = template_core::validate(&report.version);
    assert!(problems.is_empty(), "{problems:#?}");
    let keys: Vec<&str> = report
        .version
        .components
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(keys, ["api", "cache", "db", "web"]);
    assert_eq!(report.version.release_state, ReleaseState::Draft);

    let web = component(&report, "web");
    assert!(
        web.image
            .ends_with("@sha256:2222222222222222222222222222222222222222222222222222222222222222")
    );
    assert_eq!(web.ports.len(), 1);
    assert!(web.ports[0].outer && web.ports[0].inner, "{:?}", web.ports);
    assert_eq!(web.config_files.len(), 1);
    assert_eq!(
        web.config_files[0].mount_path,
        "/etc/nginx/conf.d/default.conf"
    );
    assert_eq!(web.config_files[0].mode, "0600");
    assert!(
        web.config_files[0]
            .content
            .contains("proxy_pass http://shop-api:8080/"),
        "{}",
        web.config_files[0].content
    );
    assert_eq!(web.scaling.min_replicas, 2);
    assert_eq!(web.scaling.cpu_request.as_deref(), Some("100m"));
    assert_eq!(web.scaling.memory_limit.as_deref(), Some("128Mi"));
    assert_eq!(
        web.probes
            .readiness
            .as_ref()
            .and_then(|p| p.http.as_ref())
            .map(|h| (h.port, h.path.as_str())),
        Some((80, "/healthz"))
    );
    assert_eq!(
        web.probes.readiness.as_ref().map(|p| p.period_seconds),
        Some(5)
    );
    assert_eq!(
        web.probes
            .liveness
            .as_ref()
            .and_then(|p| p.tcp.as_ref())
            .map(|t| t.port),
        Some(80)
    );
    assert_eq!(web.labels.get("tier").map(String::as_str), Some("front"));
    assert_eq!(web.labels.get("app").map(String::as_str), Some("web"));
    let plugins: Vec<(&str, PluginKind)> = report
        .version
        .plugins
        .iter()
        .map(|p| (p.key.as_str(), p.kind))
        .collect();
    assert_eq!(
        plugins,
        [
            ("log-shipper", PluginKind::Sidecar),
            ("wait-for-api", PluginKind::Init)
        ]
    );
    assert_eq!(web.plugins.len(), 2);

    let api = component(&report, "api");
    assert_eq!(
        env(api, "DB_HOST").value,
        "shop-db",
        "hosts of dependencies are rewritten"
    );
    assert_eq!(env(api, "DB_PORT").value, "5432");
    assert_eq!(env(api, "CACHE_URL").value, "redis://shop-cache:6379/0");
    assert_eq!(env(api, "LOG_LEVEL").value, "info");
    assert_eq!(api.ports[0].name, "http");
    assert_eq!(
        web.ports[0].name, "web-http",
        "port names are unique in a template"
    );
    assert_eq!((api.scaling.min_replicas, api.scaling.max_replicas), (2, 5));
    let password = env(api, "DB_PASSWORD");
    assert!(password.secret && password.value.is_empty());
    assert!(env(api, "API_TOKEN").secret);
    assert!(report.flagged_env.iter().any(|f| f.variable == "API_TOKEN"));
    assert_eq!(api.depends_on, ["cache", "db"]);
    assert!(
        report
            .lossy
            .iter()
            .any(|l| l.component == "api" && l.field.ends_with("startupProbe"))
    );
    assert!(
        report
            .lossy
            .iter()
            .any(|l| l.object == "HorizontalPodAutoscaler/api" && l.field == "spec.metrics")
    );
    assert!(
        report
            .external_hosts
            .iter()
            .any(|h| h.component == "api" && h.host == "payments.example.com")
    );

    let db = component(&report, "db");
    assert_eq!(db.volumes.len(), 1);
    assert_eq!(db.volumes[0].capacity.as_deref(), Some("2Gi"));
    assert_eq!(db.volumes[0].mount_path, "/var/lib/postgresql/data");
    assert_eq!(
        db.volumes[0].storage_class.as_deref(),
        Some("apptemplate-test")
    );
    assert!(
        db.probes
            .readiness
            .as_ref()
            .is_some_and(|p| p.exec.is_some())
    );

    let cache = component(&report, "cache");
    assert_eq!(cache.volumes[0].capacity.as_deref(), Some("1Gi"));
    assert_eq!(
        cache
            .probes
            .liveness
            .as_ref()
            .and_then(|p| p.tcp.as_ref())
            .map(|t| t.port),
        Some(6379)
    );

    let web_deps: Vec<_> = report
        .dependencies
        .iter()
        .filter(|d| d.from == "web")
        .collect();
    assert!(
        web_deps
            .iter()
            .any(|d| d.to == "api" && d.added && d.confidence == Confidence::High),
        "{web_deps:#?}"
    );
    assert!(
        report
            .images
            .iter()
            .all(|i| i.source == DigestSource::Template)
    );
}

#[test]
fn secret_values_never_leave_unless_asked_per_key() {
    let objects = shop();
    let secret_value = "s3cr3t-Pa55word-never-copied";
    let report = convert(&objects, &options());
    let text = serde_json::to_string(&report).expect("json");
    assert!(!text.contains(secret_value));
    assert!(report.copied_values().is_empty());
    assert!(
        report
            .secrets
            .iter()
            .all(|s| s.handling == SecretHandling::Required)
    );

    let generated = convert(
        &objects,
        &CaptureOptions {
            generate_secrets: vec!["*_PASSWORD".into()],
            ..options()
        },
    );
    let api = component(&generated, "api");
    let var = api
        .connection_info
        .iter()
        .find(|c| c.name == "DB_PASSWORD")
        .expect("generated");
    assert_eq!(
        var.generate.as_ref().and_then(|g| g.group.as_deref()),
        Some("db-credentials-password")
    );
    assert!(
        !serde_json::to_string(&generated)
            .expect("json")
            .contains(secret_value)
    );
    assert!(template_core::validate(&generated.version).is_empty());

    let copied = convert(
        &objects,
        &CaptureOptions {
            copy_secret_values: vec!["db-credentials/password".into()],
            ..options()
        },
    );
    assert_eq!(
        env(component(&copied, "db"), "POSTGRES_PASSWORD").value,
        secret_value
    );
    assert_eq!(
        copied.copied_values().into_iter().collect::<Vec<_>>(),
        ["db-credentials/password"]
    );
}

#[test]
fn the_last_applied_annotation_of_a_secret_is_never_read() {
    let mut objects = shop();
    let secret = objects
        .secrets
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("db-credentials"))
        .expect("secret");
    secret.metadata.annotations = Some(BTreeMap::from([(
        LAST_APPLIED.to_owned(),
        r#"{"stringData":{"password":"in-the-annotation"}}"#.to_owned(),
    )]));
    let report = convert(&objects, &options());
    assert!(
        !serde_json::to_string(&report)
            .expect("json")
            .contains("in-the-annotation")
    );
}

#[test]
fn cluster_objects_are_skipped_and_other_kinds_listed() {
    let mut objects = shop();
    for extra in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "x"}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "api"}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "api-5d8f", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": "u"}]}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly-report"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": {"containers": [{"name": "x", "image": "busybox"}]}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old-token"}, "type": "kubernetes.io/service-account-token"}),
        // What discovery surfaces in a namespace besides the application.
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "shop-lock"}}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "shop-leader"}}),
        json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics", "metadata": {"name": "api-5d8f-x2x"}}),
        json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "db-7c9", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u"}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "api-abcde", "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "api", "uid": "u"}]}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "blue"}}),
    ] {
        objects.push(extra).expect("object");
    }
    let report = convert(&objects, &options());
    let skipped: BTreeSet<&str> = report.skipped.iter().map(|s| s.object.as_str()).collect();
    for o in [
        "ConfigMap/kube-root-ca.crt",
        "ServiceAccount/default",
        "Endpoints/api",
        "ReplicaSet/api-5d8f",
        "Secret/old-token",
        "Lease/shop-lock",
        "PodMetrics/api-5d8f-x2x",
        "ControllerRevision/db-7c9",
        "EndpointSlice/api-abcde",
    ] {
        assert!(skipped.contains(o), "{o} not skipped: {skipped:?}");
    }
    let unsupported: BTreeSet<&str> = report
        .unsupported
        .iter()
        .map(|s| s.object.as_str())
        .collect();
    assert_eq!(
        unsupported,
        BTreeSet::from([
            "CronJob/nightly-report",
            "Lease/shop-leader",
            "Pod/debug",
            "Widget/blue"
        ])
    );
}

#[test]
fn apply_records_tell_authored_from_defaulted() {
    let mut objects = shop();
    let cache = objects
        .deployments
        .iter_mut()
        .find(|d| d.metadata.name.as_deref() == Some("cache"))
        .expect("cache");
    let spec = cache.spec.as_mut().expect("spec");
    spec.revision_history_limit = Some(10);
    spec.progress_deadline_seconds = Some(120);
    let pod = spec.template.spec.as_mut().expect("pod");
    pod.dns_policy = Some("ClusterFirst".into());
    pod.node_selector = Some(BTreeMap::from([("disk".into(), "ssd".into())]));
    pod.containers[0].image_pull_policy = Some("Always".into());
    cache.metadata.managed_fields = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry {
            operation: Some("Apply".into()),
            manager: Some("kubectl".into()),
            fields_v1: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1(
                json!({
                    "f:spec": {"f:progressDeadlineSeconds": {}, "f:template": {"f:spec": {"f:nodeSelector": {}, "f:containers": {"k:{\"name\":\"cache\"}": {"f:imagePullPolicy": {}}}}}}
                }),
            )),
            ..Default::default()
        },
    ]);
    let report = convert(&objects, &options());
    let defaulted: Vec<(&str, Evidence)> = report
        .defaulted
        .iter()
        .filter(|d| d.object == "Deployment/cache")
        .map(|d| (d.field.as_str(), d.evidence))
        .collect();
    assert!(
        defaulted.contains(&("spec.revisionHistoryLimit", Evidence::AppliedFields)),
        "{defaulted:?}"
    );
    assert!(
        defaulted.contains(&("spec.template.spec.dnsPolicy", Evidence::AppliedFields)),
        "{defaulted:?}"
    );
    let lossy: Vec<&LossyField> = report
        .lossy
        .iter()
        .filter(|l| l.object == "Deployment/cache")
        .collect();
    for field in [
        "spec.progressDeadlineSeconds",
        "spec.template.spec.nodeSelector",
        "spec.template.spec.containers[cache].imagePullPolicy",
    ] {
        let l = lossy
            .iter()
            .find(|l| l.field == field)
            .unwrap_or_else(|| panic!("{field} not lossy: {lossy:#?}"));
        assert!(l.reason.contains("set by the author"), "{l:?}");
    }
}

#[test]
fn digests_come_from_pods_only_when_the_repository_matches() {
    let mut objects = shop();
    let api = objects
        .deployments
        .iter_mut()
        .find(|d| d.metadata.name.as_deref() == Some("api"))
        .expect("api");
    api.spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod")
        .containers[0]
        .image = Some("registry.example.com/shop/api:5.0.0".into());
    let digest_a = format!("sha256:{}", "a".repeat(64));
    let digest_b = format!("sha256:{}", "b".repeat(64));
    let pod = |name: &str, image_id: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "api"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-1", "uid": "u"}]},
            "spec": {"containers": [{"name": "api", "image": "x"}]},
            "status": {"containerStatuses": [{"name": "api", "image": "x", "imageID": image_id, "ready": true, "restartCount": 0}]}})
    };
    let mut one = objects.clone();
    one.push(pod(
        "api-1-a",
        &format!("docker-pullable://registry.example.com/shop/api@{digest_a}"),
    ))
    .expect("pod");
    one.push(pod(
        "api-1-b",
        &format!("other.example.com/mirror/api@{digest_b}"),
    ))
    .expect("pod");
    let report = convert(&one, &options());
    assert_eq!(
        component(&report, "api").image,
        format!("registry.example.com/shop/api:5.0.0@{digest_a}")
    );
    let decision = report
        .images
        .iter()
        .find(|i| i.component == "api")
        .expect("decision");
    assert_eq!(decision.source, DigestSource::PodStatus);

    let mut wrong = objects.clone();
    wrong
        .push(pod(
            "api-1-b",
            &format!("other.example.com/mirror/api@{digest_b}"),
        ))
        .expect("pod");
    wrong.push(pod("api-1-c", &digest_a)).expect("pod");
    let report = convert(&wrong, &options());
    assert_eq!(report.unresolved_images().len(), 1);
    assert!(report.unresolved_images()[0].note.contains("not trusted"));

    let mut split = objects;
    split
        .push(pod(
            "api-1-a",
            &format!("registry.example.com/shop/api@{digest_a}"),
        ))
        .expect("pod");
    split
        .push(pod(
            "api-1-b",
            &format!("registry.example.com/shop/api@{digest_b}"),
        ))
        .expect("pod");
    let report = convert(&split, &options());
    let decision = report
        .images
        .iter()
        .find(|i| i.component == "api")
        .expect("decision");
    assert_eq!(decision.pod_digests, [digest_a, digest_b]);
}

fn pig() -> TemplateVersion {
    let path = format!(
        "{}/../../tests/data/pig/1.0.0.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    load(&bytes[..], Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

/// The objects apptemplate renders for `version`, as the cluster would
/// list them.
pub(crate) fn rendered_objects(version: &TemplateVersion, namespace: &str) -> CapturedObjects {
    let state = install_state(&plan_install(version, &InstallOptions::default()).expect("plan"))
        .expect("state");
    let rendered = render(
        &state,
        &RenderOptions {
            namespace: namespace.into(),
            registry: None,
            exposure: Exposure::NodePort,
            storage_class: None,
        },
    )
    .expect("render");
    let mut objects = CapturedObjects::new(namespace);
    for o in rendered {
        objects.push(o.object).expect("rendered object");
    }
    objects
}

/// Capturing what apptemplate rendered gives back the version, except for
/// what the report names as lost.
#[test]
fn capturing_rendered_pig_returns_its_components() {
    let pig = pig();
    let report = convert(&rendered_objects(&pig, "pig"), &CaptureOptions::default());
    assert_eq!(report.version.template.id, "pig");
    let differences = crate::capture::round_trip_differences(&pig, &report);
    assert!(differences.is_empty(), "{differences:#?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// Keys are stable: listing order does not change the draft, and a
    /// component's key does not depend on the other workloads.
    #[test]
    fn the_draft_does_not_depend_on_listing_order(seed in 0u64..1000) {
        let objects = shop();
        let mut shuffled = objects.clone();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = |n: usize| { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state % n as u64) as usize };
        for list in [&mut shuffled.deployments] {
            for i in (1..list.len()).rev() { let j = next(i + 1); list.swap(i, j); }
        }
        for i in (1..shuffled.services.len()).rev() { let j = next(i + 1); shuffled.services.swap(i, j); }
        for i in (1..shuffled.config_maps.len()).rev() { let j = next(i + 1); shuffled.config_maps.swap(i, j); }
        let a = convert(&objects, &options());
        let b = convert(&shuffled, &options());
        proptest::prop_assert_eq!(&a.version, &b.version);
        // Dropping one workload leaves the other keys unchanged.
        let mut fewer = objects.clone();
        fewer.deployments.remove(next(fewer.deployments.len()));
        let c = convert(&fewer, &options());
        for comp in &c.version.components {
            proptest::prop_assert!(a.version.component(&comp.key).is_some());
        }
    }

    /// Whatever a Secret holds, its value appears nowhere in the report
    /// unless copied by an explicit option.
    #[test]
    fn no_secret_value_leaks(value in "[A-Za-z0-9!#%+=]{12,40}", generate in proptest::bool::ANY) {
        let mut objects = shop();
        let secret = objects.secrets.iter_mut().find(|s| s.metadata.name.as_deref() == Some("db-credentials")).expect("secret");
        secret.data = Some(BTreeMap::from([("password".to_owned(), k8s_openapi::ByteString(value.clone().into_bytes()))]));
        let opts = CaptureOptions {
            generate_secrets: if generate { vec!["db-credentials/*".into()] } else { Vec::new() },
            ..options()
        };
        let text = serde_json::to_string(&convert(&objects, &opts)).expect("json");
        proptest::prop_assert!(!text.contains(&value));
    }
}
