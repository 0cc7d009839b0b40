//! Progress reports of exports and imports.

use std::io::{self, Read};
use std::ops::ControlFlow;

use serde::Serialize;

/// What an operation is doing. Serializes as its snake_case name
/// (`wait`, `export`, `import`, `commit`, `done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for another process to release the market's lock: `item`
    /// names the holder when known, `bytes_done` is the time waited and
    /// `bytes_total` the timeout, in milliseconds (0: none).
    Wait,
    /// Writing a package.
    Export,
    /// Reading, verifying and staging a package.
    Import,
    /// Moving verified blobs into the store and updating the catalog.
    Commit,
    /// The operation finished.
    Done,
}

/// One progress report: bytes done and total, and the current item (a
/// blob's archive entry, or a step of the commit). Serializes with its
/// field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Progress<'a> {
    /// What is being done.
    pub phase: Phase,
    /// Bytes processed so far.
    pub bytes_done: u64,
    /// Bytes to process in all.
    pub bytes_total: u64,
    /// Items (blobs) processed so far.
    pub items_done: usize,
    /// Items to process in all.
    pub items_total: usize,
    /// The current item.
    pub item: &'a str,
}

/// The progress callback of exports and imports: [`ControlFlow::Break`]
/// stops the operation, which then fails with
/// [`MarketError::Cancelled`](crate::MarketError::Cancelled) and leaves
/// nothing half-visible (see [`Market::export_to_file`](crate::Market::export_to_file)
/// and [`Market::import`](crate::Market::import)).
pub type ProgressCallback<'a> = dyn FnMut(&Progress<'_>) -> ControlFlow<()> + 'a;

/// How often a large blob reports progress.
const REPORT_EVERY: u64 = 8 << 20;

/// Counts bytes read through it and reports every few MiB.
pub(crate) struct ProgressReader<'a, 'b, R> {
    pub(crate) inner: R,
    pub(crate) phase: Phase,
    pub(crate) done: &'a mut u64,
    pub(crate) total: u64,
    pub(crate) items_done: usize,
    pub(crate) items_total: usize,
    pub(crate) item: &'a str,
    pub(crate) since_report: u64,
    pub(crate) callback: &'a mut ProgressCallback<'b>,
    /// Set when the callback asked to stop; the read then fails.
    pub(crate) cancelled: &'a mut bool,
}

impl<R: Read> Read for ProgressReader<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if *self.cancelled {
            return Err(cancelled_io());
        }
        let n = self.inner.read(buf)?;
        *self.done += n as u64;
        self.since_report += n as u64;
        if self.since_report >= REPORT_EVERY {
            self.since_report = 0;
            let flow = (self.callback)(&Progress {
                phase: self.phase,
                bytes_done: *self.done,
                bytes_total: self.total,
                items_done: self.items_done,
                items_total: self.items_total,
                item: self.item,
            });
            if flow.is_break() {
                *self.cancelled = true;
                return Err(cancelled_io());
            }
        }
        Ok(n)
    }
}

/// The I/O error a cancelled [`ProgressReader`] fails with; callers check
/// the `cancelled` flag and report [`MarketError::Cancelled`](crate::MarketError::Cancelled).
fn cancelled_io() -> io::Error {
    io::Error::other("cancelled by the progress callback")
}
