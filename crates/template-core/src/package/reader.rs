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
    /// Largest zstd window accepted, as a power of two (25: 32 MiB). The
    /// decoder holds a window in memory; `zstd --long` packages need more.
    pub max_zstd_window_log: u32,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        ReaderLimits {
            max_json_bytes: 16 << 20,
            max_signature_bytes: 64 << 10,
            max_total_bytes: 4 << 40,
            max_compression_ratio: 1000,
            ratio_grace_bytes: 64 << 20,
            max_zstd_window_log: 25,
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
/// // One image: a layer and the manifest that refers to it.
/// let layer = b"some layer";
/// let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", layer).unwrap();
/// let (image, image_desc) = artifact_manifest("application/vnd.example", vec![d.clone()], None).unwrap();
/// let named = PackagedImage { name: "example.com/demo:1".into(), manifest: image_desc.clone() };
/// let m = PackageManifest::new("demo", vec![], vec![named], None, vec![d.clone(), image_desc.clone()], vec![]).unwrap();
/// let mut w = PackageWriter::new(Vec::new(), &m, None, WriterOptions::default()).unwrap();
/// w.write_blob(image_desc.digest().as_ref(), &image[..]).unwrap();
/// w.write_blob(d.digest().as_ref(), &layer[..]).unwrap();
/// let bytes = w.finish().unwrap();
///
/// let summary = PackageReader::default().verify(&bytes[..]).unwrap();
/// assert_eq!(summary.blobs_read, 2);
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
    window_log: u32,
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
    let text = printable(&e.to_string());
    if meter.compressed_input.get() && text.contains("too much memory") {
        return PackageError::CompressionWindowTooLarge {
            entry: entry.to_owned(),
            window_log_limit: meter.window_log,
            limit: 1u64 << meter.window_log.min(63),
        };
    }
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

/// Text from a decoder or a hostile archive made fit for a message:
/// control characters and undecodable bytes escaped, and at most a few
/// hundred characters.
pub(crate) fn printable(text: &str) -> String {
    const MAX: usize = 240;
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() || c == char::REPLACEMENT_CHARACTER {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
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

/// An entry name as messages show it: UTF-8 made printable, anything else
/// escaped byte by byte.
fn entry_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(name) => printable(name),
        Err(_) => raw.escape_ascii().to_string(),
    }
}

fn classify(entry_type: tar::EntryType, raw: &[u8]) -> Result<(String, EntryName), PackageError> {
    // The entry type first: an extension header's name (`././@PaxHeader`)
    // says nothing, its type says what it is.
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
            entry: entry_name(raw),
            kind: kind.to_owned(),
        });
    }
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(PackageError::UnsafePath {
            entry: raw.escape_ascii().to_string(),
            reason: "the name is not UTF-8",
        });
    };
    let unsafe_path = |reason| PackageError::UnsafePath {
        entry: printable(name),
        reason,
    };
    if name.is_empty() {
        return Err(unsafe_path("the name is empty"));
    }
    if name.starts_with('/') {
        return Err(unsafe_path("it is an absolute path"));
    }
    if name.contains('\\') || name.contains(':') || name.chars().any(char::is_control) {
        return Err(unsafe_path("it contains `\\`, `:` or a control character"));
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
        message: printable(&e.to_string()),
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
    /// Entry name, digest and references of each carried manifest.
    references: Vec<(String, String, Vec<Descriptor>)>,
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
            window_log: limits.max_zstd_window_log,
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
                .window_log_max(limits.max_zstd_window_log)
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
                message: printable(&e.to_string()),
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
        drop_trailing_zeros(archive.into_inner(), &last_entry, &meter)?;
        let versions = check_closure(&header.manifest, &listed, &index_entries, &collected)?;
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

/// Reads what follows the end-of-archive marker: only zero padding may
/// (tools pad archives to whole records). Anything else is a second
/// package or hidden data.
fn drop_trailing_zeros<R: Read>(
    mut rest: R,
    last_entry: &str,
    meter: &Meter,
) -> Result<(), PackageError> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let before = meter.decompressed.get();
        let n = match rest.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match map_io(&e, "end of archive", meter) {
                    // Undecodable bytes after the last frame.
                    PackageError::Archive { .. } => PackageError::TrailingData {
                        entry: last_entry.to_owned(),
                        offset: before,
                    },
                    other => other,
                });
            }
        };
        if let Some(at) = buf[..n].iter().position(|b| *b != 0) {
            return Err(PackageError::TrailingData {
                entry: last_entry.to_owned(),
                offset: before + at as u64,
            });
        }
    }
}

