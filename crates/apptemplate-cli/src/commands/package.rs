//! `package export|import|inspect|verify`: offline packages.

use std::fs::File;
use std::io::BufReader;

use anyhow::Context;
use template_market::{
    ExportBase, ExportRequest, ImportOptions, ImportedVersion, Progress, ReaderLimits, SecretKey,
    Trust, check_package,
};

use crate::cli::{ExportArgs, ImportArgs, InspectArgs, PackageCommand, TrustArgs, VerifyArgs};
use crate::commands::Context as Run;
use crate::interrupt::Cancellable;
use crate::output::{Outcome, bytes};

pub(crate) fn run(run: &Run, command: PackageCommand) -> anyhow::Result<Outcome> {
    match command {
        PackageCommand::Export(args) => export(run, &args),
        PackageCommand::Import(args) => import(run, &args),
        PackageCommand::Inspect(args) => inspect(&args),
        PackageCommand::Verify(args) => verify(run, &args),
    }
}

fn export(run: &Run, args: &ExportArgs) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    let versions: Vec<&str> = args.versions.iter().map(String::as_str).collect();
    let mut request = ExportRequest::new(&args.template, &versions);
    if let Some(path) = &args.base_inventory {
        let text = std::fs::read(path)
            .with_context(|| format!("reading inventory `{}`", path.display()))?;
        let inventory = serde_json::from_slice(&text).with_context(|| {
            format!(
                "inventory `{}` is not one written by `market inventory`",
                path.display()
            )
        })?;
        request = request.with_base(ExportBase::Inventory(inventory));
    } else if !args.base_version.is_empty() {
        request = request.with_base(ExportBase::Versions(args.base_version.clone()));
    }
    if let Some(path) = &args.sign_key {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading secret key `{}`", path.display()))?;
        let key = SecretKey::from_file_text(&text)
            .with_context(|| format!("secret key `{}`", path.display()))?;
        request = request.signed_with(&key);
    }
    let reporter = run.reporter();
    let cancel = Cancellable::begin();
    let report = market.export_to_file(&request, &args.file, &mut |p: &Progress<'_>| {
        reporter.market(p);
        cancel.flow()
    });
    reporter.finish();
    let report = report?;
    let text = format!(
        "wrote {}: {} ({} blobs, {} carried; {} blobs, {} left out for the destination){}",
        args.file.display(),
        bytes(report.archive_bytes),
        report.carried_blobs,
        bytes(report.carried_bytes),
        report.omitted_blobs,
        bytes(report.omitted_bytes),
        if request.signing_key.is_some() {
            ", signed"
        } else {
            ", unsigned"
        }
    );
    Outcome::new(&report, text)
}

fn import_options(run: &Run, args: &TrustArgs) -> anyhow::Result<ImportOptions> {
    let mut options = run.settings.import_options(&args.trust_key)?;
    options.trust.allow_unsigned |= args.allow_unsigned;
    Ok(options)
}

fn import(run: &Run, args: &ImportArgs) -> anyhow::Result<Outcome> {
    let market = run.settings.market()?;
    let options = import_options(run, &args.trust)?;
    let reporter = run.reporter();
    let cancel = Cancellable::begin();
    let report = market.import_file(&args.file, &options, &mut |p: &Progress<'_>| {
        reporter.market(p);
        cancel.flow()
    });
    reporter.finish();
    let report = report?;
    let versions: Vec<String> = report
        .versions
        .iter()
        .map(|(v, outcome)| match outcome {
            ImportedVersion::Added => format!("{v} added"),
            _ => format!("{v} unchanged"),
        })
        .collect();
    let text = format!(
        "imported {} {}: {} blobs written ({}), {} already here; signed by {}",
        report.template,
        versions.join(", "),
        report.blobs_written,
        bytes(report.bytes_written),
        report.blobs_skipped,
        report
            .signer
            .as_deref()
            .unwrap_or("nobody (unsigned allowed)")
    );
    Outcome::new(&report, text)
}

fn open(path: &std::path::Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("opening package `{}`", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

fn inspect(args: &InspectArgs) -> anyhow::Result<Outcome> {
    let check = check_package(
        open(&args.file)?,
        &Trust::anything(),
        ReaderLimits::default(),
    )?;
    let text = format!(
        "package {}\n  template:  {}\n  versions:  {}\n  images:    {}\n  content:   {} blobs, {} carried{}\n  signed:    {}\n  digest:    {}",
        args.file.display(),
        check.template,
        check.versions.join(", "),
        check.images,
        check.blobs_read,
        bytes(check.carried_bytes),
        if check.differential {
            format!(", {} left out (differential)", bytes(check.omitted_bytes))
        } else {
            String::new()
        },
        if check.signed { "yes" } else { "no" },
        check.manifest_digest
    );
    Outcome::new(&check, text)
}

fn verify(run: &Run, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let options = import_options(run, &args.trust)?;
    let check = check_package(open(&args.file)?, &options.trust, options.limits)?;
    let text = format!(
        "{}: intact ({} blobs verified), {}",
        args.file.display(),
        check.blobs_read,
        match &check.signer {
            Some(key) => format!("signed by trusted key {key}"),
            None if check.signed => "signed by a key not checked".to_owned(),
            None => "unsigned (allowed)".to_owned(),
        }
    );
    Outcome::new(&check, text)
}
