//! The connection state machine `Disconnected { retry_at } → Ready { transport, writes }`:
//! connecting with backoff, one event per outage, reopening, and writing through the
//! [`Transport`] trait.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::Shared;
use super::event::{Event, EventHook};
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
        writes: u64,
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
    pub(super) reopen_after: Option<u64>,
    pub(super) backoff: Backoff,
    pub(super) state: Connection,
    pub(super) on_event: Option<EventHook>,
    /// Readings that will be written again on the next connection.
    pub(super) resending: usize,
    pub(super) incident: Option<Incident>,
    /// Batches are being rejected (see `refusal.rs`): the first was reported.
    pub(super) rejecting: bool,
}

/// A delivery that stopped because the flush deadline passed.
pub(super) struct Stopped;

impl Link {
    pub(super) fn emit(&self, event: Event) {
        if let Some(hook) = &self.on_event {
            hook(&event);
        }
    }

    /// The open transport, connecting (with backoff) until it is open or the deadline passes.
    pub(super) fn ready(&mut self) -> Result<&mut Box<dyn Transport>, Stopped> {
        loop {
            if self.shared.past_deadline() {
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
                    }
                    self.state = Connection::Ready {
                        transport,
                        writes: 0,
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

    /// Counts a write and reopens the connection when `reopen_after` says so.
    pub(super) fn after_write(&mut self, retained: &mut Retained) {
        let Connection::Ready { writes, .. } = &mut self.state else {
            return;
        };
        *writes += 1;
        if self.reopen_after.is_none_or(|n| *writes < n) {
            return;
        }
        if let Connection::Ready { transport, .. } =
            std::mem::replace(&mut self.state, Connection::disconnected_at(Instant::now()))
        {
            transport.close(GRACEFUL_CLOSE);
            // The peer read everything before it closed its side.
            retained.clear();
            self.shared.stats.add_reconnect();
        }
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
                    let mut unused = Retained::default();
                    self.after_write(&mut unused);
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
