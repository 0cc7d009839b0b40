//! The corpus of crafted hostile packages under `tests/data/bad-packages/`:
//! one test each, asserting the typed error and the entry it names, plus a
//! check that importing any of them leaves a market untouched. Set
//! `REGENERATE_BAD_PACKAGES=1` to rewrite the files from
//! `template_market::testkit::bad_packages::corpus`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use template_core::package::{PackageError, PackageReader};
use template_market::testkit::bad_packages::{BadPackage, corpus};
use template_market::{ImportOptions, Market, MarketError, Trust};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/bad-packages")
}

fn variant(e: &PackageError) -> &'static str {
    match e {
        PackageError::UnsafePath { .. } => "UnsafePath",
        PackageError::ForbiddenEntryType { .. } => "ForbiddenEntryType",
        PackageError::UndefinedEntry { .. } => "UndefinedEntry",
        PackageError::DuplicateEntry { .. } => "DuplicateEntry",
        PackageError::OutOfOrder { .. } => "OutOfOrder",
        PackageError::DigestMismatch { .. } => "DigestMismatch",
        PackageError::SizeMismatch { .. } => "SizeMismatch",
        PackageError::Truncated { .. } => "Truncated",
        PackageError::JsonTooLarge { .. } => "JsonTooLarge",
        PackageError::InvalidJson { .. } => "InvalidJson",
        PackageError::DecompressionBomb { .. } => "DecompressionBomb",
        PackageError::UnsupportedFormat { .. } => "UnsupportedFormat",
        PackageError::Inconsistent { .. } => "Inconsistent",
        PackageError::MissingBlobs { .. } => "MissingBlobs",
        PackageError::Document { .. } => "Document",
        PackageError::Archive { .. } => "Archive",
        PackageError::TrailingData { .. } => "TrailingData",
        PackageError::CompressionWindowTooLarge { .. } => "CompressionWindowTooLarge",
        _ => "other",
    }
}

fn cases() -> &'static [BadPackage] {
    static CORPUS: OnceLock<Vec<BadPackage>> = OnceLock::new();
    CORPUS.get_or_init(|| corpus().unwrap())
}

fn case(file: &str) -> &'static BadPackage {
    cases().iter().find(|c| c.file == file).unwrap()
}

fn check(file: &str) {
    let expected = case(file);
    let bytes = fs::read(dir().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}; run with REGENERATE_BAD_PACKAGES=1"));
    let err = PackageReader::default().verify(&bytes[..]).unwrap_err();
    assert_eq!(variant(&err), expected.error, "{file}: {err}");
    let entry = err.entry().unwrap_or_default();
    assert!(
        entry.contains(expected.entry),
        "{file}: entry `{entry}` should contain `{}`: {err}",
        expected.entry
    );
    assert!(!err.to_string().is_empty());
}

#[test]
fn corpus_files_are_current() {
    let regenerate = std::env::var_os("REGENERATE_BAD_PACKAGES").is_some();
    fs::create_dir_all(dir()).unwrap();
    for c in cases() {
        let path = dir().join(c.file);
        if regenerate {
            fs::write(&path, &c.bytes).unwrap();
        }
        let on_disk = fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == c.bytes,
            "{} is stale; run with REGENERATE_BAD_PACKAGES=1",
            c.file
        );
    }
}

