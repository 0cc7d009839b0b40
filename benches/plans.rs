//! Diff and upgrade-plan cost on synthetic templates of 10 to 5,000
//! components (50 env vars and 5 config files each).
//!
//! Version b changes the image of every 10th component, one env default
//! of every 5th, one config file line of every 20th, and adds 1% new
//! components. Baselines in the same run: comparing every component pair
//! with `==` (the least any diff must do: look at everything), serializing
//! both versions to JSON (what a naive "serialize and compare" diff would
//! pay before diffing), and validating the target (which `plan_upgrade`
//! does first; `plan_upgrade_validated` plans to a version validated
//! beforehand, as a market does once at publish).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use template_core::testing::{EXAMPLE_DIGEST, minimal_component, minimal_version};
use template_core::{
    ConfigFile, EnvVar, InstallOptions, TemplateVersion, UpgradeOptions, ValidatedVersion, Volume,
    diff, install_state, plan_install, plan_upgrade, plan_upgrade_validated,
};

const SIZES: [usize; 4] = [10, 100, 1_000, 5_000];

fn component(i: usize, image: &str) -> template_core::Component {
    let mut c = minimal_component(&format!("svc-{i}"));
    c.image = format!("registry.example.com/synthetic/svc-{i}:{image}@{EXAMPLE_DIGEST}");
    c.env = (0..50)
        .map(|j| EnvVar {
            name: format!("SETTING_{j}"),
            value: format!("value-{i}-{j}"),
            description: String::new(),
            editable: true,
            secret: j == 0,
        })
        .collect();
    c.config_files = (0..5)
        .map(|j| ConfigFile {
            mount_path: format!("/etc/svc/file-{j}.conf"),
            content: (0..20)
                .map(|l| format!("key_{l} = value {i} {j} {l}\n"))
                .collect(),
            mode: "0644".into(),
        })
        .collect();
    c.volumes.push(Volume {
        name: "data".into(),
        mount_path: "/data".into(),
        capacity: Some("10Gi".into()),
        access_mode: Default::default(),
        storage_class: None,
        shared_from: None,
    });
    if i > 0 {
        c.depends_on.push(format!("svc-{}", i / 2));
    }
    c
}

fn versions(n: usize) -> (TemplateVersion, TemplateVersion) {
    let mut a = minimal_version("synthetic", "1.0.0");
    a.components = (0..n).map(|i| component(i, "1.0")).collect();
    let mut b = a.clone();
    b.version = "1.1.0".into();
    for (i, c) in b.components.iter_mut().enumerate() {
        if i % 10 == 0 {
            c.image = format!("registry.example.com/synthetic/svc-{i}:1.1@{EXAMPLE_DIGEST}");
        }
        if i % 5 == 0
            && let Some(e) = c.env.get_mut(7)
        {
            e.value.push_str("-new");
        }
        if i % 20 == 0
            && let Some(f) = c.config_files.get_mut(2)
        {
            f.content = f.content.replace("key_10 =", "key_10 = changed");
        }
    }
    for i in n..n + n.div_ceil(100) {
        b.components.push(component(i, "1.1"));
    }
    (a, b)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plans");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (a, b) = versions(n);
        let state = install_state(&plan_install(&a, &InstallOptions::default()).expect("valid"))
            .expect("applies");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("baseline_eq", n), &n, |bench, _| {
            bench.iter(|| {
                let (a, b) = (black_box(&a), black_box(&b));
                a.components
                    .iter()
                    .zip(&b.components)
                    .filter(|(x, y)| x != y)
                    .count()
            })
        });
        group.bench_with_input(BenchmarkId::new("baseline_validate", n), &n, |bench, _| {
            bench.iter(|| template_core::validate(black_box(&b)).len())
        });
        group.bench_with_input(BenchmarkId::new("baseline_serialize", n), &n, |bench, _| {
            bench.iter(|| {
                let x = serde_json::to_vec(black_box(&a)).expect("serializes");
                let y = serde_json::to_vec(black_box(&b)).expect("serializes");
                x.len() + y.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("diff", n), &n, |bench, _| {
            bench.iter(|| diff(black_box(&a), black_box(&b)).expect("same template"))
        });
        group.bench_with_input(BenchmarkId::new("plan_upgrade", n), &n, |bench, _| {
            bench.iter(|| {
                plan_upgrade(black_box(&state), &a, &b, &UpgradeOptions::default()).expect("plans")
            })
        });
        let checked = ValidatedVersion::new(b.clone()).expect("valid");
        group.bench_with_input(
            BenchmarkId::new("plan_upgrade_validated", n),
            &n,
            |bench, _| {
                bench.iter(|| {
                    plan_upgrade_validated(
                        black_box(&state),
                        &a,
                        &checked,
                        &UpgradeOptions::default(),
                    )
                    .expect("plans")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
