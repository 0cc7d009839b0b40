//! The serialized forms of the report fields that are not plain data in
//! Rust: paths, and pairs that read better as objects. The bindings hand
//! out these forms as they are, so they are pinned by the tests below.

use std::path::PathBuf;

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use crate::catalog::ImageRef;
use crate::import::ImportedVersion;

/// Paths as strings (lossily, should one not be UTF-8).
pub(crate) fn paths<S: Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(paths.len()))?;
    for path in paths {
        seq.serialize_element(&path.to_string_lossy())?;
    }
    seq.end()
}

/// Imported versions as `{version, outcome}`.
pub(crate) fn imported_versions<S: Serializer>(
    versions: &[(String, ImportedVersion)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(
        versions
            .iter()
            .map(|(version, outcome)| ImportedVersionEntry {
                version,
                outcome: *outcome,
            }),
    )
}

/// Relocated images as `{name, digest, relocated}`.
pub(crate) fn relocated_images<S: Serializer>(
    images: &[(ImageRef, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(images.iter().map(|(image, relocated)| RelocatedImageEntry {
        name: &image.name,
        digest: &image.digest,
        relocated,
    }))
}

/// One version of an imported package and what happened to it.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ImportedVersionReport")]
pub(crate) struct ImportedVersionEntry<'a> {
    /// Version number.
    version: &'a str,
    /// What happened to it.
    outcome: ImportedVersion,
}

/// An image and where it was relocated to.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "RelocatedImage")]
pub(crate) struct RelocatedImageEntry<'a> {
    /// Name in the market, without digest.
    name: &'a str,
    /// Manifest digest.
    digest: &'a str,
    /// `<registry>/<repository>@<digest>` as clusters pull it.
    relocated: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::{json, to_value};
    use template_core::ReleaseState;

    use crate::*;

    #[test]
    fn summaries_and_progress_serialize_as_the_bindings_hand_them_out() {
        let version = VersionSummary {
            template: "pig".to_owned(),
            version: "1.0.0".to_owned(),
            state: ReleaseState::Draft,
            site_state: Some(ReleaseState::Released),
            vendor_package: None,
            content_digest: "sha256:c0".to_owned(),
        };
        assert_eq!(
            to_value(&version).unwrap(),
            json!({"template": "pig", "version": "1.0.0", "state": "draft",
                   "site_state": "released", "vendor_package": null,
                   "content_digest": "sha256:c0"})
        );
        let summary = TemplateSummary {
            id: "pig".to_owned(),
            name: "Pig".to_owned(),
            versions: vec![version],
        };
        assert_eq!(to_value(&summary).unwrap()["versions"][0]["state"], "draft");

        let progress = Progress {
            phase: Phase::Commit,
            bytes_done: 5,
            bytes_total: 10,
            items_done: 1,
            items_total: 2,
            item: "blobs/sha256/ab",
        };
        assert_eq!(
            to_value(progress).unwrap(),
            json!({"phase": "commit", "bytes_done": 5, "bytes_total": 10,
                   "items_done": 1, "items_total": 2, "item": "blobs/sha256/ab"})
        );
        let relocating = RelocateProgress {
            event: RelocateEvent::ManifestPushed,
            bytes_done: 0,
            bytes_total: 3,
            blobs_done: 0,
            blobs_total: 1,
            item: "pig/gateway:1",
        };
        assert_eq!(
            to_value(relocating).unwrap(),
            json!({"event": "manifest_pushed", "bytes_done": 0, "bytes_total": 3,
                   "blobs_done": 0, "blobs_total": 1, "item": "pig/gateway:1"})
        );
    }

    #[test]
    fn reports_serialize_pairs_as_objects_and_paths_as_strings() {
        let image = ImageRef {
            name: "r.example/pig/gateway:1".to_owned(),
            digest: "sha256:aa".to_owned(),
        };
        assert_eq!(
            to_value(&image).unwrap(),
            json!({"name": "r.example/pig/gateway:1", "digest": "sha256:aa",
                   "reference": "r.example/pig/gateway:1@sha256:aa"})
        );
        let import = ImportReport {
            manifest_digest: "sha256:m".to_owned(),
            template: "pig".to_owned(),
            versions: vec![
                ("1.0.0".to_owned(), ImportedVersion::Added),
                ("2.0.0".to_owned(), ImportedVersion::Unchanged),
            ],
            signer: None,
            blobs_written: 3,
            bytes_written: 30,
            blobs_skipped: 1,
        };
        assert_eq!(
            to_value(&import).unwrap(),
            json!({"manifest_digest": "sha256:m", "template": "pig",
                   "versions": [{"version": "1.0.0", "outcome": "added"},
                                {"version": "2.0.0", "outcome": "unchanged"}],
                   "signer": null, "blobs_written": 3, "bytes_written": 30,
                   "blobs_skipped": 1})
        );
        let relocate = RelocateReport {
            counts: template_core::RelocationCounts {
                blobs_checked: 2,
                ..template_core::RelocationCounts::default()
            },
            images: vec![(image, "mirror/pig/gateway@sha256:aa".to_owned())],
        };
        assert_eq!(to_value(&relocate).unwrap()["blobs_checked"], 2);
        assert_eq!(
            to_value(&relocate).unwrap()["images"],
            json!([{"name": "r.example/pig/gateway:1", "digest": "sha256:aa",
                    "relocated": "mirror/pig/gateway@sha256:aa"}])
        );
        let export = ExportReport {
            manifest_digest: "sha256:m".to_owned(),
            carried_blobs: 1,
            carried_bytes: 2,
            omitted_blobs: 3,
            omitted_bytes: 4,
            archive_bytes: 5,
            files: vec!["out/pig.tar.zst.part-000".into()],
        };
        assert_eq!(
            to_value(&export).unwrap(),
            json!({"manifest_digest": "sha256:m", "carried_blobs": 1, "carried_bytes": 2,
                   "omitted_blobs": 3, "omitted_bytes": 4, "archive_bytes": 5,
                   "files": ["out/pig.tar.zst.part-000"]})
        );
        assert_eq!(
            to_value(GcReport {
                blobs_removed: 1,
                bytes_freed: 9,
                staged_files_removed: 2,
                staged_bytes_freed: 4,
            })
            .unwrap(),
            json!({"blobs_removed": 1, "bytes_freed": 9, "staged_files_removed": 2,
                   "staged_bytes_freed": 4})
        );
        assert_eq!(
            to_value(VerifyReport::default()).unwrap(),
            json!({"blobs_checked": 0, "staged_files": 0, "staged_bytes": 0, "problems": []})
        );
    }
}
