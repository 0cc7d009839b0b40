//! The delivery scenario of the package issue: publish Pig 1.0, export,
//! import into a second market, publish 2.0 incrementally, export a
//! differential package, import it, verify, tamper one byte → refused.
//! Plus the import guarantees around it.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::fs;
use std::ops::ControlFlow;
use std::path::Path;

use template_core::ReleaseState;
use template_market::testkit::{self, LayerSizes};
use template_market::{
    ExportBase, ExportRequest, ImportOptions, ImportedVersion, Market, MarketError, Trust,
    generate_key_pair,
};

fn quiet() -> impl FnMut(&template_market::Progress<'_>) -> ControlFlow<()> {
    |_| ControlFlow::Continue(())
}

fn snapshot(market: &Market) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for dir in [market.root().to_owned(), market.root().join("blobs/sha256")] {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() == ".lock" {
                continue;
            }
            let m = e.metadata().unwrap();
            out.push((
                e.path().display().to_string(),
                if m.is_file() { m.len() } else { 0 },
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn pig_delivery_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let keys = generate_key_pair().unwrap();
    let trust = ImportOptions {
        trust: Trust::keys(vec![keys.public.clone()]),
        ..Default::default()
    };

    // Publish 1.0 and release it.
    let (v1, _) = testkit::publish_pig(&office, "1.0.0").unwrap();
    office
        .set_release_state("pig", "1.0.0", ReleaseState::Testing)
        .unwrap();
    office
        .set_release_state("pig", "1.0.0", ReleaseState::Released)
        .unwrap();

    // Full export, signed.
    let full = tmp.path().join("pig-1.0.0.tar.zst");
    let mut events = 0;
    let report = office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).signed_with(&keys.secret),
            &full,
            &mut |_| {
                events += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert!(events > 0);
    assert_eq!(report.omitted_blobs, 0);

    // Import into the customer's market.
    let imported = customer.import_file(&full, &trust, &mut quiet()).unwrap();
    assert_eq!(
        imported.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::Added)]
    );
    assert_eq!(imported.signer, Some(keys.public.key_id()));
    let got = customer.version("pig", "1.0.0").unwrap();
    assert_eq!(got.release_state, ReleaseState::Released);
    assert_eq!(
        template_core::content_digest(&got).unwrap(),
        template_core::content_digest(&v1).unwrap()
    );
    assert!(customer.verify().unwrap().problems.is_empty());

    // Importing again changes nothing.
    let before = snapshot(&customer);
    let index_before = fs::read(customer.root().join("index.json")).unwrap();
    let again = customer.import_file(&full, &trust, &mut quiet()).unwrap();
    assert_eq!(
        again.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::Unchanged)]
    );
    assert_eq!(again.blobs_written, 0);
    assert_eq!(snapshot(&customer), before);
    assert_eq!(
        fs::read(customer.root().join("index.json")).unwrap(),
        index_before
    );

    // Publish 2.0 incrementally at the office.
    let v2 =
        testkit::publish_pig_incremental(&office, &v1, "2.0.0", LayerSizes::default()).unwrap();
    assert_eq!(v2.version, "2.0.0");

    // Differential export: only layers 1.0 lacks.
    let diff = tmp.path().join("pig-2.0.0-diff.tar.zst");
    let request = ExportRequest::new("pig", &["2.0.0"])
        .allowing_drafts()
        .with_base(ExportBase::Versions(vec!["1.0.0".into()]))
        .signed_with(&keys.secret);
    let plan = office.plan_export(&request).unwrap();
    let report = office
        .export_to_file(&request, &diff, &mut quiet())
        .unwrap();
    assert!(report.omitted_blobs > 0, "shared layers are left out");
    let full2 = office
        .plan_export(&ExportRequest::new("pig", &["2.0.0"]).allowing_drafts())
        .unwrap();
    assert!(
        plan.carried_bytes < full2.carried_bytes / 2,
        "{} vs {}",
        plan.carried_bytes,
        full2.carried_bytes
    );
    // The shared jdk base layer is not carried, the new app layers are.
    let jdk = testkit::layer_tar(
        "opt/jdk/base.bin",
        &testkit::synthetic_bytes("jdk", LayerSizes::default().base),
    )
    .unwrap();
    let jdk_digest = template_core::package::sha256_of(&jdk);
    assert!(
        plan.omitted
            .iter()
            .any(|d| d.digest().to_string() == jdk_digest)
    );
    assert!(
        !plan
            .blobs
            .iter()
            .any(|d| d.digest().to_string() == jdk_digest)
    );

    // Tampered copy: one byte flipped → refused, nothing changes.
    let mut bytes = fs::read(&diff).unwrap();
    let at = bytes.len() * 2 / 3;
    bytes[at] ^= 0x01;
    let tampered = tmp.path().join("tampered.tar.zst");
    fs::write(&tampered, &bytes).unwrap();
    let before = snapshot(&customer);
    let err = customer
        .import_file(&tampered, &trust, &mut quiet())
        .unwrap_err();
    assert!(err.as_package_error().is_some(), "{err}");
    assert!(
        customer
            .versions("pig")
            .unwrap()
            .iter()
            .all(|v| v.version != "2.0.0")
    );
    let outside_staging = |s: Vec<(String, u64)>| {
        s.into_iter()
            .filter(|(p, _)| !p.contains("staging"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        outside_staging(snapshot(&customer)),
        outside_staging(before)
    );

    // The genuine differential imports and verifies.
    let imported = customer.import_file(&diff, &trust, &mut quiet()).unwrap();
    assert_eq!(
        imported.versions,
        vec![("2.0.0".to_owned(), ImportedVersion::Added)]
    );
    assert_eq!(
        customer.version("pig", "2.0.0").unwrap(),
        office.version("pig", "2.0.0").unwrap()
    );
    let verify = customer.verify().unwrap();
    assert!(verify.problems.is_empty(), "{:?}", verify.problems);
    assert!(
        !customer
            .root()
            .join("staging")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );
}

fn office_with_two_versions(root: &Path) -> (Market, template_core::TemplateVersion) {
    let office = Market::open(root.join("office")).unwrap();
    let (v1, _) = testkit::publish_pig(&office, "1.0.0").unwrap();
    testkit::publish_pig_incremental(&office, &v1, "2.0.0", LayerSizes::default()).unwrap();
    (office, v1)
}

#[test]
fn differential_without_base_is_refused_naming_version_and_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (office, _) = office_with_two_versions(tmp.path());
    let diff = tmp.path().join("diff.tar.zst");
    let request = ExportRequest::new("pig", &["2.0.0"])
        .allowing_drafts()
        .with_base(ExportBase::Versions(vec!["1.0.0".into()]));
    let report = office
        .export_to_file(&request, &diff, &mut quiet())
        .unwrap();
    let empty = Market::open(tmp.path().join("empty")).unwrap();
    let err = empty
        .import_file(
            &diff,
            &ImportOptions {
                trust: Trust::anything(),
                ..Default::default()
            },
            &mut quiet(),
        )
        .unwrap_err();
    match &err {
        MarketError::MissingBase {
            base,
            missing_blobs,
            ..
        } => {
            assert!(base.contains("1.0.0"), "{err}");
            assert_eq!(*missing_blobs, report.omitted_blobs);
        }
        other => panic!("expected MissingBase, got {other}"),
    }
    assert!(err.to_string().contains("1.0.0"));
    assert!(empty.versions("pig").unwrap().is_empty());
}

