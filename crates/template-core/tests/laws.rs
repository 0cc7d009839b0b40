//! The plan laws, checked over generated pairs of versions of one template:
//! - a diff and an upgrade plan from a version to itself are empty;
//! - upgrading a fresh install of `a` to `b` gives the fresh install of
//!   `b`, except what the plan reports as kept (volumes never shrink),
//!   orphaned or retained, and secret references (never dropped);
//! - rolling back right after an upgrade (or after a failed step) gives
//!   the snapshot back, except what the rollback reports as kept;
//! - diffs and plans are deterministic and survive a JSON round trip.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use template_core::testing::{EXAMPLE_DIGEST, minimal_component, minimal_version};
use template_core::{
    Action, Component, ConfigFile, ConnectionVar, ContainerVar, EnvVar, InstallOptions,
    InstalledState, KeepReason, Outcome, Plan, Plugin, Port, RollbackOptions, SecretRule,
    TemplateVersion, UpgradeOptions, UpgradeRecord, ValidatedVersion, Volume, apply, diff,
    install_state, plan_install, plan_install_validated, plan_rollback, plan_upgrade,
    plan_upgrade_validated,
};

/// One generated component: picks from small value sets so that two
/// versions often agree and sometimes differ.
#[derive(Debug, Clone)]
struct Spec {
    image: u8,
    env: BTreeMap<u8, (u8, bool)>,
    files: BTreeMap<u8, u8>,
    volumes: BTreeMap<u8, u8>,
    deps: u8,
    secret: Option<bool>,
    min_replicas: u8,
    /// A fixed connection value (`C<i>_DB`) and whether it is confidential.
    fixed: Option<(u8, bool)>,
    /// An inner port, dependants see it as `P<i>_HOST` / `P<i>_PORT`.
    port: Option<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        prop::collection::btree_map(0u8..5, (0u8..3, any::<bool>()), 0..4),
        prop::collection::btree_map(0u8..3, 0u8..3, 0..3),
        prop::collection::btree_map(0u8..3, 1u8..5, 0..3),
        any::<u8>(),
        prop::option::of(any::<bool>()),
        1u8..3,
        prop::option::of((0u8..3, any::<bool>())),
        prop::option::of(0u8..2),
    )
        .prop_map(
            |(image, env, files, volumes, deps, secret, min_replicas, fixed, port)| Spec {
                image,
                env,
                files,
                volumes,
                deps,
                secret,
                min_replicas,
                fixed,
                port,
            },
        )
}

/// Up to six components `c0`..`c5` (`c0` always), dependencies only on
/// lower-numbered components present in the same version, so it is acyclic.
fn version(number: &'static str) -> impl Strategy<Value = TemplateVersion> {
    (spec(), prop::collection::vec(prop::option::of(spec()), 5)).prop_map(move |(first, rest)| {
        let specs: Vec<(usize, Spec)> = std::iter::once((0, first))
            .chain(
                rest.into_iter()
                    .enumerate()
                    .filter_map(|(i, s)| s.map(|s| (i + 1, s))),
            )
            .collect();
        build(number, &specs)
    })
}

fn build(number: &str, specs: &[(usize, Spec)]) -> TemplateVersion {
    let mut v = minimal_version("lawful", number);
    v.components.clear();
    let present: Vec<usize> = specs.iter().map(|(i, _)| *i).collect();
    for (i, s) in specs {
        let mut c = minimal_component(&format!("c{i}"));
        c.image = format!(
            "registry.example.com/demo/c{i}:{}@{EXAMPLE_DIGEST}",
            s.image
        );
        c.env = s
            .env
            .iter()
            .map(|(n, (val, secret))| EnvVar {
                name: format!("E{n}"),
                value: format!("value-{val}"),
                description: String::new(),
                editable: true,
                secret: *secret,
            })
            .collect();
        c.config_files = s
            .files
            .iter()
            .map(|(n, content)| ConfigFile {
                mount_path: format!("/etc/app/f{n}.conf"),
                content: format!("a = 1\nb = {content}\nc = 3\n"),
                mode: "0644".into(),
            })
            .collect();
        c.volumes = s
            .volumes
            .iter()
            .map(|(n, gi)| Volume {
                name: format!("v{n}"),
                mount_path: format!("/data/v{n}"),
                capacity: Some(format!("{gi}Gi")),
                access_mode: Default::default(),
                storage_class: None,
                shared_from: None,
            })
            .collect();
        c.depends_on = present
            .iter()
            .filter(|j| **j < *i && s.deps & (1 << **j) != 0)
            .map(|j| format!("c{j}"))
            .collect();
        if let Some(shared) = s.secret {
            c.connection_info.push(ConnectionVar {
                name: format!("C{i}_PASSWORD"),
                value: None,
                generate: Some(SecretRule {
                    length: 16,
                    alphabet: Default::default(),
                    group: shared.then(|| "shared".to_owned()),
                }),
                description: String::new(),
                secret: false,
            });
        }
        if let Some((n, secret)) = s.fixed {
            c.connection_info.push(ConnectionVar {
                name: format!("C{i}_DB"),
                value: Some(format!("db-{n}")),
                generate: None,
                description: String::new(),
                secret,
            });
        }
        if let Some(n) = s.port {
            c.ports.push(Port {
                name: format!("p{i}"),
                port: 8000 + u32::from(n),
                protocol: Default::default(),
                inner: true,
                outer: false,
            });
        }
        c.scaling.min_replicas = u32::from(s.min_replicas);
        c.scaling.max_replicas = 4;
        v.components.push(c);
    }
    v
}

