//! Pulling images from a registry into the market over the OCI
//! distribution API: the way in for images that run somewhere already
//! (a development cluster's registry) rather than sit in a file.
//!
//! A pull has three stages:
//! 1. **resolve** each image (a few at once): its manifest by digest, or
//!    its tag's digest by `HEAD` (a manifest the market has is read from
//!    the market, not fetched again), then every child manifest of an
//!    index, down to the configs and layers;
//! 2. **fetch** every blob the market lacks, each digest once whatever
//!    the number of images sharing it, a few at once. A blob is streamed
//!    into `staging/pull/<hex>`, hashed on the way, and moved into the
//!    store only when complete and matching its digest; an interrupted
//!    fetch leaves the partial file, and the next pull asks the registry
//!    for the rest only (`Range`);
//! 3. **commit**: manifests are stored, then the catalog (`index.json`) is
//!    replaced once, atomically, with the new image names.
//!
//! The exclusive market lock is held throughout, so this process is the
//! only writer; a pull killed at any point leaves the market as it was
//! (plus verified blobs nothing names yet, which a rerun uses and `gc`
//! frees), and a rerun fetches only what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_spec::image::Descriptor;
use sha2::{Digest as _, Sha256};
use template_core::package::format::{is_index_media_type, is_manifest_media_type};
use template_core::package::{descriptor, manifest_references, sha256_hex, sha256_of};

use crate::catalog::ImageRef;
use crate::error::{MarketError, Result, io_err};
use crate::market::{MAX_DOCUMENT_BYTES, Market, sniff_media_type};
use crate::registry::{Access, Client, RegistryTarget, run_parallel};
use crate::store::{COPY_BUFFER, sync_dir};

/// How to pull. Reads from data (JSON, Python dicts, JS objects) with
/// every field optional and unknown fields refused.
///
/// ```
/// let options: template_market::PullOptions =
///     serde_json::from_str(r#"{"platforms": ["linux/amd64"], "blob_parallelism": 8}"#)?;
/// assert_eq!(options.image_parallelism, 4);
/// assert!(serde_json::from_str::<template_market::PullOptions>(r#"{"platform": []}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct PullOptions {
    /// Images resolved at once (manifests fetched), at least 1.
    pub image_parallelism: usize,
    /// Blobs fetched at once, at least 1.
    pub blob_parallelism: usize,
    /// Keep only these platforms of a multi-platform image (an index):
    /// `os/architecture[/variant]` (`linux/arm64/v8`) or an architecture
    /// alone (`amd64`, any OS). Empty (the default) keeps the whole index.
    ///
    /// Filtering **changes what the market names**: when one platform of
    /// an index matches, the image is that platform's manifest (its
    /// digest, not the index's); when several match, the image is a new
    /// index listing only them, whose digest no registry has seen. The
    /// [`PullReport`] gives both digests of each image, so the template
    /// that uses it is pinned to the digest in the market. A single-
    /// platform image (a manifest, not an index) is kept as it is.
    pub platforms: Vec<String>,
    /// Timeout of one HTTP request, in seconds.
    pub request_timeout_seconds: u64,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            image_parallelism: 4,
            blob_parallelism: 4,
            platforms: Vec::new(),
            request_timeout_seconds: 600,
        }
    }
}

/// What a pull is doing when it reports. Serializes as its snake_case
/// name (`resolved`, `skipped`, `fetching`, `fetched`, `committed`, `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PullEvent {
    /// An image's manifests are known (the item is the image).
    Resolved,
    /// A blob is in the market already.
    Skipped,
    /// Bytes of a blob arrived.
    Fetching,
    /// A blob arrived whole and verified.
    Fetched,
    /// The catalog names the pulled images.
    Committed,
    /// The pull finished.
    Done,
}

/// One progress report of a pull. Totals count what must be fetched,
/// known once every image is resolved. Serializes with its field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PullProgress<'a> {
    /// What happened.
    pub event: PullEvent,
    /// Bytes fetched so far.
    pub bytes_done: u64,
    /// Bytes to fetch in all.
    pub bytes_total: u64,
    /// Blobs fetched so far.
    pub blobs_done: usize,
    /// Blobs to fetch in all.
    pub blobs_total: usize,
    /// The image concerned (as asked for), or the registry.
    pub image: &'a str,
    /// The blob or manifest digest concerned, or empty.
    pub blob: &'a str,
}

