//! Importing packages: verify everything, stage new blobs inside the
//! market, then move them into the store and update the catalog last.
//!
//! A process killed at any point leaves the market valid: until the
//! catalog is replaced (one atomic rename) nothing new is visible, and
//! blobs that reached the store early are unreferenced until then. Blobs
//! staged completely (verified, synced, renamed to their digest) survive
//! for a retry of the same package, which skips writing them again.
//!
//! Blobs are synced in one batch rather than one by one, so the disk
//! writes back while the next blobs are decompressed and hashed. Why
//! that is as safe: a staged blob is written as `<hex>.partial`, renamed
//! to `<hex>.unsynced` once complete and verified, and gets its own name
//! `<hex>` only after an `fsync` ([`ImportSink::settle`], run before the
//! commit and when a stopped import keeps its staging). Only that name is
//! trusted, by a retry (which skips such blobs) and by the commit (which
//! moves them into the store before the catalog names them); a retry
//! deletes `.partial` and `.unsynced` files, which after a power loss
//! may hold anything. A killed process loses nothing the page cache
//! holds, so only a power loss can lose unsynced bytes, and those bytes
//! are never under a name anyone trusts.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;

use oci_spec::image::Descriptor;
use template_core::package::format::{OCI_MANIFEST_MEDIA_TYPE, VERSION_DOCUMENT_MEDIA_TYPE};
use template_core::package::{
    BlobReader, PackageError, PackageHeader, PackageManifest, PackageReader, PackageSink,
    PackageSummary, PackagedVersion, ReaderLimits, blob_entry_name, manifest_references,
    sha256_hex,
};

use crate::catalog::{Catalog, VersionRecord, state_name};
use crate::error::{MarketError, Result, io_err};
use crate::market::{MAX_DOCUMENT_BYTES, Market};
use crate::options::{ImportOptions, Trust};
use crate::progress::{Phase, Progress, ProgressCallback, ProgressReader};
use crate::read_ahead::ReadAhead;
use crate::signing::verify;
use crate::store::{COPY_BUFFER, sync_dir};

/// What happened to one version of the package. Serializes as its
/// snake_case name (`added`, `unchanged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportedVersion {
    /// New in this market.
    Added,
    /// Already here with the same content; nothing changed.
    Unchanged,
    /// Already here with the same content, and the package carries a
    /// newer vendor release state (e.g. draft, now released), which the
    /// market now records. A state decided at this site is kept apart.
    ReleaseStateUpdated,
}

/// What an import did. Serializes with its field names; each version as
/// `{version, outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// Digest of the package manifest.
    pub manifest_digest: String,
    /// Template id.
    pub template: String,
    /// Each version with what happened to it.
    #[serde(serialize_with = "crate::ser::imported_versions")]
    #[schemars(with = "Vec<crate::ser::ImportedVersionEntry<'static>>")]
    pub versions: Vec<(String, ImportedVersion)>,
    /// Id of the key that signed the package, when signed and trusted.
    pub signer: Option<String>,
    /// Blobs written to the market.
    pub blobs_written: usize,
    /// Their size.
    pub bytes_written: u64,
    /// Blobs the market (or an earlier interrupted import) already had.
    pub blobs_skipped: usize,
}

struct ImportSink<'a, 'b> {
    market: &'a Market,
    options: &'a ImportOptions,
    catalog: Catalog,
    staging: Option<PathBuf>,
    /// Staged blobs written but not yet synced: their final staged paths.
    unsynced: Vec<PathBuf>,
    report: ImportReport,
    progress: &'a mut ProgressCallback<'b>,
    done: u64,
    total: u64,
    items_done: usize,
    items_total: usize,
}

impl PackageSink for ImportSink<'_, '_> {
    type Error = MarketError;

