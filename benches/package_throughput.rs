//! Offline package throughput, memory and disk, against the obvious
//! baselines in the same run:
//!
//! - export vs `tar -cf - <the same blobs> | zstd -T0 -3`;
//! - import vs `zstd -dc | tar -xf -` followed by `sha256sum` of the blobs;
//! - peak RSS of export and import (each in a child process, VmHWM);
//! - extra disk: export writes only its output; import's peak disk use
//!   beyond the blobs it adds (sampled while it runs);
//! - a differential package for a version that changes 1 of 9 components,
//!   against the size of the changed layers.
//!
//! The market holds `PACKAGE_BENCH_MIB` MiB of layers (default 2048), half
//! random and half text-like data. Run: `cargo bench --bench package_throughput`.
//! Numbers are printed, never asserted.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a benchmark report; a failure is a benchmark failure"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oci_spec::image::{ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder};
use template_core::package::format::{ANNOTATION_REF_NAME, OCI_MANIFEST_MEDIA_TYPE};
use template_core::package::{annotated, canonical_json, descriptor_of, sha256_hex, sha256_of};
use template_market::testkit::synthetic_bytes;
use template_market::{ExportBase, ExportRequest, ImportOptions, Market, Trust};

const COMPONENTS: usize = 9;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn du(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let m = e.metadata().unwrap();
            total += if m.is_dir() { du(&e.path()) } else { m.len() };
        }
    }
    total
}

