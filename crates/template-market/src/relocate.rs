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
//! HTTPS trusts the public root CAs and/or the private CA certificates of
//! the [`RegistryTarget`]. Authentication is what the registry asks for
//! (its answer to `GET /v2/`, then any `401`): Basic, or bearer tokens of
//! the distribution token protocol, fetched per repository scope and
//! cached until they expire (module `auth`); credentials can come from a
//! containers/Docker auth file (module `auth_file`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use template_core::package::format::is_manifest_media_type;
use template_core::package::manifest_references;

use crate::error::{MarketError, Result, io_err};
use crate::store::COPY_BUFFER;
use crate::{ImageRef, MAX_DOCUMENT_BYTES, Market, sniff_media_type};

mod auth;
mod auth_file;

use auth::{Credentials, Scheme, TokenAnswer, TokenCache};

/// Where images are relocated to, and how to reach it: TLS trust and
/// credentials. Its `Debug` output hides the password.
///
/// Authentication follows what the registry asks for (its `401` answer's
/// `WWW-Authenticate` challenge): HTTP Basic with [`credentials`], or the
/// token protocol of the distribution spec (`Bearer realm=…,service=…`):
/// a token per repository scope (`pull,push`, plus `pull` on the source
/// repository of a cross-repository mount) is fetched from the realm with
/// the credentials as Basic auth (anonymously without them), cached until
/// its `expires_in` (60 s when absent) runs out, and fetched again once
/// when the registry refuses it.
///
/// ```
/// use template_market::RegistryTarget;
/// let dir = tempfile::tempdir()?;
/// let auth = dir.path().join("auth.json");
/// // `skopeo login --authfile auth.json registry.example.com` writes this.
/// std::fs::write(&auth, r#"{"auths":{"registry.example.com":{"auth":"cmVsb2NhdG9yOnMzY3JldA=="}}}"#)?;
/// let target = RegistryTarget::new("registry.example.com/mirror").with_auth_file(&auth)?;
/// assert_eq!(target.credentials.as_ref().map(|(user, _)| user.as_str()), Some("relocator"));
/// assert!(!format!("{target:?}").contains("s3cret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`credentials`]: RegistryTarget::credentials
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `host[:port][/prefix]`, as in an environment profile; an image
    /// `registry.example.com/pig/gateway@sha256:…` goes to
    /// `<host>/<prefix>/pig/gateway`.
    pub registry: String,
    /// Use plain HTTP instead of HTTPS (for a registry on 127.0.0.1 or a
    /// trusted network).
    pub insecure: bool,
    /// User name and password, sent as Basic auth to the registry or to
    /// its token service; none means anonymous.
    pub credentials: Option<(String, String)>,
    /// Extra certificate authorities (each a PEM document with one or more
    /// `CERTIFICATE` blocks) trusted for the registry's and its token
    /// service's HTTPS certificates: the private CA of an air-gapped site.
    pub ca_certificates: Vec<Vec<u8>>,
    /// Also trust the public web's root CAs (Mozilla's list, built in);
    /// `true` by [`RegistryTarget::new`]. Set it to `false` to trust only
    /// [`ca_certificates`](RegistryTarget::ca_certificates).
    pub public_roots: bool,
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
            .field("ca_certificates", &self.ca_certificates.len())
            .field("public_roots", &self.public_roots)
            .finish()
    }
}

impl RegistryTarget {
    /// An anonymous HTTPS target trusting the public root CAs.
    pub fn new(registry: impl Into<String>) -> Self {
        RegistryTarget {
            registry: registry.into(),
            insecure: false,
            credentials: None,
            ca_certificates: Vec::new(),
            public_roots: true,
        }
    }

