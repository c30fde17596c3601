//! An in-memory transport: what a sender delivers stays in memory to be read back, and the
//! "peer" can be told to refuse connections, fail writes, stall, or hold back what it took.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Connect, DatagramLimits, Shape, TELEGRAF_MAX_LINE, Transport};
use crate::input::{InputFormat, ParseError};
use crate::reading::{Precision, Reading};

/// A destination in memory, for testing code that sends readings (a "spy sink"): build a
/// sender on it with [`Sender::memory_builder`](crate::Sender::memory_builder), then read back
/// what arrived. Clones share one destination, so a test keeps one handle and gives the
/// sender another.
///
/// It behaves like a stream socket to Telegraf (or, made with [`MemoryTransport::datagrams`],
/// like a datagram socket) whose far end can misbehave on command:
///
/// - [`refuse_connections`](Self::refuse_connections): connection attempts fail, as to a
///   receiver that is down;
/// - [`fail_writes`](Self::fail_writes): the open connection breaks at its next write, and
///   what the peer had not yet [taken](Self::hold) is lost with it;
/// - [`stall`](Self::stall): writes time out, as to a receiver that stopped reading;
/// - [`hold`](Self::hold): writes succeed but the peer does not take the bytes yet; they count
///   as unsent (as the kernel's send queue does), and the sender writes them again if the
///   connection then fails;
/// - [`close_after_next_write`](Self::close_after_next_write): the next write succeeds, and the
///   peer closes at once without reading it, as a receiver that goes away just then.
///
/// ```
/// use std::time::Duration;
/// use telemit::{DropReason, Encoder, Format, MemoryTransport, Precision, Reading, Sender};
///
/// let memory = MemoryTransport::new();
/// let sender = Sender::memory_builder(&memory, Encoder::new(Format::Influx))
///     .flush_timeout(Duration::from_millis(100))
///     .start()?;
/// sender.send(&Reading::builder("job").field("rows", 3i64).build()?)?;
/// assert!(memory.wait_for_bytes(12, Duration::from_secs(5)));
/// assert_eq!(memory.bytes(), b"job rows=3i\n");
///
/// // The receiver goes away: the next reading waits, and is dropped (and counted) when the
/// // flush timeout at shutdown runs out.
/// memory.fail_writes(true);
/// memory.refuse_connections(true);
/// sender.send(&Reading::builder("job").field("rows", 4i64).build()?)?;
/// let stats = sender.shutdown();
/// assert_eq!(stats.dropped(DropReason::SendError), 1);
///
/// let readings = memory.readings(Precision::Nanoseconds)?;
/// assert_eq!(readings.len(), 1);
/// assert_eq!(readings[0].measurement(), "job");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryTransport")
            .field("delivered_bytes", &state.delivered.len())
            .field("held_bytes", &state.held.len())
            .field("connections", &state.opened)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// For a datagram transport: the largest payload.
    datagram: Option<usize>,
    /// What the peer took, in order.
    delivered: Vec<u8>,
    /// Each datagram taken, for a datagram transport.
    datagrams: Vec<Vec<u8>>,
    /// Written on the open connection but not yet taken by the peer.
    held: Vec<u8>,
    /// The open connection's number (0: none yet).
    current: u64,
    attempts: u64,
    opened: u64,
    closed: u64,
    broken: u64,
    refuse: bool,
    fail: bool,
    stall: bool,
    hold: bool,
    /// The peer closes, unread, right after the next write.
    close_after_write: bool,
}

impl MemoryTransport {
    /// A stream destination that takes everything.
    pub fn new() -> MemoryTransport {
        MemoryTransport::default()
    }

    /// A datagram destination whose payloads are at most `max_payload` bytes (also the
    /// default size the sender packs readings into; 64 bytes at least).
    pub fn datagrams(max_payload: usize) -> MemoryTransport {
        let memory = MemoryTransport::default();
        memory.lock().datagram = Some(max_payload.max(64));
        memory
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change(&self, apply: impl FnOnce(&mut State)) {
        apply(&mut self.lock());
        self.shared.changed.notify_all();
    }

    /// Every byte the peer has taken so far, in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().delivered.clone()
    }

    /// Each datagram taken so far (empty for a stream destination).
    pub fn datagram_payloads(&self) -> Vec<Vec<u8>> {
        self.lock().datagrams.clone()
    }

    /// What arrived, parsed as Influx line protocol (for a sender in
    /// [`Format::Influx`](crate::Format::Influx)); timestamps in `precision`.
    pub fn readings(&self, precision: Precision) -> Result<Vec<Reading>, ParseError> {
        let bytes = self.bytes();
        let text = String::from_utf8_lossy(&bytes);
        let mut readings = Vec::new();
        for line in text.lines() {
            if let Some(reading) = InputFormat::Influx.parse(line, precision)? {
                readings.push(reading);
            }
        }
        Ok(readings)
    }