    fn header(&mut self, header: &PackageHeader) -> Result<()> {
        let manifest = &header.manifest;
        let digest = header.manifest_digest.clone();
        self.report.manifest_digest = digest.clone();
        self.report.template = manifest.template.clone();
        let trust = &self.options.trust;
        match &header.signature {
            None if trust.allow_unsigned => {}
            None => {
                return Err(MarketError::Unsigned {
                    manifest_digest: digest,
                });
            }
            Some(sig) => match verify(&digest, &header.manifest_bytes, sig, &trust.keys) {
                Ok(id) => self.report.signer = Some(id),
                Err(MarketError::UntrustedKey { .. }) if trust.allow_untrusted => {}
                Err(e) => return Err(e),
            },
        }
        for v in &manifest.versions {
            let key = (manifest.template.clone(), v.version.clone());
            match self.catalog.versions.get(&key) {
                Some(existing) if existing.content_digest != v.content_digest => {
                    return Err(template_core::Error::VersionExists {
                        template: manifest.template.clone(),
                        version: v.version.clone(),
                        existing: existing.content_digest.clone(),
                        candidate: v.content_digest.clone(),
                    }
                    .into());
                }
                Some(existing) if v.release_state > existing.state => self
                    .report
                    .versions
                    .push((v.version.clone(), ImportedVersion::ReleaseStateUpdated)),
                Some(_) => self
                    .report
                    .versions
                    .push((v.version.clone(), ImportedVersion::Unchanged)),
                None => self
                    .report
                    .versions
                    .push((v.version.clone(), ImportedVersion::Added)),
            }
        }
        let store = self.market.store();
        let missing: Vec<&Descriptor> = manifest
            .omitted
            .iter()
            .filter(|d| !store.has(d.digest().as_ref()))
            .collect();
        if !missing.is_empty() {
            return Err(MarketError::MissingBase {
                template: manifest.template.clone(),
                base: manifest
                    .base
                    .as_ref()
                    .map_or_else(|| "nothing".to_owned(), |b| b.to_string()),
                missing_blobs: missing.len(),
                missing_bytes: missing.iter().map(|d| d.size()).sum(),
            });
        }
        for v in &manifest.versions {
            self.market.check_omitted_version(manifest, v)?;
        }
        let hex = sha256_hex(&digest).unwrap_or("unknown");
        let staging = self.market.staging_dir().join(hex);
        let needed: u64 = manifest
            .blobs
            .iter()
            .filter(|d| {
                !store.has(d.digest().as_ref())
                    && !staged_path(&staging, d).is_some_and(|p| p.is_file())
            })
            .map(|d| d.size())
            .sum::<u64>()
            .saturating_add(self.options.reserve_bytes)
            .saturating_add(1 << 20);
        let available = fs4::available_space(self.market.root())
            .map_err(io_err("measure free space of", self.market.root()))?;
        if needed > available {
            return Err(MarketError::InsufficientSpace {
                path: self.market.root().to_owned(),
                needed,
                available,
            });
        }
        fs::create_dir_all(&staging).map_err(io_err("create", &staging))?;
        for entry in fs::read_dir(&staging)
            .map_err(io_err("list", &staging))?
            .flatten()
        {
            // Written but never synced: after a power loss such a file
            // may hold anything, so it is written again.
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".partial") || name.ends_with(UNSYNCED) {
                let _ = fs::remove_file(entry.path());
            }
        }
        self.staging = Some(staging);
        self.total = manifest.carried_bytes;
        self.items_total = manifest.blobs.len();
        Ok(())
    }

    fn blob(&mut self, descriptor: &Descriptor, data: &mut BlobReader<'_>) -> Result<()> {
        let digest = descriptor.digest().to_string();
        let item = data.entry().to_owned();
        let flow = (self.progress)(&Progress {
            phase: Phase::Import,
            bytes_done: self.done,
            bytes_total: self.total,
            items_done: self.items_done,
            items_total: self.items_total,
            item: &item,
        });
        if flow.is_break() {
            return Err(self.cancelled());
        }
        let staging = self.staging.clone().ok_or_else(|| MarketError::Corrupt {
            path: self.market.staging_dir(),
            message: "blob before header".to_owned(),
        })?;
        let target = staged_path(&staging, descriptor).ok_or_else(|| MarketError::Corrupt {
            path: staging.clone(),
            message: format!("bad digest {digest}"),
        })?;
        if self.market.store().has(&digest) || target.is_file() {
            // Still verified: the reader drains and hashes it.
            self.report.blobs_skipped += 1;
            self.done += descriptor.size();
            self.items_done += 1;
            return Ok(());
        }
        let mut partial = target.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut file = fs::File::create(&partial).map_err(io_err("create", &partial))?;
        let mut cancelled = false;
        let mut reader = ProgressReader {
            inner: &mut *data,
            phase: Phase::Import,
            done: &mut self.done,
            total: self.total,
            items_done: self.items_done,
            items_total: self.items_total,
            item: &item,
            since_report: 0,
            callback: &mut *self.progress,
            cancelled: &mut cancelled,
        };
        let copied = copy(&mut reader, &mut file);
        if cancelled {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(self.cancelled());
        }
        // A blob that failed (verification or disk) never stays half
        // written: staging keeps only complete, verified blobs. The sync
        // waits for `settle`, see the module documentation.
        let finished = copied.map(drop).map_err(|e| MarketError::Io {
            action: "stage",
            path: partial.clone(),
            source: e,
        });
        drop(file);
        if let Err(e) = finished {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        if !data.is_verified() {
            let _ = fs::remove_file(&partial);
            return Err(MarketError::Corrupt {
                path: partial,
                message: "the blob was not verified to its end".to_owned(),
            });
        }
        let unsynced = unsynced_path(&target);
        fs::rename(&partial, &unsynced).map_err(io_err("rename into", &unsynced))?;
        self.unsynced.push(target);
        self.report.blobs_written += 1;
        self.report.bytes_written += descriptor.size();
        self.items_done += 1;
        Ok(())
    }
}

