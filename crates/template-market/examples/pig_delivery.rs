//! The offline delivery story of the Pig application, end to end, in two
//! local markets in a temporary folder: publish 1.0 at the office, export
//! a signed package, import it at the customer, publish 2.0 incrementally,
//! ship a differential package, import and verify it, and watch a package
//! with one flipped byte being refused.
//!
//! Run: `cargo run -p template-market --example pig_delivery`

#![allow(clippy::print_stdout, reason = "an example that tells a story")]

use template_core::ReleaseState;
use template_market::testkit::{self, LayerSizes};
use template_market::{ExportBase, ExportRequest, ImportOptions, Market, Trust, generate_key_pair};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let office = Market::open(tmp.path().join("office"))?;
    let customer = Market::open(tmp.path().join("customer"))?;
    let keys = generate_key_pair()?;
    let trust = ImportOptions {
        trust: Trust::keys(vec![keys.public.clone()]),
        ..Default::default()
    };

    let (v1, _) = testkit::publish_pig(&office, "1.0.0")?;
    office.set_release_state("pig", "1.0.0", ReleaseState::Testing)?;
    office.set_release_state("pig", "1.0.0", ReleaseState::Released)?;
    let full = tmp.path().join("pig-1.0.0.tar.zst");
    let report = office.export_to_file(
        &ExportRequest::new("pig", &["1.0.0"]).signed_with(&keys.secret),
        &full,
        &mut |_| {},
    )?;
    println!(
        "exported pig 1.0.0: {} blobs, {} bytes",
        report.carried_blobs, report.archive_bytes
    );

    let imported = customer.import_file(&full, &trust, &mut |_| {})?;
    println!(
        "customer imported {:?}, signed by {:?}",
        imported.versions, imported.signer
    );

    let v2 = testkit::publish_pig_incremental(&office, &v1, "2.0.0", LayerSizes::default())?;
    let diff = tmp.path().join("pig-2.0.0-diff.tar.zst");
    let request = ExportRequest::new("pig", &[v2.version.as_str()])
        .with_base(ExportBase::Versions(vec!["1.0.0".into()]))
        .signed_with(&keys.secret);
    let report = office.export_to_file(&request, &diff, &mut |_| {})?;
    println!(
        "differential 2.0.0: carries {} blobs ({} bytes), leaves out {} the customer has ({} bytes)",
        report.carried_blobs, report.carried_bytes, report.omitted_blobs, report.omitted_bytes
    );

    let mut bytes = std::fs::read(&diff)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    match customer.import(&bytes[..], &trust, &mut |_| {}) {
        Ok(_) => return Err("a tampered package was accepted".into()),
        Err(e) => println!("tampered package refused: {e}"),
    }

    customer.import_file(&diff, &trust, &mut |_| {})?;
    let problems = customer.verify()?.problems;
    println!(
        "customer now has {:?}; verify found {} problem(s)",
        customer
            .versions("pig")?
            .iter()
            .map(|v| &v.version)
            .collect::<Vec<_>>(),
        problems.len()
    );
    if !problems.is_empty() {
        return Err(problems.join("; ").into());
    }
    Ok(())
}
