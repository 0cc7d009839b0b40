//! The package manifest (what a package holds and needs) and the OCI
//! documents built around it: the artifact manifests of the package, of its
//! signature and of template versions, and the `index.json` at the root.
//!
//! Every JSON document written into a package or a market is serialized as
//! RFC 8785 canonical JSON, so the same value always gives the same bytes
//! (OCI annotations are hash maps; canonical form sorts them).

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::image::{
    Descriptor, Digest, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::format::*;
use crate::error::PackageError;
use crate::model::{ReleaseState, TemplateVersion};

/// Everything a package holds and everything it expects the importing
/// market to hold already. Stored as a JSON blob (media type
/// [`PACKAGE_MANIFEST_MEDIA_TYPE`]) and the thing a signature signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManifest {
    /// Format version, [`PACKAGE_FORMAT`].
    pub format: String,
    /// Template id of every version in the package.
    pub template: String,
    /// The template versions in the package, oldest first.
    pub versions: Vec<PackagedVersion>,
    /// The images the versions use, by name. Only images whose manifest is
    /// carried are listed in `index.json`.
    pub images: Vec<PackagedImage>,
    /// What a differential package was computed against; `None` for a full
    /// package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PackageBase>,
    /// The blobs carried in the archive after the header, in archive order.
    pub blobs: Vec<Descriptor>,
    /// Blobs the versions need that the package does not carry: the
    /// importing market must already hold them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<Descriptor>,
    /// Sum of the sizes of `blobs`.
    pub carried_bytes: u64,
    /// Sum of the sizes of `omitted`.
    pub omitted_bytes: u64,
}

/// One template version in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagedVersion {
    /// Version number.
    pub version: String,
    /// Content digest of the document ([`crate::content_digest`]).
    pub content_digest: String,
    /// Release state at export time.
    pub release_state: ReleaseState,
    /// The version's OCI artifact manifest.
    pub artifact: Descriptor,
    /// The version document blob (JSON).
    pub document: Descriptor,
}

/// An image the package's versions use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagedImage {
    /// Image name without digest, e.g. `registry.example.com/pig/gateway:3.8.2`;
    /// the `org.opencontainers.image.ref.name` in `index.json`.
    pub name: String,
    /// The image manifest.
    pub manifest: Descriptor,
}

/// What a differential package leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PackageBase {
    /// Everything these versions of the same template reference.
    Versions {
        /// Base version numbers.
        versions: Vec<String>,
    },
    /// Everything an inventory of the destination market lists.
    Inventory {
        /// Digest of the inventory document.
        digest: String,
    },
}

impl std::fmt::Display for PackageBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageBase::Versions { versions } => write!(f, "version(s) {}", versions.join(", ")),
            PackageBase::Inventory { digest } => write!(f, "inventory {digest}"),
        }
    }
}

