//! Settings of a [`Sender`], checked when it starts, and the errors they can have.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::Sender;
use super::batch::Framing;
use super::core::{Core, Shared, SpoolShared};
use super::event::{Event, EventHook};
use super::latency::LatencyRecorder;
use super::link::Reopen;
use super::prepare::Prepare;
use super::queue::{OnFull, Queue};
use super::spool::Spool;
use super::stats::{DropReason, Stats};
use super::ticker::{StatsSource, Ticker};
use super::transport::http::{HttpOptions, HttpSettings};
use super::transport::{self, SocketOptions, Target};
use super::writer::Writer;
use crate::backoff::Backoff;
use crate::format::{Encoder, Format};
use crate::reading::DefaultTags;
use crate::tls::{TlsError, TlsOptions};

/// Invalid sender settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The datagram size is out of range for the transport. (The text names the CLI's flag:
    /// it is pinned by tests that predate the library wording.)
    #[error("--max-datagram {size} is out of range for {transport}: use 64 to {max} bytes")]
    DatagramSize {
        /// The size asked for.
        size: usize,
        /// The transport.
        transport: &'static str,
        /// The largest size the transport and Telegraf take.
        max: usize,
    },
    /// The writer or stats thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(String),
    /// A TLS setting cannot be used (a file, or settings that do not go together).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// gzip was asked for on a transport that does not take it.
    #[error("gzip compresses stream connections (unix, tcp, tls); {endpoint} is not one")]
    GzipNotStream {
        /// The endpoint, as written.
        endpoint: String,
    },
    /// The spool directory cannot be used.
    #[error("spool: {error}")]
    Spool {
        /// The directory (the error names the file or directory at fault).
        dir: PathBuf,
        /// What the system said.
        error: String,
    },
    /// TLS settings were given for an endpoint that does not speak TLS.
    #[error("TLS settings are given but {endpoint} is not a TLS endpoint: use tls://host:port")]
    TlsNotUsed {
        /// The endpoint, as written.
        endpoint: String,
    },
    /// An HTTP setting that cannot be used (a header, credentials, the address's precision).
    #[error("http: {reason}")]
    Http {
        /// What is wrong.
        reason: String,
    },
    /// HTTP settings were given for an endpoint that does not speak HTTP.
    #[error(
        "HTTP settings (token, username, headers) are given but {endpoint} is not an http:// or https:// endpoint"
    )]
    HttpNotUsed {
        /// The endpoint, as written.
        endpoint: String,
    },
    /// A sequence field name that no reading may carry.
    #[error("sequence field {field:?}: {reason}")]
    SequenceField {
        /// The name given.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Settings of a [`Sender`]; start it with [`SenderBuilder::start`].
#[must_use]
#[derive(Clone)]
pub struct SenderBuilder {
    pub(super) target: Target,
    pub(super) encoder: Encoder,
    queue_size: usize,
    on_full: OnFull,
    reopen_after: Option<u64>,
    reopen_interval: Option<Duration>,
    backoff_floor: Duration,
    backoff_ceiling: Duration,
    max_datagram: Option<usize>,
    flush_timeout: Duration,
    connect_timeout: Duration,
    send_buffer: Option<usize>,
    measure_latency: bool,
    tls: TlsOptions,
    http: HttpOptions,
    gzip: bool,
    spool: Option<(PathBuf, u64)>,
    on_event: Option<EventHook>,
    default_tags: DefaultTags,
    add_timestamp: bool,
    sequence_field: Option<String>,
    stats_interval: Option<Duration>,
    stats_sources: Vec<StatsSource>,
}

impl SenderBuilder {
    pub(super) fn new(target: Target, encoder: Encoder) -> SenderBuilder {
        SenderBuilder {
            target,
            encoder,
            queue_size: 10_000,
            on_full: OnFull::Block,
            reopen_after: None,
            reopen_interval: None,
            backoff_floor: Duration::from_millis(100),
            backoff_ceiling: Duration::from_secs(10),
            max_datagram: None,
            flush_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            send_buffer: None,
            measure_latency: false,
            tls: TlsOptions::default(),
            http: HttpOptions::default(),
            gzip: false,
            spool: None,
            on_event: None,
            default_tags: DefaultTags::default(),
            add_timestamp: false,
            sequence_field: None,
            stats_interval: None,
            stats_sources: Vec::new(),
        }
    }

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

    /// Close and reopen the connection after this many readings on it ("reopen the socket
    /// after N readings"), however they were batched: a batch is split where the count
    /// falls. Each close is graceful (see [`StatsSnapshot::reopens`](crate::StatsSnapshot)).
    pub fn reopen_after(mut self, readings: Option<u64>) -> Self {
        self.reopen_after = readings.filter(|&n| n > 0);
        self
    }

    /// Close and reopen the connection once it has been open this long (at its next write),
    /// so that a load balancer in front of several receivers spreads long-lived senders.
    pub fn reopen_interval(mut self, interval: Option<Duration>) -> Self {
        self.reopen_interval = interval.filter(|d| !d.is_zero());
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

    /// How to authenticate to an `http://` or `https://` endpoint, extra headers, and the
    /// request timeout (default: no authentication, 5 s).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Compress HTTP request bodies (`Content-Encoding: gzip`), or a stream connection, in
    /// which case the receiver must expect it (Telegraf's `content_encoding = "gzip"`). On a
    /// stream, readings the peer may not have taken when a connection
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

    /// Tags added to every reading that does not have them (Telegraf's `[global_tags]`, done
    /// by the sender; none by default).
    pub fn default_tags(mut self, tags: DefaultTags) -> Self {
        self.default_tags = tags;
        self
    }

    /// Stamp readings that have no timestamp with the time they are sent, in the encoder's
    /// precision (off by default: Telegraf stamps them on arrival). In
    /// [`Format::Json`] readings are always stamped, whatever this says: Telegraf's JSON parser
    /// takes the time from `json_time_key` and refuses an object without it.
    pub fn add_timestamp(mut self, on: bool) -> Self {
        self.add_timestamp = on;
        self
    }

    /// Number the readings sent, from 0, in an unsigned field of this name (replacing a field
    /// of the same name), so a receiver can count readings lost or duplicated in transit
    /// (`telemit listen --seq-field`). Off by default.
    pub fn sequence_field(mut self, field: Option<String>) -> Self {
        self.sequence_field = field;
        self
    }

    /// Also send the sender's own counters ([`StatsSnapshot::to_reading`], measurement
    /// `telemit`) every `interval`, through itself, until shutdown. Off by default.
    ///
    /// [`StatsSnapshot::to_reading`]: super::StatsSnapshot::to_reading
    pub fn stats_interval(mut self, interval: Option<Duration>) -> Self {
        self.stats_interval = interval.filter(|i| !i.is_zero());
        self
    }

    /// With [`stats_interval`](Self::stats_interval): one more reading to send at every tick,
    /// after the sender's own (say, the counters of what feeds the sender). A source that
    /// returns an error is skipped for that tick.
    pub fn stats_source(
        mut self,
        source: impl Fn() -> Result<crate::Reading, crate::ReadingError> + Send + Sync + 'static,
    ) -> Self {
        self.stats_sources.push(Arc::new(source));
        self
    }

    /// The endpoint, or `None` for a [`MemoryTransport`](super::MemoryTransport).
    pub fn endpoint(&self) -> Option<&crate::Endpoint> {
        match &self.target {
            Target::Endpoint(endpoint) => Some(endpoint),
            Target::Memory(_) => None,
        }
    }

    /// Called on the writer thread for each connection [`Event`].
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// The largest record the transport takes, and how records are framed.
    fn limits(&self, shape: &transport::Shape) -> Result<(usize, Framing), ConfigError> {
        let framing = if shape.is_datagram() && self.encoder.format() == Format::Json {
            Framing::JsonArray
        } else {
            Framing::Lines
        };
        let limit = match (shape.datagram, self.max_datagram) {
            (Some(limits), Some(size)) => {
                if !(64..=limits.max).contains(&size) {
                    return Err(ConfigError::DatagramSize {
                        size,
                        transport: shape.name,
                        max: limits.max,
                    });
                }
                size
            }
            (Some(limits), None) => limits.default,
            (None, _) => shape.max_line,
        };
        Ok((limit, framing))
    }

    fn prepare(&self) -> Result<Prepare, ConfigError> {
        if let Some(field) = &self.sequence_field {
            // The same checks a field key gets when a reading is built.
            crate::Reading::builder("m")
                .field(field.clone(), 0u64)
                .build()
                .map_err(|e| ConfigError::SequenceField {
                    field: field.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(Prepare::new(
            self.default_tags.clone(),
            self.add_timestamp,
            self.encoder.format(),
            self.encoder.precision(),
            self.sequence_field.clone(),
        ))
    }

    /// Starts the writer thread. Nothing connects until the first reading is written.
    pub fn start(self) -> Result<Sender, ConfigError> {
        let options = SocketOptions {
            connect_timeout: self.connect_timeout,
            write_timeout: Duration::from_millis(200),
            send_buffer: self.send_buffer,
        };
        let http = HttpSettings {
            options: &self.http,
            gzip: self.gzip,
            format: self.encoder.format(),
            precision: self.encoder.precision(),
        };
        let is_http = matches!(&self.target, Target::Endpoint(e) if e.is_http());
        if self.http.is_set() && !is_http {
            return Err(ConfigError::HttpNotUsed {
                endpoint: self.target.to_string(),
            });
        }
        let connector = transport::connector(&self.target, &options, &self.tls, &http)?;
        let shape = connector.shape();
        let (limit, framing) = self.limits(&shape)?;
        let connector = transport::finish(connector, &self.target, &self.tls, self.gzip)?;
        let prepare = self.prepare()?;
        let (spool, recovered) = match &self.spool {
            Some((dir, max_bytes)) => {
                let (spool, recovered) =
                    Spool::open(dir, *max_bytes).map_err(|e| ConfigError::Spool {
                        dir: dir.clone(),
                        error: e.to_string(),
                    })?;
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
        let writer = Writer::new(
            shared.clone(),
            connector,
            self.target.to_string(),
            framing,
            limit,
            Reopen {
                after_readings: self.reopen_after,
                interval: self.reopen_interval,
            },
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
        let core = Arc::new(Core {
            shared,
            recovered,
            thread: Mutex::new(Some(thread)),
            encoder: self.encoder,
            on_full: self.on_full,
            framing,
            limit,
            datagram: shape.is_datagram(),
            flush_timeout: self.flush_timeout,
            prepare,
        });
        let ticker = match self.stats_interval {
            Some(interval) => {
                let started = Ticker::start(core.clone(), interval, self.stats_sources);
                match started {
                    Ok(ticker) => Some(ticker),
                    Err(error) => {
                        core.shutdown();
                        return Err(ConfigError::Thread(error.to_string()));
                    }
                }
            }
            None => None,
        };
        Ok(Sender {
            core,
            ticker: Mutex::new(ticker),
            target: self.target,
        })
    }
}
