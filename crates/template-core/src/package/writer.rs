//! [`PackageWriter`]: streams a package into any [`Write`], one blob at a
//! time, never holding a blob in memory and checking each blob's sha256
//! and size as it passes.

use std::collections::{BTreeSet, VecDeque};
use std::io::{self, Read, Write};

use super::verify::VerifyingReader;
use oci_spec::image::{Descriptor, OciLayoutBuilder};

use super::format::*;
use super::manifest::{
    PackageManifest, artifact_manifest, blob_entry_name, canonical_json, descriptor_of,
};
use crate::error::PackageError;

/// How the archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar archive (`oci-archive:` readable by skopeo as is).
    None,
    /// A zstd-compressed tar archive.
    Zstd {
        /// zstd level (1 to 19; 3 is zstd's own default).
        level: i32,
        /// Compression worker threads; 0 compresses on the calling thread.
        /// Any value of 1 or more gives the same bytes.
        workers: u32,
    },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd {
            level: 3,
            workers: 0,
        }
    }
}

/// Options of [`PackageWriter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterOptions {
    /// Compression of the archive.
    pub compression: Compression,
    /// Digests of carried manifests (images, version artifacts) whose
    /// blobs the package does not all carry: `index.json` leaves them out,
    /// so the layout never points at blobs it lacks. Readers refuse a
    /// layout listing an incomplete manifest.
    pub incomplete_manifests: BTreeSet<String>,
}

impl WriterOptions {
    /// Options with this compression and nothing else.
    pub fn compressed(compression: Compression) -> Self {
        WriterOptions {
            compression,
            incomplete_manifests: BTreeSet::new(),
        }
    }
}

/// A detached signature over the package manifest bytes, stored in the
/// package as an OCI artifact whose subject is the package artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSignature {
    /// Media type of the signature blob, e.g. [`MINISIGN_SIGNATURE_MEDIA_TYPE`].
    pub media_type: String,
    /// The signature file's bytes.
    pub bytes: Vec<u8>,
}

/// Where the tar stream goes. A zstd package is one zstd stream made of
/// frames: compressed frames for most entries, and frames of raw
/// (uncompressed) blocks for blobs that are compressed already, which
/// zstd could not shrink and would only spend time on.
enum Sink<W: Write> {
    Plain(W),
    Zstd {
        encoder: zstd::stream::write::Encoder<'static, W>,
        level: i32,
        workers: u32,
    },
    Stored {
        frame: RawFrame<W>,
        level: i32,
        workers: u32,
    },
    /// Left behind by a failed switch between the two states above.
    Broken,
}

fn zstd_encoder<W: Write>(
    sink: W,
    level: i32,
    workers: u32,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut enc = zstd::stream::write::Encoder::new(sink, level)?;
    enc.include_checksum(true)?;
    if workers > 0 {
        enc.multithread(workers)?;
    }
    Ok(enc)
}

fn broken() -> io::Error {
    io::Error::other("the archive stream failed earlier")
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Zstd { encoder, .. } => encoder.write(buf),
            Sink::Stored { frame, .. } => frame.write(buf),
            Sink::Broken => Err(broken()),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Zstd { encoder, .. } => encoder.write_all(buf),
            Sink::Stored { frame, .. } => frame.write_all(buf),
            Sink::Broken => Err(broken()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd { encoder, .. } => encoder.flush(),
            Sink::Stored { frame, .. } => frame.inner.flush(),
            Sink::Broken => Err(broken()),
        }
    }
}

impl<W: Write> Sink<W> {
    /// Ends the current compressed frame; what follows goes into a frame
    /// of raw blocks until [`Sink::compress`]. No-op for plain archives.
    fn store(&mut self) -> io::Result<()> {
        if !matches!(self, Sink::Zstd { .. }) {
            return Ok(());
        }
        match std::mem::replace(self, Sink::Broken) {
            Sink::Zstd {
                encoder,
                level,
                workers,
            } => {
                let inner = encoder.finish()?;
                *self = Sink::Stored {
                    frame: RawFrame::start(inner)?,
                    level,
                    workers,
                };
                Ok(())
            }
            other => {
                *self = other;
                Ok(())
            }
        }
    }

