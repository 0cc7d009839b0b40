//! The [`Market`] type: a market on the filesystem, its catalogue of
//! templates and versions, its lock, and the operations on its store that
//! are not an import, an export, a pull or a relocation.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::image::{Descriptor, OciLayoutBuilder};
use serde::{Deserialize, Serialize};
use template_core::package::format::*;
use template_core::package::{
    Inventory, InventoryVersion, canonical_json, descriptor, image_digest, image_name,
    manifest_references, version_artifact, version_document, version_references,
};
use template_core::{Overwrite, PublishOutcome, ReleaseState, TemplateVersion, ValidatedVersion};

use crate::catalog::ImageRef;
use crate::catalog::{Catalog, VersionRecord};
use crate::error::{MarketError, Result, io_err};
use crate::progress::{Phase, Progress, ProgressCallback};
use crate::store::{Store, write_atomic};

/// Largest JSON document (version, manifest) the market reads from its own
/// store.
pub(crate) const MAX_DOCUMENT_BYTES: u64 = 16 << 20;

/// A local market rooted at a directory.
#[derive(Debug, Clone)]
pub struct Market {
    root: PathBuf,
    store: Store,
    lock_timeout: Option<Duration>,
}

/// How a market is opened. Serializes as `{lock_timeout_seconds}`
/// (absent: wait as long as it takes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MarketOptions {
    /// How long an operation waits for the market's lock while another
    /// process holds it; `None` waits as long as it takes. On timeout the
    /// operation fails with [`MarketError::LockTimeout`], naming the
    /// holder when known. Exports and imports report the wait through
    /// their progress callback ([`Phase::Wait`]).
    #[serde(
        rename = "lock_timeout_seconds",
        with = "template_core::option_fields::optional_seconds",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<f64>")]
    pub lock_timeout: Option<Duration>,
}

impl MarketOptions {
    /// Options with this lock timeout.
    pub fn with_lock_timeout(timeout: Duration) -> Self {
        MarketOptions {
            lock_timeout: Some(timeout),
        }
    }
}

/// A template and its versions. Serializes with its field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VersionSummary {
    /// Template id.
    pub template: String,
    /// Version number.
    pub version: String,
    /// The vendor's release state: for an imported version the one signed
    /// in the package that carried it (a newer package moves it on), for a
    /// version published here this market's own. `released_only`
    /// environments check this state.
    pub state: ReleaseState,
    /// For an imported version, a release state decided at this site
    /// ([`Market::set_release_state`]), recorded apart from the vendor's.
    pub site_state: Option<ReleaseState>,
    /// For an imported version, the manifest digest of the package whose
    /// signed release state `state` is.
    pub vendor_package: Option<String>,
    /// Content digest of the document.
    pub content_digest: String,
}

/// What [`Market::gc`] removed. Serializes with its field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct GcReport {
    /// Blobs removed.
    pub blobs_removed: usize,
    /// Bytes freed, staging included.
    pub bytes_freed: u64,
    /// Files of interrupted imports removed from `staging/`.
    pub staged_files_removed: usize,
    /// Their size (part of `bytes_freed`).
    pub staged_bytes_freed: u64,
}

/// What [`Market::verify`] found. Serializes with its field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    /// Blobs hashed.
    pub blobs_checked: usize,
    /// Files of interrupted imports in `staging/` (kept for a retry of the
    /// same package; `gc` removes them).
    pub staged_files: usize,
    /// Their size.
    pub staged_bytes: u64,
    /// Every problem found, in words; empty when the market is sound.
    pub problems: Vec<String>,
}

/// A held lock on the market; released when dropped.
#[derive(Debug)]
pub(crate) struct MarketLock {
    file: File,
    exclusive: bool,
}

impl Drop for MarketLock {
    fn drop(&mut self) {
        if self.exclusive {
            // Forget the holder before the lock goes (closing the file
            // releases it).
            let _ = self.file.set_len(0);
        }
    }
}