/// A release state as documents spell it.
fn state_name(state: crate::model::ReleaseState) -> &'static str {
    use crate::model::ReleaseState;
    match state {
        ReleaseState::Draft => "draft",
        ReleaseState::Testing => "testing",
        ReleaseState::Released => "released",
        ReleaseState::Deprecated => "deprecated",
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
        if version.release_state != entry.release_state {
            return Err(inconsistent(
                name,
                &format!(
                    "the document is {} but the manifest says {}",
                    state_name(version.release_state),
                    state_name(entry.release_state)
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
        collected
            .references
            .push((name.to_owned(), digest.to_owned(), refs));
    }
    Ok(())
}

/// Every reference of every carried manifest and version must be carried
/// or omitted, with the size the manifest states.
fn check_closure(
    manifest: &PackageManifest,
    listed: &BTreeMap<String, Descriptor>,
    index_entries: &[Descriptor],
    collected: &Collected,
) -> Result<Vec<TemplateVersion>, PackageError> {
    let mut known: BTreeMap<&str, &Descriptor> = BTreeMap::new();
    for d in manifest.blobs.iter().chain(manifest.omitted.iter()) {
        known.insert(d.digest().as_ref(), d);
    }
    for (entry, _, refs) in &collected.references {
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
    check_version_artifacts(manifest, listed, collected)?;
    check_layout_complete(listed, index_entries, collected)?;
    check_all_referenced(manifest, collected)?;
    Ok(versions)
}

/// Each carried version artifact must name, as its one document layer,
/// exactly the document the package manifest names for that version (the
/// document the reader validated and compared).
fn check_version_artifacts(
    manifest: &PackageManifest,
    listed: &BTreeMap<String, Descriptor>,
    collected: &Collected,
) -> Result<(), PackageError> {
    for v in &manifest.versions {
        let digest = v.artifact.digest().as_ref();
        let Some(carried) = listed.get(digest) else {
            continue;
        };
        let entry = blob_entry_name(digest);
        if !is_manifest_media_type(carried.media_type().as_ref()) {
            return Err(inconsistent(
                &entry,
                &format!(
                    "version {} has this artifact, which the package manifest lists as {} instead of an OCI manifest",
                    v.version,
                    carried.media_type()
                ),
            ));
        }
        let refs = collected
            .references
            .iter()
            .find(|(_, d, _)| d == digest)
            .map(|(_, _, refs)| refs)
            .ok_or_else(|| inconsistent(&entry, "the version artifact was not read"))?;
        let documents: Vec<&Descriptor> = refs
            .iter()
            .filter(|d| d.media_type().as_ref() == VERSION_DOCUMENT_MEDIA_TYPE)
            .collect();
        match documents.as_slice() {
            [only] if only.digest() == v.document.digest() && only.size() == v.document.size() => {}
            _ => {
                let named: Vec<String> = documents.iter().map(|d| d.digest().to_string()).collect();
                return Err(inconsistent(
                    &entry,
                    &format!(
                        "the artifact of version {} names document(s) [{}] but the package manifest names {}; a package must serve the document it declares",
                        v.version,
                        named.join(", "),
                        v.document.digest()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every image or version `index.json` lists must be complete in the
/// package, so standard tools (`skopeo copy oci:...`) can copy it.
fn check_layout_complete(
    listed: &BTreeMap<String, Descriptor>,
    index_entries: &[Descriptor],
    collected: &Collected,
) -> Result<(), PackageError> {
    let refs_of: BTreeMap<&str, &Vec<Descriptor>> = collected
        .references
        .iter()
        .map(|(_, d, refs)| (d.as_str(), refs))
        .collect();
    for top in index_entries {
        let annotations = top.annotations().clone().unwrap_or_default();
        let what = annotations
            .get(ANNOTATION_REF_NAME)
            .or_else(|| annotations.get(ANNOTATION_VERSION))
            .cloned()
            .unwrap_or_else(|| top.digest().to_string());
        let top_digest = top.digest().to_string();
        if !listed
            .get(&top_digest)
            .is_some_and(|d| is_manifest_media_type(d.media_type().as_ref()))
        {
            return Err(inconsistent(
                INDEX_ENTRY,
                &format!(
                    "it lists {what} ({top_digest}), which the package does not carry as a manifest"
                ),
            ));
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut stack = vec![top_digest];
        while let Some(digest) = stack.pop() {
            if digest != EMPTY_DIGEST && !listed.contains_key(&digest) {
                return Err(inconsistent(
                    INDEX_ENTRY,
                    &format!(
                        "it lists {what}, but the package does not carry its blob {digest} (a differential package must leave such images out of its layout)"
                    ),
                ));
            }
            for r in refs_of
                .get(digest.as_str())
                .into_iter()
                .flat_map(|r| r.iter())
            {
                let d = r.digest().to_string();
                if seen.insert(d.clone()) {
                    stack.push(d);
                }
            }
        }
    }
    Ok(())
}

/// A package carries only what its versions and images use: a listed blob
/// nothing refers to is refused (it could smuggle anything under a
/// signature).
fn check_all_referenced(
    manifest: &PackageManifest,
    collected: &Collected,
) -> Result<(), PackageError> {
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    for v in &manifest.versions {
        referenced.insert(v.artifact.digest().to_string());
        referenced.insert(v.document.digest().to_string());
    }
    for image in &manifest.images {
        referenced.insert(image.manifest.digest().to_string());
    }
    for (_, _, refs) in &collected.references {
        referenced.extend(refs.iter().map(|d| d.digest().to_string()));
    }
    for doc in collected.documents.values() {
        referenced.extend(version_references(doc).into_iter().map(|(_, d)| d));
    }
    for d in &manifest.blobs {
        if !referenced.contains(d.digest().as_ref()) {
            return Err(inconsistent(
                &blob_entry_name(d.digest().as_ref()),
                "the package manifest lists this blob but no version, image or manifest of the package refers to it; refusing the package",
            ));
        }
    }
    Ok(())
}
