//! An inventory: the list of blobs and versions a market holds, carried to
//! the office so that a differential package ships exactly what is missing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::format::INVENTORY_FORMAT;
use super::manifest::{canonical_json, sha256_hex, sha256_of};
use crate::error::PackageError;

/// What a market holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Format version, [`INVENTORY_FORMAT`].
    pub format: String,
    /// Digests of every blob held, sorted.
    pub blobs: Vec<String>,
    /// Every template version held, sorted.
    pub versions: Vec<InventoryVersion>,
}

/// One version an inventory lists.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct InventoryVersion {
    /// Template id.
    pub template: String,
    /// Version number.
    pub version: String,
    /// Content digest of the document.
    pub content_digest: String,
}

impl Inventory {
    /// An inventory in normal form (sorted, deduplicated).
    pub fn new(
        blobs: impl IntoIterator<Item = String>,
        versions: impl IntoIterator<Item = InventoryVersion>,
    ) -> Self {
        let blobs: BTreeSet<String> = blobs.into_iter().collect();
        let versions: BTreeSet<InventoryVersion> = versions.into_iter().collect();
        Inventory {
            format: INVENTORY_FORMAT.to_owned(),
            blobs: blobs.into_iter().collect(),
            versions: versions.into_iter().collect(),
        }
    }

    /// Canonical JSON bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        canonical_json(self)
    }

    /// The inventory's digest (of its canonical bytes), recorded as the base
    /// of packages computed against it.
    pub fn digest(&self) -> Result<String, PackageError> {
        Ok(sha256_of(&self.to_bytes()?))
    }

    /// Parses an inventory, refusing other formats, oversize input and
    /// malformed digests.
    pub fn from_bytes(bytes: &[u8], max_bytes: u64) -> Result<Self, PackageError> {
        const ENTRY: &str = "inventory";
        if bytes.len() as u64 > max_bytes {
            return Err(PackageError::JsonTooLarge {
                entry: ENTRY.to_owned(),
                size: bytes.len() as u64,
                limit: max_bytes,
            });
        }
        let parsed: Inventory =
            serde_json::from_slice(bytes).map_err(|e| PackageError::InvalidJson {
                entry: ENTRY.to_owned(),
                what: "an inventory",
                message: e.to_string(),
            })?;
        if parsed.format != INVENTORY_FORMAT {
            return Err(PackageError::UnsupportedFormat {
                entry: ENTRY.to_owned(),
                found: parsed.format,
                supported: INVENTORY_FORMAT.to_owned(),
            });
        }
        if let Some(bad) = parsed.blobs.iter().find(|d| sha256_hex(d).is_none()) {
            return Err(PackageError::InvalidJson {
                entry: ENTRY.to_owned(),
                what: "an inventory",
                message: format!("`{bad}` is not a sha256 digest"),
            });
        }
        Ok(Inventory::new(parsed.blobs, parsed.versions))
    }

    /// Whether the inventory lists this blob.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blobs
            .binary_search_by(|d| d.as_str().cmp(digest))
            .is_ok()
    }
}