impl PackageManifest {
    /// Builds a manifest in normal form: versions in semantic order, images
    /// by name, blobs deduplicated with metadata (manifests, documents)
    /// first and then by digest, omitted blobs deduplicated and minus the
    /// carried ones, the empty blob left out (every package carries it in
    /// its header), sizes summed.
    pub fn new(
        template: &str,
        mut versions: Vec<PackagedVersion>,
        images: Vec<PackagedImage>,
        base: Option<PackageBase>,
        carried: Vec<Descriptor>,
        omitted: Vec<Descriptor>,
    ) -> Result<Self, PackageError> {
        versions.sort_by(|a, b| {
            match (
                crate::versions::parse_version(&a.version),
                crate::versions::parse_version(&b.version),
            ) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.version.cmp(&b.version),
            }
        });
        let mut image_map: BTreeMap<(String, String), PackagedImage> = BTreeMap::new();
        for image in images {
            image_map.insert(
                (image.name.clone(), image.manifest.digest().to_string()),
                image,
            );
        }
        let mut carried_map: BTreeMap<String, Descriptor> = BTreeMap::new();
        for d in carried {
            let key = d.digest().to_string();
            if key == EMPTY_DIGEST {
                continue;
            }
            check_descriptor(&d)?;
            if let Some(prev) = carried_map.get(&key)
                && prev.size() != d.size()
            {
                return Err(PackageError::InvalidInput {
                    detail: format!(
                        "blob {key} is listed with sizes {} and {}",
                        prev.size(),
                        d.size()
                    ),
                });
            }
            carried_map.insert(key, d);
        }
        let mut blobs: Vec<Descriptor> = carried_map.into_values().collect();
        blobs.sort_by_key(|d| {
            (
                !is_metadata_media_type(d.media_type().as_ref()),
                d.digest().to_string(),
            )
        });
        let carried_set: BTreeSet<String> = blobs.iter().map(|d| d.digest().to_string()).collect();
        let mut omitted_map: BTreeMap<String, Descriptor> = BTreeMap::new();
        for d in omitted {
            let key = d.digest().to_string();
            if key == EMPTY_DIGEST || carried_set.contains(&key) {
                continue;
            }
            check_descriptor(&d)?;
            omitted_map.insert(key, d);
        }
        let omitted: Vec<Descriptor> = omitted_map.into_values().collect();
        let carried_bytes = blobs.iter().map(|d| d.size()).sum();
        let omitted_bytes = omitted.iter().map(|d| d.size()).sum();
        Ok(PackageManifest {
            format: PACKAGE_FORMAT.to_owned(),
            template: template.to_owned(),
            versions,
            images: image_map.into_values().collect(),
            base,
            blobs,
            omitted,
            carried_bytes,
            omitted_bytes,
        })
    }

    /// The canonical JSON bytes of the manifest: what is stored in the
    /// package and what a signature signs.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        canonical_json(self)
    }

    /// Parses manifest bytes, refusing unknown format versions.
    pub fn from_bytes(entry: &str, bytes: &[u8]) -> Result<Self, PackageError> {
        #[derive(Deserialize)]
        struct Probe {
            format: String,
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| PackageError::InvalidJson {
                entry: entry.to_owned(),
                what: "a package manifest",
                message: e.to_string(),
            })?;
        if probe.format != PACKAGE_FORMAT {
            return Err(PackageError::UnsupportedFormat {
                entry: entry.to_owned(),
                found: probe.format,
                supported: PACKAGE_FORMAT.to_owned(),
            });
        }
        serde_json::from_slice(bytes).map_err(|e| PackageError::InvalidJson {
            entry: entry.to_owned(),
            what: "a package manifest",
            message: e.to_string(),
        })
    }

    /// Every blob digest the package accounts for, carried or omitted.
    pub fn known_digests(&self) -> BTreeSet<String> {
        self.blobs
            .iter()
            .chain(self.omitted.iter())
            .map(|d| d.digest().to_string())
            .collect()
    }

    /// The `index.json` of a package with this manifest: the package
    /// artifact, the signature artifact if any, every version artifact, and
    /// every image whose manifest is carried (named by
    /// `org.opencontainers.image.ref.name`, so `skopeo` finds it), except
    /// the manifests in `incomplete`: those whose closure the package does
    /// not carry whole (a differential package), which the layout must not
    /// list.
    pub fn index(
        &self,
        package_artifact: &Descriptor,
        signature_artifact: Option<&Descriptor>,
        incomplete: &BTreeSet<String>,
    ) -> Result<ImageIndex, PackageError> {
        let carried: BTreeSet<String> = self
            .blobs
            .iter()
            .map(|d| d.digest().to_string())
            .filter(|d| !incomplete.contains(d))
            .collect();
        let mut manifests = vec![annotated(package_artifact, &[(ANNOTATION_ROLE, "package")])];
        if let Some(sig) = signature_artifact {
            manifests.push(annotated(sig, &[(ANNOTATION_ROLE, "signature")]));
        }
        for v in &self.versions {
            if carried.contains(&v.artifact.digest().to_string()) {
                manifests.push(annotated(
                    &v.artifact,
                    &[
                        (ANNOTATION_ROLE, "version"),
                        (ANNOTATION_TEMPLATE, &self.template),
                        (ANNOTATION_VERSION, &v.version),
                        (ANNOTATION_CONTENT_DIGEST, &v.content_digest),
                    ],
                ));
            }
        }
        for image in &self.images {
            if carried.contains(&image.manifest.digest().to_string()) {
                manifests.push(annotated(
                    &image.manifest,
                    &[
                        (ANNOTATION_ROLE, "image"),
                        (ANNOTATION_REF_NAME, &image.name),
                    ],
                ));
            }
        }
        ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(manifests)
            .build()
            .map_err(|e| PackageError::InvalidInput {
                detail: e.to_string(),
            })
    }
}

