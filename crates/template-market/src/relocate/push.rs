//! Planning and running a relocation: which blobs each repository needs,
//! the manifests in push order, blobs sent in parallel, then manifests
//! and tags.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use template_core::package::format::is_manifest_media_type;
use template_core::package::manifest_references;

use super::{
    RelocateCallback, RelocateEvent, RelocateOptions, RelocateProgress, RelocateReport,
    RelocationCounts,
};
use crate::catalog::ImageRef;
use crate::error::{MarketError, Result};
use crate::market::{MAX_DOCUMENT_BYTES, Market, sniff_media_type};
use crate::registry::{Access, Client, RegistryTarget, run_parallel};

/// A blob of one repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct BlobJob {
    pub(super) repository: String,
    pub(super) digest: String,
    pub(super) size: u64,
}

/// A manifest to put, in order (children first).
#[derive(Debug, Clone)]
pub(super) struct ManifestJob {
    pub(super) repository: String,
    pub(super) digest: String,
    pub(super) media_type: String,
    pub(super) bytes: Vec<u8>,
    pub(super) tag: Option<String>,
}

pub(super) struct Shared<'c, 'a> {
    callback: Mutex<(&'c mut RelocateCallback<'a>, Counters)>,
    cancelled: AtomicBool,
}

#[derive(Default)]
struct Counters {
    bytes_done: u64,
    bytes_total: u64,
    blobs_done: usize,
    blobs_total: usize,
}

