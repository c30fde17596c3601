//! A WebSocket stream as a source of readings: connect (`ws://` or `wss://`), subscribe, map
//! every message through a [`Mapping`], and keep the stream alive: ping on an interval,
//! reconnect with jittered backoff when it drops or goes silent, and subscribe again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use crate::tls::TlsOptions;

use crate::mapping::Mapping;
use crate::reading::{Precision, Reading, ReadingError, Timestamp};
use crate::sender::Backoff;

/// How to reach and keep a stream.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// `ws://…` or `wss://…`.
    pub url: String,
    /// Extra request headers (authentication, for example).
    pub headers: Vec<(String, String)>,
    /// Text messages sent after every connect, in order (`{"method":"SUBSCRIBE",…}`).
    pub subscribe: Vec<String>,
    /// How often to ping the server.
    pub ping_interval: Duration,
    /// Reconnect when nothing (not even a pong) arrived for this long.
    pub silence_timeout: Duration,
    /// Limit of one connection attempt, TLS and handshake included.
    pub connect_timeout: Duration,
    /// Backoff floor and ceiling between connection attempts.
    pub backoff: (Duration, Duration),
    /// Largest message accepted; larger ones end the connection (counted as refused).
    pub max_message_size: usize,
    /// Largest frame accepted.
    pub max_frame_size: usize,
    /// A PEM file of extra trusted CA certificates, added to the bundled web roots.
    pub ca_file: Option<PathBuf>,
}

impl WsConfig {
    /// Defaults for `url`: ping every 15 s, reconnect after 45 s of silence, 1 MiB messages.
    pub fn new(url: impl Into<String>) -> Self {
        WsConfig {
            url: url.into(),
            headers: Vec::new(),
            subscribe: Vec::new(),
            ping_interval: Duration::from_secs(15),
            silence_timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(10),
            backoff: (Duration::from_millis(200), Duration::from_secs(30)),
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            ca_file: None,
        }
    }
}

/// The stream's counters, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct WsStats {
    connected: AtomicBool,
    connects: AtomicU64,
    reconnects: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    ignored: AtomicU64,
    mapping_errors: AtomicU64,
    refused: AtomicU64,
    readings: AtomicU64,
}

/// The stream's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsSnapshot {
    /// Whether the stream is connected now.
    pub connected: bool,
    /// Successful connections, the first included.
    pub connects: u64,
    /// Connections after the first.
    pub reconnects: u64,
    /// Messages received.
    pub messages: u64,
    /// Bytes of those messages.
    pub bytes: u64,
    /// Messages no rule applied to (acknowledgements, other event types).
    pub ignored: u64,
    /// Rule failures (missing path, bad number, division by zero, …).
    pub mapping_errors: u64,
    /// Messages refused outright: binary frames that are not UTF-8, oversize messages.
    pub refused: u64,
    /// Readings produced.
    pub readings: u64,
}

impl WsStats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> WsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WsSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            connects: load(&self.connects),
            reconnects: load(&self.reconnects),
            messages: load(&self.messages),
            bytes: load(&self.bytes),
            ignored: load(&self.ignored),
            mapping_errors: load(&self.mapping_errors),
            refused: load(&self.refused),
            readings: load(&self.readings),
        }
    }
}

impl WsSnapshot {
    /// The counters as a reading of measurement `telemit_ws`.
    pub fn to_reading(&self) -> Result<Reading, ReadingError> {
        Reading::builder("telemit_ws")
            .field("connected", self.connected)
            .field("reconnects", self.reconnects)
            .field("messages", self.messages)
            .field("bytes", self.bytes)
            .field("ignored", self.ignored)
            .field("mapping_errors", self.mapping_errors)
            .field("refused", self.refused)
            .field("readings", self.readings)
            .build()
    }
}

