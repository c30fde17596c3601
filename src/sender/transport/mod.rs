//! The sockets a sender writes to, one file per kind, behind two small traits: [`Connect`]
//! opens a connection, [`Transport`] is one open connection. The writer's state machine knows
//! only these traits; [`connector`] is the one place where a destination becomes a transport,
//! so a new kind of transport is one new file plus one line there.

mod gzip;
pub(crate) mod http;
pub(crate) mod memory;
mod outq;
mod stdout;
mod tcp;
mod tls;
mod udp;
mod unix;
mod unixgram;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::ConfigError;
use crate::endpoint::{Endpoint, connect_host};
use crate::tls::TlsOptions;
use memory::MemoryTransport;

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

/// Where a sender delivers: a socket endpoint, or an in-memory transport for tests.
#[derive(Clone)]
pub(crate) enum Target {
    Endpoint(Endpoint),
    Memory(MemoryTransport),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Endpoint(endpoint) => endpoint.fmt(f),
            Target::Memory(_) => f.write_str("memory"),
        }
    }
}

/// Socket settings the sender applies when it connects.
#[derive(Debug, Clone)]
pub(crate) struct SocketOptions {
    pub connect_timeout: Duration,
    /// How long one blocked write waits before the writer checks for shutdown.
    pub write_timeout: Duration,
    pub send_buffer: Option<usize>,
}

/// What the sender must know of a kind of transport before it connects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// The kind, as in error messages (`udp`, `unix`, …).
    pub name: &'static str,
    /// For datagram transports: the default and the largest payload.
    pub datagram: Option<DatagramLimits>,
    /// The longest line a stream transport takes.
    pub max_line: usize,
    /// Whether a write that succeeds shows the receiver is there (not so for UDP, where a
    /// send to a closed port succeeds).
    pub confirms_delivery: bool,
    /// Whether [`Transport::unsent_bytes`] counts what the receiving program has not read
    /// (Unix sockets: the kernel holds written data until the reader takes it) rather than
    /// what the peer's kernel has not acknowledged (TCP: acknowledged data may still sit
    /// unread in the receiver's buffer). Where it does, a connection whose close cannot be
    /// confirmed still says exactly which readings to send again.
    pub unsent_is_unread: bool,
    /// Whether a connection that broke can be opened again: not so for standard output,
    /// whose reader, once gone, is gone for good.
    pub reconnectable: bool,
    /// Whether gzip can wrap it (stream sockets).
    pub compressible: bool,
    /// Whether it speaks TLS (and so takes TLS settings).
    pub tls: bool,
    /// Whether the receiver answers each send, so a success proves delivery (HTTP).
    pub acknowledges: bool,
    /// Whether it compresses each body itself when gzip is asked for (HTTP's
    /// `Content-Encoding`), rather than being wrapped in a gzip stream.
    pub compresses_bodies: bool,
}

/// Datagram payload sizes: the default, and the largest the transport and Telegraf take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DatagramLimits {
    pub default: usize,
    pub max: usize,
}

impl Shape {
    /// A stream socket to Telegraf.
    const fn stream(name: &'static str) -> Shape {
        Shape {
            name,
            datagram: None,
            max_line: TELEGRAF_MAX_LINE,
            confirms_delivery: true,
            unsent_is_unread: false,
            reconnectable: true,
            compressible: true,
            tls: false,
            acknowledges: false,
            compresses_bodies: false,
        }
    }

    pub fn is_datagram(&self) -> bool {
        self.datagram.is_some()
    }
}

/// Opens connections of one kind to one place; kept by the writer for every reconnection.
pub(crate) trait Connect: Send {
    /// What kind of transport this opens.
    fn shape(&self) -> Shape;
    /// Opens a new connection.
    fn connect(&mut self) -> io::Result<Box<dyn Transport>>;
}

