//! Progress on stderr: live bars on a terminal, a plain line every few
//! seconds otherwise, or JSON lines of the library's progress data.
//! Every wait says what it waits for, for how long, and until when.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use template_k8s::DeliveryEvent;
use template_market::{Progress, RelocateProgress};

use crate::cli::ProgressMode;
use crate::output::bytes;

/// How progress is shown, once `auto` is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    Bars,
    Lines,
    Json,
    Nothing,
}

/// Decides `auto`: bars on a terminal that can draw them, lines otherwise.
pub(crate) fn decide(mode: ProgressMode) -> Shown {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() && !dumb => Shown::Bars,
        ProgressMode::Auto | ProgressMode::Lines => Shown::Lines,
        ProgressMode::Bars => Shown::Bars,
        ProgressMode::Json => Shown::Json,
        ProgressMode::None => Shown::Nothing,
    }
}

/// A transfer in progress (export, import, push).
#[derive(Debug)]
struct Transfer {
    what: String,
    bytes_done: u64,
    bytes_total: u64,
    items_done: usize,
    items_total: usize,
    item: String,
    started: Instant,
}

/// A workload being waited for.
#[derive(Debug)]
struct Wait {
    objects: Vec<String>,
    since: Instant,
}

#[derive(Debug, Default)]
struct State {
    transfer: Option<Transfer>,
    waits: BTreeMap<String, Wait>,
    last_line: Option<Instant>,
    /// When the wait for the market's lock was last told.
    lock_wait_told: Option<Instant>,
}

/// Shows progress of one command.
#[derive(Debug)]
pub(crate) struct Reporter {
    shown: Shown,
    interval: Duration,
    wait_timeout: Duration,
    bar: Option<ProgressBar>,
    state: Mutex<State>,
    stopped: AtomicBool,
}

