//! The connection state machine `Disconnected { retry_at } → Ready { transport, readings }`:
//! connecting with backoff, one event per outage, planned reopens, graceful closes the
//! receiver confirms, and writing through the [`Transport`] trait.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::Shared;
use super::event::{Event, EventHook};
use super::queue::Pending;
use super::retained::Retained;
use super::transport::{Connect, Shape, Transport};
use crate::backoff::Backoff;

/// How long a graceful close waits for the peer to read what was written and close.
pub(super) const GRACEFUL_CLOSE: Duration = Duration::from_secs(2);
/// The longest the writer sleeps at once, so that it notices shutdown.
pub(super) const TICK: Duration = Duration::from_millis(50);

/// A connection that lived shorter than this before failing counts as a failed attempt, so
/// that a receiver which accepts and drops every connection is retried with backoff.
pub(super) const STABLE_CONNECTION: Duration = Duration::from_secs(1);

pub(super) enum Connection {
    Disconnected {
        retry_at: Instant,
    },
    Ready {
        transport: Box<dyn Transport>,
        /// Readings written on this connection (resent ones included).
        readings: u64,
        since: Instant,
        /// Bytes written on this connection.
        bytes: u64,
    },
}

impl Connection {
    pub(super) fn disconnected_at(retry_at: Instant) -> Connection {
        Connection::Disconnected { retry_at }
    }
}

/// An outage, from the first failure to the first successful write after it: logged once
/// when it starts and once when it ends.
pub(super) struct Incident {
    pub(super) failures: u32,
}

/// The connection and everything needed to keep it up.
pub(super) struct Link {
    pub(super) shared: Arc<Shared>,
    pub(super) connector: Box<dyn Connect>,
    /// What kind of transport the connector opens.
    pub(super) shape: Shape,
    pub(super) endpoint_text: String,
    /// Planned reopens: after this many readings on one connection, or once it is this old.
    pub(super) reopen: Reopen,
    /// The last connection was closed on purpose: the next one is a reopen, not a reconnect.
    pub(super) reopening: bool,
    /// Set when the output failed for good (see [`Shape::reconnectable`]).
    pub(super) closed_for_good: bool,
    pub(super) backoff: Backoff,
    pub(super) state: Connection,
    pub(super) on_event: Option<EventHook>,
    /// Readings that will be written again on the next connection.
    pub(super) resending: usize,
    pub(super) incident: Option<Incident>,
    /// Batches are being rejected (see `refusal.rs`): the first was reported.
    pub(super) rejecting: bool,
}

/// A delivery that stopped because the flush deadline passed, or the output closed for good.
pub(super) struct Stopped;

/// When to close a healthy stream connection and open a new one (for load balancers, which
/// balance connections, not readings).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reopen {
    /// After this many readings on one connection.
    pub after_readings: Option<u64>,
    /// Once a connection has been open this long.
    pub interval: Option<Duration>,
}

impl Link {
    pub(super) fn emit(&self, event: Event) {
        if let Some(hook) = &self.on_event {
            hook(&event);
        }
    }

    /// The open transport, connecting (with backoff) until it is open or the deadline passes.
    pub(super) fn ready(&mut self) -> Result<&mut Box<dyn Transport>, Stopped> {
        loop {
            if self.shared.past_deadline() || self.closed_for_good {
                return Err(Stopped);
            }
            let retry_at = match &self.state {
                Connection::Ready { .. } => break,
                Connection::Disconnected { retry_at } => *retry_at,
            };
            let now = Instant::now();
            if now < retry_at {
                std::thread::sleep((retry_at - now).min(TICK));
                continue;
            }
            match self.connector.connect() {
                Ok(transport) => {
                    if self.incident.is_some() {
                        self.shared.stats.add_reconnect();
                    } else if self.reopening {
                        self.shared.stats.add_reopen();
                    }
                    self.reopening = false;
                    self.state = Connection::Ready {
                        transport,
                        readings: 0,
                        since: Instant::now(),
                        bytes: 0,
                    };
                }
                Err(error) => {
                    let retry_in = self.backoff.next_delay();
                    self.failed(1, |endpoint| Event::ConnectFailed {
                        endpoint,
                        error: error.to_string(),
                        retry_in,
                    });
                    self.state = Connection::disconnected_at(Instant::now() + retry_in);
                }
            }
        }
        match &mut self.state {
            Connection::Ready { transport, .. } => Ok(transport),
            Connection::Disconnected { .. } => unreachable!("the loop above ends only when ready"),
        }
    }

    /// Counts a failure in the current outage, or opens one (starting at `first` failures) and
    /// logs it with `event` (given the endpoint): one line per outage.
    pub(super) fn failed(&mut self, first: u32, event: impl FnOnce(String) -> Event) {
        match &mut self.incident {
            Some(incident) => incident.failures += 1,
            None => {
                self.incident = Some(Incident { failures: first });
                let event = event(self.endpoint_text.clone());
                self.emit(event);
            }
        }
    }

    /// An open connection failed: close it and retry, at once if it had been up for a while.
    pub(super) fn lost(&mut self, error: &io::Error) {
        let lived = match &self.state {
            Connection::Ready { since, .. } => since.elapsed(),
            Connection::Disconnected { .. } => Duration::ZERO,
        };
        self.failed(0, |endpoint| Event::ConnectionLost {
            endpoint,
            error: error.to_string(),
        });
        let retry_at = if lived >= STABLE_CONNECTION {
            self.backoff.reset();
            Instant::now()
        } else {
            Instant::now() + self.backoff.next_delay()
        };
        self.state = Connection::disconnected_at(retry_at);
    }

    /// Connected for long enough that its failure would be a new incident.
    pub(super) fn is_stable(&self) -> bool {
        matches!(&self.state, Connection::Ready { since, .. } if since.elapsed() >= STABLE_CONNECTION)
    }

