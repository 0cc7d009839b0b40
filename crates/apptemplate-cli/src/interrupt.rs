//! Ctrl-C: operations that can stop cleanly (exports, imports, pushes) are
//! asked to stop through their progress callback and end with the
//! library's `Cancelled` error (exit code 130, nothing half-written); at
//! any other moment the process ends at once with 130.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

static CANCELLABLE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once.
pub(crate) fn install() {
    let _ = ctrlc::set_handler(|| {
        if CANCELLABLE.load(Ordering::SeqCst) {
            INTERRUPTED.store(true, Ordering::SeqCst);
        } else {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\ninterrupted\n");
            std::process::exit(i32::from(crate::failure::code::INTERRUPTED));
        }
    });
}

/// While the guard lives, Ctrl-C asks the operation to stop.
#[derive(Debug)]
pub(crate) struct Cancellable(());

impl Cancellable {
    pub(crate) fn begin() -> Cancellable {
        CANCELLABLE.store(true, Ordering::SeqCst);
        Cancellable(())
    }

    /// What a progress callback returns.
    pub(crate) fn flow(&self) -> ControlFlow<()> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Drop for Cancellable {
    fn drop(&mut self) {
        CANCELLABLE.store(false, Ordering::SeqCst);
    }
}