impl ImportSink<'_, '_> {
    /// Syncs the blobs staged since the last call and gives each its own
    /// name, which a retry and the commit trust.
    fn settle(&mut self) -> Result<()> {
        for target in std::mem::take(&mut self.unsynced) {
            let unsynced = unsynced_path(&target);
            fs::File::open(&unsynced)
                .and_then(|f| f.sync_all())
                .map_err(io_err("sync", &unsynced))?;
            fs::rename(&unsynced, &target).map_err(io_err("rename into", &target))?;
        }
        Ok(())
    }

    fn cancelled(&self) -> MarketError {
        MarketError::Cancelled {
            what: format!(
                "import of package {} (template {})",
                self.report.manifest_digest, self.report.template
            ),
        }
    }
}

/// Whether a failed import keeps its staged blobs for a retry: only when
/// the package itself may be sound (stopped, a disk or copy problem).
fn keeps_staging(e: &MarketError) -> bool {
    match e {
        MarketError::Cancelled { .. }
        | MarketError::Io { .. }
        | MarketError::InsufficientSpace { .. } => true,
        MarketError::Core(template_core::Error::Package(p)) => matches!(
            p,
            PackageError::Truncated { .. } | PackageError::MissingBlobs { .. }
        ),
        _ => false,
    }
}

