//! Rendering the installed Pig 1.0.0 into Kubernetes objects.

use serde_json::{Value, json};
use template_core::{Format, InstallOptions, LoadOptions, install_state, load, plan_install};
use template_k8s::{Exposure, RenderOptions, RenderedObject, render};

fn pig_installed() -> template_core::InstalledState {
    let v1 = load(
        include_bytes!("../../../tests/data/pig/1.0.0.yaml"),
        Format::Yaml,
        LoadOptions::default(),
    )
    .expect("fixture loads");
    let plan = plan_install(&v1, &InstallOptions::default()).expect("install plan");
    install_state(&plan).expect("state after install")
}

fn options() -> RenderOptions {
    RenderOptions {
        namespace: "pig-prod".into(),
        registry: Some("127.0.0.1:5000/delivery".into()),
        exposure: Exposure::NodePort,
        storage_class: None,
    }
}

fn find<'a>(objects: &'a [RenderedObject], kind: &str, name: &str) -> &'a Value {
    &objects
        .iter()
        .find(|o| o.kind == kind && o.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} {name} in {:?}",
                objects
                    .iter()
                    .map(|o| (&o.kind, &o.name))
                    .collect::<Vec<_>>()
            )
        })
        .object
}

fn env_of(workload: &Value, container: usize) -> &Vec<Value> {
    workload["spec"]["template"]["spec"]["containers"][container]["env"]
        .as_array()
        .expect("container env")
}

fn env_var<'a>(env: &'a [Value], name: &str) -> &'a Value {
    env.iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn stateful_components_get_a_statefulset_and_standalone_claims() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let mysql = find(&objects, "StatefulSet", "pig-mysql");
    assert_eq!(mysql["spec"]["replicas"], 1);
    assert_eq!(mysql["metadata"]["namespace"], "pig-prod");
    let pvc = find(&objects, "PersistentVolumeClaim", "pig-mysql-data");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "20Gi");
    assert_eq!(pvc["spec"]["storageClassName"], "fast-ssd");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    let volumes = mysql["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "pig-mysql-data")
    );
    // Stateless components are Deployments.
    find(&objects, "Deployment", "pig-nacos");
}

#[test]
fn images_point_at_the_environment_registry_by_digest() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let gateway = find(&objects, "Deployment", "pig-gateway");
    let image = gateway["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(
        image.starts_with("127.0.0.1:5000/delivery/pig/pig-gateway@sha256:"),
        "{image}"
    );
    let sidecar = &gateway["spec"]["template"]["spec"]["containers"][1];
    assert_eq!(sidecar["name"], "plugin-log-agent");
    assert!(
        sidecar["image"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:5000/delivery/pig/log-agent@sha256:")
    );
}

#[test]
fn autoscaled_workloads_leave_replicas_to_the_autoscaler() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let gateway = find(&objects, "Deployment", "pig-gateway");
    assert!(
        gateway["spec"].get("replicas").is_none(),
        "{}",
        gateway["spec"]
    );
    let hpa = find(&objects, "HorizontalPodAutoscaler", "pig-gateway");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(
        hpa["spec"]["behavior"]["scaleUp"]["policies"][0]["value"],
        2
    );
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
}

#[test]
fn services_follow_inner_and_outer_ports() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let inner = find(&objects, "Service", "pig-gateway");
    assert_eq!(inner["spec"]["type"], "ClusterIP");
    let outer = find(&objects, "Service", "pig-gateway-outer");
    assert_eq!(outer["spec"]["type"], "NodePort");
    // The UI is reachable from outside only.
    assert!(
        !objects
            .iter()
            .any(|o| o.kind == "Service" && o.name == "pig-ui")
    );
    find(&objects, "Service", "pig-ui-outer");

    let mut lb = options();
    lb.exposure = Exposure::LoadBalancer;
    let objects = render(&pig_installed(), &lb).unwrap();
    assert_eq!(
        find(&objects, "Service", "pig-ui-outer")["spec"]["type"],
        "LoadBalancer"
    );
}

