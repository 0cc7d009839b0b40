//! [`PackageReader`]: reads a package from any [`Read`] in one pass,
//! handing each blob to a [`PackageSink`] as a stream while checking its
//! sha256 and size, and refusing hostile archives with a typed error that
//! names the entry.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, OciLayout};
use sha2::{Digest as _, Sha256};

use super::error::PackageError;
use super::format::*;
use super::manifest::{
    PackageManifest, blob_entry_name, manifest_references, sha256_hex, sha256_of,
    version_references,
};
use super::writer::PackageSignature;
use crate::model::TemplateVersion;

/// Bounds the reader enforces on untrusted packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Largest JSON entry (index, manifests, version documents) accepted.
    pub max_json_bytes: u64,
    /// Largest signature blob accepted.
    pub max_signature_bytes: u64,
    /// Most bytes the archive may decompress to, whatever its manifest says.
    pub max_total_bytes: u64,
    /// Largest accepted ratio of decompressed to compressed bytes...
    pub max_compression_ratio: u64,
    /// ...once this many bytes have been decompressed (small headers
    /// compress very well and are bounded by the JSON limit anyway).
    pub ratio_grace_bytes: u64,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_json_bytes: 16 << 20,
            max_signature_bytes: 64 << 10,
            max_total_bytes: 4 << 40,
            max_compression_ratio: 1000,
            ratio_grace_bytes: 64 << 20,
        }
    }
}

/// The package header: everything known before the first content blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHeader {
    /// The parsed package manifest.
    pub manifest: PackageManifest,
    /// Its exact bytes (what a signature signs).
    pub manifest_bytes: Vec<u8>,
    /// Digest of the manifest bytes.
    pub manifest_digest: String,
    /// The detached signature, if the package carries one.
    pub signature: Option<PackageSignature>,
    /// Whether the archive was zstd-compressed.
    pub compressed: bool,
}

/// Receives what a [`PackageReader`] reads. The reader verifies every blob
/// whatever the sink does with it; a sink that stores blobs must consider a
/// blob valid only once reading it returned end-of-file without error.
pub trait PackageSink {
    /// The sink's error type; reader errors convert into it.
    type Error: From<PackageError>;

    /// Called once the header is read and checked, before any content
    /// blob. Returning an error stops reading (e.g. an untrusted signature,
    /// a missing base, too little free space).
    fn header(&mut self, header: &PackageHeader) -> Result<(), Self::Error>;

    /// Called for every content blob in archive order. The sink may read
    /// `data` fully, partly or not at all; the reader drains and verifies
    /// the rest afterwards.
    fn blob(
        &mut self,
        descriptor: &Descriptor,
        data: &mut BlobReader<'_>,
    ) -> Result<(), Self::Error>;
}

/// What a completed read found.
#[derive(Debug, Clone)]
pub struct PackageSummary {
    /// The header.
    pub header: PackageHeader,
    /// The template versions whose documents the package carries, checked
    /// and valid, in manifest order.
    pub versions: Vec<TemplateVersion>,
    /// Content blobs read and verified.
    pub blobs_read: usize,
    /// Bytes of archive after decompression.
    pub archive_bytes: u64,
    /// Bytes of input read (compressed size).
    pub input_bytes: u64,
}

/// Reads packages. See the module documentation for what it refuses.
///
/// ```
/// use template_core::package::*;
/// let layer = b"some layer";
/// let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", layer).unwrap();
/// let m = PackageManifest::new("demo", vec![], vec![], None, vec![d.clone()], vec![]).unwrap();
/// let mut w = PackageWriter::new(Vec::new(), &m, None, WriterOptions::default()).unwrap();
/// w.write_blob(d.digest().as_ref(), &layer[..]).unwrap();
/// let bytes = w.finish().unwrap();
///
/// let summary = PackageReader::default().verify(&bytes[..]).unwrap();
/// assert_eq!(summary.blobs_read, 1);
///
/// let mut tampered = bytes.clone();
/// let n = tampered.len();
/// tampered[n / 2] ^= 1;
/// assert!(PackageReader::default().verify(&tampered[..]).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PackageReader {
    limits: ReaderLimits,
}

/// Counters shared by the metering wrappers around the decompressor.
#[derive(Debug)]
struct Meter {
    compressed: Cell<u64>,
    decompressed: Cell<u64>,
    cap: Cell<u64>,
    cap_reason: RefCell<String>,
    ratio: u64,
    grace: u64,
    compressed_input: Cell<bool>,
    tripped: RefCell<Option<String>>,
}