/// One open connection, as the writer uses it. Stream transports implement `write` (and, when
/// they buffer, `flush`); datagram transports implement `send_datagram`.
pub(crate) trait Transport: Send {
    /// One write on a stream; returns the bytes taken. An error that `is_retry` accepts
    /// (a write timeout) took nothing, and the same call can be made again.
    fn write(&mut self, _bytes: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("stream write on a datagram socket"))
    }

    /// Pushes out what the transport still holds in user space (TLS records, compressed data).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// One whole datagram.
    fn send_datagram(&mut self, _payload: &[u8]) -> io::Result<()> {
        Err(io::Error::other("datagram send on a stream socket"))
    }

    /// Bytes written but not yet taken by the peer, where that can be known.
    fn unsent_bytes(&mut self) -> Option<usize> {
        None
    }

    /// Whether the far end is still open, found out without waiting: an error says that the
    /// peer closed its side (end of stream, TLS `close_notify`) or reset the connection, so
    /// that nothing written from now on will be read.
    fn check_open(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Closes gracefully, waiting up to `timeout`: shuts down the write side and waits for
    /// the peer to read everything and close its side. `Ok` confirms that the peer read all
    /// that was written (Telegraf's `socket_listener` closes a connection once it reads the
    /// end of the stream); an error says why that cannot be confirmed.
    fn close(self: Box<Self>, timeout: Duration) -> io::Result<()>;
}

/// Checks at once that `endpoint`, when it is a Unix socket path, can be written to (see
/// `unix::check_reachable`); other endpoints pass.
pub(crate) fn check_reachable(endpoint: &Endpoint) -> io::Result<()> {
    match endpoint {
        Endpoint::Unix(path) => unix::check_reachable(path, false),
        Endpoint::Unixgram(path) => unix::check_reachable(path, true),
        _ => Ok(()),
    }
}

/// A send the receiver answered without taking it whole, carried inside the `io::Error` a
/// transport returns (see [`refusal`]) so that the writer can tell it from a failed connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Not to be sent again: the readings are counted as rejected (HTTP 4xx other than 429).
    /// In a partial write the server stored all but `dropped` of them.
    #[error("{message}")]
    Rejected {
        message: String,
        dropped: Option<u64>,
    },
    /// To be sent again after `delay` (the server's `Retry-After`), or after the backoff
    /// when it gave none (HTTP 429, 503).
    #[error("{message}")]
    RetryAfter {
        message: String,
        delay: Option<Duration>,
    },
}

impl From<Refusal> for io::Error {
    fn from(refusal: Refusal) -> io::Error {
        io::Error::other(refusal)
    }
}

/// The refusal inside `error`, if a transport returned one.
pub(crate) fn refusal(error: &io::Error) -> Option<&Refusal> {
    error.get_ref()?.downcast_ref::<Refusal>()
}

/// The connector for `target`: the one place where a destination becomes a transport.
/// (An empty host, as in `tcp://:8094`, is the local host.)
pub(crate) fn connector(
    target: &Target,
    options: &SocketOptions,
    tls: &TlsOptions,
    http: &http::HttpSettings<'_>,
) -> Result<Box<dyn Connect>, ConfigError> {
    Ok(match target {
        Target::Memory(memory) => Box::new(memory.clone()),
        Target::Endpoint(endpoint) => match endpoint {
            Endpoint::Stdout => Box::new(stdout::Connector::new(options)),
            Endpoint::Unix(path) => Box::new(unix::Connector::new(path, options)),
            Endpoint::Unixgram(path) => Box::new(unixgram::Connector::new(path, options)),
            Endpoint::Tcp { host, port } => {
                Box::new(tcp::Connector::new(connect_host(host), *port, options))
            }
            Endpoint::Tls { host, port } => Box::new(tls::Connector::new(
                connect_host(host),
                *port,
                options,
                tls,
            )?),
            Endpoint::Udp { host, port } => {
                Box::new(udp::Connector::new(connect_host(host), *port, options))
            }
            Endpoint::Http { host, .. } => Box::new(http::Connector::new(
                endpoint, host, false, options, tls, http,
            )?),
            Endpoint::Https { host, .. } => Box::new(http::Connector::new(
                endpoint, host, true, options, tls, http,
            )?),
        },
    })
}

