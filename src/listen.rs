//! A small receiver that behaves like Telegraf's `inputs.socket_listener`: the same line
//! splitting on streams, whole-datagram parsing (one bad line loses the datagram), the 64 KiB
//! limits, and the same parsers' rules. `telemit listen`, `telemit demo` and the tests use it to
//! check a pipeline without Telegraf.

use std::io::{self, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::format::Format;
use crate::input::telegraf_json::JsonParserOptions;
use crate::input::{line_protocol, telegraf_json, wavefront};
use crate::reading::{FieldValue, Precision, Reading};
use crate::tls::TlsServerOptions;

/// Telegraf's default `read_buffer_size`, and the longest line it reads on a stream.
pub const DEFAULT_READ_BUFFER: usize = 64 * 1024;

const POLL: Duration = Duration::from_millis(20);

/// How a [`Listener`] reads what arrives.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The data format (Telegraf's `data_format`).
    pub format: Format,
    /// How a JSON object is read (Telegraf's `json_name_key`, `json_time_key`, `tag_keys`,
    /// `json_string_fields`).
    pub json: JsonParserOptions,
    /// Unit of incoming timestamps (Telegraf's `influx_timestamp_precision`, `json_time_format`).
    pub precision: Precision,
    /// Longest stream line and largest datagram (Telegraf's `read_buffer_size`).
    pub read_buffer_size: usize,
    /// Kernel receive buffer (`SO_RCVBUF`) to ask for on datagram sockets, which Telegraf sets
    /// from `read_buffer_size`; `None` keeps the system default (`net.core.rmem_default`). The
    /// kernel caps it at `net.core.rmem_max`; [`Listener::receive_buffer`] tells what it gave.
    pub socket_buffer: Option<usize>,
    /// Certificate, key and client CAs for `tls://` (required there, unused elsewhere).
    pub tls: Option<TlsServerOptions>,
    /// Stream connections arrive gzip-compressed (Telegraf's `content_encoding = "gzip"`).
    pub gzip: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            format: Format::Influx,
            json: JsonParserOptions::default(),
            precision: Precision::Nanoseconds,
            read_buffer_size: DEFAULT_READ_BUFFER,
            socket_buffer: None,
            tls: None,
            gzip: false,
        }
    }
}

/// What one payload (a stream line or a datagram) turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// Readings parsed.
    Readings(Vec<Reading>),
    /// A line or datagram Telegraf would drop, with why.
    Rejected {
        /// The offending text (trimmed to 200 bytes).
        text: String,
        /// What is wrong, and what was lost.
        error: String,
    },
}

/// Turns one payload into readings as Telegraf's parser for `options.format` would.
///
/// On a datagram one bad line rejects the whole payload, as in Telegraf.
///
/// ```
/// use telemit::listen::{decode, ListenOptions, Received};
///
/// let options = ListenOptions::default();
/// let Received::Rejected { error, .. } = decode(b"a v=1\nb v=\n", true, &options) else {
///     panic!("one bad line loses the datagram");
/// };
/// assert_eq!(error, "line 2: column 5: expected a field value after '=' (the whole datagram of 2 lines is lost, as in Telegraf)");
/// ```
pub fn decode(payload: &[u8], datagram: bool, options: &ListenOptions) -> Received {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => {
            return Received::Rejected {
                text: trimmed(&String::from_utf8_lossy(payload)),
                error: format!("not UTF-8 at byte {}", e.valid_up_to()),
            };
        }
    };
    if options.format == Format::Json {
        return match telegraf_json::parse_payload(text, &options.json, options.precision) {
            Ok(readings) => Received::Readings(readings),
            Err(e) => Received::Rejected {
                text: trimmed(text),
                error: e.to_string(),
            },
        };
    }
    let mut readings = Vec::new();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let parsed = match options.format {
            Format::Wavefront => wavefront::parse_line(line),
            _ => line_protocol::parse_line(line, options.precision),
        };
        match parsed {
            Ok(Some(reading)) => readings.push(reading),
            Ok(None) => {}
            Err(e) => {
                let error = if datagram {
                    format!(
                        "line {}: {e} (the whole datagram of {} lines is lost, as in Telegraf)",
                        index + 1,
                        lines.len()
                    )
                } else {
                    e.to_string()
                };
                return Received::Rejected {
                    text: trimmed(line),
                    error,
                };
            }
        }
    }
    Received::Readings(readings)
}

