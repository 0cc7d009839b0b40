//! `market ...` and `images push`: the local market.

use anyhow::Context;
use serde_json::json;
use template_core::{Overwrite, ReleaseState};
use template_market::{ImageRef, RelocateProgress};

use crate::cli::{ImagesCommand, MarketCommand, PublishArgs, PullArgs, PushArgs};
use crate::commands::Context as Run;
use crate::failure::code;
use crate::interrupt::Cancellable;
use crate::output::{Outcome, bytes, table};

pub(crate) fn run(run: &Run, command: MarketCommand) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    match command {
        MarketCommand::List => {
            let templates = market.templates()?;
            let text = table(
                &["template", "name", "versions"],
                templates.iter().map(|t| {
                    vec![
                        t.id.clone(),
                        t.name.clone(),
                        t.versions
                            .iter()
                            .map(|v| format!("{} ({})", v.version, state_name(v.state)))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                }),
            );
            Outcome::new(&templates, text)
        }
        MarketCommand::Show {
            template,
            version: None,
        } => {
            let versions = market.versions(&template)?;
            let text = table(
                &["version", "state", "content digest"],
                versions.iter().map(|v| {
                    vec![
                        v.version.clone(),
                        state_name(v.state).to_owned(),
                        v.content_digest.clone(),
                    ]
                }),
            );
            Outcome::new(&versions, text)
        }
        MarketCommand::Show {
            template,
            version: Some(version),
        } => {
            let doc = market.document(&template, &version)?;
            let mut text = format!(
                "{} {} ({}), {} components\n",
                doc.template.name,
                doc.version,
                state_name(doc.release_state),
                doc.components.len()
            );
            text.push_str(&table(
                &["component", "module", "image"],
                doc.components.iter().map(|c| {
                    vec![
                        c.key.clone(),
                        c.module.clone().unwrap_or_else(|| "-".to_owned()),
                        c.image.clone(),
                    ]
                }),
            ));
            Outcome::new(&doc, text)
        }
        MarketCommand::Publish(args) => publish(run, &market, &args),
        MarketCommand::Release {
            template,
            version,
            state,
        } => {
            let state = ReleaseState::from(state);
            market.set_release_state(&template, &version, state)?;
            Outcome::new(
                &json!({"template": template, "version": version, "state": state}),
                format!("{template} {version} is {}", state_name(state)),
            )
        }
        MarketCommand::Images => {
            let images = market.images()?;
            let text = table(
                &["image", "digest"],
                images
                    .iter()
                    .map(|i| vec![i.name.clone(), i.digest.clone()]),
            );
            Outcome::new(&images, text)
        }
        MarketCommand::Gc => {
            let report = market.gc()?;
            let text = format!(
                "removed {} unused blobs, freed {}",
                report.blobs_removed,
                bytes(report.bytes_freed)
            );
            Outcome::new(&report, text)
        }
        MarketCommand::Verify => {
            let report = market.verify()?;
            if report.problems.is_empty() {
                let text = format!("market sound: {} blobs checked", report.blobs_checked);
                Outcome::new(&report, text)
            } else {
                let mut text = format!(
                    "{} problem(s) in the market at `{}`:\n",
                    report.problems.len(),
                    market.root().display()
                );
                for p in &report.problems {
                    text.push_str(&format!("  {p}\n"));
                }
                Ok(Outcome::new(&report, text)?.with_exit_code(code::VERIFICATION))
            }
        }
        MarketCommand::Inventory { file } => {
            let inventory = market.inventory()?;
            let bytes = serde_json::to_vec_pretty(&inventory)?;
            std::fs::write(&file, bytes)
                .with_context(|| format!("writing inventory `{}`", file.display()))?;
            Outcome::new(
                &json!({"file": file.display().to_string()}),
                format!("inventory written to {}", file.display()),
            )
        }
    }
}

