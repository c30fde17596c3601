//! The InfluxDB write API over HTTP(S): each batch of whole readings is one POST, and the
//! status the server answers decides what becomes of it (see [`classify`]).
//!
//! Servers that speak it: InfluxDB 1.x (`/write?db=`), 2.x and 3.x (`/api/v2/write?org=&bucket=`),
//! VictoriaMetrics (`/write`), and Telegraf's `influxdb_listener`, `influxdb_v2_listener` and
//! `http_listener_v2`. The client is `ureq` (blocking, rustls); `https://` goes through the
//! same TLS settings as `tls://` (a private CA besides the web roots, a client certificate, the
//! name to verify).

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::ServerName;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector as UreqConnector, Either,
    LazyBuffers, NextTimeout, TcpConnector, Transport as UreqTransport, TransportAdapter,
};

use super::{Connect, DatagramLimits, Refusal, Shape, SocketOptions, Transport};
use crate::endpoint::Endpoint;
use crate::format::Format;
use crate::reading::Precision;
use crate::sender::ConfigError;
use crate::tls::{TlsOptions, explain};

/// The default largest request body before compression: small enough that a retried batch
/// costs little, large enough for thousands of readings.
pub const DEFAULT_HTTP_BODY: usize = 1024 * 1024;

/// The largest request body: InfluxDB 1.x's default `max-body-size` (25 000 000 bytes), the
/// smallest default limit among the servers above (Telegraf's listeners take 32 MiB).
pub const MAX_HTTP_BODY: usize = 25_000_000;

/// How much of an answer's body is read for its message.
const MAX_ANSWER: usize = 16 * 1024;

/// The longest wait a `Retry-After` answer is granted; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How the HTTP transport authenticates and what it adds to each request, with the option
/// names of Telegraf's `outputs.influxdb` and `outputs.influxdb_v2`. Compression is the
/// sender's [`gzip`](crate::SenderBuilder::gzip) (Telegraf's `content_encoding = "gzip"`).
///
/// ```
/// use telemit::sender::HttpOptions;
///
/// let options = HttpOptions {
///     token: Some("my-token".into()),
///     http_headers: vec![("X-Team".into(), "infra".into())],
///     ..HttpOptions::default()
/// };
/// assert!(options.is_set());
/// // Secrets stay out of logs.
/// assert!(!format!("{options:?}").contains("my-token"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Sent as `Authorization: Token …` (InfluxDB 2.x/3.x API tokens; InfluxDB 1.x takes
    /// `username:password` here too).
    pub token: Option<String>,
    /// Basic authentication user (InfluxDB 1.x with `auth-enabled`, Telegraf's listeners'
    /// `basic_username`).
    pub username: Option<String>,
    /// Basic authentication password; needs `username`.
    pub password: Option<String>,
    /// Extra request headers, as Telegraf's `http_headers`.
    pub http_headers: Vec<(String, String)>,
    /// How long one request may take, from connecting to the end of the answer (Telegraf's
    /// `timeout`; default 5 s). A request that times out is sent again.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            token: None,
            username: None,
            password: None,
            http_headers: Vec::new(),
            timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |secret: &Option<String>| secret.as_ref().map(|_| "<hidden>");
        f.debug_struct("HttpOptions")
            .field("token", &hidden(&self.token))
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field(
                "http_headers",
                &self.http_headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpOptions {
    /// True when anything other than the default is set.
    pub fn is_set(&self) -> bool {
        *self != HttpOptions::default()
    }

    /// The headers every request carries (authentication first), checked.
    fn headers(&self) -> Result<Vec<(String, String)>, String> {
        let mut headers = Vec::new();
        match (&self.token, &self.username, &self.password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err("give a token or a username and password, not both".into());
            }
            (Some(token), None, None) => {
                headers.push(("Authorization".into(), format!("Token {token}")))
            }
            (None, Some(user), password) => {
                if user.contains(':') {
                    return Err(format!(
                        "username {user:?} contains ':', which basic authentication cannot carry"
                    ));
                }
                let pair = format!("{user}:{}", password.as_deref().unwrap_or(""));
                headers.push((
                    "Authorization".into(),
                    format!("Basic {}", base64(pair.as_bytes())),
                ));
            }
            (None, None, Some(_)) => return Err("a password needs a username".into()),
            (None, None, None) => {}
        }
        for (name, value) in &self.http_headers {
            // RFC 9110 §5.1: a field name is a token.
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                return Err(format!(
                    "header name {name:?} is not a valid HTTP field name"
                ));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(format!(
                    "header {name}: the value contains a control character"
                ));
            }
            headers.push((name.clone(), value.clone()));
        }
        Ok(headers)
    }
}

