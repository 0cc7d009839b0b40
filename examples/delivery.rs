//! The delivery story of the seeds, end to end, on an embedded default: two
//! local markets in a temporary folder (the vendor's office and the
//! customer's air-gapped site), no cluster needed.
//!
//! 1. The vendor describes the "Pig" application and validation catches
//!    mistakes; version 1.0.0 is published with its images and released.
//! 2. A signed offline package carries 1.0.0 across the air gap; the
//!    customer imports it and installs it in one step.
//! 3. The customer tunes the installation on site.
//! 4. The vendor publishes 2.0.0 incrementally (only the changed and new
//!    components) and ships a differential package with only the layers the
//!    customer lacks; a tampered copy is refused, the genuine one imported.
//! 5. The customer sees exactly what the upgrade changes, upgrades keeping
//!    their changes, the upgrade fails at the gateway, and one rollback
//!    restores 1.0.0.
//!
//! Run it with `cargo run --example delivery`. Components' images are small
//! synthetic OCI images built on the fly, since no registry is reachable.
//!
//! Given a cluster, the story goes on there (see [`USAGE`]):
//!
//! ```text
//! cargo run --example delivery -- --kubeconfig FILE [--context NAME] [--namespace NS]
//!     [--registry HOST:PORT] [--insecure-registry] [--storage-class NAME]
//! ```
//!
//! 8. `template_delivery::Delivery` installs 1.0.0 from the customer's market,
//!    relocating its images to the registry first (if one is given);
//! 9. someone edits an env value directly on the cluster;
//! 10. the upgrade to 2.0.0 finds the edit, keeps it and says so;
//! 11. a rollback returns to 1.0.0, and the history lists all three;
//! 12. the vendor's half from the other end: the application running in
//!     the namespace is captured and published into a new market in one
//!     step (`template_delivery::publish_from_cluster`), its images pulled from
//!     the registry (when one is given); run again, it publishes nothing.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use template_core::{
    CandidateFilter, InstallOptions, Outcome, ReleaseState, RollbackOptions, UpgradeOptions,
    UpgradeRecord, apply, diff, generate_secrets, install_state, plan_install, plan_rollback,
    plan_upgrade, upgrade_candidates, validate,
};
use template_delivery::{
    Delivery, DeliveryEvent, PublishFromClusterOptions, PublishFromClusterProgress,
    publish_from_cluster,
};
use template_k8s::capture::CaptureOptions;
use template_k8s::{EnvironmentProfile, ExecutorOptions, RenderOptions, render};
use template_market::testkit::{self, LayerSizes};
use template_market::{
    ExportBase, ExportRequest, ImportOptions, Market, Progress, RegistryAccess, RegistryTarget,
    Trust, generate_key_pair,
};

/// Command line of the example.
const USAGE: &str = "usage: cargo run --example delivery [-- --kubeconfig FILE [--context NAME] \
[--namespace NS] [--registry HOST:PORT] [--insecure-registry] [--storage-class NAME]]
  without arguments the story runs without a cluster; with --kubeconfig it goes on in
  namespace NS (default pig-example, must not hold Pig yet) of the kubeconfig's context NAME
  (default: its current context), relocating images to the registry if one is given
  (--insecure-registry: plain HTTP) and creating volumes of class NAME if given";

/// Where the story goes on, from the command line.
#[derive(Debug, Default)]
struct ClusterArgs {
    kubeconfig: PathBuf,
    context: Option<String>,
    namespace: Option<String>,
    registry: Option<String>,
    insecure_registry: bool,
    storage_class: Option<String>,
}

