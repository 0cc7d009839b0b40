//! Publishing a running application: [`publish_from_cluster`] captures
//! it ([`template_k8s::capture()`]), pulls its images into the market
//! ([`Market::pull_images`]), pins every image to the digest the market
//! holds, and publishes the draft ([`Market::publish`]), with one progress
//! stream and one report.
//!
//! When the market already has versions of the template, the newest one
//! is the **base**: its catalogue data (name, description, scope, tags,
//! logo) and, for components and variables of the same key and name, the
//! display names, descriptions, `editable` flags and secret rules are
//! carried into the draft, so that a capture of an application published
//! before loses nothing a capture cannot see. The draft is then numbered
//! after the base (its next minor version) unless a number is given, and
//! when the running application equals the base (no change to plugins or
//! components), nothing is published.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use template_core::{Overwrite, PublishOutcome, TemplateVersion, VersionDiff};
use template_market::{
    Market, MarketError, PullEvent, PullOptions, PullReport, PulledImage, RegistryAccess,
};
use tokio::sync::mpsc::unbounded_channel;

use template_k8s::capture::{CaptureOptions, CaptureReport, DigestSource, Note};

use crate::error::{Error, Result};

/// How to publish a running application. Reads from data (JSON, Python
/// dicts, JS objects) with every field optional and unknown fields
/// refused.
///
/// ```
/// let options: template_delivery::PublishFromClusterOptions = serde_json::from_str(
///     r#"{"capture": {"template_id": "shop"}, "registries": [{"registry": "127.0.0.1:5000", "insecure": true}]}"#,
/// )?;
/// assert!(options.node_platforms);
/// assert!(serde_json::from_str::<template_delivery::PublishFromClusterOptions>(r#"{"registry": []}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PublishFromClusterOptions {
    /// How to capture: template id and name, version number (default: the
    /// next minor version after the newest in the market, or `0.1.0` for
    /// a new template), secrets.
    pub capture: CaptureOptions,
    /// How to pull the images.
    pub pull: PullOptions,
    /// The registries the images are pulled from and how to reach them
    /// ([`RegistryAccess::target_for`]); a registry not listed is reached
    /// anonymously over HTTPS, with the default auth files' credentials.
    pub registries: Vec<RegistryAccess>,
    /// When `pull.platforms` is empty, keep only the platforms of the
    /// cluster's nodes (`linux/<architecture>` of each node) of a
    /// multi-platform image (default `true`). When the nodes cannot be
    /// listed, every platform is kept and the report says so.
    pub node_platforms: bool,
    /// Replace a draft or testing version of the same number whose
    /// content differs (default `false`: such a publish is refused).
    pub overwrite: bool,
}

impl Default for PublishFromClusterOptions {
    fn default() -> Self {
        PublishFromClusterOptions {
            capture: CaptureOptions::default(),
            pull: PullOptions::default(),
            registries: Vec::new(),
            node_platforms: true,
            overwrite: false,
        }
    }
}

/// One progress report of a publish from a cluster. Serializes with a
/// `stage` field (`capture`, `captured`, `pull`, `publish`) and the
/// stage's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "stage", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PublishFromClusterProgress {
    /// Reading the application's objects.
    Capture {
        /// Namespace read.
        namespace: String,
    },
    /// The draft is made.
    Captured {
        /// Template id of the draft.
        template: String,
        /// Components captured.
        components: usize,
        /// Distinct images to pull.
        images: usize,
    },
    /// Pulling images; the fields of [`template_market::PullProgress`].
    Pull {
        /// What happened.
        event: PullEvent,
        /// Bytes fetched so far from the registry being pulled from.
        bytes_done: u64,
        /// Bytes to fetch from it.
        bytes_total: u64,
        /// Blobs fetched so far.
        blobs_done: usize,
        /// Blobs to fetch.
        blobs_total: usize,
        /// The image concerned, or the registry.
        image: String,
        /// The blob or manifest digest concerned, or empty.
        blob: String,
    },
    /// Publishing the pinned draft.
    Publish {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
    },
}