/// The progress callback of a pull: [`ControlFlow::Break`] stops it (it
/// then fails with [`MarketError::Cancelled`]; a rerun resumes).
pub type PullCallback<'a> = dyn FnMut(&PullProgress<'_>) -> ControlFlow<()> + Send + 'a;

/// One pulled image. Serializes with its field names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PulledImage {
    /// The reference as asked for.
    pub requested: String,
    /// The digest the registry serves for it.
    pub source_digest: String,
    /// The image as the market names it; its digest differs from
    /// `source_digest` only when a platform filter rewrote an index.
    pub image: ImageRef,
    /// The platforms kept, when a filter applied to an index.
    pub platforms: Vec<String>,
}

/// What a pull did. Serializes with its field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PullReport {
    /// Each image, in the order asked for.
    pub images: Vec<PulledImage>,
    /// Manifests fetched from the registry (the others were in the market).
    pub manifests_fetched: usize,
    /// Blobs (configs, layers) fetched.
    pub blobs_fetched: usize,
    /// Blobs the market had already.
    pub blobs_skipped: usize,
    /// Fetched blobs that continued a partial download of an earlier pull.
    pub blobs_resumed: usize,
    /// Bytes received for blobs.
    pub bytes_fetched: u64,
}

/// The media types a pull accepts for manifests.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// How often a fetch reports bytes.
const REPORT_EVERY: u64 = 1 << 20;

/// An image reference taken apart.
#[derive(Debug, Clone)]
struct Wanted {
    requested: String,
    /// The name the market gives it: the reference without its digest.
    name: String,
    repository: String,
    /// A digest or a tag.
    reference: String,
}

/// A manifest of an image: digest, media type, bytes, and whether it
/// came from the registry.
#[derive(Debug, Clone)]
struct Manifest {
    digest: String,
    media_type: String,
    bytes: Vec<u8>,
}

/// An image with all it needs.
#[derive(Debug, Clone)]
struct Resolved {
    source_digest: String,
    /// What the catalog names: digest and media type of the top manifest
    /// kept (after any filtering).
    top: Manifest,
    platforms: Vec<String>,
    /// Manifests to store, children first.
    manifests: Vec<Manifest>,
    /// Blobs: digest → size.
    blobs: BTreeMap<String, u64>,
    fetched_manifests: usize,
}

/// A blob to fetch, on behalf of the first image that needs it.
#[derive(Debug, Clone)]
struct BlobJob {
    digest: String,
    size: u64,
    repository: String,
    image: String,
}

#[derive(Debug, Default)]
struct Fetched {
    bytes: u64,
    resumed: bool,
}

struct Shared<'c, 'a> {
    callback: Mutex<(&'c mut PullCallback<'a>, Counters)>,
    cancelled: AtomicBool,
    /// Manifests fetched so far, by digest, each behind its own lock so
    /// that images resolved at once fetch a shared manifest only once.
    manifests: Mutex<BTreeMap<String, Arc<Mutex<Option<FetchedManifest>>>>>,
}

/// A manifest's bytes and the media type the registry served it as.
type FetchedManifest = (Vec<u8>, Option<String>);

#[derive(Default)]
struct Counters {
    bytes_done: u64,
    bytes_total: u64,
    blobs_done: usize,
    blobs_total: usize,
}

impl Shared<'_, '_> {
    fn report(&self, event: PullEvent, image: &str, blob: &str, bytes: u64, blob_done: bool) {
        let Ok(mut guard) = self.callback.lock() else {
            self.cancelled.store(true, Ordering::SeqCst);
            return;
        };
        let (callback, counters) = &mut *guard;
        counters.bytes_done += bytes;
        if blob_done {
            counters.blobs_done += 1;
        }
        let progress = PullProgress {
            event,
            bytes_done: counters.bytes_done,
            bytes_total: counters.bytes_total,
            blobs_done: counters.blobs_done,
            blobs_total: counters.blobs_total,
            image,
            blob,
        };
        if callback(&progress).is_break() {
            self.cancelled.store(true, Ordering::SeqCst);
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            return Err(MarketError::Cancelled {
                what: what.to_owned(),
            });
        }
        Ok(())
    }
}

