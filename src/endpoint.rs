//! Where readings go: an address parsed from `unix:///path`, `unixgram:///path`,
//! `tcp://host:port`, `tls://host:port`, `udp://host:port`, or `-` for standard output.
//!
//! As in Telegraf's `service_address` (Go's `net.Listen` and `net.Dial`), the host may be left
//! out: `tcp://:8094` listens on every interface, and a sender given it connects to the local
//! host.
//!
//! `http://host:port/path` and `https://host:port/path` are the InfluxDB write API.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A destination for readings (or, for `listen`, an address to bind, where port 0 picks a
/// free port); `Display` prints the string it was parsed from.
///
/// ```
/// use telemit::Endpoint;
///
/// let endpoint: Endpoint = "udp://127.0.0.1:8094".parse()?;
/// assert!(endpoint.is_datagram());
/// assert_eq!(endpoint.to_string(), "udp://127.0.0.1:8094");
/// // Telegraf's spelling for every interface (listening) or the local host (sending).
/// let any: Endpoint = "tcp://:8094".parse()?;
/// assert_eq!(any.to_string(), "tcp://:8094");
/// assert_eq!(
///     "tcp://localhost".parse::<Endpoint>().unwrap_err().to_string(),
///     "endpoint \"tcp://localhost\": missing port: expected tcp://host:port"
/// );
/// # Ok::<(), telemit::EndpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// Standard output (also how Telegraf's `inputs.execd` reads a program).
    Stdout,
    /// A Unix stream socket.
    Unix(PathBuf),
    /// A Unix datagram socket.
    Unixgram(PathBuf),
    /// A TCP connection to `host:port`.
    Tcp {
        /// Host name or IP address (IPv6 in brackets); empty for every interface (listening)
        /// or the local host (sending).
        host: String,
        /// Port.
        port: u16,
    },
    /// TLS over a TCP connection to `host:port` (also written `tcp+tls://`).
    Tls {
        /// Host name or IP address (IPv6 in brackets); the name the certificate must carry
        /// unless another is set.
        host: String,
        /// Port.
        port: u16,
    },
    /// UDP datagrams to `host:port`.
    Udp {
        /// Host name or IP address (IPv6 in brackets); empty for every interface (listening)
        /// or the local host (sending).
        host: String,
        /// Port.
        port: u16,
    },
    /// Batches POSTed to an InfluxDB write API over HTTP: InfluxDB 1.x `/write?db=NAME`,
    /// 2.x/3.x `/api/v2/write?org=…&bucket=…`, VictoriaMetrics `/write`, or Telegraf's
    /// `influxdb_listener` (`/write`), `influxdb_v2_listener` (`/api/v2/write`) and
    /// `http_listener_v2` (`/telegraf` by default).
    Http {
        /// Host name or IP address (IPv6 in brackets).
        host: String,
        /// Port (80 when the address gives none).
        port: u16,
        /// The path and query, from the first `/`: `/write?db=telegraf`.
        path: String,
    },
    /// As [`Endpoint::Http`], over TLS.
    Https {
        /// Host name or IP address (IPv6 in brackets); the name the certificate must carry
        /// unless another is set.
        host: String,
        /// Port (443 when the address gives none).
        port: u16,
        /// The path and query, from the first `/`.
        path: String,
    },
}

impl Endpoint {
    /// True for the transports that send datagrams (UDP, Unix datagram).
    pub fn is_datagram(&self) -> bool {
        matches!(self, Endpoint::Udp { .. } | Endpoint::Unixgram(_))
    }

    /// The scheme as written in the address (`-` for standard output).
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Stdout => "-",
            Endpoint::Unix(_) => "unix",
            Endpoint::Unixgram(_) => "unixgram",
            Endpoint::Tcp { .. } => "tcp",
            Endpoint::Tls { .. } => "tls",
            Endpoint::Udp { .. } => "udp",
            Endpoint::Http { .. } => "http",
            Endpoint::Https { .. } => "https",
        }
    }

    /// True for the HTTP write API (`http://`, `https://`).
    pub fn is_http(&self) -> bool {
        matches!(self, Endpoint::Http { .. } | Endpoint::Https { .. })
    }

    /// `host:port` for TCP and UDP to bind, as the resolver wants it: an empty host is every
    /// IPv4 interface (`0.0.0.0`), as Telegraf's `service_address = "tcp://:8094"` listens
    /// on every interface. (`tcp://[::]:8094` takes IPv6 as well.)
    pub(crate) fn host_port(&self) -> Option<String> {
        match self {
            Endpoint::Tcp { host, port }
            | Endpoint::Tls { host, port }
            | Endpoint::Udp { host, port } => {
                let host = if host.is_empty() { "0.0.0.0" } else { host };
                Some(format!("{host}:{port}"))
            }
            _ => None,
        }
    }
}