fn fresh(v: &TemplateVersion) -> InstalledState {
    install_state(&plan_install(v, &InstallOptions::default()).unwrap()).unwrap()
}

/// Removes from `state` the volume sizes `plan` reports as kept because
/// volumes never shrink; any other kept value is a law violation here.
fn drop_kept_volume_sizes(state: &mut InstalledState, plan: &Plan) {
    for k in plan.kept_customizations() {
        assert_eq!(k.reason, KeepReason::VolumeNeverShrinks, "{k:?}");
        let volume = k
            .path
            .strip_prefix(&format!("components[{}].volumes[", k.component))
            .and_then(|rest| rest.strip_suffix("].capacity"))
            .unwrap();
        let c = state.components.get_mut(&k.component).unwrap();
        let custom = c.customizations.volumes.get_mut(volume).unwrap();
        custom.capacity = None;
        if custom.storage_class.is_none() {
            c.customizations.volumes.remove(volume);
        }
    }
}

/// What runs for one component: its effective definition, its plugins and
/// its container environment (connection info injected).
type Rendering = (Component, Vec<Plugin>, Vec<ContainerVar>);

fn rendering(state: &InstalledState) -> BTreeMap<String, Rendering> {
    state
        .components
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                (
                    c.effective(),
                    c.plugin_definitions.clone(),
                    state.container_env(k).unwrap(),
                ),
            )
        })
        .collect()
}

/// What runs after the executor carried out `plan` over `before`: each
/// component keeps its rendering from before unless a step re-renders it
/// from the state after the plan, or removes it.
fn running_after(before: &InstalledState, plan: &Plan) -> BTreeMap<String, Rendering> {
    let after = apply(before, plan).unwrap();
    let mut running = rendering(before);
    let target = rendering(&after);
    for step in &plan.steps {
        match (step.action, &step.target) {
            (Action::Remove, _) | (_, None) => {
                running.remove(&step.component);
            }
            _ => {
                running.insert(step.component.clone(), target[&step.component].clone());
            }
        }
    }
    running
}