/// What happened on the stream, for logs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WsEvent {
    /// Connected (and subscribed).
    Connected {
        /// The URL.
        url: String,
    },
    /// The stream ended or failed; a reconnect follows.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// A connection attempt failed; the next follows after `retry_in`.
    ConnectFailed {
        /// What failed.
        error: String,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// A rule failed on a message.
    MappingError {
        /// Rule name.
        rule: String,
        /// What went wrong.
        reason: String,
        /// The message, trimmed.
        message: String,
    },
    /// A message was refused outright.
    Refused {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for WsEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsEvent::Connected { url } => write!(f, "connected to {url}"),
            WsEvent::Disconnected { reason } => write!(f, "stream lost: {reason}; reconnecting"),
            WsEvent::ConnectFailed { error, retry_in } => {
                write!(
                    f,
                    "cannot connect: {error}; retrying in {:.1}s",
                    retry_in.as_secs_f64()
                )
            }
            WsEvent::MappingError {
                rule,
                reason,
                message,
            } => {
                write!(f, "mapping: rule {rule:?}: {reason}: {message}")
            }
            WsEvent::Refused { reason } => write!(f, "message refused: {reason}"),
        }
    }
}

/// A configuration that cannot be used (bad URL, header or CA file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WsError(String);

/// Runs the stream until `shutdown` resolves: every mapped reading goes to `on_reading` (lent,
/// as by [`Mapping::apply_each`]: send it or clone it), every event to `on_event`. Reconnects
/// forever; returns an error only for a configuration that can never work.
///
/// The connection lives on a reader thread of its own (frames, pings, reconnects), and the
/// caller's task maps what it hands over, so that reading and mapping use two cores. On
/// shutdown the stream is closed and the messages already read are mapped before this returns.
pub async fn run(
    config: &WsConfig,
    mapping: &mut Mapping,
    stats: &WsStats,
    mut on_reading: impl FnMut(&Reading),
    mut on_event: impl FnMut(WsEvent),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WsError> {
    let reader = Reader::new(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WsError(format!("cannot start the stream reader: {e}")))?;
    let (frames, mut incoming) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("telemit-ws-reader".into())
        .spawn(move || runtime.block_on(reader.run(frames, stopped)))
        .map_err(|e| WsError(format!("cannot start the stream reader: {e}")))?;
    tokio::pin!(shutdown);
    // Windows of a series that falls silent close on this tick (Mapping::sweep).
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    let stopped_early = loop {
        let item = tokio::select! {
            () = &mut shutdown => break false,
            _ = sweep.tick() => {
                mapping.sweep(Timestamp::now(Precision::Nanoseconds), &mut on_reading);
                continue;
            }
            item = incoming.recv() => item,
        };
        match item {
            Some(item) => take(item, mapping, stats, &mut on_reading, &mut on_event),
            None => break true,
        }
    };
    let _ = stop.send(true);
    while let Some(item) = incoming.recv().await {
        take(item, mapping, stats, &mut on_reading, &mut on_event);
    }
    // The windows still open close now, so the last seconds of a stream are not lost.
    mapping.finish(&mut on_reading);
    let joined = thread.join();
    stats.connected.store(false, Ordering::Relaxed);
    match joined {
        Err(_) => Err(WsError("the stream reader panicked".into())),
        Ok(()) if stopped_early => Err(WsError("the stream reader stopped".into())),
        Ok(()) => Ok(()),
    }
}

/// Batches the reader may have waiting for the mapping side: with [`BURST`] messages or
/// [`BATCH_BYTES`] at most in each, memory stays bounded when mapping falls behind.
const QUEUED_BATCHES: usize = 8;

/// Frames taken in a row before the reader looks at its timer and stop signal again.
const BURST: usize = 256;

/// A batch is handed over once it holds this many bytes of messages.
const BATCH_BYTES: usize = 64 * 1024;

/// What the reader thread hands to the mapping side, in order.
enum Incoming {
    /// Text messages read together, and when.
    Messages(Vec<Utf8Bytes>, Timestamp),
    /// A message refused outright; the event says why (an oversize message has none: the
    /// disconnection that follows says it).
    Refused(Option<WsEvent>),
    /// A connection event.
    Event(WsEvent),
}

/// The mapping side of one [`Incoming`]: counters, mapping, events.
fn take(
    item: Incoming,
    mapping: &mut Mapping,
    stats: &WsStats,
    on_reading: &mut impl FnMut(&Reading),
    on_event: &mut impl FnMut(WsEvent),
) {
    match item {
        Incoming::Messages(texts, arrival) => {
            for text in &texts {
                map_message(text, arrival, mapping, stats, on_reading, on_event);
            }
        }
        Incoming::Refused(event) => {
            WsStats::add(&stats.refused, 1);
            if let Some(event) = event {
                on_event(event);
            }
        }
        Incoming::Event(event) => {
            match &event {
                WsEvent::Connected { .. } => {
                    if stats.connects.fetch_add(1, Ordering::Relaxed) > 0 {
                        WsStats::add(&stats.reconnects, 1);
                    }
                    stats.connected.store(true, Ordering::Relaxed);
                }
                WsEvent::Disconnected { .. } => stats.connected.store(false, Ordering::Relaxed),
                _ => {}
            }
            on_event(event);
        }
    }
}

fn map_message(
    text: &str,
    arrival: Timestamp,
    mapping: &mut Mapping,
    stats: &WsStats,
    on_reading: &mut impl FnMut(&Reading),
    on_event: &mut impl FnMut(WsEvent),
) {
    WsStats::add(&stats.messages, 1);
    WsStats::add(&stats.bytes, text.len() as u64);
    let outcome = mapping.apply_each(text, arrival, on_reading);
    if !outcome.matched {
        WsStats::add(&stats.ignored, 1);
    }
    for error in outcome.errors {
        WsStats::add(&stats.mapping_errors, 1);
        on_event(WsEvent::MappingError {
            rule: error.rule,
            reason: error.reason,
            message: crate::text::excerpt(text, 160),
        });
    }
    WsStats::add(&stats.readings, outcome.readings as u64);
}

/// The connection side: everything needed to connect, checked before the thread starts.
struct Reader {
    config: WsConfig,
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
    connector: Option<Connector>,
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The hand-over was refused: the mapping side is gone, so the reader stops.
struct MappingSideGone;

async fn hand_over(
    frames: &tokio::sync::mpsc::Sender<Incoming>,
    item: Incoming,
) -> Result<(), MappingSideGone> {
    frames.send(item).await.map_err(|_| MappingSideGone)
}

impl Reader {
    fn new(config: &WsConfig) -> Result<Reader, WsError> {
        let connector = connector(config)?;
        let mut request = config
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| WsError(format!("{}: {e}", config.url)))?;
        for (name, value) in &config.headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| WsError(format!("header {name:?}: {e}")))?;
            let value = value
                .parse()
                .map_err(|e| WsError(format!("header {name}: {e}")))?;
            request.headers_mut().append(name, value);
        }
        Ok(Reader {
            config: config.clone(),
            request,
            connector,
        })
    }

    /// Connects, subscribes, reads and reconnects until `stopped` turns true (or the mapping
    /// side is gone), then closes the stream.
    async fn run(
        self,
        frames: tokio::sync::mpsc::Sender<Incoming>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let stop = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tokio::pin!(stop);
        let _ = self.connect_and_read(&frames, &mut stop).await;
    }

    /// Connects and subscribes; what failed, as text.
    async fn open(&self, ws_config: WebSocketConfig) -> Result<WsStream, String> {
        let config = &self.config;
        let attempt = connect_async_tls_with_config(
            self.request.clone(),
            Some(ws_config),
            true,
            self.connector.clone(),
        );
        let mut stream = match timeout(config.connect_timeout, attempt).await {
            Ok(Ok((stream, _response))) => stream,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no answer within {:?}", config.connect_timeout)),
        };
        for message in &config.subscribe {
            stream
                .send(Message::Text(message.as_str().into()))
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
        }
        Ok(stream)
    }

    async fn connect_and_read(
        &self,
        frames: &tokio::sync::mpsc::Sender<Incoming>,
        stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Result<(), MappingSideGone> {
        let config = &self.config;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_message_size))
            .max_frame_size(Some(config.max_frame_size));
        let mut backoff = Backoff::new(config.backoff.0, config.backoff.1);
        loop {
            let opened = tokio::select! {
                result = self.open(ws_config) => result,
                () = stop.as_mut() => return Ok(()),
            };
            let delay = match opened {
                Ok(mut stream) => {
                    backoff.reset();
                    let url = config.url.clone();
                    hand_over(frames, Incoming::Event(WsEvent::Connected { url })).await?;
                    let Some(reason) = self.read(&mut stream, frames, stop).await? else {
                        let _ = stream.close(None).await;
                        return Ok(());
                    };
                    hand_over(frames, Incoming::Event(WsEvent::Disconnected { reason })).await?;
                    backoff.next_delay()
                }
                Err(error) => {
                    // Only the first failure of a series is logged.
                    let retry_in = backoff.next_delay();
                    if backoff.failures() == 1 {
                        let event = WsEvent::ConnectFailed { error, retry_in };
                        hand_over(frames, Incoming::Event(event)).await?;
                    }
                    retry_in
                }
            };
            tokio::select! {
                () = sleep(delay) => {}
                () = stop.as_mut() => return Ok(()),
            }
        }
    }

    /// Reads one connection until it ends (`Some(reason)`) or the reader is stopped (`None`),
    /// pinging on the interval and handing messages over in batches.
    async fn read(
        &self,
        stream: &mut WsStream,
        frames: &tokio::sync::mpsc::Sender<Incoming>,
        stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> Result<Option<String>, MappingSideGone> {
        let config = &self.config;
        let mut pings = tokio::time::interval(config.ping_interval);
        pings.reset();
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                biased;
                () = stop.as_mut() => return Ok(None),
                _ = pings.tick() => {
                    if last_heard.elapsed() >= config.silence_timeout {
                        return Ok(Some(format!("nothing received for {:?}", config.silence_timeout)));
                    }
                    if let Err(e) = stream.send(Message::Ping(Bytes::new())).await {
                        return Ok(Some(format!("ping: {e}")));
                    }
                }
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    let arrival = Timestamp::now(Precision::Nanoseconds);
                    // Frames already buffered are taken without going back through select!,
                    // a burst at a time, so that pings and the stop signal get their turn.
                    let mut batch = Vec::new();
                    let mut batch_bytes = 0;
                    let mut next = Some(incoming);
                    let mut taken = 0;
                    let mut ended = None;
                    while let Some(incoming) = next.take() {
                        match classify(incoming) {
                            Frame::Text(text) => {
                                batch_bytes += text.len();
                                batch.push(text);
                            }
                            Frame::Other => {}
                            Frame::Refused(reason) => {
                                let texts = std::mem::take(&mut batch);
                                hand_over(frames, Incoming::Messages(texts, arrival)).await?;
                                let event = WsEvent::Refused { reason };
                                hand_over(frames, Incoming::Refused(Some(event))).await?;
                            }
                            Frame::End { reason, oversize } => {
                                if oversize {
                                    hand_over(frames, Incoming::Refused(None)).await?;
                                }
                                ended = Some(reason);
                                break;
                            }
                        }
                        taken += 1;
                        if taken == BURST || batch_bytes >= BATCH_BYTES {
                            break;
                        }
                        next = stream.next().now_or_never();
                    }
                    if !batch.is_empty() {
                        hand_over(frames, Incoming::Messages(batch, arrival)).await?;
                    }
                    if ended.is_some() {
                        return Ok(ended);
                    }
                }
            }
        }
    }
}