/// A platform a filter asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlatformFilter {
    os: Option<String>,
    architecture: String,
    variant: Option<String>,
}

impl PlatformFilter {
    fn parse(text: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let bad =
            || format!("platform `{text}` is not `os/architecture[/variant]` or an architecture");
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [arch] => Ok(PlatformFilter {
                os: None,
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch] => Ok(PlatformFilter {
                os: Some((*os).to_owned()),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] => Ok(PlatformFilter {
                os: Some((*os).to_owned()),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(bad()),
        }
    }

    fn matches(&self, d: &Descriptor) -> bool {
        let Some(p) = d.platform() else { return false };
        p.architecture().to_string() == self.architecture
            && self.os.as_ref().is_none_or(|os| p.os().to_string() == *os)
            && self
                .variant
                .as_ref()
                .is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
    }
}

/// `os/architecture[/variant]` of an index entry, or `unknown`.
fn platform_name(d: &Descriptor) -> String {
    match d.platform() {
        Some(p) => {
            let mut s = format!("{}/{}", p.os(), p.architecture());
            if let Some(v) = p.variant() {
                s.push('/');
                s.push_str(v);
            }
            s
        }
        None => "unknown".to_owned(),
    }
}

impl Market {
    /// Pulls `images` (references such as `registry.example.com/shop/api:1.2`
    /// or `…/api@sha256:…`, all on the registry of `source`) into the
    /// market, with every child manifest and blob, and names them in the
    /// catalog by the reference without its digest. `source` gives access
    /// as for relocation: TLS trust (private CA), Basic or bearer-token
    /// credentials, `auth.json`.
    ///
    /// A multi-platform image keeps its whole index unless
    /// [`PullOptions::platforms`] filters it (which rewrites the digest the
    /// market names, see there). Blobs the market has are not fetched;
    /// a rerun after an interruption fetches only what is missing (and the
    /// rest of a partly fetched blob); a rerun after a complete pull
    /// fetches no blob and no manifest (tags are still asked about).
    /// Every error names the image and the blob or manifest concerned.
    ///
    /// ```no_run
    /// use template_market::{Market, PullOptions, RegistryTarget};
    /// let market = Market::open("/srv/market")?;
    /// let source = RegistryTarget::new("registry.dev.example.com:5000")
    ///     .with_ca_file("/etc/pki/dev-ca.pem")?
    ///     .with_default_auth_file()?;
    /// let options = PullOptions {
    ///     platforms: vec!["linux/amd64".to_owned()],
    ///     ..PullOptions::default()
    /// };
    /// let report = market.pull(
    ///     &["registry.dev.example.com:5000/shop/api:1.4.2".to_owned()],
    ///     &source,
    ///     &options,
    ///     &mut |_| std::ops::ControlFlow::Continue(()),
    /// )?;
    /// // Pin templates to the digest the market names.
    /// let pinned = report.images[0].image.reference();
    /// # let _ = pinned;
    /// # Ok::<(), template_market::MarketError>(())
    /// ```
    pub fn pull(
        &self,
        images: &[String],
        source: &RegistryTarget,
        options: &PullOptions,
        progress: &mut PullCallback<'_>,
    ) -> Result<PullReport> {
        let filters = options
            .platforms
            .iter()
            .map(|p| PlatformFilter::parse(p))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|message| source.config_error("options.platforms", message))?;
        let wanted = images
            .iter()
            .map(|i| wanted(source, i))
            .collect::<Result<Vec<_>>>()?;
        let _lock = self.lock(true)?;
        let client = Client::connect(
            source,
            Access::Pull,
            Duration::from_secs(options.request_timeout_seconds.max(1)),
            u64::MAX,
        )?;
        let shared = Shared {
            callback: Mutex::new((progress, Counters::default())),
            cancelled: AtomicBool::new(false),
            manifests: Mutex::new(BTreeMap::new()),
        };
        let what = format!("pull from {}", source.registry);

        // 1. Resolve every image.
        let resolved = run_parallel(
            options.image_parallelism,
            &wanted,
            &shared.cancelled,
            &what,
            |w| {
                let r = self.resolve(&client, w, &filters, &shared)?;
                shared.report(PullEvent::Resolved, &w.requested, &r.top.digest, 0, false);
                Ok(r)
            },
        )?;
        shared.check(&what)?;

        // 2. Fetch the blobs the market lacks, each once.
        let mut report = PullReport::default();
        let mut jobs: Vec<BlobJob> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (w, r) in wanted.iter().zip(&resolved) {
            report.manifests_fetched += r.fetched_manifests;
            for (digest, size) in &r.blobs {
                if !seen.insert(digest) {
                    continue;
                }
                if self.store().has(digest) {
                    report.blobs_skipped += 1;
                    shared.report(PullEvent::Skipped, &w.requested, digest, 0, false);
                } else {
                    jobs.push(BlobJob {
                        digest: digest.clone(),
                        size: *size,
                        repository: w.repository.clone(),
                        image: w.requested.clone(),
                    });
                }
            }
        }
        if let Ok(mut guard) = shared.callback.lock() {
            guard.1.bytes_total = jobs.iter().map(|j| j.size).sum();
            guard.1.blobs_total = jobs.len();
        }
        let staging = self.staging_dir().join("pull");
        fs::create_dir_all(&staging).map_err(io_err("create", &staging))?;
        let fetched = run_parallel(
            options.blob_parallelism,
            &jobs,
            &shared.cancelled,
            &what,
            |job| self.fetch_blob(&client, job, &staging, &shared),
        )?;
        shared.check(&what)?;
        for f in fetched {
            report.blobs_fetched += 1;
            report.bytes_fetched += f.bytes;
            report.blobs_resumed += usize::from(f.resumed);
        }

        // 3. Manifests, then the catalog, once.
        let mut catalog = self.catalog()?;
        for (w, r) in wanted.iter().zip(resolved) {
            for m in &r.manifests {
                self.store().put_bytes(&m.bytes)?;
            }
            let desc = descriptor(&r.top.media_type, &r.top.digest, r.top.bytes.len() as u64)?;
            catalog
                .images
                .insert((w.name.clone(), r.top.digest.clone()), desc);
            report.images.push(PulledImage {
                requested: w.requested.clone(),
                source_digest: r.source_digest,
                image: ImageRef {
                    name: w.name.clone(),
                    digest: r.top.digest,
                },
                platforms: r.platforms,
            });
        }
        shared.check(&what)?;
        catalog.save(&self.index_path())?;
        shared.report(PullEvent::Committed, &source.registry, "", 0, false);
        shared.report(PullEvent::Done, &source.registry, "", 0, false);
        Ok(report)
    }

    /// Pulls images that may live on several registries: each registry is
    /// reached with its entry among `accesses`
    /// ([`RegistryAccess::target_for`] of the image's host), and pulled
    /// from in turn, in the order the images first name them. The report
    /// lists the images in the order asked for and adds up the counts;
    /// the totals of the progress reports are those of the registry being
    /// pulled from. Stops at the first registry that fails; what earlier
    /// registries brought stays in the market and a rerun skips it.
    ///
    /// [`RegistryAccess::target_for`]: crate::options::RegistryAccess::target_for
    pub fn pull_images(
        &self,
        images: &[String],
        accesses: &[crate::options::RegistryAccess],
        options: &PullOptions,
        progress: &mut PullCallback<'_>,
    ) -> Result<PullReport> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for image in images {
            let host = oci_spec::distribution::Reference::from_str(image)
                .map_err(|e| MarketError::Registry {
                    registry: image.split('/').next().unwrap_or_default().to_owned(),
                    item: image.clone(),
                    message: format!("the image reference cannot be parsed ({e}); give `host[:port]/repository[:tag][@sha256:…]`"),
                })?
                .registry()
                .to_owned();
            match groups.iter_mut().find(|(h, _)| *h == host) {
                Some((_, list)) if list.contains(image) => {}
                Some((_, list)) => list.push(image.clone()),
                None => groups.push((host, vec![image.clone()])),
            }
        }
        let mut total = PullReport::default();
        for (host, list) in &groups {
            let target = crate::options::RegistryAccess::target_for(accesses, host)?;
            let report = self.pull(list, &target, options, progress)?;
            total.manifests_fetched += report.manifests_fetched;
            total.blobs_fetched += report.blobs_fetched;
            total.blobs_skipped += report.blobs_skipped;
            total.blobs_resumed += report.blobs_resumed;
            total.bytes_fetched += report.bytes_fetched;
            total.images.extend(report.images);
        }
        let mut ordered = Vec::with_capacity(images.len());
        for image in images {
            if let Some(p) = total.images.iter().find(|p| p.requested == *image)
                && !ordered.iter().any(|o: &PulledImage| o.requested == *image)
            {
                ordered.push(p.clone());
            }
        }
        total.images = ordered;
        Ok(total)
    }

    /// An image's manifests and blobs, filtered by platform.
    fn resolve(
        &self,
        client: &Client<'_>,
        w: &Wanted,
        filters: &[PlatformFilter],
        shared: &Shared<'_, '_>,
    ) -> Result<Resolved> {
        let mut fetched = 0usize;
        let digest = if w.reference.starts_with("sha256:") {
            w.reference.clone()
        } else {
            client
                .manifest_digest(&w.repository, &w.reference, ACCEPT)
                .map_err(|e| in_image(e, &w.requested))?
                .ok_or_else(|| {
                    client.error(
                        &w.requested,
                        format!(
                            "the registry has no manifest tagged `{}` in {}; check the image name and tag",
                            w.reference, w.repository
                        ),
                    )
                })?
        };
        let top = self.manifest(client, w, &digest, None, &mut fetched, shared)?;
        let mut out = Resolved {
            source_digest: digest.clone(),
            top: top.clone(),
            platforms: Vec::new(),
            manifests: Vec::new(),
            blobs: BTreeMap::new(),
            fetched_manifests: 0,
        };
        if is_index_media_type(&top.media_type) && !filters.is_empty() {
            let entries = references(w, &top)?;
            let kept: Vec<&Descriptor> = entries
                .iter()
                .filter(|d| filters.iter().any(|f| f.matches(d)))
                .collect();
            out.platforms = kept.iter().map(|d| platform_name(d)).collect();
            match kept.as_slice() {
                [] => {
                    let offered: Vec<String> = entries.iter().map(platform_name).collect();
                    return Err(client.error(
                        &w.requested,
                        format!(
                            "no platform of the image matches the filter {:?}; it offers {}: pull it without a filter or for one of these",
                            filters_text(filters),
                            offered.join(", ")
                        ),
                    ));
                }
                [one] => {
                    let child = self.manifest(
                        client,
                        w,
                        one.digest().as_ref(),
                        Some(one.media_type().as_ref()),
                        &mut fetched,
                        shared,
                    )?;
                    self.walk(client, w, &child, &mut out, &mut fetched, shared, 1)?;
                    out.top = child;
                }
                several => {
                    let rewritten = filtered_index(&top.bytes, several)
                        .map_err(|m| client.error(&manifest_item(w, &top.digest), m))?;
                    for d in several {
                        let child = self.manifest(
                            client,
                            w,
                            d.digest().as_ref(),
                            Some(d.media_type().as_ref()),
                            &mut fetched,
                            shared,
                        )?;
                        self.walk(client, w, &child, &mut out, &mut fetched, shared, 1)?;
                    }
                    let m = Manifest {
                        digest: sha256_of(&rewritten),
                        media_type: top.media_type.clone(),
                        bytes: rewritten,
                    };
                    out.manifests.push(m.clone());
                    out.top = m;
                }
            }
        } else {
            self.walk(client, w, &top, &mut out, &mut fetched, shared, 0)?;
        }
        out.fetched_manifests = fetched;
        Ok(out)
    }

    /// Adds a manifest's children (manifests, recursively, and blobs) to
    /// `out`, then the manifest itself.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        client: &Client<'_>,
        w: &Wanted,
        m: &Manifest,
        out: &mut Resolved,
        fetched: &mut usize,
        shared: &Shared<'_, '_>,
        depth: usize,
    ) -> Result<()> {
        if depth > 8 {
            return Err(client.error(
                &manifest_item(w, &m.digest),
                "manifests nest more than 8 deep; this is not an image",
            ));
        }
        shared.check("pull")?;
        for r in references(w, m)? {
            let d = r.digest().to_string();
            if is_manifest_media_type(r.media_type().as_ref()) {
                let child = self.manifest(
                    client,
                    w,
                    &d,
                    Some(r.media_type().as_ref()),
                    fetched,
                    shared,
                )?;
                self.walk(client, w, &child, out, fetched, shared, depth + 1)?;
            } else {
                if sha256_hex(&d).is_none() {
                    return Err(client.error(
                        &blob_item(w, &d),
                        "the manifest names a blob by a digest that is not sha256; the market stores sha256 blobs only",
                    ));
                }
                out.blobs.insert(d, r.size());
            }
        }
        out.manifests.push(m.clone());
        Ok(())
    }

