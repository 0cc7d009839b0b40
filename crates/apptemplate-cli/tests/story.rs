//! The seed story through the CLI alone, as an engineer types it, on the
//! real control plane (`APPTEMPLATE_TEST_KUBECONFIG`; these tests fail
//! without it) and a real `docker-registry` on 127.0.0.1: the vendor
//! publishes and releases Pig, exports signed packages, the site imports
//! them, plans, installs and upgrades with a plan file keeping a
//! customer's edit, a stale plan and a concurrent upgrade are refused, one
//! rollback restores 1.0.0 and the history lists it all. Ctrl-C and a
//! SIGKILL in the middle of an operation leave what a rerun finishes.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;

use common::{apptemplate, expect, publish_and_release, stderr, stdout, vendor_build};
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;
use template_market::testkit::LayerSizes;
use template_market::testkit::registry::LocalRegistry;

fn kubeconfig() -> String {
    std::env::var("APPTEMPLATE_TEST_KUBECONFIG").unwrap_or_else(|_| {
        panic!(
            "APPTEMPLATE_TEST_KUBECONFIG is not set: this test needs the real control plane. \
             Run `.ci/control-plane/start DIR`, then \
             `export APPTEMPLATE_TEST_KUBECONFIG=DIR/kubeconfig`, and stop it afterwards with \
             `.ci/control-plane/stop DIR`"
        )
    })
}

/// A namespace name unique to this run.
fn namespace(scenario: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{scenario}-{:05}", nanos % 100_000)
}

/// Edits an env value of upms directly on the cluster, as `kubectl edit` would.
fn edit_java_opts(namespace: &str, value: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = kube::config::Kubeconfig::read_from(kubeconfig()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let sets: Api<StatefulSet> = Api::namespaced(client, namespace);
        let edit = serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"name": "upms", "env": [{"name": "JAVA_OPTS", "value": value}]}
        ]}}}});
        let by_hand = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..Default::default()
        };
        sets.patch("pig-upms", &by_hand, &Patch::Strategic(edit))
            .await
            .unwrap();
    });
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(out)))
}

struct Site {
    home: PathBuf,
    config: PathBuf,
}

impl Site {
    fn run(&self) -> assert_cmd::Command {
        let mut cmd = apptemplate(&self.home);
        cmd.arg("--config").arg(&self.config).args([
            "--progress",
            "lines",
            "--progress-interval",
            "2",
        ]);
        cmd
    }
}

