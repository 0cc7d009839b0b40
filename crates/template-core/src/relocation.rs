//! What pushing a version's images to a registry did, as plain data. The
//! market's relocation report, a delivery's outcome per environment and its
//! progress events all carry these types, so the numbers have one name and
//! one meaning everywhere (in Rust, JSON, Python and Node).

use std::ops::AddAssign;

use serde::Serialize;

/// What a relocation is doing when it reports. Serializes as its snake_case
/// name (`skipped`, `uploading`, `uploaded`, `mounted`, `manifest_pushed`,
/// `manifest_skipped`, `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RelocateEvent {
    /// A blob was found in the registry already.
    Skipped,
    /// Bytes of a blob were sent.
    Uploading,
    /// A blob was uploaded completely.
    Uploaded,
    /// A blob was mounted from another repository of the registry.
    Mounted,
    /// A manifest (or tag) was put.
    ManifestPushed,
    /// A manifest was found in the registry already.
    ManifestSkipped,
    /// The relocation finished.
    Done,
}

/// The counts of a relocation, or of several added up (`+=`). Serializes
/// with its field names; the types that embed it flatten them in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RelocationCounts {
    /// Blobs asked about (per repository).
    pub blobs_checked: usize,
    /// Blobs the registry had already.
    pub blobs_skipped: usize,
    /// Blobs uploaded (0 when the registry had everything).
    pub blobs_uploaded: usize,
    /// Blobs mounted from another repository of the registry instead of
    /// uploaded again (a base layer shared by several images).
    pub blobs_mounted: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Manifests (and tags) put.
    pub manifests_pushed: usize,
    /// Manifests the registry had already.
    pub manifests_skipped: usize,
}

impl AddAssign for RelocationCounts {
    fn add_assign(&mut self, other: RelocationCounts) {
        self.blobs_checked += other.blobs_checked;
        self.blobs_skipped += other.blobs_skipped;
        self.blobs_uploaded += other.blobs_uploaded;
        self.blobs_mounted += other.blobs_mounted;
        self.bytes_uploaded += other.bytes_uploaded;
        self.manifests_pushed += other.manifests_pushed;
        self.manifests_skipped += other.manifests_skipped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_field_by_field_and_serialize_by_name() {
        let mut total = RelocationCounts {
            blobs_checked: 3,
            blobs_uploaded: 2,
            bytes_uploaded: 100,
            ..RelocationCounts::default()
        };
        total += RelocationCounts {
            blobs_checked: 3,
            blobs_skipped: 3,
            manifests_skipped: 1,
            ..RelocationCounts::default()
        };
        assert_eq!(
            serde_json::to_value(total).unwrap(),
            serde_json::json!({
                "blobs_checked": 6, "blobs_skipped": 3, "blobs_uploaded": 2,
                "blobs_mounted": 0, "bytes_uploaded": 100, "manifests_pushed": 0,
                "manifests_skipped": 1
            })
        );
        assert_eq!(
            serde_json::to_value(RelocateEvent::ManifestSkipped).unwrap(),
            "manifest_skipped"
        );
    }
}
