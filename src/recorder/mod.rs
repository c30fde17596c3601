//! A [`metrics`] recorder: the `counter!`, `gauge!` and `histogram!` calls of a program (and of
//! every library it uses) aggregated in process, then flushed to Telegraf through a telemit
//! [`Sender`](crate::Sender), served at `/metrics` for Prometheus, and pushed to a Pushgateway.
//!
//! Installing it takes three lines (here the sender writes to standard output; give it
//! `tcp://…`, `udp://…` or `unix:///…` for Telegraf, and add `.listen(addr)` for `/metrics`):
//!
//! ```
//! use telemit::recorder::RecorderBuilder;
//! use telemit::{Encoder, Format, Sender};
//!
//! let sender = Sender::builder("-".parse()?, Encoder::new(Format::Influx)).start()?;
//! let metrics = RecorderBuilder::new().sender(sender).install()?;
//! metrics::counter!("api_called_total", "inner_ip" => "10.0.0.1").increment(1);
//! // … every 10 s the series go out; at exit, a last flush:
//! let stats = metrics.shutdown();
//! assert_eq!(stats.readings, 1); // prometheus,inner_ip=10.0.0.1 api_called_total=1.0 …
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces, as metrics-exporter-prometheus splits them: [`TelemitRecorder`] keeps the series
//! (handles are atomics; registering is the only slow path); [`distribution`] chooses buckets
//! or a summary per histogram name; a [`Snapshot`] becomes readings ([`readings()`], Telegraf's
//! Prometheus `metric_version = 2` layout) or text ([`exposition()`]) as pure functions; the
//! flusher, the HTTP listener and the pusher are the only I/O; [`RecorderBuilder`] wires them.
//!
//! Series: counters are cumulative (or deltas per flush with [`CounterMode::Delta`]); gauges
//! are set, incremented and decremented; histograms are summaries (count, sum, min, max and
//! quantiles 0.5, 0.9, 0.99 from a DDSketch with 0.1 % relative error) unless a rule makes them
//! cumulative `le` buckets. Labels become tags; global tags go on every series.

mod builder;
pub mod distribution;
mod exposition;
mod flusher;
mod handle;
mod http;
mod push;
mod readings;
mod registry;
mod snapshot;

pub use builder::{CounterMode, FINAL_FLUSH_WAIT, RecorderBuilder};
pub use distribution::{DEFAULT_QUANTILES, Layout, Pattern};
pub use exposition::{CONTENT_TYPE, exposition};
pub use handle::{RecorderHandle, RecorderStats};
pub use push::PushConfig;
pub use readings::{DEFAULT_MEASUREMENT, readings};
pub use registry::TelemitRecorder;
pub use snapshot::{
    HistogramValue, Series, SeriesValue, Snapshot, SummaryValue, prometheus_label, prometheus_name,
};

/// Why a recorder could not be configured or started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// A metric name pattern is empty or has a `*` other than at its start or end.
    #[error("metric name pattern {0:?}: use `name`, `prefix*` or `*suffix`")]
    Pattern(String),
    /// Bucket bounds are empty, not finite or not increasing.
    #[error("histogram buckets: {0}")]
    Buckets(String),
    /// A quantile is outside 0..=1.
    #[error("summary quantile {0} is outside 0..=1")]
    Quantile(f64),
    /// A global tag has an empty key or value.
    #[error("global tag {0:?}={1:?}: key and value must not be empty")]
    GlobalTag(String, String),
    /// The measurement is empty.
    #[error("the measurement name is empty")]
    Measurement,
    /// An interval is zero.
    #[error("the {0} interval is zero")]
    Interval(&'static str),
    /// The push URL cannot be used.
    #[error("push URL {0:?}: {1}")]
    PushUrl(String, &'static str),
    /// The `/metrics` listener could not start.
    #[error("serving /metrics on {addr}: {message}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What went wrong.
        message: String,
    },
    /// A thread could not be started.
    #[error("starting a recorder thread: {0}")]
    Thread(String),
    /// Another recorder is already installed in this process.
    #[error("a metrics recorder is already installed in this process")]
    Installed,
}
