//! Scenario tests of diffs and plans on the seeds' Pig application:
//! 1.0.0 → 2.0.0 with user edits, a partial upgrade, and rollbacks after a
//! failed step.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};

use template_core::plan::Rule;
use template_core::{
    Action, ChangeKind, Error, Format, InstallOptions, InstalledState, KeepReason, LoadOptions,
    Outcome, RollbackOptions, TemplateVersion, UpgradeOptions, UpgradeRecord, apply, diff,
    install_state, load, plan_install, plan_rollback, plan_upgrade,
};

const PIG_1: &str = include_str!("../../../tests/data/pig/1.0.0.yaml");
const PIG_2: &str = include_str!("../../../tests/data/pig/2.0.0.yaml");

const USER_HEAP: &str = "-Xms1g -Xmx3g";
const NGINX_CONF: &str = "/etc/nginx/conf.d/default.conf";
const ADMIN_PASSWORD: &str = "Sup3r-s3cret-admin";

fn pig(text: &str) -> TemplateVersion {
    load(text.as_bytes(), Format::Yaml, LoadOptions::default()).expect("fixture loads")
}

/// Pig 1.0.0 installed with the monitor password chosen at install time,
/// then edited by the customer: a bigger heap for the user service and a
/// longer nginx read timeout.
fn customer_install(v1: &TemplateVersion) -> InstalledState {
    let mut options = InstallOptions::default();
    options
        .overrides
        .env
        .entry("monitor".into())
        .or_default()
        .insert("ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into());
    let mut state = install_state(&plan_install(v1, &options).unwrap()).unwrap();
    state.set_env("upms", "JAVA_OPTS", USER_HEAP).unwrap();
    let conf = state.components["ui"]
        .config_content(NGINX_CONF)
        .unwrap()
        .to_owned();
    let edited = conf.replace(
        "proxy_set_header Host $host;",
        "proxy_set_header Host $host;\n        proxy_read_timeout 120s;",
    );
    state.set_config_file("ui", NGINX_CONF, &edited).unwrap();
    state
}

fn assert_dependency_order(plan: &template_core::Plan) {
    let wave_of: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .map(|s| (s.component.as_str(), s.wave))
        .collect();
    for step in &plan.steps {
        if let Some(t) = &step.target
            && !matches!(step.action, Action::Orphan | Action::Remove)
        {
            for dep in &t.spec.depends_on {
                if let Some(w) = wave_of.get(dep.as_str()) {
                    assert!(
                        *w < step.wave,
                        "{} (wave {}) runs before its dependency {dep} (wave {w})",
                        step.component,
                        step.wave
                    );
                }
            }
        }
    }
    let numbers: Vec<usize> = plan.steps.iter().map(|s| s.number).collect();
    assert_eq!(numbers, (1..=plan.steps.len()).collect::<Vec<_>>());
}

#[test]
fn diff_of_pig_versions_lists_every_change_and_renders_both_ways() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let d = diff(&v1, &v2).unwrap();
    assert!(d.metadata.iter().any(|c| c.path == "version"));
    assert!(
        d.modules
            .iter()
            .any(|c| c.path == "modules[report]" && c.kind == ChangeKind::Added)
    );
    assert!(
        d.config_groups
            .iter()
            .any(|c| c.path == "config_groups[spring-profile].components[report]")
    );
    let report = d.component("report").unwrap();
    assert_eq!(report.status, ChangeKind::Added);
    let upms = d.component("upms").unwrap();
    let heap = upms
        .changes
        .iter()
        .find(|c| c.path == "components[upms].env[JAVA_OPTS].value")
        .unwrap();
    assert_eq!(heap.old.as_ref().unwrap(), "-Xms256m -Xmx512m");
    assert_eq!(heap.new.as_ref().unwrap(), "-Xms512m -Xmx1g");
    assert!(
        upms.changes
            .iter()
            .any(|c| c.path == "components[upms].volumes[upload].capacity")
    );
    let routes = d
        .component("gateway")
        .unwrap()
        .changes
        .iter()
        .find(|c| c.path == "components[gateway].config_files[/app/config/routes.yml].content")
        .unwrap();
    assert!(routes.old.is_none() && !routes.lines.is_empty());
    assert!(
        d.component("mysql").is_none(),
        "unchanged components are not listed"
    );

    let text = d.render_text();
    assert!(text.contains("~ component gateway"));
    assert!(text.contains("+ component report (added)"));
    assert!(
        text.contains("        +         - id: pig-report"),
        "{text}"
    );
    assert!(text.contains("@@ -"));
    let json = d.to_json().unwrap();
    assert_eq!(
        json,
        diff(&v1, &v2).unwrap().to_json().unwrap(),
        "JSON is deterministic"
    );
    let back: template_core::VersionDiff = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);

    assert!(diff(&v2, &v2).unwrap().is_empty());
    let mut other = v2.clone();
    other.template.id = "another-app".into();
    assert!(matches!(
        diff(&v1, &other),
        Err(Error::TemplateMismatch { .. })
    ));
}

