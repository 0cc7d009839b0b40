//! Publishing a running application in one step against the real control
//! plane and a real `docker-registry`: images pushed there by `skopeo`
//! under tags, an application written as plain manifests, then
//! `publish_from_cluster` three times (new template, nothing changed, one
//! change) and once stopped. Without `APPTEMPLATE_TEST_KUBECONFIG` the
//! test fails: it is not optional.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::ops::ControlFlow;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use template_core::PublishOutcome;
use template_delivery::{
    PublishFromClusterOptions, PublishFromClusterProgress, publish_from_cluster,
};
use template_k8s::EnvironmentProfile;
use template_k8s::capture::{CaptureOptions, DigestSource};
use template_market::testkit::{self, LayerSizes, registry::LocalRegistry};
use template_market::{Market, RegistryAccess};

fn kubeconfig() -> String {
    std::env::var("APPTEMPLATE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "APPTEMPLATE_TEST_KUBECONFIG is not set: these tests need the real control plane. \
             Run `.ci/control-plane/start DIR`, then `export APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig`"
        )
    })
}

async fn client(namespace: &str) -> Client {
    let profile = EnvironmentProfile {
        name: "dev".into(),
        context: None,
        namespace: namespace.into(),
        registry: None,
        released_only: false,
        env_overrides: Default::default(),
        storage_class: None,
    };
    template_k8s::connect(&profile, Some(std::path::Path::new(&kubeconfig())))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Pushes synthetic images `shop/<name>:1.0` with skopeo; returns each
/// reference and the digest skopeo reads back from the registry.
fn push_images(registry: &LocalRegistry, names: &[&str]) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let images: Vec<_> = names
        .iter()
        .map(|n| testkit::synthetic_image(n, LayerSizes::default()).unwrap())
        .collect();
    testkit::write_oci_layout(tmp.path(), &images).unwrap();
    names
        .iter()
        .map(|n| {
            let reference = format!("{}/shop/{n}:1.0", registry.address());
            let out = Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:{n}", tmp.path().display()))
                .arg(format!("docker://{reference}"))
                .output()
                .expect("skopeo must be installed (see .ci/setup)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let out = Command::new("skopeo")
                .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
                .arg(format!("docker://{reference}"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
            (reference, digest)
        })
        .collect()
}

async fn apply(client: &Client, ns: &str, object: Value) {
    let name = object["metadata"]["name"].as_str().unwrap().to_owned();
    let params = PatchParams::apply("kubectl").force();
    match object["kind"].as_str() {
        Some("Deployment") => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            api.patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(drop)
        }
        Some("Service") => {
            let api: Api<Service> = Api::namespaced(client.clone(), ns);
            api.patch(&name, &params, &Patch::Apply(&object))
                .await
                .map(drop)
        }
        other => panic!("kind {other:?}"),
    }
    .unwrap_or_else(|e| panic!("applying {name}: {e}"));
}

fn deployment(name: &str, image: &str, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name, "image": image, "env": env,
                    "ports": [{"name": "http", "containerPort": 8080}]
                }]}
            }
        }
    })
}

fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}
    })
}