#[test]
fn inventory_differential_ships_exactly_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let (office, _) = office_with_two_versions(tmp.path());
    let anything = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let p1 = tmp.path().join("p1.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &p1,
            &mut quiet(),
        )
        .unwrap();
    customer.import_file(&p1, &anything, &mut quiet()).unwrap();

    // Carry the customer's inventory to the office (as JSON bytes).
    let inventory_bytes = customer.inventory().unwrap().to_bytes().unwrap();
    let inventory =
        template_core::package::Inventory::from_bytes(&inventory_bytes, 1 << 20).unwrap();
    let request = ExportRequest::new("pig", &["2.0.0"])
        .allowing_drafts()
        .with_base(ExportBase::Inventory(inventory.clone()));
    let plan = office.plan_export(&request).unwrap();
    for d in &plan.blobs {
        assert!(!inventory.has_blob(d.digest().as_ref()));
    }
    let p2 = tmp.path().join("p2.tar.zst");
    office.export_to_file(&request, &p2, &mut quiet()).unwrap();
    let report = customer.import_file(&p2, &anything, &mut quiet()).unwrap();
    assert_eq!(
        report.blobs_skipped, 0,
        "nothing already present was shipped"
    );
    assert!(customer.verify().unwrap().problems.is_empty());
}

#[test]
fn signatures_are_required_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    testkit::publish_pig(&office, "1.0.0").unwrap();
    let keys = generate_key_pair().unwrap();
    let stranger = generate_key_pair().unwrap();
    let unsigned = tmp.path().join("unsigned.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &unsigned,
            &mut quiet(),
        )
        .unwrap();
    let signed = tmp.path().join("signed.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"])
                .allowing_drafts()
                .signed_with(&stranger.secret),
            &signed,
            &mut quiet(),
        )
        .unwrap();

    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let trusted = ImportOptions {
        trust: Trust::keys(vec![keys.public.clone()]),
        ..Default::default()
    };
    let err = customer
        .import_file(&unsigned, &trusted, &mut quiet())
        .unwrap_err();
    assert!(matches!(err, MarketError::Unsigned { .. }), "{err}");
    let err = customer
        .import_file(&signed, &trusted, &mut quiet())
        .unwrap_err();
    assert!(
        matches!(err, MarketError::UntrustedKey { ref key_id, .. } if *key_id == stranger.public.key_id()),
        "{err}"
    );
    assert!(customer.versions("pig").unwrap().is_empty());

    let unsigned_ok = ImportOptions {
        trust: Trust {
            allow_unsigned: true,
            ..Trust::default()
        },
        ..Default::default()
    };
    customer
        .import_file(&unsigned, &unsigned_ok, &mut quiet())
        .unwrap();

    // Keys survive a round trip through minisign's file formats.
    let pk =
        template_market::PublicKey::from_file_text(&keys.public.to_file_text().unwrap()).unwrap();
    assert_eq!(pk.key_id(), keys.public.key_id());
    let sk =
        template_market::SecretKey::from_file_text(&keys.secret.to_file_text().unwrap()).unwrap();
    let resigned = tmp.path().join("resigned.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"])
                .allowing_drafts()
                .signed_with(&sk),
            &resigned,
            &mut quiet(),
        )
        .unwrap();
    let other = Market::open(tmp.path().join("other")).unwrap();
    other
        .import_file(
            &resigned,
            &ImportOptions {
                trust: Trust::keys(vec![pk]),
                ..Default::default()
            },
            &mut quiet(),
        )
        .unwrap();
}