/// One frame, as the reader sees it.
enum Frame {
    Text(Utf8Bytes),
    /// A ping (answered by the library) or a pong.
    Other,
    /// Refused, with the reason; the connection goes on.
    Refused(String),
    /// The connection is over.
    End {
        reason: String,
        oversize: bool,
    },
}

fn classify(incoming: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Frame {
    match incoming {
        None => Frame::End {
            reason: "the server closed the stream".to_owned(),
            oversize: false,
        },
        Some(Err(e)) => Frame::End {
            oversize: matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_)),
            reason: e.to_string(),
        },
        Some(Ok(Message::Text(text))) => Frame::Text(text),
        Some(Ok(Message::Binary(bytes))) => {
            let length = bytes.len();
            match Utf8Bytes::try_from(bytes) {
                Ok(text) => Frame::Text(text),
                Err(e) => Frame::Refused(format!(
                    "binary message of {length} bytes is not UTF-8 text: {e}"
                )),
            }
        }
        Some(Ok(Message::Close(frame))) => Frame::End {
            reason: match frame {
                Some(frame) => format!(
                    "the server closed the stream: {} {}",
                    frame.code, frame.reason
                ),
                None => "the server closed the stream".to_owned(),
            },
            oversize: false,
        },
        Some(Ok(_)) => Frame::Other,
    }
}

/// TLS with the bundled web roots, plus the CA file's certificates when one is given.
fn connector(config: &WsConfig) -> Result<Option<Connector>, WsError> {
    if !config.url.starts_with("wss://") {
        return Ok(Some(Connector::Plain));
    }
    let tls = TlsOptions {
        ca_file: config.ca_file.clone(),
        ..TlsOptions::default()
    }
    .client_config()
    .map_err(|e| WsError(e.to_string()))?;
    Ok(Some(Connector::Rustls(tls)))
}
