//! Unit tests of the package writer and reader.

use super::format::*;
use super::*;
use crate::testing::{EXAMPLE_DIGEST, minimal_version};

/// A package with one version whose image is omitted, and one layer.
fn sample(compression: Compression) -> (Vec<u8>, PackageManifest) {
    let version = minimal_version("demo", "1.0.0");
    let (doc, doc_desc) = version_document(&version).unwrap();
    let (art, art_desc) = version_artifact(&doc_desc, None).unwrap();
    let layer = vec![7u8; 10_000];
    let layer_desc = descriptor_of("application/vnd.oci.image.layer.v1.tar", &layer).unwrap();
    let (tool, tool_desc) = artifact_manifest(
        "application/vnd.example.tool",
        vec![layer_desc.clone()],
        None,
    )
    .unwrap();
    let image = descriptor(OCI_MANIFEST_MEDIA_TYPE, EXAMPLE_DIGEST, 100).unwrap();
    let manifest = PackageManifest::new(
        "demo",
        vec![PackagedVersion {
            version: "1.0.0".into(),
            content_digest: crate::content_digest(&version).unwrap(),
            release_state: version.release_state,
            artifact: art_desc.clone(),
            document: doc_desc.clone(),
        }],
        vec![PackagedImage {
            name: "registry.example.com/demo/tool:1".into(),
            manifest: tool_desc.clone(),
        }],
        Some(PackageBase::Versions {
            versions: vec!["0.9.0".into()],
        }),
        vec![
            layer_desc.clone(),
            art_desc.clone(),
            doc_desc,
            tool_desc.clone(),
        ],
        vec![image],
    )
    .unwrap();
    let mut w = PackageWriter::new(
        Vec::new(),
        &manifest,
        None,
        WriterOptions::compressed(compression),
    )
    .unwrap();
    let order: Vec<_> = w.remaining().cloned().collect();
    for d in order {
        let bytes: &[u8] = if d.digest() == layer_desc.digest() {
            &layer
        } else if d.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE {
            &doc
        } else if d.digest() == art_desc.digest() {
            &art
        } else {
            &tool
        };
        w.write_blob(d.digest().as_ref(), bytes).unwrap();
    }
    (w.finish().unwrap(), manifest)
}

#[test]
fn round_trip_returns_checked_versions() {
    for compression in [Compression::None, Compression::default()] {
        let (bytes, manifest) = sample(compression);
        let summary = PackageReader::default().verify(&bytes[..]).unwrap();
        assert_eq!(summary.header.manifest, manifest);
        assert_eq!(summary.versions, vec![minimal_version("demo", "1.0.0")]);
        assert_eq!(summary.blobs_read, 4);
        assert_eq!(summary.header.compressed, compression != Compression::None);
    }
}

#[test]
fn output_is_deterministic_whatever_the_worker_count() {
    let (a, _) = sample(Compression::Zstd {
        level: 3,
        workers: 1,
    });
    let (b, _) = sample(Compression::Zstd {
        level: 3,
        workers: 2,
    });
    let (c, _) = sample(Compression::Zstd {
        level: 3,
        workers: 1,
    });
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn writer_refuses_wrong_content_and_order() {
    let layer = b"abc".to_vec();
    let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", &layer).unwrap();
    let m = PackageManifest::new("demo", vec![], vec![], None, vec![d.clone()], vec![]).unwrap();
    let mut w = PackageWriter::new(Vec::new(), &m, None, WriterOptions::default()).unwrap();
    let err = w.write_blob(EXAMPLE_DIGEST, &b"abc"[..]).unwrap_err();
    assert!(matches!(err, PackageError::InvalidInput { .. }), "{err}");
    let err = w.write_blob(d.digest().as_ref(), &b"abd"[..]).unwrap_err();
    assert!(matches!(err, PackageError::DigestMismatch { .. }), "{err}");

    let mut w = PackageWriter::new(Vec::new(), &m, None, WriterOptions::default()).unwrap();
    let err = w.write_blob(d.digest().as_ref(), &b"abcd"[..]).unwrap_err();
    assert!(matches!(err, PackageError::SizeMismatch { .. }), "{err}");
    let w = PackageWriter::new(Vec::new(), &m, None, WriterOptions::default()).unwrap();
    assert!(matches!(w.finish(), Err(PackageError::InvalidInput { .. })));
}

#[test]
fn reader_never_panics_on_damaged_packages() {
    for compression in [Compression::None, Compression::default()] {
        let (bytes, _) = sample(compression);
        for at in (0..bytes.len()).step_by(37) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x55;
            let _ = PackageReader::default().verify(&damaged[..]);
            // Cutting only the end-of-archive padding loses nothing.
            if at < bytes.len() / 2 {
                assert!(
                    PackageReader::default().verify(&bytes[..at]).is_err(),
                    "truncated at {at}"
                );
            }
        }
    }
}

