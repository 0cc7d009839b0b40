//! The offline package format: one tar archive (zstd-compressed by
//! default) whose root is an OCI image layout holding template versions as
//! OCI artifacts, their images as ordinary OCI images, and a package
//! manifest stating what is carried and what the destination must already
//! hold. The format is documented in `docs/package-format.md`.
//!
//! [`PackageWriter`] and [`PackageReader`] stream over [`std::io::Write`]
//! and [`std::io::Read`]; neither holds a blob in memory (only small JSON
//! documents, bounded by [`ReaderLimits::max_json_bytes`]). The reader
//! checks every blob's sha256 and size while reading and refuses, with a
//! [`PackageError`] naming the entry: absolute paths, `..`, links, devices,
//! extension headers, duplicate entries, entries the format does not
//! define, digest or size mismatches, truncated archives, oversize JSON,
//! decompression bombs (bounded ratio and total) and unknown format
//! versions.

pub mod format;
mod inventory;
mod manifest;
mod reader;
mod verify;
mod writer;

pub use crate::error::PackageError;
pub use inventory::{Inventory, InventoryVersion};
pub use manifest::{
    PackageBase, PackageManifest, PackagedImage, PackagedVersion, annotated, artifact_manifest,
    blob_entry_name, canonical_json, descriptor, descriptor_of, empty_descriptor, image_digest,
    image_name, manifest_references, sha256_hex, sha256_of, version_artifact, version_document,
    version_references,
};
pub use reader::{
    BlobReader, PackageHeader, PackageReader, PackageSink, PackageSummary, ReaderLimits,
};
pub use verify::VerifyingReader;
pub use writer::{
    Compression, PackageSignature, PackageWriter, WriterOptions, is_compressed_media_type,
};

#[cfg(test)]
mod tests;
