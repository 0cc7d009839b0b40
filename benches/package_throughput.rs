//! Offline package throughput and memory against the obvious baselines,
//! interleaved in one run (ours, the baselines, ours, ... over
//! `PACKAGE_BENCH_ROUNDS` rounds, default 3) and reported as medians:
//!
//! - export vs `tar -cf - <the same blobs> | zstd -T0 -3`, then `sync` of
//!   the output (ours syncs its output too);
//! - import vs `zstd -dc | tar -xf -`, then `openssl dgst -sha256` of the
//!   blobs and `sync` of them (ours hashes and syncs every blob), vs
//!   `zstd -dc` alone (the floor of decompression), and vs `zstd -dc` into
//!   one file then `sync` of it (the floor of any durable import: the same
//!   bytes decompressed and on disk, not split, not hashed);
//! - our import of a plain-tar package of the same version against our
//!   import of the zstd one;
//! - peak RSS of export and import (each in a child process, VmHWM);
//! - extra disk: export writes only its output; import's peak disk use
//!   beyond the blobs it adds (sampled while it runs);
//! - a differential package for a version that changes 1 of 9 components,
//!   against the size of the changed layers.
//!
//! Two data sets: layers of `PACKAGE_BENCH_MIB` MiB (default 512), half
//! random and half text-like, as plain tar layers; and the same kind of
//! data at half that size as gzip-compressed layers (`gzip -1`), as real
//! images have. With `PACKAGE_BENCH_OTHER=<path of another build of this
//! bench>` that build's export and import run in the same rounds, so two
//! versions of the code compare side by side. Run:
//! `cargo bench --bench package_throughput`. Numbers are printed, never
//! asserted.

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
use template_market::{Compression, ExportBase, ExportRequest, ImportOptions, Market, Trust};

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