impl Market {
    /// Checks a version whose document or artifact the package does not
    /// carry against what this market holds: the package may only claim
    /// what the held blobs say (template, version, release state, content
    /// digest, and which document the artifact names).
    fn check_omitted_version(&self, manifest: &PackageManifest, v: &PackagedVersion) -> Result<()> {
        let carried = |d: &Descriptor| manifest.blobs.iter().any(|b| b.digest() == d.digest());
        let store = self.store();
        if !carried(&v.artifact) {
            let entry = blob_entry_name(v.artifact.digest().as_ref());
            let bytes = store.read_small(v.artifact.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
            let refs = manifest_references(OCI_MANIFEST_MEDIA_TYPE, &bytes).map_err(|message| {
                PackageError::Inconsistent {
                    entry: entry.clone(),
                    detail: format!(
                        "the market's copy of this version artifact is not a manifest: {message}"
                    ),
                }
            })?;
            let documents: Vec<&Descriptor> = refs
                .iter()
                .filter(|d| d.media_type().as_ref() == VERSION_DOCUMENT_MEDIA_TYPE)
                .collect();
            if !matches!(documents.as_slice(), [only] if only.digest() == v.document.digest()) {
                return Err(PackageError::Inconsistent {
                    entry,
                    detail: format!(
                        "the package says version {} is this artifact (already at the site) with document {}, but the market's artifact names another document",
                        v.version,
                        v.document.digest()
                    ),
                }
                .into());
            }
        }
        if !carried(&v.document) {
            let entry = blob_entry_name(v.document.digest().as_ref());
            let bytes = store.read_small(v.document.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
            let options = template_core::LoadOptions {
                max_bytes: usize::try_from(MAX_DOCUMENT_BYTES).unwrap_or(usize::MAX),
            };
            let doc = template_core::load(&bytes, template_core::Format::Json, options)?;
            let content = template_core::content_digest(&doc)?;
            let held = format!(
                "{} {} ({}, content {content})",
                doc.template.id,
                doc.version,
                state_name(doc.release_state)
            );
            let claimed = format!(
                "{} {} ({}, content {})",
                manifest.template,
                v.version,
                state_name(v.release_state),
                v.content_digest
            );
            if held != claimed {
                return Err(PackageError::Inconsistent {
                    entry,
                    detail: format!(
                        "the package lists this version document as already at the site and claims it is {claimed}, but the market's copy is {held}; refusing the package"
                    ),
                }
                .into());
            }
        }
        Ok(())
    }
}

fn staged_path(staging: &Path, d: &Descriptor) -> Option<PathBuf> {
    sha256_hex(d.digest().as_ref()).map(|hex| staging.join(hex))
}

/// Suffix of a staged blob complete and verified but not yet synced.
const UNSYNCED: &str = ".unsynced";

fn unsynced_path(target: &Path) -> PathBuf {
    let mut path = target.as_os_str().to_owned();
    path.push(UNSYNCED);
    PathBuf::from(path)
}

fn copy<R: Read, W: Write>(reader: &mut R, writer: &mut W) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
}

impl Market {
    /// Imports a package read from `source`.
    ///
    /// Refuses, before writing anything: unsigned or untrusted packages
    /// (unless `options.trust` allows them), a version number that exists
    /// here with other content, a differential package whose base this
    /// market lacks, and too little free space. Every blob is verified
    /// while it is staged; the catalog changes only after all are. Importing
    /// the same package again changes nothing.
    ///
    /// A [`ControlFlow::Break`](std::ops::ControlFlow::Break) from
    /// `progress` during the [`Phase::Import`] reports stops the import
    /// (before the next blob, or within a few MiB of a large one): it fails
    /// with [`MarketError::Cancelled`] and the market is unchanged. Blobs
    /// already staged are kept, so running the import again resumes. The
    /// [`Phase::Commit`] and [`Phase::Done`] reports come once everything is
    /// verified and cannot cancel.
    pub fn import<R: Read>(
        &self,
        source: R,
        options: &ImportOptions,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ImportReport> {
        self.import_with(options, progress, |reader, sink| reader.read(source, sink))
    }

    /// Imports a package read from `source`, decompressing on a second
    /// thread while this one hashes and writes.
    fn import_pipelined<R: Read + Send>(
        &self,
        source: R,
        options: &ImportOptions,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ImportReport> {
        self.import_with(options, progress, |reader, sink| {
            thread::scope(|scope| {
                reader.read_decoding(source, sink, |decoder| {
                    Box::new(ReadAhead::spawn(scope, decoder))
                })
            })
        })
    }

    fn import_with(
        &self,
        options: &ImportOptions,
        progress: &mut ProgressCallback<'_>,
        read: impl FnOnce(PackageReader, &mut ImportSink<'_, '_>) -> Result<PackageSummary>,
    ) -> Result<ImportReport> {
        let _lock = self.lock_reporting(true, progress)?;
        let catalog = self.catalog()?;
        let mut sink = ImportSink {
            market: self,
            options,
            catalog,
            staging: None,
            unsynced: Vec::new(),
            report: ImportReport {
                manifest_digest: String::new(),
                template: String::new(),
                versions: Vec::new(),
                signer: None,
                blobs_written: 0,
                bytes_written: 0,
                blobs_skipped: 0,
            },
            progress,
            done: 0,
            total: 0,
            items_done: 0,
            items_total: 0,
        };
        let read = read(PackageReader::new(options.limits), &mut sink);
        let summary = match read.and_then(|summary| sink.settle().map(|()| summary)) {
            Ok(summary) => summary,
            Err(e) => {
                if keeps_staging(&e) {
                    // Best effort: what is not settled is written again.
                    let _ = sink.settle();
                }
                // A package refused for what it holds is not retried: its
                // staged blobs go. Cancellation, I/O failures and an
                // incomplete copy keep them for the retry that resumes.
                if let Some(staging) = &sink.staging
                    && !keeps_staging(&e)
                {
                    let _ = fs::remove_dir_all(staging);
                    let _ = fs::remove_dir(self.staging_dir());
                }
                return Err(e);
            }
        };
        let ImportSink {
            mut catalog,
            staging,
            report,
            progress,
            ..
        } = sink;
        let staging = staging.ok_or_else(|| MarketError::Corrupt {
            path: self.staging_dir(),
            message: "package had no header".to_owned(),
        })?;
        let manifest = &summary.header.manifest;

        // Commit: move staged blobs into the store.
        let items_total = manifest.blobs.len() + 2;
        let store = self.store();
        let blobs_dir = store.blobs_dir();
        for (i, d) in manifest.blobs.iter().enumerate() {
            let digest = d.digest().to_string();
            let _ = progress(&Progress {
                phase: Phase::Commit,
                bytes_done: i as u64,
                bytes_total: items_total as u64,
                items_done: i,
                items_total,
                item: &digest,
            });
            let Some(staged) = staged_path(&staging, d) else {
                continue;
            };
            if store.has(&digest) {
                continue;
            }
            let dest = store.blob_path(&digest)?;
            fs::rename(&staged, &dest).map_err(io_err("move into the store", &dest))?;
        }
        sync_dir(&blobs_dir)?;

        // Catalog last: one atomic replacement makes everything visible.
        let _ = progress(&Progress {
            phase: Phase::Commit,
            bytes_done: manifest.blobs.len() as u64,
            bytes_total: items_total as u64,
            items_done: manifest.blobs.len(),
            items_total,
            item: "index.json",
        });
        let package = summary.header.manifest_digest.clone();
        for v in &manifest.versions {
            let key = (manifest.template.clone(), v.version.clone());
            match catalog.versions.get_mut(&key) {
                // The vendor moved the version on: its signed state (and
                // the artifact whose document says so) replace the old
                // one; a decision of this site stays as it was.
                Some(existing) if v.release_state > existing.state => {
                    existing.artifact = v.artifact.clone();
                    existing.state = v.release_state;
                    existing.vendor_package = Some(package.clone());
                }
                Some(_) => {}
                None => {
                    catalog.versions.insert(
                        key,
                        VersionRecord {
                            artifact: v.artifact.clone(),
                            content_digest: v.content_digest.clone(),
                            state: v.release_state,
                            vendor_package: Some(package.clone()),
                            site_state: None,
                        },
                    );
                }
            }
        }
        let known: BTreeSet<&str> = manifest.blobs.iter().map(|d| d.digest().as_ref()).collect();
        for image in &manifest.images {
            let digest = image.manifest.digest().to_string();
            if known.contains(digest.as_str()) || store.has(&digest) {
                catalog
                    .images
                    .insert((image.name.clone(), digest), image.manifest.clone());
            }
        }
        catalog.save(&self.index_path())?;

        let _ = progress(&Progress {
            phase: Phase::Commit,
            bytes_done: items_total as u64 - 1,
            bytes_total: items_total as u64,
            items_done: items_total - 1,
            items_total,
            item: "staging",
        });
        fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        let _ = progress(&Progress {
            phase: Phase::Done,
            bytes_done: report.bytes_written,
            bytes_total: report.bytes_written,
            items_done: items_total,
            items_total,
            item: "",
        });
        Ok(report)
    }

    /// Imports a package file.
    pub fn import_file(
        &self,
        path: &Path,
        options: &ImportOptions,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ImportReport> {
        let file = fs::File::open(path).map_err(io_err("open", path))?;
        self.import_pipelined(
            BufReader::with_capacity(COPY_BUFFER, file),
            options,
            progress,
        )
    }

    /// Imports a package split into parts, given in order.
    pub fn import_parts(
        &self,
        parts: &[PathBuf],
        options: &ImportOptions,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ImportReport> {
        for p in parts {
            if !p.is_file() {
                return Err(MarketError::NotFound {
                    what: format!("package part {}", p.display()),
                    market: self.root().to_owned(),
                });
            }
        }
        let reader = crate::parts::PartsReader::new(parts.to_vec());
        self.import_pipelined(
            BufReader::with_capacity(COPY_BUFFER, reader),
            options,
            progress,
        )
    }
}

/// What [`check_package`] found: a package read to its end, every blob
/// verified, its signature checked against the trust given. Serializes with
/// its field names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackageCheck {
    /// Digest of the package manifest (what the signature signs).
    pub manifest_digest: String,
    /// Template id.
    pub template: String,
    /// Version numbers carried, in manifest order.
    pub versions: Vec<String>,
    /// Whether the package carries a signature.
    pub signed: bool,
    /// Id of the key that signed, when the signature verified against a
    /// trusted key.
    pub signer: Option<String>,
    /// Whether the package leaves out blobs the destination must hold.
    pub differential: bool,
    /// Images the package's versions use.
    pub images: usize,
    /// Content blobs read and verified.
    pub blobs_read: usize,
    /// Bytes of content carried.
    pub carried_bytes: u64,
    /// Bytes of content left out (the destination must hold them).
    pub omitted_bytes: u64,
    /// Bytes of archive after decompression.
    pub archive_bytes: u64,
}

/// Checks a package without importing it: reads it to its end, verifying
/// every blob and document, and checks its signature as an import with
/// `trust` would (unsigned and untrusted packages are refused unless
/// `trust` allows them; a signature that does not verify never passes).
pub fn check_package<R: Read>(
    source: R,
    trust: &Trust,
    limits: ReaderLimits,
) -> Result<PackageCheck> {
    struct Checker<'a> {
        trust: &'a Trust,
        signer: Option<String>,
    }
    impl PackageSink for Checker<'_> {
        type Error = MarketError;
        fn header(&mut self, header: &PackageHeader) -> Result<()> {
            let digest = &header.manifest_digest;
            match &header.signature {
                None if self.trust.allow_unsigned => Ok(()),
                None => Err(MarketError::Unsigned {
                    manifest_digest: digest.clone(),
                }),
                Some(sig) => {
                    match verify(digest, &header.manifest_bytes, sig, &self.trust.keys) {
                        Ok(id) => self.signer = Some(id),
                        Err(MarketError::UntrustedKey { .. }) if self.trust.allow_untrusted => {}
                        Err(e) => return Err(e),
                    }
                    Ok(())
                }
            }
        }
        fn blob(&mut self, _: &Descriptor, _: &mut BlobReader<'_>) -> Result<()> {
            Ok(())
        }
    }
    let mut checker = Checker {
        trust,
        signer: None,
    };
    let summary = PackageReader::new(limits).read(source, &mut checker)?;
    let header = &summary.header;
    let manifest = &header.manifest;
    Ok(PackageCheck {
        manifest_digest: header.manifest_digest.clone(),
        template: manifest.template.clone(),
        versions: manifest
            .versions
            .iter()
            .map(|v| v.version.clone())
            .collect(),
        signed: header.signature.is_some(),
        signer: checker.signer,
        differential: !manifest.omitted.is_empty(),
        images: manifest.images.len(),
        blobs_read: summary.blobs_read,
        carried_bytes: manifest.carried_bytes,
        omitted_bytes: manifest.omitted_bytes,
        archive_bytes: summary.archive_bytes,
    })
}
