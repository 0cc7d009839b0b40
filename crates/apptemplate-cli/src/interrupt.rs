//! Ctrl-C: operations that can stop cleanly (exports, imports, pushes,
//! pulls) are asked to stop through their progress callback and end with
//! the library's `Cancelled` error (exit code 130, nothing half-written).
//! Operations on a cluster stop at their next safe point, between two
//! waves (`template_k8s::StopSignal`): the first Ctrl-C says so, a second
//! one ends the process at once. At any other moment the process ends at
//! once with 130.

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use template_k8s::StopSignal;

static CANCELLABLE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static STOP: Mutex<Option<StopSignal>> = Mutex::new(None);

/// Installs the handler once.
pub(crate) fn install() {
    let _ = ctrlc::set_handler(|| {
        let stop = STOP
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(stop) = stop.filter(|s| !s.is_stopped()) {
            stop.stop();
            INTERRUPTED.store(true, Ordering::SeqCst);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"\nstopping after the current wave (the installation stays consistent and recorded); press Ctrl-C again to quit at once\n",
            );
        } else if CANCELLABLE.load(Ordering::SeqCst) {
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

/// The signal cluster operations of this process stop on: the first
/// Ctrl-C raises it.
pub(crate) fn stop_signal() -> StopSignal {
    STOP.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(StopSignal::new)
        .clone()
}
