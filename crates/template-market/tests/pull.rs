//! Pulling images into the market from a real registry (Debian's
//! `docker-registry`) that `skopeo copy` filled from an OCI layout; the
//! pulled images are checked against `skopeo inspect --raw` and by
//! relocating them back. Interruptions: a cancel during a fetch, and a
//! child process killed with SIGKILL while pulling.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Command, Stdio};

use template_core::package::sha256_of;
use template_market::testkit::registry::LocalRegistry;
use template_market::testkit::{self, LayerSizes, SyntheticImage};
use template_market::{
    Market, MarketError, PullEvent, PullOptions, PullReport, RegistryTarget, RelocateOptions,
};

const CHILD_ENV: &str = "TEMPLATE_MARKET_PULL_CHILD";

fn source(registry: &LocalRegistry) -> RegistryTarget {
    RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(registry.address())
    }
}

fn options() -> PullOptions {
    PullOptions {
        image_parallelism: 2,
        blob_parallelism: 3,
        ..Default::default()
    }
}

fn pull(
    market: &Market,
    images: &[String],
    source: &RegistryTarget,
    options: &PullOptions,
) -> Result<PullReport, MarketError> {
    market.pull(images, source, options, &mut |p| {
        assert!(p.bytes_done <= p.bytes_total, "{p:?}");
        ControlFlow::Continue(())
    })
}

/// `skopeo copy` of image `name` of the layout in `dir` to `dest`.
fn skopeo_push(dir: &Path, name: &str, dest: &str, all: bool) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--quiet", "--dest-tls-verify=false"]);
    if all {
        cmd.arg("--all");
    }
    let out = cmd
        .arg(format!("oci:{}:{name}", dir.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .expect("skopeo must be installed (see .ci/setup)");
    assert!(
        out.status.success(),
        "skopeo copy {name} {dest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The manifest (or index) `reference` names, as skopeo reads it from
/// the registry.
fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn skopeo_digest(reference: &str) -> String {
    sha256_of(&skopeo_raw(reference))
}

/// Images sharing one base layer, pushed as `<registry>/shop/<name>:1.0`;
/// returns their references.
fn push_images(registry: &LocalRegistry, names: &[&str], sizes: LayerSizes) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let images: Vec<SyntheticImage> = names
        .iter()
        .map(|n| testkit::synthetic_image(n, sizes).unwrap())
        .collect();
    testkit::write_oci_layout(tmp.path(), &images).unwrap();
    names
        .iter()
        .map(|n| {
            let reference = format!("{}/shop/{n}:1.0", registry.address());
            skopeo_push(tmp.path(), n, &reference, false);
            reference
        })
        .collect()
}

/// A multi-platform image: an OCI index over one manifest per platform,
/// pushed whole (`skopeo copy --all`) as `<registry>/shop/multi:1.0`.
/// Returns the reference and each platform's manifest digest in the
/// registry (skopeo compresses the layers on the way, so they differ from
/// the layout's).
fn push_multi_arch(registry: &LocalRegistry, platforms: &[(&str, &str)]) -> (String, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let images: Vec<SyntheticImage> = platforms
        .iter()
        .map(|(_, arch)| {
            testkit::synthetic_image(&format!("multi-{arch}"), LayerSizes::default()).unwrap()
        })
        .collect();
    let refs = testkit::write_oci_layout(tmp.path(), &images).unwrap();
    let manifests: Vec<serde_json::Value> = refs
        .iter()
        .zip(platforms)
        .map(|(r, (os, arch))| {
            let hex = r.digest.trim_start_matches("sha256:");
            let size = std::fs::metadata(tmp.path().join("blobs/sha256").join(hex))
                .unwrap()
                .len();
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": r.digest,
                "size": size,
                "platform": {"os": os, "architecture": arch},
            })
        })
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let digest = sha256_of(&index);
    std::fs::write(
        tmp.path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
        &index,
    )
    .unwrap();
    let layout_index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest,
            "size": index.len(),
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }],
    });
    std::fs::write(
        tmp.path().join("index.json"),
        serde_json::to_vec(&layout_index).unwrap(),
    )
    .unwrap();
    let reference = format!("{}/shop/multi:1.0", registry.address());
    skopeo_push(tmp.path(), "multi", &reference, true);
    let pushed: serde_json::Value = serde_json::from_slice(&skopeo_raw(&reference)).unwrap();
    let children = pushed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    (reference, children)
}