fn check_descriptor(d: &Descriptor) -> Result<(), PackageError> {
    if sha256_hex(d.digest().as_ref()).is_none() {
        return Err(PackageError::InvalidInput {
            detail: format!(
                "blob digest {} is not sha256:<64 lowercase hex>",
                d.digest()
            ),
        });
    }
    Ok(())
}

/// A copy of `d` with these annotations added.
pub fn annotated(d: &Descriptor, pairs: &[(&str, &str)]) -> Descriptor {
    let mut out = d.clone();
    // oci-spec keeps annotations in a std hash map, whose default hasher
    // is seeded by the standard library; its order never shows, as
    // manifests are written as canonical JSON with sorted keys.
    let mut map = out.annotations().clone().unwrap_or_default();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    out.set_annotations(Some(map));
    out
}

/// RFC 8785 canonical JSON of any value: sorted keys, no whitespace.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, PackageError> {
    serde_jcs::to_vec(value).map_err(|e| PackageError::InvalidInput {
        detail: e.to_string(),
    })
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a well-formed `sha256:<64 lowercase hex>` digest.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// Archive entry name of a blob: `blobs/sha256/<hex>`.
pub fn blob_entry_name(digest: &str) -> String {
    match digest.strip_prefix("sha256:") {
        Some(hex) => format!("{BLOB_PREFIX}{hex}"),
        None => format!("{BLOB_PREFIX}{digest}"),
    }
}

/// A descriptor of these bytes with this media type.
pub fn descriptor_of(media_type: &str, bytes: &[u8]) -> Result<Descriptor, PackageError> {
    descriptor(media_type, &sha256_of(bytes), bytes.len() as u64)
}

/// A descriptor from its parts; the digest must be `sha256:<64 hex>`.
pub fn descriptor(media_type: &str, digest: &str, size: u64) -> Result<Descriptor, PackageError> {
    if sha256_hex(digest).is_none() {
        return Err(PackageError::InvalidInput {
            detail: format!("`{digest}` is not a sha256 digest"),
        });
    }
    let digest = Digest::try_from(digest).map_err(|e| PackageError::InvalidInput {
        detail: e.to_string(),
    })?;
    Ok(Descriptor::new(MediaType::from(media_type), size, digest))
}

/// The empty JSON blob's descriptor.
pub fn empty_descriptor() -> Result<Descriptor, PackageError> {
    descriptor(EMPTY_MEDIA_TYPE, EMPTY_DIGEST, EMPTY_BLOB.len() as u64)
}

/// An OCI 1.1 artifact: an image manifest with `artifactType`, the empty
/// config, these layers and an optional subject. Returns its canonical
/// bytes and its descriptor (with `artifactType` set).
pub fn artifact_manifest(
    artifact_type: &str,
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
) -> Result<(Vec<u8>, Descriptor), PackageError> {
    let mut builder = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .artifact_type(MediaType::from(artifact_type))
        .config(empty_descriptor()?)
        .layers(layers);
    if let Some(subject) = subject {
        builder = builder.subject(subject);
    }
    let manifest: ImageManifest = builder.build().map_err(|e| PackageError::InvalidInput {
        detail: e.to_string(),
    })?;
    let bytes = canonical_json(&manifest)?;
    let mut desc = descriptor_of(OCI_MANIFEST_MEDIA_TYPE, &bytes)?;
    desc.set_artifact_type(Some(MediaType::from(artifact_type)));
    Ok((bytes, desc))
}

