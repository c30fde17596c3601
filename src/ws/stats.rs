//! The stream's counters: [`WsStats`], shared with whoever reports them, and [`WsSnapshot`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::reading::{Reading, ReadingError};

/// The stream's counters, shared with whoever reports them: [`run`](crate::ws::run) updates
/// them, [`WsStats::snapshot`] reads them (relaxed atomics: each counter is exact, a snapshot
/// is not one instant across counters).
#[derive(Debug, Default)]
pub struct WsStats {
    pub(super) connected: AtomicBool,
    pub(super) connects: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) messages: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) mapping_errors: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) readings: AtomicU64,
}

/// The stream's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsSnapshot {
    /// Whether the stream is connected now.
    pub connected: bool,
    /// Successful connections, the first included.
    pub connects: u64,
    /// Connections after the first.
    pub reconnects: u64,
    /// Messages received.
    pub messages: u64,
    /// Bytes of those messages.
    pub bytes: u64,
    /// Messages no rule applied to (acknowledgements, other event types).
    pub ignored: u64,
    /// Rule failures (missing path, bad number, division by zero, …).
    pub mapping_errors: u64,
    /// Messages refused outright: binary frames that are not UTF-8, oversize messages.
    pub refused: u64,
    /// Readings produced.
    pub readings: u64,
}

impl WsStats {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> WsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WsSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            connects: load(&self.connects),
            reconnects: load(&self.reconnects),
            messages: load(&self.messages),
            bytes: load(&self.bytes),
            ignored: load(&self.ignored),
            mapping_errors: load(&self.mapping_errors),
            refused: load(&self.refused),
            readings: load(&self.readings),
        }
    }
}

impl WsSnapshot {
    /// The counters as a reading of measurement `telemit_ws`: fields `connected` (boolean),
    /// `reconnects`, `messages`, `bytes`, `ignored`, `mapping_errors`, `refused` and `readings`
    /// (unsigned), no tags, no timestamp.
    pub fn to_reading(&self) -> Result<Reading, ReadingError> {
        Reading::builder("telemit_ws")
            .field("connected", self.connected)
            .field("reconnects", self.reconnects)
            .field("messages", self.messages)
            .field("bytes", self.bytes)
            .field("ignored", self.ignored)
            .field("mapping_errors", self.mapping_errors)
            .field("refused", self.refused)
            .field("readings", self.readings)
            .build()
    }
}
