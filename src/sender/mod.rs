//! The sender: a bounded queue in front of a writer thread that batches, reconnects with
//! backoff, and counts every reading it could not deliver.
//!
//! [`Sender::send`] prepares the reading (the builder's default tags, timestamp and sequence
//! number), encodes it at once (so an unrepresentable reading is reported to the caller, with
//! its reason) and queues the bytes in the calling thread's shard of the queue, so that
//! producer threads do not wait for each other. The writer thread takes everything queued in
//! one go and
//! writes it with one `write` on a stream socket, or packs it into as few datagrams as the
//! size limit allows. When the socket fails, the connection goes back to `Disconnected` and is
//! opened again after a jittered exponential backoff; on stream sockets whatever the kernel
//! had not handed to the peer (Linux `SIOCOUTQ`; on TCP also the last second's readings) is
//! written again on the new connection, so delivery is at-least-once. Before and after each
//! write the writer checks, without waiting, that the receiver has not closed its side: what
//! was written after it closed is written again, not counted as written. At shutdown and at
//! each planned reopen the close is graceful and confirmed by the receiver (see
//! [`StatsSnapshot::unconfirmed`]).
//!
//! - `builder.rs`: [`SenderBuilder`] and [`ConfigError`]; `event.rs`: [`Event`].
//! - `core.rs`: the producer's side (prepare, encode, queue or spool); `prepare.rs`,
//!   `ticker.rs`: reading options and the stats ticker.
//! - `queue.rs`, `spool.rs`, `batch.rs`: where readings wait and how they are packed;
//!   `queue.rs` also says how producers scale.
//! - `writer.rs`: the writer thread's connection state machine; `retained.rs`: what to resend;
//!   `refusal.rs`: a batch the receiver answered without taking (HTTP).
//! - `transport/`: one file per kind of socket behind a small trait, and
//!   [`MemoryTransport`] for tests.
//! - [`stats`], [`latency`]: counters and enqueue-to-write latency.

// Public only for the benchmarks, which measure packing on its own; not part of the API.
#[doc(hidden)]
pub mod batch;
mod builder;
mod core;
mod event;
pub mod latency;
mod link;
mod prepare;
mod queue;
mod refusal;
mod retained;
mod spool;
pub mod stats;
mod ticker;
mod transport;
mod writer;

use std::sync::{Arc, Mutex};

pub use builder::{ConfigError, SenderBuilder};
pub use event::Event;
pub use latency::LatencySummary;
pub use queue::OnFull;
pub use spool::Recovered;
pub use stats::{DropReason, StatsSnapshot};
pub use transport::http::{DEFAULT_HTTP_BODY, HttpOptions, MAX_HTTP_BODY, MAX_RETRY_AFTER};
pub use transport::memory::MemoryTransport;
pub use transport::{
    DEFAULT_UDP_DATAGRAM, DEFAULT_UNIXGRAM_DATAGRAM, MAX_UDP_PAYLOAD, TELEGRAF_MAX_LINE,
};

use crate::endpoint::Endpoint;
use crate::format::{EncodeError, Encoder};
use crate::reading::Reading;
use core::Core;
use latency::LatencyRecorder;
use ticker::Ticker;
use transport::Target;

/// Why [`Sender::send`] did not queue a reading. Every case is also counted in the stats.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The reading cannot be written in the sender's format.
    #[error(transparent)]
    Unrepresentable(#[from] EncodeError),
    /// The encoded reading is longer than one datagram or stream line may be.
    #[error("reading of {len} bytes is longer than the {max}-byte limit of {transport}")]
    Oversize {
        /// Encoded length.
        len: usize,
        /// The limit.
        max: usize,
        /// The kind of socket.
        transport: &'static str,
    },
    /// The queue was full and the policy is [`OnFull::DropNewest`].
    #[error("queue full: reading dropped")]
    QueueFull,
    /// The sender is shutting down.
    #[error("the sender is closed")]
    Closed,
    /// The spool could not be written (a full disk, say): the reading is dropped.
    #[error("cannot write to the spool: {0}")]
    Spool(String),
}

/// Checks at once that a Unix socket endpoint (`unix://`, `unixgram://`) can be written to,
/// for a one-shot sender that would otherwise wait out its flush timeout: the path exists,
/// is a socket, this user may write to it (Telegraf's `socket_mode` and the socket's group),
/// and a receiver listens. The error names the path and the fix. Other endpoints pass.
pub fn check_reachable(endpoint: &Endpoint) -> Result<(), String> {
    transport::check_reachable(endpoint).map_err(|e| e.to_string())
}

