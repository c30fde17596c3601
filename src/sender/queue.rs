//! The bounded queue between producers and the writer thread.
//!
//! Queued readings live encoded in byte buffers, so a queued reading costs no allocation of its
//! own; producers encode before they take a lock and only copy in under it. The writer swaps
//! the buffers out whole, which is what makes batches grow under load while a lone reading
//! still goes out immediately.
//!
//! # How producers scale
//!
//! The queue is split into shards, about two per core. Each producing thread keeps to one shard
//! (its *home*, fixed for the thread's life, so one thread's readings keep their order) and
//! appends to it under that shard's own lock, which only the writer also takes, once per batch.
//! So a reading touches no memory another producer writes: the shard's lock, its buffer and its
//! byte count sit on cache lines of their own, and the writer's state and the closed flag,
//! which every producer reads, are written only when the writer goes to sleep or wakes.
//!
//! The bound stays exact without a shared counter per reading. The queue's `capacity` slots are
//! either free (one atomic counter), lent to a shard as *credits*, or holding a reading: a
//! shard takes credits from the free counter in chunks (at most a quarter of the capacity
//! spread over all shards), and the writer gives back one slot per reading it takes. A
//! producer that finds neither credits at home nor free slots first takes back the credits
//! every other shard holds unused; only if that finds none is the queue full, and the policy
//! decides ([`OnFull`]). So per reading a producer pays one uncontended lock and a copy, and the
//! shared counter once per chunk of readings; with 16 producers on 16 cores nothing they do per
//! reading waits for another, and their rate adds up until the one writer's socket writes are
//! the limit (the writer takes each shard's readings as they are, copying only small ones
//! together into one batch, and writes a batch with one system call).

mod pending;
mod shard;
mod take;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) use pending::Pending;
use shard::{Gatherer, Padded, Shard, ShardState, Signals, producer_number, shard_count};

/// What to do with a new reading when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFull {
    /// Wait for room: nothing is lost, the producer slows down.
    #[default]
    Block,
    /// Drop the oldest queued reading to make room (counted).
    DropOldest,
    /// Drop the new reading (counted).
    DropNewest,
}

/// Outcome of offering a reading to the queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued, after dropping this many older readings to make room (policy `DropOldest`).
    Queued {
        dropped_oldest: u64,
    },
    DroppedNewest,
    Closed,
}

/// What the writer thread is doing, as far as producers need to know.
mod writer_state {
    /// Taking or writing a batch: it will look at the queue again without being told.
    pub const BUSY: u8 = 0;
    /// Asleep on an empty queue: the next reading must wake it.
    pub const IDLE: u8 = 1;
    /// Just wrote and waits a moment for more: only a full batch is worth a wake-up.
    pub const LINGERING: u8 = 2;
}
use writer_state::{BUSY, IDLE, LINGERING};

/// Queued bytes that make a lingering writer start at once.
const FULL_BATCH_BYTES: usize = 32 * 1024;
/// The most shards a queue has, however many cores there are.
const MAX_SHARDS: usize = 64;
/// The most credits a shard takes at once.
const MAX_CHUNK: usize = 256;
/// How long a producer blocked on a full queue waits before it looks again by itself (it is
/// normally woken as soon as the writer takes readings).
const ROOM_RECHECK: Duration = Duration::from_millis(10);

pub(crate) struct Queue {
    shards: Box<[Shard]>,
    /// Slots neither lent to a shard nor holding a reading.
    free: Padded<AtomicUsize>,
    signals: Padded<Signals>,
    /// Producers blocked in `wait_for_room`.
    producers_waiting: Padded<AtomicUsize>,
    /// Held by the writer from deciding to sleep until it sleeps, and by whoever wakes it.
    sleep: Mutex<()>,
    not_empty: Condvar,
    room: Mutex<()>,
    not_full: Condvar,
    /// The writer's side of the shards.
    gatherer: Mutex<Gatherer>,
    capacity: usize,
    /// Credits a shard takes from `free` at once.
    chunk: usize,
    timed: bool,
}

impl Queue {
    /// A queue of at most `capacity` readings; `timed` notes when each was queued.
    pub fn new(capacity: usize, timed: bool) -> Self {
        Self::with_shards(capacity, timed, shard_count())
    }

