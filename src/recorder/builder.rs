//! One builder wires the registry to its outputs: a telemit [`Sender`], a `/metrics` listener
//! and a Pushgateway.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::distribution::{Distributions, Layout, Pattern};
use super::flusher::{Flusher, Stop};
use super::http::Listener;
use super::push::{PushConfig, Pusher};
use super::readings::DEFAULT_MEASUREMENT;
use super::registry::{Shared, TelemitRecorder};
use super::snapshot::Snapshot;
use super::{RecorderError, exposition};
use crate::Sender;
use crate::sender::stats::StatsSnapshot;

/// How long [`RecorderHandle::shutdown`] waits for the last flush to be queued before it closes
/// the sender.
pub const FINAL_FLUSH_WAIT: Duration = Duration::from_secs(5);

/// What a counter's field carries in each flush to the [`Sender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterMode {
    /// The total since the series was registered, as Prometheus counters are (the default).
    #[default]
    Cumulative,
    /// The increase since the previous flush, as StatsD counters are. Only the flush to the
    /// sender changes: `/metrics` and pushes stay cumulative, as Prometheus requires.
    Delta,
}

/// Settings of a recorder. Defaults: flush every 10 s, cumulative counters, histograms as
/// summaries with quantiles 0.5, 0.9 and 0.99, at most 10 000 series, no expiry, measurement
/// `prometheus`, no output (add a sender, a listener or a push).
pub struct RecorderBuilder {
    sender: Option<Sender>,
    flush_interval: Duration,
    counters: CounterMode,
    measurement: String,
    distributions: Distributions,
    max_series: usize,
    idle_timeout: Option<Duration>,
    globals: Vec<(String, String)>,
    listen: Option<SocketAddr>,
    push: Option<PushConfig>,
}

impl std::fmt::Debug for RecorderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderBuilder")
            .field("sender", &self.sender.as_ref().map(Sender::endpoint))
            .field("flush_interval", &self.flush_interval)
            .field("counters", &self.counters)
            .field("max_series", &self.max_series)
            .field("listen", &self.listen)
            .field("push", &self.push)
            .finish_non_exhaustive()
    }
}

impl Default for RecorderBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RecorderBuilder {
    /// The defaults.
    pub fn new() -> Self {
        RecorderBuilder {
            sender: None,
            flush_interval: Duration::from_secs(10),
            counters: CounterMode::Cumulative,
            measurement: DEFAULT_MEASUREMENT.to_owned(),
            distributions: Distributions::default(),
            max_series: 10_000,
            idle_timeout: None,
            globals: Vec::new(),
            listen: None,
            push: None,
        }
    }

    /// Flushes every series as readings through `sender` each flush interval and at shutdown;
    /// the sender's transport, format, spool and drop accounting all apply.
    #[must_use]
    pub fn sender(mut self, sender: Sender) -> Self {
        self.sender = Some(sender);
        self
    }

    /// How often to flush to the sender (default 10 s; Telegraf's own default interval).
    #[must_use]
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Cumulative counters (the default) or deltas per flush.
    #[must_use]
    pub fn counters(mut self, mode: CounterMode) -> Self {
        self.counters = mode;
        self
    }

    /// The measurement of every reading (default `prometheus`, as Telegraf's Prometheus parser
    /// names them with `metric_version = 2`).
    #[must_use]
    pub fn measurement(mut self, measurement: impl Into<String>) -> Self {
        self.measurement = measurement.into();
        self
    }