/// The progress callback of a publish: [`ControlFlow::Break`] stops it
/// before the next stage, or during the pull (which a rerun resumes); it
/// then fails with `CANCELLED` and nothing is published.
pub type PublishFromClusterCallback<'a> =
    dyn FnMut(&PublishFromClusterProgress) -> ControlFlow<()> + Send + 'a;

/// What a publish from a cluster did. Serializes with its field names.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PublishFromClusterReport {
    /// Template id.
    pub template: String,
    /// The version published, or the base when nothing changed.
    pub version: String,
    /// What the market did; `None` when the application equals the base
    /// and nothing was published.
    pub outcome: Option<PublishOutcome>,
    /// The newest version the market had before, whose catalogue data
    /// and descriptions were carried into the draft.
    pub base: Option<String>,
    /// What changed from the base to the published version.
    pub changes: Option<VersionDiff>,
    /// The capture, with the draft as published (images pinned to the
    /// market's digests, data carried from the base).
    pub capture: CaptureReport,
    /// The pull.
    pub pull: PullReport,
}

/// Captures the application in `namespace` (narrowed by the label
/// `selector`), pulls its images into `market`, pins the draft to them and
/// publishes it (see the [module documentation](self)). The cluster is
/// only read; the market is written only by the pull (blobs and image
/// names, resumable) and by the final publish, so a publish stopped at any
/// point leaves the market valid and is retried by running it again.
///
/// Fails before pulling when the draft names no image or an image cannot
/// be parsed; fails with `CANCELLED` when `progress` breaks.
pub async fn publish_from_cluster(
    client: &Client,
    namespace: &str,
    selector: Option<&str>,
    market: &Market,
    options: &PublishFromClusterOptions,
    progress: &mut PublishFromClusterCallback<'_>,
) -> Result<PublishFromClusterReport> {
    let cancelled = |what: &str| {
        Error::Market(MarketError::Cancelled {
            what: format!("publish from namespace {namespace} ({what})"),
        })
    };
    if progress(&PublishFromClusterProgress::Capture {
        namespace: namespace.to_owned(),
    })
    .is_break()
    {
        return Err(cancelled("before the capture"));
    }
    let mut report = template_k8s::capture(client, namespace, selector, &options.capture).await?;
    let template = report.version.template.id.clone();
    let base = newest_version(market, &template)?;
    let images = draft_images(&report.version);
    if progress(&PublishFromClusterProgress::Captured {
        template: template.clone(),
        components: report.version.components.len(),
        images: images.len(),
    })
    .is_break()
    {
        return Err(cancelled("after the capture"));
    }

    let mut pull_options = options.pull.clone();
    if pull_options.platforms.is_empty() && options.node_platforms {
        match node_platforms(client).await {
            Ok(platforms) => pull_options.platforms = platforms,
            Err(e) => report.notes.push(Note {
                component: String::new(),
                message: format!(
                    "the cluster's nodes could not be listed ({e}); every platform of multi-platform images was kept"
                ),
            }),
        }
    }
    let Some(pull) = pull(
        market,
        &images,
        &options.registries,
        &pull_options,
        progress,
    )
    .await?
    else {
        return Err(cancelled("during the pull"));
    };

    pin_images(&mut report, &pull.images);
    if let Some(base) = &base {
        carry_from_base(
            &mut report.version,
            base,
            options.capture.template_name.is_some(),
        );
    }
    report.version.version = match (&options.capture.version, &base) {
        (Some(v), _) => v.clone(),
        (None, Some(b)) => next_minor(&b.version),
        (None, None) => report.version.version.clone(),
    };
    let changes = match &base {
        Some(b) => Some(template_core::diff(b, &report.version)?),
        None => None,
    };
    let unchanged = options.capture.version.is_none()
        && changes
            .as_ref()
            .is_some_and(|c| c.components.is_empty() && c.plugins.is_empty());
    if unchanged {
        let version = base.as_ref().map(|b| b.version.clone()).unwrap_or_default();
        report.notes.push(Note {
            component: String::new(),
            message: format!(
                "the running application equals version {version} of the market; nothing was published"
            ),
        });
        return Ok(PublishFromClusterReport {
            template,
            version: version.clone(),
            outcome: None,
            base: Some(version),
            changes,
            capture: report,
            pull,
        });
    }
    if progress(&PublishFromClusterProgress::Publish {
        template: template.clone(),
        version: report.version.version.clone(),
    })
    .is_break()
    {
        return Err(cancelled("before publishing"));
    }
    let overwrite = if options.overwrite {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    };
    let outcome = market.publish(&report.version, overwrite)?;
    Ok(PublishFromClusterReport {
        template,
        version: report.version.version.clone(),
        outcome: Some(outcome),
        base: base.map(|b| b.version),
        changes,
        capture: report,
        pull,
    })
}

