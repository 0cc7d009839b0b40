//! # template-market
//!
//! The local market: application templates, their versions and the images
//! they use, kept on the filesystem as one OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`), and the offline packages that carry
//! them across an air gap.
//!
//! - add images from an OCI layout directory ([`Market::add_oci_layout`]) or
//!   a `docker save` tarball ([`Market::add_docker_archive`]);
//! - publish versions with the rules of [`template_core::check_publish`],
//!   list them, move them through their release states;
//! - export full or differential packages (against base versions, layer by
//!   layer, or against an [`Inventory`] of the destination market), signed
//!   with minisign, optionally split into parts;
//! - import packages atomically and idempotently, with the checks of
//!   [`template_core::package::PackageReader`];
//! - delete versions and collect garbage;
//! - relocate images to a registry over the OCI distribution API
//!   ([`Market::relocate_images`], [`Market::relocate_version`]).
//!
//! Every mutation takes an exclusive lock on `<market>/.lock`; exports and
//! reads take a shared one. Blobs are immutable files named by digest and
//! written via temporary file + `fsync` + rename; the catalog
//! (`index.json`) is replaced atomically and last, so a process killed at
//! any point leaves the market valid.
//!
//! With the `testkit` feature (tests, benches and examples only):
//!
//! ```
//! use template_market::{Market, testkit};
//! let dir = tempfile::tempdir()?;
//! let market = Market::open(dir.path().join("market"))?;
//! let (v1, _) = testkit::publish_pig(&market, "1.0.0")?;
//! assert_eq!(market.versions("pig")?[0].version, v1.version);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalog;
mod error;
mod export;
mod images;
mod import;
mod options;
mod parts;
mod progress;
mod relocate;
mod ser;
mod signing;
mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, OciLayoutBuilder};
use serde::Serialize;
use template_core::package::format::*;
use template_core::package::{
    Inventory, InventoryVersion, canonical_json, descriptor, image_digest, image_name,
    manifest_references, version_artifact, version_document, version_references,
};
use template_core::{Overwrite, PublishOutcome, ReleaseState, TemplateVersion};

use catalog::{Catalog, VersionRecord};
pub use error::{MarketError, Result};
pub use export::{ExportBase, ExportReport, ExportRequest};
pub use images::ImageRef;
pub use import::{
    ImportOptions, ImportReport, ImportedVersion, PackageCheck, Trust, check_package,
};
pub use options::{CompressionName, ExportOptions, RegistryAccess, at_least_one, seconds};
pub use parts::{PartWriter, PartsReader, part_paths};
pub use progress::{Phase, Progress, ProgressCallback};
pub use relocate::{
    RegistryTarget, RelocateCallback, RelocateEvent, RelocateOptions, RelocateProgress,
    RelocateReport,
};
pub use signing::{KeyPair, KeyPairText, PublicKey, SecretKey, generate_key_pair};
use store::{Store, write_atomic};
pub use template_core::package::{Compression, ReaderLimits};

use crate::error::io_err;

/// Largest JSON document (version, manifest) the market reads from its own
/// store.
const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// A local market rooted at a directory.
#[derive(Debug, Clone)]
pub struct Market {
    root: PathBuf,
    store: Store,
}

/// A template and its versions. Serializes with its field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSummary {
    /// Template id.
    pub id: String,
    /// Display name (from the newest version).
    pub name: String,
    /// Versions, oldest first.
    pub versions: Vec<VersionSummary>,
}

/// A version as listed. Serializes with its field names, the state as
/// documents name it (`draft`, `testing`, `released`, `deprecated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    /// Template id.
    pub template: String,
    /// Version number.
    pub version: String,
    /// Release state.
    pub state: ReleaseState,
    /// Content digest of the document.
    pub content_digest: String,
}

/// What [`Market::gc`] removed. Serializes with its field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Blobs removed.
    pub blobs_removed: usize,
    /// Bytes freed.
    pub bytes_freed: u64,
}

/// What [`Market::verify`] found. Serializes with its field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Blobs hashed.
    pub blobs_checked: usize,
    /// Every problem found, in words; empty when the market is sound.
    pub problems: Vec<String>,
}

