//! telemit gets numbers from a program or a stream to Telegraf's `inputs.socket_listener`,
//! written exactly as Telegraf's parsers read them.
//!
//! - [`reading`]: the [`Reading`] model: measurement, ordered tags, typed fields, timestamp.
//! - [`format`](mod@format): pure encoders for Influx line protocol, Telegraf JSON and Wavefront.
//! - [`input`]: readers for readings arriving as text (line protocol, Wavefront, JSON), with
//!   Telegraf's grammar, and a bounded line source for standard input.
//! - [`endpoint`]: where readings go: [`Endpoint`] parsed from `unix:///…`, `tcp://…`, ….
//! - [`sender`]: the [`Sender`]: queue, batching writer thread, reconnection, drop policies,
//!   one transport per kind of socket (TLS and gzip among them), and a [`MemoryTransport`]
//!   to test code that sends.
//! - [`tls`]: TLS settings shared by the sender, the listener and the WebSocket input.
//! - [`sender::stats`]: counters of what a sender did; [`sender::latency`]: how long readings
//!   wait.
//! - [`usage`]: CPU time and peak memory of the process, for reports.
//! - [`mapping`]: rules that turn JSON messages (WebSocket events) into readings.
//! - [`ws`]: a WebSocket stream, mapped to readings, kept alive and reconnected.
//! - [`listen`]: a receiver with Telegraf's `socket_listener` behaviour, to check a pipeline,
//!   and a [`CountingSink`](listen::CountingSink) that counts what it received.
//! - [`text`]: the excerpt of an offending text that error messages carry.
//! - [`recorder`]: a `metrics` recorder: `counter!`/`gauge!`/`histogram!` flushed to Telegraf,
//!   served at `/metrics` and pushed to a Pushgateway; installed in three lines:
//!
//! ```no_run
//! # use telemit::{Encoder, Format, Sender};
//! let sender = Sender::builder("udp://127.0.0.1:8094".parse()?, Encoder::new(Format::Influx)).start()?;
//! let metrics = telemit::recorder::RecorderBuilder::new().sender(sender).install()?;
//! metrics::counter!("jobs_done_total").increment(1);
//! # metrics.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//!
//! ```
//! use telemit::{Encoder, Format, Reading};
//!
//! let reading = Reading::builder("job")
//!     .tag("name", "nightly import")
//!     .field("rows", 1200i64)
//!     .field("progress", 0.75)
//!     .build()?;
//! let mut line = Vec::new();
//! Encoder::new(Format::Influx).encode(&reading, &mut line)?;
//! assert_eq!(line, b"job,name=nightly\\ import rows=1200i,progress=0.75\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod backoff;
pub mod endpoint;
pub mod format;
pub mod input;
pub mod listen;
pub mod mapping;
pub mod reading;
pub mod recorder;
pub mod sender;
pub mod text;
pub mod tls;
pub mod usage;
pub mod ws;

pub use endpoint::{Endpoint, EndpointError};
pub use format::{EncodeError, Encoder, Format};
pub use input::{InputFormat, ParseError};
pub use reading::{
    DefaultTags, FieldValue, Part, Precision, Reading, ReadingBuilder, ReadingError, Timestamp,
};
// Public only for the benchmarks, which measure datagram packing on its own.
#[doc(hidden)]
pub use sender::batch;
pub use sender::{
    DropReason, LatencySummary, MemoryTransport, OnFull, SendError, Sender, SenderBuilder,
    StatsSnapshot,
};