/// Child mode: `export <market> <out> <version> [plain]` or
/// `import <market> <pkg>`.
fn child(args: &[String]) {
    let market = Market::open(&args[1]).unwrap();
    match args[0].as_str() {
        "export" => {
            let mut request = ExportRequest::new("bench", &[args[3].as_str()]).allowing_drafts();
            if args.get(4).map(String::as_str) == Some("plain") {
                request = request.with_compression(Compression::None);
            }
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

/// Runs `binary` (this bench or another build of it) in child mode;
/// returns (seconds, peak RSS KiB, min free disk seen while it ran).
fn run_child(binary: &Path, args: &[&str], watch: &Path) -> (f64, u64, u64) {
    let start = Instant::now();
    let mut proc = Command::new(binary)
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

/// `gzip -1` of `bytes` (what registries serve).
fn gzip(bytes: &[u8], scratch: &Path) -> Vec<u8> {
    fs::write(scratch, bytes).unwrap();
    let out = Command::new("gzip")
        .args(["-1", "-c", "-n"])
        .arg(scratch)
        .output()
        .unwrap();
    assert!(out.status.success());
    fs::remove_file(scratch).unwrap();
    out.stdout
}

/// Builds the market: 3 shared base layers and one app layer per
/// component, plain tar or gzip-compressed.
fn build_market(root: &Path, total_mib: u64, gzipped: bool) -> (Market, u64) {
    let layer_type = if gzipped {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    let scratch = root.join("scratch");
    let layer = |seed: &str, len: usize| {
        let bytes = synthetic_bytes(seed, len);
        if gzipped {
            gzip(&bytes, &scratch)
        } else {
            bytes
        }
    };
    let layout = root.join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let base_len = ((total_mib << 20) / 3 / 3) as usize;
    let app_len = ((total_mib << 20) * 2 / 3 / (COMPONENTS as u64 + 1)) as usize;
    let families = ["jdk", "nginx", "os"];
    let mut bases = Vec::new();
    for f in families {
        let bytes = layer(f, base_len);
        put(&blobs, &bytes);
        bases.push(descriptor_of(layer_type, &bytes).unwrap());
    }
    let mut entries = Vec::new();
    let mut changed_layer = 0u64;
    // svc-0..8 at 1.0, and svc-0 at 2.0 (the one component that changes).
    for (i, tag) in (0..COMPONENTS).map(|i| (i, "1.0")).chain([(0, "2.0")]) {
        let name = format!("registry.example.com/bench/svc-{i}:{tag}");
        let app = layer(&name, app_len);
        put(&blobs, &app);
        if tag == "2.0" {
            changed_layer = app.len() as u64;
        }
        let app_desc = descriptor_of(layer_type, &app).unwrap();
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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One contender: its name and its timings (seconds) and peak RSS (KiB)
/// per round.
#[derive(Default)]
struct Series {
    secs: Vec<f64>,
    rss: Vec<u64>,
}

impl Series {
    fn median(&self) -> f64 {
        median(&mut self.secs.clone())
    }
    fn rss_mib(&self) -> f64 {
        self.rss.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    }
}

/// A market and the package of its version 1.0.0 to export and import.
struct DataSet {
    label: &'static str,
    dir: PathBuf,
    market: Market,
    blob_bytes: u64,
    blob_list: PathBuf,
    changed_layer: u64,
}

fn data_set(root: &Path, label: &'static str, total_mib: u64, gzipped: bool) -> DataSet {
    let dir = root.join(label);
    fs::create_dir_all(&dir).unwrap();
    let (market, changed_layer) = build_market(&dir, total_mib, gzipped);
    let plan = market
        .plan_export(&ExportRequest::new("bench", &["1.0.0"]).allowing_drafts())
        .unwrap();
    let names: Vec<String> = plan
        .blobs
        .iter()
        .map(|d| sha256_hex(d.digest().as_ref()).unwrap().to_owned())
        .collect();
    let blob_list = dir.join("blob-list");
    fs::write(&blob_list, names.join("\n")).unwrap();
    println!(
        "{label}: package of version 1.0.0: {} blobs, {:.0} MiB",
        names.len(),
        mib(plan.carried_bytes)
    );
    DataSet {
        label,
        dir,
        market,
        blob_bytes: plan.carried_bytes,
        blob_list,
        changed_layer,
    }
}

/// Who runs: our build, optionally another build, and the baseline.
#[derive(Clone, Copy, PartialEq)]
enum Who {
    Ours,
    Other,
    Baseline,
}

#[derive(Default)]
struct Results {
    export: [Series; 3],
    import: [Series; 3],
    zstd_only: Series,
    zstd_written: Series,
    /// Our import of a plain-tar package of the same version.
    import_plain: Series,
    import_peak_disk: u64,
    import_final_disk: u64,
    export_extra_disk: u64,
}

fn round(set: &DataSet, order: &[Who], other: Option<&Path>, results: &mut Results) {
    let me = std::env::current_exe().unwrap();
    let blobs_dir = set.market.root().join("blobs/sha256");
    let dir = &set.dir;
    let pkg = |who: Who| {
        dir.join(match who {
            Who::Ours => "ours.tar.zst",
            Who::Other => "other.tar.zst",
            Who::Baseline => "baseline.tar.zst",
        })
    };
    let binary = |who: Who| match who {
        Who::Other => other.unwrap().to_owned(),
        _ => me.clone(),
    };
    for &who in order {
        // Same page-cache state for every contender: the blobs are hot.
        shell(&format!(
            "cd '{}' && cat $(cat '{}') > /dev/null",
            blobs_dir.display(),
            set.blob_list.display()
        ));
        let out = pkg(who);
        let _ = fs::remove_file(&out);
        if who == Who::Baseline {
            let secs = shell(&format!(
                "cd '{}' && tar -cf - -T '{}' | zstd -q -T0 -3 -o '{}' && sync '{}'",
                blobs_dir.display(),
                set.blob_list.display(),
                out.display(),
                out.display()
            ));
            results.export[2].secs.push(secs);
        } else {
            let before = du(set.market.root());
            let (secs, rss, _) = run_child(
                &binary(who),
                &[
                    "export",
                    set.market.root().to_str().unwrap(),
                    out.to_str().unwrap(),
                    "1.0.0",
                ],
                dir,
            );
            let i = if who == Who::Ours { 0 } else { 1 };
            results.export[i].secs.push(secs);
            results.export[i].rss.push(rss);
            if who == Who::Ours {
                results.export_extra_disk = du(set.market.root()).saturating_sub(before);
                // The same version as a plain tar, for the import below.
                let plain = dir.join("ours.tar");
                let _ = fs::remove_file(&plain);
                run_child(
                    &me,
                    &[
                        "export",
                        set.market.root().to_str().unwrap(),
                        plain.to_str().unwrap(),
                        "1.0.0",
                        "plain",
                    ],
                    dir,
                );
            }
        }
    }
    for &who in order {
        let target = dir.join("imported");
        let _ = fs::remove_dir_all(&target);
        shell("sync");
        if who == Who::Baseline {
            fs::create_dir_all(&target).unwrap();
            let secs = shell(&format!(
                "zstd -dc '{}' | tar -xf - -C '{t}' && cd '{t}' && openssl dgst -sha256 * > /dev/null && sync * .",
                pkg(who).display(),
                t = target.display()
            ));
            results.import[2].secs.push(secs);
            let secs = shell(&format!("zstd -dc '{}' > /dev/null", pkg(who).display()));
            results.zstd_only.secs.push(secs);
            let _ = fs::remove_dir_all(&target);
            fs::create_dir_all(&target).unwrap();
            shell("sync");
            let secs = shell(&format!(
                "zstd -dc '{}' > '{t}/all' && sync '{t}/all'",
                pkg(who).display(),
                t = target.display()
            ));
            results.zstd_written.secs.push(secs);
        } else {
            Market::open(&target).unwrap();
            let free_before = fs4::available_space(dir).unwrap();
            let (secs, rss, min_free) = run_child(
                &binary(who),
                &[
                    "import",
                    target.to_str().unwrap(),
                    pkg(who).to_str().unwrap(),
                ],
                dir,
            );
            let i = if who == Who::Ours { 0 } else { 1 };
            results.import[i].secs.push(secs);
            results.import[i].rss.push(rss);
            if who == Who::Ours {
                let free_after = fs4::available_space(dir).unwrap();
                results.import_final_disk = free_before.saturating_sub(free_after);
                results.import_peak_disk = free_before.saturating_sub(min_free);
                let _ = fs::remove_dir_all(&target);
                shell("sync");
                Market::open(&target).unwrap();
                let (secs, rss, _) = run_child(
                    &me,
                    &[
                        "import",
                        target.to_str().unwrap(),
                        dir.join("ours.tar").to_str().unwrap(),
                    ],
                    dir,
                );
                results.import_plain.secs.push(secs);
                results.import_plain.rss.push(rss);
            }
        }
        let _ = fs::remove_dir_all(&target);
    }
}

fn report(set: &DataSet, results: &Results, other: bool) {
    let tput = |secs: f64| mib(set.blob_bytes) / secs;
    let names = ["ours", "other build", "baseline"];
    let label = set.label;
    for (what, series, baseline) in [
        ("export", &results.export, "tar \\| zstd -T0 -3; sync"),
        (
            "import",
            &results.import,
            "zstd -dc \\| tar -x; openssl dgst -sha256; sync",
        ),
    ] {
        let base = series[2].median();
        for i in [0, 1] {
            if i == 1 && !other {
                continue;
            }
            println!(
                "| {label}: {what}, {} | {:.2} s ({:.0} MiB/s) | {:.2} s ({baseline}) | {:.0}% | {:.1} |",
                names[i],
                series[i].median(),
                tput(series[i].median()),
                base,
                100.0 * base / series[i].median(),
                series[i].rss_mib(),
            );
        }
    }
    let floor = results.zstd_only.median();
    println!(
        "| {label}: `zstd -dc` alone (floor) | {floor:.2} s | | ours is {:.1}x the floor | |",
        results.import[0].median() / floor
    );
    let written = results.zstd_written.median();
    println!(
        "| {label}: `zstd -dc` into one file, `sync` (floor of a durable import) | {written:.2} s | | ours is {:.1}x this floor | |",
        results.import[0].median() / written
    );
    let plain = results.import_plain.median();
    println!(
        "| {label}: import of a plain-tar package, ours | {plain:.2} s ({:.0} MiB/s) | | {:.2}x the time of our zstd import | {:.1} |",
        tput(plain),
        plain / results.import[0].median(),
        results.import_plain.rss_mib(),
    );
    let size = |name: &str| {
        mib(fs::metadata(set.dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0))
    };
    println!(
        "| {label}: archive size (MiB), ours / baseline | {:.1} / {:.1} | | | |",
        size("ours.tar.zst"),
        size("baseline.tar.zst")
    );
    println!(
        "| {label}: export: disk written besides the archive (MiB) | {:.1} | | | |",
        mib(results.export_extra_disk)
    );
    println!(
        "| {label}: import: peak / final disk use (MiB) | {:.0} / {:.0} | | | |",
        mib(results.import_peak_disk),
        mib(results.import_final_disk)
    );
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
    let env_num = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let total_mib = env_num("PACKAGE_BENCH_MIB", 512);
    let rounds = env_num("PACKAGE_BENCH_ROUNDS", 3).max(1) as usize;
    let other = std::env::var_os("PACKAGE_BENCH_OTHER").map(PathBuf::from);
    let tmp = tempfile::tempdir_in(
        std::env::var_os("PACKAGE_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir),
    )
    .unwrap();
    let root = tmp.path();
    println!(
        "building markets of ~{total_mib} MiB (mixed) and ~{} MiB before gzip (gzip layers) in {} ...",
        total_mib / 2,
        root.display()
    );
    let sets = [
        data_set(root, "mixed", total_mib, false),
        data_set(root, "gzip", total_mib / 2, true),
    ];
    let mut contenders = vec![Who::Ours, Who::Baseline];
    if other.is_some() {
        contenders.insert(1, Who::Other);
    }
    let mut results: Vec<Results> = sets.iter().map(|_| Results::default()).collect();
    for r in 0..rounds {
        // Rotate who goes first, so no contender always meets a cold or
        // busy machine.
        let mut order = contenders.clone();
        order.rotate_left(r % contenders.len());
        for (set, results) in sets.iter().zip(&mut results) {
            println!("round {} of {rounds}: {}", r + 1, set.label);
            round(set, &order, other.as_deref(), results);
        }
    }

    println!();
    println!("medians of {rounds} interleaved rounds; ours / baseline > 100% means ours is faster");
    println!();
    println!("| measure | ours | baseline | ours / baseline | peak RSS (MiB) |");
    println!("|---|---|---|---|---|");
    for (set, results) in sets.iter().zip(&results) {
        report(set, results, other.is_some());
    }

    let mixed = &sets[0];
    let diff_pkg = mixed.dir.join("diff.tar.zst");
    let diff_request = ExportRequest::new("bench", &["2.0.0"])
        .allowing_drafts()
        .with_base(ExportBase::Versions(vec!["1.0.0".into()]));
    let diff_report = mixed
        .market
        .export_to_file(&diff_request, &diff_pkg, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    println!(
        "| differential 2.0 vs 1.0 (1 of {COMPONENTS} components changed): archive / changed layer + 1 MiB (MiB) | {:.1} / {:.1} | | | |",
        mib(diff_report.archive_bytes),
        mib(mixed.changed_layer + (1 << 20))
    );
}