#[test]
fn signature_is_carried_and_returned() {
    let layer = b"abc".to_vec();
    let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", &layer).unwrap();
    let (image, image_desc) =
        artifact_manifest("application/vnd.example.tool", vec![d.clone()], None).unwrap();
    let named = PackagedImage {
        name: "registry.example.com/demo/tool:1".into(),
        manifest: image_desc.clone(),
    };
    let m = PackageManifest::new(
        "demo",
        vec![],
        vec![named],
        None,
        vec![d.clone(), image_desc.clone()],
        vec![],
    )
    .unwrap();
    let sig = PackageSignature {
        media_type: MINISIGN_SIGNATURE_MEDIA_TYPE.into(),
        bytes: b"sig".to_vec(),
    };
    let mut w = PackageWriter::new(Vec::new(), &m, Some(&sig), WriterOptions::default()).unwrap();
    w.write_blob(image_desc.digest().as_ref(), &image[..])
        .unwrap();
    w.write_blob(d.digest().as_ref(), &layer[..]).unwrap();
    let bytes = w.finish().unwrap();
    let summary = PackageReader::default().verify(&bytes[..]).unwrap();
    assert_eq!(summary.header.signature, Some(sig));
    assert_eq!(summary.header.manifest_bytes, m.to_bytes().unwrap());
}

#[test]
fn inventory_round_trip_and_format_check() {
    let inv = Inventory::new(vec![EXAMPLE_DIGEST.to_owned()], vec![]);
    let bytes = inv.to_bytes().unwrap();
    assert_eq!(Inventory::from_bytes(&bytes, 1 << 20).unwrap(), inv);
    assert!(inv.has_blob(EXAMPLE_DIGEST));
    let other = String::from_utf8(bytes)
        .unwrap()
        .replace("inventory/v1", "inventory/v9");
    assert!(matches!(
        Inventory::from_bytes(other.as_bytes(), 1 << 20),
        Err(PackageError::UnsupportedFormat { .. })
    ));
    assert!(matches!(
        Inventory::from_bytes(b"{}", 1),
        Err(PackageError::JsonTooLarge { .. })
    ));
}

#[test]
fn trailing_bytes_and_concatenated_packages_are_refused() {
    let (plain, _) = sample(Compression::None);
    // Zero padding to a whole tar record is what tools write: accepted.
    let mut padded = plain.clone();
    padded.extend(std::iter::repeat_n(0u8, 10240));
    PackageReader::default().verify(&padded[..]).unwrap();

    let mut trailing = plain.clone();
    trailing.extend_from_slice(b"hidden payload");
    let err = PackageReader::default().verify(&trailing[..]).unwrap_err();
    assert!(
        matches!(err, PackageError::TrailingData { offset, .. } if offset == plain.len() as u64),
        "{err}"
    );
    assert_eq!(
        err.entry(),
        Some(blob_entry_name(&sha256_of(&[7u8; 10_000])).as_str())
    );

    let (zst, _) = sample(Compression::default());
    let mut twice = zst.clone();
    twice.extend_from_slice(&zst);
    let err = PackageReader::default().verify(&twice[..]).unwrap_err();
    assert!(matches!(err, PackageError::TrailingData { .. }), "{err}");

    let mut garbage_after_frame = zst.clone();
    garbage_after_frame.extend_from_slice(b"not a zstd frame at all");
    let err = PackageReader::default()
        .verify(&garbage_after_frame[..])
        .unwrap_err();
    assert!(matches!(err, PackageError::TrailingData { .. }), "{err}");
}

