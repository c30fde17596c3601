//! Opening and writing the socket of each endpoint kind (blocking I/O on the writer thread).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::outq;
use crate::endpoint::Endpoint;

/// Socket settings the sender applies when it connects.
#[derive(Debug, Clone)]
pub(crate) struct SocketOptions {
    pub connect_timeout: Duration,
    /// How long one blocked write waits before the writer checks for shutdown.
    pub write_timeout: Duration,
    pub send_buffer: Option<usize>,
    /// For `tls://`: the client configuration and the name the server must prove.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// Compress stream connections with gzip, one gzip stream per connection.
    pub gzip: bool,
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection and the server name it verified, for error messages.
pub(crate) struct Tls {
    stream: TlsStream,
    server: String,
}

pub(crate) enum Transport {
    Stdout(io::Stdout),
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<Tls>),
    Gzip(Box<Gzip>),
    Udp(UdpSocket),
    Unixgram(UnixDatagram),
}

impl Transport {
    pub fn connect(endpoint: &Endpoint, options: &SocketOptions) -> io::Result<Transport> {
        let transport = Transport::connect_plain(endpoint, options)?;
        Ok(if options.gzip && !endpoint.is_datagram() {
            Transport::Gzip(Box::new(Gzip::new(transport)))
        } else {
            transport
        })
    }

    fn connect_plain(endpoint: &Endpoint, options: &SocketOptions) -> io::Result<Transport> {
        let transport = match endpoint {
            Endpoint::Stdout => Transport::Stdout(io::stdout()),
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path).map_err(|e| with_path(e, path))?;
                stream.set_write_timeout(Some(options.write_timeout))?;
                Transport::Unix(stream)
            }
            Endpoint::Unixgram(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path).map_err(|e| with_path(e, path))?;
                socket.set_write_timeout(Some(options.write_timeout))?;
                Transport::Unixgram(socket)
            }
            Endpoint::Tcp { .. } => Transport::Tcp(connect_tcp(endpoint, options)?),
            Endpoint::Tls { .. } => {
                let Some((config, name)) = &options.tls else {
                    return Err(io::Error::other("tls:// endpoint without TLS settings"));
                };
                Transport::Tls(Box::new(handshake(
                    connect_tcp(endpoint, options)?,
                    config.clone(),
                    name.clone(),
                    options.connect_timeout,
                )?))
            }
            Endpoint::Udp { .. } => {
                let (address, socket) = new_socket(endpoint, Type::DGRAM, Protocol::UDP)?;
                if let Some(size) = options.send_buffer {
                    socket.set_send_buffer_size(size)?;
                }
                socket.connect(&address)?;
                socket.set_write_timeout(Some(options.write_timeout))?;
                Transport::Udp(socket.into())
            }
        };
        Ok(transport)
    }

    /// One write on a stream transport; returns the bytes taken.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Stdout(out) => {
                let n = out.write(bytes)?;
                out.flush()?;
                Ok(n)
            }
            Transport::Unix(stream) => stream.write(bytes),
            Transport::Tcp(stream) => stream.write(bytes),
            // rustls takes the plaintext into its buffer and writes what it can; what is left
            // goes out with the next write or with `flush`.
            Transport::Tls(tls) => tls
                .stream
                .write(bytes)
                .map_err(|e| tls_failure(&mut tls.stream, &tls.server, e)),
            Transport::Gzip(gzip) => gzip.write(bytes),
            Transport::Udp(_) | Transport::Unixgram(_) => {
                Err(io::Error::other("stream write on a datagram socket"))
            }
        }
    }

    /// Pushes out what a stream transport still holds in user space (TLS records, compressed
    /// data).
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Gzip(gzip) => gzip.flush(),
            Transport::Tls(tls) => tls
                .stream
                .flush()
                .map_err(|e| tls_failure(&mut tls.stream, &tls.server, e)),
            _ => Ok(()),
        }
    }

    /// One datagram.
    pub fn send_datagram(&self, payload: &[u8]) -> io::Result<()> {
        let sent = match self {
            Transport::Udp(socket) => socket.send(payload)?,
            Transport::Unixgram(socket) => socket.send(payload)?,
            _ => return Err(io::Error::other("datagram send on a stream socket")),
        };
        if sent == payload.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "datagram cut to {sent} of {} bytes",
                payload.len()
            )))
        }
    }

    /// Bytes written but not yet taken by the peer, where the kernel tells.
    pub fn unsent_bytes(&mut self) -> Option<usize> {
        match self {
            Transport::Unix(stream) => outq::unsent_bytes(stream),
            Transport::Tcp(stream) => outq::unsent_bytes(stream),
            // Encrypted bytes outnumber the plaintext they carry, so treating the count as
            // plaintext errs on the side of sending again.
            Transport::Tls(tls) => outq::unsent_bytes(&tls.stream.sock),
            Transport::Gzip(gzip) => gzip.unsent_plaintext(),
            _ => None,
        }
    }

    /// Closes a stream so that nothing written is lost: shut down the write side, then wait
    /// (up to `timeout`) for the peer to read everything and close its side.
    pub fn close_gracefully(self, timeout: Duration) {
        fn drain(stream: &mut impl Read, deadline: Instant) {
            let mut buf = [0u8; 512];
            while Instant::now() < deadline {
                match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        }
        let deadline = Instant::now() + timeout;
        let step = Some(Duration::from_millis(50));
        match self {
            Transport::Unix(mut stream) => {
                if stream.shutdown(std::net::Shutdown::Write).is_ok()
                    && stream.set_read_timeout(step).is_ok()
                {
                    drain(&mut stream, deadline);
                }
            }
            Transport::Tcp(mut stream) => {
                if stream.shutdown(std::net::Shutdown::Write).is_ok()
                    && stream.set_read_timeout(step).is_ok()
                {
                    drain(&mut stream, deadline);
                }
            }
            Transport::Gzip(gzip) => {
                let mut encoder = gzip.encoder;
                // The trailer ends the gzip stream; then close the connection as usual.
                if encoder.try_finish().is_ok() {
                    encoder
                        .finish()
                        .map(|c| c.inner.close_gracefully(timeout))
                        .ok();
                }
            }
            Transport::Tls(tls) => {
                let mut stream = tls.stream;
                stream.conn.send_close_notify();
                if stream.flush().is_ok()
                    && stream.sock.shutdown(std::net::Shutdown::Write).is_ok()
                    && stream.sock.set_read_timeout(step).is_ok()
                {
                    drain(&mut stream.sock, deadline);
                }
            }
            Transport::Stdout(mut out) => {
                let _ = out.flush();
            }
            Transport::Udp(_) | Transport::Unixgram(_) => {}
        }
    }
}

