//! One test per problem kind: each breaks a valid Pig 1.0.0 document in one
//! place and checks that the problem is reported at the right path.

use template_core::{
    ConnectionVar, Format, LoadOptions, Port, Probe, ProblemKind, SecretRule, TemplateVersion,
    Volume, load, validate,
};

fn pig() -> TemplateVersion {
    load(
        include_bytes!("../../../tests/data/pig/1.0.0.yaml"),
        Format::Yaml,
        LoadOptions::default(),
    )
    .expect("fixture loads")
}

fn component<'a>(v: &'a mut TemplateVersion, key: &str) -> &'a mut template_core::Component {
    v.components
        .iter_mut()
        .find(|c| c.key == key)
        .expect("component exists")
}

/// Asserts that exactly the expected (path, kind) pairs are reported.
#[track_caller]
fn assert_problems(v: &TemplateVersion, expected: &[(&str, ProblemKind)]) {
    let problems = validate(v);
    let got: Vec<(&str, ProblemKind)> =
        problems.iter().map(|p| (p.path.as_str(), p.kind)).collect();
    assert_eq!(got, expected, "problems: {problems:#?}");
    for p in &problems {
        assert!(p.message.len() > 20, "message too terse: {p:?}");
    }
}

#[test]
fn fixture_is_valid() {
    assert_problems(&pig(), &[]);
}

#[test]
fn unknown_format() {
    let mut v = pig();
    v.format = "apptemplate.io/v9".into();
    assert_problems(&v, &[("format", ProblemKind::UnknownFormat)]);
}

#[test]
fn invalid_version() {
    let mut v = pig();
    v.version = "1.0".into();
    assert_problems(&v, &[("version", ProblemKind::InvalidVersion)]);
}

#[test]
fn invalid_timestamp() {
    let mut v = pig();
    v.created_at = Some("yesterday".into());
    assert_problems(&v, &[("created_at", ProblemKind::InvalidTimestamp)]);
}

#[test]
fn invalid_template_id_and_empty_name() {
    let mut v = pig();
    v.template.id = "Pig_App".into();
    v.template.name = " ".into();
    assert_problems(
        &v,
        &[
            ("template.id", ProblemKind::InvalidName),
            ("template.name", ProblemKind::Empty),
        ],
    );
}

#[test]
fn duplicate_component_key_is_addressed_by_position() {
    let mut v = pig();
    let mut copy = v.components[0].clone();
    copy.ports.clear();
    copy.connection_info.clear();
    copy.volumes.clear();
    copy.probes = Default::default();
    copy.config_files.clear();
    v.components.push(copy);
    let n = v.components.len();
    assert_problems(
        &v,
        &[(&format!("components[#{n}].key"), ProblemKind::DuplicateKey)],
    );
}

#[test]
fn image_without_digest() {
    let mut v = pig();
    component(&mut v, "gateway").image = "registry.example.com/pig/pig-gateway:3.8.2".into();
    assert_problems(
        &v,
        &[("components[gateway].image", ProblemKind::ImageWithoutDigest)],
    );
}

#[test]
fn invalid_image() {
    let mut v = pig();
    component(&mut v, "gateway").image = "UPPER CASE/not an image".into();
    assert_problems(
        &v,
        &[("components[gateway].image", ProblemKind::InvalidImage)],
    );
}

#[test]
fn invalid_logo_digest() {
    let mut v = pig();
    v.template.logo = Some("md5:abc".into());
    assert_problems(&v, &[("template.logo", ProblemKind::InvalidDigest)]);
}

#[test]
fn unknown_dependency() {
    let mut v = pig();
    component(&mut v, "gateway")
        .depends_on
        .push("eureka".into());
    assert_problems(
        &v,
        &[(
            "components[gateway].depends_on[4]",
            ProblemKind::UnknownDependency,
        )],
    );
}

#[test]
fn dependency_cycle_is_named() {
    let mut v = pig();
    // nacos → gateway closes three cycles, through gateway's direct edge to
    // nacos and through auth and upms, which depend on nacos too.
    component(&mut v, "nacos").depends_on.push("gateway".into());
    let problems = validate(&v);
    assert!(
        problems
            .iter()
            .all(|p| p.kind == ProblemKind::DependencyCycle),
        "{problems:#?}"
    );
    let messages: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    for (path, cycle) in [
        (
            "components[auth].depends_on",
            "auth → nacos → gateway → auth",
        ),
        (
            "components[gateway].depends_on",
            "gateway → nacos → gateway",
        ),
        (
            "components[gateway].depends_on",
            "gateway → upms → nacos → gateway",
        ),
    ] {
        assert!(
            messages
                .iter()
                .any(|(p, m)| *p == path && m.contains(cycle)),
            "{cycle} not reported at {path}: {messages:#?}"
        );
    }
    assert_eq!(problems.len(), 3);
}