/// Standard base64 (RFC 4648 §4) of `bytes`, for basic authentication.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Everything the HTTP transport takes from the sender's settings.
pub(crate) struct HttpSettings<'a> {
    pub options: &'a HttpOptions,
    pub gzip: bool,
    pub format: Format,
    pub precision: Precision,
}

pub(super) struct Connector {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    content_type: &'static str,
    gzip: bool,
    https: bool,
}

impl Connector {
    /// Checks the settings and builds the client now, so that a bad file or header is a
    /// configuration error rather than a failure at the first batch.
    /// `endpoint` is `http://` or `https://` (`https` says which) with host `host`.
    pub fn new(
        endpoint: &Endpoint,
        host: &str,
        https: bool,
        socket: &SocketOptions,
        tls: &TlsOptions,
        settings: &HttpSettings<'_>,
    ) -> Result<Connector, ConfigError> {
        let error = |reason: String| ConfigError::Http { reason };
        let headers = settings.options.headers().map_err(error)?;
        let url = with_precision(&endpoint.to_string(), settings.format, settings.precision)
            .map_err(error)?;
        // A request to an address the client cannot parse would fail on every retry.
        ureq::http::Uri::try_from(url.as_str())
            .map_err(|e| error(format!("{url}: not a valid URL: {e}")))?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(settings.options.timeout))
            .timeout_connect(Some(socket.connect_timeout))
            .http_status_as_error(false)
            // A redirected POST becomes a GET without its body: a 3xx is an address to fix.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("telemit/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = if https {
            let tls = Tls {
                config: tls.client_config()?,
                name: tls.server_name(host)?,
            };
            // ureq's own chain, with this TLS in place of its own: a CONNECT proxy from the
            // environment (HTTPS_PROXY) still applies.
            ureq::Agent::with_parts(
                config,
                ().chain(ConnectProxyConnector::default())
                    .chain(TcpConnector::default())
                    .chain(tls),
                ureq::unversioned::resolver::DefaultResolver::default(),
            )
        } else {
            ureq::Agent::new_with_config(config)
        };
        let content_type = match settings.format {
            Format::Json => "application/json",
            _ => "text/plain; charset=utf-8",
        };
        Ok(Connector {
            agent,
            url,
            headers,
            content_type,
            gzip: settings.gzip,
            https,
        })
    }
}

