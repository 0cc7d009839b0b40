//! Image relocation against a real registry: Debian's `docker-registry`
//! (distribution 2.8) started on 127.0.0.1 with a free port, checked with
//! `skopeo inspect`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::process::Command;

use template_market::testkit;
use template_market::testkit::registry::{LocalRegistry, RegistryConfig};
use template_market::{
    ImageRef, Market, MarketError, RegistryTarget, RelocateEvent, RelocateOptions,
};

/// The test registry and the files its configuration names.
struct Registry {
    inner: LocalRegistry,
    _files: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        Registry::start_with(None)
    }

    /// With `htpasswd` (a line `user:bcrypt-hash`), the registry wants basic
    /// auth.
    fn start_with(htpasswd: Option<&str>) -> Registry {
        let files = tempfile::tempdir().unwrap();
        let auth = htpasswd.map(|line| {
            let path = files.path().join("htpasswd");
            std::fs::write(&path, format!("{line}\n")).unwrap();
            format!(
                "  htpasswd:\n    realm: test\n    path: {}\n",
                path.display()
            )
        });
        let inner = LocalRegistry::start_with(&RegistryConfig { tls: None, auth }).unwrap();
        Registry {
            inner,
            _files: files,
        }
    }

    fn address(&self) -> String {
        self.inner.address()
    }

    fn target(&self) -> RegistryTarget {
        RegistryTarget {
            insecure: true,
            ..RegistryTarget::new(format!("{}/mirror", self.address()))
        }
    }
}

fn options() -> RelocateOptions {
    RelocateOptions {
        parallelism: 3,
        // Smaller than the base layers, so those go up in chunks.
        chunk_size: 64 << 10,
        ..Default::default()
    }
}

/// The `(repository, blob digest)` pairs an image needs in `target`.
fn blobs_of(market: &Market, target: &RegistryTarget, image: &ImageRef) -> BTreeSet<String> {
    let repo = target.repository_for(&image.name).unwrap();
    let hex = image.digest.trim_start_matches("sha256:");
    let bytes = std::fs::read(market.root().join("blobs/sha256").join(hex)).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut out = BTreeSet::new();
    out.insert(format!(
        "{repo}@{}",
        manifest["config"]["digest"].as_str().unwrap()
    ));
    for l in manifest["layers"].as_array().unwrap() {
        out.insert(format!("{repo}@{}", l["digest"].as_str().unwrap()));
    }
    out
}

fn all_blobs(market: &Market, target: &RegistryTarget, images: &[ImageRef]) -> BTreeSet<String> {
    images
        .iter()
        .flat_map(|i| blobs_of(market, target, i))
        .collect()
}

/// Relocates a version, returning the report and the blobs reported as
/// uploaded by the progress callback.
fn relocate(
    market: &Market,
    version: &str,
    target: &RegistryTarget,
) -> (template_market::RelocateReport, BTreeSet<String>) {
    let mut uploaded = BTreeSet::new();
    let mut last = None;
    let report = market
        .relocate_version("pig", version, target, &options(), &mut |p| {
            assert!(p.bytes_done <= p.bytes_total, "{p:?}");
            if matches!(p.event, RelocateEvent::Uploaded | RelocateEvent::Mounted) {
                uploaded.insert(p.item.to_owned());
            }
            last = Some((
                p.event,
                p.bytes_done,
                p.bytes_total,
                p.blobs_done,
                p.blobs_total,
            ));
            ControlFlow::Continue(())
        })
        .unwrap();
    let (event, bytes_done, bytes_total, blobs_done, blobs_total) = last.unwrap();
    assert_eq!(event, RelocateEvent::Done);
    assert_eq!(bytes_done, bytes_total);
    assert_eq!(blobs_done, blobs_total);
    assert!(report.counts.bytes_uploaded <= bytes_total);
    assert_eq!(
        blobs_total,
        report.counts.blobs_uploaded + report.counts.blobs_mounted
    );
    (report, uploaded)
}

fn skopeo_digest(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo must be installed (see .ci/setup)");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_owned()
}

fn check_in_registry(registry: &Registry, target: &RegistryTarget, images: &[ImageRef]) {
    for image in images {
        let reference = target.relocated_reference(image).unwrap();
        assert!(reference.starts_with(&format!("{}/mirror/", registry.address())));
        assert_eq!(skopeo_digest(&reference), image.digest, "{reference}");
        let repo = target.repository_for(&image.name).unwrap();
        let url = format!(
            "http://{}/v2/{repo}/manifests/{}",
            registry.address(),
            image.digest
        );
        let answer = ureq::head(&url)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .call()
            .unwrap();
        assert_eq!(answer.status(), 200, "{url}");
    }
}

