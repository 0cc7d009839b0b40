//! `capture`: an application running on a cluster as a draft template
//! (`template_k8s::capture`), or published into the market in one step
//! (`template_delivery::publish_from_cluster`).

use anyhow::Context;
use template_core::PublishOutcome;
use template_delivery::{PublishFromClusterOptions, PublishFromClusterReport};
use template_k8s::capture::{CaptureOptions, CaptureReport, SecretHandling};

use crate::cli::CaptureArgs;
use crate::commands::Context as Run;
use crate::commands::cluster::runtime;
use crate::interrupt::Cancellable;
use crate::output::Outcome;

pub(crate) fn capture(run: &Run, args: &CaptureArgs) -> anyhow::Result<Outcome> {
    let env = run.environment(&args.target)?;
    let kubeconfig = run.settings.kubeconfig(args.target.kubeconfig.as_deref());
    let options = CaptureOptions {
        template_id: args.template.clone(),
        template_name: args.name.clone(),
        version: args.version.clone(),
        generate_secrets: args.generate_secrets.clone(),
        copy_secret_values: args.copy_secrets.clone(),
    };
    let rt = runtime()?;
    let client = rt.block_on(template_k8s::connect(&env, kubeconfig.as_deref()))?;
    if !args.publish {
        let report = rt.block_on(template_k8s::capture(
            &client,
            &env.namespace,
            args.selector.as_deref(),
            &options,
        ))?;
        let mut text = summary(&report);
        if let Some(path) = &args.draft {
            let yaml = template_core::to_yaml_string(&report.version)?;
            std::fs::write(path, yaml)
                .with_context(|| format!("writing the draft to `{}`", path.display()))?;
            text.push_str(&format!("draft written to {}\n", path.display()));
        }
        return Outcome::new(&report, text.trim_end());
    }
    let market = run.settings.market()?;
    let mut pull = run.settings.file.pull.clone();
    if args.all_platforms {
        pull.platforms.clear();
    }
    let options = PublishFromClusterOptions {
        capture: options,
        pull,
        registries: run.settings.registry_accesses(),
        node_platforms: !args.all_platforms,
        overwrite: args.overwrite,
    };
    let reporter = run.reporter();
    let cancel = Cancellable::begin();
    let report = rt.block_on(template_delivery::publish_from_cluster(
        &client,
        &env.namespace,
        args.selector.as_deref(),
        &market,
        &options,
        &mut |p| {
            reporter.publish(p);
            cancel.flow()
        },
    ));
    reporter.finish();
    let report = report?;
    let text = published(&report);
    Outcome::new(&report, text.trim_end())
}

/// What a capture found, in a few lines: the draft, then what needs the
/// author's attention.
fn summary(report: &CaptureReport) -> String {
    let v = &report.version;
    let mut text = format!(
        "{} {} (draft): {} components\n",
        v.template.id,
        v.version,
        v.components.len()
    );
    for c in &v.components {
        let deps = if c.depends_on.is_empty() {
            String::new()
        } else {
            format!(" -> {}", c.depends_on.join(", "))
        };
        text.push_str(&format!("  {} {}{deps}\n", c.key, c.image));
    }
    let unresolved = report.unresolved_images();
    if !unresolved.is_empty() {
        text.push_str(&format!(
            "{} images without a digest: publish with --publish (or pin them) before the draft validates\n",
            unresolved.len()
        ));
    }
    let required = report
        .secrets
        .iter()
        .filter(|s| s.handling == SecretHandling::Required)
        .count();
    if required > 0 {
        text.push_str(&format!(
            "{required} secret values required at install (not copied); --generate-secret turns them into generated ones\n"
        ));
    }
    for u in &report.unsupported {
        text.push_str(&format!("not captured: {}: {}\n", u.object, u.reason));
    }
    let per_object = report
        .lossy
        .iter()
        .filter(|l| !l.component.is_empty())
        .count();
    if per_object > 0 {
        text.push_str(&format!(
            "{per_object} fields could not be carried; `-o json` lists them under `lossy`\n"
        ));
    }
    text
}

fn published(report: &PublishFromClusterReport) -> String {
    let mut text = summary(&report.capture);
    let what = match &report.outcome {
        None => format!(
            "unchanged: the application equals {} {}; nothing published",
            report.template, report.version
        ),
        Some(PublishOutcome::Created { .. }) => {
            format!("published {} {}", report.template, report.version)
        }
        Some(PublishOutcome::Unchanged { .. }) => format!(
            "{} {} already holds this content",
            report.template, report.version
        ),
        Some(PublishOutcome::Replaced { .. }) => {
            format!("replaced {} {}", report.template, report.version)
        }
    };
    text.push_str(&format!(
        "images: {} blobs fetched, {} in the market already\n",
        report.pull.blobs_fetched, report.pull.blobs_skipped
    ));
    if let (Some(base), Some(changes)) = (&report.base, &report.changes)
        && report.outcome.is_some()
    {
        text.push_str(&format!(
            "changes from {base}: {} components\n",
            changes.components.len()
        ));
    }
    text.push_str(&what);
    text
}
