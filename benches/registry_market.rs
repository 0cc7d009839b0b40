//! The market on a registry beside the filesystem market and raw
//! transfers, in one run against a local `docker-registry`:
//!
//! - listing `REGISTRY_BENCH_VERSIONS` versions (default 200) of a
//!   template: `RegistryMarket::versions` (new, and again with the
//!   documents it read in memory) vs `Market::versions`;
//! - reading one version: `RegistryMarket::version` vs `Market::version`;
//! - publishing a version with its images into an empty namespace:
//!   `RegistryMarket::publish_from` vs `skopeo copy` of each image from an
//!   OCI layout (the raw transfer, without the version).
//!
//! Each pair runs interleaved A B A B over `REGISTRY_BENCH_ROUNDS` rounds
//! (default 3); medians are printed with the requests the registry logged
//! per operation. Numbers are printed, never asserted. Run:
//! `cargo bench --bench registry_market`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report; a failure is a benchmark failure"
)]

use std::ops::ControlFlow;
use std::process::Command;
use std::time::{Duration, Instant};

use template_core::Overwrite;
use template_market::testkit::registry::LocalRegistry;
use template_market::testkit::{self, LayerSizes};
use template_market::{Market, RegistryAccess, RegistryMarket, RelocateOptions};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Requests the registry has logged so far.
fn requests(registry: &LocalRegistry) -> usize {
    registry
        .log()
        .lines()
        .filter(|l| l.contains(" /v2/") && l.contains(" HTTP/1.1\""))
        .count()
}

/// Runs `f`, returning its time and the requests it made.
fn measure(registry: &LocalRegistry, f: impl FnOnce()) -> (Duration, usize) {
    let before = requests(registry);
    let start = Instant::now();
    f();
    let elapsed = start.elapsed();
    // The registry writes its access log after answering.
    std::thread::sleep(Duration::from_millis(200));
    (elapsed, requests(registry) - before)
}