#[test]
fn dependants_receive_connection_info_and_generated_secrets_by_reference() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let upms = find(&objects, "StatefulSet", "pig-upms");
    let env = env_of(upms, 0);
    assert_eq!(env_var(env, "MYSQL_HOST")["value"], "pig-mysql");
    assert_eq!(env_var(env, "NACOS_PORT")["value"], "8848");
    assert_eq!(env_var(env, "REDIS_HOST")["value"], "pig-redis");
    let password = &env_var(env, "MYSQL_PASSWORD")["valueFrom"]["secretKeyRef"];
    assert_eq!(password["name"], "pig-generated");
    assert_eq!(password["key"], "group.mysql-root");
    // codegen's password is the same shared value.
    let codegen = find(&objects, "Deployment", "pig-codegen");
    let own = &env_var(env_of(codegen, 0), "CODEGEN_DB_PASSWORD")["valueFrom"]["secretKeyRef"];
    assert_eq!(own["key"], "group.mysql-root");
    // Injected values come before the component's own, so own values can
    // refer to them with $(NAME).
    let names: Vec<&str> = env.iter().filter_map(|e| e["name"].as_str()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(pos("MYSQL_PASSWORD") < pos("JAVA_OPTS"), "{names:?}");
    // Names are unique, as server-side apply requires.
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    // Generated values are never rendered.
    assert!(
        !objects
            .iter()
            .any(|o| o.kind == "Secret" && o.name == "pig-generated")
    );
}

#[test]
fn secret_env_values_live_in_a_secret() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let secret = find(&objects, "Secret", "pig-monitor-env");
    assert!(secret["data"]["ADMIN_PASSWORD"].is_string());
    let monitor = find(&objects, "Deployment", "pig-monitor");
    let admin = env_var(env_of(monitor, 0), "ADMIN_PASSWORD");
    assert!(admin.get("value").is_none());
    assert_eq!(
        admin["valueFrom"]["secretKeyRef"]["name"],
        "pig-monitor-env"
    );
}

#[test]
fn config_files_are_mounted_file_by_file_and_volumes_are_shared() {
    let objects = render(&pig_installed(), &options()).unwrap();
    let cm = find(&objects, "ConfigMap", "pig-gateway-config");
    assert!(
        cm["data"]["0-routes.yml"]
            .as_str()
            .unwrap()
            .contains("pig-upms-biz")
    );
    let gateway = find(&objects, "Deployment", "pig-gateway");
    let mounts = gateway["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/app/config/routes.yml" && m["subPath"] == "0-routes.yml")
    );
    let codegen = find(&objects, "Deployment", "pig-codegen");
    let volumes = codegen["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "pig-upms-upload")
    );
    assert!(!objects.iter().any(|o| o.name == "pig-codegen-upload"));
}

#[test]
fn rendering_is_deterministic() {
    let state = pig_installed();
    let a = serde_json::to_vec(&render(&state, &options()).unwrap()).unwrap();
    let b = serde_json::to_vec(&render(&state.clone(), &options()).unwrap()).unwrap();
    assert_eq!(a, b);
}

fn inputs_checksum<'a>(objects: &'a [RenderedObject], kind: &str, name: &str) -> Option<&'a str> {
    find(objects, kind, name)["spec"]["template"]["metadata"]["annotations"]
        [template_k8s::INPUTS_CHECKSUM]
        .as_str()
}

#[test]
fn a_changed_secret_value_or_config_file_changes_the_pod_template() {
    // A container reads its env and files when it starts: a new password
    // kept in a Secret, or a new config file, must replace the pods, so
    // the pod template carries a digest of both.
    let state = pig_installed();
    let before = render(&state, &options()).unwrap();
    let monitor =
        inputs_checksum(&before, "Deployment", "pig-monitor").expect("monitor reads a secret");
    let gateway =
        inputs_checksum(&before, "Deployment", "pig-gateway").expect("gateway reads files");
    assert!(monitor.starts_with("sha256:"));

    let mut edited = state.clone();
    edited
        .set_env("monitor", "ADMIN_PASSWORD", "s3cret-and-long")
        .unwrap();
    edited
        .set_config_file("gateway", "/app/config/routes.yml", "routes: []\n")
        .unwrap();
    let after = render(&edited, &options()).unwrap();
    let monitor_after = inputs_checksum(&after, "Deployment", "pig-monitor").unwrap();
    assert_ne!(
        monitor, monitor_after,
        "a new password rolls the monitor out"
    );
    assert_ne!(
        gateway,
        inputs_checksum(&after, "Deployment", "pig-gateway").unwrap()
    );
    // Components whose inputs did not change keep their pod template.
    for o in before
        .iter()
        .filter(|o| o.kind == "Deployment" || o.kind == "StatefulSet")
    {
        if o.name != "pig-monitor" && o.name != "pig-gateway" {
            assert_eq!(
                inputs_checksum(&before, &o.kind, &o.name),
                inputs_checksum(&after, &o.kind, &o.name),
                "{}",
                o.name
            );
        }
    }
    // The digest never shows the value itself.
    let text = serde_json::to_string(find(&after, "Deployment", "pig-monitor")).unwrap();
    assert!(!text.contains("s3cret-and-long"));
}