struct CountIn<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for CountIn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter
            .compressed
            .set(self.meter.compressed.get() + n as u64);
        Ok(n)
    }
}

struct CountOut<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for CountOut<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.meter.tripped.borrow().is_some() {
            return Err(io::Error::other("decompression limit exceeded"));
        }
        let n = self.inner.read(buf)?;
        let m = &self.meter;
        let out = m.decompressed.get() + n as u64;
        m.decompressed.set(out);
        let mut trip = None;
        if out > m.cap.get() {
            trip = Some(m.cap_reason.borrow().clone());
        } else if m.compressed_input.get()
            && out > m.grace
            && out / m.ratio.max(1) > m.compressed.get()
        {
            trip = Some(format!("the ratio limit of {}:1", m.ratio));
        }
        if let Some(reason) = trip {
            *m.tripped.borrow_mut() = Some(reason);
            return Err(io::Error::other("decompression limit exceeded"));
        }
        Ok(n)
    }
}

fn map_io(e: &io::Error, entry: &str, meter: &Meter) -> PackageError {
    if let Some(limit) = meter.tripped.borrow().clone() {
        return PackageError::DecompressionBomb {
            entry: entry.to_owned(),
            decompressed: meter.decompressed.get(),
            compressed: meter.compressed.get(),
            limit,
        };
    }
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("incomplete")
        || text.contains("unexpected end")
        || text.contains("failed to fill whole buffer")
    {
        PackageError::Truncated {
            entry: entry.to_owned(),
            detail: text,
        }
    } else {
        PackageError::Archive {
            entry: entry.to_owned(),
            message: text,
        }
    }
}

/// A blob's bytes as they come out of the archive, hashed and counted.
/// Reading returns an error instead of the last bytes when the blob turns
/// out to be corrupt, and end-of-file only once it is verified.
pub struct BlobReader<'a> {
    inner: &'a mut dyn Read,
    meter: &'a Meter,
    entry: String,
    expected_digest: String,
    size: u64,
    seen: u64,
    hasher: Sha256,
    capture: Option<Vec<u8>>,
    failure: Option<PackageError>,
    verified: bool,
}

impl std::fmt::Debug for BlobReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("entry", &self.entry)
            .field("size", &self.size)
            .field("seen", &self.seen)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl BlobReader<'_> {
    /// The archive entry being read.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.seen
    }

    /// Whether every byte was read and matched the digest.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    fn fail(&mut self, error: PackageError) -> io::Error {
        let e = io::Error::new(io::ErrorKind::InvalidData, error.to_string());
        self.failure = Some(error);
        e
    }

    fn finalize(&mut self) -> Result<(), io::Error> {
        let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
        if actual != self.expected_digest {
            let error = PackageError::DigestMismatch {
                entry: self.entry.clone(),
                expected: self.expected_digest.clone(),
                actual,
            };
            return Err(self.fail(error));
        }
        self.verified = true;
        Ok(())
    }

    fn drain(&mut self) {
        let mut scratch = vec![0u8; 64 << 10];
        loop {
            match self.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(f) = &self.failure {
            return Err(io::Error::new(io::ErrorKind::InvalidData, f.to_string()));
        }
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        let remaining = self.size - self.seen;
        if remaining == 0 {
            self.finalize()?;
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let error = map_io(&e, &self.entry, self.meter);
                return Err(self.fail(error));
            }
        };
        if n == 0 {
            let error = PackageError::Truncated {
                entry: self.entry.clone(),
                detail: format!("the entry ends after {} of {} bytes", self.seen, self.size),
            };
            return Err(self.fail(error));
        }
        self.hasher.update(&buf[..n]);
        if let Some(c) = self.capture.as_mut() {
            c.extend_from_slice(&buf[..n]);
        }
        self.seen += n as u64;
        if self.seen == self.size {
            self.finalize()?;
        }
        Ok(n)
    }
}

enum EntryName {
    Layout,
    Index,
    Dir(String),
    Blob(String),
}

