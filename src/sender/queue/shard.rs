//! The pieces of the queue laid out so that producers do not share cache lines: one shard per
//! producer thread (as far as there are shards), and the values every producer reads.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{MAX_SHARDS, Pending};

/// The number of shards for this machine: two per core, a power of two.
pub(super) fn shard_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).next_power_of_two().clamp(2, MAX_SHARDS)
}

static NEXT_PRODUCER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's number among the threads that have sent through any queue, which picks
    /// its home shard: consecutive numbers land on different shards.
    static PRODUCER: Cell<Option<usize>> = const { Cell::new(None) };
}

pub(super) fn producer_number() -> usize {
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
pub(super) struct Shard {
    pub(super) state: Mutex<ShardState>,
    /// The live bytes queued here, readable without the lock; 0 when the shard is empty.
    pub(super) bytes: AtomicUsize,
    /// Readings handed to the sender by this shard's producers (see [`Queue::count_in`]).
    pub(super) readings_in: AtomicU64,
}

#[derive(Default)]
pub(super) struct ShardState {
    pub(super) pending: Pending,
    /// Slots lent to this shard and not yet filled.
    pub(super) credits: usize,
}

impl Shard {
    pub(super) fn lock(&self) -> MutexGuard<'_, ShardState> {
        // A panic elsewhere cannot leave the state half-updated in a way that matters here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer keeps between batches.
pub(super) struct Gatherer {
    /// For each shard, where its readings land when taken, before they join the batch (and
    /// the buffer the shard gets back next time).
    pub(super) spares: Vec<Pending>,
    /// The shard to look at first next time, so that every shard has its turn first.
    pub(super) next: usize,
}

/// A value alone on its cache lines.
#[repr(align(128))]
pub(super) struct Padded<T>(pub(super) T);

/// What every producer reads and the writer rarely writes.
pub(super) struct Signals {
    pub(super) writer: AtomicU8,
    pub(super) closed: AtomicBool,
}
