//! Standard tools read what we write: skopeo reads the images of a package
//! (as `oci-archive:` and as an unpacked `oci:` layout) and of the market
//! directory itself; `minisign -V` verifies a package signature; images
//! written by skopeo as a `docker save` tarball come back in.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::fs;
use std::process::Command;

use template_core::package::{PackageReader, blob_entry_name};
use template_market::testkit;
use template_market::{
    Compression, ExportRequest, ImportOptions, Market, Trust, generate_key_pair,
};

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (install it with .ci/setup): {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo_digest(reference: &str) -> String {
    let out = run(Command::new("skopeo").args(["inspect", "--raw", reference]));
    template_core::package::sha256_of(out.as_bytes())
}

#[test]
fn skopeo_reads_packages_and_the_market() {
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (v1, refs) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let auth = refs.iter().find(|r| r.name.contains("pig-auth")).unwrap();

    // Plain tar: skopeo's oci-archive transport.
    let tar = tmp.path().join("pig.tar");
    let request = ExportRequest::new("pig", &["1.0.0"])
        .allowing_drafts()
        .with_compression(Compression::None);
    market
        .export_to_file(&request, &tar, &mut |_| std::ops::ControlFlow::Continue(()))
        .unwrap();
    let reference = format!("oci-archive:{}:{}", tar.display(), auth.name);
    assert_eq!(skopeo_digest(&reference), auth.digest);
    let copied = tmp.path().join("copied");
    run(Command::new("skopeo").args(["copy", &reference, &format!("dir:{}", copied.display())]));
    assert!(copied.join("manifest.json").exists());

    // zstd archive unpacked with standard tools: an oci: layout.
    let zst = tmp.path().join("pig.tar.zst");
    market
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]).allowing_drafts(),
            &zst,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    let unpacked = tmp.path().join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "zstd -dc '{}' | tar -xf - -C '{}'",
        zst.display(),
        unpacked.display()
    )));
    for r in testkit::refs_of(&v1) {
        assert_eq!(
            skopeo_digest(&format!("oci:{}:{}", unpacked.display(), r.name)),
            r.digest,
            "{}",
            r.name
        );
    }

    // The market directory is itself an OCI layout.
    assert_eq!(
        skopeo_digest(&format!("oci:{}:{}", market.root().display(), auth.name)),
        auth.digest
    );

    // skopeo writes a docker-save tarball; the market adds it back.
    let docker = tmp.path().join("auth-docker.tar");
    run(Command::new("skopeo").args([
        "copy",
        &reference,
        &format!(
            "docker-archive:{}:example.com/pig/auth-copy:1",
            docker.display()
        ),
    ]));
    let other = Market::open(tmp.path().join("other")).unwrap();
    let added = other.add_docker_archive(&docker).unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].name, "example.com/pig/auth-copy:1");
    assert_eq!(
        skopeo_digest(&format!("oci:{}:{}", other.root().display(), added[0].name)),
        added[0].digest
    );
    assert!(other.verify().unwrap().problems.is_empty());
}