#[test]
fn a_zstd_window_above_the_limit_is_named_as_a_limit() {
    let (plain, _) = sample(Compression::None);
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(27).unwrap();
    enc.long_distance_matching(true).unwrap();
    std::io::Write::write_all(&mut enc, &plain).unwrap();
    let long = enc.finish().unwrap();
    let err = PackageReader::default().verify(&long[..]).unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::CompressionWindowTooLarge {
                window_log_limit: 25,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("max_zstd_window_log"), "{text}");
    assert!(!text.contains("damaged"), "{text}");
    let limits = ReaderLimits {
        max_zstd_window_log: 27,
        ..ReaderLimits::default()
    };
    PackageReader::new(limits).verify(&long[..]).unwrap();
}

#[test]
fn garbage_is_reported_without_raw_bytes() {
    // Deterministic noise, not starting with the zstd magic.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for seed in 0..64u64 {
        let mut garbage = Vec::new();
        state ^= seed;
        for _ in 0..1024 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            garbage.extend_from_slice(&state.to_le_bytes()[..4]);
        }
        garbage[0] = b'x';
        let err = PackageReader::default().verify(&garbage[..]).unwrap_err();
        let text = err.to_string();
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER),
            "{text:?}"
        );
        assert!(text.len() < 2000, "{text}");
    }
    // A header whose checksum field is binary: the decoder's message
    // quotes the field.
    let mut block = vec![0u8; 512];
    block[..4].copy_from_slice(b"evil");
    block[148..156].copy_from_slice(b"\x01\x1b[2J\xff\xfe\x07");
    let err = PackageReader::default().verify(&block[..]).unwrap_err();
    let text = err.to_string();
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER),
        "{text:?}"
    );
}

#[test]
fn layout_lists_only_complete_manifests() {
    // The tool image's layer is left out: the package must not list the
    // image in index.json, and a reader refuses a layout that does.
    let layer = vec![3u8; 100];
    let layer_desc = descriptor_of("application/vnd.oci.image.layer.v1.tar", &layer).unwrap();
    let (tool, tool_desc) = artifact_manifest(
        "application/vnd.example.tool",
        vec![layer_desc.clone()],
        None,
    )
    .unwrap();
    let m = PackageManifest::new(
        "demo",
        vec![],
        vec![PackagedImage {
            name: "registry.example.com/demo/tool:1".into(),
            manifest: tool_desc.clone(),
        }],
        None,
        vec![tool_desc.clone()],
        vec![layer_desc],
    )
    .unwrap();
    let write = |options: WriterOptions| {
        let mut w = PackageWriter::new(Vec::new(), &m, None, options).unwrap();
        w.write_blob(tool_desc.digest().as_ref(), &tool[..])
            .unwrap();
        w.finish().unwrap()
    };
    let listing = write(WriterOptions::compressed(Compression::None));
    let err = PackageReader::default().verify(&listing[..]).unwrap_err();
    assert!(
        matches!(&err, PackageError::Inconsistent { entry, detail } if entry == INDEX_ENTRY && detail.contains("tool:1")),
        "{err}"
    );
    let mut options = WriterOptions::compressed(Compression::None);
    options
        .incomplete_manifests
        .insert(tool_desc.digest().to_string());
    let honest = write(options);
    PackageReader::default().verify(&honest[..]).unwrap();
}

/// Bytes zstd cannot shrink (what a gzip layer looks like to it).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

/// A package of one version (its image omitted) and a tool image made of
/// these layers (media type, bytes).
fn package_with_layers(
    layers: &[(&str, Vec<u8>)],
    compression: Compression,
    verified: bool,
) -> Vec<u8> {
    let version = minimal_version("demo", "1.0.0");
    let (doc, doc_desc) = version_document(&version).unwrap();
    let (art, art_desc) = version_artifact(&doc_desc, None).unwrap();
    let mut blobs: Vec<(oci_spec::image::Descriptor, &[u8])> = layers
        .iter()
        .map(|(media_type, bytes)| (descriptor_of(media_type, bytes).unwrap(), &bytes[..]))
        .collect();
    let (tool, tool_desc) = artifact_manifest(
        "application/vnd.example.tool",
        blobs.iter().map(|(d, _)| d.clone()).collect(),
        None,
    )
    .unwrap();
    blobs.push((tool_desc.clone(), &tool));
    blobs.push((art_desc.clone(), &art));
    blobs.push((doc_desc.clone(), &doc));
    let manifest = PackageManifest::new(
        "demo",
        vec![PackagedVersion {
            version: "1.0.0".into(),
            content_digest: crate::content_digest(&version).unwrap(),
            release_state: version.release_state,
            artifact: art_desc,
            document: doc_desc,
        }],
        vec![PackagedImage {
            name: "registry.example.com/demo/tool:1".into(),
            manifest: tool_desc,
        }],
        None,
        blobs.iter().map(|(d, _)| d.clone()).collect(),
        vec![descriptor(OCI_MANIFEST_MEDIA_TYPE, EXAMPLE_DIGEST, 100).unwrap()],
    )
    .unwrap();
    let mut w = PackageWriter::new(
        Vec::new(),
        &manifest,
        None,
        WriterOptions::compressed(compression),
    )
    .unwrap();
    let order: Vec<_> = w.remaining().cloned().collect();
    for d in order {
        let (_, bytes) = blobs
            .iter()
            .find(|(b, _)| b.digest() == d.digest())
            .unwrap();
        if verified {
            w.write_verified_blob(d.digest().as_ref(), *bytes).unwrap();
        } else {
            w.write_blob(d.digest().as_ref(), *bytes).unwrap();
        }
    }
    w.finish().unwrap()
}