#[test]
fn same_number_with_other_content_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    let (v1, _) = testkit::publish_pig(&office, "1.0.0").unwrap();
    let elsewhere = Market::open(tmp.path().join("elsewhere")).unwrap();
    let mut other = v1.clone();
    other.release_notes = "a different 1.0.0".into();
    testkit::prepare_images(&elsewhere, &other, LayerSizes::default()).unwrap();
    elsewhere
        .publish(&other, template_core::Overwrite::Refuse)
        .unwrap();
    let pkg = tmp.path().join("other.tar.zst");
    elsewhere
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let err = office
        .import_file(
            &pkg,
            &ImportOptions {
                trust: Trust::anything(),
                ..Default::default()
            },
            &mut quiet(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            MarketError::Core(template_core::Error::VersionExists { .. })
        ),
        "{err}"
    );
    assert_eq!(office.document("pig", "1.0.0").unwrap(), v1);
}

#[test]
fn free_space_is_checked_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    testkit::publish_pig(&office, "1.0.0").unwrap();
    let pkg = tmp.path().join("p.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        reserve_bytes: u64::MAX / 2,
        ..Default::default()
    };
    let err = customer
        .import_file(&pkg, &options, &mut quiet())
        .unwrap_err();
    match &err {
        MarketError::InsufficientSpace {
            needed, available, ..
        } => {
            assert!(needed > available);
            assert!(err.to_string().contains(&needed.to_string()));
            assert!(err.to_string().contains(&available.to_string()));
        }
        other => panic!("expected InsufficientSpace, got {other}"),
    }
    assert!(customer.inventory().unwrap().blobs.len() <= 1);
}

