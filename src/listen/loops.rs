//! The socket loops: accepting connections, splitting streams into lines, and reading
//! datagrams, each payload decoded and handed to the sink.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::listen::decode::{decode, rejected_text};
use crate::listen::{ListenOptions, Received, Sink};

/// How long a loop blocks before it looks at the stop flag again.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// A connection the stream loop can read with a timeout.
pub(crate) trait Connection: Read + Send + 'static {
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
pub(crate) fn spawn_accept_loop<C: Connection>(
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
                        text: rejected_text(&String::from_utf8_lossy(&pending)),
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
pub(crate) fn datagram_loop(
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
