//! `apptemplate`: the command-line face of the template libraries, for the
//! delivery engineer at a terminal and for CI jobs.
//!
//! Results go to stdout (plain, or one versioned JSON document with
//! `-o json`), everything else to stderr. Exit codes are listed in
//! `apptemplate --help` and the crate README.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

mod cli;
mod commands;
mod failure;
mod interrupt;
mod output;
mod progress;
mod settings;

use cli::{Cli, Command};
use failure::code;
use output::Printer;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                code::USAGE
            } else {
                code::OK
            });
        }
    };
    if let Command::Completion(args) = &cli.command {
        let mut command = Cli::command();
        clap_complete::generate(
            args.shell,
            &mut command,
            "apptemplate",
            &mut std::io::stdout(),
        );
        return ExitCode::from(code::OK);
    }
    let color = output::color_allowed();
    console::set_colors_enabled_stderr(color);
    console::set_colors_enabled(color && std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let printer = Printer {
        format: cli.global.output,
        command: command_name(),
        color,
        verbose: cli.global.verbose,
    };
    interrupt::install();
    let context = match commands::Context::new(&cli.global, printer) {
        Ok(c) => c,
        Err(e) => {
            let printer = Printer {
                format: cli.global.output,
                command: command_name(),
                color,
                verbose: cli.global.verbose,
            };
            let failure = failure::classify(&e);
            printer.failure(&failure);
            return ExitCode::from(failure.exit_code);
        }
    };
    match commands::run(&context, cli.command) {
        Ok(outcome) => {
            context.printer.result(&outcome);
            ExitCode::from(outcome.exit_code)
        }
        Err(e) => {
            let failure = failure::classify(&e);
            context.printer.failure(&failure);
            ExitCode::from(failure.exit_code)
        }
    }
}

/// The subcommand path as typed (`package import`), for JSON documents.
fn command_name() -> String {
    let matches = Cli::command()
        .try_get_matches_from(std::env::args_os())
        .ok();
    let mut names = Vec::new();
    let mut current = matches.as_ref();
    while let Some(m) = current {
        match m.subcommand() {
            Some((name, sub)) => {
                names.push(name.to_owned());
                current = Some(sub);
            }
            None => break,
        }
    }
    names.join(" ")
}
