//! Exporting packages: full, differential against base versions (layer by
//! layer), or differential against an inventory of the destination.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;
use template_core::ReleaseState;
use template_core::package::format::{
    EMPTY_DIGEST, OCI_MANIFEST_MEDIA_TYPE, VERSION_DOCUMENT_MEDIA_TYPE,
};
use template_core::package::{
    Compression, Inventory, PackageBase, PackageManifest, PackageWriter, PackagedImage,
    PackagedVersion, WriterOptions, image_digest, image_name, manifest_references, sha256_of,
};

use crate::error::{MarketError, Result, io_err};
use crate::market::{MAX_DOCUMENT_BYTES, Market};
use crate::progress::{Phase, Progress, ProgressCallback, ProgressReader};
use crate::signing::{SecretKey, sign};
use crate::store::COPY_BUFFER;

/// What a package leaves out. Serializes as `"full"`, `{"versions":
/// [..]}` or `{"inventory": {..}}`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExportBase {
    /// Nothing: the package is self-contained.
    #[default]
    Full,
    /// Every blob these versions of the same template use (the destination
    /// has them): only layers the base lacks are carried.
    Versions(Vec<String>),
    /// Every blob the destination's inventory lists.
    Inventory(Inventory),
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Template id.
    pub template: String,
    /// Version numbers to include.
    pub versions: Vec<String>,
    /// What to leave out.
    pub base: ExportBase,
    /// Archive compression.
    pub compression: Compression,
    /// Sign the package manifest with this key.
    pub signing_key: Option<SecretKey>,
    /// Export versions that are still drafts. A draft is not meant for
    /// delivery; without this, exporting one fails with
    /// [`MarketError::DraftExport`].
    pub allow_draft: bool,
}

