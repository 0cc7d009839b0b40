//! [`PackageReader`]: reads a package from any [`Read`] in one pass,
//! handing each blob to a [`PackageSink`] as a stream while checking its
//! sha256 and size, and refusing hostile archives with a typed error that
//! names the entry.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, OciLayout};

use super::format::*;
use super::manifest::{
    PackageManifest, blob_entry_name, manifest_references, sha256_hex, sha256_of,
    version_references,
};
use super::verify::VerifyingReader;
use super::writer::PackageSignature;
use crate::error::PackageError;
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
    /// Updated by the input side, which may run on another thread.
    compressed: Arc<AtomicU64>,
    decompressed: Cell<u64>,
    cap: Cell<u64>,
    cap_reason: RefCell<String>,
    ratio: u64,
    grace: u64,
    compressed_input: Cell<bool>,
    tripped: RefCell<Option<String>>,
    window_log: u32,
}

/// Counts input bytes. It holds only the shared counter so that the
/// decompressing side can move to another thread.
struct CountIn<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
}

impl<R: Read> Read for CountIn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.compressed.fetch_add(n as u64, Ordering::Relaxed);
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
            && out / m.ratio.max(1) > m.compressed.load(Ordering::Relaxed)
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
            compressed: meter.compressed.load(Ordering::Relaxed),
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
    inner: VerifyingReader<&'a mut dyn Read>,
    meter: &'a Meter,
    entry: String,
    expected_digest: String,
    capture: Option<Vec<u8>>,
    failure: Option<PackageError>,
    verified: bool,
}

impl std::fmt::Debug for BlobReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("entry", &self.entry)
            .field("size", &self.inner.expected_size().unwrap_or(0))
            .field("seen", &self.inner.bytes_read())
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
        self.inner.bytes_read()
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
        if let Err(error) = self.inner.check_digest(&self.entry, &self.expected_digest) {
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
        if self.inner.remaining() == 0 {
            self.finalize()?;
            return Ok(0);
        }
        let n = match self.inner.read(buf) {
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
                detail: format!(
                    "the entry ends after {} of {} bytes",
                    self.inner.bytes_read(),
                    self.inner.expected_size().unwrap_or(0)
                ),
            };
            return Err(self.fail(error));
        }
        if let Some(c) = self.capture.as_mut() {
            c.extend_from_slice(&buf[..n]);
        }
        if self.inner.remaining() == 0 {
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
        let meter = Rc::new(self.meter());
        let (stream, compressed) = open_archive(source, &meter, |decoder| {
            Ok(Box::new(decoder) as Box<dyn Read>)
        })?;
        self.read_archive(stream, compressed, &meter, sink)
    }

    /// Like [`read`](Self::read), but hands the zstd decoder to `decode`,
    /// which may run it elsewhere: on another thread, passing what it
    /// decompresses back through the reader it returns, errors included.
    /// That reader's errors count as the decoder's own. Plain tar is read
    /// as [`read`](Self::read) reads it. The reader itself starts no
    /// thread.
    pub fn read_decoding<'r, R, S, D>(
        &self,
        source: R,
        sink: &mut S,
        decode: D,
    ) -> Result<PackageSummary, S::Error>
    where
        R: Read + Send + 'r,
        S: PackageSink,
        D: FnOnce(Box<dyn Read + Send + 'r>) -> Box<dyn Read + 'r>,
    {
        let meter = Rc::new(self.meter());
        let (stream, compressed) =
            open_archive(source, &meter, |decoder| Ok(decode(Box::new(decoder))))?;
        self.read_archive(stream, compressed, &meter, sink)
    }

    fn meter(&self) -> Meter {
        let limits = self.limits;
        let header_budget = limits
            .max_json_bytes
            .saturating_mul(3)
            .saturating_add(limits.max_signature_bytes.saturating_mul(2))
            .saturating_add(1 << 20);
        Meter {
            compressed: Arc::new(AtomicU64::new(0)),
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
        }
    }

    /// Reads the decompressed archive entry by entry, each entry handled
    /// by the stage it belongs to.
    fn read_archive<'r, S: PackageSink>(
        &self,
        stream: Box<dyn Read + 'r>,
        compressed: bool,
        meter: &Rc<Meter>,
        sink: &mut S,
    ) -> Result<PackageSummary, S::Error> {
        let mut archive = tar::Archive::new(CountOut {
            inner: stream,
            meter: Rc::clone(meter),
        });
        let entries = archive
            .entries()
            .map_err(|e| map_io(&e, "start of archive", meter))?
            .raw(true);
        let mut state = ReadState::new(self.limits, compressed, meter);
        for item in entries {
            let mut entry = item.map_err(|e| map_io(&e, &state.last_entry, meter))?;
            let entry_type = entry.header().entry_type();
            let (name, kind) = classify(entry_type, &entry.path_bytes())?;
            state.last_entry = name.clone();
            let declared = entry.header().size().map_err(|e| PackageError::Archive {
                entry: name.clone(),
                message: printable(&e.to_string()),
            })?;
            state.entry(&mut entry, name, kind, declared, sink)?;
        }
        state.finish(archive.into_inner(), sink)
    }
}