    fn with_shards(capacity: usize, timed: bool, shards: usize) -> Self {
        debug_assert!(shards.is_power_of_two());
        let capacity = capacity.max(1);
        Queue {
            shards: (0..shards)
                .map(|_| Shard {
                    state: Mutex::new(ShardState::default()),
                    bytes: AtomicUsize::new(0),
                    readings_in: AtomicU64::new(0),
                })
                .collect(),
            free: Padded(AtomicUsize::new(capacity)),
            signals: Padded(Signals {
                writer: AtomicU8::new(BUSY),
                closed: AtomicBool::new(false),
            }),
            producers_waiting: Padded(AtomicUsize::new(0)),
            sleep: Mutex::new(()),
            not_empty: Condvar::new(),
            room: Mutex::new(()),
            not_full: Condvar::new(),
            gatherer: Mutex::new(Gatherer {
                spares: (0..shards).map(|_| Pending::default()).collect(),
                next: 0,
            }),
            capacity,
            chunk: (capacity / (4 * shards)).clamp(1, MAX_CHUNK),
            timed,
        }
    }

    /// The calling thread's shard (a mask, not a division: the count is a power of two).
    fn home(&self) -> usize {
        producer_number() & (self.shards.len() - 1)
    }

    /// Counts one reading handed to the sender by the calling thread, on its home shard: one
    /// counter shared by every producer would be written by all of them for every reading.
    pub fn count_in(&self) {
        self.shards[self.home()]
            .readings_in
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Readings counted by [`Queue::count_in`] so far.
    pub fn readings_in(&self) -> u64 {
        self.shards
            .iter()
            .map(|shard| shard.readings_in.load(Ordering::Relaxed))
            .sum()
    }

    /// Makes room as `policy` says, then appends `record` (one encoded reading).
    pub fn push(&self, policy: OnFull, record: &[u8]) -> Pushed {
        self.push_to(self.home(), policy, record)
    }

    /// [`Queue::push`] into shard `home`.
    fn push_to(&self, home: usize, policy: OnFull, record: &[u8]) -> Pushed {
        let shard = &self.shards[home];
        let mut dropped_oldest = 0;
        // Whether a look at every other shard found no credits since this shard last had none.
        let mut full = false;
        loop {
            let mut state = shard.lock();
            if self.signals.0.closed.load(Ordering::SeqCst) {
                return Pushed::Closed;
            }
            if state.credits == 0 {
                state.credits = self.take_credits();
            }
            if state.credits > 0 {
                state.credits -= 1;
            } else if !full {
                drop(state);
                full = self.reclaim_credits(home) == 0;
                continue;
            } else {
                match policy {
                    OnFull::DropNewest => {
                        drop(state);
                        self.wake();
                        return Pushed::DroppedNewest;
                    }
                    // The oldest of this shard's readings gives its slot to the new one: with
                    // one producer, that is the oldest reading queued.
                    OnFull::DropOldest if !state.pending.is_empty() => {
                        state.pending.drop_oldest();
                        dropped_oldest += 1;
                    }
                    OnFull::DropOldest => {
                        drop(state);
                        dropped_oldest += u64::from(self.drop_oldest_elsewhere(home));
                        self.wake();
                        full = false;
                        continue;
                    }
                    OnFull::Block => {
                        drop(state);
                        self.wait_for_room();
                        full = false;
                        continue;
                    }
                }
            }
            state.pending.bytes.extend_from_slice(record);
            let end = state.pending.bytes.len();
            state.pending.ends.push_back(end);
            if self.timed {
                state.pending.enqueued.push_back(Instant::now());
            }
            let bytes = end - state.pending.start;
            // The first reading in an empty shard is sequentially consistent with the writer's
            // check before it sleeps (`take`): either the writer sees these bytes, or this
            // producer sees it idle below. Later readings find the count already non-zero, and
            // a full fence per reading would cost more than the rest of queueing it.
            let first = state.pending.len() == 1;
            let order = if first {
                Ordering::SeqCst
            } else {
                Ordering::Relaxed
            };
            shard.bytes.store(bytes, order);
            drop(state);
            match self.signals.0.writer.load(order) {
                BUSY => {}
                IDLE => self.wake_from(IDLE),
                _ => {
                    if bytes >= FULL_BATCH_BYTES || full || dropped_oldest > 0 {
                        self.wake_from(LINGERING);
                    }
                }
            }
            return Pushed::Queued { dropped_oldest };
        }
    }

    /// Takes up to a chunk of free slots for a shard; 0 when none are free.
    fn take_credits(&self) -> usize {
        let free = &self.free.0;
        let mut current = free.load(Ordering::Relaxed);
        loop {
            if current == 0 {
                return 0;
            }
            let n = current.min(self.chunk);
            match free.compare_exchange_weak(
                current,
                current - n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // A producer is about to run out of room: a lingering writer should not
                    // wait for its full batch.
                    if current - n < self.capacity / 2
                        && self.signals.0.writer.load(Ordering::Relaxed) == LINGERING
                    {
                        self.wake_from(LINGERING);
                    }
                    return n;
                }
                Err(now) => current = now,
            }
        }
    }

