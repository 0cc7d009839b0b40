//! The one printer: results on stdout (plain or one JSON document),
//! messages on stderr.

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::OutputFormat;
use crate::failure::Classified;

/// Version of the JSON output document; raised only when a field changes
/// meaning or disappears.
pub(crate) const OUTPUT_VERSION: u32 = 1;

/// Where results and messages go.
#[derive(Debug)]
pub(crate) struct Printer {
    pub(crate) format: OutputFormat,
    pub(crate) command: String,
    pub(crate) color: bool,
    pub(crate) verbose: bool,
}

/// A result: its JSON form (the library's serde form) and its plain text.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) json: Value,
    pub(crate) text: String,
    pub(crate) exit_code: u8,
}

impl Outcome {
    /// `value` serialized, shown as `text`.
    pub(crate) fn new(value: &impl Serialize, text: impl Into<String>) -> anyhow::Result<Outcome> {
        Ok(Outcome {
            json: serde_json::to_value(value)?,
            text: text.into(),
            exit_code: crate::failure::code::OK,
        })
    }

    /// The same result with another exit code.
    pub(crate) fn with_exit_code(mut self, code: u8) -> Outcome {
        self.exit_code = code;
        self
    }
}

/// Whether colors may be used on stderr: a terminal, no `NO_COLOR`, not
/// `TERM=dumb`.
pub(crate) fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && !std::env::var("TERM").is_ok_and(|t| t == "dumb")
        && std::io::stderr().is_terminal()
}

impl Printer {
    /// Prints the result on stdout.
    pub(crate) fn result(&self, outcome: &Outcome) {
        let mut out = std::io::stdout().lock();
        let _ = match self.format {
            OutputFormat::Json => writeln!(out, "{}", self.document("result", &outcome.json)),
            OutputFormat::Plain => {
                if outcome.text.is_empty() {
                    Ok(())
                } else if outcome.text.ends_with('\n') {
                    write!(out, "{}", outcome.text)
                } else {
                    writeln!(out, "{}", outcome.text)
                }
            }
        };
        let _ = out.flush();
    }

    fn document(&self, key: &str, value: &Value) -> String {
        let doc = json!({
            "apptemplate": OUTPUT_VERSION,
            "command": self.command,
            key: value,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Prints a failure: the message (and causes with `--verbose`) on
    /// stderr; with `-o json` also the error document on stdout.
    pub(crate) fn failure(&self, failure: &Classified) {
        let prefix = if self.color {
            console::style("error:").red().bold().to_string()
        } else {
            "error:".to_owned()
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{prefix} {}", failure.message);
        if self.verbose {
            for cause in &failure.causes {
                let _ = writeln!(err, "  caused by: {cause}");
            }
            let _ = writeln!(err, "  code: {}", failure.code);
        }
        if self.format == OutputFormat::Json {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                self.document("error", &failure.to_json())
            );
        }
    }

    /// A message for people on stderr (never part of the result).
    pub(crate) fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// A borderless table with upper-case headers, as `kubectl get` prints.
pub(crate) fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    let text = table.to_string();
    // comfy-table pads every line; keep lines clean for diffs and snapshots.
    let mut out: String = text
        .lines()
        .map(|l| {
            format!(
                "{}\n",
                l.trim_end().strip_prefix(' ').unwrap_or(l.trim_end())
            )
        })
        .collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}

/// Bytes for people: `1.5 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}
