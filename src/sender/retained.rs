//! The tail of a stream that the peer may not have taken yet, kept for resending.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::queue::Pending;

/// How long records stay kept on a TCP connection after they are written, whatever the
/// kernel says: its count of untaken bytes ends where the receiver's kernel acknowledged,
/// and a receiver that dies (or closes) with data unread in its buffer loses what it had
/// acknowledged. Records younger than this are written again after such a failure.
pub(crate) const RECENT: Duration = Duration::from_secs(1);
/// The most bytes kept for [`RECENT`]: a receiver that keeps up has less unread at any moment
/// (a TCP `telemit listen` killed five times mid-stream lost nothing with this), and it bounds
/// both the memory a fast sender keeps and the duplicates written after a failure.
pub(crate) const RECENT_MAX_BYTES: usize = 256 * 1024;

/// Whole records written on the current connection, trimmed to what the kernel still holds
/// (and, where that does not say what the receiver read, to the recent ones).
#[derive(Debug, Default)]
pub(crate) struct Retained {
    bytes: VecDeque<u8>,
    lens: VecDeque<usize>,
    /// When each record was written.
    times: VecDeque<Instant>,
    /// How long records are kept whatever the kernel says (zero: trust the kernel).
    keep_for: Duration,
}

impl Retained {
    /// Keeps records for `keep_for` after they are written, whatever the kernel says, besides
    /// those it says the peer has not taken.
    pub fn keeping_recent(keep_for: Duration) -> Retained {
        Retained {
            keep_for,
            ..Retained::default()
        }
    }

    /// Remembers `records` as written, then keeps only the newest records that cover
    /// `unsent` bytes (what the kernel says the peer has not taken), and the recent ones.
    pub fn written<'a>(&mut self, records: impl Iterator<Item = &'a [u8]>, unsent: usize) {
        if unsent == 0 && self.keep_for.is_zero() {
            self.clear();
            return;
        }
        let now = Instant::now();
        for record in records {
            self.bytes.extend(record);
            self.lens.push_back(record.len());
            self.times.push_back(now);
        }
        while let (Some(&front), Some(&time)) = (self.lens.front(), self.times.front()) {
            let recent =
                now.duration_since(time) < self.keep_for && self.bytes.len() <= RECENT_MAX_BYTES;
            if self.bytes.len() - front < unsent || recent {
                break;
            }
            self.bytes.drain(..front);
            self.lens.pop_front();
            self.times.pop_front();
        }
    }

    /// Moves the kept records to the end of `into` (emptying self).
    pub fn take_into(&mut self, into: &mut Pending) {
        let (a, b) = self.bytes.as_slices();
        let mut end = into.bytes.len();
        into.bytes.extend_from_slice(a);
        into.bytes.extend_from_slice(b);
        for len in self.lens.drain(..) {
            end += len;
            into.ends.push_back(end);
        }
        self.bytes.clear();
        self.times.clear();
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lens.clear();
        self.times.clear();
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.lens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_whole_records_covering_the_unsent_bytes() {
        let mut retained = Retained::default();
        let records: [&[u8]; 3] = [b"aaaa\n", b"bb\n", b"c\n"];
        retained.written(records.into_iter(), 4);
        // 4 unsent bytes reach back into "bb\n": keep "bb\n" and "c\n".
        let mut out = Pending::default();
        retained.take_into(&mut out);
        assert_eq!(out.live_bytes(), b"bb\nc\n");
        assert_eq!(out.len(), 2);
        retained.written(records.into_iter(), 0);
        assert_eq!(retained.len(), 0);
    }

    #[test]
    fn keeps_recent_records_where_the_kernel_count_is_not_what_was_read() {
        let mut retained = Retained::keeping_recent(Duration::from_millis(100));
        let records: [&[u8]; 2] = [b"aaaa\n", b"bb\n"];
        // Acknowledged by the receiver's kernel, but maybe unread: kept for now.
        retained.written(records.into_iter(), 0);
        assert_eq!(retained.len(), 2);
        std::thread::sleep(Duration::from_millis(150));
        retained.written([b"c\n".as_slice()].into_iter(), 0);
        let mut out = Pending::default();
        retained.take_into(&mut out);
        assert_eq!(out.live_bytes(), b"c\n", "older records are let go");
    }
}