/// Opens the archive: meters the input, tells zstd from plain tar by the
/// first bytes and, for zstd, builds a bounded decoder that `decode` may
/// move elsewhere (another thread).
fn open_archive<'r, R, F>(
    source: R,
    meter: &Rc<Meter>,
    decode: F,
) -> Result<(Box<dyn Read + 'r>, bool), PackageError>
where
    R: Read + 'r,
    F: FnOnce(ZstdDecoder<R>) -> io::Result<Box<dyn Read + 'r>>,
{
    let mut buffered = BufReader::with_capacity(
        256 << 10,
        CountIn {
            inner: source,
            compressed: Arc::clone(&meter.compressed),
        },
    );
    let first = buffered
        .fill_buf()
        .map_err(|e| map_io(&e, "start of archive", meter))?;
    if first.is_empty() {
        return Err(PackageError::Truncated {
            entry: "start of archive".to_owned(),
            detail: "the input is empty".to_owned(),
        });
    }
    let compressed = first.starts_with(&ZSTD_MAGIC);
    let stream: Box<dyn Read + 'r> = if compressed {
        meter.compressed_input.set(true);
        let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered)
            .map_err(|e| map_io(&e, "start of archive", meter))?;
        // Bounds the decoder's window memory whatever the frame asks for.
        decoder
            .window_log_max(meter.window_log)
            .map_err(|e| map_io(&e, "start of archive", meter))?;
        decode(decoder).map_err(|e| map_io(&e, "start of archive", meter))?
    } else {
        Box::new(buffered)
    };
    Ok((stream, compressed))
}

/// The zstd decoder over a metered input.
type ZstdDecoder<R> = zstd::stream::read::Decoder<'static, BufReader<CountIn<R>>>;

/// The header read so far: what `index.json` and the header blobs named,
/// in the order the stages fill it in.
#[derive(Default)]
struct HeaderParts {
    /// Top-level entries of `index.json` other than package and signature.
    index_entries: Vec<Descriptor>,
    package_artifact: Option<Descriptor>,
    signature_artifact: Option<Descriptor>,
    manifest_desc: Option<Descriptor>,
    signature_desc: Option<Descriptor>,
    manifest: Option<(PackageManifest, Vec<u8>)>,
    signature: Option<PackageSignature>,
    /// Blobs the package manifest lists, by digest.
    listed: BTreeMap<String, Descriptor>,
}

/// One read of one package: the stage reached and what was seen. Each
/// header stage is a method that reads its one entry and moves on.
struct ReadState<'m> {
    limits: ReaderLimits,
    compressed: bool,
    meter: &'m Meter,
    stage: Stage,
    last_entry: String,
    seen_dirs: BTreeSet<String>,
    seen_blobs: BTreeSet<String>,
    parts: HeaderParts,
    header: Option<PackageHeader>,
    collected: Collected,
    blobs_read: usize,
}

impl<'m> ReadState<'m> {
    fn new(limits: ReaderLimits, compressed: bool, meter: &'m Meter) -> Self {
        ReadState {
            limits,
            compressed,
            meter,
            stage: Stage::Layout,
            last_entry: "start of archive".to_owned(),
            seen_dirs: BTreeSet::new(),
            seen_blobs: BTreeSet::new(),
            parts: HeaderParts::default(),
            header: None,
            collected: Collected::default(),
            blobs_read: 0,
        }
    }

