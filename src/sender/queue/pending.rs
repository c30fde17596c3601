//! Encoded readings in one byte buffer: what a shard holds and what the writer takes.

use std::collections::VecDeque;
use std::time::Instant;

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
    pub(super) fn reserve_like(&mut self, other: &Pending) {
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
    pub(super) fn append(&mut self, other: &Pending) {
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

    pub(super) fn drop_oldest(&mut self) {
        if let Some(end) = self.ends.pop_front() {
            self.start = end;
            self.enqueued.pop_front();
        }
        if self.ends.is_empty() {
            self.clear();
        }
    }
}