    /// Ends a frame of raw blocks and starts a compressed frame again.
    fn compress(&mut self) -> io::Result<()> {
        if !matches!(self, Sink::Stored { .. }) {
            return Ok(());
        }
        match std::mem::replace(self, Sink::Broken) {
            Sink::Stored {
                frame,
                level,
                workers,
            } => {
                let inner = frame.finish()?;
                *self = Sink::Zstd {
                    encoder: zstd_encoder(inner, level, workers)?,
                    level,
                    workers,
                };
                Ok(())
            }
            other => {
                *self = other;
                Ok(())
            }
        }
    }

    fn finish(self) -> io::Result<W> {
        let mut inner = match self {
            Sink::Plain(w) => w,
            Sink::Zstd { encoder, .. } => encoder.finish()?,
            Sink::Stored { frame, .. } => frame.finish()?,
            Sink::Broken => return Err(broken()),
        };
        inner.flush()?;
        Ok(inner)
    }
}

/// Largest block of a zstd frame (`Block_Maximum_Size` for the window
/// declared in [`RAW_FRAME_HEADER`]).
const RAW_BLOCK: usize = 128 << 10;

/// Header of a zstd frame (RFC 8878, section 3.1.1) with no content size,
/// no checksum and no dictionary (descriptor `0x00`), and a 128 KiB window
/// (window descriptor `0x38`: exponent 7, mantissa 0).
const RAW_FRAME_HEADER: [u8; 6] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38];

/// A zstd frame of raw blocks: valid zstd that any decoder passes through
/// at memory speed, costing 3 bytes per 128 KiB.
struct RawFrame<W: Write> {
    inner: W,
    block: Vec<u8>,
}