/// Child mode: `export <market> <out> <version>` or `import <market> <pkg>`.
fn child(args: &[String]) {
    let market = Market::open(&args[1]).unwrap();
    match args[0].as_str() {
        "export" => {
            let request = ExportRequest::new("bench", &[args[3].as_str()]);
            market
                .export_to_file(&request, Path::new(&args[2]), &mut |_| {
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
        }
        "import" => {
            let options = ImportOptions {
                trust: Trust::anything(),
                ..Default::default()
            };
            market
                .import_file(Path::new(&args[2]), &options, &mut |_| {
                    std::ops::ControlFlow::Continue(())
                })
                .unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
    println!("PEAK_RSS_KIB {}", peak_rss_kib());
}

/// Runs this binary in child mode; returns (seconds, peak RSS KiB, min
/// free disk seen while it ran).
fn run_child(args: &[&str], watch: &Path) -> (f64, u64, u64) {
    let start = Instant::now();
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut min_free = u64::MAX;
    loop {
        min_free = min_free.min(fs4::available_space(watch).unwrap_or(u64::MAX));
        if proc.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = start.elapsed().as_secs_f64();
    let out = proc.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rss = text
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KIB "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (secs, rss, min_free)
}

fn shell(script: &str) -> f64 {
    let start = Instant::now();
    let status = Command::new("sh").arg("-c").arg(script).status().unwrap();
    assert!(status.success(), "{script}");
    start.elapsed().as_secs_f64()
}

/// Writes a layer blob into an OCI layout without keeping it.
fn put(blobs: &Path, bytes: &[u8]) -> String {
    let digest = sha256_of(bytes);
    fs::write(blobs.join(sha256_hex(&digest).unwrap()), bytes).unwrap();
    digest
}

/// Builds the market: 3 shared base layers and one app layer per component.
fn build_market(root: &Path, total_mib: u64) -> (Market, u64) {
    let layout = root.join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let base_len = ((total_mib << 20) / 3 / 3) as usize;
    let app_len = ((total_mib << 20) * 2 / 3 / (COMPONENTS as u64 + 1)) as usize;
    let families = ["jdk", "nginx", "os"];
    let mut bases = Vec::new();
    for f in families {
        let bytes = synthetic_bytes(f, base_len);
        put(&blobs, &bytes);
        bases.push(descriptor_of("application/vnd.oci.image.layer.v1.tar", &bytes).unwrap());
    }
    let mut entries = Vec::new();
    let mut changed_layer = 0u64;
    // svc-0..8 at 1.0, and svc-0 at 2.0 (the one component that changes).
    for (i, tag) in (0..COMPONENTS).map(|i| (i, "1.0")).chain([(0, "2.0")]) {
        let name = format!("registry.example.com/bench/svc-{i}:{tag}");
        let app = synthetic_bytes(&name, app_len);
        put(&blobs, &app);
        if tag == "2.0" {
            changed_layer = app.len() as u64;
        }
        let app_desc = descriptor_of("application/vnd.oci.image.layer.v1.tar", &app).unwrap();
        drop(app);
        let config = canonical_json(&serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})).unwrap();
        put(&blobs, &config);
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(descriptor_of("application/vnd.oci.image.config.v1+json", &config).unwrap())
            .layers(vec![bases[i % 3].clone(), app_desc])
            .build()
            .unwrap();
        let bytes = canonical_json(&manifest).unwrap();
        put(&blobs, &bytes);
        entries.push(annotated(
            &descriptor_of(OCI_MANIFEST_MEDIA_TYPE, &bytes).unwrap(),
            &[(ANNOTATION_REF_NAME, &name)],
        ));
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .manifests(entries)
        .build()
        .unwrap();
    fs::write(layout.join("index.json"), canonical_json(&index).unwrap()).unwrap();
    let oci = OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .unwrap();
    fs::write(layout.join("oci-layout"), canonical_json(&oci).unwrap()).unwrap();

    let market = Market::open(root.join("market")).unwrap();
    let refs = market.add_oci_layout(&layout, &[]).unwrap();
    fs::remove_dir_all(&layout).unwrap();
    let mut v1 = template_core::testing::minimal_version("bench", "1.0.0");
    v1.components = (0..COMPONENTS)
        .map(|i| {
            let mut c = template_core::testing::minimal_component(&format!("svc-{i}"));
            let r = refs
                .iter()
                .find(|r| r.name == format!("registry.example.com/bench/svc-{i}:1.0"))
                .unwrap();
            c.image = r.reference();
            c
        })
        .collect();
    market
        .publish(&v1, template_core::Overwrite::Refuse)
        .unwrap();
    let mut v2 = v1.clone();
    v2.version = "2.0.0".into();
    let r = refs.iter().find(|r| r.name.ends_with("svc-0:2.0")).unwrap();
    v2.components[0].image = r.reference();
    market
        .publish(&v2, template_core::Overwrite::Refuse)
        .unwrap();
    (market, changed_layer)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        child(&args[pos + 1..]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; nothing to list.
    }
    let total_mib: u64 = std::env::var("PACKAGE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let tmp = tempfile::tempdir_in(
        std::env::var_os("PACKAGE_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let root = tmp.path();
    println!(
        "building a market of ~{total_mib} MiB of layers in {} ...",
        root.display()
    );
    let (market, changed_layer) = build_market(root, total_mib);
    let plan = market
        .plan_export(&ExportRequest::new("bench", &["1.0.0"]).allowing_drafts())
        .unwrap();
    let blob_bytes = plan.carried_bytes;
    let names: Vec<String> = plan
        .blobs
        .iter()
        .map(|d| sha256_hex(d.digest().as_ref()).unwrap().to_owned())
        .collect();
    fs::write(root.join("blob-list"), names.join("\n")).unwrap();
    let blobs_dir = market.root().join("blobs/sha256");
    println!(
        "package of version 1.0.0: {} blobs, {:.0} MiB",
        names.len(),
        mib(blob_bytes)
    );

    // Warm the page cache for both sides alike.
    shell(&format!(
        "cd '{}' && cat $(cat '{}') > /dev/null",
        blobs_dir.display(),
        root.join("blob-list").display()
    ));

    let ours_pkg = root.join("ours.tar.zst");
    let market_before = du(market.root());
    let (export_secs, export_rss, _) = run_child(
        &[
            "export",
            market.root().to_str().unwrap(),
            ours_pkg.to_str().unwrap(),
            "1.0.0",
        ],
        root,
    );
    let export_extra = du(market.root()).saturating_sub(market_before);
    let base_pkg = root.join("baseline.tar.zst");
    let base_export_secs = shell(&format!(
        "cd '{}' && tar -cf - -T '{}' | zstd -q -T0 -3 -o '{}'",
        blobs_dir.display(),
        root.join("blob-list").display(),
        base_pkg.display()
    ));

    let customer = root.join("customer");
    Market::open(&customer).unwrap();
    let free_before = fs4::available_space(root).unwrap();
    let (import_secs, import_rss, min_free) = run_child(
        &[
            "import",
            customer.to_str().unwrap(),
            ours_pkg.to_str().unwrap(),
        ],
        root,
    );
    let free_after = fs4::available_space(root).unwrap();
    let final_use = free_before.saturating_sub(free_after);
    let peak_use = free_before.saturating_sub(min_free);
    let extract = root.join("extract");
    fs::create_dir_all(&extract).unwrap();
    let base_import_secs = shell(&format!(
        "zstd -dc '{}' | tar -xf - -C '{}' && cd '{}' && sha256sum * > /dev/null",
        base_pkg.display(),
        extract.display(),
        extract.display()
    ));

    let diff_pkg = root.join("diff.tar.zst");
    let diff_request = ExportRequest::new("bench", &["2.0.0"])
        .allowing_drafts()
        .with_base(ExportBase::Versions(vec!["1.0.0".into()]));
    let diff_report = market
        .export_to_file(&diff_request, &diff_pkg, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();

    let ours_size = fs::metadata(&ours_pkg).unwrap().len();
    let base_size = fs::metadata(&base_pkg).unwrap().len();
    let tput = |secs: f64| mib(blob_bytes) / secs;
    println!();
    println!("| measure | ours | baseline | ours / baseline |");
    println!("|---|---|---|---|");
    println!(
        "| export throughput (MiB/s of blobs) | {:.0} | {:.0} (tar \\| zstd -T0 -3) | {:.0}% |",
        tput(export_secs),
        tput(base_export_secs),
        100.0 * base_export_secs / export_secs
    );
    println!(
        "| import throughput (MiB/s of blobs) | {:.0} | {:.0} (zstd -dc \\| tar -x; sha256sum) | {:.0}% |",
        tput(import_secs),
        tput(base_import_secs),
        100.0 * base_import_secs / import_secs
    );
    println!(
        "| archive size (MiB) | {:.0} | {:.0} | |",
        mib(ours_size),
        mib(base_size)
    );
    println!(
        "| peak RSS export (MiB) | {:.1} | | |",
        export_rss as f64 / 1024.0
    );
    println!(
        "| peak RSS import (MiB) | {:.1} | | |",
        import_rss as f64 / 1024.0
    );
    println!(
        "| export: disk written besides the archive (MiB) | {:.1} | | |",
        mib(export_extra)
    );
    println!(
        "| import: peak disk use / final disk use (MiB) | {:.0} / {:.0} (+{:.1}%) | | |",
        mib(peak_use),
        mib(final_use),
        if final_use > 0 {
            100.0 * (peak_use as f64 - final_use as f64) / final_use as f64
        } else {
            0.0
        }
    );
    println!(
        "| differential 2.0 vs 1.0 (1 of {COMPONENTS} components changed): archive / changed layer + 1 MiB (MiB) | {:.1} / {:.1} | | |",
        mib(diff_report.archive_bytes),
        mib(changed_layer + (1 << 20))
    );
}
