//! Pulling images from a registry into an OCI layout: `Market::pull`
//! against `skopeo copy` of the same images into an OCI layout one after
//! another (what `skopeo sync` and most tools do), in the same run.
//!
//! `PULL_BENCH_IMAGES` images (default 12) of three families, each family
//! sharing a base layer, with `PULL_BENCH_MIB` MiB of layers in all
//! (default 320), are generated, written to an OCI layout and pushed with
//! skopeo to a local `docker-registry`. Then, interleaved A B A B over
//! `PULL_BENCH_ROUNDS` rounds (default 3), each side pulls everything into
//! an empty directory; medians are printed. `Market::pull` runs with its
//! default parallelism and once with one blob at a time. Numbers are
//! printed, never asserted. Run: `cargo bench --bench pull_images`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report; a failure is a benchmark failure"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use template_market::testkit::registry::LocalRegistry;
use template_market::testkit::{SyntheticImage, layer_tar, synthetic_bytes, write_oci_layout};
use template_market::{Market, PullOptions, RegistryTarget};

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

fn skopeo_copy(from: &str, to: &str) {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(from)
        .arg(to)
        .output()
        .expect("skopeo must be installed");
    assert!(
        out.status.success(),
        "skopeo copy {from} {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count = env_usize("PULL_BENCH_IMAGES", 12).max(3);
    let total_mib = env_usize("PULL_BENCH_MIB", 320);
    let rounds = env_usize("PULL_BENCH_ROUNDS", 3).max(1);
    // A third of the bytes in three shared bases, the rest in app layers.
    let base = (total_mib << 20) / 9;
    let app = ((total_mib << 20) * 2 / 3) / count;

    let registry = LocalRegistry::start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("source");
    let families = ["os", "jdk", "nginx"];
    let bases: Vec<Vec<u8>> = families
        .iter()
        .map(|f| layer_tar(&format!("opt/{f}/base.bin"), &synthetic_bytes(f, base)).unwrap())
        .collect();
    let images: Vec<SyntheticImage> = (0..count)
        .map(|i| SyntheticImage {
            name: format!("svc-{i}"),
            layers: vec![
                bases[i % 3].clone(),
                layer_tar("app/app.bin", &synthetic_bytes(&format!("svc-{i}"), app)).unwrap(),
            ],
        })
        .collect();
    let bytes: usize = bases.iter().map(Vec::len).sum::<usize>()
        + images.iter().map(|i| i.layers[1].len()).sum::<usize>();
    write_oci_layout(&layout, &images).unwrap();
    let refs: Vec<String> = images
        .iter()
        .map(|i| {
            let reference = format!("{}/bench/{}:1.0", registry.address(), i.name);
            skopeo_copy(
                &format!("oci:{}:{}", layout.display(), i.name),
                &format!("docker://{reference}"),
            );
            reference
        })
        .collect();
    println!(
        "pull: {count} images, {:.0} MiB of distinct layers (3 shared bases), {rounds} rounds",
        bytes as f64 / (1 << 20) as f64
    );

    let source = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(registry.address())
    };
    let market_pull = |dir: &Path, options: &PullOptions| -> Duration {
        let market = Market::open(dir).unwrap();
        let start = Instant::now();
        let report = market
            .pull(&refs, &source, options, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        let elapsed = start.elapsed();
        assert_eq!(report.images.len(), refs.len());
        elapsed
    };
    let serial = PullOptions {
        image_parallelism: 1,
        blob_parallelism: 1,
        ..PullOptions::default()
    };
    let (mut a, mut a1, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let dir = tmp.path().join(format!("market-{round}"));
        a.push(market_pull(&dir, &PullOptions::default()));
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = tmp.path().join(format!("skopeo-{round}"));
        let start = Instant::now();
        for (r, i) in refs.iter().zip(&images) {
            skopeo_copy(
                &format!("docker://{r}"),
                &format!("oci:{}:{}", dir.display(), i.name),
            );
        }
        b.push(start.elapsed());
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = tmp.path().join(format!("serial-{round}"));
        a1.push(market_pull(&dir, &serial));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let (a, a1, b) = (median(a), median(a1), median(b));
    let rate = |d: Duration| bytes as f64 / (1 << 20) as f64 / d.as_secs_f64();
    println!(
        "  Market::pull (default parallelism) {:>8.2?}  {:>7.1} MiB/s",
        a,
        rate(a)
    );
    println!(
        "  Market::pull (one blob at a time)  {:>8.2?}  {:>7.1} MiB/s",
        a1,
        rate(a1)
    );
    println!(
        "  skopeo copy, one image at a time   {:>8.2?}  {:>7.1} MiB/s",
        b,
        rate(b)
    );
    println!(
        "  skopeo / Market::pull: {:.2}x (default), {:.2}x (serial)",
        b.as_secs_f64() / a.as_secs_f64(),
        b.as_secs_f64() / a1.as_secs_f64()
    );
}