#[test]
fn importing_bad_packages_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("m")).unwrap();
    let index = fs::read(market.root().join("index.json")).unwrap();
    let blobs = market.inventory().unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    for c in cases() {
        let err = market
            .import(&c.bytes[..], &options, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap_err();
        // A differential package is refused by this empty market for its
        // missing base before its layout is read; either refusal will do.
        assert!(
            err.as_package_error().is_some() || matches!(err, MarketError::MissingBase { .. }),
            "{}: {err}",
            c.file
        );
        assert_eq!(fs::read(market.root().join("index.json")).unwrap(), index);
        assert_eq!(market.inventory().unwrap(), blobs);
        // Refused for its content: nothing staged is left behind (the
        // zstd bomb's `.partial` included). An incomplete copy keeps what
        // it verified, for the retry with a complete one.
        if matches!(
            err.as_package_error(),
            Some(PackageError::Truncated { .. } | PackageError::MissingBlobs { .. })
        ) {
            market.gc().unwrap();
            continue;
        }
        let verify = market.verify().unwrap();
        assert_eq!(
            (verify.staged_files, verify.staged_bytes),
            (0, 0),
            "{} left staged files",
            c.file
        );
        assert!(!market.root().join("staging").exists(), "{}", c.file);
    }
    let outside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("m")]);
}

macro_rules! bad_package_tests {
    ($($name:ident => $file:literal,)*) => {
        $(#[test] fn $name() { check($file); })*
    };
}

bad_package_tests! {
    absolute_path => "absolute-path.tar",
    dot_dot => "dot-dot.tar",
    symlink => "symlink.tar",
    hardlink => "hardlink.tar",
    device => "device.tar",
    pax_header => "pax-header.tar",
    duplicate_entry => "duplicate-entry.tar",
    undefined_entry => "undefined-entry.tar",
    unlisted_blob => "unlisted-blob.tar",
    digest_mismatch => "digest-mismatch.tar",
    size_mismatch => "size-mismatch.tar",
    truncated => "truncated.tar",
    truncated_zstd => "truncated.tar.zst",
    empty => "empty.tar",
    missing_blob => "missing-blob.tar",
    out_of_order => "out-of-order.tar",
    oversize_json => "oversize-json.tar.zst",
    unknown_layout_version => "unknown-layout-version.tar",
    unknown_format_version => "unknown-format-version.tar",
    decompression_bomb => "decompression-bomb.tar.zst",
    dangling_reference => "dangling-reference.tar",
    pax_header_dotted => "pax-header-dotted.tar",
    trailing_data => "trailing-data.tar",
    concatenated => "concatenated.tar.zst",
    unreferenced_blob => "unreferenced-blob.tar",
    incomplete_layout => "incomplete-layout.tar",
    substituted_document => "substituted-document.tar",
}

/// A package that carries nothing and claims versions whose blobs the
/// market holds must claim exactly what those blobs say.
#[test]
fn claims_about_held_documents_are_checked() {
    use template_market::testkit::{bad_packages::claiming_held_version, publish_pig};
    use template_market::{ExportRequest, ImportedVersion};
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("m")).unwrap();
    publish_pig(&market, "1.0.0").unwrap();
    let plan = market
        .plan_export(&ExportRequest::new("pig", &["1.0.0"]).allowing_drafts())
        .unwrap();
    let held = plan.versions[0].clone();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    let index = fs::read(market.root().join("index.json")).unwrap();
    let import = |template: &str, claim: &template_core::package::PackagedVersion| {
        let bytes = claiming_held_version(template, claim).unwrap();
        market.import(&bytes[..], &options, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
    };

    let mut new_number = held.clone();
    new_number.version = "9.9.9".into();
    new_number.release_state = template_core::ReleaseState::Released;
    let mut promoted = held.clone();
    promoted.release_state = template_core::ReleaseState::Released;
    for (template, claim, what) in [
        ("pig", &new_number, "9.9.9"),
        ("cow", &held, "cow"),
        ("pig", &promoted, "released"),
    ] {
        let err = import(template, claim).unwrap_err();
        let Some(PackageError::Inconsistent { entry, detail }) = err.as_package_error() else {
            panic!("{what}: {err}");
        };
        assert!(entry.starts_with("blobs/sha256/"), "{entry}");
        assert!(detail.contains(what), "{detail}");
        assert_eq!(fs::read(market.root().join("index.json")).unwrap(), index);
    }
    // The truth is accepted, and changes nothing.
    let report = import("pig", &held).unwrap();
    assert_eq!(
        report.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::Unchanged)]
    );
}
