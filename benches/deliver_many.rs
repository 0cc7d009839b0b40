//! Delivering one version to many environments: `Delivery::deliver` to
//! `DELIVER_BENCH_ENVIRONMENTS` namespaces (default 20) of the test
//! cluster, all at once (`with_environments_at_once(n)`) vs one after
//! another (`with_environments_at_once(1)`).
//!
//! The version is Pig 1.0.0 without its volumes (the cluster's volume pool
//! would run out over the rounds); images are not relocated (the profiles
//! name no registry; kwok runs no containers). Each round delivers into
//! fresh namespaces. The two ways run interleaved A B A B over
//! `DELIVER_BENCH_ROUNDS` rounds (default 3); medians are printed, never
//! asserted. Run against the control plane of `.ci/control-plane/start DIR`:
//! `APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig cargo bench --bench deliver_many`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark report; a failure is a benchmark failure"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use template_core::Overwrite;
use template_delivery::Delivery;
use template_k8s::{EnvironmentProfile, ExecutorOptions};
use template_market::Market;
use template_market::testkit::{self, LayerSizes};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn profiles(run: &str, n: usize) -> Vec<EnvironmentProfile> {
    (0..n)
        .map(|i| EnvironmentProfile {
            name: format!("env-{i}"),
            context: None,
            namespace: format!("{run}-{i:02}"),
            registry: None,
            released_only: false,
            env_overrides: BTreeMap::new(),
            storage_class: None,
        })
        .collect()
}

fn main() {
    let Ok(kubeconfig) = std::env::var("APPTEMPLATE_TEST_KUBECONFIG") else {
        eprintln!(
            "deliver_many needs a cluster: start one with `.ci/control-plane/start DIR` and set \
             APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig"
        );
        std::process::exit(2);
    };
    let environments = env_usize("DELIVER_BENCH_ENVIRONMENTS", 20);
    let rounds = env_usize("DELIVER_BENCH_ROUNDS", 3);

    let dir = tempfile::tempdir().unwrap();
    let market = Market::open(dir.path()).unwrap();
    let mut pig = testkit::pig_fixture("1.0.0").unwrap();
    for c in &mut pig.components {
        c.volumes.clear();
    }
    let pig = testkit::prepare_images(&market, &pig, LayerSizes::default()).unwrap();
    market.publish(&pig, Overwrite::Refuse).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 100_000)
        .unwrap_or(0);
    let mut times: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    for round in 0..rounds {
        for at_once in [environments, 1] {
            let run = format!("many-{stamp}-{round}-{at_once}");
            let delivery = Delivery::new(market.clone(), ExecutorOptions::new("bench"))
                .with_kubeconfig(&kubeconfig)
                .with_environments_at_once(at_once);
            let envs = profiles(&run, environments);
            let started = Instant::now();
            let outcomes = runtime
                .block_on(delivery.deliver(&envs, "pig", "1.0.0", &|_| {}))
                .unwrap();
            let elapsed = started.elapsed();
            for o in &outcomes {
                assert!(o.succeeded(), "{}: {:?}", o.environment, o.error);
            }
            println!(
                "round {round}: {environments} environments, {at_once} at once: {:.2} s",
                elapsed.as_secs_f64()
            );
            times.entry(at_once).or_default().push(elapsed);
        }
    }
    let concurrent = median(times.remove(&environments).unwrap_or_default());
    let sequential = median(times.remove(&1).unwrap_or_default());
    println!(
        "median over {rounds} rounds: all at once {:.2} s, one after another {:.2} s ({:.2}x)",
        concurrent.as_secs_f64(),
        sequential.as_secs_f64(),
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );
}