/// An OCI layout in `dir` holding one image, `name`, whose only layer is
/// `gzip -1` of a tar of 1 MiB of mixed bytes (as registries serve layers).
fn gzip_layer_layout(dir: &std::path::Path, name: &str) -> Vec<u8> {
    use template_core::package::{annotated, canonical_json, descriptor_of, sha256_hex, sha256_of};
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = sha256_of(bytes);
        fs::write(blobs.join(sha256_hex(&digest).unwrap()), bytes).unwrap();
    };
    let tar = testkit::layer_tar("app/app.bin", &testkit::synthetic_bytes(name, 1 << 20)).unwrap();
    let plain = dir.join("layer.tar");
    fs::write(&plain, &tar).unwrap();
    let gzip = Command::new("gzip")
        .args(["-1", "-n", "-c"])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(gzip.status.success());
    fs::remove_file(&plain).unwrap();
    let layer = gzip.stdout;
    put(&layer);
    let config = canonical_json(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_of(&tar)]},
    }))
    .unwrap();
    put(&config);
    let manifest = canonical_json(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor_of("application/vnd.oci.image.config.v1+json", &config).unwrap(),
        "layers": [descriptor_of("application/vnd.oci.image.layer.v1.tar+gzip", &layer).unwrap()],
    }))
    .unwrap();
    put(&manifest);
    let entry = annotated(
        &descriptor_of("application/vnd.oci.image.manifest.v1+json", &manifest).unwrap(),
        &[("org.opencontainers.image.ref.name", name)],
    );
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [entry]});
    fs::write(dir.join("index.json"), canonical_json(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    layer
}

#[test]
fn gzip_layers_in_raw_zstd_blocks_read_back_with_standard_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let name = "registry.example.com/demo/web:1.0";
    let layout = tmp.path().join("layout");
    let layer = gzip_layer_layout(&layout, name);
    let refs = market.add_oci_layout(&layout, &[]).unwrap();
    let mut version = template_core::testing::minimal_version("demo", "1.0.0");
    version.components[0].image = refs[0].reference();
    market
        .publish(&version, template_core::Overwrite::Refuse)
        .unwrap();

    let zst = tmp.path().join("demo.tar.zst");
    market
        .export_to_file(
            &ExportRequest::new("demo", &["1.0.0"]).allowing_drafts(),
            &zst,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    let package = fs::read(&zst).unwrap();
    // The gzip layer is carried as it is, not compressed again.
    let middle = &layer[layer.len() / 2..layer.len() / 2 + (64 << 10)];
    assert!(package.windows(middle.len()).any(|w| w == middle));

    // The zstd command-line tool checks and unpacks it as one stream;
    // skopeo reads the image from the unpacked layout and copies it,
    // checking every blob's digest.
    run(Command::new("zstd").args(["-q", "-t"]).arg(&zst));
    let unpacked = tmp.path().join("unpacked");
    fs::create_dir_all(&unpacked).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "zstd -dc '{}' | tar -xf - -C '{}'",
        zst.display(),
        unpacked.display()
    )));
    let reference = format!("oci:{}:{name}", unpacked.display());
    assert_eq!(skopeo_digest(&reference), refs[0].digest);
    let copied = tmp.path().join("copied");
    run(Command::new("skopeo").args(["copy", &reference, &format!("dir:{}", copied.display())]));

    // And the market imports it.
    let other = Market::open(tmp.path().join("other")).unwrap();
    other
        .import_file(
            &zst,
            &ImportOptions {
                trust: Trust::anything(),
                ..Default::default()
            },
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    assert!(other.verify().unwrap().problems.is_empty());
}

#[test]
fn minisign_verifies_package_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    testkit::publish_pig(&market, "1.0.0").unwrap();
    let keys = generate_key_pair().unwrap();
    let pkg = tmp.path().join("pig.tar.zst");
    market
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"])
                .allowing_drafts()
                .signed_with(&keys.secret),
            &pkg,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    let header = PackageReader::default()
        .verify(fs::File::open(&pkg).unwrap())
        .unwrap()
        .header;
    let signature = header.signature.clone().unwrap();

    // Extract with standard tools; find the two blobs by digest.
    let dir = tmp.path().join("x");
    fs::create_dir_all(&dir).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "zstd -dc '{}' | tar -xf - -C '{}'",
        pkg.display(),
        dir.display()
    )));
    let manifest_file = dir.join(blob_entry_name(&header.manifest_digest));
    let sig_file = dir.join(blob_entry_name(&template_core::package::sha256_of(
        &signature.bytes,
    )));
    let pub_file = tmp.path().join("key.pub");
    fs::write(&pub_file, keys.public.to_file_text().unwrap()).unwrap();
    let out = run(Command::new("minisign")
        .args(["-V", "-p"])
        .arg(&pub_file)
        .arg("-m")
        .arg(&manifest_file)
        .arg("-x")
        .arg(&sig_file));
    assert!(
        out.contains("Signature and comment signature verified"),
        "{out}"
    );
    assert!(
        out.contains(&header.manifest_digest),
        "trusted comment names the manifest: {out}"
    );

    // Tampered manifest: minisign refuses too.
    let mut bytes = fs::read(&manifest_file).unwrap();
    bytes[10] ^= 1;
    fs::write(&manifest_file, &bytes).unwrap();
    let status = Command::new("minisign")
        .args(["-V", "-q", "-p"])
        .arg(&pub_file)
        .arg("-m")
        .arg(&manifest_file)
        .arg("-x")
        .arg(&sig_file)
        .status()
        .unwrap();
    assert!(!status.success());
}