/// A stream connection compressed with gzip (Telegraf's `content_encoding = "gzip"`).
///
/// Every batch ends with a sync flush, so the receiver can decode it at once. Each flush is
/// also a point where a count of compressed bytes matches a count of plaintext bytes exactly;
/// from the kernel's count of compressed bytes not yet taken, the newest such point the peer
/// has passed tells which readings to send again after a failure.
pub(crate) struct Gzip {
    encoder: flate2::write::GzEncoder<Counted>,
    plaintext: u64,
    /// (compressed, plaintext) byte counts at each flush the peer may not have passed yet.
    flushes: VecDeque<(u64, u64)>,
}

/// A transport that counts the bytes written to it.
struct Counted {
    inner: Transport,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Gzip {
    fn new(inner: Transport) -> Gzip {
        let counted = Counted { inner, written: 0 };
        Gzip {
            encoder: flate2::write::GzEncoder::new(counted, flate2::Compression::fast()),
            plaintext: 0,
            flushes: VecDeque::from([(0, 0)]),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // The encoder writes out what it holds before it takes new input, so an error means
        // none of `bytes` was taken and the same call can be retried.
        let n = self.encoder.write(bytes)?;
        self.plaintext += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()?;
        self.flushes
            .push_back((self.encoder.get_ref().written, self.plaintext));
        Ok(())
    }

    /// Plaintext bytes the peer may not have taken: everything after the newest flush point
    /// within what the kernel says the peer took.
    fn unsent_plaintext(&mut self) -> Option<usize> {
        let counted = self.encoder.get_mut();
        let unsent = counted.inner.unsent_bytes()? as u64;
        let taken = counted.written.saturating_sub(unsent);
        while self.flushes.len() > 1 && self.flushes[1].0 <= taken {
            self.flushes.pop_front();
        }
        let (_, safe) = self.flushes.front().copied().unwrap_or((0, 0));
        usize::try_from(self.plaintext - safe).ok()
    }
}

fn connect_tcp(endpoint: &Endpoint, options: &SocketOptions) -> io::Result<TcpStream> {
    let (address, socket) = new_socket(endpoint, Type::STREAM, Protocol::TCP)?;
    socket.set_keepalive(true)?;
    socket.set_tcp_nodelay(true)?;
    if let Some(size) = options.send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.connect_timeout(&address, options.connect_timeout)?;
    socket.set_write_timeout(Some(options.write_timeout))?;
    Ok(socket.into())
}

/// Completes the TLS handshake now, so that a certificate problem is reported as the reason
/// the connection failed rather than as a broken pipe later.
fn handshake(
    tcp: TcpStream,
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    timeout: Duration,
) -> io::Result<Tls> {
    let server = name.to_str().into_owned();
    let connection = rustls::ClientConnection::new(config, name)
        .map_err(|e| io::Error::other(crate::tls::explain(&e, &server)))?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    stream.sock.set_read_timeout(Some(timeout))?;
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| tls_failure(&mut stream, &server, e))?;
    }
    if stream.conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
        await_server_verdict(&mut stream, &server)?;
    }
    Ok(Tls { stream, server })
}