fn publish(
    run: &Run,
    market: &template_market::Market,
    args: &PublishArgs,
) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(&args.document)
        .with_context(|| format!("reading version document `{}`", args.document.display()))?;
    let format = match args.document.extension().and_then(|e| e.to_str()) {
        Some("json") => template_core::Format::Json,
        _ => template_core::Format::Yaml,
    };
    let doc = template_core::load(&bytes, format, template_core::LoadOptions::default())
        .with_context(|| format!("version document `{}`", args.document.display()))?;
    let mut added: Vec<ImageRef> = Vec::new();
    for dir in &args.images {
        added.extend(market.add_oci_layout(dir, &[])?);
    }
    for tarball in &args.docker_archive {
        added.extend(market.add_docker_archive(tarball)?);
    }
    if let Some(logo) = &args.logo {
        let bytes =
            std::fs::read(logo).with_context(|| format!("reading logo `{}`", logo.display()))?;
        market.add_blob(&bytes)?;
    }
    if !added.is_empty() {
        run.printer
            .note(&format!("added {} image(s) to the market", added.len()));
    }
    let overwrite = if args.overwrite {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let outcome = market.publish(&doc, overwrite)?;
    let what = match &outcome {
        template_core::PublishOutcome::Created { .. } => "published",
        template_core::PublishOutcome::Unchanged { .. } => "already published, unchanged",
        _ => "replaced",
    };
    let text = format!(
        "{} {} {what} ({} components)",
        doc.template.id,
        doc.version,
        doc.components.len()
    );
    Outcome::new(
        &json!({"template": doc.template.id, "version": doc.version, "outcome": outcome, "images_added": added}),
        text,
    )
}

pub(crate) fn images(run: &Run, command: ImagesCommand) -> anyhow::Result<Outcome> {
    match command {
        ImagesCommand::Push(args) => push(run, &args),
        ImagesCommand::Pull(args) => pull(run, &args),
    }
}

fn pull(run: &Run, args: &PullArgs) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    let mut options = run.settings.file.pull.clone();
    if !args.platforms.is_empty() {
        options.platforms.clone_from(&args.platforms);
    }
    let reporter = run.reporter();
    let cancel = Cancellable::begin();
    let report = market.pull_images(
        &args.images,
        &run.settings.registry_accesses(),
        &options,
        &mut |p| {
            reporter.pull(p);
            cancel.flow()
        },
    );
    reporter.finish();
    let report = report?;
    let mut text = String::new();
    for image in &report.images {
        text.push_str(&format!("{}\n", image.image.reference()));
    }
    text.push_str(&format!(
        "{} images: {} blobs fetched ({}), {} in the market already, {} resumed",
        report.images.len(),
        report.blobs_fetched,
        bytes(report.bytes_fetched),
        report.blobs_skipped,
        report.blobs_resumed
    ));
    Outcome::new(&report, text)
}

fn push(run: &Run, args: &PushArgs) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    let target = run.settings.registry_target(&args.registry)?;
    let reporter = run.reporter();
    let cancel = Cancellable::begin();
    let registry = target.registry.clone();
    let report = market.relocate_version(
        &args.template,
        &args.version,
        &target,
        &run.settings.file.relocate,
        &mut |p: &RelocateProgress<'_>| {
            reporter.relocation(&registry, p);
            cancel.flow()
        },
    );
    reporter.finish();
    let report = report?;
    let text = format!(
        "{} {} in {}: {} images, {} blobs pushed ({}), {} there already, {} mounted",
        args.template,
        args.version,
        registry,
        report.images.len(),
        report.counts.blobs_uploaded,
        bytes(report.counts.bytes_uploaded),
        report.counts.blobs_skipped,
        report.counts.blobs_mounted
    );
    Outcome::new(&report, text)
}

pub(crate) fn state_name(state: ReleaseState) -> &'static str {
    match state {
        ReleaseState::Draft => "draft",
        ReleaseState::Testing => "testing",
        ReleaseState::Released => "released",
        ReleaseState::Deprecated => "deprecated",
    }
}
