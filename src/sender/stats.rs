//! Counters of what a sender did, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::reading::{Reading, ReadingError};

/// Why a reading was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full and the policy said drop.
    QueueFull,
    /// The reading cannot be written in the chosen format.
    Unrepresentable,
    /// The encoded reading is larger than a datagram or a stream line may be.
    Oversize,
    /// It was still queued or failing to send when the flush timeout at shutdown ran out, or
    /// the output (standard output) failed for good.
    SendError,
    /// A spool record found cut short or damaged when the spool was opened (a crash in the
    /// middle of writing it).
    SpoolDamaged,
    /// The receiver answered that it will not take the reading (HTTP 4xx other than 429: a
    /// field type conflict, a missing database, bad credentials); it is not sent again.
    Rejected,
}

impl DropReason {
    /// All reasons, in the order reports list them.
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::Unrepresentable,
        DropReason::Oversize,
        DropReason::SendError,
        DropReason::SpoolDamaged,
        DropReason::Rejected,
    ];

    /// The name used in reports and in the `telemit` stats reading (`dropped_<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Unrepresentable => "unrepresentable",
            DropReason::Oversize => "oversize",
            DropReason::SendError => "send_error",
            DropReason::SpoolDamaged => "spool_damaged",
            DropReason::Rejected => "rejected",
        }
    }
}

/// Live counters, shared between a sender's handle and its writer thread.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    readings_in: AtomicU64,
    written: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    spooled: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    reconnects: AtomicU64,
    reopens: AtomicU64,
    unconfirmed: AtomicU64,
}

impl Stats {
    pub(crate) fn add_in(&self) {
        self.readings_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, reason: DropReason, count: u64) {
        self.dropped[reason as usize].fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn add_written(&self, readings: u64, bytes: u64) {
        self.written.fetch_add(readings, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Readings counted as written that turned out not to be taken (written after the
    /// receiver closed its side, or not read before a close the receiver did not confirm),
    /// and that could not be written again: the caller counts them as dropped or spooled.
    pub(crate) fn take_back(&self, readings: u64) {
        self.written.fetch_sub(readings, Ordering::Relaxed);
    }

    pub(crate) fn add_reopen(&self) {
        self.reopens.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_unconfirmed(&self, readings: u64) {
        self.unconfirmed.fetch_add(readings, Ordering::Relaxed);
    }

    pub(crate) fn add_spooled(&self, readings: u64) {
        self.spooled.fetch_add(readings, Ordering::Relaxed);
    }

    pub(crate) fn add_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            readings_in: load(&self.readings_in),
            written: load(&self.written),
            dropped: std::array::from_fn(|i| load(&self.dropped[i])),
            spooled: load(&self.spooled),
            spool_depth: 0,
            bytes: load(&self.bytes),
            batches: load(&self.batches),
            reconnects: load(&self.reconnects),
            reopens: load(&self.reopens),
            unconfirmed: load(&self.unconfirmed),
            queue_depth: 0,
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Readings handed to the sender.
    pub readings_in: u64,
    /// Readings written to the socket (for datagrams: handed to the kernel). On stream
    /// sockets a reading written after the receiver closed its side does not count: it is
    /// written again on the next connection, or counted as dropped.
    pub written: u64,
    /// Readings not delivered, by [`DropReason`] (index with `reason as usize`).
    pub dropped: [u64; DropReason::ALL.len()],
    /// Readings written to the disk spool because the queue was full or the spool in use.
    pub spooled: u64,
    /// Readings in the spool now, from this run or earlier ones (filled in by
    /// [`Sender::stats`](crate::Sender::stats)).
    pub spool_depth: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Writes (stream) or datagrams sent.
    pub batches: u64,
    /// Connections opened again after a failure (a refused connection, a lost one, a
    /// receiver that closed its side).
    pub reconnects: u64,
    /// Connections closed and opened again on purpose (`reopen_after`, `reopen_interval`);
    /// not failures, so not among the reconnects.
    pub reopens: u64,
    /// Readings written on a TCP or TLS connection whose graceful close the receiver did not
    /// confirm (it did not read to the end and close its side), beyond those the kernel said
    /// were not taken (written again or dropped): they may or may not have been read. Unix
    /// sockets know exactly what the receiver read, so this stays 0 there.
    pub unconfirmed: u64,
    /// Readings waiting in the queue (filled in by [`Sender::stats`](crate::Sender::stats)).
    pub queue_depth: u64,
}

impl StatsSnapshot {
    /// Readings dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Readings dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// The counters as a reading of measurement `telemit`, to send next to the data.
    pub fn to_reading(&self) -> Result<Reading, ReadingError> {
        let mut builder = Reading::builder("telemit")
            .field("readings_in", self.readings_in)
            .field("written", self.written)
            .field("dropped", self.dropped_total())
            .field("bytes", self.bytes)
            .field("batches", self.batches)
            .field("reconnects", self.reconnects)
            .field("reopens", self.reopens)
            .field("unconfirmed", self.unconfirmed)
            .field("queue_depth", self.queue_depth)
            .field("spooled", self.spooled)
            .field("spool_depth", self.spool_depth);
        for reason in DropReason::ALL {
            builder = builder.field(format!("dropped_{}", reason.as_str()), self.dropped(reason));
        }
        builder.build()
    }

    /// One line for a person: `read … written … dropped …`.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} in, {} written ({} bytes in {} writes), {} dropped",
            self.readings_in,
            self.written,
            self.bytes,
            self.batches,
            self.dropped_total()
        );
        let reasons: Vec<String> = DropReason::ALL
            .iter()
            .filter(|r| self.dropped(**r) > 0)
            .map(|r| format!("{} {}", r.as_str(), self.dropped(*r)))
            .collect();
        if !reasons.is_empty() {
            text.push_str(&format!(" ({})", reasons.join(", ")));
        }
        if self.reconnects > 0 {
            text.push_str(&format!(", {} reconnects", self.reconnects));
        }
        if self.reopens > 0 {
            text.push_str(&format!(", {} planned reopens", self.reopens));
        }
        if self.unconfirmed > 0 {
            text.push_str(&format!(
                ", {} written but not confirmed by the receiver",
                self.unconfirmed
            ));
        }
        if self.spooled > 0 || self.spool_depth > 0 {
            text.push_str(&format!(
                ", {} spooled, {} left in the spool",
                self.spooled, self.spool_depth
            ));
        }
        text
    }
}