    /// A manifest by digest: from the market when it has it, else from
    /// the registry (checked against the digest).
    #[allow(clippy::too_many_arguments)]
    fn manifest(
        &self,
        client: &Client<'_>,
        w: &Wanted,
        digest: &str,
        media_type: Option<&str>,
        fetched: &mut usize,
        shared: &Shared<'_, '_>,
    ) -> Result<Manifest> {
        let item = manifest_item(w, digest);
        if sha256_hex(digest).is_none() {
            return Err(client.error(
                &item,
                "not a sha256 digest; the market stores sha256 blobs only",
            ));
        }
        let (bytes, served_type) = if self.store().has(digest) {
            (self.store().read_small(digest, MAX_DOCUMENT_BYTES)?, None)
        } else {
            let slot = match shared.manifests.lock() {
                Ok(mut map) => map.entry(digest.to_owned()).or_default().clone(),
                Err(_) => Arc::default(),
            };
            let mut slot = match slot.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            match &*slot {
                Some(got) => got.clone(),
                None => {
                    *fetched += 1;
                    let (bytes, served) = client
                        .get_manifest(&w.repository, digest, ACCEPT, MAX_DOCUMENT_BYTES)
                        .map_err(|e| in_image(e, &w.requested))?;
                    let actual = sha256_of(&bytes);
                    if actual != digest {
                        return Err(client.error(
                            &item,
                            format!("the registry served a manifest hashing to {actual}; the registry's content is corrupt or was altered in transit"),
                        ));
                    }
                    *slot = Some((bytes.clone(), served.clone()));
                    (bytes, served)
                }
            }
        };
        let media_type = media_type
            .map(str::to_owned)
            .or(served_type.filter(|t| is_manifest_media_type(t)))
            .unwrap_or_else(|| sniff_media_type(&bytes));
        Ok(Manifest {
            digest: digest.to_owned(),
            media_type,
            bytes,
        })
    }

