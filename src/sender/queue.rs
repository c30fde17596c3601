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

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
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

/// Encoded readings waiting to be written: one byte buffer and where each record ends.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub bytes: Vec<u8>,
    /// End offset in `bytes` of each live record.
    pub ends: VecDeque<usize>,
    /// Offset of the first live record (records before it were dropped).
    pub start: usize,
    /// When each live record was queued, if the queue measures latency.
    pub enqueued: VecDeque<Instant>,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.start = 0;
        self.enqueued.clear();
    }

    /// Grows to hold as much as `other` can: the buffers take turns, and producers should
    /// not pay for growing the one a batch just left, so the writer does it, once per new
    /// largest batch.
    fn reserve_like(&mut self, other: &Pending) {
        // Exactly: with amortised growth the two buffers would outgrow each other in turn.
        self.bytes
            .reserve_exact(other.bytes.capacity().saturating_sub(self.bytes.len()));
        self.ends
            .reserve_exact(other.ends.capacity().saturating_sub(self.ends.len()));
        self.enqueued.reserve_exact(
            other
                .enqueued
                .capacity()
                .saturating_sub(self.enqueued.len()),
        );
    }

    /// Appends the live records of `other` (with their enqueue times) after these.
    fn append(&mut self, other: &Pending) {
        let shift = self.bytes.len();
        self.bytes.extend_from_slice(other.live_bytes());
        let start = other.start;
        self.ends
            .extend(other.ends.iter().map(|&end| end - start + shift));
        self.enqueued.extend(other.enqueued.iter().copied());
    }

    /// The records in order.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let mut from = self.start;
        self.ends.iter().map(move |&end| {
            let record = &self.bytes[from..end];
            from = end;
            record
        })
    }

    /// The bytes of all live records.
    pub fn live_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn drop_oldest(&mut self) {
        if let Some(end) = self.ends.pop_front() {
            self.start = end;
            self.enqueued.pop_front();
        }
        if self.ends.is_empty() {
            self.clear();
        }
    }
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

/// The number of shards for this machine: two per core, a power of two.
fn shard_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).next_power_of_two().clamp(2, MAX_SHARDS)
}

static NEXT_PRODUCER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number among the threads that have sent through any queue, which picks
    /// its home shard: consecutive numbers land on different shards.
    static PRODUCER: Cell<Option<usize>> = const { Cell::new(None) };
}

fn producer_number() -> usize {
    PRODUCER.with(|number| match number.get() {
        Some(n) => n,
        None => {
            let n = NEXT_PRODUCER.fetch_add(1, Ordering::Relaxed);
            number.set(Some(n));
            n
        }
    })
}

/// One shard: the readings its producers queued and the slots it holds for more. Aligned so
/// that no two shards share a cache line (or the pair of lines a core fetches together).
#[repr(align(128))]
struct Shard {
    state: Mutex<ShardState>,
    /// The live bytes queued here, readable without the lock; 0 when the shard is empty.
    bytes: AtomicUsize,
    /// Readings handed to the sender by this shard's producers (see [`Queue::count_in`]).
    readings_in: AtomicU64,
}

