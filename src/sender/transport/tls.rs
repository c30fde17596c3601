//! TLS over TCP (`socket_listener` with `tls_cert`/`tls_key`): the client handshake, completed
//! before the first write, and the server's verdict on our certificate.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::{Connect, Shape, SocketOptions, Transport, finish_stream, outq, peer_closed, tcp};
use crate::sender::ConfigError;
use crate::tls::{TlsOptions, explain};

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

pub(super) struct Connector {
    host: String,
    port: u16,
    options: SocketOptions,
    config: Arc<rustls::ClientConfig>,
    /// The name the server must prove.
    name: ServerName<'static>,
}

impl Connector {
    /// Loads the TLS settings now, so that a bad file is a configuration error.
    pub fn new(
        host: &str,
        port: u16,
        options: &SocketOptions,
        tls: &TlsOptions,
    ) -> Result<Connector, ConfigError> {
        Ok(Connector {
            host: host.to_owned(),
            port,
            options: options.clone(),
            config: tls.client_config()?,
            name: tls.server_name(host)?,
        })
    }
}

impl Connect for Connector {
    fn shape(&self) -> Shape {
        Shape {
            tls: true,
            ..Shape::stream("tls")
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let tcp = tcp::connect(&self.host, self.port, &self.options)?;
        Ok(Box::new(handshake(
            tcp,
            self.config.clone(),
            self.name.clone(),
            self.options.connect_timeout,
        )?))
    }
}

/// A TLS connection and the server name it verified, for error messages.
struct Tls {
    stream: TlsStream,
    server: String,
}

impl Transport for Tls {
    // rustls takes the plaintext into its buffer and writes what it can; what is left goes
    // out with the next write or with `flush`.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.stream
            .write(bytes)
            .map_err(|e| tls_failure(&mut self.stream, &self.server, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream
            .flush()
            .map_err(|e| tls_failure(&mut self.stream, &self.server, e))
    }

    // Encrypted bytes outnumber the plaintext they carry, so treating the count as plaintext
    // errs on the side of sending again.
    fn unsent_bytes(&mut self) -> Option<usize> {
        outq::unsent_bytes(&self.stream.sock)
    }

    fn check_open(&mut self) -> io::Result<()> {
        self.stream.sock.set_nonblocking(true)?;
        let checked = read_pending(&mut self.stream);
        self.stream.sock.set_nonblocking(false)?;
        checked.map_err(|e| tls_failure(&mut self.stream, &self.server, e))
    }

    fn close(mut self: Box<Self>, timeout: Duration) -> io::Result<()> {
        // A receiver that already sent close_notify or closed did not read to our end.
        self.check_open()?;
        let mut stream = self.stream;
        stream.conn.send_close_notify();
        stream.flush()?;
        finish_stream(&mut stream.sock, timeout)
    }
}

/// Reads and processes the TLS records waiting on the socket (set non-blocking), discarding any
/// plaintext (Telegraf sends none): `Ok` while the server is open; an error once it sent
/// `close_notify`, closed the connection, reset it, or sent an alert.
fn read_pending(stream: &mut TlsStream) -> io::Result<()> {
    loop {
        match stream.conn.read_tls(&mut stream.sock) {
            Ok(0) => return Err(peer_closed()),
            Ok(_) => {
                let state = stream
                    .conn
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let plaintext = state.plaintext_bytes_to_read();
                if plaintext > 0 {
                    let mut sink = vec![0u8; plaintext];
                    let _ = std::io::Read::read(&mut stream.conn.reader(), &mut sink);
                }
                if state.peer_has_closed() {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the receiver closed the connection (TLS close_notify)",
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
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
        .map_err(|e| io::Error::other(explain(&e, &server)))?;
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
                explain(&e, server),
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
        return io::Error::new(error.kind(), explain(tls, server));
    }
    if stream.sock.set_nonblocking(true).is_ok() {
        let pending = stream
            .conn
            .read_tls(&mut stream.sock)
            .ok()
            .and_then(|_| stream.conn.process_new_packets().err());
        let _ = stream.sock.set_nonblocking(false);
        if let Some(tls) = pending {
            return io::Error::new(error.kind(), explain(&tls, server));
        }
    }
    error
}