impl Shared<'_, '_> {
    pub(super) fn report(&self, event: RelocateEvent, item: &str, bytes: u64, blob_done: bool) {
        let Ok(mut guard) = self.callback.lock() else {
            self.cancelled.store(true, Ordering::SeqCst);
            return;
        };
        let (callback, counters) = &mut *guard;
        counters.bytes_done += bytes;
        if blob_done {
            counters.blobs_done += 1;
        }
        let progress = RelocateProgress {
            event,
            bytes_done: counters.bytes_done,
            bytes_total: counters.bytes_total,
            blobs_done: counters.blobs_done,
            blobs_total: counters.blobs_total,
            item,
        };
        if callback(&progress).is_break() {
            self.cancelled.store(true, Ordering::SeqCst);
        }
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl Market {
    /// Pushes `images` (with every blob and child manifest) from the market
    /// to `target` over the OCI distribution API: blobs the repository has
    /// (`HEAD /v2/<name>/blobs/<digest>`) are skipped, the others are
    /// mounted from another repository of the registry that has them or
    /// uploaded (`POST` + `PUT`, or `PATCH` chunks above
    /// [`RelocateOptions::chunk_size`]), `parallelism` at a time; then the
    /// manifests are put by digest, children first, and by tag. A rerun
    /// after an interruption sends only what is missing; a rerun after a
    /// complete relocation sends nothing. A shared lock on the market is
    /// held meanwhile, so `gc` cannot remove blobs being sent.
    pub fn relocate_images(
        &self,
        images: &[ImageRef],
        target: &RegistryTarget,
        options: &RelocateOptions,
        progress: &mut RelocateCallback<'_>,
    ) -> Result<RelocateReport> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let client = Client::connect(
            target,
            Access::Push,
            options.request_timeout,
            options.chunk_size,
        )?;
        let mut report = RelocateReport::default();

        // Plan: blobs per repository and manifests in push order.
        let mut blobs: BTreeSet<BlobJob> = BTreeSet::new();
        let mut manifests: Vec<ManifestJob> = Vec::new();
        for image in images {
            let repository = target.repository_for(&image.name)?;
            let media_type = match catalog.image_by_digest(&image.digest) {
                Some(d) => d.media_type().to_string(),
                None => {
                    let bytes = self.store().read_small(&image.digest, MAX_DOCUMENT_BYTES)?;
                    sniff_media_type(&bytes)
                }
            };
            let before = manifests.len();
            self.plan_manifest(
                &repository,
                &image.digest,
                &media_type,
                &mut blobs,
                &mut manifests,
                0,
            )?;
            if options.push_tags
                && let Some(tag) = tag_of(&image.name)
                && let Some(last) = manifests.get_mut(before..).and_then(|m| m.last_mut())
            {
                last.tag = Some(tag);
            }
            report
                .images
                .push((image.clone(), target.relocated_reference(image)?));
        }

        let shared = Shared {
            callback: Mutex::new((progress, Counters::default())),
            cancelled: AtomicBool::new(false),
        };

        // Ask the registry which blobs it has.
        let blobs: Vec<BlobJob> = blobs.into_iter().collect();
        report.counts.blobs_checked = blobs.len();
        let present = run_parallel(
            options.parallelism,
            &blobs,
            &shared.cancelled,
            "relocation",
            |job| client.has_blob(&job.repository, &job.digest),
        )?;
        let mut missing = Vec::new();
        let mut blobs_present = Vec::new();
        for (job, has) in blobs.into_iter().zip(present) {
            if has {
                report.counts.blobs_skipped += 1;
                shared.report(
                    RelocateEvent::Skipped,
                    &format!("{}@{}", job.repository, job.digest),
                    0,
                    false,
                );
                blobs_present.push(job);
            } else {
                missing.push(job);
            }
        }
        if let Ok(mut guard) = shared.callback.lock() {
            guard.1.bytes_total = missing.iter().map(|j| j.size).sum();
            guard.1.blobs_total = missing.len();
        }
        if shared.is_cancelled() {
            return Err(MarketError::Cancelled {
                what: format!("relocation to {}", target.registry),
            });
        }

        // Upload what is missing: each digest once, mounted from another
        // repository of the registry that has it where possible.
        let mut sources: BTreeMap<&str, &str> = BTreeMap::new();
        for job in blobs_present.iter() {
            sources
                .entry(job.digest.as_str())
                .or_insert(job.repository.as_str());
        }
        let mut groups: BTreeMap<&str, (u64, Vec<&str>)> = BTreeMap::new();
        for job in &missing {
            groups
                .entry(job.digest.as_str())
                .or_insert_with(|| (job.size, Vec::new()))
                .1
                .push(job.repository.as_str());
        }
        let groups: Vec<(&str, u64, Vec<&str>)> = groups
            .into_iter()
            .map(|(d, (size, repos))| (d, size, repos))
            .collect();
        let outcomes = run_parallel(
            options.parallelism,
            &groups,
            &shared.cancelled,
            "relocation",
            |(digest, size, repos)| {
                let mut source = sources.get(digest).map(|s| (*s).to_owned());
                let mut outcome = RelocationCounts::default();
                for repo in repos {
                    let job = BlobJob {
                        repository: (*repo).to_owned(),
                        digest: (*digest).to_owned(),
                        size: *size,
                    };
                    let file = self.store().open(digest)?;
                    if client.upload_blob(&job, file, source.as_deref(), &shared)? {
                        outcome.blobs_mounted += 1;
                    } else {
                        outcome.blobs_uploaded += 1;
                        outcome.bytes_uploaded += size;
                    }
                    source = Some((*repo).to_owned());
                }
                Ok(outcome)
            },
        )?;
        for o in outcomes {
            report.counts += o;
        }

        // Manifests, children first.
        let mut done: BTreeSet<(String, String)> = BTreeSet::new();
        for m in &manifests {
            if shared.is_cancelled() {
                return Err(MarketError::Cancelled {
                    what: format!("relocation to {}", target.registry),
                });
            }
            if done.insert((m.repository.clone(), m.digest.clone())) {
                let item = format!("{}@{}", m.repository, m.digest);
                if client.manifest_digest(&m.repository, &m.digest, &m.media_type)?
                    == Some(m.digest.clone())
                {
                    report.counts.manifests_skipped += 1;
                    shared.report(RelocateEvent::ManifestSkipped, &item, 0, false);
                } else {
                    client.put_manifest(&m.repository, &m.digest, m)?;
                    report.counts.manifests_pushed += 1;
                    shared.report(RelocateEvent::ManifestPushed, &item, 0, false);
                }
            }
            if let Some(tag) = &m.tag
                && done.insert((m.repository.clone(), format!(":{tag}")))
            {
                let item = format!("{}:{tag}", m.repository);
                if client.manifest_digest(&m.repository, tag, &m.media_type)?
                    == Some(m.digest.clone())
                {
                    report.counts.manifests_skipped += 1;
                    shared.report(RelocateEvent::ManifestSkipped, &item, 0, false);
                } else {
                    client.put_manifest(&m.repository, tag, m)?;
                    report.counts.manifests_pushed += 1;
                    shared.report(RelocateEvent::ManifestPushed, &item, 0, false);
                }
            }
        }
        shared.report(RelocateEvent::Done, &target.registry, 0, false);
        Ok(report)
    }

    /// Relocates every image of `template` `version` (components and
    /// plugins) with [`Market::relocate_images`].
    pub fn relocate_version(
        &self,
        template: &str,
        version: &str,
        target: &RegistryTarget,
        options: &RelocateOptions,
        progress: &mut RelocateCallback<'_>,
    ) -> Result<RelocateReport> {
        let doc = self.version(template, version)?;
        let mut images: Vec<ImageRef> = doc
            .components
            .iter()
            .map(|c| &c.image)
            .chain(doc.plugins.iter().map(|p| &p.image))
            .filter_map(|r| {
                template_core::package::image_digest(r).map(|d| ImageRef {
                    name: template_core::package::image_name(r).to_owned(),
                    digest: d.to_owned(),
                })
            })
            .collect();
        images.sort();
        images.dedup();
        self.relocate_images(&images, target, options, progress)
    }

    fn plan_manifest(
        &self,
        repository: &str,
        digest: &str,
        media_type: &str,
        blobs: &mut BTreeSet<BlobJob>,
        manifests: &mut Vec<ManifestJob>,
        depth: usize,
    ) -> Result<()> {
        if depth > 8 {
            return Err(MarketError::Corrupt {
                path: self.store().blob_path(digest).unwrap_or_default(),
                message: "manifests nest too deep".to_owned(),
            });
        }
        let bytes = self.store().read_small(digest, MAX_DOCUMENT_BYTES)?;
        let refs =
            manifest_references(media_type, &bytes).map_err(|message| MarketError::Corrupt {
                path: self.store().blob_path(digest).unwrap_or_default(),
                message,
            })?;
        for r in refs {
            let d = r.digest().to_string();
            if is_manifest_media_type(r.media_type().as_ref()) {
                self.plan_manifest(
                    repository,
                    &d,
                    r.media_type().as_ref(),
                    blobs,
                    manifests,
                    depth + 1,
                )?;
            } else {
                if !self.store().has(&d) {
                    return Err(MarketError::NotFound {
                        what: format!("blob {d} of image manifest {digest}"),
                        market: self.root().to_owned(),
                    });
                }
                blobs.insert(BlobJob {
                    repository: repository.to_owned(),
                    digest: d,
                    size: r.size(),
                });
            }
        }
        manifests.push(ManifestJob {
            repository: repository.to_owned(),
            digest: digest.to_owned(),
            media_type: media_type.to_owned(),
            bytes,
            tag: None,
        });
        Ok(())
    }
}

/// The tag of an image name (`host/repo:tag`), if any.
pub(super) fn tag_of(name: &str) -> Option<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split_once(':').map(|(_, t)| t.to_owned())
}
