//! The sender: a bounded queue in front of a writer thread that batches, reconnects with
//! backoff, and counts every reading it could not deliver.
//!
//! [`Sender::send`] encodes the reading at once (so an unrepresentable reading is reported to
//! the caller, with its reason) and queues the bytes. The writer thread takes everything queued
//! in one go and writes it with one `write` on a stream socket, or packs it into as few
//! datagrams as the size limit allows. When the socket fails, the connection goes back to
//! `Disconnected` and is opened again after a jittered exponential backoff; on stream sockets
//! whatever the kernel had not handed to the peer (Linux `SIOCOUTQ`) is written again on the new
//! connection, so delivery is at-least-once.

use crate::backoff;
mod outq;
mod queue;
mod retained;
mod spool;
mod transport;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use backoff::Backoff;
pub use queue::OnFull;

use crate::batch::Framing;
use crate::endpoint::Endpoint;
use crate::format::{EncodeError, Encoder, Format, json};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::reading::Reading;
use crate::stats::{DropReason, Stats, StatsSnapshot};
use crate::tls::{TlsError, TlsOptions};
use queue::{Pushed, Queue};
pub use spool::Recovered;
use spool::Spool;
use transport::SocketOptions;

/// Telegraf reads at most 64 KiB per line on stream sockets (more closes the connection) and
/// per datagram (UDP reads into a 64 KiB buffer; longer unixgram datagrams are cut).
pub const TELEGRAF_MAX_LINE: usize = 64 * 1024;

/// The largest payload of one IPv4 UDP datagram.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// The default largest UDP payload: fits a 1500-byte Ethernet frame with IPv4/IPv6 headers, so
/// datagrams are not fragmented on a real network.
pub const DEFAULT_UDP_DATAGRAM: usize = 1432;

/// The default largest Unix datagram: Telegraf's default `read_buffer_size` (64 KiB) would cut
/// anything longer; we stay below the kernel's default socket buffer as well.
pub const DEFAULT_UNIXGRAM_DATAGRAM: usize = 64 * 1024 - 1;

/// Something the connection did, for logs: one event per incident, never one per reading.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The first connection attempt of an incident failed; more follow with backoff.
    ConnectFailed {
        /// Where.
        endpoint: String,
        /// What the system said.
        error: String,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// Delivering again after an outage.
    Reconnected {
        /// Where.
        endpoint: String,
        /// Failed connection attempts and short-lived connections during the outage.
        failures: u32,
        /// Readings written again because the peer may not have taken them.
        resent: usize,
    },
    /// An open connection failed.
    ConnectionLost {
        /// Where.
        endpoint: String,
        /// What the system said.
        error: String,
    },
    /// The flush timeout ran out at shutdown with readings still undelivered.
    GaveUp {
        /// Where.
        endpoint: String,
        /// Readings dropped.
        dropped: u64,
    },
    /// The flush timeout ran out at shutdown with readings in the spool: the next run sends
    /// them.
    LeftInSpool {
        /// Where.
        endpoint: String,
        /// Readings waiting in the spool.
        readings: u64,
    },
    /// The spool could not be read or updated.
    SpoolError {
        /// What the system said.
        error: String,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::ConnectFailed {
                endpoint,
                error,
                retry_in,
            } => write!(
                f,
                "cannot connect to {endpoint}: {error}; retrying with backoff (next in {:.1}s), readings wait in the queue",
                retry_in.as_secs_f64()
            ),
            Event::Reconnected {
                endpoint,
                failures,
                resent,
            } => write!(
                f,
                "delivering to {endpoint} again after {failures} failed attempts; {resent} readings the peer may not have taken were sent again"
            ),
            Event::ConnectionLost { endpoint, error } => {
                write!(f, "connection to {endpoint} lost: {error}; reconnecting")
            }
            Event::GaveUp { endpoint, dropped } => write!(
                f,
                "flush timeout: {dropped} readings could not be delivered to {endpoint}"
            ),
            Event::LeftInSpool { endpoint, readings } => write!(
                f,
                "flush timeout: {readings} readings not yet delivered to {endpoint} wait in the spool for the next run"
            ),
            Event::SpoolError { error } => write!(f, "spool: {error}; retrying"),
        }
    }
}

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

/// Invalid sender settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The datagram size is out of range for the transport.
    #[error("--max-datagram {size} is out of range for {transport}: use 64 to {max} bytes")]
    DatagramSize {
        /// The size asked for.
        size: usize,
        /// The transport.
        transport: &'static str,
        /// The largest size the transport and Telegraf take.
        max: usize,
    },
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(String),
    /// A TLS setting cannot be used (a file, or settings that do not go together).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// gzip was asked for on a transport that does not take it.
    #[error("--gzip compresses stream connections (unix, tcp, tls); {endpoint} is not one")]
    GzipNotStream {
        /// The endpoint, as written.
        endpoint: String,
    },
    /// The spool directory cannot be used.
    #[error("spool: {0}")]
    Spool(String),
    /// TLS settings were given for an endpoint that does not speak TLS.
    #[error("TLS settings are given but {endpoint} is not a TLS endpoint: use tls://host:port")]
    TlsNotUsed {
        /// The endpoint, as written.
        endpoint: String,
    },
}