#[test]
fn exports_are_byte_identical_and_split_parts_import() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    testkit::publish_pig(&office, "1.0.0").unwrap();
    let request = ExportRequest::new("pig", &["1.0.0"]).allowing_drafts();
    let mut a = Vec::new();
    let mut b = Vec::new();
    office.export(&request, &mut a, &mut quiet()).unwrap();
    office.export(&request, &mut b, &mut quiet()).unwrap();
    assert_eq!(a, b);
    let single = request
        .clone()
        .with_compression(template_market::Compression::Zstd {
            level: 3,
            workers: 1,
        });
    let mut c = Vec::new();
    office.export(&single, &mut c, &mut quiet()).unwrap();
    let mut plain = Vec::new();
    office
        .export(
            &request
                .clone()
                .with_compression(template_market::Compression::None),
            &mut plain,
            &mut quiet(),
        )
        .unwrap();
    assert!(plain.len() > a.len());

    // A second market given the same content exports the same bytes.
    let twin = Market::open(tmp.path().join("twin")).unwrap();
    testkit::publish_pig(&twin, "1.0.0").unwrap();
    let mut d = Vec::new();
    twin.export(&request, &mut d, &mut quiet()).unwrap();
    assert_eq!(a, d);

    let base = tmp.path().join("split").join("pig.tar.zst");
    fs::create_dir_all(base.parent().unwrap()).unwrap();
    let report = office
        .export_to_parts(&request, &base, 64 * 1024, &mut quiet())
        .unwrap();
    assert!(report.files.len() > 2);
    for f in &report.files {
        assert!(fs::metadata(f).unwrap().len() <= 64 * 1024);
    }
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    let mut missing_last = report.files.clone();
    missing_last.pop();
    let err = customer
        .import_parts(&missing_last, &options, &mut quiet())
        .unwrap_err();
    assert!(err.as_package_error().is_some(), "{err}");
    customer
        .import_parts(&report.files, &options, &mut quiet())
        .unwrap();
    assert!(customer.verify().unwrap().problems.is_empty());
}

