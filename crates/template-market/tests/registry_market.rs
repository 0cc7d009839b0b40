//! The market on a real registry: Debian's `docker-registry` (distribution
//! 2.8, no referrers API, so the referrers tag schema is what is used)
//! started on 127.0.0.1. Races run in several processes: this test binary
//! started again in a child mode.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::ops::ControlFlow;
use std::process::Command;
use std::time::SystemTime;

use template_core::{Overwrite, PublishOutcome, ReleaseState};
use template_market::testkit;
use template_market::testkit::registry::LocalRegistry;
use template_market::{
    ExportRequest, ImportOptions, Market, MarketError, PullOptions, RegistryAccess, RegistryMarket,
    RelocateOptions, Trust,
};

const CHILD: &str = "APPTEMPLATE_REGISTRY_MARKET_CHILD";

fn access(registry: &LocalRegistry) -> RegistryAccess {
    RegistryAccess {
        insecure: true,
        ..RegistryAccess::new(registry.address())
    }
}

fn open(location: &str, address: &str) -> RegistryMarket {
    let access = RegistryAccess {
        insecure: true,
        ..RegistryAccess::new(address)
    };
    RegistryMarket::open(location, &[access]).unwrap()
}

fn push(
    market: &RegistryMarket,
    local: &Market,
    version: &str,
) -> template_market::RegistryPublishReport {
    market
        .publish_from(
            local,
            "pig",
            version,
            Overwrite::Refuse,
            &RelocateOptions::default(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_or_else(|e| panic!("publishing pig {version}: {e}"))
}

#[test]
fn vendor_publishes_site_exports_and_imports_with_the_same_digests() {
    let registry = LocalRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vendor = Market::open(dir.path().join("vendor")).unwrap();
    testkit::publish_pig(&vendor, "1.0.0").unwrap();
    vendor
        .set_release_state("pig", "1.0.0", ReleaseState::Testing)
        .unwrap();
    let location = format!("oci://{}/acme/market", registry.address());
    let market = RegistryMarket::open(&location, &[access(&registry)]).unwrap();

    let first = push(&market, &vendor, "1.0.0");
    assert!(
        matches!(first.outcome, PublishOutcome::Created { .. }),
        "{first:?}"
    );
    assert!(first.transfer.counts.blobs_uploaded > 3, "{first:?}");
    assert_eq!(
        first.reference,
        format!("{}/acme/market/templates/pig:1.0.0", registry.address())
    );
    // Publishing again sends nothing.
    let again = push(&market, &vendor, "1.0.0");
    assert!(matches!(again.outcome, PublishOutcome::Unchanged { .. }));
    assert_eq!(
        again.transfer.counts.blobs_uploaded + again.transfer.counts.manifests_pushed,
        0
    );

    // skopeo reads the version artifact and an image as standard OCI.
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}", first.reference))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        raw["artifactType"],
        "application/vnd.apptemplate.version.v1+json"
    );

    // Listing and reading.
    let versions = market.versions("pig").unwrap();
    assert_eq!(versions.len(), 1);
    let local_summary = &vendor.versions("pig").unwrap()[0];
    assert_eq!(versions[0].content_digest, local_summary.content_digest);
    assert_eq!(versions[0].state, ReleaseState::Testing);
    let templates = market.templates().unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].id, "pig");
    assert_eq!(
        market.version("pig", "1.0.0").unwrap(),
        vendor.version("pig", "1.0.0").unwrap()
    );

    // The vendor releases it in the registry; the document read back and
    // the listing carry the new state.
    let t = market
        .set_release_state(
            "pig",
            "1.0.0",
            ReleaseState::Released,
            None,
            SystemTime::now(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.from, t.to, t.sequence),
        (ReleaseState::Testing, ReleaseState::Released, 1)
    );
    assert_eq!(
        market.versions("pig").unwrap()[0].state,
        ReleaseState::Released
    );
    // The life cycle applies: released cannot go back to testing.
    let err = market
        .set_release_state(
            "pig",
            "1.0.0",
            ReleaseState::Testing,
            None,
            SystemTime::now(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "RELEASE_STATE", "{err}");
    // The same content released in the vendor's filesystem market has the
    // same content digest as in the registry.
    vendor
        .set_release_state("pig", "1.0.0", ReleaseState::Released)
        .unwrap();
    let released = market.versions("pig").unwrap()[0].content_digest.clone();
    assert_eq!(released, vendor.versions("pig").unwrap()[0].content_digest);

    // Other content under the same number is refused.
    let other = Market::open(dir.path().join("other")).unwrap();
    let (mut changed, _) = testkit::publish_pig(&other, "1.0.0").unwrap();
    changed.release_notes = "something else".to_owned();
    other.publish(&changed, Overwrite::Allow).unwrap();
    let err = market
        .publish_from(
            &other,
            "pig",
            "1.0.0",
            Overwrite::Allow,
            &RelocateOptions::default(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("released and can never be overwritten"),
        "{err}"
    );

    // The site side: fetch into a cache market, export an offline package,
    // import it into the site's market.
    let cache = Market::open(dir.path().join("cache")).unwrap();
    let fetched = market
        .fetch_into(&cache, "pig", "1.0.0", &PullOptions::default(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(matches!(fetched.outcome, PublishOutcome::Created { .. }));
    let package = dir.path().join("pig.tar.zst");
    cache
        .export_to_file(
            &ExportRequest::new("pig", &["1.0.0"]),
            &package,
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
    let site = Market::open(dir.path().join("site")).unwrap();
    site.import_file(
        &package,
        &ImportOptions {
            trust: Trust::anything(),
            ..ImportOptions::default()
        },
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    let at_site = site.versions("pig").unwrap();
    assert_eq!(at_site[0].content_digest, released);
    assert_eq!(at_site[0].state, ReleaseState::Released);
    assert!(site.verify().unwrap().problems.is_empty());
    // Fetching again changes nothing and pulls nothing.
    let again = market
        .fetch_into(&cache, "pig", "1.0.0", &PullOptions::default(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(matches!(again.outcome, PublishOutcome::Unchanged { .. }));

    // Deleting: a released version needs force; then it is gone from the
    // listing and reading it names what is missing.
    let err = market.delete_version("pig", "1.0.0", false).unwrap_err();
    assert_eq!(err.code(), "RELEASE_STATE", "{err}");
    market.delete_version("pig", "1.0.0", true).unwrap();
    assert!(market.versions("pig").unwrap().is_empty());
    let err = market.version("pig", "1.0.0").unwrap_err();
    assert!(err.to_string().contains("pig:1.0.0"), "{err}");
}

#[test]
fn unknown_versions_and_bad_locations_are_named() {
    let registry = LocalRegistry::start().unwrap();
    let location = format!("oci://{}/acme", registry.address());
    let market = RegistryMarket::open(&location, &[access(&registry)]).unwrap();
    assert!(market.versions("pig").unwrap().is_empty());
    let err = market.version("pig", "9.9.9").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("acme/templates/pig:9.9.9"), "{text}");
    assert!(text.contains(&registry.address()), "{text}");
    let err = RegistryMarket::open(&format!("oci://{}", registry.address()), &[]).unwrap_err();
    assert!(err.to_string().contains("namespace"), "{err}");
}

/// Child mode: publishes one version, or moves one to a state, as told by
/// the environment; prints `ok`, `conflict` or the error.
#[test]
fn child() {
    let Ok(task) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = task.split('|').collect();
    let (location, address, local, action, version) =
        (parts[0], parts[1], parts[2], parts[3], parts[4]);
    let market = open(location, address);
    let local = Market::open(local).unwrap();
    let result = match action {
        "publish" => market
            .publish_from(
                &local,
                "pig",
                version,
                Overwrite::Refuse,
                &RelocateOptions::default(),
                &mut |_| ControlFlow::Continue(()),
            )
            .map(|r| r.artifact),
        state => market
            .set_release_state(
                "pig",
                version,
                state.parse().unwrap(),
                None,
                SystemTime::now(),
            )
            .map(|t| t.map_or_else(|| "unchanged".to_owned(), |t| t.digest)),
    };
    match result {
        Ok(written) => println!("RESULT ok {written}"),
        Err(e @ MarketError::Conflict { .. }) => println!("RESULT conflict {e}"),
        Err(e) => println!("RESULT error {} {e}", e.code()),
    }
}

fn spawn(task: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, task)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn result_of(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("the child printed no result: {text}"))
        .to_owned()
}

#[test]
fn concurrent_publishers_and_transitions_in_several_processes() {
    let registry = LocalRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = format!("oci://{}/ci", registry.address());
    let address = registry.address();
    // Four CI runners, each with its own market holding its own version.
    let versions = ["1.0.0", "1.1.0", "1.2.0", "2.0.0"];
    let mut locals = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let path = dir.path().join(format!("runner-{i}"));
        let local = Market::open(&path).unwrap();
        let mut pig = testkit::pig_fixture("1.0.0").unwrap();
        pig.version = (*v).to_owned();
        let pinned = testkit::prepare_images(&local, &pig, testkit::LayerSizes::default()).unwrap();
        local.publish(&pinned, Overwrite::Refuse).unwrap();
        local
            .set_release_state("pig", v, ReleaseState::Testing)
            .unwrap();
        locals.push(path);
    }
    let children: Vec<_> = versions
        .iter()
        .zip(&locals)
        .map(|(v, p)| spawn(&format!("{location}|{address}|{}|publish|{v}", p.display())))
        .collect();
    // A console lists while they publish: every listing succeeds and every
    // version it shows is complete.
    let console = open(&location, &address);
    let mut listings = 0;
    while listings < 5 {
        for summary in console.versions("pig").unwrap() {
            let doc = console.version("pig", &summary.version).unwrap();
            assert_eq!(doc.version, summary.version);
        }
        listings += 1;
    }
    let results: Vec<String> = children.into_iter().map(result_of).collect();
    assert!(results.iter().all(|r| r.starts_with("ok ")), "{results:?}");
    let listed: Vec<String> = console
        .versions("pig")
        .unwrap()
        .into_iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(listed, versions);

    // Four processes move 1.0.0 out of testing at once, to different
    // states: the chain has exactly one first step, every reader agrees on
    // it, and each loser was told.
    let targets = ["released", "draft", "released", "draft"];
    let children: Vec<_> = targets
        .iter()
        .zip(&locals)
        .map(|(s, p)| spawn(&format!("{location}|{address}|{}|{s}|1.0.0", p.display())))
        .collect();
    let results: Vec<String> = children.into_iter().map(result_of).collect();
    // Each writer wrote its step, lost the race (told so), or found the
    // version already moved to where its step no longer applies.
    assert!(
        results.iter().all(|r| r.starts_with("ok ")
            || r.starts_with("conflict ")
            || r.starts_with("error RELEASE_STATE")),
        "{results:?}"
    );
    let transitions = console.transitions("pig", "1.0.0").unwrap();
    let state = console.version("pig", "1.0.0").unwrap().release_state;
    let counted: Vec<_> = transitions.iter().filter(|t| !t.withdrawn).collect();
    let done: Vec<&str> = results
        .iter()
        .filter_map(|r| r.strip_prefix("ok sha256:").map(|_| &r[3..]))
        .collect();
    // At most one writer was told its step is done; then it is the one
    // step that counts, and every reader sees its state. Otherwise every
    // step was withdrawn and the version is still in testing.
    assert!(done.len() <= 1, "{results:?}");
    match done.first() {
        Some(digest) => {
            assert_eq!(counted.len(), 1, "{transitions:?}");
            assert_eq!(counted[0].digest, *digest);
            assert_eq!(state, counted[0].to);
        }
        None => {
            assert!(counted.is_empty(), "{transitions:?}");
            assert_eq!(state, ReleaseState::Testing);
        }
    }
    assert_eq!(console.versions("pig").unwrap()[0].state, state);
    // The next step builds on that one.
    let next = match state {
        ReleaseState::Released => ReleaseState::Deprecated,
        ReleaseState::Draft => ReleaseState::Testing,
        _ => ReleaseState::Released,
    };
    let step = console
        .set_release_state("pig", "1.0.0", next, None, SystemTime::now())
        .unwrap()
        .unwrap();
    assert_eq!(
        step.previous.as_deref(),
        counted.first().map(|t| t.digest.as_str())
    );
    assert_eq!(console.version("pig", "1.0.0").unwrap().release_state, next);
    eprintln!("transition race: {results:?}");
}
