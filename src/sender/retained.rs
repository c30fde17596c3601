//! The tail of a stream that the peer may not have taken yet, kept for resending.

use std::collections::VecDeque;

use super::queue::Pending;

/// Whole records written on the current connection, trimmed to what the kernel still holds.
#[derive(Debug, Default)]
pub(crate) struct Retained {
    bytes: VecDeque<u8>,
    lens: VecDeque<usize>,
}

impl Retained {
    /// Remembers `records` as written, then keeps only the newest records that cover
    /// `unsent` bytes (what the kernel says the peer has not taken).
    pub fn written<'a>(&mut self, records: impl Iterator<Item = &'a [u8]>, unsent: usize) {
        if unsent == 0 {
            self.clear();
            return;
        }
        for record in records {
            self.bytes.extend(record);
            self.lens.push_back(record.len());
        }
        while let Some(&front) = self.lens.front() {
            if self.bytes.len() - front < unsent {
                break;
            }
            self.bytes.drain(..front);
            self.lens.pop_front();
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
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.lens.clear();
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
}
