//! The catalog: the market's `index.json`, an OCI image index listing every
//! template version (as an artifact, annotated with template, version,
//! content digest and release state) and every image (annotated with its
//! name as `org.opencontainers.image.ref.name`, so `skopeo` can read images
//! straight from the market directory). It is the only mutable file of the
//! market and is replaced atomically, last, by every change.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType};
use template_core::ReleaseState;
use template_core::package::format::*;
use template_core::package::{annotated, canonical_json};

use crate::error::{MarketError, Result, io_err};
use crate::store::write_atomic;

/// Annotation of an imported version: digest of the manifest of the
/// package whose signed release state the version carries.
pub(crate) const ANNOTATION_VENDOR_PACKAGE: &str = "io.apptemplate.vendor-package";
/// Annotation of an imported version: a release state decided at this
/// site, kept apart from the vendor's.
pub(crate) const ANNOTATION_SITE_STATE: &str = "io.apptemplate.site-release-state";

/// A version as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionRecord {
    pub(crate) artifact: Descriptor,
    pub(crate) content_digest: String,
    /// The vendor's release state: for an imported version the one signed
    /// in the package, for a version published here this market's own.
    /// What the document says and what `released_only` checks.
    pub(crate) state: ReleaseState,
    /// For an imported version, the package that carried `state`.
    pub(crate) vendor_package: Option<String>,
    /// For an imported version, a state decided at this site.
    pub(crate) site_state: Option<ReleaseState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Catalog {
    /// (template, version) → record.
    pub(crate) versions: BTreeMap<(String, String), VersionRecord>,
    /// (name, digest) → manifest descriptor.
    pub(crate) images: BTreeMap<(String, String), Descriptor>,
}

fn annotation<'a>(d: &'a Descriptor, key: &str) -> Option<&'a str> {
    d.annotations().as_ref()?.get(key).map(String::as_str)
}

pub(crate) fn state_name(state: ReleaseState) -> &'static str {
    match state {
        ReleaseState::Draft => "draft",
        ReleaseState::Testing => "testing",
        ReleaseState::Released => "released",
        ReleaseState::Deprecated => "deprecated",
    }
}

fn parse_state(s: &str) -> Option<ReleaseState> {
    Some(match s {
        "draft" => ReleaseState::Draft,
        "testing" => ReleaseState::Testing,
        "released" => ReleaseState::Released,
        "deprecated" => ReleaseState::Deprecated,
        _ => return None,
    })
}

impl Catalog {
    pub(crate) fn load(path: &Path) -> Result<Catalog> {
        let bytes = std::fs::read(path).map_err(io_err("read", path))?;
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| MarketError::Corrupt {
                path: path.to_owned(),
                message: format!("not an OCI image index: {e}"),
            })?;
        let mut catalog = Catalog::default();
        for d in index.manifests() {
            let role = annotation(d, ANNOTATION_ROLE);
            if role == Some("version") {
                let (Some(t), Some(v), Some(c), Some(s)) = (
                    annotation(d, ANNOTATION_TEMPLATE),
                    annotation(d, ANNOTATION_VERSION),
                    annotation(d, ANNOTATION_CONTENT_DIGEST),
                    annotation(d, ANNOTATION_RELEASE_STATE).and_then(parse_state),
                ) else {
                    return Err(MarketError::Corrupt {
                        path: path.to_owned(),
                        message: format!("version entry {} lacks its annotations", d.digest()),
                    });
                };
                catalog.versions.insert(
                    (t.to_owned(), v.to_owned()),
                    VersionRecord {
                        artifact: strip(d),
                        content_digest: c.to_owned(),
                        state: s,
                        vendor_package: annotation(d, ANNOTATION_VENDOR_PACKAGE).map(str::to_owned),
                        site_state: annotation(d, ANNOTATION_SITE_STATE).and_then(parse_state),
                    },
                );
            } else if let Some(name) = annotation(d, ANNOTATION_REF_NAME) {
                catalog
                    .images
                    .insert((name.to_owned(), d.digest().to_string()), strip(d));
            }
        }
        Ok(catalog)
    }

    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut manifests = Vec::new();
        for ((t, v), r) in &self.versions {
            let mut pairs = vec![
                (ANNOTATION_ROLE, "version"),
                (ANNOTATION_TEMPLATE, t.as_str()),
                (ANNOTATION_VERSION, v.as_str()),
                (ANNOTATION_CONTENT_DIGEST, r.content_digest.as_str()),
                (ANNOTATION_RELEASE_STATE, state_name(r.state)),
            ];
            if let Some(package) = &r.vendor_package {
                pairs.push((ANNOTATION_VENDOR_PACKAGE, package.as_str()));
            }
            if let Some(site) = r.site_state {
                pairs.push((ANNOTATION_SITE_STATE, state_name(site)));
            }
            manifests.push(annotated(&r.artifact, &pairs));
        }
        for ((name, _), d) in &self.images {
            manifests.push(annotated(
                d,
                &[(ANNOTATION_ROLE, "image"), (ANNOTATION_REF_NAME, name)],
            ));
        }
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(manifests)
            .build()
            .map_err(|e| MarketError::Corrupt {
                path: "index.json".into(),
                message: e.to_string(),
            })?;
        Ok(canonical_json(&index)?)
    }

    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        if std::fs::read(path).ok().as_deref() == Some(bytes.as_slice()) {
            return Ok(());
        }
        write_atomic(path, &bytes)
    }

    /// Manifest descriptor of an image by digest, whatever its name.
    pub(crate) fn image_by_digest(&self, digest: &str) -> Option<&Descriptor> {
        self.images
            .iter()
            .find(|((_, d), _)| d == digest)
            .map(|(_, desc)| desc)
    }
}

/// A descriptor without annotations (they are the catalog's, not content).
fn strip(d: &Descriptor) -> Descriptor {
    let mut out = d.clone();
    out.set_annotations(None);
    out
}

/// An image the market names. Serializes as `{name, digest, reference}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema)]
#[schemars(with = "ImageRefData<'static>")]
pub struct ImageRef {
    /// Name without digest, e.g. `registry.example.com/pig/gateway:3.8.2`.
    pub name: String,
    /// Manifest digest.
    pub digest: String,
}

impl ImageRef {
    /// `name@digest`, the form template documents use.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.digest)
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serde::Serialize::serialize(
            &ImageRefData {
                name: &self.name,
                digest: &self.digest,
                reference: self.reference(),
            },
            serializer,
        )
    }
}

/// The serialized form of an [`ImageRef`].
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ImageRefData<'a> {
    /// Name without digest, e.g. `registry.example.com/pig/gateway:3.8.2`.
    name: &'a str,
    /// Manifest digest.
    digest: &'a str,
    /// `name@digest`, the form template documents use.
    reference: String,
}