impl ExportRequest {
    /// A full, unsigned, zstd-compressed package of these versions, using
    /// every core for compression.
    pub fn new(template: &str, versions: &[&str]) -> Self {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        ExportRequest {
            template: template.to_owned(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            base: ExportBase::Full,
            compression: Compression::Zstd { level: 3, workers },
            signing_key: None,
            allow_draft: false,
        }
    }

    /// The same request, allowed to export draft versions.
    pub fn allowing_drafts(mut self) -> Self {
        self.allow_draft = true;
        self
    }

    /// The same request with another base.
    pub fn with_base(mut self, base: ExportBase) -> Self {
        self.base = base;
        self
    }

    /// The same request signed with `key`.
    pub fn signed_with(mut self, key: &SecretKey) -> Self {
        self.signing_key = Some(key.clone());
        self
    }

    /// The same request with another compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
}

/// What an export wrote. Serializes with its field names, the files as
/// strings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ExportReport {
    /// Digest of the package manifest (what the signature signs).
    pub manifest_digest: String,
    /// Blobs carried.
    pub carried_blobs: usize,
    /// Their total size.
    pub carried_bytes: u64,
    /// Blobs left out (the destination must hold them).
    pub omitted_blobs: usize,
    /// Their total size.
    pub omitted_bytes: u64,
    /// Bytes of archive written.
    pub archive_bytes: u64,
    /// The files written, for exports to files or parts.
    #[serde(serialize_with = "crate::ser::paths")]
    #[schemars(with = "Vec<String>")]
    pub files: Vec<PathBuf>,
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Market {
    /// The manifest a package for `request` would have, without writing it.
    pub fn plan_export(&self, request: &ExportRequest) -> Result<PackageManifest> {
        let _lock = self.lock(false)?;
        Ok(self.plan_locked(request)?.0)
    }

    /// The manifest of the package, and the carried manifests (images,
    /// version artifacts) whose blobs it does not all carry.
    fn plan_locked(&self, request: &ExportRequest) -> Result<(PackageManifest, BTreeSet<String>)> {
        if request.versions.is_empty() {
            return Err(MarketError::InvalidExport {
                message: "no version was asked for".to_owned(),
            });
        }
        let catalog = self.catalog()?;
        let mut needed: BTreeMap<String, Descriptor> = BTreeMap::new();
        let mut versions = Vec::new();
        let mut images = Vec::new();
        for number in &request.versions {
            let record = catalog
                .versions
                .get(&(request.template.clone(), number.clone()))
                .ok_or_else(|| MarketError::NotFound {
                    what: format!("template {} version {number}", request.template),
                    market: self.root().to_owned(),
                })?;
            if record.state == ReleaseState::Draft && !request.allow_draft {
                return Err(MarketError::DraftExport {
                    template: request.template.clone(),
                    version: number.clone(),
                });
            }
            let doc = self.version_closure(&catalog, record, &mut needed)?;
            let art = self
                .store()
                .read_small(record.artifact.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
            let refs = manifest_references(OCI_MANIFEST_MEDIA_TYPE, &art).map_err(|message| {
                MarketError::Corrupt {
                    path: self.index_path(),
                    message,
                }
            })?;
            let document = refs
                .iter()
                .find(|d| d.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE)
                .cloned()
                .ok_or_else(|| MarketError::Corrupt {
                    path: self.index_path(),
                    message: format!(
                        "version artifact {} has no document",
                        record.artifact.digest()
                    ),
                })?;
            versions.push(PackagedVersion {
                version: number.clone(),
                content_digest: record.content_digest.clone(),
                release_state: record.state,
                artifact: record.artifact.clone(),
                document,
            });
            let refs = doc
                .components
                .iter()
                .map(|c| &c.image)
                .chain(doc.plugins.iter().map(|p| &p.image));
            for reference in refs {
                if let Some(d) = image_digest(reference).and_then(|d| needed.get(d)) {
                    images.push(PackagedImage {
                        name: image_name(reference).to_owned(),
                        manifest: d.clone(),
                    });
                }
            }
        }
        let (base_set, base): (BTreeSet<String>, Option<PackageBase>) = match &request.base {
            ExportBase::Full => (BTreeSet::new(), None),
            ExportBase::Versions(numbers) => {
                let mut closure = BTreeMap::new();
                for number in numbers {
                    let record = catalog
                        .versions
                        .get(&(request.template.clone(), number.clone()))
                        .ok_or_else(|| MarketError::NotFound {
                            what: format!("base version {number} of template {}", request.template),
                            market: self.root().to_owned(),
                        })?;
                    self.version_closure(&catalog, record, &mut closure)?;
                }
                (
                    closure.into_keys().collect(),
                    Some(PackageBase::Versions {
                        versions: numbers.clone(),
                    }),
                )
            }
            ExportBase::Inventory(inventory) => (
                inventory.blobs.iter().cloned().collect(),
                Some(PackageBase::Inventory {
                    digest: inventory.digest()?,
                }),
            ),
        };
        let (omitted, carried): (Vec<Descriptor>, Vec<Descriptor>) = needed
            .into_values()
            .partition(|d| base_set.contains(d.digest().as_ref()));
        let carried_set: BTreeSet<String> =
            carried.iter().map(|d| d.digest().to_string()).collect();
        let mut incomplete = BTreeSet::new();
        for image in &images {
            let digest = image.manifest.digest().to_string();
            if !carried_set.contains(&digest) {
                continue;
            }
            let mut closure = BTreeMap::new();
            self.image_closure(&catalog, &digest, &mut closure)?;
            if closure.keys().any(|d| !carried_set.contains(d)) {
                incomplete.insert(digest);
            }
        }
        for v in &versions {
            let digest = v.artifact.digest().to_string();
            if !carried_set.contains(&digest) {
                continue;
            }
            let art = self.store().read_small(&digest, MAX_DOCUMENT_BYTES)?;
            let refs = manifest_references(OCI_MANIFEST_MEDIA_TYPE, &art).map_err(|message| {
                MarketError::Corrupt {
                    path: self.index_path(),
                    message,
                }
            })?;
            if refs.iter().any(|r| {
                r.digest().as_ref() != EMPTY_DIGEST && !carried_set.contains(r.digest().as_ref())
            }) {
                incomplete.insert(digest);
            }
        }
        let manifest =
            PackageManifest::new(&request.template, versions, images, base, carried, omitted)?;
        Ok((manifest, incomplete))
    }

    /// Writes a package for `request` into `out`, reporting progress.
    ///
    /// A [`ControlFlow::Break`](std::ops::ControlFlow::Break) from
    /// `progress` stops the export before the next blob or within a few MiB
    /// of a large one: it fails with [`MarketError::Cancelled`] and `out`
    /// holds an incomplete package. The final ([`Phase::Done`]) report
    /// comes after everything is written and cannot cancel.
    pub fn export<W: Write>(
        &self,
        request: &ExportRequest,
        out: W,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ExportReport> {
        let _lock = self.lock(false)?;
        let (manifest, incomplete_manifests) = self.plan_locked(request)?;
        let manifest_bytes = manifest.to_bytes()?;
        let manifest_digest = sha256_of(&manifest_bytes);
        let signature = match &request.signing_key {
            Some(key) => {
                let comment = format!(
                    "apptemplate package {} {} manifest {manifest_digest}",
                    request.template,
                    request.versions.join(",")
                );
                Some(sign(&manifest_bytes, key, &comment)?)
            }
            None => None,
        };
        let options = WriterOptions {
            compression: request.compression,
            incomplete_manifests,
        };
        let mut writer = PackageWriter::new(
            CountingWriter {
                inner: out,
                count: 0,
            },
            &manifest,
            signature.as_ref(),
            options,
        )?;
        let total = manifest.carried_bytes;
        let items_total = manifest.blobs.len();
        let mut done = 0u64;
        let cancelled_err = || MarketError::Cancelled {
            what: format!(
                "export of template {} version {}",
                request.template,
                request.versions.join(",")
            ),
        };
        for (i, d) in manifest.blobs.iter().enumerate() {
            let digest = d.digest().to_string();
            let item = template_core::package::blob_entry_name(&digest);
            let flow = progress(&Progress {
                phase: Phase::Export,
                bytes_done: done,
                bytes_total: total,
                items_done: i,
                items_total,
                item: &item,
            });
            if flow.is_break() {
                return Err(cancelled_err());
            }
            let file = self.store().open(&digest)?;
            let mut cancelled = false;
            let reader = ProgressReader {
                inner: BufReader::with_capacity(COPY_BUFFER, file),
                phase: Phase::Export,
                done: &mut done,
                total,
                items_done: i,
                items_total,
                item: &item,
                since_report: 0,
                callback: progress,
                cancelled: &mut cancelled,
            };
            // The store names a blob by the digest it verified when the
            // blob came in: hashing it again would only spend CPU. The
            // importer hashes every blob it reads.
            let written = writer.write_verified_blob(&digest, reader);
            if cancelled {
                return Err(cancelled_err());
            }
            written?;
        }
        let mut counting = writer.finish()?;
        counting
            .flush()
            .map_err(io_err("flush", "package output"))?;
        // Everything is written: too late to cancel.
        let _ = progress(&Progress {
            phase: Phase::Done,
            bytes_done: total,
            bytes_total: total,
            items_done: items_total,
            items_total,
            item: "",
        });
        Ok(ExportReport {
            manifest_digest,
            carried_blobs: manifest.blobs.len(),
            carried_bytes: manifest.carried_bytes,
            omitted_blobs: manifest.omitted.len(),
            omitted_bytes: manifest.omitted_bytes,
            archive_bytes: counting.count,
            files: Vec::new(),
        })
    }

    /// Exports into the file `path`: written as `<path>.partial`, synced,
    /// then renamed, so `path` only ever holds a complete package. When the
    /// export fails or is cancelled (`progress` returned
    /// [`ControlFlow::Break`](std::ops::ControlFlow::Break): the error is
    /// [`MarketError::Cancelled`]), the `.partial` file is removed.
    pub fn export_to_file(
        &self,
        request: &ExportRequest,
        path: &Path,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ExportReport> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = fs::File::create(&partial).map_err(io_err("create", &partial))?;
        let mut out = RecordingWriter {
            inner: io::BufWriter::with_capacity(COPY_BUFFER, file),
            failure: None,
        };
        let finished = self
            .export(request, &mut out, progress)
            .map_err(|e| match out.failure.take() {
                Some(source) => MarketError::Io {
                    action: "write the package to",
                    path: partial.clone(),
                    source,
                },
                None => e,
            })
            .and_then(|report| {
                drop(out);
                let file = fs::File::open(&partial).map_err(io_err("open", &partial))?;
                file.sync_all().map_err(io_err("sync", &partial))?;
                fs::rename(&partial, path).map_err(io_err("rename into", path))?;
                Ok(report)
            });
        let mut report = match finished {
            Ok(report) => report,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(e);
            }
        };
        report.files = vec![path.to_owned()];
        Ok(report)
    }

    /// Exports into parts of at most `part_size` bytes: `<base>.part-000`,
    /// `<base>.part-001`, ... Import them with [`Market::import_parts`].
    /// When the export fails or is cancelled, the parts written so far are
    /// removed.
    pub fn export_to_parts(
        &self,
        request: &ExportRequest,
        base: &Path,
        part_size: u64,
        progress: &mut ProgressCallback<'_>,
    ) -> Result<ExportReport> {
        let dir = match base.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(MarketError::Io {
                action: "write package parts into the directory",
                path: dir.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::NotFound,
                    "no such directory; create it or choose another",
                ),
            });
        }
        let writer = crate::parts::PartWriter::new(base, part_size);
        let mut holder = PartsSink {
            writer: Some(writer),
            failure: None,
        };
        let mut report = match self.export(request, &mut holder, progress) {
            Ok(report) => report,
            Err(e) => {
                let mut attempted = None;
                if let Some(writer) = holder.writer.take() {
                    attempted = writer.attempted().map(Path::to_owned);
                    for path in writer.written() {
                        let _ = fs::remove_file(path);
                    }
                }
                return Err(match holder.failure.take() {
                    Some(source) => MarketError::Io {
                        action: "write the package part",
                        path: attempted.unwrap_or_else(|| base.to_owned()),
                        source,
                    },
                    None => e,
                });
            }
        };
        let writer = holder
            .writer
            .take()
            .ok_or_else(|| MarketError::InvalidExport {
                message: "part writer lost".to_owned(),
            })?;
        report.files = writer.finish().map_err(io_err("write parts at", base))?;
        Ok(report)
    }
}

struct PartsSink {
    writer: Option<crate::parts::PartWriter>,
    /// The first write error, reported with the part's path.
    failure: Option<io::Error>,
}

impl Write for PartsSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("closed")),
        };
        record_failure(result, &mut self.failure)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Keeps the first I/O error of the destination, so that a failed export
/// names the file it could not write rather than the archive entry.
struct RecordingWriter<W> {
    inner: W,
    failure: Option<io::Error>,
}

impl<W: Write> Write for RecordingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        record_failure(result, &mut self.failure)
    }
    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        record_failure(result, &mut self.failure)
    }
}

fn record_failure<T>(result: io::Result<T>, slot: &mut Option<io::Error>) -> io::Result<T> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let copy = io::Error::new(e.kind(), e.to_string());
            if slot.is_none() {
                *slot = Some(e);
            }
            Err(copy)
        }
    }
}