/// The host a sender connects to for `host`: itself, or the local host (`127.0.0.1`) when it is
/// empty, as Go's dialer (and so Telegraf's own outputs) reads `:8094`.
pub(crate) fn connect_host(host: &str) -> &str {
    if host.is_empty() { "127.0.0.1" } else { host }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Stdout => f.write_str("-"),
            Endpoint::Unix(path) | Endpoint::Unixgram(path) => {
                write!(f, "{}://{}", self.scheme(), path.display())
            }
            Endpoint::Tcp { host, port }
            | Endpoint::Tls { host, port }
            | Endpoint::Udp { host, port } => write!(f, "{}://{host}:{port}", self.scheme()),
            Endpoint::Http { host, port, path } | Endpoint::Https { host, port, path } => {
                // The scheme's own port is left out, as a browser writes the address.
                if *port == default_http_port(self.scheme()) {
                    write!(f, "{}://{host}{path}", self.scheme())
                } else {
                    write!(f, "{}://{host}:{port}{path}", self.scheme())
                }
            }
        }
    }
}

/// An address that is not a valid endpoint, with the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("endpoint {input:?}: {reason}")]
#[non_exhaustive]
pub struct EndpointError {
    /// The address as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| EndpointError {
            input: input.to_owned(),
            reason,
        };
        if input == "-" || input == "stdout" {
            return Ok(Endpoint::Stdout);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(error(
                "expected SCHEME://ADDRESS with scheme unix, unixgram, tcp, tls, udp, http or https, or - for stdout"
                    .to_owned(),
            ));
        };
        match scheme {
            "unix" | "unixgram" => {
                if rest.is_empty() {
                    return Err(error(format!(
                        "missing socket path: expected {scheme}:///path/to/socket"
                    )));
                }
                if rest.contains('\0') {
                    return Err(error("socket path contains a NUL byte".to_owned()));
                }
                let path = PathBuf::from(rest);
                Ok(if scheme == "unix" {
                    Endpoint::Unix(path)
                } else {
                    Endpoint::Unixgram(path)
                })
            }
            "tcp" | "udp" | "tcp4" | "tcp6" | "udp4" | "udp6" | "tls" | "tcp+tls" => {
                let (host, port) = split_host_port(rest)
                    .map_err(|reason| error(format!("{reason}: expected {scheme}://host:port")))?;
                let host = host.to_owned();
                Ok(match scheme {
                    "tls" | "tcp+tls" => Endpoint::Tls { host, port },
                    tcp if tcp.starts_with("tcp") => Endpoint::Tcp { host, port },
                    _ => Endpoint::Udp { host, port },
                })
            }
            "http" | "https" => {
                let (host, port, path) = split_http(scheme, rest).map_err(error)?;
                Ok(if scheme == "http" {
                    Endpoint::Http { host, port, path }
                } else {
                    Endpoint::Https { host, port, path }
                })
            }
            other => Err(error(format!(
                "unknown scheme {other:?}: expected unix, unixgram, tcp, tls, udp, http or https"
            ))),
        }
    }
}

fn default_http_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// `host[:port]/path[?query]` of an HTTP address; the path is required, since each server
/// takes writes at its own.
fn split_http(scheme: &str, rest: &str) -> Result<(String, u16, String), String> {
    const PATHS: &str = "/write?db=NAME (InfluxDB 1.x, VictoriaMetrics, Telegraf's \
                         influxdb_listener), /api/v2/write?org=ORG&bucket=BUCKET (InfluxDB 2.x/3.x, \
                         influxdb_v2_listener) or /telegraf (http_listener_v2)";
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(
            "credentials in the address are not taken: give them with --username \
                    and --password, or a token with --token"
                .to_owned(),
        );
    }
    if path.contains('#') {
        return Err("a fragment (#…) has no meaning in a write address".to_owned());
    }
    // The host and port first: a bad port is the mistake to name, whatever the path.
    let (host, port) = if authority.ends_with(']') || !authority.contains(':') {
        (authority, default_http_port(scheme))
    } else {
        split_host_port(authority)
            .map_err(|reason| format!("{reason}: expected {scheme}://host:port/path"))?
    };
    if host.is_empty() {
        return Err(format!("missing host: expected {scheme}://host:port/path"));
    }
    if host.starts_with('[') != host.ends_with(']') {
        return Err("unclosed '[' in IPv6 address".to_owned());
    }
    if !path.starts_with('/') || path.starts_with("/?") || path == "/" {
        return Err(format!(
            "missing path: expected {scheme}://host:port/PATH with PATH {PATHS}"
        ));
    }
    if let Some(bad) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path {path:?} contains {bad:?}: percent-encode it (%20 for a space)"
        ));
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