type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// Settings of a [`Sender`]; start it with [`SenderBuilder::start`].
#[must_use]
#[derive(Clone)]
pub struct SenderBuilder {
    endpoint: Endpoint,
    encoder: Encoder,
    queue_size: usize,
    on_full: OnFull,
    reopen_after: Option<u64>,
    backoff_floor: Duration,
    backoff_ceiling: Duration,
    max_datagram: Option<usize>,
    flush_timeout: Duration,
    connect_timeout: Duration,
    send_buffer: Option<usize>,
    measure_latency: bool,
    tls: TlsOptions,
    gzip: bool,
    spool: Option<(PathBuf, u64)>,
    on_event: Option<EventHook>,
}

impl SenderBuilder {
    /// How many readings may wait (default 10 000).
    pub fn queue_size(mut self, readings: usize) -> Self {
        self.queue_size = readings.max(1);
        self
    }

    /// What to do when the queue is full (default [`OnFull::Block`]).
    pub fn on_full(mut self, policy: OnFull) -> Self {
        self.on_full = policy;
        self
    }

    /// Close and reopen a stream connection after this many writes.
    pub fn reopen_after(mut self, writes: Option<u64>) -> Self {
        self.reopen_after = writes.filter(|&n| n > 0);
        self
    }

    /// Backoff between connection attempts (default 100 ms to 10 s).
    pub fn backoff(mut self, floor: Duration, ceiling: Duration) -> Self {
        self.backoff_floor = floor;
        self.backoff_ceiling = ceiling;
        self
    }

    /// Largest datagram payload (default 1432 bytes for UDP, 65 535 for unixgram).
    pub fn max_datagram(mut self, bytes: Option<usize>) -> Self {
        self.max_datagram = bytes;
        self
    }

    /// How long shutdown may take to deliver what is queued (default 5 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// How long one TCP connection attempt may take (default 3 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Kernel send buffer size (`SO_SNDBUF`) for TCP and UDP sockets.
    pub fn send_buffer(mut self, bytes: Option<usize>) -> Self {
        self.send_buffer = bytes;
        self
    }

    /// How to speak TLS to a `tls://` endpoint (default: verify the server against the
    /// bundled web roots, no client certificate).
    pub fn tls(mut self, options: TlsOptions) -> Self {
        self.tls = options;
        self
    }

    /// Compress a stream connection with gzip; the receiver must expect it (Telegraf's
    /// `content_encoding = "gzip"`). Readings the peer may not have taken when a connection
    /// fails are still sent again, from the last flush point it passed.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Keep readings in an append-only spool in `dir`, of at most `max_bytes`, when the queue
    /// is full (the receiver is away or slow) instead of blocking or dropping; they are sent,
    /// in order, once the receiver takes them again, and a restart sends what an earlier run
    /// left. When the spool is full too, the [`OnFull`] policy applies.
    pub fn spool(mut self, dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        self.spool = Some((dir.into(), max_bytes));
        self
    }