    /// Hands one entry to the stage it belongs to, refusing entries out of
    /// order or repeated.
    fn entry<E: Read, S: PackageSink>(
        &mut self,
        entry: &mut E,
        name: String,
        kind: EntryName,
        declared: u64,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        match (self.stage, kind) {
            (Stage::Layout, EntryName::Layout) => self.layout(entry, name, declared)?,
            (Stage::Layout, _) => {
                return Err(PackageError::OutOfOrder {
                    entry: name,
                    expected: "`oci-layout` as the first entry".to_owned(),
                }
                .into());
            }
            (Stage::Index, EntryName::Index) => self.index(entry, &name, declared)?,
            (Stage::Index, _) => {
                return Err(PackageError::OutOfOrder {
                    entry: name,
                    expected: "`index.json` as the second entry".to_owned(),
                }
                .into());
            }
            (_, EntryName::Dir(dir)) => {
                if !self.seen_dirs.insert(dir) {
                    return Err(PackageError::DuplicateEntry { entry: name }.into());
                }
            }
            (_, EntryName::Layout) | (_, EntryName::Index) => {
                return Err(PackageError::DuplicateEntry { entry: name }.into());
            }
            (Stage::PackageArtifact, EntryName::Blob(digest)) => {
                self.package_artifact(entry, &name, digest, declared)?;
            }
            (Stage::PackageManifest, EntryName::Blob(digest)) => {
                self.package_manifest(entry, &name, digest, declared)?;
            }
            (Stage::Empty, EntryName::Blob(digest)) => self.empty(entry, name, digest, declared)?,
            (Stage::SignatureArtifact, EntryName::Blob(digest)) => {
                self.signature_artifact(entry, &name, digest, declared)?;
            }
            (Stage::Signature, EntryName::Blob(digest)) => {
                self.signature(entry, &name, digest, declared)?;
            }
            (Stage::Body, EntryName::Blob(digest)) => {
                self.body_blob(entry, name, digest, declared, sink)?;
            }
        }
        Ok(())
    }

    /// `oci-layout`: the layout version.
    fn layout<E: Read>(
        &mut self,
        entry: &mut E,
        name: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        let bytes = read_small(
            entry,
            &name,
            declared,
            self.limits.max_json_bytes,
            None,
            self.meter,
        )?;
        let layout: OciLayout = parse_json(&name, "an OCI layout marker", &bytes)?;
        if layout.image_layout_version() != OCI_LAYOUT_VERSION {
            return Err(PackageError::UnsupportedFormat {
                entry: name,
                found: layout.image_layout_version().clone(),
                supported: OCI_LAYOUT_VERSION.to_owned(),
            });
        }
        self.stage = Stage::Index;
        Ok(())
    }