fn classify(entry_type: tar::EntryType, raw: &[u8]) -> Result<(String, EntryName), PackageError> {
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(PackageError::UnsafePath {
            entry: String::from_utf8_lossy(raw).into_owned(),
            reason: "the name is not UTF-8",
        });
    };
    let unsafe_path = |reason| PackageError::UnsafePath {
        entry: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(unsafe_path("the name is empty"));
    }
    if name.starts_with('/') {
        return Err(unsafe_path("it is an absolute path"));
    }
    if name.contains('\\') || name.contains(':') || name.contains('\0') {
        return Err(unsafe_path("it contains `\\`, `:` or NUL"));
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    for part in trimmed.split('/') {
        match part {
            ".." => return Err(unsafe_path("it contains a `..` component")),
            "." => return Err(unsafe_path("it contains a `.` component")),
            "" => return Err(unsafe_path("it contains an empty component")),
            _ => {}
        }
    }
    let kind = match entry_type {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Directory => None,
        tar::EntryType::Symlink => Some("symbolic link"),
        tar::EntryType::Link => Some("hard link"),
        tar::EntryType::Char => Some("character device"),
        tar::EntryType::Block => Some("block device"),
        tar::EntryType::Fifo => Some("FIFO"),
        tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => Some("pax extended header"),
        tar::EntryType::GNULongName | tar::EntryType::GNULongLink => Some("GNU long-name header"),
        tar::EntryType::GNUSparse => Some("sparse file"),
        _ => Some("entry of an unknown type"),
    };
    if let Some(kind) = kind {
        return Err(PackageError::ForbiddenEntryType {
            entry: name.to_owned(),
            kind: kind.to_owned(),
        });
    }
    let is_dir = entry_type == tar::EntryType::Directory;
    let undefined = |detail: &str| PackageError::UndefinedEntry {
        entry: name.to_owned(),
        detail: detail.to_owned(),
    };
    if is_dir {
        return match trimmed {
            "blobs" | "blobs/sha256" => {
                Ok((name.to_owned(), EntryName::Dir(format!("{trimmed}/"))))
            }
            _ => Err(undefined(
                "the only directories are `blobs/` and `blobs/sha256/`",
            )),
        };
    }
    match trimmed {
        OCI_LAYOUT_ENTRY => Ok((name.to_owned(), EntryName::Layout)),
        INDEX_ENTRY => Ok((name.to_owned(), EntryName::Index)),
        _ => match trimmed.strip_prefix(BLOB_PREFIX) {
            Some(hex) if sha256_hex(&format!("sha256:{hex}")).is_some() && !name.ends_with('/') => {
                Ok((name.to_owned(), EntryName::Blob(format!("sha256:{hex}"))))
            }
            Some(_) => Err(undefined("blob names are 64 lowercase hex digits")),
            None => Err(undefined("not `oci-layout`, `index.json` or a blob")),
        },
    }
}

/// Reads a whole small entry, checking its size and digest.
fn read_small<R: Read>(
    entry: &mut R,
    name: &str,
    declared: u64,
    limit: u64,
    expected_digest: Option<&str>,
    meter: &Meter,
) -> Result<Vec<u8>, PackageError> {
    if declared > limit {
        return Err(PackageError::JsonTooLarge {
            entry: name.to_owned(),
            size: declared,
            limit,
        });
    }
    let mut bytes = Vec::new();
    entry
        .take(declared)
        .read_to_end(&mut bytes)
        .map_err(|e| map_io(&e, name, meter))?;
    if bytes.len() as u64 != declared {
        return Err(PackageError::Truncated {
            entry: name.to_owned(),
            detail: format!("the entry ends after {} of {declared} bytes", bytes.len()),
        });
    }
    if let Some(expected) = expected_digest {
        let actual = sha256_of(&bytes);
        if actual != expected {
            return Err(PackageError::DigestMismatch {
                entry: name.to_owned(),
                expected: expected.to_owned(),
                actual,
            });
        }
    }
    Ok(bytes)
}

fn parse_json<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, PackageError> {
    serde_json::from_slice(bytes).map_err(|e| PackageError::InvalidJson {
        entry: name.to_owned(),
        what,
        message: e.to_string(),
    })
}

fn artifact_type_of(d: &Descriptor) -> Option<String> {
    d.artifact_type().as_ref().map(|t| t.to_string())
}

/// Header parsing state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Layout,
    Index,
    PackageArtifact,
    PackageManifest,
    Empty,
    SignatureArtifact,
    Signature,
    Body,
}

/// A sink that keeps nothing: reading with it verifies a package.
#[derive(Debug, Default)]
struct Discard;