    /// A write went through: an outage, if there was one, is over.
    pub(super) fn delivered(&mut self) {
        if let Some(incident) = self.incident.take() {
            self.backoff.reset();
            let resent = std::mem::take(&mut self.resending);
            self.emit(Event::Reconnected {
                endpoint: self.endpoint_text.clone(),
                failures: incident.failures,
                resent,
            });
        }
    }

    /// Whether the open connection is due for a planned reopen.
    pub(super) fn reopen_due(&self) -> bool {
        match &self.state {
            Connection::Ready {
                readings, since, ..
            } => {
                self.reopen.after_readings.is_some_and(|n| *readings >= n)
                    || self.reopen.interval.is_some_and(|d| since.elapsed() >= d)
            }
            Connection::Disconnected { .. } => false,
        }
    }

    /// How many more readings the open connection takes before its planned reopen.
    pub(super) fn reopen_budget(&self) -> u64 {
        match (&self.state, self.reopen.after_readings) {
            (Connection::Ready { readings, .. }, Some(n)) => n.saturating_sub(*readings),
            _ => u64::MAX,
        }
    }

    /// Closes the open connection gracefully (see [`Transport::close`]); whether the receiver
    /// confirmed that it read everything. When it does not, the readings the kernel says it
    /// has not taken (and, on TCP and TLS, the recent ones) join `resend`, the others written
    /// on the connection are counted as unconfirmed where the kernel cannot tell read from
    /// acknowledged (TCP, TLS), and the next connection waits for the backoff.
    pub(super) fn close(&mut self, retained: &mut Retained, resend: &mut Pending) -> bool {
        let Connection::Ready {
            mut transport,
            readings,
            ..
        } = std::mem::replace(&mut self.state, Connection::disconnected_at(Instant::now()))
        else {
            return true;
        };
        // A fresh count of what the receiver has not taken, trusted only if it was still open
        // after the count was taken (a receiver that closes frees what it had not read).
        let unsent = transport.unsent_bytes();
        if let (Some(unsent), Ok(())) = (unsent, transport.check_open()) {
            retained.written(std::iter::empty(), unsent);
        }
        // Within the flush deadline when there is one (at least a moment, to see the close).
        let wait = match self.shared.stop_at.get() {
            Some(&deadline) => GRACEFUL_CLOSE
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(50)),
            None => GRACEFUL_CLOSE,
        };
        match transport.close(wait) {
            Ok(()) => {
                retained.clear();
                true
            }
            Err(error) => {
                let resending = retained.len() as u64;
                retained.take_into(resend);
                self.resending = resend.len();
                let unconfirmed = if self.shape.unsent_is_unread {
                    0
                } else {
                    readings.saturating_sub(resending)
                };
                self.shared.stats.add_unconfirmed(unconfirmed);
                // Like a lost connection: the next one waits for the backoff, and an outage
                // of closes that are not confirmed is logged once.
                self.failed(1, |endpoint| Event::CloseUnconfirmed {
                    endpoint,
                    error: error.to_string(),
                    resending,
                    unconfirmed,
                });
                self.state =
                    Connection::disconnected_at(Instant::now() + self.backoff.next_delay());
                false
            }
        }
    }

    /// A planned reopen: closes the connection gracefully; the next write opens a new one.
    pub(super) fn reopen_now(&mut self, retained: &mut Retained, resend: &mut Pending) {
        self.close(retained, resend);
        self.reopening = true;
    }

    pub(super) fn send_datagram(&mut self, payload: &[u8], records: usize) -> Result<(), Stopped> {
        loop {
            let transport = self.ready()?;
            match transport.send_datagram(payload) {
                Ok(()) => {
                    self.shared
                        .stats
                        .add_written(records as u64, payload.len() as u64);
                    // A UDP send to a closed port succeeds, and only the next one fails:
                    // as on streams, an outage ends after a second without failure. An
                    // acknowledged send (HTTP) ends it at once.
                    if self.is_stable() || self.shape.acknowledges {
                        self.delivered();
                    }
                    self.rejecting = false;
                    if let Connection::Ready { readings, .. } = &mut self.state {
                        *readings += records as u64;
                    }
                    if self.reopen_due() {
                        self.reopen_now(&mut Retained::default(), &mut Pending::default());
                    }
                    return Ok(());
                }
                // The receiver's queue is full (unixgram): wait, as a blocking socket does.
                Err(e) if is_retry(&e) => {}
                Err(error) => match super::transport::refusal(&error).cloned() {
                    Some(refusal) => {
                        if self.refused(refusal, payload.len(), records) {
                            return Ok(());
                        }
                    }
                    None => self.lost(&error),
                },
            }
        }
    }
}

pub(super) enum WriteFailure {
    Stopped,
    Io(io::Error),
}

pub(super) fn is_retry(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Writes all of `bytes`, riding out write timeouts until the flush deadline passes.
pub(super) fn write_all(
    transport: &mut dyn Transport,
    mut bytes: &[u8],
    shared: &Shared,
) -> Result<(), WriteFailure> {
    while !bytes.is_empty() {
        match transport.write(bytes) {
            Ok(0) => return Err(WriteFailure::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if is_retry(&e) => {
                if shared.past_deadline() {
                    return Err(WriteFailure::Stopped);
                }
            }
            Err(e) => return Err(WriteFailure::Io(e)),
        }
    }
    loop {
        match transport.flush() {
            Ok(()) => return Ok(()),
            Err(e) if is_retry(&e) => {
                if shared.past_deadline() {
                    return Err(WriteFailure::Stopped);
                }
            }
            Err(e) => return Err(WriteFailure::Io(e)),
        }
    }
}