#[test]
fn self_dependency() {
    let mut v = pig();
    component(&mut v, "ui").depends_on.push("ui".into());
    assert_problems(
        &v,
        &[("components[ui].depends_on[1]", ProblemKind::DependencyCycle)],
    );
}

#[test]
fn dependency_on_optional_module() {
    let mut v = pig();
    component(&mut v, "gateway")
        .depends_on
        .push("codegen".into());
    assert_problems(
        &v,
        &[(
            "components[gateway].depends_on[4]",
            ProblemKind::OptionalDependency,
        )],
    );
}

#[test]
fn two_components_claim_one_port_name() {
    let mut v = pig();
    component(&mut v, "auth").ports[0].name = "gateway".into();
    let problems = validate(&v);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].path, "components[gateway].ports[0].name");
    assert_eq!(problems[0].kind, ProblemKind::DuplicateKey);
    assert!(
        problems[0].message.contains("`auth`"),
        "{}",
        problems[0].message
    );
}

#[test]
fn port_out_of_range_and_declared_twice() {
    let mut v = pig();
    let c = component(&mut v, "nacos");
    c.ports[1].port = 70_000;
    c.ports.push(Port {
        name: "nacos-raft".into(),
        port: 8848,
        protocol: Default::default(),
        inner: true,
        outer: false,
    });
    assert_problems(
        &v,
        &[
            ("components[nacos].ports[1].port", ProblemKind::PortConflict),
            ("components[nacos].ports[2].port", ProblemKind::PortConflict),
        ],
    );
}

#[test]
fn volume_and_config_file_claim_one_path() {
    let mut v = pig();
    component(&mut v, "upms").config_files[0].mount_path = "/data/upload".into();
    assert_problems(
        &v,
        &[(
            "components[upms].volumes[0].mount_path",
            ProblemKind::MountPathConflict,
        )],
    );
    assert_first_named(&v, "components[upms].config_files[0].mount_path");
}

#[test]
fn mount_path_not_clean() {
    let mut v = pig();
    component(&mut v, "redis").volumes[0].mount_path = "/data/../etc".into();
    assert_problems(
        &v,
        &[(
            "components[redis].volumes[0].mount_path",
            ProblemKind::InvalidPath,
        )],
    );
}

#[test]
fn bad_file_mode() {
    let mut v = pig();
    component(&mut v, "redis").config_files[0].mode = "0999".into();
    assert_problems(
        &v,
        &[(
            "components[redis].config_files[0].mode",
            ProblemKind::InvalidMode,
        )],
    );
}

#[test]
fn volume_without_capacity_and_bad_quantity() {
    let mut v = pig();
    component(&mut v, "redis").volumes[0].capacity = None;
    component(&mut v, "mysql").volumes[0].capacity = Some("20GB".into());
    assert_problems(
        &v,
        &[
            (
                "components[mysql].volumes[0].capacity",
                ProblemKind::InvalidQuantity,
            ),
            (
                "components[redis].volumes[0].capacity",
                ProblemKind::InvalidQuantity,
            ),
        ],
    );
}

#[test]
fn shared_volume_must_exist_and_be_shareable() {
    let mut v = pig();
    component(&mut v, "codegen").volumes[0].shared_from = Some("upms/attachments".into());
    assert_problems(
        &v,
        &[(
            "components[codegen].volumes[0].shared_from",
            ProblemKind::InvalidVolumeShare,
        )],
    );

    let mut v = pig();
    component(&mut v, "ui").volumes.push(Volume {
        name: "db".into(),
        mount_path: "/mnt/db".into(),
        capacity: None,
        access_mode: Default::default(),
        storage_class: None,
        shared_from: Some("mysql/data".into()),
    });
    let problems = validate(&v);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].path, "components[ui].volumes[0].shared_from");
    assert!(
        problems[0].message.contains("read_write_once"),
        "{}",
        problems[0].message
    );
}

#[test]
fn min_replicas_above_max() {
    let mut v = pig();
    component(&mut v, "gateway").scaling.min_replicas = 8;
    assert_problems(
        &v,
        &[(
            "components[gateway].scaling.min_replicas",
            ProblemKind::ReplicaRange,
        )],
    );
}

#[test]
fn zero_step() {
    let mut v = pig();
    component(&mut v, "gateway").scaling.step = 0;
    assert_problems(
        &v,
        &[(
            "components[gateway].scaling.step",
            ProblemKind::ReplicaRange,
        )],
    );
}

#[test]
fn request_above_limit() {
    let mut v = pig();
    component(&mut v, "gateway").scaling.cpu_request = Some("3".into());
    assert_problems(
        &v,
        &[(
            "components[gateway].scaling.cpu_request",
            ProblemKind::ResourceRange,
        )],
    );
}