/// `url` with the `precision` query parameter line protocol needs, in the spelling the path's
/// API takes: `ns`, `us`, `ms`, `s` for `/api/v2/write`; the 1.x `/write` (InfluxDB,
/// VictoriaMetrics, Telegraf's `influxdb_listener`) takes `u` for microseconds and reads
/// `us` as nanoseconds. A precision already in the address must agree with the encoder's.
fn with_precision(url: &str, format: Format, precision: Precision) -> Result<String, String> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let v2 = path.trim_end_matches('/').ends_with("/api/v2/write");
    // The spelling sent, and the other one the API also takes for the unit.
    let (word, also) = match precision {
        Precision::Seconds => ("s", "s"),
        Precision::Milliseconds => ("ms", "ms"),
        Precision::Microseconds if v2 => ("us", "us"),
        Precision::Microseconds => ("u", "u"),
        Precision::Nanoseconds if v2 => ("ns", "ns"),
        Precision::Nanoseconds => ("ns", "n"),
    };
    let given = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("precision="));
    if let Some(given) = given {
        return if format != Format::Influx || given == word || given == also {
            Ok(url.to_owned())
        } else {
            Err(format!(
                "the address says precision={given} but timestamps are written in {word}: \
                 drop it from the address or set --precision to match"
            ))
        };
    }
    if format != Format::Influx {
        // Telegraf's http_listener_v2 reads JSON and Wavefront times by its own settings.
        return Ok(url.to_owned());
    }
    let joiner = if query.is_empty() {
        if url.ends_with('?') { "" } else { "?" }
    } else {
        "&"
    };
    Ok(format!("{url}{joiner}precision={word}"))
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape {
            name: if self.https { "https" } else { "http" },
            datagram: Some(DatagramLimits {
                default: DEFAULT_HTTP_BODY,
                max: MAX_HTTP_BODY,
            }),
            max_line: MAX_HTTP_BODY,
            confirms_delivery: true,
            // Each body is answered: nothing is left unread or unconfirmed.
            unsent_is_unread: true,
            reconnectable: true,
            compressible: false,
            tls: self.https,
            acknowledges: true,
            compresses_bodies: true,
        }
    }

    /// Nothing to open: the client keeps its own pool of connections.
    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        Ok(Box::new(Http {
            agent: self.agent.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            content_type: self.content_type,
            gzip: self.gzip.then(Vec::new),
        }))
    }
}

struct Http {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    content_type: &'static str,
    /// The compressed body, reused from one batch to the next; `None` without gzip.
    gzip: Option<Vec<u8>>,
}

impl Transport for Http {
    /// One batch, one POST; `Ok` only on a 2xx answer.
    fn send_datagram(&mut self, payload: &[u8]) -> io::Result<()> {
        use std::io::Read;
        let mut request = self.agent.post(&self.url).content_type(self.content_type);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = match &mut self.gzip {
            Some(buffer) => {
                use std::io::Write;
                buffer.clear();
                let mut encoder = flate2::write::GzEncoder::new(
                    std::mem::take(buffer),
                    flate2::Compression::fast(),
                );
                encoder.write_all(payload)?;
                *buffer = encoder.finish()?;
                request = request.header("Content-Encoding", "gzip");
                buffer.as_slice()
            }
            None => payload,
        };
        match request.send(body) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, SystemTime::now()));
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // Only the start of an error answer is kept: InfluxDB repeats every bad line.
                let mut raw = Vec::new();
                let _ = response
                    .body_mut()
                    .as_reader()
                    .take(MAX_ANSWER as u64)
                    .read_to_end(&mut raw);
                let text = String::from_utf8_lossy(&raw);
                let mut message = server_message(&text);
                if let (Some(location), 300..=399) = (location, status) {
                    message = format!("redirected to {location}: give that address instead");
                }
                classify(status, message, retry_after)
            }
            Err(error) => Err(request_error(error, &self.url)),
        }
    }

    fn close(self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        Ok(())
    }
}

/// What an answer means for the batch: 2xx delivered; 429 and 503 come back after the
/// server's `Retry-After` (or the backoff); 408 and other 5xx are sent again with backoff;
/// any other status (4xx, a redirect) is the batch's or the address's fault, so it is not sent
/// again and its readings are counted as rejected, with the server's message.
fn classify(status: u16, message: String, retry_after: Option<Duration>) -> io::Result<()> {
    let text = |message: &str| {
        let reason = http_reason(status);
        if message.is_empty() {
            format!("HTTP {status} {reason}")
        } else {
            format!("HTTP {status} {reason}: {message}")
        }
    };
    match status {
        200..=299 => Ok(()),
        429 | 503 => Err(Refusal::RetryAfter {
            delay: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            message: text(&message),
        }
        .into()),
        408 | 500..=599 => Err(io::Error::other(text(&message))),
        413 => Err(Refusal::Rejected {
            dropped: None,
            message: text(&if message.is_empty() {
                "send smaller bodies (--max-body-size)".to_owned()
            } else {
                format!("{message}; send smaller bodies (--max-body-size)")
            }),
        }
        .into()),
        _ => Err(Refusal::Rejected {
            dropped: partial_write_dropped(&message),
            message: text(&message),
        }
        .into()),
    }
}

