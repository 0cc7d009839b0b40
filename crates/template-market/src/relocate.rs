//! Image relocation: pushing images from the market to a registry over the
//! OCI distribution API, before an environment pulls them.
//!
//! For each image, every blob (layers, config) the registry's repository
//! lacks (`HEAD /v2/<name>/blobs/<digest>`) is uploaded (`POST` then one
//! `PUT`, or `PATCH` chunks and a closing `PUT` for big blobs), then the
//! manifests are put by digest (children of an index first) and, when the
//! image's name has one, by tag. Blobs go up in parallel on a few threads.
//! Nothing is kept locally between runs: a rerun asks the registry again,
//! so an interrupted relocation resumes with what is missing and a
//! complete one pushes nothing.
//!
//! The registry client (TLS trust, authentication) is the one of module
//! `registry`, shared with pulls.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use template_core::package::format::is_manifest_media_type;
use template_core::package::manifest_references;
pub use template_core::relocation::{RelocateEvent, RelocationCounts};

use crate::error::{MarketError, Result};
use crate::registry::{Access, Client, RegistryTarget, Response, auth, run_parallel};
use crate::store::COPY_BUFFER;
use crate::{ImageRef, MAX_DOCUMENT_BYTES, Market, sniff_media_type};

/// How to relocate. Serializes as `{parallelism, chunk_size, push_tags,
/// request_timeout_seconds}`; absent fields keep their defaults.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct RelocateOptions {
    /// Blobs uploaded at once (at least 1).
    #[serde(with = "crate::options::at_least_one")]
    #[schemars(with = "u64")]
    pub parallelism: usize,
    /// Blobs larger than this are uploaded in chunks of this size.
    pub chunk_size: u64,
    /// Also put each manifest by the tag of the image's name, if it has one.
    pub push_tags: bool,
    /// Timeout of one HTTP request.
    #[serde(rename = "request_timeout_seconds", with = "crate::options::seconds")]
    #[schemars(with = "f64")]
    pub request_timeout: Duration,
}

impl Default for RelocateOptions {
    fn default() -> Self {
        RelocateOptions {
            parallelism: 4,
            chunk_size: 64 << 20,
            push_tags: true,
            request_timeout: Duration::from_secs(600),
        }
    }
}

/// One progress report of a relocation. Totals count what must be
/// uploaded, known once the registry has been asked what it has.
/// Serializes with its field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RelocateProgress<'a> {
    /// What happened.
    pub event: RelocateEvent,
    /// Bytes uploaded so far.
    pub bytes_done: u64,
    /// Bytes to upload in all.
    pub bytes_total: u64,
    /// Blobs uploaded so far.
    pub blobs_done: usize,
    /// Blobs to upload in all.
    pub blobs_total: usize,
    /// The current item: `<repository>@<digest>` (or `:<tag>`).
    pub item: &'a str,
}

/// The progress callback: [`ControlFlow::Break`] stops the relocation (it
/// then fails with [`MarketError::Cancelled`]; a rerun resumes).
pub type RelocateCallback<'a> = dyn FnMut(&RelocateProgress<'_>) -> ControlFlow<()> + Send + 'a;

/// What a relocation did. Serializes with the counts' field names and each
/// image as `{name, digest, relocated}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RelocateReport {
    /// What was checked, skipped, uploaded, mounted and put.
    #[serde(flatten)]
    pub counts: RelocationCounts,
    /// Each image with its relocated reference.
    #[serde(serialize_with = "crate::ser::relocated_images")]
    #[schemars(with = "Vec<crate::ser::RelocatedImageEntry<'static>>")]
    pub images: Vec<(ImageRef, String)>,
}

/// A blob of one repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BlobJob {
    repository: String,
    digest: String,
    size: u64,
}

/// What one worker sent.
#[derive(Debug, Default)]
struct Transferred {
    uploaded: usize,
    mounted: usize,
    bytes: u64,
}

/// A manifest to put, in order (children first).
#[derive(Debug, Clone)]
struct ManifestJob {
    repository: String,
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
    tag: Option<String>,
}

