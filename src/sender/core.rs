//! What a sender's handle, its writer thread and its stats ticker share, and the producer's
//! side of sending: prepare, encode, queue or spool.

use std::cell::RefCell;
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::SendError;
use super::batch::Framing;
use super::latency::LatencyRecorder;
use super::prepare::Prepare;
use super::queue::{OnFull, Pushed, Queue};
use super::spool::{Recovered, Spool};
use super::stats::{DropReason, Stats, StatsSnapshot};
use super::transport::TELEGRAF_MAX_LINE;
use crate::format::{Encoder, json};
use crate::reading::Reading;

pub(crate) struct Shared {
    pub queue: Queue,
    pub stats: Stats,
    pub latency: Option<LatencyRecorder>,
    pub spool: Option<SpoolShared>,
    /// Set at shutdown: after this instant the writer gives up on what it has not delivered.
    pub stop_at: OnceLock<Instant>,
}

/// The spool, and where producers blocked on a full spool wait for room.
pub(crate) struct SpoolShared {
    pub spool: Mutex<Spool>,
    pub room: Condvar,
}

impl SpoolShared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    pub fn past_deadline(&self) -> bool {
        self.stop_at.get().is_some_and(|t| Instant::now() >= *t)
    }
}

thread_local! {
    /// Each producing thread's scratch buffer for the reading it is sending.
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Each producing thread's copy of a reading the sender's options change; refilled with
    /// `clone_from`, so its strings keep their allocations from one reading to the next.
    static PREPARED: RefCell<Option<Reading>> = const { RefCell::new(None) };
}

/// Everything behind a [`Sender`](super::Sender) handle.
pub(crate) struct Core {
    pub shared: std::sync::Arc<Shared>,
    pub recovered: Option<Recovered>,
    pub thread: Mutex<Option<JoinHandle<()>>>,
    pub encoder: Encoder,
    pub on_full: OnFull,
    pub framing: Framing,
    pub limit: usize,
    /// Whether the transport sends datagrams (for the wording of errors).
    pub datagram: bool,
    pub flush_timeout: Duration,
    pub prepare: Prepare,
}

impl Core {
    pub fn send(&self, reading: &Reading) -> Result<(), SendError> {
        if !self.prepare.changes(reading) {
            return self.send_as_is(reading);
        }
        PREPARED.with_borrow_mut(|copy| {
            let copy = match copy {
                Some(copy) => {
                    copy.clone_from(reading);
                    copy
                }
                None => copy.insert(reading.clone()),
            };
            self.prepare.apply(copy);
            self.send_as_is(copy)
        })
    }

    /// Sends `reading` without the reading options (the stats ticker's own readings).
    pub fn send_as_is(&self, reading: &Reading) -> Result<(), SendError> {
        let stats = &self.shared.stats;
        // Encoding happens before the queue's lock is taken: the writer is never kept waiting
        // behind a long reading, and the lock is held only to copy the bytes in.
        let pushed = ENCODED.with_borrow_mut(|record| {
            record.clear();
            if let Err(error) = self.encode(reading, record) {
                // Rare: the shared counter will do.
                stats.add_in();
                let reason = match error {
                    SendError::Oversize { .. } => DropReason::Oversize,
                    _ => DropReason::Unrepresentable,
                };
                stats.add_dropped(reason, 1);
                return Err(error);
            }
            // Every producer counts on its own shard of the queue (see `Core::stats`).
            self.shared.queue.count_in();
            let pushed = match &self.shared.spool {
                None => self.shared.queue.push(self.on_full, record),
                Some(spool) => self
                    .push_or_spool(spool, record)
                    .inspect_err(|_| stats.add_dropped(DropReason::SendError, 1))?,
            };
            // One huge reading must not pin its size in every thread that sent it.
            record.shrink_to(TELEGRAF_MAX_LINE);
            Ok(pushed)
        })?;
        self.account(pushed)
    }

