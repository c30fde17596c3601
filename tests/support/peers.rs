//! Receivers that close on the sender the way real ones do, on TCP, TLS and Unix sockets: one
//! that closes its side as soon as it accepts, one that closes after reading so many bytes,
//! one that goes quiet and disappears. Each records the bytes it read on each connection.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use telemit::Endpoint;
use telemit::tls::{TlsOptions, TlsServerOptions};

use super::certificates::Authority;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Tls,
    Unix,
}

pub const KINDS: [Kind; 3] = [Kind::Tcp, Kind::Tls, Kind::Unix];

/// What the receiver does with each connection it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Closes its side at once (TCP/Unix: shuts down writing, so the sender reads end of
    /// stream; TLS: sends `close_notify`), reads what still arrives until the sender closes,
    /// and accepts no further connection.
    HalfCloseAtOnce,
    /// Reads exactly this many bytes of the first connection and closes it; reads later
    /// connections to the end, as a restarted Telegraf does.
    CloseAfter(usize),
    /// Reads exactly this many bytes, then goes quiet and away without closing anything (a
    /// hung receiver, a host gone from the network): the connection stays open and unread,
    /// and no further connection is accepted.
    Vanish(usize),
    /// Reads everything to the end of the stream, then closes (Telegraf's `socket_listener`).
    Faithful,
    /// Reads nothing, closes its side after this long, and keeps the connection (unread) open.
    HalfCloseLaterUnread(Duration),
}

/// A receiver on a loopback port or a socket file, running on its own thread.
pub struct Peer {
    pub endpoint: Endpoint,
    /// What a sender needs to trust it (TLS).
    pub tls: TlsOptions,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    connections: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One accepted connection, plain or TLS.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn set_read_timeout(&self, timeout: Duration) {
        let _ = match self {
            Conn::Tcp(s) => s.set_read_timeout(Some(timeout)),
            Conn::Unix(s) => s.set_read_timeout(Some(timeout)),
            Conn::Tls(s) => s.sock.set_read_timeout(Some(timeout)),
        };
    }

    /// Closes our side only (TLS: `close_notify`); we can still read.
    fn half_close(&mut self) {
        let _ = match self {
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tls(s) => {
                s.conn.send_close_notify();
                s.flush()
            }
        };
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, std::path::PathBuf),
}

impl Peer {
    /// Starts a receiver of `kind` behaving as `behaviour` (files go in `dir`).
    pub fn start(kind: Kind, dir: &Path, behaviour: Behaviour) -> Peer {
        let (listener, endpoint) = match kind {
            Kind::Unix => {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("peer-{n}.sock"));
                let listener = UnixListener::bind(&path).unwrap();
                (Listener::Unix(listener, path.clone()), Endpoint::Unix(path))
            }
            Kind::Tcp | Kind::Tls => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let scheme = if kind == Kind::Tls { "tls" } else { "tcp" };
                let endpoint = format!("{scheme}://127.0.0.1:{port}").parse().unwrap();
                (Listener::Tcp(listener), endpoint)
            }
        };
        let (tls_server, tls) = if kind == Kind::Tls {
            let ca = Authority::new(dir, "peer");
            let (cert_file, key_file) = ca.sign(dir, "peer-server", &["localhost"], false);
            let server = TlsServerOptions {
                cert_file,
                key_file,
                client_ca_file: None,
            };
            let client = TlsOptions {
                ca_file: Some(ca.cert_file.clone()),
                server_name: Some("localhost".into()),
                ..TlsOptions::default()
            };
            (Some(server.server_config().unwrap()), client)
        } else {
            (None, TlsOptions::default())
        };
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, connections, stop) =
                (received.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                serve(
                    listener,
                    tls_server,
                    behaviour,
                    &received,
                    &connections,
                    &stop,
                )
            })
        };
        Peer {
            endpoint,
            tls,
            received,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// The bytes read so far on each connection.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }

    /// The complete lines read so far, connection after connection (a line cut short when a
    /// connection closed is not one).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for bytes in self.received() {
            let text = String::from_utf8_lossy(&bytes);
            let complete = text.rfind('\n').map_or("", |end| &text[..end + 1]);
            lines.extend(complete.lines().map(str::to_owned));
        }
        lines
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        *self.connections.lock().unwrap()
    }

    /// Stops the receiver and waits for its thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    listener: Listener,
    tls: Option<Arc<rustls::ServerConfig>>,
    behaviour: Behaviour,
    received: &Mutex<Vec<Vec<u8>>>,
    connections: &Mutex<u64>,
    stop: &AtomicBool,
) {
    match &listener {
        Listener::Tcp(l) => l.set_nonblocking(true).unwrap(),
        Listener::Unix(l, _) => l.set_nonblocking(true).unwrap(),
    }
    let mut listener = Some(listener);
    // Connections kept open, unread, by a receiver that went away.
    let mut abandoned = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Some(open) = &listener else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let accepted = match open {
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                s.set_nonblocking(false).unwrap();
                match &tls {
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                        Conn::Tls(Box::new(rustls::StreamOwned::new(conn, s)))
                    }
                    None => Conn::Tcp(s),
                }
            }),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| {
                s.set_nonblocking(false).unwrap();
                Conn::Unix(s)
            }),
        };
        let mut conn = match accepted {
            Ok(conn) => conn,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        let number = {
            let mut count = connections.lock().unwrap();
            *count += 1;
            *count
        };
        received.lock().unwrap().push(Vec::new());
        conn.set_read_timeout(Duration::from_millis(20));
        if let Conn::Tls(s) = &mut conn {
            // Finish the handshake (and send the session tickets) before anything else.
            while s.conn.is_handshaking() {
                if s.conn.complete_io(&mut s.sock).is_err() && stop.load(Ordering::SeqCst) {
                    return;
                }
            }
            let _ = s.conn.complete_io(&mut s.sock);
        }
        match behaviour {
            Behaviour::HalfCloseAtOnce => {
                conn.half_close();
                read_to_end(&mut conn, usize::MAX, received, stop);
                listener = None;
            }
            Behaviour::CloseAfter(limit) if number == 1 => {
                read_to_end(&mut conn, limit, received, stop);
            }
            Behaviour::Vanish(limit) => {
                read_to_end(&mut conn, limit, received, stop);
                if let Some(Listener::Unix(_, path)) = &listener {
                    let _ = std::fs::remove_file(path);
                }
                listener = None;
                abandoned.push(conn);
                continue;
            }
            Behaviour::HalfCloseLaterUnread(after) => {
                std::thread::sleep(after);
                conn.half_close();
                abandoned.push(conn);
                continue;
            }
            Behaviour::CloseAfter(_) | Behaviour::Faithful => {
                read_to_end(&mut conn, usize::MAX, received, stop);
            }
        }
    }
}

/// Reads until `limit` bytes, the end of the stream, an error, or `stop`.
fn read_to_end(conn: &mut Conn, limit: usize, received: &Mutex<Vec<Vec<u8>>>, stop: &AtomicBool) {
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while got < limit && !stop.load(Ordering::SeqCst) {
        let want = buf.len().min(limit - got);
        match conn.read(&mut buf[..want]) {
            Ok(0) => return,
            Ok(n) => {
                got += n;
                let mut received = received.lock().unwrap();
                if let Some(last) = received.last_mut() {
                    last.extend_from_slice(&buf[..n]);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}