    /// Fetches one blob into the store through `staging/pull/<hex>`,
    /// continuing a partial file an earlier pull left.
    fn fetch_blob(
        &self,
        client: &Client<'_>,
        job: &BlobJob,
        staging: &Path,
        shared: &Shared<'_, '_>,
    ) -> Result<Fetched> {
        let item = format!("image {}, blob {}", job.image, job.digest);
        let hex = sha256_hex(&job.digest).unwrap_or_default();
        let partial = staging.join(hex);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)
            .map_err(io_err("open", &partial))?;
        // Hash what an earlier pull staged.
        let mut hasher = Sha256::new();
        let mut have = 0u64;
        {
            let mut reader = BufReader::with_capacity(COPY_BUFFER, &mut file);
            let mut buf = vec![0u8; COPY_BUFFER];
            loop {
                let n = reader.read(&mut buf).map_err(io_err("read", &partial))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                have += n as u64;
            }
        }
        if have == job.size {
            // An earlier pull staged the whole blob but stopped before
            // moving it into the store: a `Range` from its end would be
            // refused (416), and nothing is left to fetch.
            let staged = format!("sha256:{}", hex::encode(hasher.clone().finalize()));
            if staged == job.digest {
                file.sync_all().map_err(io_err("sync", &partial))?;
                drop(file);
                self.commit_staged(&partial, job, shared, 0)?;
                return Ok(Fetched {
                    bytes: 0,
                    resumed: true,
                });
            }
        }
        if have >= job.size {
            file.set_len(0).map_err(io_err("truncate", &partial))?;
            hasher = Sha256::new();
            have = 0;
        }
        let mut response = client.get_blob(&job.repository, &job.digest, have, &item)?;
        let status = response.status().as_u16();
        let resumed = match status {
            206 if have > 0 => true,
            200 => {
                if have > 0 {
                    file.set_len(0).map_err(io_err("truncate", &partial))?;
                    hasher = Sha256::new();
                    have = 0;
                }
                false
            }
            _ => return Err(client.status_error(&item, "GET blob", &mut response)),
        };
        file.seek(SeekFrom::Start(have))
            .map_err(io_err("seek", &partial))?;
        if resumed {
            shared.report(PullEvent::Fetching, &job.image, &job.digest, have, false);
        }
        let mut body = response
            .into_body()
            .into_with_config()
            .limit(job.size - have + 1)
            .reader();
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut got = 0u64;
        let mut pending = 0u64;
        loop {
            if shared.is_cancelled() {
                file.sync_all().map_err(io_err("sync", &partial))?;
                return Err(MarketError::Cancelled {
                    what: format!("fetch of {item}"),
                });
            }
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = file.sync_all();
                    return Err(client.error(
                        &item,
                        format!("the download broke off after {} bytes ({e}); pull again to fetch the rest", have + got),
                    ));
                }
            };
            if have + got + n as u64 > job.size {
                drop(file);
                let _ = fs::remove_file(&partial);
                return Err(client.error(
                    &item,
                    format!(
                        "the registry sent more than the {} bytes the manifest gives; its content does not match the manifest",
                        job.size
                    ),
                ));
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(io_err("write", &partial))?;
            got += n as u64;
            pending += n as u64;
            if pending >= REPORT_EVERY {
                shared.report(PullEvent::Fetching, &job.image, &job.digest, pending, false);
                pending = 0;
            }
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if have + got != job.size || actual != job.digest {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(client.error(
                &item,
                format!(
                    "the registry sent {} bytes hashing to {actual}; the manifest gives {} bytes with digest {}: pull again, and if it persists the registry's copy is corrupt",
                    have + got,
                    job.size,
                    job.digest
                ),
            ));
        }
        file.sync_all().map_err(io_err("sync", &partial))?;
        drop(file);
        self.commit_staged(&partial, job, shared, pending)?;
        Ok(Fetched {
            bytes: got,
            resumed,
        })
    }

    /// Moves a verified staged blob into the store and reports it.
    fn commit_staged(
        &self,
        partial: &Path,
        job: &BlobJob,
        shared: &Shared<'_, '_>,
        pending: u64,
    ) -> Result<()> {
        let dest = self.store().blob_path(&job.digest)?;
        let dir = self.store().blobs_dir();
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        fs::rename(partial, &dest).map_err(io_err("rename into", &dest))?;
        sync_dir(&dir)?;
        shared.report(PullEvent::Fetched, &job.image, &job.digest, pending, true);
        Ok(())
    }
}

