//! The round trip as a property over generated templates shaped like the
//! plans benchmark's: render a version as an installation would, capture
//! the objects, and get the version back except for [`ALWAYS_LOST`].

use proptest::prelude::*;
use template_core::testing::minimal_version;
use template_core::{
    AccessMode, Alphabet, ConfigFile, ConnectionVar, EnvVar, ExecProbe, HttpProbe, InstallOptions,
    Plugin, PluginAttachment, PluginKind, Port, Probe, Protocol, Scaling, SecretRule, TcpProbe,
    TemplateVersion, Volume, install_state, plan_install,
};

use super::*;
use crate::capture::{CaptureOptions, CapturedObjects, convert};
use crate::render::{Exposure, RenderOptions, render};

/// The objects apptemplate renders for `version`, as listed from the
/// namespace it was installed into.
fn rendered(version: &TemplateVersion) -> CapturedObjects {
    let state = install_state(&plan_install(version, &InstallOptions::default()).expect("plan"))
        .expect("state");
    let objects = render(
        &state,
        &RenderOptions {
            namespace: "synthetic".into(),
            registry: None,
            exposure: Exposure::NodePort,
            storage_class: None,
        },
    )
    .expect("render");
    let mut captured = CapturedObjects::new("synthetic");
    for o in objects {
        captured.push(o.object).expect("rendered object");
    }
    captured
}

fn digest(seed: u64) -> String {
    format!(
        "sha256:{:064x}",
        u128::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

const CPU: [&str; 5] = ["100m", "250m", "500m", "1", "2"];
const MEMORY: [&str; 5] = ["64Mi", "128Mi", "256Mi", "1Gi", "2Gi"];
const CAPACITY: [&str; 4] = ["512Mi", "1Gi", "10Gi", "20Gi"];
const MODES: [&str; 3] = ["0644", "0600", "0755"];
const PROTOCOLS: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::Http, Protocol::Grpc];
const ALPHABETS: [Alphabet; 4] = [
    Alphabet::Alphanumeric,
    Alphabet::LowerAlphanumeric,
    Alphabet::Hex,
    Alphabet::Symbols,
];
const ACCESS: [AccessMode; 3] = [
    AccessMode::ReadWriteOnce,
    AccessMode::ReadWriteMany,
    AccessMode::ReadOnlyMany,
];

/// Random choices for one component; [`version`] turns them into a valid
/// component of the template.
#[derive(Debug, Clone)]
struct ComponentSeed {
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    /// Port numbers with (protocol, exposure) choices.
    ports: Vec<(u32, usize, usize)>,
    /// Values and whether they are secret.
    env: Vec<(String, bool)>,
    /// Lines and mode of each config file.
    files: Vec<(Vec<String>, usize)>,
    /// Capacity and access mode of each owned volume.
    volumes: Vec<(usize, usize)>,
    /// An earlier component whose first shareable volume is mounted.
    share: Option<prop::sample::Index>,
    /// Earlier components depended on.
    depends: Vec<prop::sample::Index>,
    /// Replicas (min, extra for max), step.
    replicas: (u32, u32, u32),
    cpu: Option<(usize, usize)>,
    memory: Option<(usize, usize)>,
    /// Target (0 tcp, 1 http, 2 exec) and timings of each probe.
    liveness: Option<(usize, u32, u32, u32, u32)>,
    readiness: Option<(usize, u32, u32, u32, u32)>,
    labels: Vec<(usize, usize)>,
    /// Bit k attaches plugin k.
    plugins: u8,
    /// Length and alphabet of a secret the component generates and offers
    /// its dependants as connection info.
    generated: Option<(u32, usize)>,
}

#[derive(Debug, Clone)]
struct PluginSeed {
    init: bool,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    env: Vec<String>,
    /// Lines of the config files the plugin mounts.
    files: Vec<Vec<String>>,
}

fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z][a-z0-9-]{0,8}|--[a-z]{1,6}=[0-9]{1,3}", 1..4)
}

fn probe_seed() -> impl Strategy<Value = Option<(usize, u32, u32, u32, u32)>> {
    prop::option::of((0usize..3, 0u32..90, 1u32..30, 1u32..6, 1u32..6))
}