#[test]
fn delete_and_gc_free_what_only_the_deleted_version_used() {
    let tmp = tempfile::tempdir().unwrap();
    let (office, _) = office_with_two_versions(tmp.path());
    let before = office.inventory().unwrap().blobs.len();
    assert_eq!(office.gc().unwrap().blobs_removed, 0);
    office
        .set_release_state("pig", "2.0.0", ReleaseState::Testing)
        .unwrap();
    office
        .set_release_state("pig", "2.0.0", ReleaseState::Released)
        .unwrap();
    let err = office.delete_version("pig", "2.0.0", false).unwrap_err();
    assert!(matches!(err, MarketError::DeleteReleased { .. }), "{err}");
    office.delete_version("pig", "2.0.0", true).unwrap();
    let gc = office.gc().unwrap();
    assert!(gc.blobs_removed > 0 && gc.bytes_freed > 0);
    assert!(office.inventory().unwrap().blobs.len() < before);
    assert!(office.verify().unwrap().problems.is_empty());
    assert_eq!(office.versions("pig").unwrap().len(), 1);
    // 1.0.0 still exports and imports.
    let pkg = tmp.path().join("p.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    customer
        .import_file(
            &pkg,
            &ImportOptions {
                trust: Trust::anything(),
                ..Default::default()
            },
            &mut quiet(),
        )
        .unwrap();
}

#[test]
fn publish_refuses_versions_whose_images_are_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("m")).unwrap();
    let fixture = testkit::pig_fixture("1.0.0").unwrap();
    let mut v = fixture.clone();
    v.template.logo = None;
    let err = market
        .publish(&v, template_core::Overwrite::Refuse)
        .unwrap_err();
    assert!(matches!(err, MarketError::MissingContent { .. }), "{err}");
}

/// Publishes Pig 1.0.0 with base layers big enough (9 MiB) for progress
/// reports inside a blob, not only between blobs.
fn publish_big_pig(market: &Market) {
    let fixture = testkit::pig_fixture("1.0.0").unwrap();
    let sizes = LayerSizes {
        base: 9 << 20,
        app: 32 << 10,
    };
    let pinned = testkit::prepare_images(market, &fixture, sizes).unwrap();
    market
        .publish(&pinned, template_core::Overwrite::Refuse)
        .unwrap();
}

/// A callback that stops at the first report at or past `threshold` bytes;
/// counts the reports it saw.
fn stop_at(
    threshold: u64,
    seen: &mut usize,
) -> impl FnMut(&template_market::Progress<'_>) -> ControlFlow<()> + '_ {
    move |p| {
        *seen += 1;
        if p.bytes_done >= threshold {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[test]
fn a_cancelled_export_leaves_no_file_and_a_retry_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    publish_big_pig(&office);
    let request = ExportRequest::new("pig", &["1.0.0"]).allowing_drafts();
    let pkg = tmp.path().join("pig.tar.zst");
    let partial = tmp.path().join("pig.tar.zst.partial");
    // 1: the first report after the first blob; 8 MiB: inside a large blob.
    for threshold in [1, 8 << 20] {
        let mut seen = 0;
        let err = office
            .export_to_file(&request, &pkg, &mut stop_at(threshold, &mut seen))
            .unwrap_err();
        assert!(
            matches!(&err, MarketError::Cancelled { .. }),
            "expected Cancelled, got {err:?}"
        );
        assert!(err.to_string().contains("cancelled"), "{err}");
        assert!(seen >= 2, "stopped after {seen} reports");
        assert!(!pkg.exists());
        assert!(!partial.exists());
    }

    // Parts written before the cancellation are removed too.
    let base = tmp.path().join("split");
    let mut seen = 0;
    let err = office
        .export_to_parts(&request, &base, 1 << 20, &mut stop_at(8 << 20, &mut seen))
        .unwrap_err();
    assert!(matches!(err, MarketError::Cancelled { .. }), "{err:?}");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "only office");

    // Into a writer: Cancelled as well, not an I/O or package error.
    let mut out = Vec::new();
    let mut seen = 0;
    let err = office
        .export(&request, &mut out, &mut stop_at(8 << 20, &mut seen))
        .unwrap_err();
    assert!(matches!(err, MarketError::Cancelled { .. }), "{err:?}");

    let report = office.export_to_file(&request, &pkg, &mut quiet()).unwrap();
    assert_eq!(report.files, vec![pkg.clone()]);
    assert!(pkg.is_file());
    assert!(!partial.exists());
}

#[test]
fn a_cancelled_import_leaves_the_market_unchanged_and_a_retry_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    publish_big_pig(&office);
    let pkg = tmp.path().join("pig.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let versions_before = customer.versions("pig").unwrap();
    let blobs_before = customer.inventory().unwrap().blobs;
    for threshold in [1, 8 << 20] {
        let mut seen = 0;
        let err = customer
            .import_file(&pkg, &options, &mut stop_at(threshold, &mut seen))
            .unwrap_err();
        assert!(
            matches!(&err, MarketError::Cancelled { .. }),
            "expected Cancelled, got {err:?}"
        );
        assert!(seen >= 2, "stopped after {seen} reports");
        assert_eq!(customer.versions("pig").unwrap(), versions_before);
        assert_eq!(customer.inventory().unwrap().blobs, blobs_before);
        assert!(customer.verify().unwrap().problems.is_empty());
        assert!(customer.version("pig", "1.0.0").is_err());
    }

    let report = customer.import_file(&pkg, &options, &mut quiet()).unwrap();
    assert_eq!(
        report.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::Added)]
    );
    assert!(report.blobs_skipped > 0, "staged blobs are reused");
    assert_eq!(
        customer.version("pig", "1.0.0").unwrap(),
        office.version("pig", "1.0.0").unwrap()
    );
    assert!(customer.verify().unwrap().problems.is_empty());
    let staging = customer.root().join("staging");
    assert!(
        !staging.exists() || fs::read_dir(&staging).unwrap().next().is_none(),
        "staging is cleaned"
    );
}