/// The reference taken apart; it must be on the registry of `source`.
fn wanted(source: &RegistryTarget, requested: &str) -> Result<Wanted> {
    let bad = |message: String| MarketError::Registry {
        registry: source.registry.clone(),
        item: requested.to_owned(),
        message,
    };
    let reference = oci_spec::distribution::Reference::from_str(requested)
        .map_err(|e| bad(format!("the image reference cannot be parsed ({e}); give `host[:port]/repository[:tag][@sha256:…]`")))?;
    if reference.registry() != source.host() {
        return Err(bad(format!(
            "the image is on registry {}, not {}; pull it with access to its own registry",
            reference.registry(),
            source.host()
        )));
    }
    let repository = reference.repository().to_owned();
    if let Some(prefix) = source.prefix()
        && !repository.starts_with(&format!("{prefix}/"))
    {
        return Err(bad(format!(
            "the image's repository {repository} is not under {prefix}/ as the registry address says"
        )));
    }
    let bare = template_core::package::image_name(requested);
    let has_tag = bare
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    let (reference_part, name) = match reference.digest() {
        Some(d) => (d.to_owned(), bare.to_owned()),
        None => {
            let tag = reference.tag().unwrap_or("latest");
            let name = if has_tag {
                requested.to_owned()
            } else {
                format!("{requested}:{tag}")
            };
            (tag.to_owned(), name)
        }
    };
    Ok(Wanted {
        requested: requested.to_owned(),
        name,
        repository,
        reference: reference_part,
    })
}