fn http_reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// The readable part of an error answer: InfluxDB 1.x's `{"error": …}`, 2.x's `{"message": …}`,
/// or the text itself; its first line (InfluxDB gives one per bad line), at most 512
/// characters, with `…` where it was cut.
fn server_message(body: &str) -> String {
    let body = body.trim();
    let mut text = None;
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(body) {
        text = ["error", "message"]
            .iter()
            .find_map(|key| object.get(*key)?.as_str().map(str::to_owned));
    }
    // A message cut short is not JSON any more; its start still reads well.
    let text = text.unwrap_or_else(|| {
        let body = body.strip_prefix("{\"error\":\"").unwrap_or(body);
        body.replace("\\n", "\n")
    });
    let text = text.trim();
    let first = text.lines().next().unwrap_or("");
    let mut short: String = first.chars().take(512).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// In a partial write, how many readings the server dropped: InfluxDB writes `dropped=N` at
/// the end of its message (1.x and 2.x alike), and stores the rest of the batch.
fn partial_write_dropped(message: &str) -> Option<u64> {
    if !message.contains("partial write") {
        return None;
    }
    let at = message.rfind("dropped=")?;
    let digits: String = message[at + "dropped=".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A failed request as an I/O error the writer retries with backoff. A timeout is reported as
/// such but not with the kind `TimedOut`, which the writer reads as "try again at once".
fn request_error(error: ureq::Error, url: &str) -> io::Error {
    let kind = match &error {
        ureq::Error::ConnectionFailed => io::ErrorKind::ConnectionRefused,
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            io::ErrorKind::ConnectionRefused
        }
        _ => io::ErrorKind::Other,
    };
    let text = match &error {
        ureq::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    };
    io::Error::new(kind, format!("POST {url}: {text}"))
}

/// TLS for `https://` with telemit's own settings ([`TlsOptions`]): the same trust, client
/// certificate and name check as `tls://`, which ureq's own TLS settings cannot all express.
#[derive(Debug)]
struct Tls {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl<In: UreqTransport> UreqConnector<In> for Tls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let server = self.name.to_str().into_owned();
        let failure = |e: rustls::Error| ureq::Error::Io(io::Error::other(explain(&e, &server)));
        let mut connection = rustls::ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(failure)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection.complete_io(&mut socket).map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => failure(tls.clone()),
                None => ureq::Error::Io(e),
            }
        })?;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: rustls::StreamOwned::new(connection, socket),
        })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: rustls::StreamOwned<rustls::ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl UreqTransport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        use std::io::Write;
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        use std::io::Read;
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: io::Result<()>) -> Option<Refusal> {
        let error = result.err()?;
        super::super::refusal(&error).cloned()
    }

    #[test]
    fn statuses_decide_what_becomes_of_a_batch() {
        assert!(classify(204, String::new(), None).is_ok());
        assert_eq!(
            refusal(classify(429, String::new(), Some(Duration::from_secs(7)))),
            Some(Refusal::RetryAfter {
                delay: Some(Duration::from_secs(7)),
                message: "HTTP 429 Too Many Requests".into()
            })
        );
        assert_eq!(
            refusal(classify(
                503,
                "busy".into(),
                Some(Duration::from_secs(3600))
            )),
            Some(Refusal::RetryAfter {
                delay: Some(MAX_RETRY_AFTER),
                message: "HTTP 503 Service Unavailable: busy".into()
            })
        );
        let retried = classify(500, "oops".into(), None).unwrap_err();
        assert!(super::super::refusal(&retried).is_none());
        assert_eq!(retried.to_string(), "HTTP 500 Internal Server Error: oops");
        assert!(super::super::refusal(&classify(408, String::new(), None).unwrap_err()).is_none());
        let message = "partial write: field type conflict: input field \"v\" on measurement \"m\" \
                       is type string, already exists as type float dropped=2";
        assert_eq!(
            refusal(classify(400, message.into(), None)),
            Some(Refusal::Rejected {
                dropped: Some(2),
                message: format!("HTTP 400 Bad Request: {message}")
            })
        );
        assert_eq!(
            refusal(classify(401, "unauthorized access".into(), None)),
            Some(Refusal::Rejected {
                dropped: None,
                message: "HTTP 401 Unauthorized: unauthorized access".into()
            })
        );
    }

    #[test]
    fn server_messages_are_read_from_json_or_text() {
        assert_eq!(
            server_message("{\"error\":\"database not found: \\\"x\\\"\"}\n"),
            "database not found: \"x\""
        );
        assert_eq!(
            server_message(
                "{\"code\":\"invalid\",\"message\":\"unable to parse 'x': missing fields\"}"
            ),
            "unable to parse 'x': missing fields"
        );
        assert_eq!(server_message("  plain text\n"), "plain text");
        assert_eq!(server_message(&"x".repeat(600)).chars().count(), 513);
        assert_eq!(
            server_message("{\"error\":\"unable to parse 'a': bad\\nunable to parse 'b': bad\"}"),
            "unable to parse 'a': bad…"
        );
        assert_eq!(
            server_message("{\"error\":\"unable to parse 'a': bad\\nunable to parse 'b"),
            "unable to parse 'a': bad…"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn precision_goes_in_the_query_in_the_api_spelling() {
        let influx = Format::Influx;
        assert_eq!(
            with_precision("http://h:8086/write?db=t", influx, Precision::Nanoseconds).unwrap(),
            "http://h:8086/write?db=t&precision=ns"
        );
        assert_eq!(
            with_precision("http://h:8086/write?db=t", influx, Precision::Microseconds).unwrap(),
            "http://h:8086/write?db=t&precision=u"
        );
        assert_eq!(
            with_precision(
                "http://h/api/v2/write?org=o&bucket=b",
                influx,
                Precision::Microseconds
            )
            .unwrap(),
            "http://h/api/v2/write?org=o&bucket=b&precision=us"
        );
        assert_eq!(
            with_precision("http://h:8186/telegraf", influx, Precision::Seconds).unwrap(),
            "http://h:8186/telegraf?precision=s"
        );
        assert_eq!(
            with_precision(
                "http://h/write?db=t&precision=ms",
                influx,
                Precision::Milliseconds
            )
            .unwrap(),
            "http://h/write?db=t&precision=ms"
        );
        assert_eq!(
            with_precision(
                "http://h/write?db=t&precision=s",
                influx,
                Precision::Nanoseconds
            )
            .unwrap_err(),
            "the address says precision=s but timestamps are written in ns: drop it from the \
             address or set --precision to match"
        );
        assert_eq!(
            with_precision("http://h:8186/telegraf", Format::Json, Precision::Seconds).unwrap(),
            "http://h:8186/telegraf"
        );
    }

    #[test]
    fn options_are_checked() {
        let headers = |options: HttpOptions| options.headers();
        assert_eq!(
            headers(HttpOptions {
                username: Some("u".into()),
                password: Some("p".into()),
                ..HttpOptions::default()
            })
            .unwrap(),
            [("Authorization".to_owned(), "Basic dTpw".to_owned())]
        );
        assert_eq!(
            headers(HttpOptions {
                token: Some("t".into()),
                username: Some("u".into()),
                ..HttpOptions::default()
            })
            .unwrap_err(),
            "give a token or a username and password, not both"
        );
        assert_eq!(
            headers(HttpOptions {
                http_headers: vec![("Bad Name".into(), "v".into())],
                ..HttpOptions::default()
            })
            .unwrap_err(),
            "header name \"Bad Name\" is not a valid HTTP field name"
        );
        assert_eq!(
            headers(HttpOptions {
                password: Some("p".into()),
                ..HttpOptions::default()
            })
            .unwrap_err(),
            "a password needs a username"
        );
    }
}
