//! Names and media types that define the package format. The format is
//! described in `docs/package-format.md`; change both together.

/// Value of the `format` field of the package manifest this crate writes
/// and the only one it reads.
pub const PACKAGE_FORMAT: &str = "apptemplate.io/package/v1";

/// Value of the `format` field of an inventory document.
pub const INVENTORY_FORMAT: &str = "apptemplate.io/inventory/v1";

/// `imageLayoutVersion` of the OCI image layout at the archive root.
pub const OCI_LAYOUT_VERSION: &str = "1.0.0";

/// Archive entry holding the OCI layout marker.
pub const OCI_LAYOUT_ENTRY: &str = "oci-layout";
/// Archive entry holding the OCI image index.
pub const INDEX_ENTRY: &str = "index.json";
/// Directory entries the writer emits so that `tar -x` creates them with
/// sane modes; the reader accepts them and nothing else as directories.
pub const DIRECTORY_ENTRIES: [&str; 2] = ["blobs/", "blobs/sha256/"];
/// Prefix of every blob entry; the rest of the name is 64 lowercase hex.
pub const BLOB_PREFIX: &str = "blobs/sha256/";

/// Artifact type of the package manifest artifact.
pub const PACKAGE_ARTIFACT_TYPE: &str = "application/vnd.apptemplate.package.v1+json";
/// Media type of the package manifest JSON blob.
pub const PACKAGE_MANIFEST_MEDIA_TYPE: &str =
    "application/vnd.apptemplate.package.manifest.v1+json";
/// Artifact type of a template version artifact.
pub const VERSION_ARTIFACT_TYPE: &str = "application/vnd.apptemplate.version.v1+json";
/// Media type of a template version document blob (the JSON document).
pub const VERSION_DOCUMENT_MEDIA_TYPE: &str =
    "application/vnd.apptemplate.version.document.v1+json";
/// Artifact type of a detached package signature artifact.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.apptemplate.signature.v1";
/// Media type of a minisign signature blob (the `.minisig` text).
pub const MINISIGN_SIGNATURE_MEDIA_TYPE: &str = "application/vnd.apptemplate.signature.minisign";
/// Media type of a template logo blob when the caller knows no better one.
pub const LOGO_MEDIA_TYPE: &str = "application/vnd.apptemplate.logo";

/// OCI image manifest media type.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest media type (same JSON shape as an OCI manifest).
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type (same JSON shape as an OCI index).
pub const DOCKER_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of the empty JSON blob `{}` used as artifact config.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty JSON blob.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// Digest of [`EMPTY_BLOB`].
pub const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// Annotation: template id of a version artifact.
pub const ANNOTATION_TEMPLATE: &str = "io.apptemplate.template";
/// Annotation: version number of a version artifact.
pub const ANNOTATION_VERSION: &str = "io.apptemplate.version";
/// Annotation: content digest of a version artifact's document.
pub const ANNOTATION_CONTENT_DIGEST: &str = "io.apptemplate.content-digest";
/// Annotation: release state of a version artifact.
pub const ANNOTATION_RELEASE_STATE: &str = "io.apptemplate.release-state";
/// Annotation: what an index entry is (`package`, `signature`, `version`,
/// `image`).
pub const ANNOTATION_ROLE: &str = "io.apptemplate.role";
/// The OCI annotation that names an image in a layout (`skopeo` looks it up).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Fixed modification time of every archive entry (the Unix epoch), so the
/// same inputs give the same bytes.
pub const ENTRY_MTIME: u64 = 0;
/// Mode of file entries.
pub const FILE_MODE: u32 = 0o644;
/// Mode of directory entries.
pub const DIR_MODE: u32 = 0o755;

/// The four magic bytes that start a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Whether a media type names a JSON manifest or index the reader parses
/// to check that everything it references is accounted for.
pub fn is_manifest_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST_MEDIA_TYPE
            | OCI_INDEX_MEDIA_TYPE
            | DOCKER_MANIFEST_MEDIA_TYPE
            | DOCKER_MANIFEST_LIST_MEDIA_TYPE
    )
}

/// Whether a media type names an index (a list of manifests).
pub fn is_index_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_INDEX_MEDIA_TYPE | DOCKER_MANIFEST_LIST_MEDIA_TYPE
    )
}

/// Whether blobs of this media type are small JSON documents the reader
/// buffers (bounded by the JSON limit) to check them.
pub fn is_metadata_media_type(media_type: &str) -> bool {
    is_manifest_media_type(media_type) || media_type == VERSION_DOCUMENT_MEDIA_TYPE
}