    /// Waits until at least `len` bytes have been taken, or `timeout` passes; true if they
    /// were.
    pub fn wait_for_bytes(&self, len: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.delivered.len() < len {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Connection attempts so far, refused ones included.
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    /// Connections opened so far.
    pub fn connections(&self) -> u64 {
        self.lock().opened
    }

    /// Connections the sender closed on purpose (at shutdown, or to reopen).
    pub fn closes(&self) -> u64 {
        self.lock().closed
    }

    /// Connections that broke under a write (see [`fail_writes`](Self::fail_writes) and
    /// [`close_after_next_write`](Self::close_after_next_write)).
    pub fn breaks(&self) -> u64 {
        self.lock().broken
    }

    /// Bytes written but not yet taken (see [`hold`](Self::hold)).
    pub fn held_bytes(&self) -> usize {
        self.lock().held.len()
    }

    /// While on, connection attempts fail with "connection refused".
    pub fn refuse_connections(&self, on: bool) {
        self.change(|state| state.refuse = on);
    }

    /// While on, every write fails with "broken pipe" and breaks the connection; what was
    /// held is lost with it.
    pub fn fail_writes(&self, on: bool) {
        self.change(|state| state.fail = on);
    }

    /// While on, writes time out without taking anything.
    pub fn stall(&self, on: bool) {
        self.change(|state| state.stall = on);
    }

    /// The next write succeeds, then the peer closes without reading it: the bytes are lost
    /// with the connection and no longer count as unsent (a Unix receiver that closes frees
    /// what it had not read), and the sender finds the connection closed when it checks.
    pub fn close_after_next_write(&self) {
        self.change(|state| state.close_after_write = true);
    }

    /// While on, writes succeed but the peer keeps the bytes back; turning it off takes what
    /// was held.
    pub fn hold(&self, on: bool) {
        self.change(|state| {
            state.hold = on;
            if !on {
                take_held(state);
            }
        });
    }
}

fn take_held(state: &mut State) {
    let held = std::mem::take(&mut state.held);
    state.delivered.extend_from_slice(&held);
}

impl Connect for MemoryTransport {
    fn shape(&self) -> Shape {
        let datagram = self.lock().datagram;
        Shape {
            name: "memory",
            datagram: datagram.map(|max| DatagramLimits { default: max, max }),
            max_line: TELEGRAF_MAX_LINE,
            confirms_delivery: true,
            unsent_is_unread: true,
            reconnectable: true,
            compressible: datagram.is_none(),
            tls: false,
            acknowledges: false,
            compresses_bodies: false,
        }
    }

    fn connect(&mut self) -> io::Result<Box<dyn Transport>> {
        let mut state = self.lock();
        state.attempts += 1;
        if state.refuse {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the memory transport refuses connections",
            ));
        }
        state.opened += 1;
        state.current = state.opened;
        // What an earlier connection held went away with it.
        state.held.clear();
        Ok(Box::new(Connection {
            memory: self.clone(),
            number: state.current,
        }))
    }
}

/// One connection to a [`MemoryTransport`].
struct Connection {
    memory: MemoryTransport,
    number: u64,
}

impl Connection {
    /// Applies the misbehaviour asked for, or takes `bytes` with `take`.
    fn io(&mut self, take: impl FnOnce(&mut State)) -> io::Result<()> {
        let mut state = self.memory.lock();
        if state.current != self.number {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if state.fail {
            state.held.clear();
            state.current = 0;
            state.broken += 1;
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the memory transport failed the write",
            ));
        }
        if state.stall {
            drop(state);
            // As a blocked socket does until its write timeout.
            std::thread::sleep(Duration::from_millis(10));
            return Err(io::ErrorKind::TimedOut.into());
        }
        take(&mut state);
        drop(state);
        self.memory.shared.changed.notify_all();
        Ok(())
    }
}

impl Transport for Connection {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.io(|state| {
            if state.close_after_write {
                state.close_after_write = false;
                state.held.clear();
                state.current = 0;
                state.broken += 1;
            } else if state.hold {
                state.held.extend_from_slice(bytes);
            } else {
                take_held(state);
                state.delivered.extend_from_slice(bytes);
            }
        })?;
        Ok(bytes.len())
    }

    fn send_datagram(&mut self, payload: &[u8]) -> io::Result<()> {
        self.io(|state| {
            state.delivered.extend_from_slice(payload);
            state.datagrams.push(payload.to_vec());
        })
    }

    fn unsent_bytes(&mut self) -> Option<usize> {
        Some(self.memory.lock().held.len())
    }

    fn check_open(&mut self) -> io::Result<()> {
        if self.memory.lock().current == self.number {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the memory transport's peer closed the connection",
            ))
        }
    }

    /// A graceful close: the peer reads everything before it closes its side.
    fn close(self: Box<Self>, _timeout: Duration) -> io::Result<()> {
        let mut confirmed = false;
        self.memory.change(|state| {
            if state.current == self.number {
                take_held(state);
                state.current = 0;
                state.closed += 1;
                confirmed = true;
            }
        });
        if confirmed {
            Ok(())
        } else {
            Err(io::ErrorKind::NotConnected.into())
        }
    }
}