#[test]
fn probe_without_target() {
    let mut v = pig();
    component(&mut v, "redis").probes.readiness = Some(Probe {
        tcp: None,
        http: None,
        exec: None,
        initial_delay_seconds: 0,
        period_seconds: 10,
        timeout_seconds: 1,
        failure_threshold: 3,
    });
    assert_problems(
        &v,
        &[(
            "components[redis].probes.readiness",
            ProblemKind::ProbeWithoutTarget,
        )],
    );
}

#[test]
fn probe_on_undeclared_port() {
    let mut v = pig();
    if let Some(p) = component(&mut v, "gateway").probes.liveness.as_mut() {
        p.tcp = Some(template_core::TcpProbe { port: 8080 });
    }
    assert_problems(
        &v,
        &[(
            "components[gateway].probes.liveness.tcp.port",
            ProblemKind::InvalidProbe,
        )],
    );
}

#[test]
fn connection_info_needs_value_or_rule() {
    let mut v = pig();
    component(&mut v, "redis")
        .connection_info
        .push(ConnectionVar {
            name: "REDIS_DB".into(),
            value: None,
            generate: None,
            description: String::new(),
            secret: false,
        });
    assert_problems(
        &v,
        &[(
            "components[redis].connection_info[3]",
            ProblemKind::InvalidConnectionInfo,
        )],
    );
}

#[test]
fn secret_length_out_of_range() {
    let mut v = pig();
    if let Some(rule) = component(&mut v, "nacos").connection_info[2]
        .generate
        .as_mut()
    {
        rule.length = 4;
    }
    assert_problems(
        &v,
        &[(
            "components[nacos].connection_info[2].generate.length",
            ProblemKind::InvalidSecretRule,
        )],
    );
}

#[test]
fn shared_secret_group_with_different_rules() {
    let mut v = pig();
    component(&mut v, "codegen").connection_info[0].generate = Some(SecretRule {
        length: 32,
        alphabet: template_core::Alphabet::Hex,
        group: Some("mysql-root".into()),
    });
    let problems = validate(&v);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(
        problems[0].path,
        "components[codegen].connection_info[0].generate"
    );
    assert_eq!(problems[0].kind, ProblemKind::SecretGroupConflict);
    assert!(
        problems[0]
            .message
            .contains("components[mysql].connection_info[3].generate")
    );
}

#[test]
fn duplicate_variable_across_env_and_connection_info() {
    let mut v = pig();
    component(&mut v, "mysql").env[0].name = "MYSQL_HOST".into();
    assert_problems(
        &v,
        &[(
            "components[mysql].connection_info[0].name",
            ProblemKind::DuplicateKey,
        )],
    );
    assert_first_named(&v, "components[mysql].env[0].name");
}

/// Asserts that the one problem's message names where the name was
/// first declared, so the user can find both places.
#[track_caller]
fn assert_first_named(v: &TemplateVersion, first: &str) {
    let problems = validate(v);
    assert!(
        problems[0].message.contains(first),
        "`{first}` not named in {:?}",
        problems[0].message
    );
}

#[test]
fn invalid_variable_name() {
    let mut v = pig();
    component(&mut v, "gateway").env[0].name = "1JAVA OPTS".into();
    assert_problems(
        &v,
        &[("components[gateway].env[0].name", ProblemKind::InvalidName)],
    );
}

#[test]
fn unknown_module() {
    let mut v = pig();
    component(&mut v, "monitor").module = Some("observability".into());
    assert_problems(
        &v,
        &[("components[monitor].module", ProblemKind::UnknownModule)],
    );
}

#[test]
fn unknown_plugin() {
    let mut v = pig();
    component(&mut v, "auth").plugins[0].plugin = "apm-agent".into();
    assert_problems(
        &v,
        &[(
            "components[auth].plugins[0].plugin",
            ProblemKind::UnknownPlugin,
        )],
    );
}

#[test]
fn config_group_with_unknown_component() {
    let mut v = pig();
    v.config_groups[0].components.push("report".into());
    assert_problems(
        &v,
        &[(
            "config_groups[0].components[5]",
            ProblemKind::UnknownComponent,
        )],
    );
}

#[test]
fn invalid_label() {
    let mut v = pig();
    component(&mut v, "ui")
        .labels
        .insert("tier".into(), "edge tier!".into());
    assert_problems(
        &v,
        &[("components[ui].labels[tier]", ProblemKind::InvalidLabel)],
    );
}

#[test]
fn no_components() {
    let mut v = pig();
    v.components.clear();
    v.config_groups.clear();
    assert_problems(&v, &[("components", ProblemKind::NoComponents)]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut v = pig();
    v.version = "next".into();
    component(&mut v, "gateway").image = "nginx:latest".into();
    component(&mut v, "ui").scaling.min_replicas = 9;
    component(&mut v, "auth").depends_on.push("ghost".into());
    let kinds: Vec<ProblemKind> = validate(&v).iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::InvalidVersion,
            ProblemKind::ImageWithoutDigest,
            ProblemKind::ReplicaRange,
            ProblemKind::UnknownDependency,
        ]
    );
}