fn options(registry: &LocalRegistry) -> PublishFromClusterOptions {
    let mut access = RegistryAccess::new(registry.address());
    access.insecure = true;
    PublishFromClusterOptions {
        capture: CaptureOptions {
            template_id: Some("shop".into()),
            ..CaptureOptions::default()
        },
        registries: vec![access],
        ..PublishFromClusterOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_application_is_published_pinned_and_again_only_when_it_changed() {
    let registry = LocalRegistry::start().unwrap();
    let pushed = push_images(&registry, &["api", "web"]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let ns = format!("publish-{:05}", nanos % 100_000);
    let admin = client(&ns).await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    let (api_image, web_image) = (&pushed[0].0, &pushed[1].0);
    apply(
        &admin,
        &ns,
        deployment(
            "api",
            api_image,
            json!([{"name": "LOG_LEVEL", "value": "info"}]),
        ),
    )
    .await;
    apply(&admin, &ns, service("api")).await;
    apply(
        &admin,
        &ns,
        deployment(
            "web",
            web_image,
            json!([{"name": "API_URL", "value": "http://api:8080"}]),
        ),
    )
    .await;
    apply(&admin, &ns, service("web")).await;

    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();

    // 1. A new template: captured, images pulled by tag and pinned.
    let mut first = options(&registry);
    first.capture.template_name = Some("Shop".into());
    let mut stages = Vec::new();
    let report = publish_from_cluster(&admin, &ns, None, &market, &first, &mut |p| {
        stages.push(match p {
            PublishFromClusterProgress::Capture { .. } => "capture",
            PublishFromClusterProgress::Captured { .. } => "captured",
            PublishFromClusterProgress::Pull { .. } => "pull",
            PublishFromClusterProgress::Publish { .. } => "publish",
            _ => "other",
        });
        ControlFlow::Continue(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    stages.dedup();
    assert_eq!(stages, ["capture", "captured", "pull", "publish"]);
    assert_eq!(
        (report.template.as_str(), report.version.as_str()),
        ("shop", "0.1.0")
    );
    assert!(
        matches!(report.outcome, Some(PublishOutcome::Created { .. })),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.base, None);
    let published = market.version("shop", "0.1.0").unwrap();
    assert_eq!(published.template.name, "Shop");
    for (reference, digest) in &pushed {
        let key = reference
            .rsplit('/')
            .next()
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        let component = published.component(key).unwrap_or_else(|| panic!("{key}"));
        assert_eq!(component.image, format!("{reference}@{digest}"));
        let decision = report
            .capture
            .images
            .iter()
            .find(|d| d.component == key)
            .unwrap();
        assert!(
            matches!(
                decision.source,
                DigestSource::Registry | DigestSource::PodStatus | DigestSource::Template
            ),
            "{decision:?}"
        );
    }
    assert!(template_core::validate(&published).is_empty());
    assert!(
        published
            .component("web")
            .unwrap()
            .depends_on
            .contains(&"api".to_owned())
    );
    assert!(report.pull.blobs_fetched > 0);
    let images = market.images().unwrap();
    assert!(images.iter().any(|i| i.digest == pushed[0].1), "{images:?}");

    // 2. Nothing changed: nothing is published, nothing is fetched.
    let again = publish_from_cluster(&admin, &ns, None, &market, &options(&registry), &mut |_| {
        ControlFlow::Continue(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.outcome, None);
    assert_eq!(
        (again.version.as_str(), again.base.as_deref()),
        ("0.1.0", Some("0.1.0"))
    );
    assert_eq!(again.pull.blobs_fetched, 0, "{:?}", again.pull);
    assert_eq!(market.versions("shop").unwrap().len(), 1);

    // 3. One change on the cluster: the next minor version, with the
    //    catalogue data carried from 0.1.0 and the change listed.
    apply(
        &admin,
        &ns,
        deployment(
            "api",
            api_image,
            json!([{"name": "LOG_LEVEL", "value": "debug"}]),
        ),
    )
    .await;
    let changed =
        publish_from_cluster(&admin, &ns, None, &market, &options(&registry), &mut |_| {
            ControlFlow::Continue(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (changed.version.as_str(), changed.base.as_deref()),
        ("0.2.0", Some("0.1.0"))
    );
    assert!(matches!(
        changed.outcome,
        Some(PublishOutcome::Created { .. })
    ));
    let changes = changed.changes.as_ref().unwrap();
    let keys: Vec<&str> = changes.components.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["api"], "{changes:?}");
    let second = market.version("shop", "0.2.0").unwrap();
    assert_eq!(second.template.name, "Shop", "carried from the base");
    let log_level = second
        .component("api")
        .unwrap()
        .env
        .iter()
        .find(|e| e.name == "LOG_LEVEL")
        .unwrap();
    assert_eq!(log_level.value, "debug");

    // 4. Stopped by its progress callback during the pull: nothing is
    //    published and the market stays sound. The callback answers late,
    //    so the pull (its images are all in the market) has finished by
    //    then: the break must still stop the publish.
    apply(
        &admin,
        &ns,
        deployment(
            "web",
            web_image,
            json!([{"name": "API_URL", "value": "http://api:8080/v2"}]),
        ),
    )
    .await;
    let stopped = publish_from_cluster(&admin, &ns, None, &market, &options(&registry), &mut |p| {
        if matches!(p, PublishFromClusterProgress::Pull { .. }) {
            std::thread::sleep(std::time::Duration::from_millis(300));
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await;
    let e = stopped.expect_err("a stopped publish fails");
    assert_eq!(e.code(), "CANCELLED", "{e}");
    assert_eq!(market.versions("shop").unwrap().len(), 2);
    assert!(market.verify().unwrap().problems.is_empty());

    // 5. An image on a registry nobody can reach: the error names it.
    let mut unreachable = options(&registry);
    unreachable.registries.clear();
    unreachable.capture.version = Some("9.0.0".into());
    let e = publish_from_cluster(&admin, &ns, None, &market, &unreachable, &mut |_| {
        ControlFlow::Continue(())
    })
    .await
    .expect_err("HTTPS to a plain-HTTP registry fails");
    assert!(e.to_string().contains(&registry.address()), "{e}");
    assert_eq!(market.versions("shop").unwrap().len(), 2);

    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