fn fetched_nothing(report: &PullReport) -> bool {
    report.blobs_fetched == 0 && report.manifests_fetched == 0 && report.bytes_fetched == 0
}

#[test]
fn pulls_what_skopeo_pushed_digests_unchanged_and_a_second_pull_fetches_nothing() {
    let registry = LocalRegistry::start().unwrap();
    let refs = push_images(&registry, &["api", "web", "worker"], LayerSizes::default());
    let digests: Vec<String> = refs.iter().map(|r| skopeo_digest(r)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let source = source(&registry);

    // By tag, and one also by digest.
    let mut wanted = refs.clone();
    wanted.push(format!("{}@{}", refs[0], digests[0]));
    let mut events = Vec::new();
    let report = market
        .pull(&wanted, &source, &options(), &mut |p| {
            events.push(p.event);
            ControlFlow::Continue(())
        })
        .unwrap();
    for (i, r) in refs.iter().enumerate() {
        let pulled = &report.images[i];
        assert_eq!(&pulled.requested, r);
        assert_eq!(pulled.image.name, *r);
        assert_eq!(pulled.image.digest, digests[i], "{r}");
        assert_eq!(pulled.source_digest, digests[i], "{r}");
    }
    assert_eq!(report.images[3].image, report.images[0].image);
    // Three images: one shared base layer, three app layers, three configs.
    assert_eq!(report.blobs_fetched, 7, "{report:?}");
    assert_eq!(report.manifests_fetched, 3, "{report:?}");
    assert!(events.contains(&PullEvent::Fetched) && events.last() == Some(&PullEvent::Done));
    let names: BTreeSet<String> = market
        .images()
        .unwrap()
        .into_iter()
        .map(|i| i.reference())
        .collect();
    for (r, d) in refs.iter().zip(&digests) {
        assert!(names.contains(&format!("{r}@{d}")), "{names:?}");
    }
    let verify = market.verify().unwrap();
    assert!(verify.problems.is_empty(), "{verify:?}");
    assert!(
        !market
            .root()
            .join("staging/pull")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );

    // A second pull fetches nothing, by tag or by digest.
    let again = pull(&market, &wanted, &source, &options()).unwrap();
    assert!(fetched_nothing(&again), "{again:?}");
    assert_eq!(again.blobs_skipped, 7, "{again:?}");
    assert_eq!(again.images, report.images);

    // What the market holds is what the registry had: relocated back to
    // another repository, skopeo reads the same digests there.
    let mirror = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(format!("{}/mirror", registry.address()))
    };
    let images: Vec<_> = report.images[..3].iter().map(|p| p.image.clone()).collect();
    let relocated = market
        .relocate_images(&images, &mirror, &RelocateOptions::default(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    for (image, reference) in &relocated.images {
        assert_eq!(skopeo_digest(reference), image.digest, "{reference}");
    }
}

#[test]
fn errors_name_the_image_and_the_blob() {
    let registry = LocalRegistry::start().unwrap();
    let refs = push_images(&registry, &["api"], LayerSizes::default());
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let source = source(&registry);

    // An unknown tag.
    let missing = format!("{}/shop/api:9.9", registry.address());
    let err = pull(&market, std::slice::from_ref(&missing), &source, &options()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&missing) && text.contains("9.9"), "{text}");

    // An image of another registry.
    let elsewhere = "registry.example.com/shop/api:1.0".to_owned();
    let err = pull(&market, &[elsewhere], &source, &options()).unwrap_err();
    assert!(err.to_string().contains("registry.example.com"), "{err}");

    // A platform filter that is not one.
    let bad = PullOptions {
        platforms: vec!["linux/".to_owned()],
        ..options()
    };
    let err = pull(&market, &refs, &source, &bad).unwrap_err();
    assert!(err.to_string().contains("linux/"), "{err}");

    // A layer the registry serves corrupted: named with its image.
    let data = registry.dir().join("data/docker/registry/v2/blobs/sha256");
    let mut layer_files: Vec<(u64, std::path::PathBuf)> = Vec::new();
    for prefix in data.read_dir().unwrap() {
        for blob in prefix.unwrap().path().read_dir().unwrap() {
            let file = blob.unwrap().path().join("data");
            layer_files.push((std::fs::metadata(&file).unwrap().len(), file));
        }
    }
    layer_files.sort();
    let (size, biggest) = layer_files.last().unwrap().clone();
    let digest = format!(
        "sha256:{}",
        biggest
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    );
    std::fs::write(&biggest, vec![b'x'; usize::try_from(size).unwrap()]).unwrap();
    let err = pull(&market, &refs, &source, &options()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MarketError::Registry { .. }), "{text}");
    assert!(text.contains(&refs[0]) && text.contains(&digest), "{text}");
    assert!(market.images().unwrap().is_empty());
    assert!(market.verify().unwrap().problems.is_empty());
}