struct Shared<'c, 'a> {
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
    fn report(&self, event: RelocateEvent, item: &str, bytes: u64, blob_done: bool) {
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

    fn is_cancelled(&self) -> bool {
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
                let mut outcome = Transferred::default();
                for repo in repos {
                    let job = BlobJob {
                        repository: (*repo).to_owned(),
                        digest: (*digest).to_owned(),
                        size: *size,
                    };
                    let file = self.store().open(digest)?;
                    if client.upload_blob(&job, file, source.as_deref(), &shared)? {
                        outcome.mounted += 1;
                    } else {
                        outcome.uploaded += 1;
                        outcome.bytes += size;
                    }
                    source = Some((*repo).to_owned());
                }
                Ok(outcome)
            },
        )?;
        for o in outcomes {
            report.counts.blobs_uploaded += o.uploaded;
            report.counts.blobs_mounted += o.mounted;
            report.counts.bytes_uploaded += o.bytes;
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
fn tag_of(name: &str) -> Option<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split_once(':').map(|(_, t)| t.to_owned())
}

impl Client<'_> {
    /// Starts an upload, or mounts the blob from `mount_from` when the
    /// registry can (and the credentials may pull from there); returns
    /// the answer.
    fn start_upload(
        &self,
        job: &BlobJob,
        item: &str,
        mount_from: Option<&str>,
    ) -> Result<Response> {
        let mut scopes = self.scopes(&job.repository);
        let url = match mount_from {
            Some(from) => {
                scopes.push(auth::repository_scope(from, "pull"));
                format!(
                    "{}/v2/{}/blobs/uploads/?mount={}&from={from}",
                    self.base, job.repository, job.digest
                )
            }
            None => format!("{}/v2/{}/blobs/uploads/", self.base, job.repository),
        };
        let response = self.send(item, &scopes, |auth| {
            Self::with_auth(self.agent.post(&url), auth)
                .send_empty()
                .map_err(|e| self.transport(item, e))
        })?;
        if mount_from.is_some() && matches!(response.status().as_u16(), 401 | 403) {
            // Not allowed to read the source repository: upload instead.
            return self.start_upload(job, item, None);
        }
        Ok(response)
    }

