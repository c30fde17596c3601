//! Binding a listening socket and running it: [`Listener`] and [`ListenerHandle`].

use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::endpoint::Endpoint;
use crate::listen::loops::{POLL, datagram_loop, spawn_accept_loop};
use crate::listen::{ListenOptions, Received, Sink};

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
    Tls(TcpListener, Arc<rustls::ServerConfig>),
    Udp(UdpSocket),
    Unixgram(UnixDatagram, PathBuf),
}

/// A bound receiver; [`Listener::spawn`] starts reading.
pub struct Listener {
    socket: Socket,
    options: ListenOptions,
}

impl Listener {
    /// Binds `endpoint`. A stale Unix socket file is replaced, as Telegraf does; any other
    /// file at that path is an error. Port 0 picks a free port ([`Listener::endpoint`] tells).
    pub fn bind(endpoint: &Endpoint, options: ListenOptions) -> io::Result<Listener> {
        let socket = match endpoint {
            Endpoint::Tcp { .. } => Socket::Tcp(TcpListener::bind(host_port(endpoint))?),
            Endpoint::Tls { .. } => {
                let Some(tls) = &options.tls else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "listening on tls:// needs a certificate and its key",
                    ));
                };
                let config = tls
                    .server_config()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                Socket::Tls(TcpListener::bind(host_port(endpoint))?, config)
            }
            Endpoint::Udp { .. } => {
                let socket = UdpSocket::bind(host_port(endpoint))?;
                if let Some(size) = options.socket_buffer {
                    socket2::SockRef::from(&socket).set_recv_buffer_size(size)?;
                }
                Socket::Udp(socket)
            }
            Endpoint::Unix(path) => {
                remove_stale_socket(path)?;
                Socket::Unix(
                    UnixListener::bind(path).map_err(|e| at_path(e, path))?,
                    path.clone(),
                )
            }
            Endpoint::Unixgram(path) => {
                remove_stale_socket(path)?;
                let socket = UnixDatagram::bind(path).map_err(|e| at_path(e, path))?;
                if let Some(size) = options.socket_buffer {
                    socket2::SockRef::from(&socket).set_recv_buffer_size(size)?;
                }
                Socket::Unixgram(socket, path.clone())
            }
            Endpoint::Http { .. } | Endpoint::Https { .. } => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot listen on http:// (an HTTP write API is a receiver of its own, such as \
                     Telegraf's influxdb_listener): give unix://, unixgram://, tcp:// or udp://",
                ));
            }
            Endpoint::Stdout => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot listen on standard output: give unix://, unixgram://, tcp:// or udp://",
                ));
            }
        };
        Ok(Listener { socket, options })
    }

    /// The kernel receive buffer of a datagram socket, in bytes (`None` for streams). Linux
    /// reports twice what was asked for (it counts its bookkeeping), capped by `rmem_max`.
    pub fn receive_buffer(&self) -> io::Result<Option<usize>> {
        match &self.socket {
            Socket::Udp(s) => socket2::SockRef::from(s).recv_buffer_size().map(Some),
            Socket::Unixgram(s, _) => socket2::SockRef::from(s).recv_buffer_size().map(Some),
            _ => Ok(None),
        }
    }

    /// The address senders should use (with the real port when bound to port 0).
    pub fn endpoint(&self) -> io::Result<Endpoint> {
        Ok(match &self.socket {
            Socket::Tcp(l) => {
                let a = l.local_addr()?;
                Endpoint::Tcp {
                    host: bracketed(a.ip()),
                    port: a.port(),
                }
            }
            Socket::Tls(l, _) => {
                let a = l.local_addr()?;
                Endpoint::Tls {
                    host: bracketed(a.ip()),
                    port: a.port(),
                }
            }
            Socket::Udp(s) => {
                let a = s.local_addr()?;
                Endpoint::Udp {
                    host: bracketed(a.ip()),
                    port: a.port(),
                }
            }
            Socket::Unix(_, p) => Endpoint::Unix(p.clone()),
            Socket::Unixgram(_, p) => Endpoint::Unixgram(p.clone()),
        })
    }

    /// Starts reading on background threads; every payload goes to `sink`, called from those
    /// threads (one per stream connection; one parsing thread for a datagram socket). A
    /// [`CountingSink`](crate::listen::CountingSink) counts what arrives.
    pub fn spawn(self, sink: Arc<dyn Fn(Received) + Send + Sync>) -> io::Result<ListenerHandle> {
        let sink: Sink = sink;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let options = self.options;
        let (path, main) = match self.socket {
            Socket::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                let accept = move || listener.accept().map(|(s, _)| s);
                (
                    None,
                    spawn_accept_loop(accept, &stop, &connections, sink, options),
                )
            }
            Socket::Tls(listener, config) => {
                listener.set_nonblocking(true)?;
                let accept = move || {
                    let (tcp, _) = listener.accept()?;
                    let connection =
                        rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                    Ok(rustls::StreamOwned::new(connection, tcp))
                };
                (
                    None,
                    spawn_accept_loop(accept, &stop, &connections, sink, options),
                )
            }
            Socket::Unix(listener, path) => {
                listener.set_nonblocking(true)?;
                let accept = move || listener.accept().map(|(s, _)| s);
                (
                    Some(path),
                    spawn_accept_loop(accept, &stop, &connections, sink, options),
                )
            }
            Socket::Udp(socket) => {
                socket.set_read_timeout(Some(POLL))?;
                let stop = stop.clone();
                let main = std::thread::spawn(move || {
                    datagram_loop(|buf| socket.recv(buf), &stop, &sink, &options)
                });
                (None, main)
            }
            Socket::Unixgram(socket, path) => {
                socket.set_read_timeout(Some(POLL))?;
                let stop = stop.clone();
                let main = std::thread::spawn(move || {
                    datagram_loop(|buf| socket.recv(buf), &stop, &sink, &options)
                });
                (Some(path), main)
            }
        };
        Ok(ListenerHandle {
            stop,
            main: Some(main),
            connections,
            path,
        })
    }
}

/// A running listener. [`ListenerHandle::stop`] (or drop) closes it abruptly, like a killed
/// Telegraf: connections are dropped with whatever the kernel still held for them.
pub struct ListenerHandle {
    stop: Arc<AtomicBool>,
    main: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    path: Option<PathBuf>,
}

impl ListenerHandle {
    /// Closes the socket and its connections, and removes a Unix socket file.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(main) = self.main.take() {
            let _ = main.join();
        }
        let connections =
            std::mem::take(&mut *self.connections.lock().unwrap_or_else(|e| e.into_inner()));
        for connection in connections {
            let _ = connection.join();
        }
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.shut();
    }
}

fn host_port(endpoint: &Endpoint) -> String {
    endpoint.host_port().unwrap_or_default()
}

fn bracketed(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: exists and is not a socket; refusing to replace it",
                path.display()
            ),
        )),
        Err(_) => Ok(()),
    }
}

fn at_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}