/// A held lock on the market; released when dropped.
#[derive(Debug)]
pub(crate) struct MarketLock {
    _file: File,
}

impl Market {
    /// Opens the market at `root`, creating an empty one when the directory
    /// does not exist or is empty, and removing leftovers of interrupted
    /// writes (temporary files; staged imports are kept for a retry).
    pub fn open(root: impl AsRef<Path>) -> Result<Market> {
        let root = root.as_ref().to_owned();
        fs::create_dir_all(&root).map_err(io_err("create", &root))?;
        let market = Market {
            store: Store::new(&root),
            root,
        };
        let _lock = market.lock(true)?;
        let layout_path = market.root.join(OCI_LAYOUT_ENTRY);
        if !layout_path.exists() {
            let layout = OciLayoutBuilder::default()
                .image_layout_version(OCI_LAYOUT_VERSION)
                .build()
                .map_err(|e| MarketError::Corrupt {
                    path: layout_path.clone(),
                    message: e.to_string(),
                })?;
            fs::create_dir_all(market.store.blobs_dir())
                .map_err(io_err("create", market.store.blobs_dir()))?;
            market.store.put_bytes(EMPTY_BLOB)?;
            Catalog::default().save(&market.index_path())?;
            write_atomic(&layout_path, &canonical_json(&layout)?)?;
        }
        if !market.index_path().exists() {
            return Err(MarketError::Corrupt {
                path: market.index_path(),
                message: "index.json is missing".to_owned(),
            });
        }
        market.store.put_bytes(EMPTY_BLOB)?;
        let tmp = market.store.tmp_dir();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err("clean", &tmp))?;
        }
        for entry in fs::read_dir(&market.root)
            .map_err(io_err("list", &market.root))?
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(market)
    }

    /// The market's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn index_path(&self) -> PathBuf {
        self.root.join(INDEX_ENTRY)
    }

    pub(crate) fn staging_dir(&self) -> PathBuf {
        self.root.join("staging")
    }

    pub(crate) fn lock(&self, exclusive: bool) -> Result<MarketLock> {
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        if exclusive {
            file.lock().map_err(io_err("lock", &path))?;
        } else {
            file.lock_shared().map_err(io_err("lock", &path))?;
        }
        Ok(MarketLock { _file: file })
    }

    pub(crate) fn catalog(&self) -> Result<Catalog> {
        Catalog::load(&self.index_path())
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    fn not_found(&self, what: String) -> MarketError {
        MarketError::NotFound {
            what,
            market: self.root.clone(),
        }
    }

    /// Stores a blob (e.g. a logo) and returns its digest.
    pub fn add_blob(&self, bytes: &[u8]) -> Result<String> {
        let _lock = self.lock(true)?;
        self.store.put_bytes(bytes)
    }

    /// Publishes a version with the rules of [`template_core::check_publish`]
    /// (valid, draft or testing, an existing number only with identical
    /// content or with overwrite of unreleased content). Every image and the
    /// logo must already be in the market.
    pub fn publish(
        &self,
        version: &TemplateVersion,
        overwrite: Overwrite,
    ) -> Result<PublishOutcome> {
        let _lock = self.lock(true)?;
        let mut catalog = self.catalog()?;
        let key = (version.template.id.clone(), version.version.clone());
        let existing = match catalog.versions.get(&key) {
            Some(record) => Some(self.load_version(record)?),
            None => None,
        };
        let outcome = template_core::check_publish(existing.as_ref(), version, overwrite)?;
        if let PublishOutcome::Unchanged { .. } = outcome {
            return Ok(outcome);
        }
        let mut images = Vec::new();
        for (path, digest) in version_references(version) {
            let missing = || MarketError::MissingContent {
                template: version.template.id.clone(),
                version: version.version.clone(),
                path: path.clone(),
                digest: digest.clone(),
            };
            if !self.store.has(&digest) {
                return Err(missing());
            }
            if path.ends_with(".image") {
                let mut closure = BTreeMap::new();
                self.image_closure(&catalog, &digest, &mut closure)
                    .map_err(|_| missing())?;
                if let Some(d) = closure.get(&digest) {
                    images.push((path, d.clone()));
                }
            }
        }
        let record = self.write_version(version)?;
        let used = version
            .components
            .iter()
            .map(|c| &c.image)
            .chain(version.plugins.iter().map(|p| &p.image));
        for reference in used {
            let Some(d) = image_digest(reference) else {
                continue;
            };
            if let Some((_, desc)) = images.iter().find(|(_, x)| x.digest().as_ref() == d) {
                catalog.images.insert(
                    (image_name(reference).to_owned(), d.to_owned()),
                    desc.clone(),
                );
            }
        }
        catalog.versions.insert(key, record);
        catalog.save(&self.index_path())?;
        Ok(outcome)
    }

    /// Writes a version's document and artifact blobs; returns its record.
    fn write_version(&self, version: &TemplateVersion) -> Result<VersionRecord> {
        let (doc_bytes, doc_desc) = version_document(version)?;
        let logo = match &version.template.logo {
            Some(digest) => {
                let size = self
                    .store
                    .size(digest)
                    .ok_or_else(|| MarketError::MissingContent {
                        template: version.template.id.clone(),
                        version: version.version.clone(),
                        path: "template.logo".to_owned(),
                        digest: digest.clone(),
                    })?;
                Some(descriptor(LOGO_MEDIA_TYPE, digest, size)?)
            }
            None => None,
        };
        let (art_bytes, art_desc) = version_artifact(&doc_desc, logo.as_ref())?;
        self.store.put_bytes(&doc_bytes)?;
        self.store.put_bytes(&art_bytes)?;
        Ok(VersionRecord {
            artifact: art_desc,
            content_digest: template_core::content_digest(version)?,
            state: version.release_state,
        })
    }

    pub(crate) fn load_version(&self, record: &VersionRecord) -> Result<TemplateVersion> {
        let art = self
            .store
            .read_small(record.artifact.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
        let refs = manifest_references(OCI_MANIFEST_MEDIA_TYPE, &art).map_err(|message| {
            MarketError::Corrupt {
                path: self
                    .store
                    .blob_path(record.artifact.digest().as_ref())
                    .unwrap_or_default(),
                message,
            }
        })?;
        let doc = refs
            .iter()
            .find(|d| d.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE)
            .ok_or_else(|| MarketError::Corrupt {
                path: self.index_path(),
                message: format!(
                    "version artifact {} has no document",
                    record.artifact.digest()
                ),
            })?;
        let bytes = self
            .store
            .read_small(doc.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
        let options = template_core::LoadOptions {
            max_bytes: usize::try_from(MAX_DOCUMENT_BYTES).unwrap_or(usize::MAX),
        };
        Ok(template_core::load(
            &bytes,
            template_core::Format::Json,
            options,
        )?)
    }

    /// The version document of `template` `version`.
    pub fn version(&self, template: &str, version: &str) -> Result<TemplateVersion> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let record = catalog
            .versions
            .get(&(template.to_owned(), version.to_owned()))
            .ok_or_else(|| self.not_found(format!("template {template} version {version}")))?;
        self.load_version(record)
    }

    /// The versions of a template, oldest first.
    pub fn versions(&self, template: &str) -> Result<Vec<VersionSummary>> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let mut out: Vec<VersionSummary> = catalog
            .versions
            .iter()
            .filter(|((t, _), _)| t == template)
            .map(|((t, v), r)| VersionSummary {
                template: t.clone(),
                version: v.clone(),
                state: r.state,
                content_digest: r.content_digest.clone(),
            })
            .collect();
        sort_summaries(&mut out);
        Ok(out)
    }

    /// Every template with its versions.
    pub fn templates(&self) -> Result<Vec<TemplateSummary>> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let mut by_template: BTreeMap<String, Vec<VersionSummary>> = BTreeMap::new();
        for ((t, v), r) in &catalog.versions {
            by_template
                .entry(t.clone())
                .or_default()
                .push(VersionSummary {
                    template: t.clone(),
                    version: v.clone(),
                    state: r.state,
                    content_digest: r.content_digest.clone(),
                });
        }
        let mut out = Vec::new();
        for (id, mut versions) in by_template {
            sort_summaries(&mut versions);
            let name = match versions.last() {
                Some(last) => catalog
                    .versions
                    .get(&(id.clone(), last.version.clone()))
                    .map(|r| self.load_version(r))
                    .transpose()?
                    .map(|v| v.template.name)
                    .unwrap_or_else(|| id.clone()),
                None => id.clone(),
            };
            out.push(TemplateSummary { id, name, versions });
        }
        Ok(out)
    }

    /// Every image the market names, sorted by name.
    pub fn images(&self) -> Result<Vec<ImageRef>> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        Ok(catalog
            .images
            .keys()
            .map(|(name, digest)| ImageRef {
                name: name.clone(),
                digest: digest.clone(),
            })
            .collect())
    }

    /// Moves a version to another release state, checking the life cycle
    /// ([`template_core::set_release_state`]).
    pub fn set_release_state(
        &self,
        template: &str,
        version: &str,
        state: ReleaseState,
    ) -> Result<()> {
        let _lock = self.lock(true)?;
        let mut catalog = self.catalog()?;
        let key = (template.to_owned(), version.to_owned());
        let record = catalog
            .versions
            .get(&key)
            .ok_or_else(|| self.not_found(format!("template {template} version {version}")))?;
        let mut doc = self.load_version(record)?;
        template_core::set_release_state(&mut doc, state)?;
        let record = self.write_version(&doc)?;
        catalog.versions.insert(key, record);
        catalog.save(&self.index_path())
    }

    /// Every blob (with descriptor) a version needs: its artifact, document,
    /// logo and the full closure of its images.
    pub(crate) fn version_closure(
        &self,
        catalog: &Catalog,
        record: &VersionRecord,
        out: &mut BTreeMap<String, Descriptor>,
    ) -> Result<TemplateVersion> {
        out.insert(
            record.artifact.digest().to_string(),
            record.artifact.clone(),
        );
        let art = self
            .store
            .read_small(record.artifact.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
        let refs = manifest_references(OCI_MANIFEST_MEDIA_TYPE, &art).map_err(|message| {
            MarketError::Corrupt {
                path: self.index_path(),
                message,
            }
        })?;
        for r in refs {
            out.insert(r.digest().to_string(), r);
        }
        let version = self.load_version(record)?;
        for (path, digest) in version_references(&version) {
            if path.ends_with(".image") {
                self.image_closure(catalog, &digest, out)?;
            }
        }
        Ok(version)
    }

    /// The manifest with this digest and everything it references.
    pub(crate) fn image_closure(
        &self,
        catalog: &Catalog,
        digest: &str,
        out: &mut BTreeMap<String, Descriptor>,
    ) -> Result<()> {
        let bytes = self.store.read_small(digest, MAX_DOCUMENT_BYTES)?;
        let media_type = match catalog.image_by_digest(digest) {
            Some(d) => d.media_type().to_string(),
            None => sniff_media_type(&bytes),
        };
        out.insert(
            digest.to_owned(),
            descriptor(&media_type, digest, bytes.len() as u64)?,
        );
        let refs =
            manifest_references(&media_type, &bytes).map_err(|message| MarketError::Corrupt {
                path: self.store.blob_path(digest).unwrap_or_default(),
                message,
            })?;
        for r in refs {
            let d = r.digest().to_string();
            if is_manifest_media_type(r.media_type().as_ref()) {
                self.image_closure(catalog, &d, out)?;
            } else {
                if !self.store.has(&d) {
                    return Err(self.not_found(format!("blob {d} of image {digest}")));
                }
                out.insert(d, r);
            }
        }
        Ok(())
    }

    /// What the market holds, to carry to whoever prepares packages for it.
    pub fn inventory(&self) -> Result<Inventory> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let blobs = self.store.list()?.into_iter().map(|(d, _)| d);
        let versions = catalog.versions.iter().map(|((t, v), r)| InventoryVersion {
            template: t.clone(),
            version: v.clone(),
            content_digest: r.content_digest.clone(),
        });
        Ok(Inventory::new(blobs, versions))
    }

    /// Removes a version from the catalog, with the image names only it
    /// used. Released and deprecated versions need `force`. Blobs are freed
    /// by [`Market::gc`].
    pub fn delete_version(&self, template: &str, version: &str, force: bool) -> Result<()> {
        let _lock = self.lock(true)?;
        let mut catalog = self.catalog()?;
        let key = (template.to_owned(), version.to_owned());
        let record = catalog
            .versions
            .get(&key)
            .cloned()
            .ok_or_else(|| self.not_found(format!("template {template} version {version}")))?;
        if record.state.is_frozen() && !force {
            return Err(MarketError::DeleteReleased {
                template: template.to_owned(),
                version: version.to_owned(),
                state: record.state,
            });
        }
        let doc = self.load_version(&record)?;
        catalog.versions.remove(&key);
        let mut still_used: BTreeSet<String> = BTreeSet::new();
        for r in catalog.versions.values() {
            for (_, d) in version_references(&self.load_version(r)?) {
                still_used.insert(d);
            }
        }
        for (_, digest) in version_references(&doc) {
            if !still_used.contains(&digest) {
                catalog.images.retain(|(_, d), _| *d != digest);
            }
        }
        catalog.save(&self.index_path())
    }

    /// Deletes every blob nothing in the catalog references, and staged
    /// imports that were never completed.
    pub fn gc(&self) -> Result<GcReport> {
        let _lock = self.lock(true)?;
        let catalog = self.catalog()?;
        let live = self.live_blobs(&catalog)?;
        let mut report = GcReport::default();
        for (digest, size) in self.store.list()? {
            if !live.contains(&digest) {
                self.store.remove(&digest)?;
                report.blobs_removed += 1;
                report.bytes_freed += size;
            }
        }
        let staging = self.staging_dir();
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        }
        Ok(report)
    }

    fn live_blobs(&self, catalog: &Catalog) -> Result<BTreeSet<String>> {
        let mut closure = BTreeMap::new();
        for record in catalog.versions.values() {
            self.version_closure(catalog, record, &mut closure)?;
        }
        for (_, digest) in catalog.images.keys() {
            self.image_closure(catalog, digest, &mut closure)?;
        }
        let mut live: BTreeSet<String> = closure.into_keys().collect();
        live.insert(EMPTY_DIGEST.to_owned());
        Ok(live)
    }

    /// Checks the whole market: every blob hashes to its name, and every
    /// version and image has all its blobs.
    pub fn verify(&self) -> Result<VerifyReport> {
        let _lock = self.lock(false)?;
        let mut report = VerifyReport::default();
        let catalog = match self.catalog() {
            Ok(c) => c,
            Err(e) => {
                report.problems.push(e.to_string());
                return Ok(report);
            }
        };
        for (digest, _) in self.store.list()? {
            report.blobs_checked += 1;
            match self.store.check(&digest) {
                Ok(true) => {}
                Ok(false) => report
                    .problems
                    .push(format!("blob {digest} does not hash to its name")),
                Err(e) => report.problems.push(e.to_string()),
            }
        }
        for ((t, v), record) in &catalog.versions {
            let mut closure = BTreeMap::new();
            if let Err(e) = self.version_closure(&catalog, record, &mut closure) {
                report
                    .problems
                    .push(format!("template {t} version {v}: {e}"));
                continue;
            }
            for d in closure.keys() {
                if !self.store.has(d) {
                    report
                        .problems
                        .push(format!("template {t} version {v}: blob {d} is missing"));
                }
            }
        }
        Ok(report)
    }
}

fn sort_summaries(v: &mut [VersionSummary]) {
    v.sort_by(|a, b| {
        match (
            semver::Version::parse(&a.version),
            semver::Version::parse(&b.version),
        ) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.version.cmp(&b.version),
        }
    });
}

/// The media type a manifest declares in its own `mediaType` field, or the
/// OCI manifest type.
pub(crate) fn sniff_media_type(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(m),
            ..
        }) => m,
        Ok(Probe {
            manifests: Some(_), ..
        }) => OCI_INDEX_MEDIA_TYPE.to_owned(),
        _ => OCI_MANIFEST_MEDIA_TYPE.to_owned(),
    }
}
