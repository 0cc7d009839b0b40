//! What the CLI tests share: running the binary, and a vendor's build
//! output (a version document pinned to synthetic images in an OCI layout,
//! and a logo) as the vendor's CI would hand it to `market publish`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use template_market::testkit::{self, LayerSizes};

/// The binary, with a clean environment: no config file, no settings from
/// the caller's shell, no colors.
pub fn apptemplate(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("apptemplate").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("APPTEMPLATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env("NO_COLOR", "1");
    cmd
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and checks the exit code, showing both streams when it differs.
pub fn expect(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code of {cmd:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A vendor's build of Pig `version`: the document (YAML) pinned to
/// synthetic images written to an OCI layout, and the logo file.
#[derive(Debug)]
pub struct Build {
    pub document: PathBuf,
    pub images: PathBuf,
    pub logo: PathBuf,
}

pub fn vendor_build(dir: &Path, version: &str, sizes: LayerSizes) -> Build {
    let root = dir.join(format!("build-{version}"));
    std::fs::create_dir_all(&root).unwrap();
    let fixture = testkit::pig_fixture(version).unwrap();
    let images: Vec<_> = testkit::image_names(&fixture)
        .iter()
        .map(|n| testkit::synthetic_image(n, sizes).unwrap())
        .collect();
    let layout = root.join("images");
    let refs = testkit::write_oci_layout(&layout, &images).unwrap();
    let logo_bytes = testkit::pig_logo();
    let logo = root.join("logo.png");
    std::fs::write(&logo, &logo_bytes).unwrap();
    let mut pinned = fixture.clone();
    let logo_digest = template_core::package::sha256_of(&logo_bytes);
    testkit::repin(&mut pinned, &refs, Some(&logo_digest));
    let document = root.join(format!("pig-{version}.yaml"));
    std::fs::write(&document, template_core::to_yaml_string(&pinned).unwrap()).unwrap();
    Build {
        document,
        images: layout,
        logo,
    }
}

/// Publishes and releases a build into the market at `market` through
/// the CLI.
pub fn publish_and_release(home: &Path, market: &Path, build: &Build, version: &str) {
    expect(
        apptemplate(home)
            .arg("--market")
            .arg(market)
            .args(["market", "publish"])
            .arg(&build.document)
            .arg("--images")
            .arg(&build.images)
            .arg("--logo")
            .arg(&build.logo),
        0,
    );
    for state in ["testing", "released"] {
        expect(
            apptemplate(home)
                .arg("--market")
                .arg(market)
                .args(["market", "release", "pig", version, "--state", state]),
            0,
        );
    }
}

/// Whether text holds terminal escape sequences.
pub fn has_escape_codes(text: &str) -> bool {
    text.contains('\u{1b}')
}