fn split_host_port(rest: &str) -> Result<(&str, u16), String> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']').ok_or("unclosed '[' in IPv6 address")?;
        let port = rest[end + 1..].strip_prefix(':').ok_or("missing port")?;
        (&rest[..=end], port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or("missing port")?;
        if host.contains(':') {
            return Err("IPv6 addresses need brackets, as in [::1]:8094".to_owned());
        }
        (host, port)
    };
    // An empty host is Telegraf's `:8094`; an empty bracket pair is a typing slip.
    if host == "[]" {
        return Err("missing host".to_owned());
    }
    if host.contains('/') {
        return Err(format!("host {host:?} contains '/'"));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for text in [
            "-",
            "unix:///tmp/telegraf.sock",
            "unixgram:///run/t.sock",
            "tcp://127.0.0.1:8094",
            "udp://localhost:8094",
            "tcp://[::1]:8094",
            "tls://telegraf.example.com:8094",
            "tcp://:8094",
            "udp://:8094",
            "http://127.0.0.1:8086/write?db=telegraf",
            "https://influx.example.com/api/v2/write?org=o&bucket=b",
            "http://[::1]:8186/telegraf",
        ] {
            let endpoint: Endpoint = text.parse().unwrap();
            assert_eq!(endpoint.to_string(), text);
        }
        assert_eq!(
            "tcp4://h:1".parse::<Endpoint>().unwrap().to_string(),
            "tcp://h:1"
        );
        assert_eq!(
            "tcp+tls://h:1".parse::<Endpoint>().unwrap(),
            Endpoint::Tls {
                host: "h".into(),
                port: 1
            }
        );
    }

    #[test]
    fn an_empty_host_binds_everywhere_and_connects_locally() {
        let endpoint: Endpoint = "tcp://:8094".parse().unwrap();
        assert_eq!(
            endpoint,
            Endpoint::Tcp {
                host: String::new(),
                port: 8094
            }
        );
        assert_eq!(endpoint.host_port().as_deref(), Some("0.0.0.0:8094"));
        assert_eq!(connect_host(""), "127.0.0.1");
        assert_eq!(connect_host("telegraf"), "telegraf");
    }

    #[test]
    fn http_addresses_keep_the_path_and_default_the_port() {
        assert_eq!(
            "https://influx.example.com/api/v2/write?org=o&bucket=b"
                .parse::<Endpoint>()
                .unwrap(),
            Endpoint::Https {
                host: "influx.example.com".into(),
                port: 443,
                path: "/api/v2/write?org=o&bucket=b".into()
            }
        );
        assert_eq!(
            "http://h:80/write".parse::<Endpoint>().unwrap().to_string(),
            "http://h/write"
        );
        assert!("http://h:8086/write".parse::<Endpoint>().unwrap().is_http());
    }

    #[test]
    fn an_http_address_names_a_bad_port_before_its_path() {
        for text in [
            "http://127.0.0.1:65536/",
            "http://127.0.0.1:65536/write?db=t",
        ] {
            let error = text.parse::<Endpoint>().unwrap_err().to_string();
            assert!(error.contains("port"), "{text}: {error}");
            assert!(!error.contains("missing path"), "{text}: {error}");
        }
        let error = "http://[::1".parse::<Endpoint>().unwrap_err().to_string();
        assert!(error.contains("unclosed '['"), "{error}");
    }

    #[test]
    fn errors_name_the_wrong_part() {
        let cases = [
            (
                "localhost:8094",
                "endpoint \"localhost:8094\": expected SCHEME://ADDRESS with scheme unix, unixgram, tcp, tls, udp, http or https, or - for stdout",
            ),
            (
                "ftp://h:1",
                "endpoint \"ftp://h:1\": unknown scheme \"ftp\": expected unix, unixgram, tcp, tls, udp, http or https",
            ),
            (
                "http://h:8086",
                "endpoint \"http://h:8086\": missing path: expected http://host:port/PATH with PATH /write?db=NAME (InfluxDB 1.x, VictoriaMetrics, Telegraf's influxdb_listener), /api/v2/write?org=ORG&bucket=BUCKET (InfluxDB 2.x/3.x, influxdb_v2_listener) or /telegraf (http_listener_v2)",
            ),
            (
                "http://u:p@h:8086/write",
                "endpoint \"http://u:p@h:8086/write\": credentials in the address are not taken: give them with --username and --password, or a token with --token",
            ),
            (
                "https://h:x/write",
                "endpoint \"https://h:x/write\": port \"x\" is not a number from 0 to 65535: expected https://host:port/path",
            ),
            (
                "unix://",
                "endpoint \"unix://\": missing socket path: expected unix:///path/to/socket",
            ),
            (
                "tcp://h",
                "endpoint \"tcp://h\": missing port: expected tcp://host:port",
            ),
            (
                "tcp://[]:80",
                "endpoint \"tcp://[]:80\": missing host: expected tcp://host:port",
            ),
            (
                "udp://h:99999",
                "endpoint \"udp://h:99999\": port \"99999\" is not a number from 0 to 65535: expected udp://host:port",
            ),
            (
                "tcp://::1:80",
                "endpoint \"tcp://::1:80\": IPv6 addresses need brackets, as in [::1]:8094: expected tcp://host:port",
            ),
            (
                "tcp://[::1:80",
                "endpoint \"tcp://[::1:80\": unclosed '[' in IPv6 address: expected tcp://host:port",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<Endpoint>().unwrap_err().to_string(), expected);
        }
    }
}