    /// With a spool: into the queue while the spool is empty and the queue has room, else to
    /// the end of the spool, so that readings keep their order.
    fn push_or_spool(&self, spool: &SpoolShared, record: &[u8]) -> Result<Pushed, SendError> {
        let mut guard = spool.lock();
        if guard.is_empty() {
            match self.shared.queue.push(OnFull::DropNewest, record) {
                Pushed::DroppedNewest => {}
                other => return Ok(other),
            }
        }
        let mut dropped_oldest = 0;
        loop {
            if self.shared.queue.is_closed() {
                return Ok(Pushed::Closed);
            }
            let appended = guard
                .append(record)
                .map_err(|e| SendError::Spool(e.to_string()))?;
            if appended {
                self.shared.stats.add_spooled(1);
                self.shared.queue.wake();
                return Ok(Pushed::Queued { dropped_oldest });
            }
            match self.on_full {
                OnFull::DropNewest => return Ok(Pushed::DroppedNewest),
                OnFull::DropOldest => {
                    let dropped = guard
                        .drop_oldest()
                        .map_err(|e| SendError::Spool(e.to_string()))?;
                    if !dropped {
                        // Larger than the whole spool: nothing older to make room with.
                        return Ok(Pushed::DroppedNewest);
                    }
                    if dropped_oldest > 0 {
                        self.shared.stats.add_dropped(DropReason::QueueFull, 1);
                    }
                    dropped_oldest = 1;
                }
                OnFull::Block => {
                    guard = spool.room.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }

    /// Encodes one reading as the transport frames it into the empty `out`, within its limit.
    fn encode(&self, reading: &Reading, out: &mut Vec<u8>) -> Result<(), SendError> {
        match self.framing {
            Framing::Lines => self.encoder.encode(reading, out)?,
            Framing::JsonArray => json::encode_object(
                reading,
                self.encoder.precision(),
                self.encoder.json_options(),
                out,
            )?,
        }
        self.fits(out.len())
    }

    /// Whether a record of `len` bytes (without the framing) fits the transport's limit.
    fn fits(&self, len: usize) -> Result<(), SendError> {
        let len = self.framing.single_len(len);
        if len > self.limit {
            return Err(SendError::Oversize {
                len,
                max: self.limit,
                transport: if self.datagram {
                    "a datagram"
                } else {
                    "a stream line in Telegraf"
                },
            });
        }
        Ok(())
    }

    /// Queues one reading its caller already holds encoded in the sender's format (see
    /// [`Sender::send_encoded`](super::Sender::send_encoded)): counted, held to the transport's
    /// limit and queued or spooled like an encoded reading in `send_as_is`.
    pub fn send_encoded(&self, record: &[u8]) -> Result<(), SendError> {
        let stats = &self.shared.stats;
        self.shared.queue.count_in();
        // In a JSON array each object goes without its newline.
        let record = match self.framing {
            Framing::Lines => record,
            Framing::JsonArray => record.strip_suffix(b"\n").unwrap_or(record),
        };
        if let Err(error) = self.fits(record.len()) {
            stats.add_dropped(DropReason::Oversize, 1);
            return Err(error);
        }
        let pushed = match &self.shared.spool {
            None => self.shared.queue.push(self.on_full, record),
            Some(spool) => self
                .push_or_spool(spool, record)
                .inspect_err(|_| stats.add_dropped(DropReason::SendError, 1))?,
        };
        self.account(pushed)
    }

    /// Counts what the queue did with one reading: a drop to make room, or the reading itself
    /// refused.
    fn account(&self, pushed: Pushed) -> Result<(), SendError> {
        let stats = &self.shared.stats;
        match pushed {
            Pushed::Queued { dropped_oldest } => {
                if dropped_oldest > 0 {
                    stats.add_dropped(DropReason::QueueFull, dropped_oldest);
                }
                Ok(())
            }
            Pushed::DroppedNewest => {
                stats.add_dropped(DropReason::QueueFull, 1);
                Err(SendError::QueueFull)
            }
            Pushed::Closed => {
                stats.add_dropped(DropReason::SendError, 1);
                Err(SendError::Closed)
            }
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = self.shared.stats.snapshot();
        // Readings that encoded are counted per producer, the others in `Stats`.
        snapshot.readings_in += self.shared.queue.readings_in();
        snapshot.queue_depth = self.shared.queue.depth() as u64;
        if let Some(spool) = &self.shared.spool {
            snapshot.spool_depth = spool.lock().len();
        }
        snapshot
    }

    pub fn shutdown(&self) -> StatsSnapshot {
        // A flush timeout beyond what the clock can add is no deadline at all.
        let now = Instant::now();
        let stop_at = now
            .checked_add(self.flush_timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        let _ = self.shared.stop_at.set(stop_at);
        self.shared.queue.close();
        if let Some(spool) = &self.shared.spool {
            // Producers waiting for room in a full spool give up: the sender is closed.
            let _guard = spool.lock();
            spool.room.notify_all();
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        self.stats()
    }
}