#[test]
fn secret_values_never_appear_in_diffs_or_plans() {
    let (v1, mut v2) = (pig(PIG_1), pig(PIG_2));
    let monitor = v2
        .components
        .iter_mut()
        .find(|c| c.key == "monitor")
        .unwrap();
    let password = monitor
        .env
        .iter_mut()
        .find(|e| e.name == "ADMIN_PASSWORD")
        .unwrap();
    password.value = "new-default-pass".into();
    let d = diff(&v1, &v2).unwrap();
    let change = d
        .component("monitor")
        .unwrap()
        .changes
        .iter()
        .find(|c| c.path == "components[monitor].env[ADMIN_PASSWORD].value")
        .unwrap();
    assert!(change.secret);
    for out in [d.render_text(), d.to_json().unwrap()] {
        assert!(
            !out.contains("change-me") && !out.contains("new-default-pass"),
            "{out}"
        );
        assert!(out.contains("<secret>"));
    }
    let state = customer_install(&v1);
    let plan = plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap();
    let kept: Vec<_> = plan
        .kept_customizations()
        .filter(|k| k.path.contains("ADMIN_PASSWORD"))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the chosen password is kept over the new default"
    );
    let record = UpgradeRecord::new(state.clone(), plan.clone(), Outcome::Succeeded);
    for out in [
        plan.render_text(),
        plan.to_json().unwrap(),
        format!("{plan:?}"),
        format!("{plan:#?}"),
        format!("{state:?}"),
        format!("{record:?}"),
    ] {
        assert!(
            !out.contains("new-default-pass")
                && !out.contains("change-me")
                && !out.contains(ADMIN_PASSWORD),
            "{out}"
        );
    }
    // The form that keeps them is asked for by name.
    let unmasked = plan.to_json_unmasked().unwrap();
    assert!(unmasked.contains(ADMIN_PASSWORD) && unmasked.contains("new-default-pass"));
    assert_eq!(
        serde_json::from_str::<template_core::Plan>(&unmasked).unwrap(),
        plan
    );
    // The generated secrets appear by reference only.
    let install = plan_install(&v1, &InstallOptions::default()).unwrap();
    let refs: Vec<&str> = install
        .new_secrets
        .iter()
        .map(|s| s.reference.as_str())
        .collect();
    assert!(refs.contains(&"group:mysql-root") && refs.contains(&"nacos:NACOS_AUTH_TOKEN"));
}