    /// This target with a user name and password.
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// This target also trusting the CA certificate(s) of a PEM file (for
    /// a registry whose certificate a private CA signed). Fails when the
    /// file cannot be read or holds no PEM certificate.
    pub fn with_ca_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(io_err("read the CA certificate file", path))?;
        if let Err(message) = pem_certificates(&pem) {
            return Err(self.config_error(
                &format!("CA certificate file `{}`", path.display()),
                message,
            ));
        }
        self.ca_certificates.push(pem);
        Ok(self)
    }

    /// This target with the credentials a containers auth file
    /// (`auth.json` of `podman login`/`skopeo login --authfile`) or a
    /// Docker `config.json` holds for it: the most specific `auths` entry
    /// matching `host[:port][/prefix]`, its `auth` field being base64
    /// `user:password`. Fails, naming the file, when it cannot be read,
    /// has no matching entry, or the entry cannot be used (credential
    /// helpers and identity tokens are not supported). Nothing but `path`
    /// is read.
    pub fn with_auth_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read(path).map_err(io_err("read the registry auth file", path))?;
        let c = auth_file::credentials_from_auth_json(&json, &self.registry).map_err(|p| {
            self.config_error(&format!("auth file `{}`", path.display()), p.to_string())
        })?;
        self.credentials = Some((c.user, c.password));
        Ok(self)
    }

    /// This target with credentials from the first default auth file that
    /// has an entry for it, looked up only when this is called:
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json` (or
    /// `~/.config/containers/auth.json`), then `$DOCKER_CONFIG/config.json`
    /// (or `~/.docker/config.json`). Missing files and files without an
    /// entry for the registry are passed over; when none has one, the
    /// target stays as it was (anonymous unless credentials were set).
    /// A file with a matching but unusable entry, or that is not an auth
    /// file, is an error naming it.
    pub fn with_default_auth_file(self) -> Result<Self> {
        for path in auth_file::default_auth_files(|name| std::env::var_os(name).map(PathBuf::from))
        {
            if !path.is_file() {
                continue;
            }
            let json =
                std::fs::read(&path).map_err(io_err("read the registry auth file", &path))?;
            match auth_file::credentials_from_auth_json(&json, &self.registry) {
                Ok(c) => return Ok(self.with_credentials(c.user, c.password)),
                Err(auth_file::AuthFileProblem::NoEntry { .. }) => continue,
                Err(p) => {
                    return Err(self
                        .config_error(&format!("auth file `{}`", path.display()), p.to_string()));
                }
            }
        }
        Ok(self)
    }

    fn config_error(&self, item: &str, message: String) -> MarketError {
        MarketError::Registry {
            registry: self.registry.clone(),
            item: item.to_owned(),
            message,
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

/// How to relocate. Serializes as `{parallelism, chunk_size, push_tags,
/// request_timeout_seconds}`; absent fields keep their defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelocateOptions {
    /// Blobs uploaded at once (at least 1).
    #[serde(with = "crate::options::at_least_one")]
    pub parallelism: usize,
    /// Blobs larger than this are uploaded in chunks of this size.
    pub chunk_size: u64,
    /// Also put each manifest by the tag of the image's name, if it has one.
    pub push_tags: bool,
    /// Timeout of one HTTP request.
    #[serde(rename = "request_timeout_seconds", with = "crate::options::seconds")]
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

/// What a relocation is doing when it reports. Serializes as its snake_case
/// name (`skipped`, `uploading`, `uploaded`, `mounted`, `manifest_pushed`,
/// `manifest_skipped`, `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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
/// Serializes with its field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

/// What a relocation did. Serializes with its field names; each image as
/// `{name, digest, relocated}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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
    #[serde(serialize_with = "crate::ser::relocated_images")]
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
        let client = Client::connect(target, options)?;
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

/// The TLS settings of a target: the public roots, its CA certificates, or
/// both.
fn tls_config(target: &RegistryTarget) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    if target.ca_certificates.is_empty() && target.public_roots {
        return Ok(TlsConfig::default());
    }
    let mut roots: Vec<Certificate<'static>> = Vec::new();
    for (i, pem) in target.ca_certificates.iter().enumerate() {
        let certs = pem_certificates(pem)
            .map_err(|message| target.config_error(&format!("ca_certificates[{i}]"), message))?;
        roots.extend(certs);
    }
    if target.public_roots {
        roots.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
    }
    if roots.is_empty() {
        return Err(target.config_error(
            "TLS trust",
            "no certificate authority is trusted (`public_roots` is off and `ca_certificates` is empty); add the registry's CA certificate".to_owned(),
        ));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::from(roots))
        .build())
}

