//! `remote ...`: the market on an OCI registry.

use anyhow::Context as _;
use template_core::{Overwrite, ReleaseState};
use template_market::{RegistryMarket, RelocateProgress, SecretKey};

use crate::cli::{RemoteCommand, RemoteLocation};
use crate::commands::Context as Run;
use crate::commands::market::state_name;
use crate::interrupt::Cancellable;
use crate::output::{Outcome, bytes, table};

fn open(run: &Run, at: &RemoteLocation) -> anyhow::Result<RegistryMarket> {
    Ok(RegistryMarket::open(
        &at.location,
        &run.settings.registry_accesses(),
    )?)
}

pub(crate) fn run(run: &Run, command: RemoteCommand) -> anyhow::Result<Outcome> {
    match command {
        RemoteCommand::Push {
            template,
            version,
            at,
            overwrite,
        } => {
            let remote = open(run, &at)?;
            let market = run.settings.market()?;
            let reporter = run.reporter();
            let cancel = Cancellable::begin();
            let registry = remote.target().registry.clone();
            let report = remote.publish_from(
                &market,
                &template,
                &version,
                if overwrite {
                    Overwrite::Allow
                } else {
                    Overwrite::Refuse
                },
                &run.settings.file.relocate,
                &mut |p: &RelocateProgress<'_>| {
                    reporter.relocation(&registry, p);
                    cancel.flow()
                },
            );
            reporter.finish();
            let report = report?;
            let text = format!(
                "{} ({}): {} blobs pushed ({}), {} there already, {} mounted",
                report.reference,
                report.artifact,
                report.transfer.counts.blobs_uploaded,
                bytes(report.transfer.counts.bytes_uploaded),
                report.transfer.counts.blobs_skipped,
                report.transfer.counts.blobs_mounted
            );
            Outcome::new(&report, text)
        }
        RemoteCommand::List { at } => {
            let templates = open(run, &at)?.templates()?;
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
        RemoteCommand::Show { template, at } => {
            let versions = open(run, &at)?.versions(&template)?;
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
        RemoteCommand::Release {
            template,
            version,
            state,
            at,
            sign_key,
        } => {
            let key = match &sign_key {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading secret key `{}`", path.display()))?;
                    Some(
                        SecretKey::from_file_text(&text)
                            .with_context(|| format!("secret key `{}`", path.display()))?,
                    )
                }
                None => None,
            };
            let state = ReleaseState::from(state);
            let transition = open(run, &at)?.set_release_state(
                &template,
                &version,
                state,
                key.as_ref(),
                std::time::SystemTime::now(),
            )?;
            let text = match &transition {
                Some(t) => format!(
                    "{template} {version} is {} (transition {} at {})",
                    state_name(t.to),
                    t.digest,
                    t.created
                ),
                None => format!("{template} {version} is {} already", state_name(state)),
            };
            Outcome::new(&transition, text)
        }
        RemoteCommand::Fetch {
            template,
            version,
            at,
        } => {
            let remote = open(run, &at)?;
            let market = run.settings.market()?;
            let reporter = run.reporter();
            let cancel = Cancellable::begin();
            let report = remote.fetch_into(
                &market,
                &template,
                &version,
                &run.settings.file.pull,
                &mut |p| {
                    reporter.pull(p);
                    cancel.flow()
                },
            );
            reporter.finish();
            let report = report?;
            let text = format!(
                "{template} {version} in the local market: {} images, {} blobs fetched ({}), {} there already",
                report.pull.images.len(),
                report.pull.blobs_fetched,
                bytes(report.pull.bytes_fetched),
                report.pull.blobs_skipped
            );
            Outcome::new(&report, text)
        }
    }
}