    /// A tag on every series (for example `host`, `service`); a series' own label of the same
    /// key wins.
    pub fn global_tag(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, RecorderError> {
        let (key, value) = (key.into(), value.into());
        if key.is_empty() || value.is_empty() {
            return Err(RecorderError::GlobalTag(key, value));
        }
        self.globals.retain(|(k, _)| *k != key);
        self.globals.push((key, value));
        Ok(self)
    }

    /// Histograms whose name matches `pattern` (`name`, `prefix*`, `*suffix`) export as
    /// cumulative buckets with these upper bounds; `+Inf` is added. Rules apply in the order
    /// they were added.
    pub fn buckets(mut self, pattern: &str, bounds: &[f64]) -> Result<Self, RecorderError> {
        self.distributions
            .push(Pattern::parse(pattern)?, Layout::buckets(bounds)?);
        Ok(self)
    }

    /// Histograms whose name matches `pattern` export as summaries with these quantiles.
    pub fn summary(mut self, pattern: &str, quantiles: &[f64]) -> Result<Self, RecorderError> {
        self.distributions
            .push(Pattern::parse(pattern)?, Layout::summary(quantiles)?);
        Ok(self)
    }

    /// The quantiles of histograms no rule matches.
    pub fn default_quantiles(mut self, quantiles: &[f64]) -> Result<Self, RecorderError> {
        self.distributions.set_default(Layout::summary(quantiles)?);
        Ok(self)
    }

    /// The most series held at once (default 10 000); later ones are refused and counted.
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Removes a series not updated for this long (checked at each flush, scrape or push);
    /// `None` (the default) keeps every series. A handle kept by the program across expiry
    /// updates nothing any more: register again through the macro.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Serves Prometheus text at `http://ADDR/metrics` (port 0 picks a free port; see
    /// [`RecorderHandle::local_addr`]).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Pushes to a Pushgateway (or Telegraf's `http_listener_v2`) on its interval and at
    /// shutdown.
    #[must_use]
    pub fn push(mut self, config: PushConfig) -> Self {
        self.push = Some(config);
        self
    }

    /// The recorder and the handle that runs its outputs, without installing it globally.
    pub fn build(self) -> Result<(TelemitRecorder, RecorderHandle), RecorderError> {
        if self.measurement.is_empty() {
            return Err(RecorderError::Measurement);
        }
        if self.flush_interval.is_zero() {
            return Err(RecorderError::Interval("flush"));
        }
        if self.push.as_ref().is_some_and(|p| p.interval.is_zero()) {
            return Err(RecorderError::Interval("push"));
        }
        let shared = Arc::new(Shared::new(
            self.max_series,
            self.idle_timeout,
            self.distributions,
            self.globals,
        ));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(Stop::default());
        let listener = match self.listen {
            Some(addr) => Some(Listener::start(addr, shared.clone(), counters.clone())?),
            None => None,
        };
        let flusher = self.sender.map(|sender| {
            Arc::new(Flusher::new(
                sender,
                self.measurement,
                self.counters,
                shared.clone(),
            ))
        });
        let mut threads = Vec::new();
        if let Some(flusher) = &flusher {
            let (flusher, stop, interval) = (flusher.clone(), stop.clone(), self.flush_interval);
            threads.push(spawn("telemit-metrics-flush", move || {
                while !stop.wait(interval) {
                    flusher.flush();
                }
            })?);
        }
        let pusher = self.push.map(|config| Arc::new(Pusher::new(config)));
        if let Some(pusher) = &pusher {
            let (pusher, stop, shared, counters) = (
                pusher.clone(),
                stop.clone(),
                shared.clone(),
                counters.clone(),
            );
            threads.push(spawn("telemit-metrics-push", move || {
                while !stop.wait(pusher.interval()) {
                    push_once(&pusher, &shared, &counters, &stop);
                }
            })?);
        }
        let local_addr = listener.as_ref().map(|l| l.local_addr);
        let handle = RecorderHandle {
            shared: shared.clone(),
            running: Mutex::new(Some(Running {
                stop,
                threads,
                listener,
            })),
            flusher,
            pusher,
            counters,
            local_addr,
        };
        Ok((TelemitRecorder { shared }, handle))
    }

    /// Builds the recorder and installs it as the process's `metrics` recorder; keep the handle
    /// and call [`RecorderHandle::shutdown`] before exiting (dropping it does the same).
    pub fn install(self) -> Result<RecorderHandle, RecorderError> {
        let (recorder, handle) = self.build()?;
        metrics::set_global_recorder(recorder).map_err(|_| RecorderError::Installed)?;
        Ok(handle)
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, RecorderError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| RecorderError::Thread(e.to_string()))
}

fn push_once(pusher: &Pusher, shared: &Shared, counters: &Counters, stop: &Stop) {
    let body = exposition::exposition(&shared.snapshot());
    match pusher.push(&body, |wait| stop.wait(wait)) {
        Ok(()) => {
            counters.pushes.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => {
            counters.push_failures.fetch_add(1, Ordering::Relaxed);
            *counters
                .last_push_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(error);
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) scrapes: AtomicU64,
    pushes: AtomicU64,
    push_failures: AtomicU64,
    last_push_error: Mutex<Option<String>>,
}

struct Running {
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
    listener: Option<Listener>,
}

/// What a recorder has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Series held now.
    pub series: usize,
    /// New series refused because `max_series` were held.
    pub refused_series: u64,
    /// Series removed after their idle timeout.
    pub expired_series: u64,
    /// Flushes to the sender.
    pub flushes: u64,
    /// Readings handed to the sender (queued; the sender's own counters say what it wrote).
    pub readings: u64,
    /// Series that could not become readings (a NaN gauge, a control character in a label).
    pub unrepresentable: u64,
    /// Readings the sender refused (queue full with a drop policy, closed, spool error).
    pub send_errors: u64,
    /// Scrapes of `/metrics` served.
    pub scrapes: u64,
    /// Pushes that succeeded.
    pub pushes: u64,
    /// Pushes that failed after every attempt.
    pub push_failures: u64,
    /// The error of the last failed push.
    pub last_push_error: Option<String>,
    /// The sender's counters, if there is a sender.
    pub sender: Option<StatsSnapshot>,
}

/// Runs a recorder's outputs; [`shutdown`](RecorderHandle::shutdown) (or dropping it) flushes
/// and pushes one last time, stops the listener and shuts the sender down.
pub struct RecorderHandle {
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
    flusher: Option<Arc<Flusher>>,
    pusher: Option<Arc<Pusher>>,
    counters: Arc<Counters>,
    local_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl RecorderHandle {
    /// Every series now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Every series now as Prometheus text, as `/metrics` serves it.
    pub fn render(&self) -> String {
        exposition::exposition(&self.shared.snapshot())
    }

    /// The address `/metrics` is served on, if listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Flushes to the sender now, besides the interval.
    pub fn flush(&self) {
        if let Some(flusher) = &self.flusher {
            flusher.flush();
        }
    }

    /// Pushes now, besides the interval; the error of the last attempt if all failed (also
    /// counted).
    pub fn push(&self) -> Result<(), String> {
        let Some(pusher) = &self.pusher else {
            return Ok(());
        };
        let before = self.counters.push_failures.load(Ordering::Relaxed);
        push_once(pusher, &self.shared, &self.counters, &Stop::default());
        if self.counters.push_failures.load(Ordering::Relaxed) == before {
            Ok(())
        } else {
            Err(self
                .counters
                .last_push_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_default())
        }
    }

    /// The counters now.
    pub fn stats(&self) -> RecorderStats {
        let mut stats = RecorderStats {
            series: self.shared.series(),
            refused_series: self.shared.refused.load(Ordering::Relaxed),
            expired_series: self.shared.expired.load(Ordering::Relaxed),
            scrapes: self.counters.scrapes.load(Ordering::Relaxed),
            pushes: self.counters.pushes.load(Ordering::Relaxed),
            push_failures: self.counters.push_failures.load(Ordering::Relaxed),
            last_push_error: self
                .counters
                .last_push_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            ..RecorderStats::default()
        };
        if let Some(flusher) = &self.flusher {
            flusher.add_stats(&mut stats);
        }
        stats
    }

    /// Stops the interval threads, flushes and pushes a last time, stops the listener and shuts
    /// the sender down (delivering what it holds within its flush timeout); returns the final
    /// counters. A last flush still blocked on a full queue after [`FINAL_FLUSH_WAIT`] is cut
    /// short by closing the sender, so shutdown never hangs on an absent receiver. Later calls
    /// only return the counters.
    pub fn shutdown(&self) -> RecorderStats {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut running) = running {
            running.stop.stop();
            // With `OnFull::Block`, a flush waits while the sender's queue is full, which lasts
            // as long as its receiver is away: give the interval threads and the last flush
            // FINAL_FLUSH_WAIT, then close the sender so that they return (what is left is
            // counted as send errors and in the sender's drops).
            let threads = std::mem::take(&mut running.threads);
            let flusher = self.flusher.clone();
            let (done, finished) = std::sync::mpsc::channel();
            let last = std::thread::spawn(move || {
                for thread in threads {
                    let _ = thread.join();
                }
                if let Some(flusher) = flusher {
                    flusher.flush();
                }
                let _ = done.send(());
            });
            if finished.recv_timeout(FINAL_FLUSH_WAIT).is_err() {
                if let Some(flusher) = &self.flusher {
                    flusher.shutdown_sender();
                }
            }
            let _ = last.join();
            let _ = self.push();
            if let Some(listener) = &mut running.listener {
                listener.stop();
            }
            if let Some(flusher) = &self.flusher {
                flusher.shutdown_sender();
            }
        }
        self.stats()
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