#[test]
fn upgrade_keeps_the_customers_env_value_and_config_file() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let state = customer_install(&v1);
    let plan = plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap();
    assert_dependency_order(&plan);

    // The user service follows the new image and volume size but keeps
    // the customer's heap, reported with the new default.
    let upms = plan.steps.iter().find(|s| s.component == "upms").unwrap();
    assert_eq!(upms.action, Action::Update);
    assert!(upms.changes.iter().any(|c| c.change.path == "components[upms].image" && c.rule == Rule::FollowsNewVersion));
    assert!(
        upms.changes
            .iter()
            .all(|c| !c.change.path.contains("JAVA_OPTS")),
        "the running heap does not change"
    );
    let heap = upms
        .kept
        .iter()
        .find(|k| k.path == "components[upms].env[JAVA_OPTS]")
        .unwrap();
    assert_eq!(heap.reason, KeepReason::UserValue);
    assert_eq!(heap.kept_value, USER_HEAP);
    assert_eq!(heap.new_default.as_ref().unwrap(), "-Xms512m -Xmx1g");
    assert!(
        upms.changes
            .iter()
            .any(|c| c.change.path == "components[upms].volumes[upload].capacity")
    );

    // The UI keeps the customer's nginx config; the report shows how the
    // new default differs from it.
    let ui = plan.steps.iter().find(|s| s.component == "ui").unwrap();
    let conf = ui
        .kept
        .iter()
        .find(|k| k.path.ends_with("default.conf]"))
        .unwrap();
    assert!(
        conf.lines
            .iter()
            .flat_map(|h| &h.lines)
            .any(|l| l.text.contains("gzip on;"))
    );
    assert!(
        ui.changes
            .iter()
            .all(|c| c.change.section != template_core::Section::ConfigFiles)
    );

    // Uncustomized values take the new defaults.
    let gateway = plan
        .steps
        .iter()
        .find(|s| s.component == "gateway")
        .unwrap();
    let routes = gateway
        .changes
        .iter()
        .find(|c| c.change.path.ends_with("routes.yml].content"))
        .unwrap();
    assert_eq!(routes.rule, Rule::NewDefaultTaken);
    let auth = plan.steps.iter().find(|s| s.component == "auth").unwrap();
    assert!(
        auth.changes
            .iter()
            .any(|c| c.change.item.as_deref() == Some("CAPTCHA_ENABLED")
                && c.rule == Rule::AddedByNewVersion)
    );

    // The optional report module is off by default.
    assert!(plan.steps.iter().all(|s| s.component != "report"));
    assert!(plan.orphaned().next().is_none());

    let after = apply(&state, &plan).unwrap();
    assert_eq!(after.version, "2.0.0");
    let upms = &after.components["upms"];
    assert!(upms.spec.image.contains("3.9.0"));
    assert_eq!(upms.env_value("JAVA_OPTS"), Some(USER_HEAP));
    assert_eq!(upms.volume_capacity("upload"), Some("20Gi"));
    assert!(
        after.components["ui"]
            .config_content(NGINX_CONF)
            .unwrap()
            .contains("proxy_read_timeout 120s;")
    );
    assert_eq!(
        after.components["monitor"].env_value("ADMIN_PASSWORD"),
        Some(ADMIN_PASSWORD)
    );
    assert!(after.components.values().all(|c| c.version == "2.0.0"));

    let text = plan.render_text();
    assert!(
        text.contains(
            "keeps \"-Xms1g -Xmx3g\" (your value stays; target default \"-Xms512m -Xmx1g\")"
        ),
        "{text}"
    );
    assert!(!text.contains(ADMIN_PASSWORD));
    assert_eq!(
        plan.to_json().unwrap(),
        plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default())
            .unwrap()
            .to_json()
            .unwrap()
    );

    // Switching the new module on adds it after what it depends on.
    let options = UpgradeOptions {
        modules: BTreeMap::from([("report".to_owned(), true)]),
        ..Default::default()
    };
    let with_report = plan_upgrade(&state, &v1, &v2, &options).unwrap();
    assert_dependency_order(&with_report);
    let report = with_report
        .steps
        .iter()
        .find(|s| s.component == "report")
        .unwrap();
    assert_eq!(report.action, Action::Create);
    assert!(
        apply(&state, &with_report)
            .unwrap()
            .modules
            .contains("report")
    );
}

#[test]
fn upgrading_to_the_same_version_plans_nothing() {
    let v1 = pig(PIG_1);
    let state = customer_install(&v1);
    let plan = plan_upgrade(&state, &v1, &v1, &UpgradeOptions::default()).unwrap();
    assert!(plan.is_empty(), "{}", plan.render_text());
    assert!(plan.render_text().contains("nothing to do"));
}

#[test]
fn upgrade_inputs_are_checked() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let state = customer_install(&v1);
    assert!(matches!(
        plan_upgrade(&state, &v2, &v2, &UpgradeOptions::default()),
        Err(Error::StateMismatch { .. })
    ));
    let after = apply(
        &state,
        &plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        plan_upgrade(&after, &v2, &v1, &UpgradeOptions::default()),
        Err(Error::VersionNotNewer { .. })
    ));
    let unknown = UpgradeOptions {
        modules: BTreeMap::from([("nope".to_owned(), true)]),
        ..Default::default()
    };
    assert!(matches!(
        plan_upgrade(&state, &v1, &v2, &unknown),
        Err(Error::InvalidOption { .. })
    ));
    let required_off = UpgradeOptions {
        modules: BTreeMap::from([("core".to_owned(), false)]),
        ..Default::default()
    };
    assert!(matches!(
        plan_upgrade(&state, &v1, &v2, &required_off),
        Err(Error::InvalidOption { .. })
    ));
    let scope = UpgradeOptions {
        components: Some(BTreeSet::from(["ghost".to_owned()])),
        ..Default::default()
    };
    assert!(matches!(
        plan_upgrade(&state, &v1, &v2, &scope),
        Err(Error::InvalidOption { .. })
    ));
}

