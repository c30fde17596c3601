//! How to reach and keep a stream: [`WsConfig`].

use std::path::PathBuf;
use std::time::Duration;

/// How to reach and keep a stream. Start from [`WsConfig::new`] and change the fields that
/// differ.
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// Backoff floor and ceiling between connection attempts: the delay doubles per failure
    /// from the floor up to the ceiling, times a random factor in [0.5, 1), and starts again
    /// from the floor once a connection opens.
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
