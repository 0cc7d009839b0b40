//! Test support: synthetic OCI images with deterministic layers, and the
//! "Pig" fixtures re-pinned to them. Used by the tests, the README example,
//! the benches and the bindings; not meant for production use.
//!
//! Every Java service shares one "jdk" base layer, the UI an "nginx" one,
//! the rest an "os" one; each `name:tag` adds an application layer derived
//! from its name, so a new tag changes exactly one layer.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder};
use template_core::package::format::*;
use template_core::package::{
    annotated, canonical_json, descriptor_of, image_digest, image_name, sha256_hex,
};
use template_core::{IncrementalChange, Overwrite, TemplateVersion};

use crate::error::{MarketError, Result, io_err};
use crate::{ImageRef, Market};

/// One synthetic image: a name and its layers (each the bytes of a tar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticImage {
    /// Name without digest, e.g. `registry.example.com/pig/pig-auth:3.8.2`.
    pub name: String,
    /// Layer blobs, base first.
    pub layers: Vec<Vec<u8>>,
}

/// Sizes of synthetic layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSizes {
    /// Size of each shared base layer.
    pub base: usize,
    /// Size of each application layer.
    pub app: usize,
}

impl Default for LayerSizes {
    fn default() -> Self {
        LayerSizes {
            base: 96 << 10,
            app: 32 << 10,
        }
    }
}

/// Deterministic bytes: half pseudo-random, half repetitive text, so the
/// data compresses like real layers (some of it well, some not at all).
pub fn synthetic_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in seed.bytes() {
        state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    let mut out = Vec::with_capacity(len);
    let random_len = len / 2;
    while out.len() < random_len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(random_len);
    let mut line = 0u64;
    while out.len() < len {
        let text = format!(
            "{seed} line {line}: INFO service started, config loaded from /etc/app/application.yml\n"
        );
        out.extend_from_slice(text.as_bytes());
        line += 1;
    }
    out.truncate(len);
    out
}

/// A deterministic tar holding one file with these bytes.
pub fn layer_tar(file_name: &str, content: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header
        .set_path(file_name)
        .map_err(io_err("build layer", file_name))?;
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_cksum();
    builder
        .append(&header, content)
        .map_err(io_err("build layer", file_name))?;
    builder
        .into_inner()
        .map_err(io_err("build layer", file_name))
}

fn base_family(name: &str) -> &'static str {
    let repo = name.rsplit('/').next().unwrap_or(name);
    if repo.starts_with("pig-ui") {
        "nginx"
    } else if repo.starts_with("pig-") || repo.starts_with("nacos") {
        "jdk"
    } else {
        "os"
    }
}

/// The synthetic image for an image name: a shared base layer of its
/// family and an application layer of its own.
pub fn synthetic_image(name: &str, sizes: LayerSizes) -> Result<SyntheticImage> {
    let family = base_family(name);
    let base = layer_tar(
        &format!("opt/{family}/base.bin"),
        &synthetic_bytes(family, sizes.base),
    )?;
    let app = layer_tar("app/app.bin", &synthetic_bytes(name, sizes.app))?;
    Ok(SyntheticImage {
        name: name.to_owned(),
        layers: vec![base, app],
    })
}

/// Writes images as an OCI image layout in `dir` (each named by
/// `org.opencontainers.image.ref.name`); returns their references.
pub fn write_oci_layout(dir: &Path, images: &[SyntheticImage]) -> Result<Vec<ImageRef>> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(io_err("create", &blobs))?;
    let put = |bytes: &[u8]| -> Result<String> {
        let digest = template_core::package::sha256_of(bytes);
        let hex = sha256_hex(&digest).unwrap_or_default();
        let path = blobs.join(hex);
        fs::write(&path, bytes).map_err(io_err("write", &path))?;
        Ok(digest)
    };
    let mut refs = Vec::new();
    let mut entries = Vec::new();
    for image in images {
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in &image.layers {
            put(layer)?;
            let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", layer)?;
            diff_ids.push(d.digest().to_string());
            layer_descs.push(d);
        }
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.title": image.name}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config_bytes = canonical_json(&config)?;
        put(&config_bytes)?;
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(descriptor_of(
                "application/vnd.oci.image.config.v1+json",
                &config_bytes,
            )?)
            .layers(layer_descs)
            .build()
            .map_err(|e| MarketError::InvalidImageSource {
                source_path: dir.to_owned(),
                message: e.to_string(),
            })?;
        let bytes = canonical_json(&manifest)?;
        let digest = put(&bytes)?;
        let desc = descriptor_of(OCI_MANIFEST_MEDIA_TYPE, &bytes)?;
        entries.push(annotated(&desc, &[(ANNOTATION_REF_NAME, &image.name)]));
        refs.push(ImageRef {
            name: image.name.clone(),
            digest,
        });
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(entries)
        .build()
        .map_err(|e| MarketError::InvalidImageSource {
            source_path: dir.to_owned(),
            message: e.to_string(),
        })?;
    let layout = OciLayoutBuilder::default()
        .image_layout_version(OCI_LAYOUT_VERSION)
        .build()
        .map_err(|e| MarketError::InvalidImageSource {
            source_path: dir.to_owned(),
            message: e.to_string(),
        })?;
    let index_path = dir.join(INDEX_ENTRY);
    fs::write(&index_path, canonical_json(&index)?).map_err(io_err("write", &index_path))?;
    let layout_path = dir.join(OCI_LAYOUT_ENTRY);
    fs::write(&layout_path, canonical_json(&layout)?).map_err(io_err("write", &layout_path))?;
    Ok(refs)
}