impl<W: Write> RawFrame<W> {
    fn start(mut inner: W) -> io::Result<Self> {
        inner.write_all(&RAW_FRAME_HEADER)?;
        Ok(RawFrame {
            inner,
            block: Vec::with_capacity(RAW_BLOCK),
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        // Block header: bit 0 last block, bits 1-2 type (0 = raw), bits
        // 3-23 size; little endian.
        let header = ((self.block.len() as u32) << 3) | u32::from(last);
        self.inner.write_all(&header.to_le_bytes()[..3])?;
        self.inner.write_all(&self.block)?;
        self.block.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for RawFrame<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.block.len() == RAW_BLOCK {
            self.emit(false)?;
        }
        let n = buf.len().min(RAW_BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Whether a blob of this media type is compressed already (gzip or zstd
/// layers, OCI or Docker spelling), so the package stores it as is.
pub fn is_compressed_media_type(media_type: &str) -> bool {
    [
        "+gzip",
        "+zstd",
        ".tar.gzip",
        ".tar.zstd",
        "+gzip+encrypted",
        "+zstd+encrypted",
    ]
    .iter()
    .any(|suffix| media_type.ends_with(suffix))
}

/// Blobs smaller than this are compressed along with their neighbours
/// whatever their type: ending and starting frames costs more than it saves.
const STORE_MIN_BYTES: u64 = 256 << 10;

/// Writes a package: the header (layout marker, index, package manifest,
/// optional signature) on creation, then every blob the manifest lists, in
/// its order, through [`PackageWriter::write_blob`], then
/// [`PackageWriter::finish`].
///
/// The same manifest, signature, options and blob contents give the same
/// bytes: entries have fixed times, owners and modes and come in a fixed
/// order.
///
/// ```
/// use template_core::package::{PackageManifest, PackageWriter, WriterOptions, descriptor_of};
/// let layer = b"layer bytes";
/// let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", layer).unwrap();
/// let manifest = PackageManifest::new("demo", vec![], vec![], None, vec![d.clone()], vec![]).unwrap();
/// let mut w = PackageWriter::new(Vec::new(), &manifest, None, WriterOptions::default()).unwrap();
/// w.write_blob(&d.digest().to_string(), &layer[..]).unwrap();
/// let archive: Vec<u8> = w.finish().unwrap();
/// assert!(archive.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]));
/// ```
pub struct PackageWriter<W: Write> {
    builder: Option<tar::Builder<Sink<W>>>,
    pending: VecDeque<Descriptor>,
}

impl<W: Write> std::fmt::Debug for PackageWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageWriter")
            .field("pending_blobs", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> PackageWriter<W> {
    /// Starts a package in `sink` and writes its header. `signature`, if
    /// given, must sign `manifest.to_bytes()`.
    pub fn new(
        sink: W,
        manifest: &PackageManifest,
        signature: Option<&PackageSignature>,
        options: WriterOptions,
    ) -> Result<Self, PackageError> {
        if manifest.format != PACKAGE_FORMAT {
            return Err(PackageError::InvalidInput {
                detail: format!(
                    "manifest format `{}` is not `{PACKAGE_FORMAT}`",
                    manifest.format
                ),
            });
        }
        let sink = match options.compression {
            Compression::None => Sink::Plain(sink),
            Compression::Zstd { level, workers } => Sink::Zstd {
                encoder: zstd_encoder(sink, level, workers).map_err(|e| PackageError::Write {
                    entry: OCI_LAYOUT_ENTRY.to_owned(),
                    message: e.to_string(),
                })?,
                level,
                workers,
            },
        };
        let mut builder = tar::Builder::new(sink);

        let manifest_bytes = manifest.to_bytes()?;
        let manifest_desc = descriptor_of(PACKAGE_MANIFEST_MEDIA_TYPE, &manifest_bytes)?;
        let (package_bytes, package_desc) =
            artifact_manifest(PACKAGE_ARTIFACT_TYPE, vec![manifest_desc], None)?;
        let signature_parts = match signature {
            Some(sig) => {
                let sig_desc = descriptor_of(&sig.media_type, &sig.bytes)?;
                let (bytes, desc) = artifact_manifest(
                    SIGNATURE_ARTIFACT_TYPE,
                    vec![sig_desc],
                    Some(package_desc.clone()),
                )?;
                Some((bytes, desc, sig.bytes.clone()))
            }
            None => None,
        };
        let index = manifest.index(
            &package_desc,
            signature_parts.as_ref().map(|(_, d, _)| d),
            &options.incomplete_manifests,
        )?;
        let layout = OciLayoutBuilder::default()
            .image_layout_version(OCI_LAYOUT_VERSION)
            .build()
            .map_err(|e| PackageError::InvalidInput {
                detail: e.to_string(),
            })?;

        append_bytes(&mut builder, OCI_LAYOUT_ENTRY, &canonical_json(&layout)?)?;
        append_bytes(&mut builder, INDEX_ENTRY, &canonical_json(&index)?)?;
        for dir in DIRECTORY_ENTRIES {
            append_dir(&mut builder, dir)?;
        }
        append_blob_bytes(&mut builder, &package_bytes)?;
        append_blob_bytes(&mut builder, &manifest_bytes)?;
        append_blob_bytes(&mut builder, EMPTY_BLOB)?;
        if let Some((art, _, sig)) = &signature_parts {
            append_blob_bytes(&mut builder, art)?;
            append_blob_bytes(&mut builder, sig)?;
        }
        Ok(PackageWriter {
            builder: Some(builder),
            pending: manifest.blobs.iter().cloned().collect(),
        })
    }

    /// The blobs still to write, in the order they must come.
    pub fn remaining(&self) -> impl Iterator<Item = &Descriptor> {
        self.pending.iter()
    }

    /// Writes the next blob. `digest` must be the next one the manifest
    /// lists and `data` must yield exactly its bytes; a mismatch fails and
    /// leaves the package unusable.
    pub fn write_blob<R: Read>(&mut self, digest: &str, data: R) -> Result<u64, PackageError> {
        self.write_next(digest, data, true)
    }

    /// Like [`PackageWriter::write_blob`] for bytes whose digest the caller
    /// has verified already (a content-addressed store that hashed them on
    /// the way in): only the size is checked, saving a sha256 pass over
    /// every byte. The importer hashes every blob whatever the exporter did.
    pub fn write_verified_blob<R: Read>(
        &mut self,
        digest: &str,
        data: R,
    ) -> Result<u64, PackageError> {
        self.write_next(digest, data, false)
    }

    fn write_next<R: Read>(
        &mut self,
        digest: &str,
        data: R,
        hash: bool,
    ) -> Result<u64, PackageError> {
        let entry = blob_entry_name(digest);
        let next = match self.pending.front() {
            Some(next) if next.digest().as_ref() == digest => next.clone(),
            Some(next) => {
                return Err(PackageError::InvalidInput {
                    detail: format!("blob {} must come next, not {digest}", next.digest()),
                });
            }
            None => {
                return Err(PackageError::InvalidInput {
                    detail: format!(
                        "blob {digest} is not listed in the manifest or was already written"
                    ),
                });
            }
        };
        let builder = self
            .builder
            .as_mut()
            .ok_or_else(|| PackageError::InvalidInput {
                detail: "the writer failed earlier and cannot continue".to_owned(),
            })?;
        let mut source = CheckedSource {
            inner: if hash {
                VerifyingReader::sized(data, next.size())
            } else {
                VerifyingReader::sized_unhashed(data, next.size())
            },
            entry: entry.clone(),
            expected_digest: digest.to_owned(),
            expected_size: next.size(),
            failure: None,
        };
        let header = file_header(&entry, next.size())?;
        let store =
            next.size() >= STORE_MIN_BYTES && is_compressed_media_type(next.media_type().as_ref());
        let appended = (|| {
            if store {
                builder.get_mut().store()?;
            }
            builder.append(&header, &mut source)?;
            if store {
                builder.get_mut().compress()?;
            }
            Ok::<(), io::Error>(())
        })();
        if let Err(e) = appended {
            self.builder = None;
            return Err(source.failure.take().unwrap_or(PackageError::Write {
                entry,
                message: e.to_string(),
            }));
        }
        self.pending.pop_front();
        Ok(next.size())
    }

    /// Ends the archive and returns the sink. Fails when blobs are missing.
    pub fn finish(mut self) -> Result<W, PackageError> {
        if let Some(next) = self.pending.front() {
            return Err(PackageError::InvalidInput {
                detail: format!(
                    "{} blob(s) were not written, starting with {}",
                    self.pending.len(),
                    next.digest()
                ),
            });
        }
        let builder = self
            .builder
            .take()
            .ok_or_else(|| PackageError::InvalidInput {
                detail: "the writer failed earlier and cannot finish".to_owned(),
            })?;
        let to_err = |e: io::Error| PackageError::Write {
            entry: "end of archive".to_owned(),
            message: e.to_string(),
        };
        let sink = builder.into_inner().map_err(to_err)?;
        sink.finish().map_err(to_err)
    }
}

/// Passes a blob's bytes through, failing when they run past or short of
/// the declared size or hash to another digest.
struct CheckedSource<R> {
    /// Unhashed when the caller vouches for the digest.
    inner: VerifyingReader<R>,
    entry: String,
    expected_digest: String,
    expected_size: u64,
    failure: Option<PackageError>,
}

impl<R: Read> CheckedSource<R> {
    fn fail(&mut self, error: PackageError) -> io::Error {
        let message = error.to_string();
        self.failure = Some(error);
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

impl<R: Read> Read for CheckedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inner.remaining() == 0 {
            let mut probe = [0u8; 1];
            let extra = loop {
                match self.inner.get_mut().read(&mut probe) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if extra > 0 {
                let error = PackageError::SizeMismatch {
                    entry: self.entry.clone(),
                    expected: self.expected_size,
                    actual: self.expected_size + 1,
                };
                return Err(self.fail(error));
            }
            if let Err(error) = self.inner.check_digest(&self.entry, &self.expected_digest) {
                return Err(self.fail(error));
            }
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            let error = PackageError::SizeMismatch {
                entry: self.entry.clone(),
                expected: self.expected_size,
                actual: self.inner.bytes_read(),
            };
            return Err(self.fail(error));
        }
        Ok(n)
    }
}

fn file_header(entry: &str, size: u64) -> Result<tar::Header, PackageError> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(entry)
        .map_err(|e| PackageError::InvalidInput {
            detail: format!("entry name `{entry}`: {e}"),
        })?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(FILE_MODE);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ENTRY_MTIME);
    header.set_cksum();
    Ok(header)
}

fn append_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &str,
    bytes: &[u8],
) -> Result<(), PackageError> {
    let header = file_header(entry, bytes.len() as u64)?;
    builder
        .append(&header, bytes)
        .map_err(|e| PackageError::Write {
            entry: entry.to_owned(),
            message: e.to_string(),
        })
}

fn append_blob_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    bytes: &[u8],
) -> Result<(), PackageError> {
    let digest = super::manifest::sha256_of(bytes);
    append_bytes(builder, &blob_entry_name(&digest), bytes)
}

fn append_dir<W: Write>(builder: &mut tar::Builder<W>, entry: &str) -> Result<(), PackageError> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(entry)
        .map_err(|e| PackageError::InvalidInput {
            detail: format!("entry name `{entry}`: {e}"),
        })?;
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(DIR_MODE);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ENTRY_MTIME);
    header.set_cksum();
    builder
        .append(&header, io::empty())
        .map_err(|e| PackageError::Write {
            entry: entry.to_owned(),
            message: e.to_string(),
        })
}
