//! Detecting user changes in live objects, without a cluster: the rendered
//! objects stand in for the live ones, edited the way users edit them.

use serde_json::{Value, json};
use template_core::{
    Format, InstallOptions, InstalledState, KeepReason, LoadOptions, UpgradeOptions, install_state,
    load, plan_install, plan_upgrade,
};
use template_k8s::drift::{DriftKind, LiveObjects, fold_live};
use template_k8s::{Exposure, RenderOptions, render};

fn pig(version: &str) -> template_core::TemplateVersion {
    let path = format!(
        "{}/../../tests/data/pig/{version}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    load(&bytes[..], Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

fn installed() -> InstalledState {
    install_state(&plan_install(&pig("1.0.0"), &InstallOptions::default()).expect("plan"))
        .expect("state")
}

fn options() -> RenderOptions {
    RenderOptions {
        namespace: "pig".into(),
        registry: None,
        exposure: Exposure::NodePort,
        storage_class: None,
    }
}

fn live_as_rendered(state: &InstalledState) -> LiveObjects {
    render(state, &options())
        .expect("render")
        .into_iter()
        .map(|o| ((o.kind, o.name), o.object))
        .collect()
}

fn object<'a>(live: &'a mut LiveObjects, kind: &str, name: &str) -> &'a mut Value {
    live.get_mut(&(kind.to_owned(), name.to_owned()))
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

#[test]
fn untouched_objects_show_no_drift() {
    let state = installed();
    let (after, changes) = fold_live(&state, &options(), &live_as_rendered(&state)).expect("fold");
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(after, state);
}

#[test]
fn edits_become_customizations_that_the_upgrade_keeps() {
    let state = installed();
    let mut live = live_as_rendered(&state);
    // env edited in the StatefulSet of upms
    let upms = object(&mut live, "StatefulSet", "pig-upms");
    for var in upms["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .expect("env")
    {
        if var["name"] == "JAVA_OPTS" {
            var["value"] = json!("-Xms2g -Xmx2g");
        }
    }
    // config file edited in the ConfigMap of the gateway
    let cm = object(&mut live, "ConfigMap", "pig-gateway-config");
    let data = cm["data"].as_object_mut().expect("data");
    let key = data.keys().next().expect("one file").clone();
    data.insert(key, json!("spring: {}\n"));
    // the monitor scaled by hand, the mysql volume expanded
    object(&mut live, "Deployment", "pig-monitor")["spec"]["replicas"] = json!(3);
    object(&mut live, "PersistentVolumeClaim", "pig-mysql-data")["spec"]["resources"]["requests"]
        ["storage"] = json!("50Gi");

    let (after, changes) = fold_live(&state, &options(), &live).expect("fold");
    let mut kinds: Vec<(DriftKind, &str)> =
        changes.iter().map(|c| (c.kind, c.path.as_str())).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (DriftKind::Env, "components[upms].env[JAVA_OPTS]"),
            (
                DriftKind::ConfigFile,
                "components[gateway].config_files[/app/config/routes.yml]"
            ),
            (DriftKind::Replicas, "components[monitor].replicas"),
            (
                DriftKind::VolumeSize,
                "components[mysql].volumes[data].capacity"
            ),
        ]
    );
    let upms = &after.components["upms"].customizations;
    assert_eq!(upms.env["JAVA_OPTS"], "-Xms2g -Xmx2g");
    // The monitor runs exactly one replica by its template: three is
    // reported, not recorded, and the next operation puts one back.
    let monitor = changes
        .iter()
        .find(|c| c.path == "components[monitor].replicas")
        .expect("reported");
    let why = monitor.not_kept.as_deref().expect("not kept");
    assert!(why.contains("outside 1..=1"), "{why}");
    assert_eq!(after.components["monitor"].customizations.replicas, None);
    assert!(
        changes
            .iter()
            .filter(|c| c.path != monitor.path)
            .all(|c| c.not_kept.is_none())
    );

    let plan = plan_upgrade(
        &after,
        &pig("1.0.0"),
        &pig("2.0.0"),
        &UpgradeOptions::default(),
    )
    .expect("plan");
    let kept: Vec<(&str, KeepReason)> = plan
        .kept_customizations()
        .map(|k| (k.path.as_str(), k.reason))
        .collect();
    assert!(
        kept.contains(&("components[upms].env[JAVA_OPTS]", KeepReason::UserValue)),
        "{kept:?}"
    );
}

#[test]
fn a_user_changed_autoscaler_minimum_is_kept_and_secret_values_are_masked() {
    let state = installed();
    let mut live = live_as_rendered(&state);
    object(&mut live, "HorizontalPodAutoscaler", "pig-gateway")["spec"]["minReplicas"] = json!(4);
    // The monitor's password lives in its `-env` Secret.
    object(&mut live, "Secret", "pig-monitor-env")["data"]["ADMIN_PASSWORD"] = json!("czNjcjN0"); // base64 of "s3cr3t"
    let (after, changes) = fold_live(&state, &options(), &live).expect("fold");
    assert_eq!(after.components["gateway"].customizations.replicas, Some(4));
    let password = changes
        .iter()
        .find(|c| c.path == "components[monitor].env[ADMIN_PASSWORD]")
        .expect("password change detected");
    assert_eq!(password.live, template_core::diff::MASK);
    assert_eq!(
        after.components["monitor"].customizations.env["ADMIN_PASSWORD"],
        "s3cr3t"
    );
}