/// Directory of the Pig fixtures (`tests/data/pig` of the workspace).
pub fn pig_fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/pig")
}

/// Loads the Pig fixture of this version (`1.0.0` or `2.0.0`) as written,
/// with placeholder image digests.
pub fn pig_fixture(version: &str) -> Result<TemplateVersion> {
    let path = pig_fixture_dir().join(format!("{version}.yaml"));
    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
    Ok(template_core::load(
        &bytes,
        template_core::Format::Yaml,
        template_core::LoadOptions::default(),
    )?)
}

/// The logo bytes used for Pig.
pub fn pig_logo() -> Vec<u8> {
    let mut logo = b"\x89PNG\r\n\x1a\n".to_vec();
    logo.extend(synthetic_bytes("pig-logo", 2048));
    logo
}

/// Every image name a version uses (components and plugins).
pub fn image_names(version: &TemplateVersion) -> Vec<String> {
    let mut names: Vec<String> = version
        .components
        .iter()
        .map(|c| image_name(&c.image).to_owned())
        .chain(
            version
                .plugins
                .iter()
                .map(|p| image_name(&p.image).to_owned()),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Replaces every image digest of `version` by the digest of the image of
/// the same name in `refs`, and the logo by `logo`.
pub fn repin(version: &mut TemplateVersion, refs: &[ImageRef], logo: Option<&str>) {
    let by_name: BTreeMap<&str, &str> = refs
        .iter()
        .map(|r| (r.name.as_str(), r.digest.as_str()))
        .collect();
    let fix = |image: &mut String| {
        if let Some(d) = by_name.get(image_name(image)) {
            *image = format!("{}@{d}", image_name(image));
        }
    };
    for c in &mut version.components {
        fix(&mut c.image);
    }
    for p in &mut version.plugins {
        fix(&mut p.image);
    }
    if let Some(logo) = logo {
        version.template.logo = Some(logo.to_owned());
    }
}

/// Builds synthetic images for every image `version` uses, adds them to
/// the market through an OCI layout in a temporary directory, stores the
/// logo, and returns the version re-pinned to them.
pub fn prepare_images(
    market: &Market,
    version: &TemplateVersion,
    sizes: LayerSizes,
) -> Result<TemplateVersion> {
    let tmp = tempfile::tempdir()
        .map_err(io_err("create a temporary directory", std::env::temp_dir()))?;
    let images = image_names(version)
        .iter()
        .map(|n| synthetic_image(n, sizes))
        .collect::<Result<Vec<_>>>()?;
    write_oci_layout(tmp.path(), &images)?;
    let refs = market.add_oci_layout(tmp.path(), &[])?;
    let logo = market.add_blob(&pig_logo())?;
    let mut out = version.clone();
    repin(&mut out, &refs, Some(&logo));
    Ok(out)
}

/// Publishes Pig 1.0.0 with synthetic images; returns the published
/// version and its image references.
pub fn publish_pig(market: &Market, version: &str) -> Result<(TemplateVersion, Vec<ImageRef>)> {
    let fixture = pig_fixture(version)?;
    let pinned = prepare_images(market, &fixture, LayerSizes::default())?;
    market.publish(&pinned, Overwrite::Refuse)?;
    Ok((pinned.clone(), refs_of(&pinned)))
}

/// Publishes Pig `target` (e.g. 2.0.0) incrementally on top of `base` as
/// the foundation's incremental publish does: only the components whose
/// definition changed between the fixtures are given, the rest is carried
/// over from the base. Returns the new version.
pub fn publish_pig_incremental(
    market: &Market,
    base: &TemplateVersion,
    target: &str,
    sizes: LayerSizes,
) -> Result<TemplateVersion> {
    let fixture = pig_fixture(target)?;
    let pinned = prepare_images(market, &fixture, sizes)?;
    let change = IncrementalChange {
        version: pinned.version.clone(),
        alias: pinned.alias.clone(),
        release_notes: pinned.release_notes.clone(),
        created_at: pinned.created_at.clone(),
        components: pinned
            .components
            .iter()
            .filter(|c| base.component(&c.key) != Some(*c))
            .cloned()
            .collect(),
        plugins: pinned
            .plugins
            .iter()
            .filter(|p| base.plugin(&p.key) != Some(*p))
            .cloned()
            .collect(),
        modules: pinned
            .modules
            .iter()
            .filter(|m| base.module(&m.key) != Some(*m))
            .cloned()
            .collect(),
        config_groups: pinned
            .config_groups
            .iter()
            .filter(|g| !base.config_groups.contains(g))
            .cloned()
            .collect(),
    };
    let (next, _) = template_core::build_incremental(base, change)?;
    market.publish(&next, Overwrite::Refuse)?;
    Ok(next)
}

/// The image references of a version.
pub fn refs_of(version: &TemplateVersion) -> Vec<ImageRef> {
    let mut out: Vec<ImageRef> = version
        .components
        .iter()
        .map(|c| &c.image)
        .chain(version.plugins.iter().map(|p| &p.image))
        .filter_map(|r| {
            image_digest(r).map(|d| ImageRef {
                name: image_name(r).to_owned(),
                digest: d.to_owned(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub mod bad_packages;
pub mod registry;