#[test]
fn the_release_gate_follows_the_vendors_release_state() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    let site = Market::open(tmp.path().join("site")).unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    testkit::publish_pig(&office, "1.0.0").unwrap();

    // A draft is not exported by accident.
    let draft_pkg = tmp.path().join("draft.tar.zst");
    let err = office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]),
            &draft_pkg,
            &mut quiet(),
        )
        .unwrap_err();
    assert!(matches!(err, MarketError::DraftExport { .. }), "{err}");
    assert!(err.to_string().contains("allow_draft"), "{err}");
    assert!(!draft_pkg.exists());
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &draft_pkg,
            &mut quiet(),
        )
        .unwrap();
    site.import_file(&draft_pkg, &options, &mut quiet())
        .unwrap();

    // The site approves it locally: recorded apart, the vendor's state
    // (what released_only environments check) stays draft.
    site.set_release_state("pig", "1.0.0", ReleaseState::Testing)
        .unwrap();
    site.set_release_state("pig", "1.0.0", ReleaseState::Released)
        .unwrap();
    let listed = &site.versions("pig").unwrap()[0];
    assert_eq!(listed.state, ReleaseState::Draft);
    assert_eq!(listed.site_state, Some(ReleaseState::Released));
    assert!(listed.vendor_package.is_some());
    assert_eq!(
        site.version("pig", "1.0.0").unwrap().release_state,
        ReleaseState::Draft
    );

    // The vendor releases it and ships it again: the site follows.
    office
        .set_release_state("pig", "1.0.0", ReleaseState::Testing)
        .unwrap();
    office
        .set_release_state("pig", "1.0.0", ReleaseState::Released)
        .unwrap();
    let released_pkg = tmp.path().join("released.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]),
            &released_pkg,
            &mut quiet(),
        )
        .unwrap();
    let report = site
        .import_file(&released_pkg, &options, &mut quiet())
        .unwrap();
    assert_eq!(
        report.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::ReleaseStateUpdated)]
    );
    let listed = &site.versions("pig").unwrap()[0];
    assert_eq!(listed.state, ReleaseState::Released);
    assert_eq!(listed.site_state, Some(ReleaseState::Released));
    assert_eq!(
        site.version("pig", "1.0.0").unwrap(),
        office.version("pig", "1.0.0").unwrap()
    );
    assert!(site.verify().unwrap().problems.is_empty());

    // An older package does not move the state back.
    let report = site
        .import_file(&draft_pkg, &options, &mut quiet())
        .unwrap();
    assert_eq!(
        report.versions,
        vec![("1.0.0".to_owned(), ImportedVersion::Unchanged)]
    );
    assert_eq!(
        site.versions("pig").unwrap()[0].state,
        ReleaseState::Released
    );
}

