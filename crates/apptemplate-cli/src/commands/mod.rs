//! The commands, each a thin call into the libraries.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Command, Global};
use crate::output::{Outcome, Printer};
use crate::progress::{Reporter, Shown, decide};
use crate::settings::Settings;

mod capture;
mod cluster;
mod market;
mod package;
mod remote;
mod setup;

/// What every command gets.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) settings: Settings,
    pub(crate) printer: Printer,
    pub(crate) progress: Shown,
    pub(crate) progress_interval: Duration,
    pub(crate) identity: String,
}

impl Context {
    pub(crate) fn new(global: &Global, printer: Printer) -> anyhow::Result<Context> {
        Ok(Context {
            settings: Settings::load(global)?,
            printer,
            progress: decide(global.progress),
            progress_interval: Duration::from_secs(global.progress_interval),
            identity: global.identity.clone().unwrap_or_default(),
        })
    }

    /// A progress reporter for one operation.
    pub(crate) fn reporter(&self) -> Arc<Reporter> {
        Reporter::start(self.progress, self.progress_interval, self.wait_timeout())
    }
}

/// Runs `command`.
pub(crate) fn run(context: &Context, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Package(c) => package::run(context, c),
        Command::Market(c) => market::run(context, c),
        Command::Images(c) => market::images(context, c),
        Command::Remote(c) => remote::run(context, c),
        Command::Capture(a) => capture::capture(context, &a),
        Command::Diff(a) => cluster::diff(context, &a),
        Command::Plan(a) => cluster::plan(context, &a),
        Command::Install(a) => cluster::install(context, &a),
        Command::Upgrade(a) => cluster::upgrade(context, &a),
        Command::Rollback(a) => cluster::rollback(context, &a),
        Command::History(a) => cluster::history(context, &a),
        Command::Status(a) => cluster::status(context, &a),
        Command::Deliver(a) => cluster::deliver(context, &a),
        Command::Env(c) => setup::env(context, c),
        Command::Keys(c) => setup::keys(c),
        Command::Doctor(a) => setup::doctor(context, &a),
        Command::Completion(_) => unreachable_completion(),
    }
}

/// Completion is written by `main` before any setting is read.
fn unreachable_completion() -> anyhow::Result<Outcome> {
    Outcome::new(&serde_json::Value::Null, "")
}