#[test]
fn install_plan_orders_waves_and_checks_overrides() {
    let v1 = pig(PIG_1);
    let plan = plan_install(&v1, &InstallOptions::default()).unwrap();
    assert_dependency_order(&plan);
    let first_wave: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.wave == 1)
        .map(|s| s.component.as_str())
        .collect();
    assert_eq!(first_wave, ["mysql", "redis"]);
    assert_eq!(plan.steps.last().map(|s| s.component.as_str()), Some("ui"));

    let mut off = InstallOptions::default();
    off.modules.insert("devtools".into(), false);
    off.overrides.replicas.insert("gateway".into(), 4);
    off.overrides.storage_class = Some("standard".into());
    off.overrides
        .volume_storage_classes
        .insert("mysql/data".into(), "local-nvme".into());
    let state = install_state(&plan_install(&v1, &off).unwrap()).unwrap();
    assert!(!state.components.contains_key("codegen"));
    assert!(!state.modules.contains("devtools"));
    assert_eq!(state.components["gateway"].replicas(), 4);
    assert_eq!(
        state.components["mysql"].volume_storage_class("data"),
        Some("local-nvme")
    );
    assert_eq!(
        state.components["redis"].volume_storage_class("data"),
        Some("standard")
    );

    for bad in [
        {
            let mut o = InstallOptions::default();
            o.overrides
                .env
                .entry("mysql".into())
                .or_default()
                .insert("MYSQL_ROOT_HOST".into(), "10.%".into());
            o
        },
        {
            let mut o = InstallOptions::default();
            o.overrides.replicas.insert("gateway".into(), 60);
            o
        },
        {
            let mut o = InstallOptions::default();
            o.overrides
                .env
                .entry("nobody".into())
                .or_default()
                .insert("X".into(), "1".into());
            o
        },
        {
            let mut o = InstallOptions::default();
            o.overrides
                .volume_storage_classes
                .insert("mysql/nope".into(), "x".into());
            o
        },
    ] {
        assert!(
            matches!(plan_install(&v1, &bad), Err(Error::InvalidOption { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn partial_upgrade_of_two_components_then_the_rest() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let state = customer_install(&v1);
    let only = UpgradeOptions {
        components: Some(BTreeSet::from(["auth".to_owned(), "upms".to_owned()])),
        ..Default::default()
    };
    let plan = plan_upgrade(&state, &v1, &v2, &only).unwrap();
    let touched: BTreeSet<&str> = plan.steps.iter().map(|s| s.component.as_str()).collect();
    assert_eq!(touched, BTreeSet::from(["auth", "upms"]));
    assert_eq!(
        plan.version_after, "1.0.0",
        "the installation is not fully at 2.0.0 yet"
    );
    let mid = apply(&state, &plan).unwrap();
    assert_eq!(mid.version, "1.0.0");
    assert_eq!(mid.components["auth"].version, "2.0.0");
    assert_eq!(mid.components["gateway"].version, "1.0.0");
    assert!(mid.components["gateway"].spec.image.contains("3.8.2"));
    assert!(plan.render_text().contains("(only auth, upms)"));

    // The rest follows later from the same starting version.
    let rest = plan_upgrade(&mid, &v1, &v2, &UpgradeOptions::default()).unwrap();
    assert!(
        rest.steps
            .iter()
            .all(|s| s.component != "auth" && s.component != "upms")
    );
    let done = apply(&mid, &rest).unwrap();
    let direct = apply(
        &state,
        &plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        done, direct,
        "two partial upgrades end where one full upgrade does"
    );
}

/// Upgrade 1.0 → 2.0 with the report module, failing at the gateway step.
fn failed_upgrade() -> (
    TemplateVersion,
    TemplateVersion,
    InstalledState,
    UpgradeRecord,
) {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let before = customer_install(&v1);
    let options = UpgradeOptions {
        modules: BTreeMap::from([("report".to_owned(), true)]),
        ..Default::default()
    };
    let plan = plan_upgrade(&before, &v1, &v2, &options).unwrap();
    let gateway = plan
        .steps
        .iter()
        .find(|s| s.component == "gateway")
        .unwrap()
        .number;
    let report = plan
        .steps
        .iter()
        .find(|s| s.component == "report")
        .unwrap()
        .number;
    assert!(
        report < gateway,
        "the report service comes in an earlier wave than the gateway"
    );
    let record = UpgradeRecord::new(
        before.clone(),
        plan,
        Outcome::FailedAtStep {
            step: gateway,
            message: "readiness probe failed".into(),
            // As a record written before the applied steps were kept: the
            // steps numbered before the failed one.
            applied_steps: None,
        },
    );
    (v1, v2, before, record)
}

#[test]
fn rollback_after_a_failed_step_restores_the_snapshot_and_keeps_added_components() {
    let (_, _, before, record) = failed_upgrade();
    let current = record.state_after().unwrap();
    assert!(
        current.components["upms"].spec.image.contains("3.9.0"),
        "steps before the failure were applied"
    );
    assert!(current.components.contains_key("report"));
    assert_eq!(
        current.version, "1.0.0",
        "a failed plan does not move the version"
    );

    let rollback = plan_rollback(&record, &current, &RollbackOptions::default()).unwrap();
    assert_dependency_order(&rollback);
    assert_eq!(rollback.kept_components, ["report"]);
    assert!(rollback.steps.iter().all(|s| s.action == Action::Restore));
    assert!(rollback.steps.iter().any(|s| s.component == "upms"));
    assert!(
        rollback.steps.iter().all(|s| s.component != "gateway"),
        "gateway never changed"
    );
    let restored = apply(&current, &rollback).unwrap();
    assert_eq!(
        restored.components["upms"].spec,
        before.components["upms"].spec
    );
    assert_eq!(
        restored.components["upms"].env_value("JAVA_OPTS"),
        Some(USER_HEAP)
    );
    // The upload volume grew to 20Gi with 2.0.0 and cannot shrink back.
    let kept: Vec<_> = rollback.kept_customizations().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].path, "components[upms].volumes[upload].capacity");
    assert_eq!(kept[0].reason, KeepReason::VolumeNeverShrinks);
    assert_eq!(
        restored.components["upms"].volume_capacity("upload"),
        Some("20Gi")
    );
    let mut without_kept = restored.clone();
    without_kept.components.remove("report");
    without_kept.modules.remove("report");
    if let Some(upms) = without_kept.components.get_mut("upms") {
        upms.customizations.volumes.clear();
    }
    assert_eq!(without_kept, before);

    // Asked to, the rollback removes the added component, keeping its volume.
    let remove = RollbackOptions { remove_added: true };
    let rollback = plan_rollback(&record, &current, &remove).unwrap();
    let removal = rollback
        .steps
        .iter()
        .find(|s| s.component == "report")
        .unwrap();
    assert_eq!(removal.action, Action::Remove);
    assert_eq!(
        removal.wave,
        rollback.steps.iter().map(|s| s.wave).max().unwrap(),
        "removals come last"
    );
    let restored = apply(&current, &rollback).unwrap();
    assert_eq!(restored.retained_volumes.len(), 1);
    assert_eq!(restored.retained_volumes[0].component, "report");
    let mut without_retained = restored.clone();
    without_retained.retained_volumes.clear();
    if let Some(upms) = without_retained.components.get_mut("upms") {
        upms.customizations.volumes.clear();
    }
    assert_eq!(without_retained, before);
}

#[test]
fn a_rollback_is_recorded_and_can_itself_be_rolled_back() {
    let (_, _, before, record) = failed_upgrade();
    let current = record.state_after().unwrap();
    let rollback =
        plan_rollback(&record, &current, &RollbackOptions { remove_added: true }).unwrap();
    let rollback_record = UpgradeRecord::new(current.clone(), rollback, Outcome::Succeeded);
    let after_rollback = rollback_record.state_after().unwrap();
    assert_ne!(after_rollback, current);
    let undo = plan_rollback(
        &rollback_record,
        &after_rollback,
        &RollbackOptions::default(),
    )
    .unwrap();
    let mut again = apply(&after_rollback, &undo).unwrap();
    // The report volume is mounted again, so it is no longer merely retained.
    assert!(again.retained_volumes.is_empty());
    again.secrets.retain(|k, _| current.secrets.contains_key(k));
    assert_eq!(again, current);
    assert_ne!(before, current);

    let json = serde_json::to_string(&rollback_record).unwrap();
    let back: UpgradeRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rollback_record);
}

#[test]
fn rollback_to_an_earlier_record_across_two_upgrades_never_shrinks_volumes() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let start = customer_install(&v1);
    let first = UpgradeOptions {
        components: Some(BTreeSet::from(["upms".to_owned()])),
        ..Default::default()
    };
    let plan1 = plan_upgrade(&start, &v1, &v2, &first).unwrap();
    let record1 = UpgradeRecord::new(start.clone(), plan1, Outcome::Succeeded);
    let mut mid = record1.state_after().unwrap();
    // The customer expands the MySQL volume between the upgrades.
    mid.set_volume_capacity("mysql", "data", "50Gi").unwrap();
    let plan2 = plan_upgrade(&mid, &v1, &v2, &UpgradeOptions::default()).unwrap();
    let record2 = UpgradeRecord::new(
        mid.clone(),
        plan2,
        Outcome::PartlyApplied {
            applied_steps: vec![1, 2, 3],
        },
    );
    let current = record2.state_after().unwrap();

    let rollback = plan_rollback(&record1, &current, &RollbackOptions::default()).unwrap();
    let restored = apply(&current, &rollback).unwrap();
    assert_eq!(restored.version, "1.0.0");
    assert_eq!(
        restored.components["upms"].spec,
        start.components["upms"].spec
    );
    assert_eq!(
        restored.components["upms"].volume_capacity("upload"),
        Some("20Gi")
    );
    assert_eq!(
        restored.components["mysql"].volume_capacity("data"),
        Some("50Gi")
    );
    let kept: Vec<_> = rollback.kept_customizations().collect();
    assert!(
        kept.iter()
            .any(|k| k.reason == KeepReason::VolumeNeverShrinks && k.path.contains("mysql"))
    );
    for (key, c) in &restored.components {
        if key != "mysql" && key != "upms" {
            assert_eq!(Some(c), start.components.get(key), "{key}");
        }
    }
}

