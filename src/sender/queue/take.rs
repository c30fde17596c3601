//! The writer's side of the queue: taking batches, sleeping while there is nothing to take.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::shard::Gatherer;
use super::{BUSY, FULL_BATCH_BYTES, IDLE, LINGERING, Pending, Queue};

impl Queue {
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
}
