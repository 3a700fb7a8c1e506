//! Progress reporting for long loops: an indicatif bar on a terminal; when stderr is not a
//! terminal (cron, Airflow) or logs are JSON, a `progress` log event at most every 10 s.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const MODE_BAR: u8 = 0;
const MODE_LOG: u8 = 1;
const MODE_QUIET: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(MODE_LOG);
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Chooses how progress is shown for the rest of the process: nothing when `quiet`, log
/// events when `json_logs` or stderr is not a terminal, otherwise a progress bar.
pub fn configure(quiet: bool, json_logs: bool) {
    let mode = if quiet {
        MODE_QUIET
    } else if json_logs || !std::io::stderr().is_terminal() {
        MODE_LOG
    } else {
        MODE_BAR
    };
    MODE.store(mode, Ordering::Relaxed);
}

/// Progress of one long loop. Thread-safe: workers may call [`Progress::inc`] concurrently.
pub struct Progress {
    label: String,
    unit: String,
    total: Option<u64>,
    bar: Option<ProgressBar>,
    done: AtomicU64,
    start: Instant,
    last_log: Mutex<Instant>,
}

impl Progress {
    /// Starts reporting `label`, counting `unit`s out of `total` (when known).
    pub fn new(label: &str, unit: &str, total: Option<u64>) -> Self {
        let mode = MODE.load(Ordering::Relaxed);
        let bar = (mode == MODE_BAR).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if total.is_some() {
                format!("{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})")
            } else {
                format!("{{msg}} {{spinner}} {{human_pos}} {unit} ({{per_sec}})")
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar
        });
        let now = Instant::now();
        Self {
            label: label.to_string(),
            unit: unit.to_string(),
            total,
            bar,
            done: AtomicU64::new(0),
            start: now,
            last_log: Mutex::new(now),
        }
    }

    /// Records `n` more units done.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        if MODE.load(Ordering::Relaxed) != MODE_LOG {
            return;
        }
        let mut last = self.last_log.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= LOG_INTERVAL {
            *last = Instant::now();
            drop(last);
            self.log(done, "progress");
        }
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Seconds since the loop started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Ends the bar (or logs the final count).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn log(&self, done: u64, event: &str) {
        let secs = self.elapsed();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        tracing::info!(
            event,
            task = self.label.as_str(),
            done,
            total = self.total,
            unit = self.unit.as_str(),
            per_second = rate.round(),
            "{}: {done}{} {} ({rate:.0}/s)",
            self.label,
            self.total.map(|t| format!("/{t}")).unwrap_or_default(),
            self.unit
        );
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