impl PackageSink for Discard {
    type Error = PackageError;
    fn header(&mut self, _: &PackageHeader) -> Result<(), PackageError> {
        Ok(())
    }
    fn blob(&mut self, _: &Descriptor, _: &mut BlobReader<'_>) -> Result<(), PackageError> {
        Ok(())
    }
}

/// Facts collected from metadata blobs, checked at the end.
#[derive(Default)]
struct Collected {
    /// Entry name → references of each carried manifest.
    references: Vec<(String, Vec<Descriptor>)>,
    /// Document digest → parsed version.
    documents: BTreeMap<String, TemplateVersion>,
}

impl PackageReader {
    /// A reader with these limits.
    pub fn new(limits: ReaderLimits) -> Self {
        PackageReader { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ReaderLimits {
        &self.limits
    }

    /// Reads and verifies a whole package, keeping nothing.
    pub fn verify<R: Read>(&self, source: R) -> Result<PackageSummary, PackageError> {
        self.read(source, &mut Discard)
    }

    /// Reads a package into `sink`. Plain tar and zstd-compressed tar are
    /// told apart by their first bytes.
    pub fn read<R: Read, S: PackageSink>(
        &self,
        source: R,
        sink: &mut S,
    ) -> Result<PackageSummary, S::Error> {
        let limits = self.limits;
        let header_budget = limits
            .max_json_bytes
            .saturating_mul(3)
            .saturating_add(limits.max_signature_bytes.saturating_mul(2))
            .saturating_add(1 << 20);
        let meter = Rc::new(Meter {
            compressed: Cell::new(0),
            decompressed: Cell::new(0),
            cap: Cell::new(header_budget.min(limits.max_total_bytes)),
            cap_reason: RefCell::new(format!(
                "the {header_budget} bytes a package header may take"
            )),
            ratio: limits.max_compression_ratio,
            grace: limits.ratio_grace_bytes,
            compressed_input: Cell::new(false),
            tripped: RefCell::new(None),
        });
        let mut buffered = BufReader::with_capacity(
            256 << 10,
            CountIn {
                inner: source,
                meter: Rc::clone(&meter),
            },
        );
        let first = buffered
            .fill_buf()
            .map_err(|e| map_io(&e, "start of archive", &meter))?;
        if first.is_empty() {
            return Err(PackageError::Truncated {
                entry: "start of archive".to_owned(),
                detail: "the input is empty".to_owned(),
            }
            .into());
        }
        let compressed = first.starts_with(&ZSTD_MAGIC);
        let stream: Box<dyn Read + '_> = if compressed {
            meter.compressed_input.set(true);
            let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| map_io(&e, "start of archive", &meter))?;
            // Bounds the decoder's window memory whatever the frame asks for.
            decoder
                .window_log_max(25)
                .map_err(|e| map_io(&e, "start of archive", &meter))?;
            Box::new(decoder)
        } else {
            Box::new(buffered)
        };
        let mut archive = tar::Archive::new(CountOut {
            inner: stream,
            meter: Rc::clone(&meter),
        });
        let entries = archive
            .entries()
            .map_err(|e| map_io(&e, "start of archive", &meter))?
            .raw(true);

        let mut stage = Stage::Layout;
        let mut last_entry = "start of archive".to_owned();
        let mut seen_dirs: BTreeSet<String> = BTreeSet::new();
        let mut package_artifact: Option<Descriptor> = None;
        let mut signature_artifact: Option<Descriptor> = None;
        let mut manifest_desc: Option<Descriptor> = None;
        let mut signature_desc: Option<Descriptor> = None;
        let mut manifest: Option<(PackageManifest, Vec<u8>)> = None;
        let mut signature: Option<PackageSignature> = None;
        let mut header: Option<PackageHeader> = None;
        let mut index_entries: Vec<Descriptor> = Vec::new();
        let mut listed: BTreeMap<String, Descriptor> = BTreeMap::new();
        let mut seen_blobs: BTreeSet<String> = BTreeSet::new();
        let mut collected = Collected::default();
        let mut blobs_read = 0usize;

        for item in entries {
            let mut entry = item.map_err(|e| map_io(&e, &last_entry, &meter))?;
            let entry_type = entry.header().entry_type();
            let (name, kind) = classify(entry_type, &entry.path_bytes())?;
            last_entry = name.clone();
            let declared = entry.header().size().map_err(|e| PackageError::Archive {
                entry: name.clone(),
                message: e.to_string(),
            })?;
            match (stage, kind) {
                (Stage::Layout, EntryName::Layout) => {
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_json_bytes,
                        None,
                        &meter,
                    )?;
                    let layout: OciLayout = parse_json(&name, "an OCI layout marker", &bytes)?;
                    if layout.image_layout_version() != OCI_LAYOUT_VERSION {
                        return Err(PackageError::UnsupportedFormat {
                            entry: name,
                            found: layout.image_layout_version().clone(),
                            supported: OCI_LAYOUT_VERSION.to_owned(),
                        }
                        .into());
                    }
                    stage = Stage::Index;
                }
                (Stage::Layout, _) => {
                    return Err(PackageError::OutOfOrder {
                        entry: name,
                        expected: "`oci-layout` as the first entry".to_owned(),
                    }
                    .into());
                }
                (Stage::Index, EntryName::Index) => {
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_json_bytes,
                        None,
                        &meter,
                    )?;
                    let index: ImageIndex = parse_json(&name, "an OCI image index", &bytes)?;
                    for d in index.manifests() {
                        match artifact_type_of(d).as_deref() {
                            Some(PACKAGE_ARTIFACT_TYPE) => {
                                if package_artifact.replace(d.clone()).is_some() {
                                    return Err(inconsistent(
                                        &name,
                                        "it lists two package manifests",
                                    )
                                    .into());
                                }
                            }
                            Some(SIGNATURE_ARTIFACT_TYPE) => {
                                if signature_artifact.replace(d.clone()).is_some() {
                                    return Err(
                                        inconsistent(&name, "it lists two signatures").into()
                                    );
                                }
                            }
                            _ => index_entries.push(d.clone()),
                        }
                    }
                    if package_artifact.is_none() {
                        return Err(inconsistent(
                            &name,
                            "it lists no package manifest (artifactType application/vnd.apptemplate.package.v1+json); this is an OCI layout but not a template package",
                        )
                        .into());
                    }
                    stage = Stage::PackageArtifact;
                }
                (Stage::Index, _) => {
                    return Err(PackageError::OutOfOrder {
                        entry: name,
                        expected: "`index.json` as the second entry".to_owned(),
                    }
                    .into());
                }
                (_, EntryName::Dir(dir)) => {
                    if !seen_dirs.insert(dir) {
                        return Err(PackageError::DuplicateEntry { entry: name }.into());
                    }
                }
                (_, EntryName::Layout) | (_, EntryName::Index) => {
                    return Err(PackageError::DuplicateEntry { entry: name }.into());
                }
                (Stage::PackageArtifact, EntryName::Blob(digest)) => {
                    let expected = package_artifact
                        .as_ref()
                        .ok_or_else(|| inconsistent(INDEX_ENTRY, "no package manifest"))?;
                    check_header_blob(&name, &digest, declared, expected)?;
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_json_bytes,
                        Some(&digest),
                        &meter,
                    )?;
                    let art: ImageManifest = parse_json(&name, "an OCI artifact manifest", &bytes)?;
                    manifest_desc = Some(single_layer(&name, &art, PACKAGE_MANIFEST_MEDIA_TYPE)?);
                    seen_blobs.insert(digest);
                    stage = Stage::PackageManifest;
                }
                (Stage::PackageManifest, EntryName::Blob(digest)) => {
                    let expected = manifest_desc
                        .as_ref()
                        .ok_or_else(|| inconsistent(INDEX_ENTRY, "no package manifest"))?;
                    check_header_blob(&name, &digest, declared, expected)?;
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_json_bytes,
                        Some(&digest),
                        &meter,
                    )?;
                    let parsed = PackageManifest::from_bytes(&name, &bytes)?;
                    for d in &parsed.blobs {
                        if listed.insert(d.digest().to_string(), d.clone()).is_some() {
                            return Err(inconsistent(
                                &name,
                                &format!("blob {} is listed twice", d.digest()),
                            )
                            .into());
                        }
                        if sha256_hex(d.digest().as_ref()).is_none() {
                            return Err(inconsistent(
                                &name,
                                &format!("blob digest {} is not sha256", d.digest()),
                            )
                            .into());
                        }
                    }
                    manifest = Some((parsed, bytes));
                    seen_blobs.insert(digest);
                    stage = Stage::Empty;
                }
                (Stage::Empty, EntryName::Blob(digest)) => {
                    if digest != EMPTY_DIGEST {
                        return Err(PackageError::OutOfOrder {
                            entry: name,
                            expected: format!("the empty blob {}", blob_entry_name(EMPTY_DIGEST)),
                        }
                        .into());
                    }
                    read_small(&mut entry, &name, declared, 2, Some(EMPTY_DIGEST), &meter)?;
                    seen_blobs.insert(digest);
                    stage = if signature_artifact.is_some() {
                        Stage::SignatureArtifact
                    } else {
                        Stage::Body
                    };
                }
                (Stage::SignatureArtifact, EntryName::Blob(digest)) => {
                    let expected = signature_artifact
                        .as_ref()
                        .ok_or_else(|| inconsistent(INDEX_ENTRY, "no signature"))?;
                    check_header_blob(&name, &digest, declared, expected)?;
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_json_bytes,
                        Some(&digest),
                        &meter,
                    )?;
                    let art: ImageManifest = parse_json(&name, "an OCI artifact manifest", &bytes)?;
                    let subject_ok = match (art.subject(), package_artifact.as_ref()) {
                        (Some(s), Some(p)) => s.digest() == p.digest(),
                        _ => false,
                    };
                    if !subject_ok {
                        return Err(inconsistent(
                            &name,
                            "the signature's subject is not this package's manifest",
                        )
                        .into());
                    }
                    let layer = art.layers().first().cloned().ok_or_else(|| {
                        inconsistent(&name, "the signature artifact has no layer")
                    })?;
                    if art.layers().len() != 1 {
                        return Err(inconsistent(
                            &name,
                            "the signature artifact must have exactly one layer",
                        )
                        .into());
                    }
                    signature_desc = Some(layer);
                    seen_blobs.insert(digest);
                    stage = Stage::Signature;
                }
                (Stage::Signature, EntryName::Blob(digest)) => {
                    let expected = signature_desc
                        .as_ref()
                        .ok_or_else(|| inconsistent(INDEX_ENTRY, "no signature"))?;
                    check_header_blob(&name, &digest, declared, expected)?;
                    let bytes = read_small(
                        &mut entry,
                        &name,
                        declared,
                        limits.max_signature_bytes,
                        Some(&digest),
                        &meter,
                    )?;
                    signature = Some(PackageSignature {
                        media_type: expected.media_type().to_string(),
                        bytes,
                    });
                    seen_blobs.insert(digest);
                    stage = Stage::Body;
                }
                (Stage::Body, EntryName::Blob(digest)) => {
                    if header.is_none() {
                        let h = self.finish_header(
                            &mut manifest,
                            &mut signature,
                            &index_entries,
                            &listed,
                            compressed,
                            &meter,
                        )?;
                        sink.header(&h)?;
                        header = Some(h);
                    }
                    let Some(descriptor) = listed.get(&digest) else {
                        return Err(if seen_blobs.contains(&digest) {
                            PackageError::DuplicateEntry { entry: name }
                        } else {
                            PackageError::UndefinedEntry {
                                entry: name,
                                detail: "the package manifest does not list this blob".to_owned(),
                            }
                        }
                        .into());
                    };
                    if !seen_blobs.insert(digest.clone()) {
                        return Err(PackageError::DuplicateEntry { entry: name }.into());
                    }
                    if declared != descriptor.size() {
                        return Err(PackageError::SizeMismatch {
                            entry: name,
                            expected: descriptor.size(),
                            actual: declared,
                        }
                        .into());
                    }
                    let media_type = descriptor.media_type().to_string();
                    let metadata = is_metadata_media_type(&media_type);
                    if metadata && declared > limits.max_json_bytes {
                        return Err(PackageError::JsonTooLarge {
                            entry: name,
                            size: declared,
                            limit: limits.max_json_bytes,
                        }
                        .into());
                    }
                    let mut blob = BlobReader {
                        inner: &mut entry,
                        meter: &meter,
                        entry: name.clone(),
                        expected_digest: digest.clone(),
                        size: declared,
                        seen: 0,
                        hasher: Sha256::new(),
                        capture: metadata.then(Vec::new),
                        failure: None,
                        verified: false,
                    };
                    let outcome = sink.blob(descriptor, &mut blob);
                    blob.drain();
                    if let Some(failure) = blob.failure.take() {
                        return Err(failure.into());
                    }
                    outcome?;
                    if !blob.verified {
                        return Err(PackageError::Truncated {
                            entry: name,
                            detail: "the blob could not be read to its end".to_owned(),
                        }
                        .into());
                    }
                    if let Some(bytes) = blob.capture.take() {
                        collect_metadata(
                            &name,
                            &digest,
                            &media_type,
                            &bytes,
                            header.as_ref(),
                            &limits,
                            &mut collected,
                        )?;
                    }
                    blobs_read += 1;
                }
            }
        }

        if header.is_none() {
            if stage != Stage::Body {
                return Err(PackageError::Truncated {
                    entry: last_entry,
                    detail: "the archive ends inside the package header".to_owned(),
                }
                .into());
            }
            let h = self.finish_header(
                &mut manifest,
                &mut signature,
                &index_entries,
                &listed,
                compressed,
                &meter,
            )?;
            sink.header(&h)?;
            header = Some(h);
        }
        let header = header.ok_or_else(|| PackageError::Truncated {
            entry: last_entry.clone(),
            detail: "no package header".to_owned(),
        })?;
        let missing: Vec<&String> = listed.keys().filter(|d| !seen_blobs.contains(*d)).collect();
        if let Some(first) = missing.first() {
            return Err(PackageError::MissingBlobs {
                count: missing.len(),
                first: blob_entry_name(first),
            }
            .into());
        }
        let versions = check_closure(&header.manifest, &listed, &collected)?;
        Ok(PackageSummary {
            header,
            versions,
            blobs_read,
            archive_bytes: meter.decompressed.get(),
            input_bytes: meter.compressed.get(),
        })
    }

    /// Checks the header against `index.json` and sets the size cap.
    fn finish_header(
        &self,
        manifest: &mut Option<(PackageManifest, Vec<u8>)>,
        signature: &mut Option<PackageSignature>,
        index_entries: &[Descriptor],
        listed: &BTreeMap<String, Descriptor>,
        compressed: bool,
        meter: &Meter,
    ) -> Result<PackageHeader, PackageError> {
        let (manifest, manifest_bytes) =
            manifest.take().ok_or_else(|| PackageError::Truncated {
                entry: INDEX_ENTRY.to_owned(),
                detail: "the package manifest never came".to_owned(),
            })?;
        for d in index_entries {
            match listed.get(d.digest().as_ref()) {
                Some(l) if l.size() == d.size() => {}
                _ => {
                    return Err(inconsistent(
                        INDEX_ENTRY,
                        &format!(
                            "it lists {} which the package manifest does not carry",
                            d.digest()
                        ),
                    ));
                }
            }
        }
        let known = manifest.known_digests();
        for v in &manifest.versions {
            for d in [&v.artifact, &v.document] {
                if !known.contains(d.digest().as_ref()) {
                    return Err(inconsistent(
                        &blob_entry_name(&sha256_of(&manifest_bytes)),
                        &format!(
                            "version {} refers to {} which is neither carried nor omitted",
                            v.version,
                            d.digest()
                        ),
                    ));
                }
            }
        }
        // Past the header, the archive can only hold what the manifest
        // declares plus tar framing; anything more is a bomb.
        let framing = (manifest.blobs.len() as u64 + 16).saturating_mul(1536) + (64 << 10);
        let cap = meter
            .decompressed
            .get()
            .saturating_add(manifest.carried_bytes)
            .saturating_add(framing)
            .min(self.limits.max_total_bytes);
        meter.cap.set(cap);
        *meter.cap_reason.borrow_mut() = format!(
            "the {} bytes the package manifest declares (plus tar framing)",
            manifest.carried_bytes
        );
        let manifest_digest = sha256_of(&manifest_bytes);
        Ok(PackageHeader {
            manifest,
            manifest_bytes,
            manifest_digest,
            signature: signature.take(),
            compressed,
        })
    }
}

