//! Adding images to the market, from an OCI image layout directory or a
//! `docker save` tarball: the two forms users have their images in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifestBuilder, MediaType};
use template_core::package::format::*;
use template_core::package::{canonical_json, descriptor, manifest_references, sha256_hex};

use crate::catalog::ImageRef;
use crate::error::{MarketError, Result, io_err};
use crate::market::{MAX_DOCUMENT_BYTES, Market};
use crate::store::COPY_BUFFER;

impl Market {
    /// Adds images from an OCI image layout directory (what `skopeo copy
    /// ... oci:<dir>:<name>` writes). Every image named by
    /// `org.opencontainers.image.ref.name` is added, or only those in
    /// `names` when it is not empty. Every blob is verified while copied.
    pub fn add_oci_layout(&self, dir: &Path, names: &[&str]) -> Result<Vec<ImageRef>> {
        let bad = |message: String| MarketError::InvalidImageSource {
            source_path: dir.to_owned(),
            message,
        };
        let index_path = dir.join(INDEX_ENTRY);
        let bytes = std::fs::read(&index_path).map_err(io_err("read", &index_path))?;
        let index: ImageIndex =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("index.json: {e}")))?;
        let _lock = self.lock(true)?;
        let mut catalog = self.catalog()?;
        let mut added = Vec::new();
        for d in index.manifests() {
            let Some(name) = d
                .annotations()
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_REF_NAME))
            else {
                continue;
            };
            if !names.is_empty() && !names.contains(&name.as_str()) {
                continue;
            }
            self.copy_from_layout(dir, d, 0)?;
            let mut plain = d.clone();
            plain.set_annotations(None);
            catalog
                .images
                .insert((name.clone(), d.digest().to_string()), plain);
            added.push(ImageRef {
                name: name.clone(),
                digest: d.digest().to_string(),
            });
        }
        if let Some(missing) = names.iter().find(|n| !added.iter().any(|a| a.name == **n)) {
            return Err(bad(format!("no image named `{missing}` in index.json")));
        }
        catalog.save(&self.index_path())?;
        added.sort();
        Ok(added)
    }

    fn copy_from_layout(&self, dir: &Path, d: &Descriptor, depth: usize) -> Result<()> {
        let bad = |message: String| MarketError::InvalidImageSource {
            source_path: dir.to_owned(),
            message,
        };
        if depth > 8 {
            return Err(bad("manifests nest too deep".to_owned()));
        }
        let digest = d.digest().to_string();
        let hex = sha256_hex(&digest).ok_or_else(|| bad(format!("unsupported digest {digest}")))?;
        let path = dir.join("blobs").join("sha256").join(hex);
        let media_type = d.media_type().to_string();
        if is_manifest_media_type(&media_type) {
            let file = File::open(&path).map_err(io_err("open", &path))?;
            let mut bytes = Vec::new();
            file.take(MAX_DOCUMENT_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(io_err("read", &path))?;
            if template_core::package::sha256_of(&bytes) != digest {
                return Err(bad(format!("blob {digest} does not match its digest")));
            }
            let refs = manifest_references(&media_type, &bytes)
                .map_err(|e| bad(format!("manifest {digest}: {e}")))?;
            for r in &refs {
                self.copy_from_layout(dir, r, depth + 1)?;
            }
            self.store().put_bytes(&bytes)?;
        } else if !self.store().has(&digest) {
            let file = File::open(&path).map_err(io_err("open", &path))?;
            self.store()
                .put_reader(
                    BufReader::with_capacity(COPY_BUFFER, file),
                    Some((&digest, d.size())),
                )
                .map_err(|e| bad(format!("blob {digest}: {e}")))?;
        }
        Ok(())
    }

    /// Adds the images of a `docker save` tarball. Each image gets an OCI
    /// manifest built from the tarball's `manifest.json` (config and layers
    /// kept byte for byte) and is named by its repository tags.
    pub fn add_docker_archive(&self, tarball: &Path) -> Result<Vec<ImageRef>> {
        let bad = |message: String| MarketError::InvalidImageSource {
            source_path: tarball.to_owned(),
            message,
        };

        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            layers: Vec<String>,
        }

        // Pass 1: the manifest and the links between entries.
        let mut links: BTreeMap<String, String> = BTreeMap::new();
        let mut manifest: Option<Vec<Entry>> = None;
        {
            let file = File::open(tarball).map_err(io_err("open", tarball))?;
            let mut archive = tar::Archive::new(BufReader::with_capacity(COPY_BUFFER, file));
            for entry in archive.entries().map_err(io_err("read", tarball))? {
                let mut entry = entry.map_err(io_err("read", tarball))?;
                let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
                let kind = entry.header().entry_type();
                if kind == tar::EntryType::Symlink || kind == tar::EntryType::Link {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let resolved = if kind == tar::EntryType::Symlink {
                            let parent = name.rsplit_once('/').map_or("", |(p, _)| p);
                            normalize(&format!("{parent}/{target}"))
                        } else {
                            normalize(&target)
                        };
                        links.insert(name, resolved);
                    }
                } else if name == "manifest.json" {
                    let mut bytes = Vec::new();
                    (&mut entry)
                        .take(MAX_DOCUMENT_BYTES)
                        .read_to_end(&mut bytes)
                        .map_err(io_err("read", tarball))?;
                    manifest = Some(
                        serde_json::from_slice(&bytes)
                            .map_err(|e| bad(format!("manifest.json: {e}")))?,
                    );
                }
            }
        }
        let manifest = manifest
            .ok_or_else(|| bad("no manifest.json: not a `docker save` tarball".to_owned()))?;
        let resolve = |name: &str| -> String {
            let mut current = normalize(name);
            for _ in 0..8 {
                match links.get(&current) {
                    Some(next) => current = next.clone(),
                    None => break,
                }
            }
            current
        };
        let wanted: BTreeSet<String> = manifest
            .iter()
            .flat_map(|e| std::iter::once(&e.config).chain(e.layers.iter()))
            .map(|n| resolve(n))
            .collect();

        // Pass 2: stream the wanted files into the store.
        let _lock = self.lock(true)?;
        let mut stored: BTreeMap<String, (String, u64, [u8; 4])> = BTreeMap::new();
        {
            let file = File::open(tarball).map_err(io_err("open", tarball))?;
            let mut archive = tar::Archive::new(BufReader::with_capacity(COPY_BUFFER, file));
            for entry in archive.entries().map_err(io_err("read", tarball))? {
                let mut entry = entry.map_err(io_err("read", tarball))?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    continue;
                }
                let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
                if !wanted.contains(&name) || stored.contains_key(&name) {
                    continue;
                }
                let mut head = [0u8; 4];
                let mut peek = Peek {
                    inner: &mut entry,
                    head: &mut head,
                    filled: 0,
                };
                let (digest, size) = self.store().put_reader(&mut peek, None)?;
                stored.insert(name, (digest, size, head));
            }
        }
        let mut catalog = self.catalog()?;
        let mut added = Vec::new();
        for e in &manifest {
            let get = |n: &str| {
                stored
                    .get(&resolve(n))
                    .cloned()
                    .ok_or_else(|| bad(format!("`{n}` is missing from the tarball")))
            };
            let (config_digest, config_size, _) = get(&e.config)?;
            let config = descriptor(
                "application/vnd.oci.image.config.v1+json",
                &config_digest,
                config_size,
            )?;
            let mut layers = Vec::new();
            for l in &e.layers {
                let (digest, size, head) = get(l)?;
                let media_type = if head.starts_with(&[0x1f, 0x8b]) {
                    "application/vnd.oci.image.layer.v1.tar+gzip"
                } else if head == ZSTD_MAGIC {
                    "application/vnd.oci.image.layer.v1.tar+zstd"
                } else {
                    "application/vnd.oci.image.layer.v1.tar"
                };
                layers.push(descriptor(media_type, &digest, size)?);
            }
            let image = ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(config)
                .layers(layers)
                .build()
                .map_err(|err| bad(err.to_string()))?;
            let bytes = canonical_json(&image)?;
            let digest = self.store().put_bytes(&bytes)?;
            let desc = descriptor(OCI_MANIFEST_MEDIA_TYPE, &digest, bytes.len() as u64)?;
            let tags = e.repo_tags.clone().unwrap_or_default();
            if tags.is_empty() {
                return Err(bad(format!(
                    "image with config {} has no RepoTags; tag it before `docker save`",
                    e.config
                )));
            }
            for tag in tags {
                catalog
                    .images
                    .insert((tag.clone(), digest.clone()), desc.clone());
                added.push(ImageRef {
                    name: tag,
                    digest: digest.clone(),
                });
            }
        }
        catalog.save(&self.index_path())?;
        added.sort();
        Ok(added)
    }
}

/// Removes `.` and `..` components and leading `./` or `/`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Remembers the first bytes read through it (to recognise compression).
struct Peek<'a, R> {
    inner: R,
    head: &'a mut [u8; 4],
    filled: usize,
}

impl<R: Read> Read for Peek<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if self.filled >= 4 {
                break;
            }
            self.head[self.filled] = b;
            self.filled += 1;
        }
        Ok(n)
    }
}