impl Reporter {
    /// A reporter; with lines, a heartbeat says every `interval` what is
    /// still going on.
    pub(crate) fn start(shown: Shown, interval: Duration, wait_timeout: Duration) -> Arc<Reporter> {
        let bar = (shown == Shown::Bars).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let reporter = Arc::new(Reporter {
            shown,
            interval: interval.max(Duration::from_secs(1)),
            wait_timeout,
            bar,
            state: Mutex::new(State::default()),
            stopped: AtomicBool::new(false),
        });
        if shown == Shown::Lines {
            let weak = Arc::downgrade(&reporter);
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(250));
                    let Some(r) = weak.upgrade() else { return };
                    if r.stopped.load(Ordering::Relaxed) {
                        return;
                    }
                    r.heartbeat();
                }
            });
        }
        reporter
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A line for people, above the bars when they are drawn.
    pub(crate) fn say(&self, line: &str) {
        match (&self.bar, self.shown) {
            (Some(bar), _) => bar.println(line),
            (None, Shown::Lines) => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
                self.state().last_line = Some(Instant::now());
            }
            _ => {}
        }
    }

    fn json(&self, value: &impl serde::Serialize) {
        if let Ok(line) = serde_json::to_string(value) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// An export or import progress report.
    pub(crate) fn market(&self, p: &Progress<'_>) {
        if self.shown == Shown::Json {
            return self.json(p);
        }
        let what = match p.phase {
            template_market::Phase::Wait => return self.lock_wait(p),
            template_market::Phase::Export => "export",
            template_market::Phase::Import => "import",
            template_market::Phase::Commit => "commit",
            template_market::Phase::Done => "done",
        };
        self.transfer(
            what,
            p.bytes_done,
            p.bytes_total,
            p.items_done,
            p.items_total,
            p.item,
            p.phase == template_market::Phase::Done,
        );
    }

    /// Waiting for another process's lock on the market: said at once and
    /// then every `interval`, never silently.
    fn lock_wait(&self, p: &Progress<'_>) {
        {
            let mut state = self.state();
            if state
                .lock_wait_told
                .is_some_and(|told| told.elapsed() < self.interval)
            {
                return;
            }
            state.lock_wait_told = Some(Instant::now());
        }
        let holder = if p.item.is_empty() {
            "another process"
        } else {
            p.item
        };
        let waited = p.bytes_done as f64 / 1000.0;
        let line = if p.bytes_total == 0 {
            format!(
                "waiting for the market's lock, held by {holder}: {waited:.0} s so far (no timeout)"
            )
        } else {
            let timeout = p.bytes_total as f64 / 1000.0;
            format!(
                "waiting for the market's lock, held by {holder}: {waited:.0} s of {timeout:.0} s"
            )
        };
        self.say(&line);
    }

    /// A relocation progress report (`images push`).
    pub(crate) fn relocation(&self, registry: &str, p: &RelocateProgress<'_>) {
        if self.shown == Shown::Json {
            return self.json(&template_delivery::delivery::relocation_event(registry, p));
        }
        self.transfer(
            &format!("push to {registry}"),
            p.bytes_done,
            p.bytes_total,
            p.blobs_done,
            p.blobs_total,
            p.item,
            false,
        );
    }

    /// A pull progress report (`images pull`).
    pub(crate) fn pull(&self, p: &template_market::PullProgress<'_>) {
        if self.shown == Shown::Json {
            return self.json(&serde_json::json!({"phase": "pulling", "progress": p}));
        }
        self.transfer(
            "pull",
            p.bytes_done,
            p.bytes_total,
            p.blobs_done,
            p.blobs_total,
            if p.blob.is_empty() { p.image } else { p.blob },
            p.event == template_market::PullEvent::Done,
        );
    }

    /// A report of a publish from a cluster (`capture --publish`).
    pub(crate) fn publish(&self, p: &template_delivery::PublishFromClusterProgress) {
        use template_delivery::PublishFromClusterProgress as P;
        if self.shown == Shown::Json {
            return self.json(p);
        }
        match p {
            P::Capture { namespace } => self.say(&format!("capturing namespace {namespace}")),
            P::Captured {
                template,
                components,
                images,
            } => self.say(&format!(
                "captured {template}: {components} components, {images} images to pull"
            )),
            P::Pull {
                event,
                bytes_done,
                bytes_total,
                blobs_done,
                blobs_total,
                image,
                blob,
            } => self.transfer(
                "pull",
                *bytes_done,
                *bytes_total,
                *blobs_done,
                *blobs_total,
                if blob.is_empty() { image } else { blob },
                *event == template_market::PullEvent::Done,
            ),
            P::Publish { template, version } => {
                self.say(&format!("publishing {template} {version}"));
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        what: &str,
        bytes_done: u64,
        bytes_total: u64,
        items_done: usize,
        items_total: usize,
        item: &str,
        done: bool,
    ) {
        let mut state = self.state();
        let started = match &state.transfer {
            Some(t) if t.what == what => t.started,
            _ => Instant::now(),
        };
        let t = Transfer {
            what: what.to_owned(),
            bytes_done,
            bytes_total,
            items_done,
            items_total,
            item: item.to_owned(),
            started,
        };
        if let Some(bar) = &self.bar {
            if bar.length() != Some(bytes_total) {
                bar.set_style(bytes_style());
                bar.set_length(bytes_total);
            }
            bar.set_position(bytes_done);
            bar.set_prefix(what.to_owned());
            bar.set_message(format!("{items_done}/{items_total} {}", short(item)));
        }
        let due = state
            .last_line
            .is_none_or(|at| at.elapsed() >= self.interval);
        let line = (self.shown == Shown::Lines && (due || done)).then(|| transfer_line(&t));
        state.transfer = if done { None } else { Some(t) };
        if let Some(line) = line {
            state.last_line = Some(Instant::now());
            drop(state);
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A delivery event.
    pub(crate) fn delivery(&self, event: &DeliveryEvent) {
        if self.shown == Shown::Json {
            return self.json(event);
        }
        match event {
            DeliveryEvent::Relocating {
                registry,
                bytes_done,
                bytes_total,
                blobs_done,
                blobs_total,
                item,
                ..
            } => self.transfer(
                &format!("push to {registry}"),
                *bytes_done,
                *bytes_total,
                *blobs_done,
                *blobs_total,
                item,
                false,
            ),
            DeliveryEvent::Relocated { registry, counts } => {
                self.state().transfer = None;
                self.say(&format!(
                    "images in {registry}: {} blobs pushed ({}), {} there already",
                    counts.blobs_uploaded,
                    bytes(counts.bytes_uploaded),
                    counts.blobs_skipped
                ));
            }
            DeliveryEvent::StepApplied {
                wave,
                step,
                component,
                ..
            } => self.say(&format!("wave {wave}: step {step} {component} applied")),
            DeliveryEvent::Waiting {
                component, objects, ..
            } => {
                let line = format!(
                    "waiting for {component}: {} to be ready (timeout {}s)",
                    objects.join(", "),
                    self.wait_timeout.as_secs()
                );
                self.state().waits.insert(
                    component.clone(),
                    Wait {
                        objects: objects.clone(),
                        since: Instant::now(),
                    },
                );
                self.say(&line);
                self.refresh_waits();
            }
            DeliveryEvent::StepDone {
                wave,
                component,
                ok,
                error,
                ..
            } => {
                let waited = self
                    .state()
                    .waits
                    .remove(component)
                    .map(|w| format!(" after {}s", w.since.elapsed().as_secs()))
                    .unwrap_or_default();
                if *ok {
                    self.say(&format!("wave {wave}: {component} ready{waited}"));
                } else {
                    self.say(&format!(
                        "wave {wave}: {component} FAILED{waited}: {}",
                        error.as_deref().unwrap_or("no reason given")
                    ));
                }
                self.refresh_waits();
            }
            DeliveryEvent::Done {
                operation,
                revision,
                ok,
                environment,
                ..
            } => self.say(&format!(
                "{environment}: {} recorded as revision {revision} ({})",
                operation_name(*operation),
                if *ok { "succeeded" } else { "failed" }
            )),
            _ => {}
        }
    }

    /// The bar shows what is being waited for.
    fn refresh_waits(&self) {
        let Some(bar) = &self.bar else { return };
        let state = self.state();
        if state.waits.is_empty() {
            bar.set_style(spinner_style());
            bar.set_message("");
            return;
        }
        let names: Vec<&str> = state.waits.keys().map(String::as_str).collect();
        bar.set_style(spinner_style());
        bar.set_prefix("waiting");
        bar.set_message(format!(
            "for {} to be ready (timeout {}s)",
            names.join(", "),
            self.wait_timeout.as_secs()
        ));
    }

    /// With lines: every interval, what is still going on.
    fn heartbeat(&self) {
        let mut state = self.state();
        if state
            .last_line
            .is_some_and(|at| at.elapsed() < self.interval)
        {
            return;
        }
        let mut lines = Vec::new();
        if let Some(t) = &state.transfer {
            lines.push(transfer_line(t));
        }
        for (component, wait) in &state.waits {
            lines.push(format!(
                "still waiting for {component}: {} to be ready, {}s elapsed, timeout {}s",
                wait.objects.join(", "),
                wait.since.elapsed().as_secs(),
                self.wait_timeout.as_secs()
            ));
        }
        if lines.is_empty() {
            return;
        }
        state.last_line = Some(Instant::now());
        drop(state);
        let mut err = std::io::stderr().lock();
        for line in lines {
            let _ = writeln!(err, "{line}");
        }
    }

    /// Stops the heartbeat and clears the bars.
    pub(crate) fn finish(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish();
    }
}

fn operation_name(kind: template_core::PlanKind) -> &'static str {
    match kind {
        template_core::PlanKind::Install => "install",
        template_core::PlanKind::Upgrade => "upgrade",
        template_core::PlanKind::Rollback => "rollback",
    }
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {msg} [{elapsed}]")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The last part of a long item name.
fn short(item: &str) -> &str {
    let last = item.rsplit(['/', '@']).next().unwrap_or(item);
    last.get(..19).unwrap_or(last)
}

fn transfer_line(t: &Transfer) -> String {
    let elapsed = t.started.elapsed().as_secs_f64();
    let rate = if elapsed > 0.0 {
        t.bytes_done as f64 / elapsed
    } else {
        0.0
    };
    let percent = t
        .bytes_done
        .saturating_mul(100)
        .checked_div(t.bytes_total)
        .map(|p| format!(" ({p}%)"))
        .unwrap_or_default();
    let eta = if rate > 0.0 && t.bytes_total > t.bytes_done {
        format!(
            ", ETA {}s",
            ((t.bytes_total - t.bytes_done) as f64 / rate).ceil() as u64
        )
    } else {
        String::new()
    };
    let item = if t.item.is_empty() {
        String::new()
    } else {
        format!(" ({})", short(&t.item))
    };
    format!(
        "{}: {} of {}{percent}, {}/{} items, {}/s{eta}{item}",
        t.what,
        bytes(t.bytes_done),
        bytes(t.bytes_total),
        t.items_done,
        t.items_total,
        bytes(rate as u64),
    )
}
