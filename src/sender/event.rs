//! What the connection did, for logs: one event per incident, never one per reading.

use std::sync::Arc;
use std::time::Duration;

/// Something the connection did, for logs: one event per incident, never one per reading.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The first connection attempt of an incident failed; more follow with backoff.
    ConnectFailed {
        /// Where.
        endpoint: String,
        /// What the system said.
        error: String,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// Delivering again after an outage.
    Reconnected {
        /// Where.
        endpoint: String,
        /// Failed connection attempts and short-lived connections during the outage.
        failures: u32,
        /// Readings written again because the peer may not have taken them.
        resent: usize,
    },
    /// An open connection failed.
    ConnectionLost {
        /// Where.
        endpoint: String,
        /// What the system said.
        error: String,
    },
    /// The flush timeout ran out at shutdown with readings still undelivered.
    GaveUp {
        /// Where.
        endpoint: String,
        /// Readings dropped.
        dropped: u64,
    },
    /// The flush timeout ran out at shutdown with readings in the spool: the next run sends
    /// them.
    LeftInSpool {
        /// Where.
        endpoint: String,
        /// Readings waiting in the spool.
        readings: u64,
    },
    /// The receiver refused a batch (HTTP 4xx other than 429): its readings are counted as
    /// rejected and not sent again. Reported for the first batch; later rejections are
    /// counted without a word until a batch is taken whole.
    Rejected {
        /// Where.
        endpoint: String,
        /// Readings of this batch the receiver did not store.
        readings: u64,
        /// The status and the server's own message.
        message: String,
    },
    /// The receiver asked to wait (HTTP 429 or 503): the batch is sent again after `retry_in`
    /// (its `Retry-After`, or the backoff when it gave none).
    Throttled {
        /// Where.
        endpoint: String,
        /// The status and the server's own message.
        message: String,
        /// When the batch is sent again.
        retry_in: Duration,
    },
    /// A graceful close (at shutdown, or a planned reopen) that the receiver did not confirm:
    /// it had closed its side or reset the connection before reading to the end, or did not
    /// close within the wait.
    CloseUnconfirmed {
        /// Where.
        endpoint: String,
        /// Why it is not confirmed.
        error: String,
        /// Readings the kernel said the receiver had not taken: written again on the next
        /// connection (or dropped and counted if there is none before the flush timeout).
        resending: u64,
        /// Readings written on the connection that the receiver may or may not have read
        /// (TCP, TLS: its kernel acknowledged them, which does not mean it read them).
        unconfirmed: u64,
    },
    /// The output closed for good (standard output whose reader went away): the readings not
    /// yet written, and all later ones, are dropped and counted.
    OutputClosed {
        /// Where.
        endpoint: String,
        /// What the system said.
        error: String,
    },
    /// The spool could not be read or updated.
    SpoolError {
        /// What the system said.
        error: String,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::ConnectFailed {
                endpoint,
                error,
                retry_in,
            } => write!(
                f,
                "cannot connect to {endpoint}: {error}; retrying with backoff (next in {:.1}s), readings wait in the queue",
                retry_in.as_secs_f64()
            ),
            Event::Reconnected {
                endpoint,
                failures,
                resent,
            } => {
                write!(f, "delivering to {endpoint} again")?;
                if *failures > 0 {
                    write!(f, " after {failures} failed attempts")?;
                }
                write!(
                    f,
                    "; {resent} readings the peer may not have taken were sent again"
                )
            }
            Event::ConnectionLost { endpoint, error } => {
                write!(f, "connection to {endpoint} lost: {error}; reconnecting")
            }
            Event::GaveUp { endpoint, dropped } => write!(
                f,
                "flush timeout: {dropped} readings could not be delivered to {endpoint}"
            ),
            Event::LeftInSpool { endpoint, readings } => write!(
                f,
                "flush timeout: {readings} readings not yet delivered to {endpoint} wait in the spool for the next run"
            ),
            Event::CloseUnconfirmed {
                endpoint,
                error,
                resending,
                unconfirmed,
            } => {
                write!(f, "closing the connection to {endpoint}: {error}")?;
                if *resending > 0 {
                    write!(f, "; {resending} readings it had not taken are sent again")?;
                }
                if *unconfirmed > 0 {
                    write!(
                        f,
                        "; {unconfirmed} readings written on it are not confirmed as read"
                    )?;
                }
                Ok(())
            }
            Event::OutputClosed { endpoint, error } => write!(
                f,
                "{endpoint} closed: {error}; the rest of the readings are dropped"
            ),
            Event::SpoolError { error } => write!(f, "spool: {error}; retrying"),
            Event::Rejected {
                endpoint,
                readings,
                message,
            } => write!(
                f,
                "{endpoint} rejected {readings} reading{} ({message}); they are not sent again, \
                 and further rejections are counted without a message until a batch is taken",
                if *readings == 1 { "" } else { "s" }
            ),
            Event::Throttled {
                endpoint,
                message,
                retry_in,
            } => write!(
                f,
                "{endpoint} asks to wait ({message}); sending again in {:.1}s, readings wait in the queue",
                retry_in.as_secs_f64()
            ),
        }
    }
}

/// Called on the writer thread for each event.
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;