/// The blob of a version document: its pretty JSON as
/// [`crate::write_json`] writes it.
pub fn version_document(version: &TemplateVersion) -> Result<(Vec<u8>, Descriptor), PackageError> {
    let mut bytes = Vec::new();
    crate::document::write_json(version, &mut bytes).map_err(|e| PackageError::InvalidInput {
        detail: e.to_string(),
    })?;
    let desc = descriptor_of(VERSION_DOCUMENT_MEDIA_TYPE, &bytes)?;
    Ok((bytes, desc))
}

/// The artifact manifest of a version: the document and, if the template
/// has one, the logo as layers.
pub fn version_artifact(
    document: &Descriptor,
    logo: Option<&Descriptor>,
) -> Result<(Vec<u8>, Descriptor), PackageError> {
    let mut layers = vec![document.clone()];
    if let Some(logo) = logo {
        layers.push(logo.clone());
    }
    artifact_manifest(VERSION_ARTIFACT_TYPE, layers, None)
}

/// The descriptors a manifest (config and layers) or an index (its
/// manifests) references. `media_type` says which of the two `bytes` is.
pub fn manifest_references(media_type: &str, bytes: &[u8]) -> Result<Vec<Descriptor>, String> {
    if is_index_media_type(media_type) {
        let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(index.manifests().clone())
    } else {
        let manifest: ImageManifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut out = vec![manifest.config().clone()];
        out.extend(manifest.layers().iter().cloned());
        Ok(out)
    }
}

/// The digest part of an image reference pinned by digest
/// (`name@sha256:<hex>`).
pub fn image_digest(reference: &str) -> Option<&str> {
    let (_, digest) = reference.rsplit_once('@')?;
    sha256_hex(digest).map(|_| digest)
}

/// The name part of an image reference (everything before `@`).
pub fn image_name(reference: &str) -> &str {
    reference
        .rsplit_once('@')
        .map_or(reference, |(name, _)| name)
}

/// Where a version points outside itself: `(what, digest)` for every
/// component and plugin image and the logo. `what` is a path in the
/// document, e.g. `components[gateway].image`.
pub fn version_references(version: &TemplateVersion) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &version.components {
        if let Some(d) = image_digest(&c.image) {
            out.push((format!("components[{}].image", c.key), d.to_owned()));
        }
    }
    for p in &version.plugins {
        if let Some(d) = image_digest(&p.image) {
            out.push((format!("plugins[{}].image", p.key), d.to_owned()));
        }
    }
    if let Some(logo) = &version.template.logo {
        out.push(("template.logo".to_owned(), logo.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_digest_constant_is_right() {
        assert_eq!(sha256_of(EMPTY_BLOB), EMPTY_DIGEST);
    }

    #[test]
    fn image_reference_parts() {
        let r = format!("registry.example.com/a/b:1@{EMPTY_DIGEST}");
        assert_eq!(image_digest(&r), Some(EMPTY_DIGEST));
        assert_eq!(image_name(&r), "registry.example.com/a/b:1");
        assert_eq!(image_digest("nginx:latest"), None);
    }

    #[test]
    fn artifact_bytes_are_canonical_and_stable() {
        let (doc, d) = version_document(&crate::testing::minimal_version("demo", "1.0.0")).unwrap();
        assert!(doc.ends_with(b"\n"));
        let (a, da) = version_artifact(&d, None).unwrap();
        let (b, db) = version_artifact(&d, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(da, db);
        assert!(!a.contains(&b' '));
    }
}