/// The newest version of `template` in the market, if any.
fn newest_version(market: &Market, template: &str) -> Result<Option<TemplateVersion>> {
    let versions = market.versions(template)?;
    match versions.last() {
        Some(v) => Ok(Some(market.version(template, &v.version)?.into_inner())),
        None => Ok(None),
    }
}

/// Distinct image references of the draft (components, then plugins).
fn draft_images(version: &TemplateVersion) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = version
        .components
        .iter()
        .map(|c| &c.image)
        .chain(version.plugins.iter().map(|p| &p.image));
    for image in all {
        if !out.contains(image) {
            out.push(image.clone());
        }
    }
    out
}

/// `linux/<architecture>` of every node, deduplicated.
async fn node_platforms(client: &Client) -> std::result::Result<Vec<String>, kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut out: Vec<String> = Vec::new();
    for node in nodes.list(&ListParams::default()).await?.items {
        let Some(info) = node.status.and_then(|s| s.node_info) else {
            continue;
        };
        let platform = format!("{}/{}", info.operating_system, info.architecture);
        if !out.contains(&platform) {
            out.push(platform);
        }
    }
    Ok(out)
}

/// Runs the blocking pull on a worker thread, forwarding its progress.
///
/// `None` when `progress` broke. The worker sees the break only at its
/// next event, so it may have finished by then (a pull with little left to
/// fetch sends its last events before the first is read); the break still
/// stops the publish, and what was pulled stays in the market for the next
/// run.
async fn pull(
    market: &Market,
    images: &[String],
    registries: &[RegistryAccess],
    options: &PullOptions,
    progress: &mut PublishFromClusterCallback<'_>,
) -> Result<Option<PullReport>> {
    let (tx, mut rx) = unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let task = {
        let (market, images, registries, options, stop) = (
            market.clone(),
            images.to_vec(),
            registries.to_vec(),
            options.clone(),
            stop.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut callback = |p: &template_market::PullProgress<'_>| {
                let _ = tx.send(PublishFromClusterProgress::Pull {
                    event: p.event,
                    bytes_done: p.bytes_done,
                    bytes_total: p.bytes_total,
                    blobs_done: p.blobs_done,
                    blobs_total: p.blobs_total,
                    image: p.image.to_owned(),
                    blob: p.blob.to_owned(),
                });
                if stop.load(Ordering::Relaxed) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            market.pull_images(&images, &registries, &options, &mut callback)
        })
    };
    // The sender is dropped when the pull returns. Once `progress` has
    // broken it is not called again; the events still queued are dropped.
    let mut broke = false;
    while let Some(event) = rx.recv().await {
        if !broke && progress(&event).is_break() {
            broke = true;
            stop.store(true, Ordering::Relaxed);
        }
    }
    let report = task.await.map_err(|e| {
        Error::precondition(format!(
            "the pull task stopped unexpectedly ({e}); run the publish again"
        ))
    })??;
    Ok((!broke).then_some(report))
}