#[test]
fn removed_components_are_orphaned_unless_pruned_and_volumes_survive() {
    let (v1, v2) = (pig(PIG_1), pig(PIG_2));
    let state = customer_install(&v1);
    let mut v3 = v2.clone();
    v3.version = "3.0.0".into();
    v3.components.retain(|c| c.key != "monitor");
    for group in &mut v3.config_groups {
        group.components.retain(|k| k != "monitor");
    }
    // Redis drops its volume in 3.0.0 (and nothing mounts it any more).
    if let Some(redis) = v3.components.iter_mut().find(|c| c.key == "redis") {
        redis.volumes.clear();
    }
    let at2 = apply(
        &state,
        &plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap(),
    )
    .unwrap();

    let plan = plan_upgrade(&at2, &v2, &v3, &UpgradeOptions::default()).unwrap();
    assert_eq!(plan.orphaned().collect::<Vec<_>>(), ["monitor"]);
    let redis = plan.steps.iter().find(|s| s.component == "redis").unwrap();
    assert!(redis.changes.iter().any(|c| c.rule == Rule::VolumeRetained));
    let after = apply(&at2, &plan).unwrap();
    assert!(after.components["monitor"].orphaned);
    assert_eq!(after.retained_volumes.len(), 1);

    let pruned = plan_upgrade(
        &at2,
        &v2,
        &v3,
        &UpgradeOptions {
            prune: true,
            ..Default::default()
        },
    )
    .unwrap();
    let step = pruned
        .steps
        .iter()
        .find(|s| s.component == "monitor")
        .unwrap();
    assert_eq!(step.action, Action::Remove);
    let after = apply(&at2, &pruned).unwrap();
    assert!(!after.components.contains_key("monitor"));
    assert!(after.secrets.contains_key("group:mysql-root"));
}