fn report(what: &str, a: (&str, Vec<Duration>, usize), b: (&str, Vec<Duration>, usize)) {
    let (ma, mb) = (median(a.1), median(b.1));
    println!("{what}");
    println!("  {:<40} {:>10.2?}  {:>6} requests", a.0, ma, a.2);
    println!("  {:<40} {:>10.2?}  {:>6} requests", b.0, mb, b.2);
    println!("  ratio: {:.2}x", ma.as_secs_f64() / mb.as_secs_f64());
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count = env_usize("REGISTRY_BENCH_VERSIONS", 200).max(2);
    let rounds = env_usize("REGISTRY_BENCH_ROUNDS", 3).max(1);
    let registry = LocalRegistry::start().unwrap();
    let access = RegistryAccess {
        insecure: true,
        ..RegistryAccess::new(registry.address())
    };
    let tmp = tempfile::tempdir().unwrap();

    // The vendor's build market with `count` versions sharing images.
    let local = Market::open(tmp.path().join("vendor")).unwrap();
    let fixture = testkit::pig_fixture("1.0.0").unwrap();
    let sizes = LayerSizes::default();
    let pinned = testkit::prepare_images(&local, &fixture, sizes).unwrap();
    let numbers: Vec<String> = (0..count).map(|i| format!("1.{i}.0")).collect();
    for v in &numbers {
        let mut doc = pinned.clone();
        v.clone_into(&mut doc.version);
        local.publish(&doc, Overwrite::Refuse).unwrap();
    }
    let remote = RegistryMarket::open(
        &format!("oci://{}/vendor", registry.address()),
        std::slice::from_ref(&access),
    )
    .unwrap();
    let start = Instant::now();
    for v in &numbers {
        remote
            .publish_from(
                &local,
                "pig",
                v,
                Overwrite::Refuse,
                &RelocateOptions::default(),
                &mut |_| ControlFlow::Continue(()),
            )
            .unwrap();
    }
    println!(
        "setup: {count} versions of pig ({} images) published to the registry market in {:.2?}; {rounds} rounds",
        testkit::image_names(&pinned).len(),
        start.elapsed()
    );

    // Listing: a fresh RegistryMarket (as a new process would), and the
    // same one again (version documents are kept in memory by artifact
    // digest; tags are asked again).
    let (mut a, mut w, mut b, mut ra, mut rw, mut rb) =
        (Vec::new(), Vec::new(), Vec::new(), 0, 0, 0);
    for _ in 0..rounds {
        let fresh = RegistryMarket::open(remote.location(), std::slice::from_ref(&access)).unwrap();
        let (t, r) = measure(&registry, || {
            assert_eq!(fresh.versions("pig").unwrap().len(), count)
        });
        a.push(t);
        ra = r;
        let (t, r) = measure(&registry, || {
            assert_eq!(local.versions("pig").unwrap().len(), count)
        });
        b.push(t);
        rb = r;
        let (t, r) = measure(&registry, || {
            assert_eq!(fresh.versions("pig").unwrap().len(), count)
        });
        w.push(t);
        rw = r;
    }
    let filesystem = median(b.clone());
    report(
        &format!("list {count} versions"),
        ("RegistryMarket::versions (new)", a, ra),
        ("Market::versions (filesystem)", b, rb),
    );
    let again = median(w);
    println!(
        "  RegistryMarket::versions (again)         {again:>10.2?}  {rw:>6} requests  ratio: {:.2}x",
        again.as_secs_f64() / filesystem.as_secs_f64()
    );

    // Reading one.
    let middle = &numbers[count / 2];
    let (mut a, mut b, mut ra, mut rb) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..rounds {
        let (t, r) = measure(&registry, || {
            remote.version("pig", middle).unwrap();
        });
        a.push(t);
        ra = r;
        let (t, r) = measure(&registry, || {
            local.version("pig", middle).unwrap();
        });
        b.push(t);
        rb = r;
    }
    report(
        &format!("read version {middle}"),
        ("RegistryMarket::version", a, ra),
        ("Market::version (filesystem)", b, rb),
    );

    // Publishing a version with its images into an empty namespace, vs
    // skopeo copying the images from an OCI layout.
    let layout = tmp.path().join("layout");
    let images: Vec<_> = testkit::image_names(&fixture)
        .iter()
        .map(|n| testkit::synthetic_image(n, sizes).unwrap())
        .collect();
    testkit::write_oci_layout(&layout, &images).unwrap();
    let (mut a, mut b, mut ra, mut rb) = (Vec::new(), Vec::new(), 0, 0);
    for round in 0..rounds {
        let fresh = RegistryMarket::open(
            &format!("oci://{}/publish-{round}", registry.address()),
            std::slice::from_ref(&access),
        )
        .unwrap();
        let (t, r) = measure(&registry, || {
            fresh
                .publish_from(
                    &local,
                    "pig",
                    &numbers[0],
                    Overwrite::Refuse,
                    &RelocateOptions::default(),
                    &mut |_| ControlFlow::Continue(()),
                )
                .unwrap();
        });
        a.push(t);
        ra = r;
        let (t, r) = measure(&registry, || {
            for image in &images {
                let out = Command::new("skopeo")
                    .args(["copy", "--quiet", "--dest-tls-verify=false"])
                    .arg(format!("oci:{}:{}", layout.display(), image.name))
                    .arg(format!(
                        "docker://{}/skopeo-{round}/{}:1.0",
                        registry.address(),
                        image
                            .name
                            .rsplit('/')
                            .next()
                            .and_then(|n| n.split(':').next())
                            .unwrap_or("image")
                    ))
                    .output()
                    .expect("skopeo must be installed");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        });
        b.push(t);
        rb = r;
    }
    report(
        &format!("publish a version with {} images", images.len()),
        ("RegistryMarket::publish_from", a, ra),
        ("skopeo copy of each image (no version)", b, rb),
    );
}