    /// Uploads a blob, or mounts it from `mount_from` when the registry
    /// can; returns whether it was mounted.
    fn upload_blob(
        &self,
        job: &BlobJob,
        mut file: std::fs::File,
        mount_from: Option<&str>,
        shared: &Shared<'_, '_>,
    ) -> Result<bool> {
        let item = format!("{}@{}", job.repository, job.digest);
        let scopes = self.scopes(&job.repository);
        let mut response = self.start_upload(job, &item, mount_from)?;
        if mount_from.is_some() && response.status().as_u16() == 201 {
            shared.report(RelocateEvent::Mounted, &item, job.size, true);
            return Ok(true);
        }
        if response.status().as_u16() != 202 {
            return Err(self.status_error(&item, "POST blob upload", &mut response));
        }
        let mut location = self.location(&item, &response)?;
        let cancelled = || MarketError::Cancelled {
            what: format!("upload of {item}"),
        };
        let read_err = |e: io::Error| {
            if shared.is_cancelled() {
                cancelled()
            } else {
                self.error(
                    &item,
                    format!("reading the blob from the market failed: {e}"),
                )
            }
        };
        // Sends `len` bytes of the blob from `offset`; a second attempt
        // (after a 401) reports only bytes the first did not.
        let mut send_part =
            |request: &dyn Fn(Option<&str>) -> ureq::RequestBuilder<ureq::typestate::WithBody>,
             offset: u64,
             len: u64|
             -> Result<Response> {
                let mut reported = 0u64;
                self.send(&item, &scopes, |auth| {
                    file.seek(SeekFrom::Start(offset)).map_err(|e| {
                        self.error(&item, format!("seek in the market's blob: {e}"))
                    })?;
                    let mut reader = Counting {
                        inner: BufReader::with_capacity(COPY_BUFFER, (&mut file).take(len)),
                        shared,
                        item: &item,
                        pending: 0,
                        skip: reported,
                        read: 0,
                        failed: false,
                    };
                    let result = request(auth)
                        .header("Content-Type", "application/octet-stream")
                        .header("Content-Length", len.to_string())
                        .send(ureq::SendBody::from_reader(&mut reader));
                    reader.flush();
                    reported = reported.max(reader.read);
                    if shared.is_cancelled() {
                        return Err(cancelled());
                    }
                    let failed = reader.failed;
                    result.map_err(|e| match e {
                        ureq::Error::Io(io) if failed => read_err(io),
                        e => self.transport(&item, e),
                    })
                })
            };
        if job.size > self.chunk_size {
            let mut offset = 0u64;
            while offset < job.size {
                let len = self.chunk_size.min(job.size - offset);
                let url = location.clone();
                let range = format!("{offset}-{}", offset + len - 1);
                let mut response = send_part(
                    &|auth| {
                        Self::with_auth(self.agent.patch(&url), auth)
                            .header("Content-Range", &range)
                    },
                    offset,
                    len,
                )?;
                if response.status().as_u16() != 202 {
                    return Err(self.status_error(&item, "PATCH blob chunk", &mut response));
                }
                location = self.location(&item, &response)?;
                offset += len;
            }
            let url = with_digest(&location, &job.digest);
            let mut response = self.send(&item, &scopes, |auth| {
                Self::with_auth(self.agent.put(&url), auth)
                    .header("Content-Length", "0")
                    .send_empty()
                    .map_err(|e| self.transport(&item, e))
            })?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob (closing upload)", &mut response));
            }
        } else {
            let url = with_digest(&location, &job.digest);
            let mut response = send_part(
                &|auth| Self::with_auth(self.agent.put(&url), auth),
                0,
                job.size,
            )?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob", &mut response));
            }
        }
        shared.report(RelocateEvent::Uploaded, &item, 0, true);
        Ok(false)
    }

    fn put_manifest(&self, repository: &str, reference: &str, m: &ManifestJob) -> Result<()> {
        self.put_manifest_bytes(repository, reference, &m.media_type, &m.bytes, &m.digest)
    }
}
/// Adds `digest=<digest>` to an upload location.
fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// How often an upload reports bytes.
const REPORT_EVERY: u64 = 1 << 20;

/// Counts bytes read for an upload, reports them, and stops the read
/// with an error when the relocation is cancelled. The first `skip` bytes
/// are not reported (a previous attempt did).
struct Counting<'s, 'c, 'a, R> {
    inner: R,
    shared: &'s Shared<'c, 'a>,
    item: &'s str,
    pending: u64,
    skip: u64,
    read: u64,
    /// Reading the market's blob failed (not the network).
    failed: bool,
}

impl<R> Counting<'_, '_, '_, R> {
    fn flush(&mut self) {
        if self.pending > 0 {
            self.shared
                .report(RelocateEvent::Uploading, self.item, self.pending, false);
            self.pending = 0;
        }
    }
}

impl<R: Read> Read for Counting<'_, '_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.shared.is_cancelled() {
            return Err(io::Error::other("relocation cancelled"));
        }
        let n = self.inner.read(buf).inspect_err(|_| self.failed = true)?;
        let skipped = self.skip.min(n as u64);
        self.skip -= skipped;
        self.read += n as u64;
        self.pending += n as u64 - skipped;
        if self.pending >= REPORT_EVERY {
            self.flush();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_tags() -> Result<()> {
        let t = RegistryTarget::new("10.0.0.5:5000/mirror");
        let with_password = RegistryTarget {
            credentials: Some(("u".to_owned(), "hunter2".to_owned())),
            ..t.clone()
        };
        assert!(!format!("{with_password:?}").contains("hunter2"));
        assert_eq!(
            t.repository_for("registry.example.com/pig/pig-auth:3.8.2")?,
            "mirror/pig/pig-auth"
        );
        assert_eq!(
            tag_of("registry.example.com:5000/pig/pig-auth:3.8.2").as_deref(),
            Some("3.8.2")
        );
        assert_eq!(tag_of("registry.example.com:5000/pig/pig-auth"), None);
        assert_eq!(
            with_digest("http://h/u?x=1", "sha256:a"),
            "http://h/u?x=1&digest=sha256:a"
        );
        Ok(())
    }
}