/// The hotfix of a real report: only redis starts requiring a generated
/// password, and mysql renames its database. Nothing else changes in the
/// template, yet every dependant of redis and mysql receives other values.
fn hotfix() -> (TemplateVersion, TemplateVersion) {
    let mut before = pig(PIG_1);
    let redis = before
        .components
        .iter_mut()
        .find(|c| c.key == "redis")
        .unwrap();
    redis.connection_info.retain(|v| v.name != "REDIS_PASSWORD");
    let mut after = pig(PIG_1);
    after.version = "1.0.1".into();
    for c in &mut after.components {
        match c.key.as_str() {
            "redis" => {
                c.args = vec!["--requirepass".into(), "$(REDIS_PASSWORD)".into()];
            }
            "mysql" => {
                for v in &mut c.connection_info {
                    if v.name == "MYSQL_DB" {
                        v.value = Some("pig_prod".into());
                    }
                }
            }
            _ => {}
        }
    }
    (before, after)
}

fn dependants_of(v: &TemplateVersion, of: &[&str]) -> BTreeSet<String> {
    v.components
        .iter()
        .filter(|c| c.depends_on.iter().any(|d| of.contains(&d.as_str())))
        .map(|c| c.key.clone())
        .collect()
}

#[test]
fn a_dependency_whose_connection_info_changes_re_renders_every_dependant() {
    let (v1, v2) = hotfix();
    let state = install_state(&plan_install(&v1, &InstallOptions::default()).unwrap()).unwrap();
    let plan = plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap();
    assert_dependency_order(&plan);
    let stepped: BTreeSet<String> = plan.steps.iter().map(|s| s.component.clone()).collect();
    let mut expected = dependants_of(&v2, &["redis", "mysql"]);
    expected.extend(["redis".to_owned(), "mysql".to_owned()]);
    assert_eq!(stepped, expected, "{plan}");
    for key in dependants_of(&v2, &["redis"]) {
        let step = plan.steps.iter().find(|s| s.component == key).unwrap();
        assert!(
            step.why.contains("connection info of redis changed"),
            "{}",
            step.why
        );
        let password = step
            .changes
            .iter()
            .find(|c| c.change.item.as_deref() == Some("REDIS_PASSWORD"))
            .unwrap_or_else(|| panic!("{key} does not receive REDIS_PASSWORD: {plan}"));
        assert_eq!(password.rule, Rule::FollowsDependency);
        assert_eq!(password.change.kind, ChangeKind::Added);
        assert!(password.change.secret);
    }
    let upms = plan.steps.iter().find(|s| s.component == "upms").unwrap();
    assert!(
        upms.why.contains("connection info of mysql changed"),
        "{}",
        upms.why
    );
    // The new secret names every component that receives it.
    let secret = plan
        .new_secrets
        .iter()
        .find(|s| s.reference == "group:redis-auth")
        .unwrap();
    for key in dependants_of(&v2, &["redis"]) {
        assert!(
            secret.used_by.contains(&format!("{key}.REDIS_PASSWORD")),
            "{:?}",
            secret.used_by
        );
    }
    assert!(
        plan.to_string()
            .contains("connection info of redis changed")
    );

    // After the plan every component receives what a fresh install of the
    // hotfix gives it.
    let after = apply(&state, &plan).unwrap();
    let fresh = install_state(&plan_install(&v2, &InstallOptions::default()).unwrap()).unwrap();
    for key in fresh.components.keys() {
        assert_eq!(after.container_env(key), fresh.container_env(key), "{key}");
    }

    // Rolling back takes the password away from the dependants again.
    let record = UpgradeRecord::new(state.clone(), plan, Outcome::Succeeded);
    let rollback = plan_rollback(&record, &after, &RollbackOptions::default()).unwrap();
    let stepped: BTreeSet<String> = rollback.steps.iter().map(|s| s.component.clone()).collect();
    assert_eq!(stepped, expected, "{rollback}");
    let mut restored = apply(&after, &rollback).unwrap();
    // Secret references are never dropped: data may be protected by them.
    assert_eq!(rollback.kept_secrets, ["group:redis-auth"]);
    restored.secrets.remove("group:redis-auth");
    assert_eq!(restored, state);
}