    /// Measure how long each reading waits from [`Sender::send`] to its socket write; read the
    /// percentiles with [`Sender::latency`]. Costs a clock read per reading (off by default).
    pub fn measure_latency(mut self, on: bool) -> Self {
        self.measure_latency = on;
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Called on the writer thread for each connection [`Event`].
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// The largest record the endpoint takes, and how records are framed.
    fn limits(&self) -> Result<(usize, Framing), ConfigError> {
        let framing = if self.endpoint.is_datagram() && self.encoder.format() == Format::Json {
            Framing::JsonArray
        } else {
            Framing::Lines
        };
        let limit = match (&self.endpoint, self.max_datagram) {
            (Endpoint::Udp { .. } | Endpoint::Unixgram(_), Some(size)) => {
                let (transport, max) = match self.endpoint {
                    Endpoint::Udp { .. } => ("udp", MAX_UDP_PAYLOAD),
                    _ => ("unixgram", TELEGRAF_MAX_LINE),
                };
                if !(64..=max).contains(&size) {
                    return Err(ConfigError::DatagramSize {
                        size,
                        transport,
                        max,
                    });
                }
                size
            }
            (Endpoint::Udp { .. }, None) => DEFAULT_UDP_DATAGRAM,
            (Endpoint::Unixgram(_), None) => DEFAULT_UNIXGRAM_DATAGRAM,
            (Endpoint::Stdout, _) => usize::MAX,
            _ => TELEGRAF_MAX_LINE,
        };
        Ok((limit, framing))
    }

    /// Starts the writer thread. Nothing connects until the first reading is written.
    pub fn start(self) -> Result<Sender, ConfigError> {
        let (limit, framing) = self.limits()?;
        let tls = match &self.endpoint {
            Endpoint::Tls { host, .. } => {
                Some((self.tls.client_config()?, self.tls.server_name(host)?))
            }
            other if self.tls.is_set() => {
                return Err(ConfigError::TlsNotUsed {
                    endpoint: other.to_string(),
                });
            }
            _ => None,
        };
        if self.gzip
            && !matches!(
                self.endpoint,
                Endpoint::Unix(_) | Endpoint::Tcp { .. } | Endpoint::Tls { .. }
            )
        {
            return Err(ConfigError::GzipNotStream {
                endpoint: self.endpoint.to_string(),
            });
        }
        let (spool, recovered) = match &self.spool {
            Some((dir, max_bytes)) => {
                let (spool, recovered) =
                    Spool::open(dir, *max_bytes).map_err(|e| ConfigError::Spool(e.to_string()))?;
                let shared = SpoolShared {
                    spool: Mutex::new(spool),
                    room: Condvar::new(),
                };
                (Some(shared), Some(recovered))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            queue: Queue::new(self.queue_size, self.measure_latency),
            stats: Stats::default(),
            latency: self.measure_latency.then(LatencyRecorder::new),
            spool,
            stop_at: OnceLock::new(),
        });
        let writer = writer::Writer::new(
            shared.clone(),
            self.endpoint.clone(),
            SocketOptions {
                connect_timeout: self.connect_timeout,
                write_timeout: Duration::from_millis(200),
                send_buffer: self.send_buffer,
                tls,
                gzip: self.gzip,
            },
            framing,
            limit,
            self.reopen_after,
            Backoff::new(self.backoff_floor, self.backoff_ceiling),
            self.on_event.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("telemit-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| ConfigError::Thread(e.to_string()))?;
        if let Some(recovered) = recovered {
            shared
                .stats
                .add_dropped(DropReason::SpoolDamaged, recovered.damaged);
        }
        Ok(Sender {
            shared,
            recovered,
            thread: Mutex::new(Some(thread)),
            encoder: self.encoder,
            on_full: self.on_full,
            framing,
            limit,
            endpoint: self.endpoint,
            flush_timeout: self.flush_timeout,
        })
    }
}

pub(crate) struct Shared {
    pub queue: Queue,
    pub stats: Stats,
    pub latency: Option<LatencyRecorder>,
    pub spool: Option<SpoolShared>,
    /// Set at shutdown: after this instant the writer gives up on what it has not delivered.
    pub stop_at: OnceLock<Instant>,
}

/// The spool, and where producers blocked on a full spool wait for room.
pub(crate) struct SpoolShared {
    pub spool: Mutex<Spool>,
    pub room: Condvar,
}

impl SpoolShared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    pub fn past_deadline(&self) -> bool {
        self.stop_at.get().is_some_and(|t| Instant::now() >= *t)
    }
}

thread_local! {
    /// Each producing thread's scratch buffer for the reading it is sending.
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sends readings to one endpoint from any number of threads.
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
    shared: Arc<Shared>,
    recovered: Option<Recovered>,
    thread: Mutex<Option<JoinHandle<()>>>,
    encoder: Encoder,
    on_full: OnFull,
    framing: Framing,
    limit: usize,
    endpoint: Endpoint,
    flush_timeout: Duration,
}

impl Sender {
    /// Settings for a sender to `endpoint` in `encoder`'s format, with defaults.
    pub fn builder(endpoint: Endpoint, encoder: Encoder) -> SenderBuilder {
        SenderBuilder {
            endpoint,
            encoder,
            queue_size: 10_000,
            on_full: OnFull::Block,
            reopen_after: None,
            backoff_floor: Duration::from_millis(100),
            backoff_ceiling: Duration::from_secs(10),
            max_datagram: None,
            flush_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            send_buffer: None,
            measure_latency: false,
            tls: TlsOptions::default(),
            gzip: false,
            spool: None,
            on_event: None,
        }
    }

    /// Encodes `reading` and queues it. With [`OnFull::Block`] this waits while the queue is
    /// full. Every error is also counted in [`Sender::stats`].
    pub fn send(&self, reading: &Reading) -> Result<(), SendError> {
        let stats = &self.shared.stats;
        stats.add_in();
        // Encoding happens before the queue's lock is taken: the writer is never kept waiting
        // behind a long reading, and the lock is held only to copy the bytes in.
        let pushed = ENCODED.with_borrow_mut(|record| {
            record.clear();
            if let Err(error) = self.encode(reading, record) {
                let reason = match error {
                    SendError::Oversize { .. } => DropReason::Oversize,
                    _ => DropReason::Unrepresentable,
                };
                stats.add_dropped(reason, 1);
                return Err(error);
            }
            let pushed = match &self.shared.spool {
                None => self.shared.queue.push(self.on_full, record),
                Some(spool) => self
                    .push_or_spool(spool, record)
                    .inspect_err(|_| stats.add_dropped(DropReason::SendError, 1))?,
            };
            // One huge reading must not pin its size in every thread that sent it.
            record.shrink_to(TELEGRAF_MAX_LINE);
            Ok(pushed)
        })?;
        match pushed {
            Pushed::Queued { dropped_oldest } => {
                if dropped_oldest {
                    stats.add_dropped(DropReason::QueueFull, 1);
                }
                Ok(())
            }
            Pushed::DroppedNewest => {
                stats.add_dropped(DropReason::QueueFull, 1);
                Err(SendError::QueueFull)
            }
            Pushed::Closed => {
                stats.add_dropped(DropReason::SendError, 1);
                Err(SendError::Closed)
            }
        }
    }

    /// With a spool: into the queue while the spool is empty and the queue has room, else to
    /// the end of the spool, so that readings keep their order.
    fn push_or_spool(&self, spool: &SpoolShared, record: &[u8]) -> Result<Pushed, SendError> {
        let mut guard = spool.lock();
        if guard.is_empty() {
            match self.shared.queue.push(OnFull::DropNewest, record) {
                Pushed::DroppedNewest => {}
                other => return Ok(other),
            }
        }
        let mut dropped_oldest = false;
        loop {
            if self.shared.queue.is_closed() {
                return Ok(Pushed::Closed);
            }
            let appended = guard
                .append(record)
                .map_err(|e| SendError::Spool(e.to_string()))?;
            if appended {
                self.shared.stats.add_spooled(1);
                self.shared.queue.wake();
                return Ok(Pushed::Queued { dropped_oldest });
            }
            match self.on_full {
                OnFull::DropNewest => return Ok(Pushed::DroppedNewest),
                OnFull::DropOldest => {
                    let dropped = guard
                        .drop_oldest()
                        .map_err(|e| SendError::Spool(e.to_string()))?;
                    if !dropped {
                        // Larger than the whole spool: nothing older to make room with.
                        return Ok(Pushed::DroppedNewest);
                    }
                    if dropped_oldest {
                        self.shared.stats.add_dropped(DropReason::QueueFull, 1);
                    }
                    dropped_oldest = true;
                }
                OnFull::Block => {
                    guard = spool.room.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// What the spool held when this sender opened it, if it has one.
    pub fn spool_recovered(&self) -> Option<Recovered> {
        self.recovered
    }

    /// Encodes one reading as the endpoint frames it into the empty `out`, within its limit.
    fn encode(&self, reading: &Reading, out: &mut Vec<u8>) -> Result<(), SendError> {
        match self.framing {
            Framing::Lines => self.encoder.encode(reading, out)?,
            Framing::JsonArray => json::encode_object(
                reading,
                self.encoder.precision(),
                self.encoder.json_options(),
                out,
            )?,
        }
        let len = self.framing.single_len(out.len());
        if len > self.limit {
            return Err(SendError::Oversize {
                len,
                max: self.limit,
                transport: if self.endpoint.is_datagram() {
                    "a datagram"
                } else {
                    "a stream line in Telegraf"
                },
            });
        }
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = self.shared.stats.snapshot();
        snapshot.queue_depth = self.shared.queue.depth() as u64;
        if let Some(spool) = &self.shared.spool {
            snapshot.spool_depth = spool.lock().len();
        }
        snapshot
    }

    /// Enqueue-to-write latency percentiles so far, if the sender was built to
    /// [measure them](SenderBuilder::measure_latency).
    pub fn latency(&self) -> Option<LatencySummary> {
        self.shared.latency.as_ref().map(LatencyRecorder::summary)
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Stops taking readings, delivers what is queued within the flush timeout (dropping and
    /// counting the rest), and returns the final counters. Later calls of [`Sender::send`] fail
    /// with [`SendError::Closed`]; calling it again only returns the counters.
    pub fn shutdown(&self) -> StatsSnapshot {
        let _ = self.shared.stop_at.set(Instant::now() + self.flush_timeout);
        self.shared.queue.close();
        if let Some(spool) = &self.shared.spool {
            // Producers waiting for room in a full spool give up: the sender is closed.
            let _guard = spool.lock();
            spool.room.notify_all();
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        self.stats()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shutdown();
    }
}