/// Sends readings to one endpoint from any number of threads.
///
/// Share one sender between threads (in an `Arc`): each thread encodes its own readings and
/// queues them in a shard of the queue that is its own unless there are more threads than
/// shards (two per core), so threads do not take turns on a lock per reading and more
/// producers send more, until the one writer thread's socket writes are the limit. A thread's
/// readings are written in the order it sent them; readings of different threads interleave
/// in batches. The queue's bound ([`SenderBuilder::queue_size`]) and the policy when it is full
/// ([`OnFull`]) hold for all threads together, and every reading is counted exactly.
///
/// What that gives on a 16-core host, worked out from a profile of `benches/producers.rs` on a
/// 2-core machine (3-tag, 3-field readings stamped as sent, into a Unix stream; of the CPU time,
/// 79 % was the producers', 15 % the writer's, 6 % the receiver's): a producer spends about
/// 150 ns on a reading (stamp, encode, copy into its shard) and the writer about 30 ns, nearly
/// all of it the kernel's copy of the bytes into the socket. Nothing a producer does per
/// reading writes memory that another producer writes: its shard's lock is taken by the writer
/// once per batch, and the shared count of free slots once per chunk of up to 256 readings. So
/// 16 producers on 16 cores do 16 times the work at once, and the rate grows until the one
/// writer is busy all the time: at 30 ns a reading, about 33 million readings/s, 5 times one
/// producer's 6 to 7 million. Once a shard holds a full batch the writer writes its buffer as
/// it is, so however many producers there are, a reading is copied once by its producer and
/// once by the kernel. On UDP the writer pays a system call per datagram of 1 432 bytes (about
/// 11 readings), so there the writer's send path, not the hand-over, sets the ceiling.
///
/// ```no_run
/// use telemit::{Encoder, Format, Reading, Sender};
///
/// let sender = Sender::builder("unix:///tmp/telegraf.sock".parse()?, Encoder::new(Format::Influx))
///     .start()?;
/// sender.send(&Reading::builder("job").field("progress", 0.5).build()?)?;
/// let stats = sender.shutdown();
/// println!("{}", stats.summary());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sender {
    core: Arc<Core>,
    ticker: Mutex<Option<Ticker>>,
    target: Target,
}

impl Sender {
    /// Settings for a sender to `endpoint` in `encoder`'s format, with defaults.
    pub fn builder(endpoint: Endpoint, encoder: Encoder) -> SenderBuilder {
        SenderBuilder::new(Target::Endpoint(endpoint), encoder)
    }

    /// Settings for a sender that delivers into `memory`, for tests (see [`MemoryTransport`]).
    pub fn memory_builder(memory: &MemoryTransport, encoder: Encoder) -> SenderBuilder {
        SenderBuilder::new(Target::Memory(memory.clone()), encoder)
    }

    /// Prepares `reading` as the builder says (default tags, timestamp, sequence number),
    /// encodes it and queues it. With [`OnFull::Block`] this waits while the queue is full.
    /// Every error is also counted in [`Sender::stats`].
    pub fn send(&self, reading: &Reading) -> Result<(), SendError> {
        self.core.send(reading)
    }

    /// Queues one reading that is already encoded in the sender's format, as
    /// [`Encoder::encode`] would append it (a newline-terminated line for influx and
    /// wavefront; a JSON object, whose newline is dropped where objects are framed in an
    /// array). It is counted and held to the transport's limit like a reading given to
    /// [`Sender::send`], but not prepared (no default tags, timestamp or sequence number) and
    /// not checked otherwise: the caller vouches for its bytes. `telemit pipe` forwards lines
    /// it has checked to be canonical this way
    /// ([`CanonicalCheck`](crate::input::line_protocol::CanonicalCheck)).
    pub fn send_encoded(&self, record: &[u8]) -> Result<(), SendError> {
        self.core.send_encoded(record)
    }

    /// What the spool held when this sender opened it, if it has one.
    pub fn spool_recovered(&self) -> Option<Recovered> {
        self.core.recovered
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.core.stats()
    }

    /// Enqueue-to-write latency percentiles so far, if the sender was built to
    /// [measure them](SenderBuilder::measure_latency).
    pub fn latency(&self) -> Option<LatencySummary> {
        self.core
            .shared
            .latency
            .as_ref()
            .map(LatencyRecorder::summary)
    }

    /// The endpoint, or `None` for a [`MemoryTransport`].
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match &self.target {
            Target::Endpoint(endpoint) => Some(endpoint),
            Target::Memory(_) => None,
        }
    }

    /// Stops taking readings, delivers what is queued within the flush timeout (dropping and
    /// counting the rest), and returns the final counters. Later calls of [`Sender::send`] fail
    /// with [`SendError::Closed`]; calling it again only returns the counters.
    pub fn shutdown(&self) -> StatsSnapshot {
        let ticker = self.ticker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(ticker) = ticker {
            ticker.stop();
        }
        self.core.shutdown()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests;