impl Market {
    /// Opens the market at `root`, creating an empty one when the directory
    /// does not exist or is empty, and removing leftovers of interrupted
    /// writes (temporary files; staged imports are kept for a retry).
    pub fn open(root: impl AsRef<Path>) -> Result<Market> {
        Market::open_with(root, &MarketOptions::default())
    }

    /// [`Market::open`] with options (e.g. a lock timeout).
    pub fn open_with(root: impl AsRef<Path>, options: &MarketOptions) -> Result<Market> {
        let root = root.as_ref().to_owned();
        fs::create_dir_all(&root).map_err(io_err("create", &root))?;
        let market = Market {
            store: Store::new(&root),
            root,
            lock_timeout: options.lock_timeout,
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

    /// The same market with another lock timeout (see
    /// [`MarketOptions::lock_timeout`]).
    pub fn with_lock_timeout(mut self, timeout: Option<Duration>) -> Market {
        self.lock_timeout = timeout;
        self
    }

    pub(crate) fn lock(&self, exclusive: bool) -> Result<MarketLock> {
        self.lock_reporting(exclusive, &mut |_| std::ops::ControlFlow::Continue(()))
    }

    /// Takes the market's lock. While another process holds it, reports
    /// the wait through `progress` ([`Phase::Wait`], the holder as the
    /// item) and gives up after the lock timeout.
    pub(crate) fn lock_reporting(
        &self,
        exclusive: bool,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<MarketLock> {
        use std::fs::TryLockError;
        let path = self.root.join(".lock");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(10);
        loop {
            let attempt = if exclusive {
                file.try_lock()
            } else {
                file.try_lock_shared()
            };
            match attempt {
                Ok(()) => break,
                Err(TryLockError::Error(e)) => return Err(io_err("lock", &path)(e)),
                Err(TryLockError::WouldBlock) => {}
            }
            let waited = started.elapsed();
            let holder = lock_holder(&path);
            let timeout_ms = self
                .lock_timeout
                .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
            let flow = progress(&Progress {
                phase: Phase::Wait,
                bytes_done: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                bytes_total: timeout_ms,
                items_done: 0,
                items_total: 0,
                item: &holder,
            });
            if flow.is_break() {
                return Err(MarketError::Cancelled {
                    what: format!(
                        "waiting for the lock of the market at {}",
                        self.root.display()
                    ),
                });
            }
            if let Some(timeout) = self.lock_timeout {
                if waited >= timeout {
                    return Err(MarketError::LockTimeout {
                        market: self.root.clone(),
                        holder,
                        waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    });
                }
                delay = delay.min(timeout - waited);
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(500));
        }
        if exclusive {
            use std::io::{Seek, Write};
            let note = format!("process {}", std::process::id());
            let _ = file
                .set_len(0)
                .and_then(|()| file.seek(std::io::SeekFrom::Start(0)))
                .and_then(|_| file.write_all(note.as_bytes()));
        }
        Ok(MarketLock { file, exclusive })
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
        self.store_version(&mut catalog, version)?;
        Ok(outcome)
    }

    /// Records a version fetched from a registry market with the release
    /// state it has there: identical content is a no-op, a version that
    /// differs only in its release state moves to the fetched state, any
    /// other difference is refused as [`template_core::Error::VersionExists`].
    pub(crate) fn record_fetched(&self, version: &TemplateVersion) -> Result<PublishOutcome> {
        let _lock = self.lock(true)?;
        let mut catalog = self.catalog()?;
        let key = (version.template.id.clone(), version.version.clone());
        let existing = match catalog.versions.get(&key) {
            Some(record) => Some(self.load_version(record)?),
            None => None,
        };
        let digest = template_core::content_digest(version)?;
        let outcome = match existing {
            None => PublishOutcome::Created { digest },
            Some(existing) => {
                let previous = template_core::content_digest(&existing)?;
                if previous == digest {
                    return Ok(PublishOutcome::Unchanged { digest });
                }
                let mut same_state = existing.clone();
                same_state.release_state = version.release_state;
                if template_core::content_digest(&same_state)? != digest {
                    return Err(template_core::Error::VersionExists {
                        template: key.0,
                        version: key.1,
                        existing: previous,
                        candidate: digest,
                    }
                    .into());
                }
                PublishOutcome::Replaced { previous, digest }
            }
        };
        self.store_version(&mut catalog, version)?;
        Ok(outcome)
    }

    /// Writes a checked version and its catalog entries (the images it
    /// names must be in the store), replacing the catalog last.
    fn store_version(&self, catalog: &mut Catalog, version: &TemplateVersion) -> Result<()> {
        let key = (version.template.id.clone(), version.version.clone());
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
                self.image_closure(catalog, &digest, &mut closure)
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
        catalog.save(&self.index_path())
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
            vendor_package: None,
            site_state: None,
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

    /// The version document of `template` `version` as stored, not
    /// validated: for showing and comparing it, and as the `from` of an
    /// upgrade, which need not pass the rules of this release.
    pub fn document(&self, template: &str, version: &str) -> Result<TemplateVersion> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let record = catalog
            .versions
            .get(&(template.to_owned(), version.to_owned()))
            .ok_or_else(|| self.not_found(format!("template {template} version {version}")))?;
        self.load_version(record)
    }

    /// The version document of `template` `version`, validated once here
    /// so that the plans made from it need not validate it again. A
    /// document this market holds but that no longer passes validation
    /// (stored by an earlier release with looser rules) is refused with
    /// [`template_core::Error::Validation`], listing every problem.
    pub fn version(&self, template: &str, version: &str) -> Result<ValidatedVersion> {
        Ok(ValidatedVersion::new(self.document(template, version)?)?)
    }

    /// The versions of a template, oldest first.
    pub fn versions(&self, template: &str) -> Result<Vec<VersionSummary>> {
        let _lock = self.lock(false)?;
        let catalog = self.catalog()?;
        let mut out: Vec<VersionSummary> = catalog
            .versions
            .iter()
            .filter(|((t, _), _)| t == template)
            .map(|((t, v), r)| summary(t, v, r))
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
                .push(summary(t, v, r));
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
    ///
    /// For a version published here, this is the vendor's state: the
    /// document changes and packages carry it. For an imported version the
    /// vendor's state is the one signed in its package and cannot be
    /// changed here; the new state is recorded as this site's decision
    /// ([`VersionSummary::site_state`]) and the document keeps the
    /// vendor's state, which is what `released_only` environments check.
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
        if record.vendor_package.is_some() {
            doc.release_state = record.site_state.unwrap_or(record.state);
            template_core::set_release_state(&mut doc, state)?;
            let mut record = record.clone();
            record.site_state = Some(state);
            catalog.versions.insert(key, record);
            return catalog.save(&self.index_path());
        }
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
        let (files, bytes) = staging_usage(&staging)?;
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        }
        report.staged_files_removed = files;
        report.staged_bytes_freed = bytes;
        report.bytes_freed += bytes;
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
        let (files, bytes) = staging_usage(&self.staging_dir())?;
        report.staged_files = files;
        report.staged_bytes = bytes;
        for ((t, v), record) in &catalog.versions {
            match self.load_version(record) {
                Ok(doc) => {
                    let served = template_core::content_digest(&doc).map_err(MarketError::from);
                    match served {
                        Ok(digest) if digest == record.content_digest => {}
                        Ok(digest) => report.problems.push(format!(
                            "template {t} version {v}: the document served has content digest {digest} but the catalog records {}; the version's artifact {} points at another document",
                            record.content_digest,
                            record.artifact.digest()
                        )),
                        Err(e) => report.problems.push(format!("template {t} version {v}: {e}")),
                    }
                    if doc.template.id != *t || doc.version != *v {
                        report.problems.push(format!(
                            "template {t} version {v}: the document served is {} {}",
                            doc.template.id, doc.version
                        ));
                    }
                    if doc.release_state != record.state {
                        report.problems.push(format!(
                            "template {t} version {v}: the document served is {} but the catalog records {}",
                            crate::catalog::state_name(doc.release_state),
                            crate::catalog::state_name(record.state)
                        ));
                    }
                }
                Err(e) => {
                    report
                        .problems
                        .push(format!("template {t} version {v}: {e}"));
                    continue;
                }
            }
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

/// Files and bytes under `staging/` (interrupted imports).
fn staging_usage(staging: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let packages = match fs::read_dir(staging) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(io_err("list", staging)(e)),
    };
    for package in packages.flatten() {
        let path = package.path();
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes))
}

/// Who holds the lock, as its holder wrote it (exclusive holders only).
fn lock_holder(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let text = text.trim();
    if text.is_empty() || text.len() > 200 {
        "another process (a reader, or one that did not say which)".to_owned()
    } else {
        text.to_owned()
    }
}

fn summary(template: &str, version: &str, r: &VersionRecord) -> VersionSummary {
    VersionSummary {
        template: template.to_owned(),
        version: version.to_owned(),
        state: r.state,
        site_state: r.site_state,
        vendor_package: r.vendor_package.clone(),
        content_digest: r.content_digest.clone(),
    }
}

pub(crate) fn sort_summaries(v: &mut [VersionSummary]) {
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

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use super::*;
    use crate::ImportOptions;

    #[test]
    fn a_held_lock_is_reported_and_times_out_naming_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let market = Market::open(dir.path().join("m")).unwrap();
        let pid = std::process::id().to_string();
        let held = market.lock(true).unwrap();

        let waiting = market
            .clone()
            .with_lock_timeout(Some(Duration::from_millis(300)));
        let mut waits = Vec::new();
        let err = waiting
            .import(&b""[..], &ImportOptions::default(), &mut |p| {
                if p.phase == Phase::Wait {
                    waits.push((p.item.to_owned(), p.bytes_total));
                }
                ControlFlow::Continue(())
            })
            .unwrap_err();
        let MarketError::LockTimeout { holder, .. } = &err else {
            panic!("expected LockTimeout, got {err}");
        };
        assert!(holder.contains(&pid), "{err}");
        assert!(err.to_string().contains(&pid), "{err}");
        assert!(!waits.is_empty(), "the wait was reported");
        assert!(
            waits
                .iter()
                .all(|(item, total)| item.contains(&pid) && *total == 300)
        );

        let options = MarketOptions::with_lock_timeout(Duration::from_millis(100));
        let err = Market::open_with(market.root(), &options).unwrap_err();
        assert!(matches!(err, MarketError::LockTimeout { .. }), "{err}");

        // The progress callback can stop the wait.
        let err = market
            .import(&b""[..], &ImportOptions::default(), &mut |_| {
                ControlFlow::Break(())
            })
            .unwrap_err();
        assert!(matches!(err, MarketError::Cancelled { .. }), "{err}");

        // Released: the same call goes on to read the (empty) package.
        drop(held);
        let err = waiting
            .import(&b""[..], &ImportOptions::default(), &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert!(err.as_package_error().is_some(), "{err}");
        assert_eq!(fs::read(market.root().join(".lock")).unwrap(), b"");
    }

    #[test]
    fn a_waiter_gets_the_lock_once_the_holder_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let market = Market::open(dir.path().join("m")).unwrap();
        let held = market.lock(true).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let releaser = std::thread::spawn(move || {
            // Release once the waiter has reported that it waits.
            let _ = rx.recv();
            drop(held);
        });
        let waiting = market
            .clone()
            .with_lock_timeout(Some(Duration::from_secs(60)));
        let mut reported = 0;
        let err = waiting
            .import(&b""[..], &ImportOptions::default(), &mut |p| {
                if p.phase == Phase::Wait {
                    reported += 1;
                    let _ = tx.send(());
                }
                ControlFlow::Continue(())
            })
            .unwrap_err();
        releaser.join().unwrap();
        assert!(reported > 0);
        assert!(err.as_package_error().is_some(), "{err}");
    }
}