#[test]
fn compressed_layers_are_stored_in_raw_blocks_of_the_same_zstd_stream() {
    let gzip = noise(700_000, 1);
    let zstd_layer = noise(300_000, 2);
    let small_gzip = noise(1_000, 3);
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i}: nothing to see here\n").into_bytes())
        .collect();
    let layers = [
        ("application/vnd.oci.image.layer.v1.tar+gzip", gzip.clone()),
        ("application/vnd.oci.image.layer.v1.tar", text.clone()),
        (
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            small_gzip,
        ),
        (
            "application/vnd.oci.image.layer.v1.tar+zstd",
            zstd_layer.clone(),
        ),
    ];
    let plain = package_with_layers(&layers, Compression::None, false);
    for workers in [0, 2] {
        let zstd = package_with_layers(&layers, Compression::Zstd { level: 3, workers }, false);
        // One zstd stream (several frames) holding exactly the plain archive.
        assert_eq!(zstd::stream::decode_all(&zstd[..]).unwrap(), plain);
        // The compressed layers appear verbatim (in 128 KiB raw blocks),
        // the text layer does not.
        for layer in [&gzip, &zstd_layer] {
            let block = &layer[1000..1000 + 100_000];
            assert!(zstd.windows(block.len()).any(|w| w == block));
        }
        assert!(!zstd.windows(4096).any(|w| w == &text[..4096]));
        assert!(zstd.len() < gzip.len() + zstd_layer.len() + text.len() / 4);
        let summary = PackageReader::default().verify(&zstd[..]).unwrap();
        assert_eq!(summary.blobs_read, 7);
        assert!(summary.header.compressed);
    }
}

#[test]
fn verified_blobs_are_not_hashed_again_but_their_size_is_checked() {
    let layer = noise(1_000, 4);
    let layers = [("application/vnd.oci.image.layer.v1.tar", layer.clone())];
    let checked = package_with_layers(&layers, Compression::default(), false);
    let trusted = package_with_layers(&layers, Compression::default(), true);
    assert_eq!(checked, trusted);

    let d = descriptor_of("application/vnd.oci.image.layer.v1.tar", &layer).unwrap();
    let manifest =
        PackageManifest::new("demo", vec![], vec![], None, vec![d.clone()], vec![]).unwrap();
    let digest = d.digest().to_string();
    // Same size, other bytes: the caller vouched for them, so they pass.
    let mut w = PackageWriter::new(Vec::new(), &manifest, None, WriterOptions::default()).unwrap();
    w.write_verified_blob(&digest, &noise(1_000, 5)[..])
        .unwrap();
    // Through the checking path they fail.
    let mut w = PackageWriter::new(Vec::new(), &manifest, None, WriterOptions::default()).unwrap();
    assert!(matches!(
        w.write_blob(&digest, &noise(1_000, 5)[..]),
        Err(PackageError::DigestMismatch { .. })
    ));
    // A short blob fails either way.
    let mut w = PackageWriter::new(Vec::new(), &manifest, None, WriterOptions::default()).unwrap();
    assert!(matches!(
        w.write_verified_blob(&digest, &layer[..999]),
        Err(PackageError::SizeMismatch { .. })
    ));
}