/// Larger layers, so a fetch reports several times before it ends.
fn big() -> LayerSizes {
    LayerSizes {
        base: 6 << 20,
        app: 3 << 20,
    }
}

#[test]
fn a_cancelled_pull_keeps_the_market_valid_and_resumes_partial_blobs() {
    let registry = LocalRegistry::start().unwrap();
    let refs = push_images(&registry, &["api", "web"], big());
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let source = source(&registry);

    let err = market
        .pull(&refs, &source, &options(), &mut |p| {
            if p.event == PullEvent::Fetching && p.bytes_done >= 2 << 20 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, MarketError::Cancelled { .. }), "{err}");
    assert!(market.images().unwrap().is_empty());
    assert!(market.verify().unwrap().problems.is_empty());

    // Reopening keeps what was staged; the rerun fetches only the rest.
    let market = Market::open(market.root()).unwrap();
    let full = pull(
        &Market::open(tmp.path().join("fresh")).unwrap(),
        &refs,
        &source,
        &options(),
    )
    .unwrap();
    let report = pull(&market, &refs, &source, &options()).unwrap();
    assert!(report.blobs_resumed >= 1, "{report:?}");
    assert!(
        report.bytes_fetched < full.bytes_fetched,
        "{report:?} vs {full:?}"
    );
    assert_eq!(report.images, full.images);
    assert!(market.verify().unwrap().problems.is_empty());
}