fn trimmed(text: &str) -> String {
    crate::text::excerpt(text, 200)
}

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

/// Called from the listener's threads for every payload.
pub type Sink = Arc<dyn Fn(Received) + Send + Sync>;

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

    /// Starts reading on background threads; every payload goes to `sink`.
    pub fn spawn(self, sink: Sink) -> io::Result<ListenerHandle> {
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

trait Connection: Read + Send + 'static {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()>;
    fn set_blocking(&self) -> io::Result<()>;
}

impl Connection for std::net::TcpStream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

/// The TLS handshake happens on the first read, on the connection's own thread.
impl Connection for rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream> {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.sock.set_read_timeout(Some(timeout))
    }
    fn set_blocking(&self) -> io::Result<()> {
        self.sock.set_nonblocking(false)
    }
}

impl Connection for std::os::unix::net::UnixStream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))
    }
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

/// Runs [`accept_loop`] on a thread of its own.
fn spawn_accept_loop<C: Connection>(
    accept: impl FnMut() -> io::Result<C> + Send + 'static,
    stop: &Arc<AtomicBool>,
    connections: &Arc<Mutex<Vec<JoinHandle<()>>>>,
    sink: Sink,
    options: ListenOptions,
) -> JoinHandle<()> {
    let (stop, connections) = (stop.clone(), connections.clone());
    std::thread::spawn(move || accept_loop(accept, &stop, &connections, &sink, &options))
}

