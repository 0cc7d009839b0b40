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
        vec![],
        Some(PackageBase::Versions {
            versions: vec!["0.9.0".into()],
        }),
        vec![layer_desc.clone(), art_desc, doc_desc],
        vec![image],
    )
    .unwrap();
    let mut w =
        PackageWriter::new(Vec::new(), &manifest, None, WriterOptions { compression }).unwrap();
    let order: Vec<_> = w.remaining().cloned().collect();
    for d in order {
        let bytes: &[u8] = if d.digest() == layer_desc.digest() {
            &layer
        } else if d.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE {
            &doc
        } else {
            &art
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
        assert_eq!(summary.blobs_read, 3);
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
    let m = PackageManifest::new("demo", vec![], vec![], None, vec![d.clone()], vec![]).unwrap();
    let sig = PackageSignature {
        media_type: MINISIGN_SIGNATURE_MEDIA_TYPE.into(),
        bytes: b"sig".to_vec(),
    };
    let mut w = PackageWriter::new(Vec::new(), &m, Some(&sig), WriterOptions::default()).unwrap();
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
