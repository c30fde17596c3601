//! The connection side of a stream: a task that connects, subscribes, reads frames in
//! bursts, pings, and reconnects with backoff, handing messages to the mapping side in batches
//! over a bounded channel.

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{Connector, connect_async_tls_with_config};

use crate::backoff::Backoff;
use crate::reading::{Precision, Timestamp};
use crate::tls::TlsOptions;
use crate::ws::{WsConfig, WsError, WsEvent};

/// Batches the reader may have waiting for the mapping side: with [`BURST`] messages or
/// [`BATCH_BYTES`] at most in each, memory stays bounded when mapping falls behind.
pub(super) const QUEUED_BATCHES: usize = 8;

/// Frames taken in a row before the reader looks at its timer and stop signal again.
const BURST: usize = 256;

/// A batch is handed over once it holds this many bytes of messages.
const BATCH_BYTES: usize = 64 * 1024;

/// What the reader task hands to the mapping side, in order.
pub(super) enum Incoming {
    /// Text messages read together, and when.
    Messages(Vec<Utf8Bytes>, Timestamp),
    /// A message refused outright; the event says why (an oversize message has none: the
    /// disconnection that follows says it).
    Refused(Option<WsEvent>),
    /// A connection event.
    Event(WsEvent),
}

/// The connection side: everything needed to connect, checked before the task starts.
pub(super) struct Reader {
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
    pub(super) fn new(config: &WsConfig) -> Result<Reader, WsError> {
        let connector = connector(config)?;
        let mut request = config
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| WsError::Url {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        for (name, value) in &config.headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| WsError::HeaderName {
                        name: name.clone(),
                        reason: e.to_string(),
                    })?;
            let value = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(value)
                .map_err(|e| WsError::HeaderValue {
                    name: name.to_string(),
                    reason: e.to_string(),
                })?;
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
    pub(super) async fn run(
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
    .client_config()?;
    Ok(Some(Connector::Rustls(tls)))
}

#[cfg(test)]
mod tests {
    use super::Reader;
    use crate::ws::{WsConfig, WsError};

    #[test]
    fn a_url_that_is_not_one_is_named() {
        let Err(WsError::Url { url, reason }) = Reader::new(&WsConfig::new("ws//x")) else {
            panic!("a URL without a scheme is refused");
        };
        assert_eq!(url, "ws//x");
        assert_eq!(reason, "HTTP format error: invalid format");
    }

    #[test]
    fn bad_headers_are_named_and_a_bad_value_is_not_repeated() {
        let mut config = WsConfig::new("ws://127.0.0.1:1/");
        config.headers = vec![("x y".into(), "v".into())];
        let Err(error @ WsError::HeaderName { .. }) = Reader::new(&config) else {
            panic!("a header name with a space is refused");
        };
        assert!(error.to_string().starts_with("header \"x y\": "), "{error}");
        config.headers = vec![("Authorization".into(), "secret\u{7}".into())];
        let Err(error @ WsError::HeaderValue { .. }) = Reader::new(&config) else {
            panic!("a header value with a control character is refused");
        };
        let text = error.to_string();
        assert!(text.starts_with("header authorization: "), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_missing_ca_file_is_a_tls_error() {
        let mut config = WsConfig::new("wss://127.0.0.1:1/");
        config.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(Reader::new(&config), Err(WsError::Tls(_))));
    }
}
