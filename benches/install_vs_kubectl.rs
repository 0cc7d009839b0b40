//! Installing Pig 1.0.0 (9 components in 5 dependency waves) with our
//! executor against `kubectl apply --server-side` of the same rendered
//! objects in the same waves, each wave waited for with `kubectl rollout
//! status`, as a script around kubectl would do it.
//!
//! Both sides install into a fresh namespace created beforehand (not
//! timed), with volumes from the control plane's pool (3 per install); kubectl's side also gets the generated-secrets Secret in a
//! first apply, as our executor creates it. The two run interleaved A B A
//! B over `INSTALL_BENCH_ROUNDS` rounds (default 5); medians of time are
//! printed with kubectl's request count (every request its `-v=6` log
//! shows, discovery included, with a warm discovery cache). Ours is counted
//! by the request budget test in `crates/template-k8s/tests/cluster.rs`.
//! Numbers are printed, never asserted. Run against the control plane of
//! `.ci/control-plane/start DIR`:
//! `APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig cargo bench --bench install_vs_kubectl`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark report; a failure is a benchmark failure"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use template_core::{
    Format, InstallOptions, LoadOptions, ValidatedVersion, generate_secrets, install_state, load,
};
use template_k8s::render::{generated_secret_key, generated_secret_name};
use template_k8s::{
    EnvironmentProfile, Executor, ExecutorOptions, Exposure, OsRandom, RenderOptions, render,
};

const PIG: &[u8] = include_bytes!("../tests/data/pig/1.0.0.yaml");

/// The control plane's default storage class, whose pool of volumes the
/// claims bind to (Pig's own hint, `fast-ssd`, does not exist there).
const STORAGE_CLASS: &str = "apptemplate-pool";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn profile(namespace: &str) -> EnvironmentProfile {
    EnvironmentProfile {
        name: "bench".into(),
        context: None,
        namespace: namespace.into(),
        registry: None,
        released_only: false,
        env_overrides: BTreeMap::new(),
        storage_class: Some(STORAGE_CLASS.into()),
    }
}

/// Runs kubectl with `-v=6` and returns how many requests it logged.
fn kubectl(kubeconfig: &str, cache: &Path, args: &[&str]) -> usize {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .arg("-v=6")
        .args(args)
        .output()
        .expect("kubectl runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{log}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    log.lines()
        .filter(|l| {
            l.contains("round_trippers")
                && [" GET ", " POST ", " PATCH ", " PUT ", " DELETE "]
                    .iter()
                    .any(|m| l.contains(m))
        })
        .count()
}

fn main() {
    let Ok(kubeconfig) = std::env::var("APPTEMPLATE_TEST_KUBECONFIG") else {
        eprintln!(
            "install_vs_kubectl needs a cluster: start one with `.ci/control-plane/start DIR` and \
             set APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig"
        );
        std::process::exit(2);
    };
    let rounds: usize = std::env::var("INSTALL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let pig = ValidatedVersion::new(load(PIG, Format::Yaml, LoadOptions::default()).unwrap())
        .expect("valid");
    let plan = template_core::plan_install(&pig, &InstallOptions::default()).unwrap();
    let state = install_state(&plan).unwrap();
    let waves: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .map(|s| (s.component.as_str(), s.wave))
        .collect();

    let scratch = tempfile::tempdir().unwrap();
    let cache = scratch.path().join("kube-cache");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() % 100_000)
        .unwrap_or(0);
    // Warm kubectl's discovery cache once, as on an engineer's machine.
    kubectl(&kubeconfig, &cache, &["api-resources", "-o", "name"]);

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut requests = Vec::new();
    for round in 0..rounds {
        // Ours.
        let ns = format!("ivk-{stamp}-{round}-ours");
        kubectl(&kubeconfig, &cache, &["create", "namespace", &ns]);
        let client = runtime
            .block_on(template_k8s::connect(
                &profile(&ns),
                Some(Path::new(&kubeconfig)),
            ))
            .unwrap();
        let exec = Executor::new(client, profile(&ns), ExecutorOptions::new("bench"));
        let started = Instant::now();
        runtime
            .block_on(exec.install(&pig, &InstallOptions::default(), &mut OsRandom::default()))
            .unwrap();
        let elapsed = started.elapsed();
        println!("round {round}: ours {:.2} s", elapsed.as_secs_f64());
        ours.push(elapsed);

        // kubectl, the same objects in the same waves.
        let ns = format!("ivk-{stamp}-{round}-kubectl");
        kubectl(&kubeconfig, &cache, &["create", "namespace", &ns]);
        let options = RenderOptions {
            namespace: ns.clone(),
            registry: None,
            exposure: Exposure::NodePort,
            storage_class: Some(STORAGE_CLASS.into()),
        };
        let objects = render(&state, &options).unwrap();
        let secrets = generate_secrets(&plan, &Default::default(), &mut OsRandom::default())
            .unwrap()
            .into_iter()
            .map(|(reference, value)| (generated_secret_key(&reference), value.expose().to_owned()))
            .collect::<BTreeMap<_, _>>();
        let mut files = Vec::new();
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "List",
            "items": [{
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": generated_secret_name("pig"), "namespace": ns},
                "stringData": secrets,
            }]
        });
        files.push((
            scratch.path().join(format!("{ns}-0.json")),
            secret,
            Vec::new(),
        ));
        let last_wave = waves.values().copied().max().unwrap_or(0);
        for wave in 1..=last_wave {
            let in_wave: Vec<_> = objects
                .iter()
                .filter(|o| {
                    o.component
                        .as_deref()
                        .is_some_and(|c| waves.get(c) == Some(&wave))
                })
                .collect();
            let workloads: Vec<String> = in_wave
                .iter()
                .filter(|o| o.kind == "Deployment" || o.kind == "StatefulSet")
                .map(|o| format!("{}/{}", o.kind.to_lowercase(), o.name))
                .collect();
            let list = serde_json::json!({
                "apiVersion": "v1", "kind": "List",
                "items": in_wave.iter().map(|o| &o.object).collect::<Vec<_>>(),
            });
            files.push((
                scratch.path().join(format!("{ns}-{wave}.json")),
                list,
                workloads,
            ));
        }
        for (path, list, _) in &files {
            std::fs::write(path, serde_json::to_vec(list).unwrap()).unwrap();
        }
        let started = Instant::now();
        let mut sent = 0;
        for (path, _, workloads) in &files {
            let file = path.to_str().unwrap();
            sent += kubectl(
                &kubeconfig,
                &cache,
                &[
                    "apply",
                    "--server-side",
                    "--field-manager=bench",
                    "-f",
                    file,
                ],
            );
            for workload in workloads {
                sent += kubectl(
                    &kubeconfig,
                    &cache,
                    &["rollout", "status", "-n", &ns, "--timeout=300s", workload],
                );
            }
        }
        let elapsed = started.elapsed();
        println!(
            "round {round}: kubectl {:.2} s, {sent} requests",
            elapsed.as_secs_f64()
        );
        theirs.push(elapsed);
        requests.push(sent);
    }
    let (a, b) = (median(ours), median(theirs));
    requests.sort_unstable();
    println!(
        "median over {rounds} rounds: ours {:.2} s, kubectl {:.2} s ({:.2}x kubectl's time); \
         kubectl sent {} requests",
        a.as_secs_f64(),
        b.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64(),
        requests[requests.len() / 2]
    );
}
