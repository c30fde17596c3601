//! The InfluxDB write API over HTTP(S): each batch of whole readings is one POST, and the
//! status the server answers decides what becomes of it (see [`classify`]).
//!
//! Servers that speak it: InfluxDB 1.x (`/write?db=`), 2.x and 3.x (`/api/v2/write?org=&bucket=`),
//! VictoriaMetrics (`/write`), and Telegraf's `influxdb_listener`, `influxdb_v2_listener` and
//! `http_listener_v2`. The client is `ureq` (blocking, rustls); `https://` goes through the
//! same TLS settings as `tls://` (a private CA besides the web roots, a client certificate, the
//! name to verify).

use std::io;
use std::time::{Duration, SystemTime};

use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector as UreqConnector, TcpConnector,
};

use super::{Connect, DatagramLimits, Shape, SocketOptions, Transport};
use crate::endpoint::Endpoint;
use crate::format::Format;
use crate::reading::Precision;
use crate::sender::ConfigError;
use crate::tls::TlsOptions;

mod answer;
mod tls;
mod url;
use answer::{classify, request_error, retry_after, server_message};
use tls::Tls;
use url::with_precision;

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

#[cfg(test)]
mod tests {
    use super::*;

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