/// The certificates of a PEM document; an error when it holds none or is
/// not PEM.
fn pem_certificates(
    pem: &[u8],
) -> std::result::Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("not a valid PEM document ({e})")),
        }
    }
    if certs.is_empty() {
        return Err(
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`); give the CA certificate in PEM form"
                .to_owned(),
        );
    }
    Ok(certs)
}

/// The `WWW-Authenticate` challenges of an answer.
fn challenges_of(response: &ureq::http::Response<ureq::Body>) -> Vec<auth::Challenge> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(auth::parse_challenges)
        .collect()
}

/// What a token service may answer at most.
const MAX_TOKEN_ANSWER: u64 = 1 << 20;

/// The scopes of pushing to a repository.
fn push_scopes(repository: &str) -> Vec<String> {
    vec![auth::repository_scope(repository, "pull,push")]
}

type Response = ureq::http::Response<ureq::Body>;

/// A small client of the distribution API.
struct Client<'t> {
    agent: ureq::Agent,
    target: &'t RegistryTarget,
    base: String,
    credentials: Option<Credentials>,
    /// How the registry authenticates, learnt from its challenges.
    scheme: Mutex<Scheme>,
    tokens: TokenCache,
    chunk_size: u64,
}

impl<'t> Client<'t> {
    /// A client of `target`, having asked the registry (`GET /v2/`) how
    /// it authenticates.
    fn connect(target: &'t RegistryTarget, options: &RelocateOptions) -> Result<Self> {
        // A plain-HTTP registry may still send clients to an HTTPS token
        // service, so its CA certificates apply too.
        let tls = if target.insecure && target.ca_certificates.is_empty() {
            ureq::tls::TlsConfig::default()
        } else {
            tls_config(target)?
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.request_timeout))
            .tls_config(tls)
            .build()
            .into();
        let client = Client {
            agent,
            target,
            base: target.base_url(),
            credentials: target
                .credentials
                .as_ref()
                .map(|(user, password)| Credentials {
                    user: user.clone(),
                    password: password.clone(),
                }),
            scheme: Mutex::new(Scheme::Unknown),
            tokens: TokenCache::new(),
            chunk_size: options.chunk_size.max(1),
        };
        let url = format!("{}/v2/", client.base);
        let response = client
            .agent
            .get(&url)
            .call()
            .map_err(|e| client.transport("GET /v2/", e))?;
        let scheme = match response.status().as_u16() {
            401 => Scheme::from_challenges(&challenges_of(&response))
                .map_or(Scheme::Unknown, |(s, _)| s),
            200..=299 => Scheme::Open,
            _ => Scheme::Unknown,
        };
        client.set_scheme(scheme);
        Ok(client)
    }

    fn scheme(&self) -> Scheme {
        match self.scheme.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_scheme(&self, scheme: Scheme) {
        match self.scheme.lock() {
            Ok(mut s) => *s = scheme,
            Err(poisoned) => *poisoned.into_inner() = scheme,
        }
    }

    fn error(&self, item: &str, message: impl Into<String>) -> MarketError {
        MarketError::Registry {
            registry: self.target.registry.clone(),
            item: item.to_owned(),
            message: message.into(),
        }
    }

    /// A failed request to the registry.
    fn transport(&self, item: &str, e: ureq::Error) -> MarketError {
        self.transport_to(item, self.target.host(), e)
    }

    /// A failed request to `server` (the registry or its token service),
    /// with what to do about it.
    fn transport_to(&self, item: &str, server: &str, e: ureq::Error) -> MarketError {
        use rustls::CertificateError as C;
        let tls = match &e {
            ureq::Error::Rustls(t) => Some(t),
            // rustls errors met while reading or writing come wrapped.
            ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
            _ => None,
        };
        let message = match tls {
            Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                    "the TLS certificate of {server} is not valid for that name ({e}); connect by a name or address the certificate lists"
                ),
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => format!(
                    "the TLS certificate of {server} is expired or not yet valid ({e}); renew it or check the clock"
                ),
                _ => format!(
                    "the TLS certificate of {server} is not trusted ({e}); pass the CA certificate that signed it (PEM) in `ca_certificates` (RegistryTarget::with_ca_file)"
                ),
            },
            Some(_) => format!(
                "the TLS handshake with {server} failed ({e}); check that it serves HTTPS, or for a plain-HTTP registry set `insecure`"
            ),
            None if matches!(e, ureq::Error::Tls(_)) => format!(
                "the TLS handshake with {server} failed ({e}); check that it serves HTTPS, or for a plain-HTTP registry set `insecure`"
            ),
            _ if self.target.insecure => {
                format!("{e}; check that {server} runs and is reachable")
            }
            _ => format!(
                "{e}; check that {server} runs and is reachable; for a plain-HTTP registry set `insecure`"
            ),
        };
        self.error(item, message)
    }

    fn status_error(&self, item: &str, action: &str, response: &mut Response) -> MarketError {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let hint = match (status.as_u16(), &self.credentials, self.scheme()) {
            (401, None, _) => {
                "; the registry asks for credentials: set `credentials` or read them from an auth file (RegistryTarget::with_auth_file)"
                    .to_owned()
            }
            (401 | 403, Some(c), Scheme::Bearer { realm, .. }) => format!(
                "; the token from {realm} for user `{}` does not allow this: check the credentials and that they may push to this repository",
                c.user
            ),
            (401 | 403, Some(c), _) => format!(
                "; check the credentials of user `{}` and that they may push to this repository",
                c.user
            ),
            (403, None, _) => {
                "; anonymous access may not push here: set `credentials`".to_owned()
            }
            (404, _, _) => "; check the registry address and prefix".to_owned(),
            _ => String::new(),
        };
        let body = body.trim();
        let sep = if body.is_empty() { "" } else { ": " };
        self.error(item, format!("{action} answered {status}{sep}{body}{hint}"))
    }

    /// The `Authorization` value for a request needing `scopes`: Basic,
    /// a bearer token (cached, unless it is the `rejected` one), or none.
    fn authorization(
        &self,
        item: &str,
        scopes: &[String],
        rejected: Option<&str>,
    ) -> Result<Option<String>> {
        Ok(match self.scheme() {
            Scheme::Open => None,
            Scheme::Unknown | Scheme::Basic => {
                self.credentials.as_ref().map(Credentials::basic_header)
            }
            Scheme::Bearer { realm, service } => {
                let token = self.tokens.get(scopes, rejected, || {
                    self.fetch_token(item, &realm, service.as_deref(), scopes)
                })?;
                Some(format!("Bearer {token}"))
            }
        })
    }

    /// Asks the token service for a token granting `scopes`.
    fn fetch_token(
        &self,
        item: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<TokenAnswer> {
        let server = realm.split('?').next().unwrap_or(realm);
        if self.credentials.is_some() && realm.starts_with("http://") && !self.target.insecure {
            return Err(self.error(
                item,
                format!(
                    "the registry sends clients to the plain-HTTP token service {server}; credentials are not sent there unencrypted: serve the token service over HTTPS (or set `insecure` on a trusted network)"
                ),
            ));
        }
        if !realm.starts_with("http://") && !realm.starts_with("https://") {
            return Err(self.error(
                item,
                format!("the registry's token realm `{server}` is not an http(s) URL; fix the registry's token auth settings"),
            ));
        }
        let url = auth::token_url(
            realm,
            service,
            scopes,
            self.credentials.as_ref().map(|c| c.user.as_str()),
        );
        let mut request = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", c.basic_header());
        }
        let mut response = request
            .call()
            .map_err(|e| self.transport_to(item, server, e))?;
        let status = response.status();
        if status.is_success() {
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_TOKEN_ANSWER)
                .read_to_vec()
                .map_err(|e| self.transport_to(item, server, e))?;
            return auth::parse_token_answer(&body).map_err(|m| {
                self.error(
                    item,
                    format!("the token service {server} answered {status} but {m}; check the registry's token realm"),
                )
            });
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let who = match &self.credentials {
            Some(c) => format!("the credentials of user `{}`", c.user),
            None => "anonymous access".to_owned(),
        };
        let hint = match (status.as_u16(), &self.credentials) {
            (401 | 403, Some(_)) => {
                "check the user name and password (or the auth file they came from)"
            }
            (401 | 403, None) => "set `credentials` or read them from an auth file",
            _ => "check the token service",
        };
        Err(self.error(
            item,
            format!(
                "the token service {server} refused {who} ({status}): {}; {hint}",
                body.trim()
            ),
        ))
    }

    /// Sends a request (`attempt`, given the `Authorization` value) with
    /// the authentication the registry wants; after a `401` naming a
    /// scheme it can meet (a new token, or Basic credentials it was not
    /// sent), sends it once more.
    fn send(
        &self,
        item: &str,
        scopes: &[String],
        mut attempt: impl FnMut(Option<&str>) -> Result<Response>,
    ) -> Result<Response> {
        let auth = self.authorization(item, scopes, None)?;
        let response = attempt(auth.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let Some((scheme, asked)) = Scheme::from_challenges(&challenges_of(&response)) else {
            return Ok(response);
        };
        let sent_basic = auth.as_deref().is_some_and(|a| a.starts_with("Basic "));
        if scheme == Scheme::Basic && (self.credentials.is_none() || sent_basic) {
            self.set_scheme(scheme);
            return Ok(response);
        }
        self.set_scheme(scheme);
        let mut scopes = scopes.to_vec();
        auth::merge_scopes(&mut scopes, asked);
        let rejected = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
        let auth = self.authorization(item, &scopes, rejected)?;
        attempt(auth.as_deref())
    }

    fn with_auth<B>(req: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
        match auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        }
    }

    /// Resolves a `Location` header against the registry's base URL.
    fn location(&self, item: &str, response: &Response) -> Result<String> {
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
        let mut response = self.send(&item, &push_scopes(repository), |auth| {
            Self::with_auth(self.agent.head(&url), auth)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(&item, "HEAD blob", &mut response)),
        }
    }

    /// Starts an upload, or mounts the blob from `mount_from` when the
    /// registry can (and the credentials may pull from there); returns
    /// the answer.
    fn start_upload(
        &self,
        job: &BlobJob,
        item: &str,
        mount_from: Option<&str>,
    ) -> Result<Response> {
        let mut scopes = push_scopes(&job.repository);
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
        let scopes = push_scopes(&job.repository);
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
        let mut response = self.send(&item, &push_scopes(repository), |auth| {
            Self::with_auth(self.agent.head(&url), auth)
                .header("Accept", media_type)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
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
        let mut response = self.send(&item, &push_scopes(repository), |auth| {
            Self::with_auth(self.agent.put(&url), auth)
                .header("Content-Type", &m.media_type)
                .send(&m.bytes[..])
                .map_err(|e| self.transport(&item, e))
        })?;
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

    #[test]
    fn tls_trust_is_checked_before_connecting() {
        let t = RegistryTarget::new("registry.example.com");
        assert!(tls_config(&t).is_ok());
        let none = RegistryTarget {
            public_roots: false,
            ..t.clone()
        };
        let err = tls_config(&none).unwrap_err().to_string();
        assert!(err.contains("no certificate authority"), "{err}");
        let not_pem = RegistryTarget {
            ca_certificates: vec![b"hello".to_vec()],
            ..t.clone()
        };
        let err = tls_config(&not_pem).unwrap_err().to_string();
        assert!(
            err.contains("ca_certificates[0]") && err.contains("no PEM certificate"),
            "{err}"
        );
        let debug = format!("{not_pem:?}");
        assert!(debug.contains("ca_certificates: 1"), "{debug}");
    }
}
