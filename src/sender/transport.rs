//! Opening and writing the socket of each endpoint kind (blocking I/O on the writer thread).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

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
}

pub(crate) enum Transport {
    Stdout(io::Stdout),
    Unix(UnixStream),
    Tcp(TcpStream),
    Udp(UdpSocket),
    Unixgram(UnixDatagram),
}

impl Transport {
    pub fn connect(endpoint: &Endpoint, options: &SocketOptions) -> io::Result<Transport> {
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
            Endpoint::Tcp { .. } => {
                let (address, socket) = new_socket(endpoint, Type::STREAM, Protocol::TCP)?;
                socket.set_keepalive(true)?;
                socket.set_tcp_nodelay(true)?;
                if let Some(size) = options.send_buffer {
                    socket.set_send_buffer_size(size)?;
                }
                socket.connect_timeout(&address, options.connect_timeout)?;
                socket.set_write_timeout(Some(options.write_timeout))?;
                Transport::Tcp(socket.into())
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
            Transport::Udp(_) | Transport::Unixgram(_) => {
                Err(io::Error::other("stream write on a datagram socket"))
            }
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
    pub fn unsent_bytes(&self) -> Option<usize> {
        match self {
            Transport::Unix(stream) => outq::unsent_bytes(stream),
            Transport::Tcp(stream) => outq::unsent_bytes(stream),
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
            Transport::Stdout(mut out) => {
                let _ = out.flush();
            }
            Transport::Udp(_) | Transport::Unixgram(_) => {}
        }
    }
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