    /// Returns the credits other shards hold unused to the free slots (one shard locked at a
    /// time, none held meanwhile); how many there were.
    fn reclaim_credits(&self, home: usize) -> usize {
        let mut reclaimed = 0;
        for (i, shard) in self.shards.iter().enumerate() {
            if i != home {
                reclaimed += std::mem::take(&mut shard.lock().credits);
            }
        }
        if reclaimed > 0 {
            self.free.0.fetch_add(reclaimed, Ordering::SeqCst);
        }
        reclaimed
    }

    /// Drops the oldest reading of the first other shard that has one, its slot returning to
    /// the free ones; whether there was one.
    fn drop_oldest_elsewhere(&self, home: usize) -> bool {
        let count = self.shards.len();
        for i in (1..count).map(|k| (home + k) % count) {
            let shard = &self.shards[i];
            let mut state = shard.lock();
            if !state.pending.is_empty() {
                state.pending.drop_oldest();
                shard
                    .bytes
                    .store(state.pending.live_bytes().len(), Ordering::SeqCst);
                drop(state);
                self.free.0.fetch_add(1, Ordering::SeqCst);
                return true;
            }
        }
        false
    }

    /// Waits (a while at most) for the writer to free slots.
    fn wait_for_room(&self) {
        self.wake();
        let room = self.room.lock().unwrap_or_else(|e| e.into_inner());
        // Sequentially consistent with the writer's `give_back`: either it sees this producer
        // waiting, or this producer sees the slots it freed.
        self.producers_waiting.0.fetch_add(1, Ordering::SeqCst);
        if self.free.0.load(Ordering::SeqCst) == 0 && !self.is_closed() {
            let _ = self
                .not_full
                .wait_timeout(room, ROOM_RECHECK)
                .unwrap_or_else(|e| e.into_inner());
        }
        self.producers_waiting.0.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes the writer if its state is still `from`.
    fn wake_from(&self, from: u8) {
        let writer = &self.signals.0.writer;
        if writer
            .compare_exchange(from, BUSY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // The writer holds `sleep` from announcing its state until it waits.
            let _sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.not_empty.notify_one();
        }
    }

    /// Wakes the writer if it sleeps: there is work for it (a full queue, or the spool).
    pub fn wake(&self) {
        if self.wake_if(IDLE) {
            return;
        }
        self.wake_if(LINGERING);
    }

    fn wake_if(&self, from: u8) -> bool {
        if self.signals.0.writer.load(Ordering::SeqCst) == from {
            self.wake_from(from);
            true
        } else {
            false
        }
    }

    pub fn is_closed(&self) -> bool {
        self.signals.0.closed.load(Ordering::SeqCst)
    }

    /// Readings waiting.
    pub fn depth(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().pending.len())
            .sum()
    }

    /// Stops accepting readings; what is queued can still be taken.
    pub fn close(&self) {
        self.signals.0.closed.store(true, Ordering::SeqCst);
        {
            let _sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.signals.0.writer.store(BUSY, Ordering::SeqCst);
            self.not_empty.notify_all();
        }
        let _room = self.room.lock().unwrap_or_else(|e| e.into_inner());
        self.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests;
