//! Progress on a pseudo-terminal (bars drawn) and off one (plain lines),
//! and Ctrl-C during an import: exit 130, the market unchanged.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;

use common::{
    apptemplate, expect, has_escape_codes, publish_and_release, stderr, stdout, vendor_build,
};
use template_market::testkit::LayerSizes;

/// Layers large enough for several progress reports (one every 8 MiB).
const LARGE: LayerSizes = LayerSizes {
    base: 4 << 20,
    app: 8 << 20,
};

fn vendor_with_large_pig(tmp: &Path) -> std::path::PathBuf {
    let vendor = tmp.join("vendor");
    let build = vendor_build(tmp, "1.0.0", LARGE);
    publish_and_release(tmp, &vendor, &build, "1.0.0");
    vendor
}

#[test]
fn progress_draws_bars_on_a_terminal_and_lines_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let vendor = vendor_with_large_pig(tmp.path());

    // On a pseudo-terminal: bars, drawn with escape sequences.
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("apptemplate"));
    command
        .env("HOME", tmp.path())
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .arg("--market")
        .arg(&vendor)
        .args(["package", "export", "pig", "1.0.0", "-f"])
        .arg(tmp.path().join("on-a-terminal.tar.zst"));
    let mut session = rexpect::session::spawn_command(command, Some(120_000)).unwrap();
    let drawn = session.exp_eof().unwrap();
    assert!(has_escape_codes(&drawn), "no bar drawn: {drawn:?}");
    assert!(drawn.contains("export"), "{drawn:?}");
    assert!(drawn.contains("wrote"), "the result: {drawn:?}");

    // Not on a terminal: plain lines with bytes, items, rate; no escapes.
    let out = expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&vendor)
            .args(["package", "export", "pig", "1.0.0", "-f"])
            .arg(tmp.path().join("in-a-log.tar.zst")),
        0,
    );
    let log = stderr(&out);
    assert!(!has_escape_codes(&log), "{log:?}");
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("export: ")).collect();
    assert!(!lines.is_empty(), "{log}");
    for line in &lines {
        assert!(
            line.contains(" of ") && line.contains("items") && line.contains("/s"),
            "{line}"
        );
    }
    assert!(stdout(&out).starts_with("wrote "), "{}", stdout(&out));
}

#[test]
fn ctrl_c_during_import_leaves_the_market_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let vendor = vendor_with_large_pig(tmp.path());
    let package = tmp.path().join("pig.tar.zst");
    expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&vendor)
            .args([
                "--progress",
                "none",
                "package",
                "export",
                "pig",
                "1.0.0",
                "-f",
            ])
            .arg(&package),
        0,
    );
    let bytes = std::fs::read(&package).unwrap();
    let site = tmp.path().join("site");

    // The package arrives through a pipe whose pace the test controls, so
    // the import is surely in the middle when Ctrl-C comes.
    let fifo = tmp.path().join("arriving.tar.zst");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut import = std::process::Command::new(assert_cmd::cargo::cargo_bin("apptemplate"))
        .env("HOME", tmp.path())
        .arg("--market")
        .arg(&site)
        .args([
            "--progress",
            "json",
            "package",
            "import",
            "--allow-unsigned",
        ])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (go_on, resume) = mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let third = bytes.len() / 3;
            let _ = pipe.write_all(&bytes[..third]);
            let _ = pipe.flush();
            let _ = resume.recv();
            // The rest, until the importer stops reading.
            let _ = pipe.write_all(&bytes[third..]);
        })
    };
    let mut events = BufReader::new(import.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            events.read_line(&mut line).unwrap() > 0,
            "no progress: {seen}"
        );
        seen.push_str(&line);
        if line.contains("\"phase\":\"import\"") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .arg("-INT")
        .arg(import.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    go_on.send(()).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut events, &mut rest).unwrap();
    let out = import.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("cancelled"), "{rest}");

    // Nothing half-visible: the market lists nothing and verifies sound;
    // the same import then succeeds.
    let out = expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&site)
            .args(["-o", "json", "market", "list"]),
        0,
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"], serde_json::json!([]), "{doc}");
    expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&site)
            .args(["market", "verify"]),
        0,
    );
    expect(
        apptemplate(tmp.path())
            .arg("--market")
            .arg(&site)
            .args(["package", "import", "--allow-unsigned"])
            .arg(&package),
        0,
    );
}