/// Points every image of the draft at the digest the market holds for it
/// (a tag's digest, or the digest of a platform-filtered index), and
/// records where it came from.
fn pin_images(report: &mut CaptureReport, pulled: &[PulledImage]) {
    let pinned = |image: &str| {
        pulled
            .iter()
            .find(|p| p.requested == image)
            .map(|p| p.image.reference())
    };
    let version = &mut report.version;
    for image in version
        .components
        .iter_mut()
        .map(|c| &mut c.image)
        .chain(version.plugins.iter_mut().map(|p| &mut p.image))
    {
        if let Some(reference) = pinned(image) {
            *image = reference;
        }
    }
    for decision in &mut report.images {
        let Some(p) = pulled.iter().find(|p| p.requested == decision.image) else {
            continue;
        };
        if decision.source == DigestSource::Unresolved {
            decision.source = DigestSource::Registry;
            decision.note = format!(
                "the tag was resolved by the registry to {}",
                p.source_digest
            );
        }
        if p.image.digest != p.source_digest {
            decision.note = format!(
                "{}{}kept platforms {} of index {}: the market names {}",
                decision.note,
                if decision.note.is_empty() { "" } else { "; " },
                p.platforms.join(", "),
                p.source_digest,
                p.image.digest
            );
        }
        decision.image = p.image.reference();
    }
}

/// Carries the base's catalogue data and, for components and variables
/// that are still there, their descriptions and rules.
fn carry_from_base(draft: &mut TemplateVersion, base: &TemplateVersion, keep_name: bool) {
    let name = std::mem::replace(&mut draft.template, base.template.clone()).name;
    if keep_name {
        draft.template.name = name;
    }
    for component in &mut draft.components {
        let Some(old) = base.component(&component.key) else {
            continue;
        };
        component.name.clone_from(&old.name);
        component.description.clone_from(&old.description);
        for var in &mut component.env {
            if let Some(o) = old.env.iter().find(|o| o.name == var.name) {
                var.description.clone_from(&o.description);
                var.editable = o.editable;
            }
        }
        for var in &mut component.connection_info {
            if let Some(o) = old.connection_info.iter().find(|o| o.name == var.name) {
                var.description.clone_from(&o.description);
                if var.generate.is_some() && o.generate.is_some() {
                    var.generate.clone_from(&o.generate);
                }
            }
        }
    }
}

/// The next minor version after `version` (`1.4.2` → `1.5.0`); the text
/// with `.next` appended when it is not semver (publishing then says
/// why).
fn next_minor(version: &str) -> String {
    match semver::Version::parse(version) {
        Ok(v) => semver::Version::new(v.major, v.minor + 1, 0).to_string(),
        Err(_) => format!("{version}.next"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_version_is_the_next_minor() {
        assert_eq!(next_minor("1.4.2"), "1.5.0");
        assert_eq!(next_minor("2.0.0-rc.1"), "2.1.0");
        assert_eq!(next_minor("one"), "one.next");
    }

    #[test]
    fn options_read_from_data_refuse_unknown_fields() {
        let o: PublishFromClusterOptions = serde_json::from_value(serde_json::json!({
            "capture": {"template_id": "shop", "version": "2.0.0"},
            "pull": {"platforms": ["linux/arm64"]},
            "node_platforms": false,
        }))
        .unwrap();
        assert_eq!(o.capture.version.as_deref(), Some("2.0.0"));
        assert_eq!(o.pull.platforms, ["linux/arm64"]);
        assert!(!o.node_platforms && !o.overwrite);
        let e = serde_json::from_value::<PublishFromClusterOptions>(
            serde_json::json!({"capture": {"versio": "1"}}),
        );
        assert!(e.unwrap_err().to_string().contains("versio"));
    }
}
