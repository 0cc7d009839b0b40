//! The delivery story of the seeds, end to end, on an embedded default.
//!
//! A vendor publishes the "Pig" back-office application as template version
//! 1.0.0, a tester releases it, and the delivery engineer checks what a
//! customer on 1.0.0 can upgrade to once 2.0.0 (built incrementally: only
//! the changed and new components) is released.
//!
//! Run it with `cargo run --example delivery`.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::io::Read;

use template_core::{
    CandidateFilter, Component, Format, IncrementalChange, InstallOptions, LoadOptions, Outcome,
    Overwrite, PublishOutcome, ReleaseState, RollbackOptions, TemplateVersion, UpgradeOptions,
    UpgradeRecord, apply, build_incremental, check_publish, content_digest, diff, generate_secrets,
    install_state, load, plan_install, plan_rollback, plan_upgrade, set_release_state,
    upgrade_candidates, validate,
};
use template_k8s::{RenderOptions, render};

const PIG_1: &str = include_str!("../tests/data/pig/1.0.0.yaml");
const PIG_2: &str = include_str!("../tests/data/pig/2.0.0.yaml");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== 1. The vendor describes Pig 1.0.0");
    let v1 = load(PIG_1.as_bytes(), Format::Yaml, LoadOptions::default())?;
    println!(
        "{} {} ({}): {} components, {} modules, digest {}",
        v1.template.name,
        v1.version,
        v1.alias.as_deref().unwrap_or("-"),
        v1.components.len(),
        v1.modules.len(),
        content_digest(&v1)?
    );

    println!("\n== 2. Validation catches mistakes before anything ships");
    let mut broken = v1.clone();
    if let Some(gateway) = broken.components.iter_mut().find(|c| c.key == "gateway") {
        gateway.image = "registry.example.com/pig/pig-gateway:latest".into();
        gateway.scaling.min_replicas = 10;
        gateway.depends_on.push("eureka".into());
    }
    for problem in validate(&broken) {
        println!("  {}: {}", problem.path, problem.message);
    }

    println!("\n== 3. Publish 1.0.0 and release it after testing");
    let mut market: Vec<TemplateVersion> = Vec::new();
    publish(&mut market, v1.clone())?;
    publish(&mut market, v1.clone())?; // republishing identical content is a no-op
    release(&mut market, "1.0.0")?;

    println!("\n== 4. Publish 2.0.0 incrementally: only what changed");
    let target = load(PIG_2.as_bytes(), Format::Yaml, LoadOptions::default())?;
    let changed: Vec<Component> = target
        .components
        .iter()
        .filter(|c| v1.component(&c.key) != Some(*c))
        .cloned()
        .collect();
    let change = IncrementalChange {
        version: "2.0.0".into(),
        alias: target.alias.clone(),
        release_notes: target.release_notes.clone(),
        created_at: target.created_at.clone(),
        components: changed,
        plugins: Vec::new(),
        modules: target.modules.clone(),
    };
    let (mut v2, summary) = build_incremental(&v1, change)?;
    v2.config_groups = target.config_groups.clone();
    println!(
        "  replaced {:?}, added {:?}, carried over {:?}",
        summary.replaced, summary.added, summary.carried_over
    );
    println!(
        "  same content as the full 2.0.0 document: {}",
        content_digest(&v2)? == content_digest(&target)?
    );
    publish(&mut market, v2)?;
    let mut conflicting = target.clone();
    conflicting.release_notes = "edited after publishing".into();
    match check_publish(
        market.iter().find(|v| v.version == "2.0.0"),
        &conflicting,
        Overwrite::Refuse,
    ) {
        Err(e) => println!("  republishing 2.0.0 with other content is refused:\n    {e}"),
        Ok(outcome) => println!("  unexpected: {outcome:?}"),
    }

    println!("\n== 5. What can a customer on 1.0.0 upgrade to?");
    let candidates = upgrade_candidates(
        &v1,
        &market,
        CandidateFilter {
            released_only: true,
        },
    )?;
    println!(
        "  released only: {:?}",
        candidates.iter().map(|v| &v.version).collect::<Vec<_>>()
    );
    release(&mut market, "2.0.0")?;
    let candidates = upgrade_candidates(
        &v1,
        &market,
        CandidateFilter {
            released_only: true,
        },
    )?;
    println!(
        "  after releasing 2.0.0: {:?}",
        candidates.iter().map(|v| &v.version).collect::<Vec<_>>()
    );
    let v2 = market
        .iter()
        .find(|v| v.version == "2.0.0")
        .cloned()
        .ok_or("2.0.0 is in the market")?;

    println!("\n== 6. One-step install of 1.0.0 at the customer (devtools module left out)");
    let mut options = InstallOptions::default();
    options.modules.insert("devtools".into(), false);
    let install = plan_install(&v1, &options)?;
    let waves: BTreeSet<usize> = install.steps.iter().map(|s| s.wave).collect();
    println!(
        "  {} steps in {} dependency waves",
        install.steps.len(),
        waves.len()
    );
    let secrets = generate_secrets(&install, &BTreeSet::new(), &mut os_random)?;
    println!(
        "  {} secrets generated at install time: {:?} (values never leave the environment)",
        secrets.len(),
        secrets.keys().collect::<Vec<_>>()
    );
    let mut installed = install_state(&install)?;
    let objects = render(
        &installed,
        &RenderOptions {
            namespace: "pig".into(),
            ..Default::default()
        },
    )?;
    println!(
        "  rendered {} Kubernetes objects (pass a kubeconfig to apply them to a cluster)",
        objects.len()
    );

    println!("\n== 7. The customer tunes the installation");
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
    println!("  upms JAVA_OPTS and the ui nginx config edited on site");

    println!("\n== 8. What would the upgrade to 2.0.0 change?");
    print!("{}", indent(&diff(&v1, &v2)?.render_text()));
    let upgrade = plan_upgrade(&installed, &v1, &v2, &UpgradeOptions::default())?;
    println!("  -- upgrade plan --");
    print!("{}", indent(&upgrade.render_text()));

    println!("\n== 9. The upgrade fails at the gateway; roll back in one step");
    let gateway_step = upgrade
        .steps
        .iter()
        .find(|s| s.component == "gateway")
        .map(|s| s.number)
        .unwrap_or(1);
    let record = UpgradeRecord::new(
        installed.clone(),
        upgrade,
        Outcome::FailedAtStep {
            step: gateway_step,
            message: "gateway never became ready".into(),
        },
    );
    let current = record.state_after()?;
    let rollback = plan_rollback(&record, &current, &RollbackOptions::default())?;
    print!("{}", indent(&rollback.render_text()));
    let restored = apply(&current, &rollback)?;
    println!(
        "  after rollback every component from before runs its 1.0.0 definition again: {}",
        installed
            .components
            .iter()
            .all(|(k, c)| restored.component(k).map(|r| &r.spec) == Some(&c.spec))
    );
    Ok(())
}

/// Random bytes from the operating system: the example is the edge where
/// randomness enters; the core only consumes what it is given.
fn os_random(buf: &mut [u8]) {
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(buf);
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn publish(
    market: &mut Vec<TemplateVersion>,
    version: TemplateVersion,
) -> Result<(), template_core::Error> {
    let existing = market.iter().position(|v| v.version == version.version);
    let outcome = check_publish(existing.map(|i| &market[i]), &version, Overwrite::Refuse)?;
    match &outcome {
        PublishOutcome::Created { digest } => {
            println!("  published {} ({digest})", version.version)
        }
        PublishOutcome::Unchanged { .. } => println!(
            "  {} already published with this content: nothing to do",
            version.version
        ),
        PublishOutcome::Replaced { .. } => println!("  replaced {}", version.version),
    }
    if let PublishOutcome::Created { .. } = outcome {
        market.push(version);
    }
    Ok(())
}

fn release(market: &mut [TemplateVersion], number: &str) -> Result<(), template_core::Error> {
    if let Some(v) = market.iter_mut().find(|v| v.version == number) {
        set_release_state(v, ReleaseState::Testing)?;
        set_release_state(v, ReleaseState::Released)?;
        println!("  {number} tested and released");
    }
    Ok(())
}