#[test]
fn verify_finds_a_served_document_that_does_not_match_its_content_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let (office, _) = office_with_two_versions(&tmp.path().join("office"));
    assert!(office.verify().unwrap().problems.is_empty());
    // Point 1.0.0's catalog entry at 2.0.0's artifact, annotations kept.
    let path = office.root().join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let manifests = index["manifests"].as_array_mut().unwrap();
    let of = |v: &str| {
        manifests
            .iter()
            .position(|m| m["annotations"]["io.apptemplate.version"] == v)
            .unwrap()
    };
    let (one, two) = (of("1.0.0"), of("2.0.0"));
    let (digest, size) = (
        manifests[two]["digest"].clone(),
        manifests[two]["size"].clone(),
    );
    manifests[one]["digest"] = digest;
    manifests[one]["size"] = size;
    fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    let problems = office.verify().unwrap().problems;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("1.0.0") && p.contains("content digest")),
        "{problems:?}"
    );
}

#[test]
fn staged_imports_are_seen_by_verify_and_counted_by_gc() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    publish_big_pig(&office);
    let pkg = tmp.path().join("pig.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let customer = Market::open(tmp.path().join("customer")).unwrap();
    let options = ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    };
    let mut seen = 0;
    let err = customer
        .import_file(&pkg, &options, &mut stop_at(8 << 20, &mut seen))
        .unwrap_err();
    assert!(matches!(err, MarketError::Cancelled { .. }), "{err}");
    let verify = customer.verify().unwrap();
    assert!(
        verify.staged_files > 0 && verify.staged_bytes > 0,
        "{verify:?}"
    );
    assert!(verify.problems.is_empty(), "{verify:?}");
    let gc = customer.gc().unwrap();
    assert_eq!(gc.staged_files_removed, verify.staged_files);
    assert_eq!(gc.staged_bytes_freed, verify.staged_bytes);
    assert!(gc.bytes_freed >= gc.staged_bytes_freed);
    assert_eq!(customer.verify().unwrap().staged_bytes, 0);
}

#[test]
fn a_split_export_into_a_missing_directory_names_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    testkit::publish_pig(&office, "1.0.0").unwrap();
    let missing = tmp.path().join("no-such-dir");
    let err = office
        .export_to_parts(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &missing.join("pig.tar.zst"),
            64 << 10,
            &mut quiet(),
        )
        .unwrap_err();
    let MarketError::Io { path, .. } = &err else {
        panic!("expected an I/O error, got {err}");
    };
    assert_eq!(path, &missing);
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[cfg(unix)]
#[test]
fn files_the_market_writes_follow_one_mode_rule() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    let (v1, _) = testkit::publish_pig(&office, "1.0.0").unwrap();
    let pkg = tmp.path().join("pig.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &pkg,
            &mut quiet(),
        )
        .unwrap();
    let site = Market::open(tmp.path().join("site")).unwrap();
    site.import_file(
        &pkg,
        &ImportOptions {
            trust: Trust::anything(),
            ..Default::default()
        },
        &mut quiet(),
    )
    .unwrap();
    // What any file created here gets under the current umask.
    let reference = tmp.path().join("reference");
    fs::File::create(&reference).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let expected = mode(&reference);
    let logo = v1.template.logo.clone().unwrap();
    let blob = |m: &Market, digest: &str| {
        m.root()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    for (what, path) in [
        ("office index.json", office.root().join("index.json")),
        ("office oci-layout", office.root().join("oci-layout")),
        ("office stored blob", blob(&office, &logo)),
        ("site index.json", site.root().join("index.json")),
        ("site imported blob", blob(&site, &logo)),
    ] {
        assert_eq!(mode(&path), expected, "{what}: {}", path.display());
    }
}