fn accept_loop<C: Connection>(
    mut accept: impl FnMut() -> io::Result<C>,
    stop: &Arc<AtomicBool>,
    connections: &Mutex<Vec<JoinHandle<()>>>,
    sink: &Sink,
    options: &ListenOptions,
) {
    while !stop.load(Ordering::SeqCst) {
        match accept() {
            Ok(stream) => {
                let (stop, sink, options) = (stop.clone(), sink.clone(), options.clone());
                let thread =
                    std::thread::spawn(move || read_stream(stream, &stop, &sink, &options));
                connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(thread);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Splits a stream into lines like Telegraf: `\n` ends a line, a trailing `\r` is dropped, a
/// line longer than the read buffer closes the connection, and a last line without `\n` is
/// parsed at end of stream.
fn read_stream(
    mut stream: impl Connection,
    stop: &AtomicBool,
    sink: &Sink,
    options: &ListenOptions,
) {
    if stream.set_blocking().is_err() || stream.set_timeout(POLL).is_err() {
        return;
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut gunzip = options
        .gzip
        .then(|| flate2::write::MultiGzDecoder::new(Vec::new()));
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                if !pending.is_empty() {
                    sink(decode(&pending, false, options));
                }
                return;
            }
            Ok(n) => {
                match &mut gunzip {
                    None => pending.extend_from_slice(&chunk[..n]),
                    Some(decoder) => {
                        let decoded = decoder
                            .write_all(&chunk[..n])
                            .and_then(|()| decoder.flush());
                        if let Err(e) = decoded {
                            sink(Received::Rejected {
                                text: String::new(),
                                error: format!("gzip: {e}: connection closed"),
                            });
                            return;
                        }
                        pending.append(decoder.get_mut());
                    }
                }
                let mut start = 0;
                while let Some(offset) = pending[start..].iter().position(|&b| b == b'\n') {
                    let line = &pending[start..start + offset];
                    if !line.is_empty() {
                        sink(decode(line, false, options));
                    }
                    start += offset + 1;
                }
                pending.drain(..start);
                if pending.len() > options.read_buffer_size {
                    sink(Received::Rejected {
                        text: trimmed(&String::from_utf8_lossy(&pending)),
                        error: format!(
                            "line longer than {} bytes: connection closed (\"token too long\"), as Telegraf does",
                            options.read_buffer_size
                        ),
                    });
                    return;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                // A failed TLS handshake is worth telling; a reset connection is not.
                if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    sink(Received::Rejected {
                        text: String::new(),
                        error: format!("TLS connection refused: {tls}"),
                    });
                }
                return;
            }
        }
    }
}

/// Reads datagrams on one thread and parses them on another, so that the kernel's receive
/// buffer is emptied as fast as `recv` allows (as Telegraf's listener does).
fn datagram_loop(
    mut recv: impl FnMut(&mut [u8]) -> io::Result<usize>,
    stop: &AtomicBool,
    sink: &Sink,
    options: &ListenOptions,
) {
    const BACKLOG: usize = 16 * 1024;
    let (queue, datagrams) = std::sync::mpsc::sync_channel::<Vec<u8>>(BACKLOG);
    let parser = {
        let (sink, options) = (sink.clone(), options.clone());
        std::thread::spawn(move || {
            for datagram in datagrams {
                sink(decode(&datagram, true, &options));
            }
        })
    };
    let mut buffer = vec![0u8; options.read_buffer_size];
    while !stop.load(Ordering::SeqCst) {
        match recv(&mut buffer) {
            Ok(n) => {
                if queue.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => std::thread::sleep(POLL),
        }
    }
    drop(queue);
    let _ = parser.join();
}

/// A read that timed out or was interrupted: try again.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
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

/// Counts readings lost and duplicated in transit from their sequence numbers.
///
/// ```
/// use telemit::listen::SequenceTracker;
///
/// let mut seq = SequenceTracker::default();
/// for n in [0, 1, 3, 3, 4] {
///     seq.observe(n);
/// }
/// assert_eq!((seq.received(), seq.lost(), seq.duplicates()), (5, 1, 1));
/// assert!(seq.contains(3) && !seq.contains(2));
/// ```
#[derive(Debug, Default, Clone)]
pub struct SequenceTracker {
    seen: Vec<u64>,
    unique: u64,
    total: u64,
    min: Option<u64>,
    max: u64,
    out_of_range: u64,
}

impl SequenceTracker {
    /// Sequence numbers above this are counted but not tracked (bounded memory: 512 MiB).
    pub const MAX_TRACKED: u64 = 1 << 32;

    /// Notes one arrival of sequence number `seq`.
    pub fn observe(&mut self, seq: u64) {
        self.total += 1;
        if seq >= Self::MAX_TRACKED {
            self.out_of_range += 1;
            return;
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) == 0 {
            self.seen[word] |= 1 << bit;
            self.unique += 1;
        }
        self.min = Some(self.min.map_or(seq, |m| m.min(seq)));
        self.max = self.max.max(seq);
    }

    /// The sequence number a reading carries in `field`, if it has a numeric one; a Wavefront
    /// reading carries it as the value of metric `<measurement>.<field>`.
    pub fn sequence_of(reading: &Reading, field: &str) -> Option<u64> {
        let value = match reading.field(field) {
            Some(value) => value,
            None => {
                let metric = reading.measurement().strip_suffix(field)?;
                if !metric.ends_with('.') {
                    return None;
                }
                reading.field("value")?
            }
        };
        match value {
            FieldValue::Unsigned(v) => Some(*v),
            FieldValue::Integer(v) => u64::try_from(*v).ok(),
            FieldValue::Float(v) if *v >= 0.0 && v.fract() == 0.0 => Some(*v as u64),
            _ => None,
        }
    }

    /// Whether sequence number `seq` has arrived (always false above [`Self::MAX_TRACKED`]).
    pub fn contains(&self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        seq < Self::MAX_TRACKED && self.seen.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Arrivals, duplicates included.
    pub fn received(&self) -> u64 {
        self.total
    }

    /// Distinct sequence numbers seen.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Numbers missing between the lowest and highest seen.
    pub fn lost(&self) -> u64 {
        match self.min {
            Some(min) => self.max - min + 1 - self.unique,
            None => 0,
        }
    }

    /// Arrivals of a number already seen.
    pub fn duplicates(&self) -> u64 {
        self.total - self.unique - self.out_of_range
    }

    /// The highest sequence number seen.
    pub fn highest(&self) -> Option<u64> {
        self.min.map(|_| self.max)
    }
}
