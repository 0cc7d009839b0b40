//! template-core must do no I/O: no filesystem, network, clock, process,
//! environment or operating-system randomness. The wasm32 target is not
//! installable here, so this test proves it over the sources and over the
//! dependency tree instead.

// Tests read fixtures and files; the no-I/O rule is for the library.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Source patterns that reach the outside world.
const FORBIDDEN_SOURCE: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "SystemTime",
    "Instant",
    "UNIX_EPOCH",
    "now_utc",
    "now_local",
    "tokio",
    "hyper",
    "getrandom",
    "thread_rng",
    "OsRng",
    "rand::",
    "File::",
    "TcpStream",
    "UdpSocket",
    "Command::new",
    "include_bytes!",
    "include_str!",
];

/// Crates whose presence in the normal dependency tree means I/O or OS
/// randomness is reachable.
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "hyper",
    "reqwest",
    "mio",
    "socket2",
    "async-std",
    "getrandom",
    "rand",
    "rand_core",
    "ureq",
    "tempfile",
    "fs2",
    "fs4",
    "kube",
    "kube-client",
];

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sources_use_no_io() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_sources(&src, &mut files);
    assert!(
        files.len() >= 5,
        "expected the crate sources under {}",
        src.display()
    );
    let mut hits = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pattern in FORBIDDEN_SOURCE {
                if code.contains(pattern) {
                    hits.push(format!(
                        "{}:{}: `{pattern}` in `{}`",
                        file.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "template-core must not do I/O:\n{}",
        hits.join("\n")
    );
}

#[test]
fn dependency_tree_has_no_io_crates() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "template-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8 tree");
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"serde"),
        "unexpected cargo tree output:\n{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN_CRATES
        .iter()
        .filter(|c| names.contains(c))
        .collect();
    assert!(
        found.is_empty(),
        "template-core depends on I/O crates {found:?}:\n{tree}"
    );
}

#[test]
fn the_scan_catches_what_it_claims_to() {
    // Guard against a scan that can never fail: a forbidden line is found.
    let line = "let f = std::fs::read(\"x\");";
    assert!(FORBIDDEN_SOURCE.iter().any(|p| line.contains(p)));
    let commented = "// std::fs is not used here";
    assert!(
        !FORBIDDEN_SOURCE
            .iter()
            .any(|p| commented.split("//").next().unwrap_or("").contains(p))
    );
}
