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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use template_core::package::format::is_manifest_media_type;
use template_core::package::manifest_references;

use crate::error::{MarketError, Result};
use crate::store::COPY_BUFFER;
use crate::{ImageRef, MAX_DOCUMENT_BYTES, Market, sniff_media_type};

/// Where images are relocated to. Its `Debug` output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `host[:port][/prefix]`, as in an environment profile; an image
    /// `registry.example.com/pig/gateway@sha256:…` goes to
    /// `<host>/<prefix>/pig/gateway`.
    pub registry: String,
    /// Use plain HTTP instead of HTTPS (for a registry on 127.0.0.1 or a
    /// trusted network).
    pub insecure: bool,
    /// Basic auth user name and password; none means anonymous.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for RegistryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTarget")
            .field("registry", &self.registry)
            .field("insecure", &self.insecure)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<hidden>")),
            )
            .finish()
    }
}

impl RegistryTarget {
    /// An anonymous HTTPS target.
    pub fn new(registry: impl Into<String>) -> Self {
        RegistryTarget {
            registry: registry.into(),
            insecure: false,
            credentials: None,
        }
    }

    fn host(&self) -> &str {
        let r = self.registry.trim_end_matches('/');
        r.split_once('/').map_or(r, |(h, _)| h)
    }

    fn prefix(&self) -> Option<&str> {
        let r = self.registry.trim_end_matches('/');
        r.split_once('/').map(|(_, p)| p)
    }

    fn base_url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.host())
    }

    /// The repository an image name lands in, e.g. `mirror/pig/gateway`.
    pub fn repository_for(&self, image_name: &str) -> Result<String> {
        let reference = oci_spec::distribution::Reference::from_str(image_name).map_err(|e| {
            MarketError::Registry {
                registry: self.registry.clone(),
                item: image_name.to_owned(),
                message: format!(
                    "the image name cannot be parsed ({e}); fix the name in the market"
                ),
            }
        })?;
        Ok(match self.prefix() {
            Some(p) => format!("{p}/{}", reference.repository()),
            None => reference.repository().to_owned(),
        })
    }

    /// The reference an image has once relocated: `<registry>/<repository>@<digest>`
    /// (the form `template_k8s::render::relocate_image` renders).
    pub fn relocated_reference(&self, image: &ImageRef) -> Result<String> {
        Ok(format!(
            "{}/{}@{}",
            self.host(),
            self.repository_for(&image.name)?,
            image.digest
        ))
    }
}

/// How to relocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocateOptions {
    /// Blobs uploaded at once (at least 1).
    pub parallelism: usize,
    /// Blobs larger than this are uploaded in chunks of this size.
    pub chunk_size: u64,
    /// Also put each manifest by the tag of the image's name, if it has one.
    pub push_tags: bool,
    /// Timeout of one HTTP request.
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

/// What a relocation is doing when it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelocateEvent {
    /// A blob was found in the registry already.
    Skipped,
    /// Bytes of a blob were sent.
    Uploading,
    /// A blob was uploaded completely.
    Uploaded,
    /// A blob was mounted from another repository of the registry.
    Mounted,
    /// A manifest (or tag) was put.
    ManifestPushed,
    /// A manifest was found in the registry already.
    ManifestSkipped,
    /// The relocation finished.
    Done,
}