#[test]
fn a_partial_upgrade_re_renders_dependants_outside_its_scope() {
    let (v1, v2) = hotfix();
    let state = install_state(&plan_install(&v1, &InstallOptions::default()).unwrap()).unwrap();
    let scope = UpgradeOptions {
        components: Some(BTreeSet::from(["redis".to_owned()])),
        ..Default::default()
    };
    let plan = plan_upgrade(&state, &v1, &v2, &scope).unwrap();
    let stepped: BTreeSet<String> = plan.steps.iter().map(|s| s.component.clone()).collect();
    let mut expected = dependants_of(&v2, &["redis"]);
    expected.insert("redis".to_owned());
    assert_eq!(stepped, expected, "{plan}");
    let after = apply(&state, &plan).unwrap();
    // The dependants keep their own version; only what they receive moved.
    assert_eq!(after.components["gateway"].version, "1.0.0");
    assert_eq!(after.version, "1.0.0");
}

#[test]
fn a_partial_upgrade_that_leaves_a_reference_unprovided_is_refused() {
    let (v1, mut v2) = hotfix();
    let gateway = v2
        .components
        .iter_mut()
        .find(|c| c.key == "gateway")
        .unwrap();
    gateway.env.push(template_core::EnvVar {
        name: "SPRING_DATA_REDIS_PASSWORD".into(),
        value: "$(REDIS_PASSWORD)".into(),
        description: String::new(),
        editable: false,
        secret: false,
    });
    let state = install_state(&plan_install(&v1, &InstallOptions::default()).unwrap()).unwrap();
    let only = |keys: &[&str]| UpgradeOptions {
        components: Some(keys.iter().map(|k| (*k).to_owned()).collect()),
        ..Default::default()
    };
    let err = plan_upgrade(&state, &v1, &v2, &only(&["gateway"])).unwrap_err();
    let Error::PartialUpgradeBreaksReference {
        component,
        variable,
        dependency,
        version,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(
        (
            component.as_str(),
            variable.as_str(),
            dependency.as_str(),
            version.as_str()
        ),
        ("gateway", "REDIS_PASSWORD", "redis", "1.0.1")
    );
    assert!(err.to_string().contains("include `redis`"), "{err}");
    // With its dependency in scope the same upgrade is planned.
    plan_upgrade(&state, &v1, &v2, &only(&["gateway", "redis"])).unwrap();
}

#[test]
fn a_customized_value_the_new_version_fixes_is_dropped_and_reported() {
    let v1 = pig(PIG_1);
    let mut v2 = pig(PIG_1);
    v2.version = "1.0.1".into();
    for c in v2.components.iter_mut().filter(|c| c.key == "upms") {
        for e in c.env.iter_mut().filter(|e| e.name == "JAVA_OPTS") {
            e.editable = false;
        }
    }
    let state = customer_install(&v1);
    let plan = plan_upgrade(&state, &v1, &v2, &UpgradeOptions::default()).unwrap();
    let dropped: Vec<_> = plan.dropped_customizations().collect();
    assert_eq!(dropped.len(), 1, "{plan}");
    assert_eq!(dropped[0].path, "components[upms].env[JAVA_OPTS]");
    assert!(
        plan.notes.iter().any(|n| n.contains("not editable")),
        "{plan}"
    );
    let after = apply(&state, &plan).unwrap();
    assert_eq!(
        after.components["upms"].env_value("JAVA_OPTS"),
        Some("-Xms256m -Xmx512m")
    );
    // Nor can it be set again afterwards.
    let mut edited = after.clone();
    assert!(matches!(
        edited.set_env("upms", "JAVA_OPTS", USER_HEAP),
        Err(Error::InvalidOption { .. })
    ));
}

#[test]
fn overrides_reconfigure_at_the_installed_version() {
    let v1 = pig(PIG_1);
    let state = install_state(&plan_install(&v1, &InstallOptions::default()).unwrap()).unwrap();
    let options: UpgradeOptions = serde_json::from_value(serde_json::json!({
        "modules": {"ops": false},
        "prune": true,
        "overrides": {"env": {"upms": {"JAVA_OPTS": USER_HEAP}}, "replicas": {"upms": 3}}
    }))
    .unwrap();
    let plan = plan_upgrade(&state, &v1, &v1, &options).unwrap();
    let upms = plan.steps.iter().find(|s| s.component == "upms").unwrap();
    assert!(upms.why.contains("the options set"), "{}", upms.why);
    assert!(upms.changes.iter().all(|c| c.rule == Rule::SetByOption));
    assert!(
        plan.steps
            .iter()
            .any(|s| s.component == "monitor" && s.action == Action::Remove)
    );
    let after = apply(&state, &plan).unwrap();
    assert_eq!(after.version, "1.0.0");
    assert_eq!(
        after.components["upms"].env_value("JAVA_OPTS"),
        Some(USER_HEAP)
    );
    assert_eq!(after.components["upms"].replicas(), 3);
    // The same options again change nothing.
    assert!(plan_upgrade(&after, &v1, &v1, &options).unwrap().is_empty());
    // Values the template does not allow are refused as at install.
    for (overrides, option) in [
        (
            serde_json::json!({"replicas": {"upms": 99}}),
            "overrides.replicas[upms]",
        ),
        (
            serde_json::json!({"env": {"mysql": {"MYSQL_ROOT_HOST": "localhost"}}}),
            "overrides.env[mysql][MYSQL_ROOT_HOST]",
        ),
        (
            serde_json::json!({"env": {"nope": {"X": "1"}}}),
            "overrides.env[nope]",
        ),
    ] {
        let options: UpgradeOptions =
            serde_json::from_value(serde_json::json!({ "overrides": overrides })).unwrap();
        let err = plan_upgrade(&state, &v1, &v1, &options).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOption { option: o, .. } if o == option),
            "{err}"
        );
    }
}