fn ordered_pair(len: usize) -> impl Strategy<Value = (usize, usize)> {
    (0..len, 0..len).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

fn component_seed() -> impl Strategy<Value = ComponentSeed> {
    (
        (
            prop::option::of(words()),
            prop::option::of(words()),
            prop::collection::btree_map(1024u32..65_535, (0usize..4, 0usize..4), 0..4),
            prop::collection::vec(
                ("[A-Za-z0-9 ./:=_-]{0,24}", prop::bool::weighted(0.2)),
                0..5,
            ),
            prop::collection::vec(
                (
                    prop::collection::vec("[a-z_]{1,8} = [a-z0-9 .]{0,16}", 1..5),
                    0..MODES.len(),
                ),
                0..3,
            ),
        ),
        (
            prop::collection::vec((0..CAPACITY.len(), 0..ACCESS.len()), 0..3),
            prop::option::weighted(0.3, any::<prop::sample::Index>()),
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            (1u32..3, 0u32..3, 1u32..3),
            prop::option::of(ordered_pair(CPU.len())),
            prop::option::of(ordered_pair(MEMORY.len())),
        ),
        (
            probe_seed(),
            probe_seed(),
            prop::collection::vec((0usize..3, 0usize..3), 0..3),
            any::<u8>(),
            prop::option::weighted(0.3, (16u32..40, 0..ALPHABETS.len())),
        ),
    )
        .prop_map(
            |(
                (command, args, ports, env, files),
                (volumes, share, depends, replicas, cpu, memory),
                (liveness, readiness, labels, plugins, generated),
            )| ComponentSeed {
                command,
                args,
                ports: ports.into_iter().map(|(n, (p, e))| (n, p, e)).collect(),
                env,
                files,
                volumes,
                share,
                depends,
                replicas,
                cpu,
                memory,
                liveness,
                readiness,
                labels,
                plugins,
                generated,
            },
        )
}

fn plugin_seed() -> impl Strategy<Value = PluginSeed> {
    (
        prop::bool::ANY,
        prop::option::of(words()),
        prop::option::of(words()),
        prop::collection::vec("[a-z0-9/._-]{0,16}", 0..3),
        prop::collection::vec(
            prop::collection::vec("[a-z_]{1,8}: [a-z0-9 .]{0,16}", 1..4),
            0..2,
        ),
    )
        .prop_map(|(init, command, args, env, files)| PluginSeed {
            init,
            command,
            args,
            env,
            files,
        })
}

/// A valid version of 1 to 30 components, every image pinned by digest.
fn version(seeds: &[ComponentSeed], plugin_seeds: &[PluginSeed]) -> TemplateVersion {
    let mut v = minimal_version("synthetic", "1.0.0");
    v.plugins = plugin_seeds
        .iter()
        .enumerate()
        .map(|(k, p)| Plugin {
            key: format!("plug-{k}"),
            name: format!("Plugin {k}"),
            kind: if p.init {
                PluginKind::Init
            } else {
                PluginKind::Sidecar
            },
            image: format!(
                "registry.example.com/synthetic/plug-{k}:2.{k}@{}",
                digest(1000 + k as u64)
            ),
            command: p.command.clone().unwrap_or_default(),
            args: p.args.clone().unwrap_or_default(),
            env: p
                .env
                .iter()
                .enumerate()
                .map(|(j, value)| plain_var(&format!("PLUGIN_{j}"), value, false))
                .collect(),
            config_files: p
                .files
                .iter()
                .enumerate()
                .map(|(j, lines)| ConfigFile {
                    mount_path: format!("/etc/plug-{k}/agent-{j}.yaml"),
                    content: lines.iter().map(|l| format!("{l}\n")).collect(),
                    mode: "0644".into(),
                })
                .collect(),
        })
        .collect();
    v.components = Vec::new();
    for (i, s) in seeds.iter().enumerate() {
        let key = format!("svc-{i}");
        let mut c = template_core::testing::minimal_component(&key);
        c.name = format!("Service {i}");
        c.image = format!(
            "registry.example.com/synthetic/svc-{i}:1.{i}@{}",
            digest(i as u64)
        );
        c.command = s.command.clone().unwrap_or_default();
        c.args = s.args.clone().unwrap_or_default();
        c.ports = s
            .ports
            .iter()
            .enumerate()
            .map(|(j, &(port, protocol, exposure))| Port {
                name: format!("p{i}x{j}"),
                port,
                protocol: PROTOCOLS[protocol],
                inner: matches!(exposure, 0 | 1),
                outer: matches!(exposure, 1 | 2),
            })
            .collect();
        c.env = s
            .env
            .iter()
            .enumerate()
            .map(|(j, (value, secret))| plain_var(&format!("SETTING_{j}"), value, *secret))
            .collect();
        c.config_files = s
            .files
            .iter()
            .enumerate()
            .map(|(j, (lines, mode))| ConfigFile {
                // The same file name in several directories.
                mount_path: format!("/etc/{}/app.conf", ["svc", "conf.d", "app/conf"][j]),
                content: lines.iter().map(|l| format!("{l}\n")).collect(),
                mode: MODES[*mode].to_owned(),
            })
            .collect();
        c.volumes = s
            .volumes
            .iter()
            .enumerate()
            .map(|(j, &(capacity, access))| Volume {
                name: format!("data-{j}"),
                mount_path: format!("/data-{j}"),
                capacity: Some(CAPACITY[capacity].to_owned()),
                access_mode: ACCESS[access],
                storage_class: None,
                shared_from: None,
            })
            .collect();
        if i > 0
            && let Some(index) = &s.share
        {
            let owner: &template_core::Component = &v.components[index.index(i)];
            if let Some(shared) = owner.volumes.iter().find(|vol| {
                vol.shared_from.is_none() && vol.access_mode != AccessMode::ReadWriteOnce
            }) {
                c.volumes.push(Volume {
                    name: "shared".into(),
                    mount_path: "/shared".into(),
                    capacity: None,
                    access_mode: shared.access_mode,
                    storage_class: None,
                    shared_from: Some(format!("{}/{}", owner.key, shared.name)),
                });
            }
        }
        for index in s.depends.iter().filter(|_| i > 0) {
            let dependency = &v.components[index.index(i)];
            if c.depends_on.contains(&dependency.key) {
                continue;
            }
            // Dependants name what they use, as applications do.
            let host = format!("synthetic-{}", dependency.key);
            let value = match dependency.ports.iter().find(|p| p.inner) {
                Some(p) => format!("http://{host}:{}/api", p.port),
                None => host,
            };
            let name = format!("UPSTREAM_{}_URL", c.depends_on.len());
            c.env.push(plain_var(&name, &value, false));
            c.depends_on.push(dependency.key.clone());
        }
        if let Some((length, alphabet)) = s.generated {
            c.connection_info.push(ConnectionVar {
                name: format!("SVC{i}_SECRET"),
                value: None,
                generate: Some(SecretRule {
                    length,
                    alphabet: ALPHABETS[alphabet],
                    group: None,
                }),
                description: String::new(),
                secret: true,
            });
        }
        let (min, extra, step) = s.replicas;
        c.scaling = Scaling {
            min_replicas: min,
            max_replicas: min + extra,
            step,
            min_memory: None,
            cpu_request: s.cpu.map(|(r, _)| CPU[r].to_owned()),
            cpu_limit: s.cpu.map(|(_, l)| CPU[l].to_owned()),
            memory_request: s.memory.map(|(r, _)| MEMORY[r].to_owned()),
            memory_limit: s.memory.map(|(_, l)| MEMORY[l].to_owned()),
        };
        let probe = |seed: &Option<(usize, u32, u32, u32, u32)>, path: &str| {
            let &(target, delay, period, timeout, failures) = seed.as_ref()?;
            let port = c.ports.first().map(|p| p.port);
            let (tcp, http, exec) = match (target, port) {
                (0, Some(port)) => (Some(TcpProbe { port }), None, None),
                (1, Some(port)) => (
                    None,
                    Some(HttpProbe {
                        port,
                        path: path.to_owned(),
                    }),
                    None,
                ),
                _ => (
                    None,
                    None,
                    Some(ExecProbe {
                        command: vec!["check".into(), path.to_owned()],
                    }),
                ),
            };
            Some(Probe {
                tcp,
                http,
                exec,
                initial_delay_seconds: delay,
                period_seconds: period,
                timeout_seconds: timeout,
                failure_threshold: failures,
            })
        };
        c.probes.liveness = probe(&s.liveness, "/healthz");
        c.probes.readiness = probe(&s.readiness, "/ready");
        c.labels = s
            .labels
            .iter()
            .map(|&(k, val)| {
                (
                    ["tier", "team", "example.com/owner"][k].to_owned(),
                    ["data", "web", "platform"][val].to_owned(),
                )
            })
            .collect();
        c.plugins = (0..plugin_seeds.len())
            .filter(|k| s.plugins & (1 << k) != 0)
            .map(|k| PluginAttachment {
                plugin: format!("plug-{k}"),
                env: Vec::new(),
            })
            .collect();
        v.components.push(c);
    }
    v
}

fn plain_var(name: &str, value: &str, secret: bool) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: value.to_owned(),
        description: String::new(),
        editable: true,
        secret,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Capturing what apptemplate rendered for any generated version gives
    /// the version back, except for the fields every capture loses; the
    /// draft validates (its images are pinned) and names nothing as
    /// unsupported.
    #[test]
    fn capturing_a_rendered_version_gives_it_back(
        seeds in prop::collection::vec(component_seed(), 1..=30),
        plugins in prop::collection::vec(plugin_seed(), 0..=3),
    ) {
        let version = version(&seeds, &plugins);
        let problems = template_core::validate(&version);
        prop_assert!(problems.is_empty(), "generated version is invalid: {problems:#?}");
        let report = convert(&rendered(&version), &CaptureOptions::default());
        let differences = round_trip_differences(&version, &report);
        prop_assert!(differences.is_empty(), "{differences:#?}");
        let problems = template_core::validate(&report.version);
        prop_assert!(problems.is_empty(), "the draft does not validate: {problems:#?}");
        prop_assert!(report.unresolved_images().is_empty());
        prop_assert!(report.unsupported.is_empty(), "{:#?}", report.unsupported);
    }
}
