//! One builder wires the registry to its outputs: a telemit [`Sender`], a `/metrics` listener
//! and a Pushgateway.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::distribution::{Distributions, Layout, Pattern};
use super::flusher::{Flusher, Stop};
use super::handle::RecorderHandle;
use super::http::Listener;
use super::push::{PushConfig, Pusher};
use super::readings::DEFAULT_MEASUREMENT;
use super::registry::{Shared, TelemitRecorder};
use super::{RecorderError, exposition};
use crate::Sender;

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

pub(crate) fn spawn(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, RecorderError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| RecorderError::Thread(e.to_string()))
}

pub(crate) fn push_once(pusher: &Pusher, shared: &Shared, counters: &Counters, stop: &Stop) {
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
    pub(crate) pushes: AtomicU64,
    pub(crate) push_failures: AtomicU64,
    pub(crate) last_push_error: Mutex<Option<String>>,
}

pub(crate) struct Running {
    pub(crate) stop: Arc<Stop>,
    pub(crate) threads: Vec<JoinHandle<()>>,
    pub(crate) listener: Option<Listener>,
}
