//! A process killed at any point of an import leaves the market valid, and
//! a retry succeeds. The child is this test binary re-invoked with an
//! environment variable; it stops at a chosen progress event and waits to
//! be killed with SIGKILL.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use template_market::testkit::{self, LayerSizes};
use template_market::{ExportRequest, ImportOptions, Market, Phase, Trust};

const CHILD_ENV: &str = "TEMPLATE_MARKET_KILL_CHILD";

fn options() -> ImportOptions {
    ImportOptions {
        trust: Trust::anything(),
        ..Default::default()
    }
}

/// Runs only when re-invoked by the parent test.
#[test]
fn child_import() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('|');
    let (Some(market), Some(package), Some(stop)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("bad spec {spec}");
    };
    let stop: usize = stop.parse().unwrap();
    let market = Market::open(market).unwrap();
    let mut count = 0usize;
    market
        .import_file(Path::new(package), &options(), &mut |p| {
            count += 1;
            if count == stop {
                let mut out = std::io::stdout();
                writeln!(out, "READY {count} {:?} {}", p.phase, p.item).unwrap();
                out.flush().unwrap();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            }
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    println!("FINISHED");
}

#[test]
fn killed_import_leaves_the_market_valid_and_a_retry_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let office = Market::open(tmp.path().join("office")).unwrap();
    let (v1, _) = testkit::publish_pig(&office, "1.0.0").unwrap();
    testkit::publish_pig_incremental(&office, &v1, "2.0.0", LayerSizes::default()).unwrap();
    let pkg = tmp.path().join("pig.tar.zst");
    office
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0", "2.0.0"]).allowing_drafts(),
            &pkg,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();

    // Learn the progress events of a complete import.
    let scratch = Market::open(tmp.path().join("scratch")).unwrap();
    let mut events: Vec<(Phase, String)> = Vec::new();
    scratch
        .import_file(&pkg, &options(), &mut |p| {
            events.push((p.phase, p.item.to_owned()));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let imports: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].0 == Phase::Import)
        .collect();
    let commits: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].0 == Phase::Commit)
        .collect();
    let at_index = events
        .iter()
        .position(|e| e.0 == Phase::Commit && e.1 == "index.json")
        .unwrap();
    let at_cleanup = events
        .iter()
        .position(|e| e.0 == Phase::Commit && e.1 == "staging")
        .unwrap();
    let points = [
        imports[0],
        imports[imports.len() / 2],
        *imports.last().unwrap(),
        commits[0],
        commits[commits.len() / 2],
        at_index,
        at_cleanup,
    ];

    for (n, point) in points.iter().enumerate() {
        let root = tmp.path().join(format!("customer-{n}"));
        Market::open(&root).unwrap();
        let spec = format!("{}|{}|{}", root.display(), pkg.display(), point + 1);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_import", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut ready = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            // libtest prints "test child_import ... " before the line.
            if let Some(at) = line.find("READY") {
                ready = Some(line[at..].to_owned());
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let ready = ready.unwrap_or_else(|| panic!("child never reached event {}", point + 1));

        // Valid after the kill: nothing half-visible.
        let market = Market::open(&root).unwrap();
        let report = market.verify().unwrap();
        assert!(
            report.problems.is_empty(),
            "after {ready}: {:?}",
            report.problems
        );
        let versions = market.versions("pig").unwrap();
        assert!(
            versions.is_empty() || versions.len() == 2,
            "after {ready}: {versions:?}"
        );
        if *point < at_cleanup {
            assert!(
                versions.is_empty(),
                "after {ready}: catalog changed before its turn"
            );
        }

        // Retry succeeds and ends in the same state as an uninterrupted import.
        market
            .import_file(&pkg, &options(), &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(
            market.versions("pig").unwrap(),
            scratch.versions("pig").unwrap(),
            "after {ready}"
        );
        assert!(market.verify().unwrap().problems.is_empty());
        assert_eq!(
            market.inventory().unwrap(),
            scratch.inventory().unwrap(),
            "after {ready}"
        );
    }
}