/// In TLS 1.3 the client finishes its handshake before the server has checked the client's
/// certificate; a server that refuses it (no certificate, or one from a CA it does not allow)
/// says so in an alert that nothing would read, and everything written after it would be lost
/// without a word. So wait briefly for the server's first message after the handshake: a
/// session ticket from a server that accepted (Go's and rustls's send them at once), or the
/// alert.
fn await_server_verdict(stream: &mut TlsStream, server: &str) -> io::Result<()> {
    const VERDICT_WAIT: Duration = Duration::from_millis(250);
    stream.sock.set_read_timeout(Some(VERDICT_WAIT))?;
    let read = stream.conn.read_tls(&mut stream.sock);
    match read {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "TLS: the server closed the connection right after the handshake",
        )),
        Ok(_) => match stream.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                crate::tls::explain(&e, server),
            )),
        },
        // A server that sends nothing yet has not refused us.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The TLS reason behind an I/O error, when there is one: rustls reports a failed
/// certificate check as `InvalidData` carrying its error, and a server's fatal alert (say,
/// "certificate required", sent after a TLS 1.3 client thinks the handshake is done) waits
/// unread in the socket until someone reads it.
fn tls_failure(stream: &mut TlsStream, server: &str, error: io::Error) -> io::Error {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return io::Error::new(error.kind(), crate::tls::explain(tls, server));
    }
    if stream.sock.set_nonblocking(true).is_ok() {
        let pending = stream
            .conn
            .read_tls(&mut stream.sock)
            .ok()
            .and_then(|_| stream.conn.process_new_packets().err());
        let _ = stream.sock.set_nonblocking(false);
        if let Some(tls) = pending {
            return io::Error::new(error.kind(), crate::tls::explain(&tls, server));
        }
    }
    error
}

fn new_socket(
    endpoint: &Endpoint,
    kind: Type,
    protocol: Protocol,
) -> io::Result<(SockAddr, Socket)> {
    let host_port = endpoint.host_port().unwrap_or_default();
    let address = host_port.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host_port} resolves to no address"),
        )
    })?;
    let socket = Socket::new(Domain::for_address(address), kind, Some(protocol))?;
    Ok((address.into(), socket))
}

fn with_path(error: io::Error, path: &std::path::Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