#[derive(Default)]
struct ShardState {
    pending: Pending,
    /// Slots lent to this shard and not yet filled.
    credits: usize,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, ShardState> {
        // A panic elsewhere cannot leave the state half-updated in a way that matters here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer keeps between batches.
struct Gatherer {
    /// For each shard, where its readings land when taken, before they join the batch (and
    /// the buffer the shard gets back next time).
    spares: Vec<Pending>,
    /// The shard to look at first next time, so that every shard has its turn first.
    next: usize,
}

/// A value alone on its cache lines.
#[repr(align(128))]
struct Padded<T>(T);

/// What every producer reads and the writer rarely writes.
struct Signals {
    writer: AtomicU8,
    closed: AtomicBool,
}

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

    /// Gives `taken` slots back and wakes producers waiting for room.
    fn give_back(&self, taken: usize) {
        if taken == 0 {
            return;
        }
        self.free.0.fetch_add(taken, Ordering::SeqCst);
        if self.producers_waiting.0.load(Ordering::SeqCst) > 0 {
            let _room = self.room.lock().unwrap_or_else(|e| e.into_inner());
            self.not_full.notify_all();
        }
    }

    /// Bytes queued in all shards, as last published.
    fn queued_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.bytes.load(Ordering::SeqCst))
            .sum()
    }

    /// Swaps everything queued into `batch` (which is cleared first), waiting while the queue
    /// is empty and open. With `linger`, first waits up to that long for a full batch to gather
    /// unless one is already there: after a write, a moment's wait saves producers a wake-up
    /// per reading when they are slower than the writer. Returns false once the queue is
    /// closed and empty.
    pub fn take(&self, batch: &mut Pending, linger: Option<Duration>) -> bool {
        batch.clear();
        let signals = &self.signals.0;
        if let Some(linger) = linger {
            let sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            signals.writer.store(LINGERING, Ordering::SeqCst);
            if !self.is_closed()
                && self.queued_bytes() < FULL_BATCH_BYTES
                && self.free.0.load(Ordering::SeqCst) >= self.capacity / 2
            {
                let _ = self
                    .not_empty
                    .wait_timeout(sleep, linger)
                    .unwrap_or_else(|e| e.into_inner());
            }
            signals.writer.store(BUSY, Ordering::SeqCst);
        }
        loop {
            // Read before the shards: a reading pushed after a shard was looked at saw the
            // queue closed and was refused.
            let closed = self.is_closed();
            if self.gather(batch, FULL_BATCH_BYTES) > 0 || closed {
                return !(closed && batch.is_empty());
            }
            let sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            signals.writer.store(IDLE, Ordering::SeqCst);
            if self.queued_bytes() == 0 && !self.is_closed() {
                drop(
                    self.not_empty
                        .wait(sleep)
                        .unwrap_or_else(|e| e.into_inner()),
                );
            }
            signals.writer.store(BUSY, Ordering::SeqCst);
        }
    }

    /// Swaps whatever is queued, all of it, into `batch` without waiting; false once the queue
    /// is closed and was empty.
    pub fn take_now(&self, batch: &mut Pending) -> bool {
        batch.clear();
        let closed = self.is_closed();
        self.gather(batch, usize::MAX);
        !(closed && batch.is_empty())
    }

    /// Moves the readings queued in the shards into `batch`, gives each shard back a buffer at
    /// least as large as the one it gave, and frees their slots; how many readings.
    ///
    /// The first shard's buffer becomes the batch as it is, and further shards' readings are
    /// copied after it only until the batch holds `full` bytes: under load every
    /// shard fills a batch on its own, so a reading is copied once by its producer and then
    /// only by the kernel; the shards left wait for the next batch, which starts with them.
    /// Returns 0 only after looking at every shard.
    fn gather(&self, batch: &mut Pending, full: usize) -> usize {
        let mut gatherer = self.gatherer.lock().unwrap_or_else(|e| e.into_inner());
        let Gatherer { spares, next } = &mut *gatherer;
        let count = self.shards.len();
        let first = *next;
        *next = (first + 1) % count;
        let mut taken = 0;
        for i in (0..count).map(|k| (first + k) % count) {
            if batch.live_bytes().len() >= full {
                *next = i;
                break;
            }
            let shard = &self.shards[i];
            if shard.bytes.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let spare = &mut spares[i];
            {
                let mut state = shard.lock();
                if state.pending.is_empty() {
                    continue;
                }
                std::mem::swap(&mut state.pending, spare);
                state.pending.reserve_like(spare);
                shard.bytes.store(0, Ordering::SeqCst);
            }
            taken += spare.len();
            if batch.is_empty() {
                std::mem::swap(batch, spare);
            } else {
                batch.append(spare);
                spare.clear();
            }
        }
        drop(gatherer);
        self.give_back(taken);
        taken
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
mod tests {
    use super::*;

    fn push(queue: &Queue, policy: OnFull, text: &str) -> Pushed {
        queue.push(policy, text.as_bytes())
    }

    #[test]
    fn drop_policies() {
        let queue = Queue::new(2, false);
        assert_eq!(
            push(&queue, OnFull::DropOldest, "a\n"),
            Pushed::Queued { dropped_oldest: 0 }
        );
        push(&queue, OnFull::DropOldest, "b\n");
        assert_eq!(
            push(&queue, OnFull::DropOldest, "c\n"),
            Pushed::Queued { dropped_oldest: 1 }
        );
        assert_eq!(
            push(&queue, OnFull::DropNewest, "d\n"),
            Pushed::DroppedNewest
        );
        let mut batch = Pending::default();
        assert!(queue.take(&mut batch, None));
        assert_eq!(batch.live_bytes(), b"b\nc\n");
        assert_eq!(batch.records().collect::<Vec<_>>(), [&b"b\n"[..], b"c\n"]);
        queue.close();
        assert_eq!(push(&queue, OnFull::Block, "e\n"), Pushed::Closed);
        assert!(!queue.take(&mut batch, None));
    }

    #[test]
    fn credits_left_unused_in_one_shard_are_room_for_another() {
        // 64 slots over 2 shards: a shard takes 8 at a time.
        let queue = Queue::with_shards(64, false, 2);
        let mut batch = Pending::default();
        assert_eq!(
            queue.push_to(0, OnFull::DropNewest, b"a\n"),
            Pushed::Queued { dropped_oldest: 0 }
        );
        assert!(queue.take_now(&mut batch));
        assert_eq!(batch.len(), 1);
        // Shard 0 still holds 7 unused slots; shard 1 gets all 64 all the same, and no more.
        for _ in 0..64 {
            assert_eq!(
                queue.push_to(1, OnFull::DropNewest, b"b\n"),
                Pushed::Queued { dropped_oldest: 0 }
            );
        }
        assert_eq!(
            queue.push_to(1, OnFull::DropNewest, b"c\n"),
            Pushed::DroppedNewest
        );
        assert_eq!(
            queue.push_to(0, OnFull::DropNewest, b"c\n"),
            Pushed::DroppedNewest
        );
        assert_eq!(queue.depth(), 64);
        // Dropping the oldest from a shard that has none takes another shard's oldest.
        assert_eq!(
            queue.push_to(0, OnFull::DropOldest, b"d\n"),
            Pushed::Queued { dropped_oldest: 1 }
        );
        assert_eq!(queue.depth(), 64);
        assert!(queue.take_now(&mut batch));
        assert_eq!(batch.len(), 64);
        let records: Vec<&[u8]> = batch.records().collect();
        assert_eq!(records.iter().filter(|r| **r == b"b\n").count(), 63);
        assert_eq!(records.iter().filter(|r| **r == b"d\n").count(), 1);
    }

    /// Producers on every shard, a writer taking slower than they push: each producer's
    /// readings arrive once and in order, the bound holds, and every reading is either taken
    /// or counted as dropped.
    fn many_producers(policy: OnFull) {
        const PRODUCERS: u64 = 6;
        const EACH: u64 = 5_000;
        const CAPACITY: usize = 100;
        let queue = std::sync::Arc::new(Queue::with_shards(CAPACITY, false, 4));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = queue.clone();
                std::thread::spawn(move || {
                    let mut dropped = 0;
                    for n in 0..EACH {
                        let record = format!("{p} {n}\n");
                        match queue.push_to(p as usize % 4, policy, record.as_bytes()) {
                            Pushed::Queued { dropped_oldest } => dropped += dropped_oldest,
                            Pushed::DroppedNewest => dropped += 1,
                            Pushed::Closed => unreachable!("the queue stays open"),
                        }
                    }
                    dropped
                })
            })
            .collect();
        let mut last = vec![None::<u64>; PRODUCERS as usize];
        let mut taken = 0;
        let mut batch = Pending::default();
        while !producers.iter().all(|p| p.is_finished()) || queue.depth() > 0 {
            queue.take_now(&mut batch);
            assert!(batch.len() <= CAPACITY, "a batch of {}", batch.len());
            for record in batch.records() {
                let text = std::str::from_utf8(record).unwrap();
                let (p, n) = text.trim_end().split_once(' ').unwrap();
                let (p, n): (usize, u64) = (p.parse().unwrap(), n.parse().unwrap());
                assert!(
                    last[p].is_none_or(|before| before < n),
                    "{p}: {n} after {last:?}"
                );
                last[p] = Some(n);
                taken += 1;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let dropped: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(taken + dropped, PRODUCERS * EACH);
        match policy {
            OnFull::Block => assert_eq!(dropped, 0),
            _ => assert!(dropped > 0, "the writer is slower: some must drop"),
        }
        if policy == OnFull::Block {
            for (p, last) in last.iter().enumerate() {
                assert_eq!(*last, Some(EACH - 1), "producer {p}'s newest reading");
            }
        }
    }

    #[test]
    fn many_producers_block() {
        many_producers(OnFull::Block);
    }

    #[test]
    fn many_producers_drop_oldest() {
        many_producers(OnFull::DropOldest);
    }

    #[test]
    fn many_producers_drop_newest() {
        many_producers(OnFull::DropNewest);
    }

    #[test]
    fn a_lone_reading_wakes_the_sleeping_writer() {
        let queue = std::sync::Arc::new(Queue::new(10, false));
        let writer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut batch = Pending::default();
                let open = queue.take(&mut batch, None);
                (open, batch.live_bytes().to_vec(), Instant::now())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let pushed_at = Instant::now();
        push(&queue, OnFull::Block, "a\n");
        let (open, bytes, woke_at) = writer.join().unwrap();
        assert!(open);
        assert_eq!(bytes, b"a\n");
        assert!(woke_at - pushed_at < Duration::from_millis(20));
    }

    #[test]
    fn a_full_batch_from_one_shard_is_written_alone_and_the_next_starts_with_the_others() {
        let queue = Queue::with_shards(10_000, false, 2);
        let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..FULL_BATCH_BYTES / line.len() + 1 {
            queue.push_to(0, OnFull::Block, &line);
        }
        queue.push_to(1, OnFull::Block, b"small\n");
        let mut batch = Pending::default();
        assert!(queue.take(&mut batch, None));
        assert!(batch.records().all(|r| r == line), "shard 0 alone");
        queue.push_to(0, OnFull::Block, b"later\n");
        assert!(queue.take(&mut batch, None));
        assert_eq!(
            batch.live_bytes(),
            b"small\nlater\n",
            "shard 1 first, then shard 0"
        );
        assert_eq!(queue.depth(), 0);
    }

    #[test]
    fn block_waits_for_room() {
        let queue = std::sync::Arc::new(Queue::new(1, false));
        push(&queue, OnFull::Block, "a\n");
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || push(&queue, OnFull::Block, "b\n"))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !producer.is_finished(),
            "producer must wait while the queue is full"
        );
        let mut batch = Pending::default();
        queue.take(&mut batch, None);
        assert_eq!(
            producer.join().unwrap(),
            Pushed::Queued { dropped_oldest: 0 }
        );
        queue.take(&mut batch, None);
        assert_eq!(batch.live_bytes(), b"b\n");
    }
}