fn filters_text(filters: &[PlatformFilter]) -> Vec<String> {
    filters
        .iter()
        .map(|f| {
            let mut s = f.os.clone().map(|o| format!("{o}/")).unwrap_or_default();
            s.push_str(&f.architecture);
            if let Some(v) = &f.variant {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

fn manifest_item(w: &Wanted, digest: &str) -> String {
    format!("image {}, manifest {digest}", w.requested)
}

fn blob_item(w: &Wanted, digest: &str) -> String {
    format!("image {}, blob {digest}", w.requested)
}

/// A registry error about an image's repository, renamed to the image.
fn in_image(e: MarketError, image: &str) -> MarketError {
    match e {
        MarketError::Registry {
            registry,
            item,
            message,
        } => MarketError::Registry {
            registry,
            item: format!("image {image} ({item})"),
            message,
        },
        e => e,
    }
}

fn references(w: &Wanted, m: &Manifest) -> Result<Vec<Descriptor>> {
    manifest_references(&m.media_type, &m.bytes).map_err(|message| MarketError::Registry {
        registry: String::new(),
        item: manifest_item(w, &m.digest),
        message: format!(
            "the manifest cannot be read ({message}); it is not an OCI or Docker image manifest"
        ),
    })
}

/// The index `bytes` with only the entries `kept` in its `manifests`.
fn filtered_index(bytes: &[u8], kept: &[&Descriptor]) -> std::result::Result<Vec<u8>, String> {
    let mut index: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the index cannot be read ({e})"))?;
    let keep: BTreeSet<String> = kept.iter().map(|d| d.digest().to_string()).collect();
    let Some(list) = index
        .get_mut("manifests")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return Err("the index has no `manifests` list".to_owned());
    };
    list.retain(|e| {
        e.get("digest")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|d| keep.contains(d))
    });
    serde_json::to_vec(&index).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_filters() {
        let f = PlatformFilter::parse("linux/arm64/v8").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.os.as_deref(), Some("linux"));
        assert_eq!(f.variant.as_deref(), Some("v8"));
        assert!(PlatformFilter::parse("amd64").is_ok());
        for bad in ["", "linux/", "a/b/c/d", "/amd64"] {
            assert!(PlatformFilter::parse(bad).is_err(), "{bad}");
        }
        let options: std::result::Result<PullOptions, _> =
            serde_json::from_str(r#"{"blob_paralelism": 2}"#);
        assert!(options.is_err());
    }

    #[test]
    fn references_are_on_the_source_registry() {
        let source = RegistryTarget::new("127.0.0.1:5000");
        let w = wanted(&source, "127.0.0.1:5000/shop/api:1.2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (w.repository.as_str(), w.reference.as_str()),
            ("shop/api", "1.2")
        );
        assert_eq!(w.name, "127.0.0.1:5000/shop/api:1.2");
        let digest = format!("sha256:{}", "a".repeat(64));
        let w = wanted(&source, &format!("127.0.0.1:5000/shop/api:1.2@{digest}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (w.name.as_str(), w.reference.as_str()),
            ("127.0.0.1:5000/shop/api:1.2", digest.as_str())
        );
        let w = wanted(&source, "127.0.0.1:5000/shop/api").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.name, "127.0.0.1:5000/shop/api:latest");
        let err = wanted(&source, "registry.example.com/shop/api:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not 127.0.0.1:5000"), "{err}");
    }
}