/// Checks that the TLS settings and gzip fit the transport `plain` opens, and wraps it in gzip
/// when asked.
pub(crate) fn finish(
    plain: Box<dyn Connect>,
    target: &Target,
    tls: &TlsOptions,
    gzip: bool,
) -> Result<Box<dyn Connect>, ConfigError> {
    let shape = plain.shape();
    if tls.is_set() && !shape.tls {
        return Err(ConfigError::TlsNotUsed {
            endpoint: target.to_string(),
        });
    }
    if !gzip || shape.compresses_bodies {
        return Ok(plain);
    }
    if !shape.compressible {
        return Err(ConfigError::GzipNotStream {
            endpoint: target.to_string(),
        });
    }
    Ok(Box::new(gzip::Connector::new(plain)))
}

/// After a write-side shutdown: reads until the peer closes its side or `deadline` passes, so
/// that the peer has read everything before the socket goes away. `Ok` once the peer closed
/// its side (it read our end of stream); an error on a reset, or when the deadline passed.
pub(super) fn drain(stream: &mut impl Read, deadline: Instant) -> io::Result<()> {
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the receiver did not read to the end and close within the graceful-close wait",
    ))
}

/// The graceful close of a plain stream socket: first checks that the peer has not closed
/// its side already (then it did not read to our end), then shuts down the write side and
/// drains until the peer closes (see [`drain`]).
pub(super) fn close_stream<S>(stream: &mut S, timeout: Duration) -> io::Result<()>
where
    S: Read + std::os::fd::AsFd,
{
    check_socket_open(&*stream)?;
    finish_stream(stream, timeout)
}

/// Shuts down the write side of `stream` and drains it until the peer closes its side (see
/// [`drain`]).
pub(super) fn finish_stream<S>(stream: &mut S, timeout: Duration) -> io::Result<()>
where
    S: Read + std::os::fd::AsFd,
{
    let deadline = Instant::now() + timeout;
    let socket = socket2::SockRef::from(&*stream);
    socket.shutdown(std::net::Shutdown::Write)?;
    socket.set_read_timeout(Some(DRAIN_STEP))?;
    drain(stream, deadline)?;
    // The peer closed its side; what the kernel still holds for it was not taken. (A Unix
    // peer that shuts down its write side without reading keeps our bytes in its queue; a
    // TCP peer has not acknowledged them.)
    match outq::unsent_bytes(&stream.as_fd()) {
        Some(unread) if unread > 0 => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the receiver closed its side with {unread} bytes not taken"),
        )),
        _ => Ok(()),
    }
}

/// Reads, without waiting, whatever the peer sent (Telegraf sends nothing on these sockets,
/// so it is discarded) until the socket would block: `Ok` while the peer is open; an error
/// when it closed its side (end of stream) or reset the connection.
pub(super) fn check_socket_open(socket: &impl std::os::fd::AsFd) -> io::Result<()> {
    let socket = socket2::SockRef::from(socket);
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 512];
    loop {
        match socket.recv_with_flags(&mut buf, libc::MSG_DONTWAIT) {
            Ok(0) => return Err(peer_closed()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The error for a peer that closed its side of the connection.
pub(super) fn peer_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the receiver closed the connection",
    )
}

/// How often `drain` wakes to check its deadline.
pub(super) const DRAIN_STEP: Duration = Duration::from_millis(50);

/// The first address `host:port` resolves to, with a socket for it.
pub(super) fn new_socket(
    host: &str,
    port: u16,
    kind: socket2::Type,
    protocol: socket2::Protocol,
) -> io::Result<(socket2::SockAddr, socket2::Socket)> {
    use std::net::ToSocketAddrs;
    let host_port = format!("{host}:{port}");
    let address = host_port.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host_port} resolves to no address"),
        )
    })?;
    let socket = socket2::Socket::new(socket2::Domain::for_address(address), kind, Some(protocol))?;
    Ok((address.into(), socket))
}

/// The error, with the socket path it concerns.
pub(super) fn with_path(error: io::Error, path: &std::path::Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
