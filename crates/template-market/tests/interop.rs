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
use template_market::{Compression, ExportRequest, Market, generate_key_pair};

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