#[test]
fn relocates_pig_then_a_rerun_pushes_nothing_then_2_0_pushes_only_new_blobs() {
    let registry = Registry::start();
    let target = registry.target();
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (_, images_1) = testkit::publish_pig(&market, "1.0.0").unwrap();

    let (report, uploaded) = relocate(&market, "1.0.0", &target);
    let want = all_blobs(&market, &target, &images_1);
    assert_eq!(uploaded, want);
    assert_eq!(
        report.counts.blobs_uploaded + report.counts.blobs_mounted,
        want.len()
    );
    // The shared base layers are sent once and mounted into the other
    // repositories.
    assert!(report.counts.blobs_mounted > 0, "{report:?}");
    assert_eq!(report.counts.blobs_skipped, 0);
    assert!(
        report.counts.manifests_pushed >= images_1.len(),
        "{report:?}"
    );
    assert_eq!(report.images.len(), images_1.len());
    check_in_registry(&registry, &target, &images_1);

    let (again, uploaded) = relocate(&market, "1.0.0", &target);
    assert!(uploaded.is_empty(), "{uploaded:?}");
    assert_eq!(again.counts.blobs_uploaded + again.counts.blobs_mounted, 0);
    assert_eq!(again.counts.bytes_uploaded, 0);
    assert_eq!(again.counts.manifests_pushed, 0);
    assert_eq!(again.counts.blobs_skipped, want.len());

    let (_, images_2) = testkit::publish_pig(&market, "2.0.0").unwrap();
    let (report, uploaded) = relocate(&market, "2.0.0", &target);
    let want_2: BTreeSet<String> = all_blobs(&market, &target, &images_2)
        .difference(&want)
        .cloned()
        .collect();
    assert!(!want_2.is_empty());
    assert_eq!(uploaded, want_2);
    assert_eq!(
        report.counts.blobs_uploaded + report.counts.blobs_mounted,
        want_2.len()
    );
    check_in_registry(&registry, &target, &images_2);
}

#[test]
fn an_interrupted_relocation_resumes_with_what_is_missing() {
    let registry = Registry::start();
    let target = registry.target();
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (_, images) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let total = all_blobs(&market, &target, &images);

    let mut first = BTreeSet::new();
    let err = market
        .relocate_version("pig", "1.0.0", &target, &options(), &mut |p| {
            if matches!(p.event, RelocateEvent::Uploaded | RelocateEvent::Mounted) {
                first.insert(p.item.to_owned());
                if first.len() >= 4 {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(matches!(err, MarketError::Cancelled { .. }), "{err}");
    assert!(err.to_string().contains("run it again"), "{err}");
    assert!(first.len() >= 4 && first.len() < total.len(), "{first:?}");

    let (report, second) = relocate(&market, "1.0.0", &target);
    assert!(
        second.is_disjoint(&first),
        "re-uploaded {:?}",
        second.intersection(&first)
    );
    assert!(report.counts.blobs_skipped >= first.len(), "{report:?}");
    assert_eq!(
        report.counts.blobs_skipped + report.counts.blobs_uploaded + report.counts.blobs_mounted,
        total.len()
    );
    assert!(report.counts.blobs_uploaded + report.counts.blobs_mounted < total.len());
    let union: BTreeSet<String> = first.union(&second).cloned().collect();
    assert!(union.len() <= total.len());
    check_in_registry(&registry, &target, &images);

    let (again, uploaded) = relocate(&market, "1.0.0", &target);
    assert!(uploaded.is_empty());
    assert_eq!(again.counts.manifests_pushed, 0);
}

#[test]
fn an_unreachable_registry_is_named_in_the_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    testkit::publish_pig(&market, "1.0.0").unwrap();
    let target = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(format!("127.0.0.1:{port}"))
    };
    let err = market
        .relocate_version("pig", "1.0.0", &target, &options(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("reachable"), "{text}");
}

#[test]
fn basic_auth_is_sent_and_its_absence_explained() {
    // bcrypt of `s3cret-pw`, as `htpasswd -B` writes it.
    let registry = Registry::start_with(Some(
        "relocator:$2b$04$tJVkyZi45N3/B4PVhJBuK.bCypyCMRGFsZyNwZHwk9IxaHVyTFJjO",
    ));
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (_, images) = testkit::publish_pig(&market, "1.0.0").unwrap();

    let anonymous = registry.target();
    let err = market
        .relocate_version("pig", "1.0.0", &anonymous, &options(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MarketError::Registry { .. }), "{text}");
    assert!(
        text.contains("401") && text.contains("credentials"),
        "{text}"
    );

    let target = RegistryTarget {
        credentials: Some(("relocator".to_owned(), "s3cret-pw".to_owned())),
        ..registry.target()
    };
    let (report, _) = relocate(&market, "1.0.0", &target);
    assert_eq!(report.images.len(), images.len());
    assert!(report.counts.blobs_uploaded > 0);
    let (again, _) = relocate(&market, "1.0.0", &target);
    assert_eq!(
        again.counts.blobs_uploaded + again.counts.blobs_mounted + again.counts.manifests_pushed,
        0
    );

    let image = &images[0];
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            "relocator:s3cret-pw",
        ])
        .arg(format!(
            "docker://{}",
            target.relocated_reference(image).unwrap()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