/// `None` without arguments; an error naming the bad argument otherwise.
fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<ClusterArgs>, String> {
    let mut kubeconfig = None;
    let mut parsed = ClusterArgs::default();
    let mut args = args.peekable();
    if args.peek().is_none() {
        return Ok(None);
    }
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value("--kubeconfig")?)),
            "--context" => parsed.context = Some(value("--context")?),
            "--namespace" => parsed.namespace = Some(value("--namespace")?),
            "--registry" => parsed.registry = Some(value("--registry")?),
            "--storage-class" => parsed.storage_class = Some(value("--storage-class")?),
            "--insecure-registry" => parsed.insecure_registry = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let Some(kubeconfig) = kubeconfig else {
        return Err("--kubeconfig FILE is required to run on a cluster".to_owned());
    };
    if parsed.insecure_registry && parsed.registry.is_none() {
        return Err("--insecure-registry needs --registry HOST:PORT".to_owned());
    }
    parsed.kubeconfig = kubeconfig;
    Ok(Some(parsed))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = match parse_args(std::env::args().skip(1)) {
        Ok(cluster) => cluster,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("error: {problem}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let tmp = tempfile::tempdir()?;
    let office = Market::open(tmp.path().join("office-market"))?;
    let site = Market::open(tmp.path().join("customer-market"))?;
    let usb = tmp.path().join("usb");
    std::fs::create_dir_all(&usb)?;

    println!("== 1. The vendor publishes Pig 1.0.0 and releases it after testing");
    let mut broken = testkit::pig_fixture("1.0.0")?;
    if let Some(gateway) = broken.components.iter_mut().find(|c| c.key == "gateway") {
        gateway.image = "registry.example.com/pig/pig-gateway:latest".into();
        gateway.scaling.min_replicas = 10;
        gateway.depends_on.push("eureka".into());
    }
    println!("  a careless draft is refused with every problem at once:");
    for problem in validate(&broken) {
        println!("    {}: {}", problem.path, problem.message);
    }
    let (v1, images) = testkit::publish_pig(&office, "1.0.0")?;
    println!(
        "  published {} {} with {} components and {} images",
        v1.template.name,
        v1.version,
        v1.components.len(),
        images.len()
    );
    office.set_release_state("pig", "1.0.0", ReleaseState::Testing)?;
    office.set_release_state("pig", "1.0.0", ReleaseState::Released)?;
    println!("  1.0.0 tested and released");

    println!("\n== 2. A signed offline package crosses the air gap");
    let keys = generate_key_pair()?;
    let full = usb.join("pig-1.0.0.tar.zst");
    let report = office.export_to_file(
        &ExportRequest::new("pig", &["1.0.0"]).signed_with(&keys.secret),
        &full,
        &mut |_| std::ops::ControlFlow::Continue(()),
    )?;
    println!(
        "  exported {} ({} blobs, {} bytes on the USB drive)",
        file_name(&full),
        report.carried_blobs,
        report.archive_bytes
    );
    let trust = ImportOptions {
        trust: Trust::keys(vec![keys.public.clone()]),
        ..Default::default()
    };
    let mut reports = 0usize;
    let mut last = (0, 0);
    let imported = site.import_file(&full, &trust, &mut |p: &Progress| {
        reports += 1;
        last = (p.bytes_done, p.bytes_total);
        std::ops::ControlFlow::Continue(())
    })?;
    println!(
        "  customer imported {} blobs, signed by key {} ({} progress reports, last {}/{} bytes)",
        imported.blobs_written,
        imported.signer.as_deref().unwrap_or("-"),
        reports,
        last.0,
        last.1
    );

    println!("\n== 3. One-step install at the customer (the devtools module left out)");
    let installed_version = site.version("pig", "1.0.0")?;
    let mut options = InstallOptions::default();
    options.modules.insert("devtools".into(), false);
    let install = plan_install(&installed_version, &options)?;
    let waves: BTreeSet<usize> = install.steps.iter().map(|s| s.wave).collect();
    println!(
        "  {} components in {} dependency waves",
        install.steps.len(),
        waves.len()
    );
    let secrets = generate_secrets(&install, &BTreeSet::new(), &mut os_random)?;
    println!(
        "  {} secrets generated at install time: {:?} (values stay in the environment)",
        secrets.len(),
        secrets.keys().collect::<Vec<_>>()
    );
    let mut installed = install_state(&install)?;
    let objects = render(
        &installed,
        &RenderOptions {
            namespace: "pig".into(),
            registry: Some("registry.customer.local:5000".into()),
            ..Default::default()
        },
    )?;
    println!(
        "  rendered {} Kubernetes objects, images from the site registry",
        objects.len()
    );

    println!("\n== 4. The customer tunes the installation on site");
    installed.set_env("upms", "JAVA_OPTS", "-Xms1g -Xmx2g")?;
    let nginx = installed
        .component("ui")
        .and_then(|c| c.config_content("/etc/nginx/conf.d/default.conf"))
        .unwrap_or_default()
        .replace(
            "proxy_connect_timeout 15s;",
            "proxy_connect_timeout 15s;\n        client_max_body_size 50m;",
        );
    installed.set_config_file("ui", "/etc/nginx/conf.d/default.conf", &nginx)?;
    println!("  upms JAVA_OPTS raised, nginx accepts 50 MB uploads");

    println!("\n== 5. The vendor ships 2.0.0 as a small differential package");
    let v2 = testkit::publish_pig_incremental(&office, &v1, "2.0.0", LayerSizes::default())?;
    office.set_release_state("pig", "2.0.0", ReleaseState::Testing)?;
    office.set_release_state("pig", "2.0.0", ReleaseState::Released)?;
    let inventory = site.inventory()?;
    let delta = usb.join("pig-2.0.0-delta.tar.zst");
    let report = office.export_to_file(
        &ExportRequest::new("pig", &["2.0.0"])
            .with_base(ExportBase::Inventory(inventory))
            .signed_with(&keys.secret),
        &delta,
        &mut |_| std::ops::ControlFlow::Continue(()),
    )?;
    println!(
        "  {}: {} bytes, carries {} blobs ({} bytes) and leaves out {} the customer has ({} bytes)",
        file_name(&delta),
        report.archive_bytes,
        report.carried_blobs,
        report.carried_bytes,
        report.omitted_blobs,
        report.omitted_bytes
    );
    let mut tampered = std::fs::read(&delta)?;
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    match site.import(&tampered[..], &trust, &mut |_| {
        std::ops::ControlFlow::Continue(())
    }) {
        Ok(_) => return Err("a tampered package was accepted".into()),
        Err(e) => println!("  a copy with one flipped byte is refused:\n    {e}"),
    }
    site.import_file(&delta, &trust, &mut |_| std::ops::ControlFlow::Continue(()))?;
    let check = site.verify()?;
    println!(
        "  genuine package imported; market verified with {} problem(s)",
        check.problems.len()
    );
    let available: Vec<_> = site
        .versions("pig")?
        .iter()
        .map(|s| site.document("pig", &s.version))
        .collect::<Result<_, _>>()?;
    let candidates = upgrade_candidates(
        &installed_version,
        &available,
        CandidateFilter {
            released_only: true,
        },
    )?;
    println!(
        "  released upgrades for 1.0.0: {:?}",
        candidates.iter().map(|v| &v.version).collect::<Vec<_>>()
    );
    let target = site.version("pig", &v2.version)?;

    println!("\n== 6. What will the upgrade change?");
    print!(
        "{}",
        indent(&diff(&installed_version, &target)?.render_text())
    );
    let upgrade = plan_upgrade(
        &installed,
        &installed_version,
        &target,
        &UpgradeOptions::default(),
    )?;
    println!("  -- upgrade plan: customer changes are kept and shown --");
    print!("{}", indent(&upgrade.render_text()));

    println!("\n== 7. The upgrade fails at the gateway; one rollback restores 1.0.0");
    let gateway_step = upgrade
        .steps
        .iter()
        .find(|s| s.component == "gateway")
        .map(|s| s.number)
        .unwrap_or(1);
    // The waves before the gateway's were applied.
    let applied_steps = upgrade
        .steps
        .iter()
        .map(|s| s.number)
        .filter(|n| *n < gateway_step)
        .collect();
    let record = UpgradeRecord::new(
        installed.clone(),
        upgrade,
        Outcome::FailedAtStep {
            step: gateway_step,
            message: "gateway never became ready".into(),
            applied_steps: Some(applied_steps),
        },
    );
    let current = record.state_after()?;
    let rollback = plan_rollback(&record, &current, &RollbackOptions::default())?;
    print!("{}", indent(&rollback.render_text()));
    let restored = apply(&current, &rollback)?;
    let same = installed
        .components
        .iter()
        .all(|(k, c)| restored.component(k).map(|r| &r.spec) == Some(&c.spec));
    println!("  every component runs its 1.0.0 definition again: {same}");
    if !same || !check.problems.is_empty() {
        return Err("the delivery story did not end as expected".into());
    }
    if let Some(cluster) = cluster {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(on_cluster(&site, &cluster))?;
    }
    Ok(())
}

/// Steps 8 to 11: the customer's market delivered to a real cluster.
async fn on_cluster(site: &Market, args: &ClusterArgs) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let env = EnvironmentProfile {
        name: "customer-site".into(),
        context: args.context.clone(),
        namespace: args
            .namespace
            .clone()
            .unwrap_or_else(|| "pig-example".into()),
        registry: args.registry.clone(),
        released_only: true,
        env_overrides: Default::default(),
        storage_class: args.storage_class.clone(),
    };
    let mut delivery = Delivery::new(site.clone(), ExecutorOptions::new("delivery-example"))
        .with_kubeconfig(&args.kubeconfig);
    if let Some(registry) = &args.registry {
        let mut access = RegistryTarget::new(registry.as_str());
        access.insecure = args.insecure_registry;
        delivery = delivery.with_registry(access);
    }
    let progress = |event: &DeliveryEvent| match event {
        DeliveryEvent::Relocated { registry, counts } => println!(
            "  images in {registry}: {} blobs pushed ({} bytes), {} there already",
            counts.blobs_uploaded, counts.bytes_uploaded, counts.blobs_skipped
        ),
        DeliveryEvent::StepDone {
            wave,
            component,
            ok,
            ..
        } => println!(
            "  wave {wave}: {component} {}",
            if *ok { "ready" } else { "FAILED" }
        ),
        DeliveryEvent::Done {
            operation,
            revision,
            ok,
            ..
        } => println!("  {operation:?} recorded as revision {revision} (succeeded: {ok})"),
        _ => {}
    };

    println!(
        "\n== 8. Pig 1.0.0 delivered to namespace `{}` of the cluster",
        env.namespace
    );
    let mut options = InstallOptions::default();
    options.modules.insert("devtools".into(), false);
    let installed = delivery
        .install(&env, "pig", "1.0.0", &options, &progress)
        .await?;
    println!(
        "  {} components run 1.0.0",
        installed.state.components.len()
    );

    println!("\n== 9. An operator edits upms's JAVA_OPTS directly on the cluster");
    let client = template_k8s::connect(&env, Some(&args.kubeconfig)).await?;
    let sets: Api<StatefulSet> = Api::namespaced(client, &env.namespace);
    let edit = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "upms", "env": [{"name": "JAVA_OPTS", "value": "-Xms1g -Xmx3g"}]}
    ]}}}});
    let by_hand = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    sets.patch("pig-upms", &by_hand, &Patch::Strategic(edit))
        .await?;
    println!("  StatefulSet/pig-upms: JAVA_OPTS=-Xms1g -Xmx3g");

    println!("\n== 10. Upgrade to 2.0.0, keeping the edit");
    let upgraded = delivery
        .upgrade(&env, "pig", "2.0.0", &UpgradeOptions::default(), &progress)
        .await?;
    for change in &upgraded.drift {
        println!(
            "  found on the cluster: {} = {:?} (recorded {:?}, in {})",
            change.path, change.live, change.recorded, change.object
        );
    }
    for kept in upgraded.plan.kept_customizations() {
        println!("  kept: {} ({:?})", kept.path, kept.reason);
    }
    let java_opts = upgraded
        .state
        .component("upms")
        .and_then(|c| c.customizations.env.get("JAVA_OPTS").cloned());
    if java_opts.as_deref() != Some("-Xms1g -Xmx3g") {
        return Err(format!("the edit was not kept: {java_opts:?}").into());
    }

    println!("\n== 11. Roll back to 1.0.0, then the history");
    let rolled_back = delivery
        .rollback(
            &env,
            "pig",
            upgraded.revision,
            &RollbackOptions::default(),
            &progress,
        )
        .await?;
    println!("  version now {}", rolled_back.state.version);
    for line in delivery.history(&env, "pig").await? {
        println!(
            "  r{} {:?} {} -> {}: {}",
            line.revision,
            line.kind,
            line.from_version.as_deref().unwrap_or("-"),
            line.to_version,
            line.outcome
        );
    }
    println!(
        "  on the cluster in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if rolled_back.state.version != "1.0.0" {
        return Err("the rollback did not restore 1.0.0".into());
    }

    println!("\n== 12. The running application becomes a template again, in one step");
    let Some(registry) = &args.registry else {
        println!(
            "  (needs --registry: the images are pulled from the registry the cluster runs them from)"
        );
        return Ok(());
    };
    let folder = tempfile::tempdir()?;
    let vendor = Market::open(folder.path().join("vendor-market"))?;
    let mut access = RegistryAccess::new(registry.as_str());
    access.insecure = args.insecure_registry;
    let options = PublishFromClusterOptions {
        capture: CaptureOptions {
            template_id: Some("pig-captured".into()),
            ..CaptureOptions::default()
        },
        registries: vec![access],
        ..PublishFromClusterOptions::default()
    };
    let client = template_k8s::connect(&env, Some(&args.kubeconfig)).await?;
    let mut said = |p: &PublishFromClusterProgress| {
        match p {
            PublishFromClusterProgress::Captured {
                components, images, ..
            } => println!("  captured {components} components using {images} images"),
            PublishFromClusterProgress::Publish { template, version } => {
                println!("  publishing {template} {version}")
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    };
    let published =
        publish_from_cluster(&client, &env.namespace, None, &vendor, &options, &mut said).await?;
    println!(
        "  {} blobs pulled ({} bytes); secrets left for the installer: {}; unsupported objects: {}",
        published.pull.blobs_fetched,
        published.pull.bytes_fetched,
        published.capture.secrets.len(),
        published.capture.unsupported.len()
    );
    let again =
        publish_from_cluster(&client, &env.namespace, None, &vendor, &options, &mut said).await?;
    println!(
        "  captured again: {}",
        match again.outcome {
            None => format!("unchanged since {}, nothing published", again.version),
            Some(_) => format!("published {}", again.version),
        }
    );
    if published.outcome.is_none() || again.outcome.is_some() {
        return Err("publishing from the cluster did not go as expected".into());
    }
    Ok(())
}

/// Random bytes from the operating system: the example is the edge where
/// randomness enters; the core only consumes what it is given.
fn os_random(buf: &mut [u8]) {
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(buf);
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