#[test]
fn the_seed_story_through_the_cli() {
    let kubeconfig = kubeconfig();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_owned();
    let vendor = tmp.path().join("vendor");
    let registry = LocalRegistry::start().unwrap();
    let ns = namespace("cli-story");

    // The vendor publishes and releases 1.0.0 and 2.0.0, and makes a key.
    let build1 = vendor_build(tmp.path(), "1.0.0", LayerSizes::default());
    publish_and_release(&home, &vendor, &build1, "1.0.0");
    let build2 = vendor_build(tmp.path(), "2.0.0", LayerSizes::default());
    publish_and_release(&home, &vendor, &build2, "2.0.0");
    let keys = tmp.path().join("vendor");
    expect(apptemplate(&home).args(["keys", "generate"]).arg(&keys), 0);

    // The site's config: its market, cluster, registry and the vendor's key.
    let config = tmp.path().join("site.yaml");
    std::fs::write(
        &config,
        format!(
            "market: site-market
kubeconfig: {kubeconfig}
executor:
  identity: site-engineer
  wait_timeout_seconds: 120
  poll_interval_seconds: 0.25
trusted_keys:
  - {public}
registries:
  - registry: {registry}
    insecure: true
environments:
  - name: site
    namespace: {ns}
    registry: {registry}
    released_only: true
    storage_class: apptemplate-pool
",
            public = keys.with_extension("pub").display(),
            registry = registry.address(),
        ),
    )
    .unwrap();
    let site = Site {
        home: home.clone(),
        config,
    };

    // 1.0.0 crosses the air gap signed and is installed from a plan file.
    let usb = tmp.path().join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let full = usb.join("pig-1.0.0.tar.zst");
    expect(
        apptemplate(&home)
            .arg("--market")
            .arg(&vendor)
            .args(["package", "export", "pig", "1.0.0", "-f"])
            .arg(&full)
            .arg("--sign-key")
            .arg(keys.with_extension("key")),
        0,
    );
    expect(site.run().args(["package", "import"]).arg(&full), 0);
    let install_plan = tmp.path().join("install.plan.json");
    let out = expect(
        site.run()
            .args(["plan", "pig", "1.0.0", "--env", "site", "-f"])
            .arg(&install_plan),
        0,
    );
    assert!(stdout(&out).contains("install --plan"), "{}", stdout(&out));
    let out = expect(
        site.run()
            .args(["install", "--env", "site", "--plan"])
            .arg(&install_plan),
        0,
    );
    assert!(stdout(&out).contains("installed"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("waiting for") && stderr(&out).contains("ready"),
        "{}",
        stderr(&out)
    );

    // The customer's operator edits upms on the cluster.
    edit_java_opts(&ns, "-Xms1g -Xmx3g");

    // 2.0.0 comes as a differential package against the site's inventory.
    let inventory = usb.join("site-inventory.json");
    expect(
        site.run()
            .args(["market", "inventory", "-f"])
            .arg(&inventory),
        0,
    );
    let delta = usb.join("pig-2.0.0-delta.tar.zst");
    expect(
        apptemplate(&home)
            .arg("--market")
            .arg(&vendor)
            .args(["package", "export", "pig", "2.0.0", "-f"])
            .arg(&delta)
            .arg("--base-inventory")
            .arg(&inventory)
            .arg("--sign-key")
            .arg(keys.with_extension("key")),
        0,
    );
    expect(site.run().args(["package", "import"]).arg(&delta), 0);

    // Without a plan file and not on a terminal: nothing is asked, nothing changes.
    let out = expect(
        site.run()
            .args(["upgrade", "pig", "2.0.0", "--env", "site"]),
        2,
    );
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("STEP"),
        "the change table is shown: {}",
        stderr(&out)
    );

    // A plan, then another edit on the cluster: the plan is out of date.
    let upgrade_plan = tmp.path().join("upgrade.plan.json");
    let out = expect(
        site.run()
            .args(["plan", "pig", "2.0.0", "--env", "site", "--exit-code", "-f"])
            .arg(&upgrade_plan),
        3,
    );
    assert!(stdout(&out).contains("JAVA_OPTS"), "{}", stdout(&out));
    edit_java_opts(&ns, "-Xms1g -Xmx4g");
    let out = expect(
        site.run()
            .args(["upgrade", "--env", "site", "--plan"])
            .arg(&upgrade_plan),
        1,
    );
    assert!(stderr(&out).contains("out of date"), "{}", stderr(&out));

    // A new plan, applied exactly, keeping the edit.
    expect(
        site.run()
            .args(["plan", "pig", "2.0.0", "--env", "site", "-f"])
            .arg(&upgrade_plan),
        0,
    );
    // A second upgrade while this one runs is refused, naming the holder:
    // the first is held still (SIGSTOP) once it has applied a step.
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("apptemplate"))
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&site.config)
        .args([
            "--progress",
            "json",
            "-o",
            "json",
            "upgrade",
            "--env",
            "site",
            "--plan",
        ])
        .arg(&upgrade_plan)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = BufReader::new(first.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "the upgrade ended before applying a step: {seen}"
        );
        seen.push_str(&line);
        if line.contains("\"step_applied\"") {
            break;
        }
    }
    signal(first.id(), "STOP");
    let out = expect(
        site.run().args([
            "--identity",
            "second-engineer",
            "rollback",
            "pig",
            "--env",
            "site",
            "--yes",
        ]),
        1,
    );
    signal(first.id(), "CONT");
    assert!(
        stderr(&out).contains("locked by site-engineer"),
        "{}",
        stderr(&out)
    );
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut events, &mut rest).unwrap();
        rest
    });
    let done = first.wait_with_output().unwrap();
    let rest = rest.join().unwrap();
    assert_eq!(done.status.code(), Some(0), "{seen}{rest}");
    let report: Value = serde_json::from_slice(&done.stdout).unwrap();
    let drift = report["result"]["drift"].as_array().unwrap();
    assert!(
        drift
            .iter()
            .any(|d| d["path"] == "components[upms].env[JAVA_OPTS]" && d["live"] == "-Xms1g -Xmx4g"),
        "{report}"
    );
    let out = expect(
        site.run()
            .args(["-o", "json", "status", "pig", "--env", "site"]),
        0,
    );
    assert_eq!(json(&out)["result"]["state"]["version"], "2.0.0");

    // One rollback restores 1.0.0; the history lists all three.
    let out = expect(
        site.run()
            .args(["rollback", "pig", "--env", "site", "--yes"]),
        0,
    );
    assert!(
        stdout(&out).contains("pig 1.0.0 rolled back"),
        "{}",
        stdout(&out)
    );
    let out = expect(site.run().args(["history", "pig", "--env", "site"]), 0);
    let history = stdout(&out);
    for expected in ["install", "upgrade", "rollback", "succeeded"] {
        assert!(history.contains(expected), "{history}");
    }
    let out = expect(
        site.run()
            .args(["-o", "json", "history", "pig", "--env", "site"]),
        0,
    );
    assert_eq!(json(&out)["result"].as_array().unwrap().len(), 3);
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The vendor's half through the CLI: Pig runs in a development namespace
/// (its images in a real registry), `capture` shows the draft, `capture
/// --publish` publishes it into another market with its images pulled
/// from the registry, a second run publishes nothing, and `images pull`
/// brings single images.
#[test]
fn the_vendor_publishes_a_running_application_through_the_cli() {
    let kubeconfig = kubeconfig();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_owned();
    let registry = LocalRegistry::start().unwrap();
    let ns = namespace("cli-capture");
    let build = vendor_build(tmp.path(), "1.0.0", LayerSizes::default());
    publish_and_release(&home, &tmp.path().join("dev-market"), &build, "1.0.0");
    let config = tmp.path().join("dev.yaml");
    std::fs::write(
        &config,
        format!(
            "market: dev-market
kubeconfig: {kubeconfig}
executor:
  identity: vendor-engineer
  wait_timeout_seconds: 120
  poll_interval_seconds: 0.25
registries:
  - registry: {registry}
    insecure: true
environments:
  - name: dev
    namespace: {ns}
    registry: {registry}
    storage_class: apptemplate-pool
",
            registry = registry.address(),
        ),
    )
    .unwrap();
    let dev = Site {
        home: home.clone(),
        config,
    };
    expect(
        dev.run().args(["install", "pig", "1.0.0", "--env", "dev"]),
        0,
    );

    // doctor asks the registries themselves: this one answers, a registry
    // nobody listens for fails, named.
    let out = expect(dev.run().args(["doctor", "--env", "dev"]), 0);
    assert!(
        stdout(&out).contains("answers over plain HTTP; authentication: none"),
        "{}",
        stdout(&out)
    );
    let broken = tmp.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "market: dev-market\nregistries:\n  - registry: 127.0.0.1:1\n    insecure: true\n",
    )
    .unwrap();
    let out = expect(
        apptemplate(&home)
            .arg("--config")
            .arg(&broken)
            .arg("doctor"),
        1,
    );
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("registry 127.0.0.1:1") && l.contains("FAIL")),
        "{text}"
    );

    // The draft, shown and written, without publishing.
    let draft = tmp.path().join("draft.yaml");
    let out = expect(
        dev.run()
            .args([
                "capture",
                "--env",
                "dev",
                "--template",
                "pig-next",
                "--draft",
            ])
            .arg(&draft),
        0,
    );
    let text = stdout(&out);
    assert!(text.starts_with("pig-next 0.1.0 (draft):"), "{text}");
    assert!(text.contains("gateway"), "{text}");
    let written = template_core::load(
        &std::fs::read(&draft).unwrap(),
        template_core::Format::Yaml,
        template_core::LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(written.template.id, "pig-next");

    // Published into another market in one step, images pulled.
    let other = tmp.path().join("vendor-market");
    let out = expect(
        dev.run().arg("--market").arg(&other).args([
            "-o",
            "json",
            "capture",
            "--env",
            "dev",
            "--template",
            "pig-next",
            "--publish",
        ]),
        0,
    );
    let report = json(&out);
    assert_eq!(report["command"], "capture");
    assert_eq!(report["result"]["version"], "0.1.0", "{report}");
    assert_eq!(
        report["result"]["outcome"]["outcome"], "created",
        "{report}"
    );
    let fetched = report["result"]["pull"]["blobs_fetched"].as_u64().unwrap();
    assert!(fetched > 0, "{report}");
    let out = expect(
        dev.run()
            .arg("--market")
            .arg(&other)
            .args(["-o", "json", "market", "show", "pig-next", "0.1.0"]),
        0,
    );
    let shown = json(&out);
    let components = shown["result"]["version"]["components"]
        .as_array()
        .or_else(|| shown["result"]["components"].as_array())
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(components.len(), written.components.len());

    // Nothing changed: nothing published, nothing fetched.
    let out = expect(
        dev.run().arg("--market").arg(&other).args([
            "capture",
            "--env",
            "dev",
            "--template",
            "pig-next",
            "--publish",
        ]),
        0,
    );
    assert!(stdout(&out).contains("unchanged"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("capturing namespace"),
        "{}",
        stderr(&out)
    );

    // One image pulled by its relocated reference into a third market.
    let image = written.components[0].image.clone();
    let out = expect(
        dev.run()
            .arg("--market")
            .arg(tmp.path().join("third"))
            .args(["images", "pull"])
            .arg(&image),
        0,
    );
    assert!(stdout(&out).contains(&image), "{}", stdout(&out));
}

/// Ctrl-C during an install stops it between two waves: exit 130, the
/// record says what was applied, and the same command run again finishes.
#[test]
fn ctrl_c_stops_an_install_between_waves_and_a_rerun_finishes_it() {
    let kubeconfig = kubeconfig();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_owned();
    let ns = namespace("cli-stop");
    let build = vendor_build(tmp.path(), "1.0.0", LayerSizes::default());
    publish_and_release(&home, &tmp.path().join("market"), &build, "1.0.0");
    let config = tmp.path().join("site.yaml");
    std::fs::write(
        &config,
        format!(
            "market: market
kubeconfig: {kubeconfig}
executor:
  identity: site-engineer
  wait_timeout_seconds: 120
  poll_interval_seconds: 0.25
environments:
  - name: site
    namespace: {ns}
    storage_class: apptemplate-pool
  - name: second
    namespace: {ns}-2
    storage_class: apptemplate-pool
    env_overrides:
      monitor:
        ADMIN_PASSWORD: Cli-s3cret-never-shown
"
        ),
    )
    .unwrap();
    let site = Site {
        home: home.clone(),
        config,
    };
    let mut install = std::process::Command::new(assert_cmd::cargo::cargo_bin("apptemplate"))
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&site.config)
        .args([
            "--progress",
            "json",
            "install",
            "pig",
            "1.0.0",
            "--env",
            "site",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = BufReader::new(install.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "the install ended before a step was done: {seen}"
        );
        seen.push_str(&line);
        if line.contains("\"step_done\"") {
            break;
        }
    }
    signal(install.id(), "INT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut events, &mut rest).unwrap();
    let done = install.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("stopping after the current wave"), "{rest}");
    assert!(rest.contains("stopped as asked before wave"), "{rest}");
    let out = expect(
        site.run()
            .args(["-o", "json", "history", "pig", "--env", "site"]),
        0,
    );
    let history = json(&out)["result"].clone();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert!(
        history[0]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("partly applied"),
        "{history}"
    );
    let out = expect(
        site.run()
            .args(["install", "pig", "1.0.0", "--env", "site"]),
        0,
    );
    assert!(stdout(&out).contains("installed"), "{}", stdout(&out));

    // A delivery to both: unchanged on one, installed on the other; the
    // JSON result shows plans with secret values masked.
    let out = expect(
        site.run().args([
            "-o",
            "json",
            "deliver",
            "pig",
            "1.0.0",
            "--env",
            "site,second",
        ]),
        0,
    );
    let text = stdout(&out);
    assert!(!text.contains("Cli-s3cret-never-shown"), "{text}");
    let result = json(&out)["result"].clone();
    assert_eq!(result[0]["action"], "unchanged", "{result}");
    assert_eq!(result[1]["action"], "install", "{result}");
    assert_eq!(result[1]["report"]["version"], "1.0.0", "{result}");
    assert!(
        result[1]["report"]["plan"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
}

/// A client killed (SIGKILL, no chance to clean up) in the middle of an
/// upgrade, after its first wave: the state then read is the record's,
/// with the first wave's components at the new version; the lock is taken
/// over once its lease expires; and the rerun finishes the upgrade without
/// taking what the killed client applied for edits of the customer's.
#[test]
fn a_client_killed_mid_upgrade_leaves_a_state_the_rerun_trusts() {
    let kubeconfig = kubeconfig();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_owned();
    let ns = namespace("cli-kill");
    let market = tmp.path().join("market");
    for version in ["1.0.0", "2.0.0"] {
        let build = vendor_build(tmp.path(), version, LayerSizes::default());
        publish_and_release(&home, &market, &build, version);
    }
    let config = tmp.path().join("site.yaml");
    std::fs::write(
        &config,
        format!(
            "market: market
kubeconfig: {kubeconfig}
executor:
  identity: site-engineer
  wait_timeout_seconds: 120
  poll_interval_seconds: 0.25
  lease_duration_seconds: 3
environments:
  - name: site
    namespace: {ns}
    storage_class: apptemplate-pool
"
        ),
    )
    .unwrap();
    let site = Site {
        home: home.clone(),
        config,
    };
    expect(
        site.run()
            .args(["install", "pig", "1.0.0", "--env", "site"]),
        0,
    );

    let mut upgrade = std::process::Command::new(assert_cmd::cargo::cargo_bin("apptemplate"))
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(&site.config)
        .args([
            "--progress",
            "json",
            "upgrade",
            "pig",
            "2.0.0",
            "--env",
            "site",
            "--yes",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut events = BufReader::new(upgrade.stderr.take().unwrap());
    let mut seen = String::new();
    let mut first_wave: Option<u64> = None;
    let mut done_in_first_wave = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "the upgrade ended before its second wave: {seen}"
        );
        seen.push_str(&line);
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(wave) = event["wave"].as_u64() else {
            continue;
        };
        let first = *first_wave.get_or_insert(wave);
        if wave > first {
            // The first wave is over and its record written.
            break;
        }
        if event["phase"] == "step_done" && event["ok"] == true {
            done_in_first_wave.push(event["component"].as_str().unwrap().to_owned());
        }
    }
    upgrade.kill().unwrap();
    upgrade.wait().unwrap();
    assert!(!done_in_first_wave.is_empty(), "{seen}");

    let out = expect(
        site.run()
            .args(["-o", "json", "history", "pig", "--env", "site"]),
        0,
    );
    let history = json(&out)["result"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert!(
        history[1]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("partly applied"),
        "{history}"
    );
    let out = expect(
        site.run()
            .args(["-o", "json", "status", "pig", "--env", "site"]),
        0,
    );
    let state = json(&out)["result"]["state"].clone();
    assert_eq!(
        state["version"], "1.0.0",
        "not every component moved: {state}"
    );
    for component in &done_in_first_wave {
        assert_eq!(
            state["components"][component]["version"], "2.0.0",
            "`{component}` was upgraded before the kill: {state}"
        );
    }

    // The killed client's lease expires after 3 s; until then the rerun
    // is refused as locked.
    let started = std::time::Instant::now();
    let out = loop {
        let out = site
            .run()
            .args(["upgrade", "pig", "2.0.0", "--env", "site", "--yes"])
            .output()
            .unwrap();
        if out.status.code() == Some(0) || started.elapsed().as_secs() > 60 {
            break out;
        }
        assert!(stderr(&out).contains("lock"), "{}", stderr(&out));
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = expect(
        site.run()
            .args(["-o", "json", "status", "pig", "--env", "site"]),
        0,
    );
    let state = json(&out)["result"]["state"].clone();
    assert_eq!(state["version"], "2.0.0", "{state}");
    for (key, component) in state["components"].as_object().unwrap() {
        assert_eq!(component["version"], "2.0.0", "`{key}`: {state}");
        assert!(
            component["customizations"]
                .as_object()
                .is_none_or(|c| c.is_empty()),
            "the killed client's changes were taken for the customer's on `{key}`: {state}"
        );
    }
}

/// The vendor's market on a registry: the vendor pushes and releases Pig
/// there, and two environments (test and production) install it from
/// the registry market; their registry is the market's, so relocation
/// finds every image there and moves nothing.
#[test]
fn two_environments_install_from_a_vendor_market_on_a_registry() {
    let kubeconfig = kubeconfig();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_owned();
    let registry = LocalRegistry::start().unwrap();
    let (ns_test, ns_prod) = (namespace("remote-test"), namespace("remote-prod"));
    let remote = format!("oci://{}/vendor", registry.address());
    let config = tmp.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "market: site-market
kubeconfig: {kubeconfig}
executor:
  identity: release-engineer
  wait_timeout_seconds: 120
  poll_interval_seconds: 0.25
registries:
  - registry: {registry}
    insecure: true
environments:
  - name: test
    namespace: {ns_test}
    registry: {registry}/vendor
    storage_class: apptemplate-pool
  - name: prod
    namespace: {ns_prod}
    registry: {registry}/vendor
    released_only: true
    storage_class: apptemplate-pool
",
            registry = registry.address(),
        ),
    )
    .unwrap();
    let site = Site {
        home: home.clone(),
        config,
    };

    // The vendor: publish into its build market, push to the registry
    // market, release there.
    let vendor = tmp.path().join("vendor");
    let build = vendor_build(tmp.path(), "1.0.0", LayerSizes::default());
    publish_and_release(&home, &vendor, &build, "1.0.0");
    expect(
        apptemplate(&home).arg("--market").arg(&vendor).args([
            "market",
            "release",
            "pig",
            "1.0.0",
            "--state",
            "deprecated",
        ]),
        0,
    );
    let push = |extra: &[&str]| {
        site.run()
            .arg("--market")
            .arg(&vendor)
            .args(["-o", "json", "remote", "push", "pig", "1.0.0", "--remote"])
            .arg(&remote)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = push(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pushed = json(&out)["result"].clone();
    assert_eq!(pushed["outcome"]["outcome"], "created", "{pushed}");
    // The vendor's market had it deprecated; the registry market starts
    // from that document, and moves it back to released.
    let out = expect(
        site.run()
            .args([
                "-o", "json", "remote", "release", "pig", "1.0.0", "--state", "released",
                "--remote",
            ])
            .arg(&remote),
        0,
    );
    assert_eq!(json(&out)["result"]["to"], "released");
    let out = expect(
        site.run()
            .args(["-o", "json", "remote", "list", "--remote"])
            .arg(&remote),
        0,
    );
    let listed = json(&out)["result"].clone();
    assert_eq!(listed[0]["id"], "pig", "{listed}");
    assert_eq!(listed[0]["versions"][0]["state"], "released", "{listed}");

    // The site: copy it into its market, deliver to both environments.
    let out = expect(
        site.run()
            .args(["-o", "json", "remote", "fetch", "pig", "1.0.0", "--remote"])
            .arg(&remote),
        0,
    );
    assert!(
        json(&out)["result"]["pull"]["blobs_fetched"]
            .as_u64()
            .unwrap()
            > 0
    );
    let out = expect(
        site.run().args([
            "-o",
            "json",
            "deliver",
            "pig",
            "1.0.0",
            "--env",
            "test,prod",
        ]),
        0,
    );
    let result = json(&out)["result"].clone();
    for env in [0, 1] {
        assert_eq!(result[env]["action"], "install", "{result}");
        let relocation = &result[env]["relocation"];
        assert_eq!(
            relocation["registry"],
            format!("{}/vendor", registry.address()),
            "{result}"
        );
        assert_eq!(relocation["bytes_uploaded"], 0, "{result}");
        assert_eq!(relocation["manifests_pushed"], 0, "{result}");
        assert!(
            relocation["blobs_skipped"].as_u64().unwrap() > 0,
            "{result}"
        );
    }
    let out = expect(
        site.run()
            .args(["-o", "json", "status", "pig", "--env", "prod"]),
        0,
    );
    assert!(stdout(&out).contains("1.0.0"), "{}", stdout(&out));
}
