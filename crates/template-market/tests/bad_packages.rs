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
use template_market::{ImportOptions, Market, Trust};

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
        assert!(err.as_package_error().is_some(), "{}: {err}", c.file);
        assert_eq!(fs::read(market.root().join("index.json")).unwrap(), index);
        assert_eq!(market.inventory().unwrap(), blobs);
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
}
