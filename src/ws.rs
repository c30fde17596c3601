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
use tokio_tungstenite::tungstenite::{Bytes, Message};
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
/// as by [`Mapping::apply_each`]: send it or clone it), every event to `on_event`. Reconnects forever; returns an error only for a configuration that can
/// never work.
pub async fn run(
    config: &WsConfig,
    mapping: &mut Mapping,
    stats: &WsStats,
    mut on_reading: impl FnMut(&Reading),
    mut on_event: impl FnMut(WsEvent),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WsError> {
    let connector = connector(config)?;
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| WsError(format!("{}: {e}", config.url)))?;
    for (name, value) in &config.headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| WsError(format!("header {name:?}: {e}")))?;
        let value = value
            .parse()
            .map_err(|e| WsError(format!("header {name}: {e}")))?;
        request.headers_mut().append(name, value);
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_frame_size));
    let mut backoff = Backoff::new(config.backoff.0, config.backoff.1);
    tokio::pin!(shutdown);

    loop {
        let attempt = timeout(
            config.connect_timeout,
            connect_async_tls_with_config(
                request.clone(),
                Some(ws_config),
                true,
                connector.clone(),
            ),
        );
        let connected = tokio::select! {
            result = attempt => result,
            () = &mut shutdown => return Ok(()),
        };
        let mut stream = match connected {
            Ok(Ok((stream, _response))) => stream,
            Ok(Err(e)) => {
                if wait_backoff(&mut backoff, e.to_string(), &mut on_event, &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
            Err(_) => {
                let error = format!("no answer within {:?}", config.connect_timeout);
                if wait_backoff(&mut backoff, error, &mut on_event, &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
        };
        let mut subscribed = Ok(());
        for message in &config.subscribe {
            subscribed = stream.send(Message::Text(message.as_str().into())).await;
            if subscribed.is_err() {
                break;
            }
        }
        if let Err(e) = subscribed {
            let error = format!("subscribe: {e}");
            if wait_backoff(&mut backoff, error, &mut on_event, &mut shutdown).await {
                return Ok(());
            }
            continue;
        }
        if stats.connects.fetch_add(1, Ordering::Relaxed) > 0 {
            WsStats::add(&stats.reconnects, 1);
        }
        stats.connected.store(true, Ordering::Relaxed);
        backoff.reset();
        on_event(WsEvent::Connected {
            url: config.url.clone(),
        });

        let mut pings = tokio::time::interval(config.ping_interval);
        pings.reset();
        let mut last_heard = Instant::now();
        let reason = loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = stream.close(None).await;
                    stats.connected.store(false, Ordering::Relaxed);
                    return Ok(());
                }
                _ = pings.tick() => {
                    if last_heard.elapsed() >= config.silence_timeout {
                        break format!("nothing received for {:?}", config.silence_timeout);
                    }
                    if let Err(e) = stream.send(Message::Ping(Bytes::new())).await {
                        break format!("ping: {e}");
                    }
                }
                incoming = stream.next() => {
                    last_heard = Instant::now();
                    // Frames already buffered are taken without going back through select!,
                    // a burst at a time, so that pings and shutdown still get their turn.
                    let mut next = Some(incoming);
                    let mut taken = 0;
                    let mut outcome = Ok(());
                    while let Some(incoming) = next.take() {
                        outcome =
                            take_frame(incoming, mapping, stats, &mut on_reading, &mut on_event);
                        taken += 1;
                        if outcome.is_err() || taken == BURST {
                            break;
                        }
                        next = stream.next().now_or_never();
                    }
                    if let Err(reason) = outcome {
                        break reason;
                    }
                }
            }
        };
        stats.connected.store(false, Ordering::Relaxed);
        on_event(WsEvent::Disconnected { reason });
        let delay = backoff.next_delay();
        tokio::select! {
            () = sleep(delay) => {}
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// Frames taken in a row before the stream loop looks at its timer and shutdown again.
const BURST: usize = 256;

/// Maps one incoming frame; `Err` with the reason when the connection is over.
fn take_frame(
    incoming: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    mapping: &mut Mapping,
    stats: &WsStats,
    on_reading: &mut impl FnMut(&Reading),
    on_event: &mut impl FnMut(WsEvent),
) -> Result<(), String> {
    let text = match incoming {
        None => return Err("the server closed the stream".to_owned()),
        Some(Err(e)) => {
            if matches!(e, tokio_tungstenite::tungstenite::Error::Capacity(_)) {
                WsStats::add(&stats.refused, 1);
            }
            return Err(e.to_string());
        }
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
            Ok(text) => text.into(),
            Err(e) => {
                WsStats::add(&stats.refused, 1);
                on_event(WsEvent::Refused {
                    reason: format!(
                        "binary message of {} bytes is not UTF-8 text: {e}",
                        bytes.len()
                    ),
                });
                return Ok(());
            }
        },
        Some(Ok(Message::Close(frame))) => {
            return Err(match frame {
                Some(frame) => format!(
                    "the server closed the stream: {} {}",
                    frame.code, frame.reason
                ),
                None => "the server closed the stream".to_owned(),
            });
        }
        Some(Ok(_)) => return Ok(()), // ping (answered by the library), pong
    };
    WsStats::add(&stats.messages, 1);
    WsStats::add(&stats.bytes, text.len() as u64);
    let arrival = Timestamp::now(Precision::Nanoseconds);
    let outcome = mapping.apply_each(&text, arrival, on_reading);
    if !outcome.matched {
        WsStats::add(&stats.ignored, 1);
    }
    for error in outcome.errors {
        WsStats::add(&stats.mapping_errors, 1);
        on_event(WsEvent::MappingError {
            rule: error.rule,
            reason: error.reason,
            message: crate::text::excerpt(&text, 160),
        });
    }
    WsStats::add(&stats.readings, outcome.readings as u64);
    Ok(())
}

/// Waits out the backoff after a failed attempt (logging the first of a series); true when
/// shutdown came first.
async fn wait_backoff(
    backoff: &mut Backoff,
    error: String,
    on_event: &mut impl FnMut(WsEvent),
    shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> bool {
    let retry_in = backoff.next_delay();
    if backoff.failures() == 1 {
        on_event(WsEvent::ConnectFailed { error, retry_in });
    }
    tokio::select! {
        () = sleep(retry_in) => false,
        () = shutdown.as_mut() => true,
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