fn retained_by(plan: &Plan) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .flat_map(|s| {
            s.retained_volumes
                .iter()
                .map(move |v| (s.component.clone(), v.name.clone()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_version_against_itself_is_empty(a in version("1.0.0")) {
        prop_assert!(diff(&a, &a).unwrap().is_empty());
        let state = fresh(&a);
        let plan = plan_upgrade(&state, &a, &a, &UpgradeOptions::default()).unwrap();
        prop_assert!(plan.is_empty(), "{}", plan);
        prop_assert_eq!(apply(&state, &plan).unwrap(), state);
    }

    #[test]
    fn upgrading_a_fresh_install_gives_the_fresh_install_of_the_target(
        a in version("1.0.0"),
        b in version("2.0.0"),
        prune in any::<bool>(),
    ) {
        let state = fresh(&a);
        let plan = plan_upgrade(&state, &a, &b, &UpgradeOptions { prune, ..Default::default() }).unwrap();
        let mut after = apply(&state, &plan).unwrap();
        let expected = fresh(&b);

        for key in plan.orphaned() {
            prop_assert!(b.component(key).is_none());
            after.components.remove(key);
        }
        drop_kept_volume_sizes(&mut after, &plan);
        let retained = retained_by(&plan);
        after.retained_volumes.retain(|r| !retained.contains(&(r.component.clone(), r.volume.name.clone())));
        prop_assert!(expected.secrets.keys().all(|k| after.secrets.contains_key(k)));
        after.secrets.retain(|k, _| expected.secrets.contains_key(k));
        prop_assert_eq!(after, expected);
    }

    #[test]
    fn after_any_plan_every_component_runs_what_the_state_after_it_renders(
        a in version("1.0.0"),
        b in version("2.0.0"),
        prune in any::<bool>(),
        scope in prop::option::of(prop::collection::btree_set(0usize..6, 0..4)),
    ) {
        let before = fresh(&a);
        let components = scope.map(|s| {
            s.into_iter()
                .map(|i| format!("c{i}"))
                .filter(|k| before.components.contains_key(k) || b.component(k).is_some())
                .collect::<BTreeSet<String>>()
        });
        let options = UpgradeOptions { prune, components, ..Default::default() };
        let plan = plan_upgrade(&before, &a, &b, &options).unwrap();
        let after = apply(&before, &plan).unwrap();
        prop_assert_eq!(running_after(&before, &plan), rendering(&after), "{}", plan);
        // Every generated secret is listed with every component that receives it.
        for secret in &plan.new_secrets {
            for (key, env) in rendering(&after).iter().map(|(k, r)| (k, &r.2)) {
                for var in env {
                    if var.value == (template_core::EnvValue::Generated { reference: secret.reference.clone() }) {
                        let user = format!("{key}.{}", var.name);
                        prop_assert!(secret.used_by.contains(&user), "{} lacks {}", secret.reference, user);
                    }
                }
            }
        }

        let record = UpgradeRecord::new(before.clone(), plan, Outcome::Succeeded);
        let rollback = plan_rollback(&record, &after, &RollbackOptions::default()).unwrap();
        prop_assert_eq!(running_after(&after, &rollback), rendering(&apply(&after, &rollback).unwrap()), "{}", rollback);
    }

    #[test]
    fn rolling_back_right_after_an_upgrade_gives_the_snapshot(
        a in version("1.0.0"),
        b in version("2.0.0"),
        remove_added in any::<bool>(),
        fail_at in prop::option::of(1usize..12),
    ) {
        let before = fresh(&a);
        let plan = plan_upgrade(&before, &a, &b, &UpgradeOptions::default()).unwrap();
        let outcome = match fail_at {
            Some(step) => Outcome::FailedAtStep { step, message: "failed".into(), applied_steps: None },
            None => Outcome::Succeeded,
        };
        let record = UpgradeRecord::new(before.clone(), plan, outcome);
        let current = record.state_after().unwrap();
        let rollback = plan_rollback(&record, &current, &RollbackOptions { remove_added }).unwrap();
        let mut restored = apply(&current, &rollback).unwrap();

        for key in &rollback.kept_components {
            prop_assert!(!remove_added);
            restored.components.remove(key);
        }
        drop_kept_volume_sizes(&mut restored, &rollback);
        let retained = retained_by(&rollback);
        restored.retained_volumes.retain(|r| !retained.contains(&(r.component.clone(), r.volume.name.clone())));
        for key in &rollback.kept_secrets {
            restored.secrets.remove(key);
        }
        prop_assert_eq!(restored, before);
    }

    #[test]
    fn diffs_and_plans_are_deterministic_and_round_trip(a in version("1.0.0"), b in version("2.0.0")) {
        let d = diff(&a, &b).unwrap();
        prop_assert_eq!(d.to_json().unwrap(), diff(&a, &b).unwrap().to_json().unwrap());
        prop_assert_eq!(d.render_text(), diff(&a, &b).unwrap().render_text());
        let state = fresh(&a);
        let plan = plan_upgrade(&state, &a, &b, &UpgradeOptions::default()).unwrap();
        let again = plan_upgrade(&state, &a, &b, &UpgradeOptions::default()).unwrap();
        prop_assert_eq!(plan.to_json().unwrap(), again.to_json().unwrap());
        // Planning to a version validated beforehand gives the same plan.
        let checked = ValidatedVersion::new(b.clone()).unwrap();
        let validated = plan_upgrade_validated(&state, &a, &checked, &UpgradeOptions::default()).unwrap();
        prop_assert_eq!(&validated, &plan);
        let install = plan_install(&b, &InstallOptions::default()).unwrap();
        prop_assert_eq!(plan_install_validated(&checked, &InstallOptions::default()).unwrap(), install);
        let stored = serde_json::to_string(&plan).unwrap();
        prop_assert_eq!(&stored, &serde_json::to_string(&again).unwrap());
        let back: Plan = serde_json::from_str(&stored).unwrap();
        prop_assert_eq!(back, plan);
        // Secret env values never reach the rendered forms.
        for out in [d.render_text(), d.to_json().unwrap()] {
            for c in a.components.iter().chain(&b.components) {
                for e in c.env.iter().filter(|e| e.secret) {
                    let shown = format!("\"{}\"", e.value);
                    let also_plain = c.env.iter().chain(a.components.iter().chain(&b.components).flat_map(|c| &c.env))
                        .any(|o| !o.secret && o.value == e.value);
                    prop_assert!(also_plain || !out.contains(&shown), "{} leaked in {}", e.value, out);
                }
            }
        }
    }
}