    /// `index.json`: one package manifest, at most one signature, and
    /// the images and versions a standard tool sees.
    fn index<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        declared: u64,
    ) -> Result<(), PackageError> {
        let bytes = read_small(
            entry,
            name,
            declared,
            self.limits.max_json_bytes,
            None,
            self.meter,
        )?;
        let index: ImageIndex = parse_json(name, "an OCI image index", &bytes)?;
        let parts = &mut self.parts;
        for d in index.manifests() {
            match artifact_type_of(d).as_deref() {
                Some(PACKAGE_ARTIFACT_TYPE) => {
                    if parts.package_artifact.replace(d.clone()).is_some() {
                        return Err(inconsistent(name, "it lists two package manifests"));
                    }
                }
                Some(SIGNATURE_ARTIFACT_TYPE) => {
                    if parts.signature_artifact.replace(d.clone()).is_some() {
                        return Err(inconsistent(name, "it lists two signatures"));
                    }
                }
                _ => parts.index_entries.push(d.clone()),
            }
        }
        if parts.package_artifact.is_none() {
            return Err(inconsistent(
                name,
                "it lists no package manifest (artifactType application/vnd.apptemplate.package.v1+json); this is an OCI layout but not a template package",
            ));
        }
        self.stage = Stage::PackageArtifact;
        Ok(())
    }

    /// Reads a header blob that must be `expected`, checking digest and
    /// size, and records it as seen.
    fn header_blob<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        digest: String,
        declared: u64,
        expected: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, PackageError> {
        check_header_blob(name, &digest, declared, expected)?;
        let bytes = read_small(entry, name, declared, limit, Some(&digest), self.meter)?;
        self.seen_blobs.insert(digest);
        Ok(bytes)
    }

    /// The package's artifact manifest: one layer, the package manifest.
    fn package_artifact<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        digest: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        let expected = self
            .parts
            .package_artifact
            .clone()
            .ok_or_else(|| inconsistent(INDEX_ENTRY, "no package manifest"))?;
        let limit = self.limits.max_json_bytes;
        let bytes = self.header_blob(entry, name, digest, declared, &expected, limit)?;
        let art: ImageManifest = parse_json(name, "an OCI artifact manifest", &bytes)?;
        self.parts.manifest_desc = Some(single_layer(name, &art, PACKAGE_MANIFEST_MEDIA_TYPE)?);
        self.stage = Stage::PackageManifest;
        Ok(())
    }

    /// The package manifest: every blob carried, each listed once.
    fn package_manifest<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        digest: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        let expected = self
            .parts
            .manifest_desc
            .clone()
            .ok_or_else(|| inconsistent(INDEX_ENTRY, "no package manifest"))?;
        check_header_blob(name, &digest, declared, &expected)?;
        let bytes = read_small(
            entry,
            name,
            declared,
            self.limits.max_json_bytes,
            Some(&digest),
            self.meter,
        )?;
        let parsed = PackageManifest::from_bytes(name, &bytes)?;
        for d in &parsed.blobs {
            if self
                .parts
                .listed
                .insert(d.digest().to_string(), d.clone())
                .is_some()
            {
                return Err(inconsistent(
                    name,
                    &format!("blob {} is listed twice", d.digest()),
                ));
            }
            if sha256_hex(d.digest().as_ref()).is_none() {
                return Err(inconsistent(
                    name,
                    &format!("blob digest {} is not sha256", d.digest()),
                ));
            }
        }
        self.parts.manifest = Some((parsed, bytes));
        self.seen_blobs.insert(digest);
        self.stage = Stage::Empty;
        Ok(())
    }

    /// The empty blob artifact manifests use as their config.
    fn empty<E: Read>(
        &mut self,
        entry: &mut E,
        name: String,
        digest: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        if digest != EMPTY_DIGEST {
            return Err(PackageError::OutOfOrder {
                entry: name,
                expected: format!("the empty blob {}", blob_entry_name(EMPTY_DIGEST)),
            });
        }
        read_small(entry, &name, declared, 2, Some(EMPTY_DIGEST), self.meter)?;
        self.seen_blobs.insert(digest);
        self.stage = if self.parts.signature_artifact.is_some() {
            Stage::SignatureArtifact
        } else {
            Stage::Body
        };
        Ok(())
    }

    /// The signature's artifact manifest: its subject is the package's
    /// manifest, its one layer the signature.
    fn signature_artifact<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        digest: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        let expected = self
            .parts
            .signature_artifact
            .clone()
            .ok_or_else(|| inconsistent(INDEX_ENTRY, "no signature"))?;
        let limit = self.limits.max_json_bytes;
        let bytes = self.header_blob(entry, name, digest, declared, &expected, limit)?;
        let art: ImageManifest = parse_json(name, "an OCI artifact manifest", &bytes)?;
        let subject_ok = match (art.subject(), self.parts.package_artifact.as_ref()) {
            (Some(s), Some(p)) => s.digest() == p.digest(),
            _ => false,
        };
        if !subject_ok {
            return Err(inconsistent(
                name,
                "the signature's subject is not this package's manifest",
            ));
        }
        let layer = art
            .layers()
            .first()
            .cloned()
            .ok_or_else(|| inconsistent(name, "the signature artifact has no layer"))?;
        if art.layers().len() != 1 {
            return Err(inconsistent(
                name,
                "the signature artifact must have exactly one layer",
            ));
        }
        self.parts.signature_desc = Some(layer);
        self.stage = Stage::Signature;
        Ok(())
    }

    /// The detached signature's bytes.
    fn signature<E: Read>(
        &mut self,
        entry: &mut E,
        name: &str,
        digest: String,
        declared: u64,
    ) -> Result<(), PackageError> {
        let expected = self
            .parts
            .signature_desc
            .clone()
            .ok_or_else(|| inconsistent(INDEX_ENTRY, "no signature"))?;
        let limit = self.limits.max_signature_bytes;
        let bytes = self.header_blob(entry, name, digest, declared, &expected, limit)?;
        self.parts.signature = Some(PackageSignature {
            media_type: expected.media_type().to_string(),
            bytes,
        });
        self.stage = Stage::Body;
        Ok(())
    }

    /// Finishes the header once, handing it to the sink.
    fn ensure_header<S: PackageSink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        if self.header.is_none() {
            let h = self.finish_header()?;
            sink.header(&h)?;
            self.header = Some(h);
        }
        Ok(())
    }

    /// A content blob: listed, new, of its declared size; streamed to the
    /// sink while verified, and its metadata collected for the end checks.
    fn body_blob<E: Read, S: PackageSink>(
        &mut self,
        entry: &mut E,
        name: String,
        digest: String,
        declared: u64,
        sink: &mut S,
    ) -> Result<(), S::Error> {
        self.ensure_header(sink)?;
        let Some(descriptor) = self.parts.listed.get(&digest) else {
            return Err(if self.seen_blobs.contains(&digest) {
                PackageError::DuplicateEntry { entry: name }
            } else {
                PackageError::UndefinedEntry {
                    entry: name,
                    detail: "the package manifest does not list this blob".to_owned(),
                }
            }
            .into());
        };
        if !self.seen_blobs.insert(digest.clone()) {
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
        if metadata && declared > self.limits.max_json_bytes {
            return Err(PackageError::JsonTooLarge {
                entry: name,
                size: declared,
                limit: self.limits.max_json_bytes,
            }
            .into());
        }
        let mut blob = BlobReader {
            inner: VerifyingReader::sized(entry as &mut dyn Read, declared),
            meter: self.meter,
            entry: name.clone(),
            expected_digest: digest.clone(),
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
                self.header.as_ref(),
                &self.limits,
                &mut self.collected,
            )?;
        }
        self.blobs_read += 1;
        Ok(())
    }

    /// After the last entry: the header was complete, every listed blob
    /// came, nothing but padding follows, and the references close.
    fn finish<T: Read, S: PackageSink>(
        mut self,
        rest: T,
        sink: &mut S,
    ) -> Result<PackageSummary, S::Error> {
        if self.header.is_none() && self.stage != Stage::Body {
            return Err(PackageError::Truncated {
                entry: self.last_entry,
                detail: "the archive ends inside the package header".to_owned(),
            }
            .into());
        }
        self.ensure_header(sink)?;
        let header = self.header.ok_or_else(|| PackageError::Truncated {
            entry: self.last_entry.clone(),
            detail: "no package header".to_owned(),
        })?;
        let listed = &self.parts.listed;
        let missing: Vec<&String> = listed
            .keys()
            .filter(|d| !self.seen_blobs.contains(*d))
            .collect();
        if let Some(first) = missing.first() {
            return Err(PackageError::MissingBlobs {
                count: missing.len(),
                first: blob_entry_name(first),
            }
            .into());
        }
        drop_trailing_zeros(rest, &self.last_entry, self.meter)?;
        let versions = check_closure(
            &header.manifest,
            listed,
            &self.parts.index_entries,
            &self.collected,
        )?;
        Ok(PackageSummary {
            header,
            versions,
            blobs_read: self.blobs_read,
            archive_bytes: self.meter.decompressed.get(),
            input_bytes: self.meter.compressed.load(Ordering::Relaxed),
        })
    }

    /// Checks the header against `index.json` and sets the size cap.
    fn finish_header(&mut self) -> Result<PackageHeader, PackageError> {
        let (manifest, manifest_bytes) =
            self.parts
                .manifest
                .take()
                .ok_or_else(|| PackageError::Truncated {
                    entry: INDEX_ENTRY.to_owned(),
                    detail: "the package manifest never came".to_owned(),
                })?;
        let listed = &self.parts.listed;
        for d in &self.parts.index_entries {
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
        let meter = self.meter;
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
            signature: self.parts.signature.take(),
            compressed: self.compressed,
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
        let options = crate::document::LoadOptions {
            max_bytes: usize::try_from(limits.max_json_bytes).unwrap_or(usize::MAX),
        };
        let document = |source: crate::error::Error| PackageError::Document {
            entry: name.to_owned(),
            source: Box::new(source),
        };
        let version = crate::document::load(bytes, crate::document::Format::Json, options)
            .map_err(document)?;
        crate::ensure_valid(&version).map_err(document)?;
        let content = crate::document::content_digest(&version).map_err(document)?;
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