fn inconsistent(entry: &str, detail: &str) -> PackageError {
    PackageError::Inconsistent {
        entry: entry.to_owned(),
        detail: detail.to_owned(),
    }
}

fn check_header_blob(
    name: &str,
    digest: &str,
    declared: u64,
    expected: &Descriptor,
) -> Result<(), PackageError> {
    if digest != expected.digest().as_ref() {
        return Err(PackageError::OutOfOrder {
            entry: name.to_owned(),
            expected: blob_entry_name(expected.digest().as_ref()),
        });
    }
    if declared != expected.size() {
        return Err(PackageError::SizeMismatch {
            entry: name.to_owned(),
            expected: expected.size(),
            actual: declared,
        });
    }
    Ok(())
}

fn single_layer(
    name: &str,
    art: &ImageManifest,
    media_type: &str,
) -> Result<Descriptor, PackageError> {
    match art.layers().as_slice() {
        [only] if only.media_type().to_string() == media_type => Ok(only.clone()),
        _ => Err(inconsistent(
            name,
            &format!("the artifact must have exactly one layer of type {media_type}"),
        )),
    }
}

fn collect_metadata(
    name: &str,
    digest: &str,
    media_type: &str,
    bytes: &[u8],
    header: Option<&PackageHeader>,
    limits: &ReaderLimits,
    collected: &mut Collected,
) -> Result<(), PackageError> {
    if media_type == VERSION_DOCUMENT_MEDIA_TYPE {
        let options = crate::LoadOptions {
            max_bytes: usize::try_from(limits.max_json_bytes).unwrap_or(usize::MAX),
        };
        let document = |source: crate::Error| PackageError::Document {
            entry: name.to_owned(),
            source: Box::new(source),
        };
        let version = crate::load(bytes, crate::Format::Json, options).map_err(document)?;
        crate::ensure_valid(&version).map_err(document)?;
        let content = crate::content_digest(&version).map_err(document)?;
        let Some(header) = header else {
            return Err(inconsistent(name, "a document before the header"));
        };
        let entry = header
            .manifest
            .versions
            .iter()
            .find(|v| v.document.digest().as_ref() == digest)
            .ok_or_else(|| {
                inconsistent(
                    name,
                    "no version in the package manifest uses this document",
                )
            })?;
        if version.template.id != header.manifest.template || version.version != entry.version {
            return Err(inconsistent(
                name,
                &format!(
                    "the document is {} {} but the manifest says {} {}",
                    version.template.id, version.version, header.manifest.template, entry.version
                ),
            ));
        }
        if content != entry.content_digest {
            return Err(inconsistent(
                name,
                &format!(
                    "its content digest is {content} but the manifest says {}",
                    entry.content_digest
                ),
            ));
        }
        collected.documents.insert(digest.to_owned(), version);
    } else {
        let refs = manifest_references(media_type, bytes).map_err(|message| {
            PackageError::InvalidJson {
                entry: name.to_owned(),
                what: "an OCI manifest",
                message,
            }
        })?;
        collected.references.push((name.to_owned(), refs));
    }
    Ok(())
}

