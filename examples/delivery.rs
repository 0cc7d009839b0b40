//! The delivery story of the seeds, end to end, on an embedded default.
//!
//! A vendor publishes the "Pig" back-office application as template version
//! 1.0.0, a tester releases it, and the delivery engineer checks what a
//! customer on 1.0.0 can upgrade to once 2.0.0 (built incrementally: only
//! the changed and new components) is released.
//!
//! Run it with `cargo run --example delivery`.
#![allow(clippy::print_stdout)]

use template_core::{
    CandidateFilter, Component, Format, IncrementalChange, LoadOptions, Overwrite, PublishOutcome,
    ReleaseState, TemplateVersion, build_incremental, check_publish, content_digest, load,
    set_release_state, upgrade_candidates, validate,
};

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
    Ok(())
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