/// One progress report of a relocation. Totals count what must be
/// uploaded, known once the registry has been asked what it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What a relocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelocateReport {
    /// Blobs asked about (per repository).
    pub blobs_checked: usize,
    /// Blobs the registry had already.
    pub blobs_skipped: usize,
    /// Blobs uploaded.
    pub blobs_uploaded: usize,
    /// Blobs mounted from another repository of the registry instead of
    /// uploaded again (a base layer shared by several images).
    pub blobs_mounted: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Manifests (and tags) put.
    pub manifests_pushed: usize,
    /// Manifests the registry had already.
    pub manifests_skipped: usize,
    /// Each image with its relocated reference.
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
        let client = Client::new(target, options);
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
        report.blobs_checked = blobs.len();
        let present = run_parallel(options.parallelism, &blobs, &shared, |job| {
            client.has_blob(&job.repository, &job.digest)
        })?;
        let mut missing = Vec::new();
        let mut blobs_present = Vec::new();
        for (job, has) in blobs.into_iter().zip(present) {
            if has {
                report.blobs_skipped += 1;
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
            &shared,
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
            report.blobs_uploaded += o.uploaded;
            report.blobs_mounted += o.mounted;
            report.bytes_uploaded += o.bytes;
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
                    report.manifests_skipped += 1;
                    shared.report(RelocateEvent::ManifestSkipped, &item, 0, false);
                } else {
                    client.put_manifest(&m.repository, &m.digest, m)?;
                    report.manifests_pushed += 1;
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
                    report.manifests_skipped += 1;
                    shared.report(RelocateEvent::ManifestSkipped, &item, 0, false);
                } else {
                    client.put_manifest(&m.repository, tag, m)?;
                    report.manifests_pushed += 1;
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

/// Runs `work` on every job with `parallelism` threads; results in order.
/// Stops taking jobs when cancelled or after the first error.
fn run_parallel<T: Sync, R: Send>(
    parallelism: usize,
    jobs: &[T],
    shared: &Shared<'_, '_>,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let queue = Mutex::new((0..jobs.len()).collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let first_error: Mutex<Option<MarketError>> = Mutex::new(None);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..parallelism.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if shared.is_cancelled() || failed.load(Ordering::SeqCst) {
                        return;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(i) = next else { return };
                    let Some(job) = jobs.get(i) else { return };
                    match work(job) {
                        Ok(r) => {
                            if let Ok(mut res) = results.lock()
                                && let Some(slot) = res.get_mut(i)
                            {
                                *slot = Some(r);
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            if let Ok(mut first) = first_error.lock()
                                && first.is_none()
                            {
                                *first = Some(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_default();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Some(r) => out.push(r),
            None => {
                return Err(MarketError::Cancelled {
                    what: "relocation".to_owned(),
                });
            }
        }
    }
    Ok(out)
}

/// A small client of the distribution API.
struct Client<'t> {
    agent: ureq::Agent,
    target: &'t RegistryTarget,
    base: String,
    auth: Option<String>,
    chunk_size: u64,
}

impl<'t> Client<'t> {
    fn new(target: &'t RegistryTarget, options: &RelocateOptions) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.request_timeout))
            .build()
            .into();
        let auth = target.credentials.as_ref().map(|(user, password)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        });
        Client {
            agent,
            target,
            base: target.base_url(),
            auth,
            chunk_size: options.chunk_size.max(1),
        }
    }

    fn error(&self, item: &str, message: impl Into<String>) -> MarketError {
        MarketError::Registry {
            registry: self.target.registry.clone(),
            item: item.to_owned(),
            message: message.into(),
        }
    }

    fn transport(&self, item: &str, e: ureq::Error) -> MarketError {
        let hint = if self.target.insecure {
            "check that the registry runs and is reachable"
        } else {
            "check that the registry runs and is reachable; for a plain-HTTP registry set `insecure`"
        };
        self.error(item, format!("{e}; {hint}"))
    }

    fn status_error(
        &self,
        item: &str,
        action: &str,
        response: &mut ureq::http::Response<ureq::Body>,
    ) -> MarketError {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let hint = match status.as_u16() {
            401 | 403 => "; check the credentials and that they may push to this repository",
            404 => "; check the registry address and prefix",
            _ => "",
        };
        self.error(
            item,
            format!("{action} answered {status}: {}{hint}", body.trim()),
        )
    }

    fn with_auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        }
    }

    /// Resolves a `Location` header against the registry's base URL.
    fn location(&self, item: &str, response: &ureq::http::Response<ureq::Body>) -> Result<String> {
        let loc = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.error(item, "the upload answer has no Location header"))?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_owned()
            } else {
                format!("{}{}", self.base, loc)
            },
        )
    }

    fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        let item = format!("{repository}@{digest}");
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let mut response = self
            .with_auth(self.agent.head(&url))
            .call()
            .map_err(|e| self.transport(&item, e))?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(&item, "HEAD blob", &mut response)),
        }
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
        let url = match mount_from {
            Some(from) => format!(
                "{}/v2/{}/blobs/uploads/?mount={}&from={from}",
                self.base, job.repository, job.digest
            ),
            None => format!("{}/v2/{}/blobs/uploads/", self.base, job.repository),
        };
        let mut response = self
            .with_auth(self.agent.post(&url))
            .send_empty()
            .map_err(|e| self.transport(&item, e))?;
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
        if job.size > self.chunk_size {
            let mut offset = 0u64;
            while offset < job.size {
                let len = self.chunk_size.min(job.size - offset);
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| self.error(&item, format!("seek in the market's blob: {e}")))?;
                let mut reader = Counting {
                    inner: BufReader::with_capacity(COPY_BUFFER, (&mut file).take(len)),
                    shared,
                    item: &item,
                    pending: 0,
                };
                let result = self
                    .with_auth(self.agent.patch(&location))
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Length", len.to_string())
                    .header("Content-Range", format!("{offset}-{}", offset + len - 1))
                    .send(ureq::SendBody::from_reader(&mut reader));
                reader.flush();
                if shared.is_cancelled() {
                    return Err(cancelled());
                }
                let mut response = result.map_err(|e| match e {
                    ureq::Error::Io(io) => read_err(io),
                    e => self.transport(&item, e),
                })?;
                if response.status().as_u16() != 202 {
                    return Err(self.status_error(&item, "PATCH blob chunk", &mut response));
                }
                location = self.location(&item, &response)?;
                offset += len;
            }
            let url = with_digest(&location, &job.digest);
            let mut response = self
                .with_auth(self.agent.put(&url))
                .header("Content-Length", "0")
                .send_empty()
                .map_err(|e| self.transport(&item, e))?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob (closing upload)", &mut response));
            }
        } else {
            let mut reader = Counting {
                inner: BufReader::with_capacity(COPY_BUFFER, file),
                shared,
                item: &item,
                pending: 0,
            };
            let url = with_digest(&location, &job.digest);
            let result = self
                .with_auth(self.agent.put(&url))
                .header("Content-Type", "application/octet-stream")
                .header("Content-Length", job.size.to_string())
                .send(ureq::SendBody::from_reader(&mut reader));
            reader.flush();
            if shared.is_cancelled() {
                return Err(cancelled());
            }
            let mut response = result.map_err(|e| match e {
                ureq::Error::Io(io) => read_err(io),
                e => self.transport(&item, e),
            })?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob", &mut response));
            }
        }
        shared.report(RelocateEvent::Uploaded, &item, 0, true);
        Ok(false)
    }

    /// The digest the registry has for a manifest reference (digest or
    /// tag), or none.
    fn manifest_digest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
    ) -> Result<Option<String>> {
        let item = format!("{repository}:{reference}");
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let mut response = self
            .with_auth(self.agent.head(&url))
            .header("Accept", media_type)
            .call()
            .map_err(|e| self.transport(&item, e))?;
        match response.status().as_u16() {
            200 => Ok(response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| {
                    reference
                        .starts_with("sha256:")
                        .then(|| reference.to_owned())
                })),
            404 => Ok(None),
            _ => Err(self.status_error(&item, "HEAD manifest", &mut response)),
        }
    }

    fn put_manifest(&self, repository: &str, reference: &str, m: &ManifestJob) -> Result<()> {
        let item = format!("{repository}:{reference}");
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let mut response = self
            .with_auth(self.agent.put(&url))
            .header("Content-Type", &m.media_type)
            .send(&m.bytes[..])
            .map_err(|e| self.transport(&item, e))?;
        if response.status().as_u16() != 201 {
            return Err(self.status_error(&item, "PUT manifest", &mut response));
        }
        if let Some(d) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && d != m.digest
        {
            return Err(self.error(
                &item,
                format!(
                    "the registry stored the manifest as {d}, not {}; it rewrote the manifest, use a registry that keeps manifests byte for byte",
                    m.digest
                ),
            ));
        }
        Ok(())
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
/// with an error when the relocation is cancelled.
struct Counting<'s, 'c, 'a, R> {
    inner: R,
    shared: &'s Shared<'c, 'a>,
    item: &'s str,
    pending: u64,
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
        let n = self.inner.read(buf)?;
        self.pending += n as u64;
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
