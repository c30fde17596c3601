//! The bounded queue between producers and the writer thread.
//!
//! Queued readings live encoded in one byte buffer, so a queued reading costs no allocation of
//! its own; producers encode before they take the lock and only copy in under it. The writer
//! swaps the whole buffer out at once, which is what makes batches grow under load while a lone
//! reading still goes out immediately.

use std::collections::VecDeque;
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
    Queued { dropped_oldest: bool },
    DroppedNewest,
    Closed,
}

/// What the writer thread is doing, as far as producers need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    /// Taking or writing a batch: it will look at the queue again without being told.
    Busy,
    /// Asleep on an empty queue: the next reading must wake it.
    Idle,
    /// Just wrote and waits a moment for more: only a full batch is worth a wake-up.
    Lingering,
}

/// Queued bytes that make a lingering writer start at once.
const FULL_BATCH_BYTES: usize = 32 * 1024;

struct State {
    pending: Pending,
    closed: bool,
    /// Wake-ups are system calls on both sides; a producer only makes one when the writer
    /// would otherwise wait for nothing.
    writer: WriterState,
    /// Producers blocked on `not_full` (policy `Block`).
    producers_waiting: usize,
}

pub(crate) struct Queue {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    timed: bool,
}

impl Queue {
    /// A queue of at most `capacity` readings; `timed` notes when each was queued.
    pub fn new(capacity: usize, timed: bool) -> Self {
        Queue {
            state: Mutex::new(State {
                pending: Pending::default(),
                closed: false,
                writer: WriterState::Busy,
                producers_waiting: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
            timed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave `State` half-updated in a way that matters here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room as `policy` says, then appends `record` (one encoded reading).
    pub fn push(&self, policy: OnFull, record: &[u8]) -> Pushed {
        let mut state = self.lock();
        let mut dropped_oldest = false;
        loop {
            if state.closed {
                return Pushed::Closed;
            }
            if state.pending.len() < self.capacity {
                break;
            }
            match policy {
                OnFull::Block => {
                    state.producers_waiting += 1;
                    state = self.not_full.wait(state).unwrap_or_else(|e| e.into_inner());
                    state.producers_waiting -= 1;
                }
                OnFull::DropNewest => return Pushed::DroppedNewest,
                OnFull::DropOldest => {
                    state.pending.drop_oldest();
                    dropped_oldest = true;
                }
            }
        }
        state.pending.bytes.extend_from_slice(record);
        let end = state.pending.bytes.len();
        state.pending.ends.push_back(end);
        if self.timed {
            state.pending.enqueued.push_back(Instant::now());
        }
        let wake = match state.writer {
            WriterState::Busy => false,
            WriterState::Idle => true,
            WriterState::Lingering => {
                state.pending.bytes.len() - state.pending.start >= FULL_BATCH_BYTES
                    || state.pending.len() >= self.capacity
            }
        };
        if wake {
            state.writer = WriterState::Busy;
            self.not_empty.notify_one();
        }
        Pushed::Queued { dropped_oldest }
    }

    /// Swaps everything queued into `batch` (which is cleared first), waiting while the queue
    /// is empty and open. With `linger`, first waits up to that long for a full batch to gather
    /// unless one is already there: after a write, a moment's wait saves producers a wake-up
    /// per reading when they are slower than the writer. Returns false once the queue is
    /// closed and empty.
    pub fn take(&self, batch: &mut Pending, linger: Option<Duration>) -> bool {
        batch.clear();
        let mut state = self.lock();
        if let Some(linger) = linger {
            let gathered = state.pending.bytes.len() - state.pending.start;
            if !state.closed && gathered < FULL_BATCH_BYTES && state.pending.len() < self.capacity {
                state.writer = WriterState::Lingering;
                state = self
                    .not_empty
                    .wait_timeout(state, linger)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        while state.pending.is_empty() && !state.closed {
            state.writer = WriterState::Idle;
            state = self
                .not_empty
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.writer = WriterState::Busy;
        self.hand_over(&mut state, batch)
    }

    /// Swaps whatever is queued into `batch` without waiting; false once the queue is closed
    /// and was empty.
    pub fn take_now(&self, batch: &mut Pending) -> bool {
        batch.clear();
        let mut state = self.lock();
        self.hand_over(&mut state, batch)
    }

    /// Moves the queued readings into the (cleared) `batch` and gives producers its buffers,
    /// grown to match, and room; false once the queue is closed and was empty.
    fn hand_over(&self, state: &mut State, batch: &mut Pending) -> bool {
        std::mem::swap(batch, &mut state.pending);
        state.pending.reserve_like(batch);
        if state.producers_waiting > 0 {
            self.not_full.notify_all();
        }
        !(state.closed && batch.is_empty())
    }

    /// Wakes the writer if it sleeps: there is work for it outside the queue (the spool).
    pub fn wake(&self) {
        let mut state = self.lock();
        if state.writer != WriterState::Busy {
            state.writer = WriterState::Busy;
            self.not_empty.notify_one();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Readings waiting.
    pub fn depth(&self) -> usize {
        self.lock().pending.len()
    }

    /// Stops accepting readings; what is queued can still be taken.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
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
            Pushed::Queued {
                dropped_oldest: false
            }
        );
        push(&queue, OnFull::DropOldest, "b\n");
        assert_eq!(
            push(&queue, OnFull::DropOldest, "c\n"),
            Pushed::Queued {
                dropped_oldest: true
            }
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
            Pushed::Queued {
                dropped_oldest: false
            }
        );
        queue.take(&mut batch, None);
        assert_eq!(batch.live_bytes(), b"b\n");
    }
}