/// Every reference of every carried manifest and version must be carried
/// or omitted, with the size the manifest states.
fn check_closure(
    manifest: &PackageManifest,
    listed: &BTreeMap<String, Descriptor>,
    collected: &Collected,
) -> Result<Vec<TemplateVersion>, PackageError> {
    let mut known: BTreeMap<&str, &Descriptor> = BTreeMap::new();
    for d in manifest.blobs.iter().chain(manifest.omitted.iter()) {
        known.insert(d.digest().as_ref(), d);
    }
    for (entry, refs) in &collected.references {
        for r in refs {
            let digest = r.digest().as_ref();
            if digest == EMPTY_DIGEST {
                continue;
            }
            match known.get(digest) {
                Some(k) if k.size() == r.size() => {}
                Some(k) => {
                    return Err(inconsistent(
                        entry,
                        &format!(
                            "it references {digest} with size {} but the package manifest says {}",
                            r.size(),
                            k.size()
                        ),
                    ));
                }
                None => {
                    return Err(inconsistent(
                        entry,
                        &format!(
                            "it references {digest}, which the package neither carries nor lists as omitted"
                        ),
                    ));
                }
            }
        }
    }
    let mut versions = Vec::new();
    for v in &manifest.versions {
        let Some(doc) = collected.documents.get(v.document.digest().as_ref()) else {
            if listed.contains_key(v.document.digest().as_ref()) {
                return Err(inconsistent(
                    &blob_entry_name(v.document.digest().as_ref()),
                    "the version document was not read",
                ));
            }
            continue;
        };
        let entry = blob_entry_name(v.document.digest().as_ref());
        for (path, digest) in version_references(doc) {
            match known.get(digest.as_str()) {
                None => {
                    return Err(inconsistent(
                        &entry,
                        &format!(
                            "{path} references {digest}, which the package neither carries nor lists as omitted"
                        ),
                    ));
                }
                Some(d)
                    if path.ends_with(".image")
                        && !is_manifest_media_type(d.media_type().as_ref()) =>
                {
                    return Err(inconsistent(
                        &entry,
                        &format!(
                            "{path} references {digest}, which the package lists as {} instead of an image manifest",
                            d.media_type()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        versions.push(doc.clone());
    }
    Ok(versions)
}