/// Runs only when re-invoked by the parent test: pulls and stops for
/// good at the first fetched blob after `stop` fetch reports.
#[test]
fn child_pull() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let (Some(market), Some(address), Some(stop), images) =
        (parts.next(), parts.next(), parts.next(), parts)
    else {
        panic!("bad spec {spec}");
    };
    let stop: usize = stop.parse().unwrap();
    let images: Vec<String> = images.map(str::to_owned).collect();
    let market = Market::open(market).unwrap();
    let source = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(address)
    };
    let mut count = 0usize;
    market
        .pull(&images, &source, &options(), &mut |p| {
            if matches!(p.event, PullEvent::Fetching | PullEvent::Fetched) {
                count += 1;
            }
            if count >= stop {
                let mut out = std::io::stdout();
                writeln!(out, "READY {count} {:?} {}", p.event, p.blob).unwrap();
                out.flush().unwrap();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    println!("FINISHED");
}

#[test]
fn a_killed_pull_leaves_the_market_valid_and_a_rerun_resumes() {
    let registry = LocalRegistry::start().unwrap();
    let refs = push_images(&registry, &["api", "web", "worker"], big());
    let tmp = tempfile::tempdir().unwrap();
    let full = pull(
        &Market::open(tmp.path().join("fresh")).unwrap(),
        &refs,
        &source(&registry),
        &options(),
    )
    .unwrap();
    for stop in [1, 6, 12] {
        let root = tmp.path().join(format!("killed-{stop}"));
        Market::open(&root).unwrap();
        let spec = format!(
            "{}|{}|{stop}|{}",
            root.display(),
            registry.address(),
            refs.join("|")
        );
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_pull", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut ready = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(at) = line.find("READY") {
                ready = Some(line[at..].to_owned());
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(ready.is_some(), "child never reached fetch report {stop}");

        let market = Market::open(&root).unwrap();
        assert!(market.images().unwrap().is_empty(), "{ready:?}");
        assert!(market.verify().unwrap().problems.is_empty(), "{ready:?}");
        let report = pull(&market, &refs, &source(&registry), &options()).unwrap();
        assert!(
            report.bytes_fetched < full.bytes_fetched,
            "{ready:?}: {report:?}"
        );
        assert_eq!(report.images, full.images, "{ready:?}");
        assert!(market.verify().unwrap().problems.is_empty(), "{ready:?}");
        let again = pull(&market, &refs, &source(&registry), &options()).unwrap();
        assert!(fetched_nothing(&again), "{again:?}");
    }
}

#[test]
fn a_multi_platform_image_is_kept_whole_unless_filtered() {
    let registry = LocalRegistry::start().unwrap();
    let (reference, children) = push_multi_arch(
        &registry,
        &[("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")],
    );
    let index_digest = skopeo_digest(&reference);
    let tmp = tempfile::tempdir().unwrap();
    let source = source(&registry);
    let wanted = vec![reference.clone()];

    // Whole: the index, with every platform's blobs.
    let market = Market::open(tmp.path().join("whole")).unwrap();
    let report = pull(&market, &wanted, &source, &options()).unwrap();
    assert_eq!(report.images[0].image.digest, index_digest);
    assert!(report.images[0].platforms.is_empty());
    assert_eq!(report.manifests_fetched, 4, "{report:?}");
    // Three configs, three app layers, one shared base.
    assert_eq!(report.blobs_fetched, 7, "{report:?}");
    assert!(market.verify().unwrap().problems.is_empty());

    // One platform: the image is that platform's manifest.
    let market = Market::open(tmp.path().join("arm64")).unwrap();
    let one = PullOptions {
        platforms: vec!["linux/arm64".to_owned()],
        ..options()
    };
    let report = pull(&market, &wanted, &source, &one).unwrap();
    let pulled = &report.images[0];
    assert_eq!(pulled.image.digest, children[1]);
    assert_eq!(pulled.source_digest, index_digest);
    assert_eq!(pulled.platforms, vec!["linux/arm64".to_owned()]);
    assert_eq!(report.blobs_fetched, 3, "{report:?}");
    assert_eq!(market.images().unwrap()[0].digest, children[1]);

    // Two platforms: a new index listing only them.
    let market = Market::open(tmp.path().join("two")).unwrap();
    let two = PullOptions {
        platforms: vec!["amd64".to_owned(), "linux/arm64".to_owned()],
        ..options()
    };
    let report = pull(&market, &wanted, &source, &two).unwrap();
    let pulled = &report.images[0];
    assert_ne!(pulled.image.digest, index_digest);
    assert_eq!(pulled.platforms.len(), 2);
    let hex = pulled.image.digest.trim_start_matches("sha256:");
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(market.root().join("blobs/sha256").join(hex)).unwrap(),
    )
    .unwrap();
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![children[0].as_str(), children[1].as_str()]);
    assert!(market.verify().unwrap().problems.is_empty());
    // The rewritten index relocates as it is.
    let mirror = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(format!("{}/mirror", registry.address()))
    };
    let relocated = market
        .relocate_images(
            std::slice::from_ref(&pulled.image),
            &mirror,
            &RelocateOptions::default(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
    assert_eq!(skopeo_digest(&relocated.images[0].1), pulled.image.digest);

    // No platform matches: the error lists what the image offers.
    let none = PullOptions {
        platforms: vec!["windows/amd64".to_owned()],
        ..options()
    };
    let err = pull(&market, &wanted, &source, &none)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&reference) && err.contains("linux/s390x") && err.contains("windows/amd64"),
        "{err}"
    );
}
