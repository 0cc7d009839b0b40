//! The CLI without a cluster: help and exit codes, plain and JSON output,
//! errors, and the market and package commands of the delivery story.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{
    apptemplate, expect, has_escape_codes, publish_and_release, stderr, stdout, vendor_build,
};
use serde_json::Value;
use template_market::testkit::LayerSizes;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(out)))
}

/// Removes what changes between runs (temporary paths, digests, rates).
fn stable(text: &str, tmp: &Path) -> String {
    let mut out = text.replace(&tmp.display().to_string(), "[TMP]");
    while let Some(at) = out.find("sha256:") {
        let end = out[at + 7..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .map_or(out.len(), |e| at + 7 + e);
        out.replace_range(at..end, "[DIGEST]");
    }
    out
}

#[test]
fn help_lists_the_command_tree_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = expect(apptemplate(tmp.path()).arg("--help"), 0);
    insta::assert_snapshot!("help", stdout(&out));
    for sub in [
        vec!["package", "--help"],
        vec!["market", "--help"],
        vec!["upgrade", "--help"],
        vec!["plan", "--help"],
    ] {
        let out = expect(apptemplate(tmp.path()).args(&sub), 0);
        insta::assert_snapshot!(format!("help-{}", sub[0]), stdout(&out));
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = expect(apptemplate(tmp.path()).arg("frobnicate"), 2);
    assert!(
        stderr(&out).contains("unrecognized subcommand"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    // No environment named anywhere.
    let out = expect(
        apptemplate(tmp.path())
            .args(["status", "pig", "--market"])
            .arg(tmp.path().join("m")),
        2,
    );
    insta::assert_snapshot!("no-environment", stderr(&out));
    // A misspelt key of the config file names itself.
    let config = tmp.path().join("config.yaml");
    std::fs::write(
        &config,
        "market: m\nenvironments:\n  - name: site\n    namespace: pig\n    registy: x\n",
    )
    .unwrap();
    let out = expect(
        apptemplate(tmp.path())
            .arg("--config")
            .arg(&config)
            .args(["env", "list"]),
        2,
    );
    assert!(
        stderr(&out).contains("environments[0]") && stderr(&out).contains("registy"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn errors_name_what_is_missing_in_plain_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let market = tmp.path().join("market");
    let out = expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&market)
            .args(["market", "show", "pig", "9.9.9"]),
        1,
    );
    assert!(stdout(&out).is_empty());
    insta::assert_snapshot!("error-not-found", stable(&stderr(&out), tmp.path()));
    let out = expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&market)
            .args(["-o", "json", "market", "show", "pig", "9.9.9"]),
        1,
    );
    let doc = json(&out);
    assert_eq!(doc["apptemplate"], 1);
    assert_eq!(doc["command"], "market show");
    assert_eq!(doc["error"]["code"], "NOT_FOUND");
    assert_eq!(doc["error"]["exit_code"], 1);
    // Verbose adds the code; never a Debug dump or a panic.
    let out = expect(
        apptemplate(tmp.path()).arg("--market").arg(&market).args([
            "--verbose",
            "market",
            "show",
            "pig",
            "9.9.9",
        ]),
        1,
    );
    assert!(stderr(&out).contains("code: NOT_FOUND"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("NotFound {"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn vendor_to_site_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let vendor = tmp.path().join("vendor");
    let site = tmp.path().join("site");
    let build = vendor_build(tmp.path(), "1.0.0", LayerSizes::default());
    publish_and_release(home, &vendor, &build, "1.0.0");

    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&vendor)
            .args(["market", "list"]),
        0,
    );
    insta::assert_snapshot!("market-list", stdout(&out));
    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&vendor)
            .args(["-o", "json", "market", "list"]),
        0,
    );
    let doc = json(&out);
    assert_eq!(doc["command"], "market list");
    assert_eq!(doc["result"][0]["id"], "pig");
    assert_eq!(doc["result"][0]["versions"][0]["state"], "released");

    // Keys, a signed export, verify and inspect.
    let keys = tmp.path().join("vendor-keys");
    expect(apptemplate(home).args(["keys", "generate"]).arg(&keys), 0);
    let package = tmp.path().join("pig-1.0.0.tar.zst");
    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&vendor)
            .args([
                "--progress",
                "lines",
                "package",
                "export",
                "pig",
                "1.0.0",
                "-f",
            ])
            .arg(&package)
            .arg("--sign-key")
            .arg(keys.with_extension("key")),
        0,
    );
    assert!(stdout(&out).contains("signed"), "{}", stdout(&out));
    assert!(!has_escape_codes(&stderr(&out)), "{:?}", stderr(&out));
    let out = expect(
        apptemplate(home)
            .args(["package", "verify"])
            .arg(&package)
            .arg("--trust-key")
            .arg(keys.with_extension("pub")),
        0,
    );
    assert!(
        stdout(&out).contains("signed by trusted key"),
        "{}",
        stdout(&out)
    );
    let out = expect(
        apptemplate(home)
            .args(["-o", "json", "package", "inspect"])
            .arg(&package),
        0,
    );
    let doc = json(&out);
    assert_eq!(doc["result"]["template"], "pig");
    assert_eq!(doc["result"]["versions"][0], "1.0.0");
    assert_eq!(doc["result"]["signed"], true);

    // Without the vendor's key the site refuses it: exit 4.
    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&site)
            .args(["package", "import"])
            .arg(&package),
        4,
    );
    assert!(
        stderr(&out).contains("not among the trusted keys"),
        "{}",
        stderr(&out)
    );

    // A tampered copy: exit 4 naming the problem, nothing imported.
    let tampered = tmp.path().join("tampered.tar.zst");
    let mut bytes = std::fs::read(&package).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&tampered, bytes).unwrap();
    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&site)
            .args(["package", "import"])
            .arg(&tampered)
            .arg("--trust-key")
            .arg(keys.with_extension("pub")),
        4,
    );
    insta::assert_snapshot!("tampered-import", stable(&stderr(&out), tmp.path()));
    let out = expect(
        apptemplate(home)
            .args(["-o", "json", "package", "verify"])
            .arg(&tampered)
            .arg("--trust-key")
            .arg(keys.with_extension("pub")),
        4,
    );
    assert_eq!(json(&out)["error"]["exit_code"], 4);

    // The genuine one, trusted through the config file.
    let config = tmp.path().join("site.yaml");
    std::fs::write(
        &config,
        format!(
            "market: site\ntrusted_keys:\n  - {}\n",
            keys.with_extension("pub").display()
        ),
    )
    .unwrap();
    let out = expect(
        apptemplate(home)
            .arg("--config")
            .arg(&config)
            .args(["--progress", "json", "package", "import"])
            .arg(&package),
        0,
    );
    assert!(stdout(&out).contains("1.0.0 added"), "{}", stdout(&out));
    let events: Vec<Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(events.iter().any(|e| e["phase"] == "done"), "{events:?}");
    let out = expect(
        apptemplate(home)
            .arg("--config")
            .arg(&config)
            .args(["market", "show", "pig"]),
        0,
    );
    assert!(stdout(&out).contains("1.0.0") && stdout(&out).contains("released"));

    // 2.0.0 differs from 1.0.0: diff --exit-code says so with 3.
    let build2 = vendor_build(tmp.path(), "2.0.0", LayerSizes::default());
    publish_and_release(home, &vendor, &build2, "2.0.0");
    let out = expect(
        apptemplate(home).arg("--market").arg(&vendor).args([
            "diff",
            "pig",
            "1.0.0",
            "2.0.0",
            "--exit-code",
        ]),
        3,
    );
    assert!(!stdout(&out).is_empty());
    expect(
        apptemplate(home).arg("--market").arg(&vendor).args([
            "diff",
            "pig",
            "1.0.0",
            "1.0.0",
            "--exit-code",
        ]),
        0,
    );

    // A differential export against the site's inventory carries less.
    let inventory = tmp.path().join("site-inventory.json");
    expect(
        apptemplate(home)
            .arg("--config")
            .arg(&config)
            .args(["market", "inventory", "-f"])
            .arg(&inventory),
        0,
    );
    let delta = tmp.path().join("pig-2.0.0-delta.tar.zst");
    let out = expect(
        apptemplate(home)
            .arg("--market")
            .arg(&vendor)
            .args([
                "-o",
                "json",
                "--progress",
                "none",
                "package",
                "export",
                "pig",
                "2.0.0",
                "-f",
            ])
            .arg(&delta)
            .arg("--base-inventory")
            .arg(&inventory)
            .arg("--sign-key")
            .arg(keys.with_extension("key")),
        0,
    );
    let report = json(&out);
    assert!(
        report["result"]["omitted_blobs"].as_u64().unwrap() > 0,
        "{report}"
    );
    expect(
        apptemplate(home)
            .arg("--config")
            .arg(&config)
            .args(["package", "import"])
            .arg(&delta),
        0,
    );
    let out = expect(
        apptemplate(home)
            .arg("--config")
            .arg(&config)
            .args(["market", "verify"]),
        0,
    );
    assert!(stdout(&out).contains("market sound"), "{}", stdout(&out));
}

#[test]
fn completion_scripts_are_generated() {
    let tmp = tempfile::tempdir().unwrap();
    let out = expect(apptemplate(tmp.path()).args(["completion", "bash"]), 0);
    assert!(stdout(&out).contains("apptemplate"));
    assert!(stdout(&out).contains("upgrade"));
}
