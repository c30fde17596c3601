//! A bounded line source: lines from any byte stream (standard input, a file), never holding
//! more than a set number of bytes of one line, with a UTF-8 byte order mark at the very start
//! of the stream skipped.

use std::io::{self, BufRead};

/// The UTF-8 byte order mark some Windows tools write at the start of a text file.
pub const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line, without its `\n` (a `\r` before it is left for the parser).
    Complete(&'a [u8]),
    /// A line longer than the limit, skipped; its length in bytes.
    TooLong(usize),
}

/// Reads `\n`-terminated lines from `input`, one at a time, numbering them from 1.
///
/// A line longer than `max_line` bytes is read to its end but not kept:
/// [`Line::TooLong`] gives its length. The last line needs no `\n`. A UTF-8 byte order mark
/// (`EF BB BF`) at the start of the stream is dropped, once; one anywhere else is left as it is.
///
/// ```
/// use telemit::input::{Line, LineReader};
///
/// let input = &b"\xef\xbb\xbfcpu v=1\nthis line is too long\nlast"[..];
/// let mut lines = LineReader::new(input, 10);
/// assert_eq!(lines.next_line()?, Some(Line::Complete(&b"cpu v=1"[..])));
/// assert_eq!(lines.next_line()?, Some(Line::TooLong(21)));
/// assert_eq!(lines.line_number(), 2);
/// assert_eq!(lines.next_line()?, Some(Line::Complete(&b"last"[..])));
/// assert_eq!(lines.next_line()?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    buffer: Vec<u8>,
    max_line: usize,
    number: u64,
    at_start: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Lines of `input`, each at most `max_line` bytes.
    pub fn new(input: R, max_line: usize) -> Self {
        LineReader {
            input,
            buffer: Vec::new(),
            max_line,
            number: 0,
            at_start: true,
        }
    }

    /// The longest line kept, in bytes.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// The number of the line last returned (1 for the first).
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// Hands `each` the whole lines (without their `\n`) that the input already holds in its
    /// buffer, in place, without copying them, until `each` returns false or no whole line of
    /// at most `max_line` bytes is left there; they are numbered as [`next_line`] numbers them.
    /// Returns how many lines `each` got. The first line of the stream, a line running past the
    /// buffer and a line that is too long are left to [`next_line`], which a caller calls when
    /// this returns 0 (at the end of the stream it returns 0 as well).
    ///
    /// [`next_line`]: Self::next_line
    pub fn buffered_lines(&mut self, mut each: impl FnMut(&[u8]) -> bool) -> usize {
        if self.at_start {
            return 0;
        }
        let Ok(available) = self.input.fill_buf() else {
            // The error comes back from `next_line`.
            return 0;
        };
        let mut used = 0;
        let mut count = 0;
        while let Some(end) = memchr::memchr(b'\n', &available[used..]) {
            if end > self.max_line {
                break;
            }
            let line = &available[used..used + end];
            used += end + 1;
            count += 1;
            if !each(line) {
                break;
            }
        }
        self.input.consume(used);
        self.number += count as u64;
        count
    }

    /// The next line, or `None` at the end of the stream.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buffer.clear();
        let mut total = 0usize;
        let mut saw_any = false;
        // The first line may carry the mark on top of its `max_line` bytes.
        let keep = if self.at_start {
            self.max_line.saturating_add(UTF8_BOM.len())
        } else {
            self.max_line
        };
        let ended = loop {
            let available = match self.input.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break false;
            }
            saw_any = true;
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = keep.saturating_sub(self.buffer.len());
            self.buffer
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            total += chunk.len();
            let used = found.unwrap_or(available.len());
            self.input.consume(used);
            if found.is_some() {
                break true;
            }
        };
        if !saw_any && !ended {
            return Ok(None);
        }
        if std::mem::take(&mut self.at_start) && self.buffer.starts_with(UTF8_BOM) {
            self.buffer.drain(..UTF8_BOM.len());
            total -= UTF8_BOM.len();
        }
        self.number += 1;
        Ok(Some(if total > self.max_line {
            Line::TooLong(total)
        } else {
            Line::Complete(&self.buffer)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per read, to split the mark and lines everywhere.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn all(input: &[u8], max: usize, trickle: bool) -> Vec<Result<Vec<u8>, usize>> {
        let read: Box<dyn BufRead> = if trickle {
            Box::new(io::BufReader::with_capacity(1, Trickle(input)))
        } else {
            Box::new(input)
        };
        let mut lines = LineReader::new(read, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            out.push(match line {
                Line::Complete(bytes) => Ok(bytes.to_vec()),
                Line::TooLong(len) => Err(len),
            });
        }
        out
    }

    #[test]
    fn skips_one_mark_at_the_start_only() {
        let ok = |s: &str| Ok(s.as_bytes().to_vec());
        for trickle in [false, true] {
            assert_eq!(all(b"\xef\xbb\xbfa\nb", 100, trickle), [ok("a"), ok("b")]);
            assert_eq!(
                all(b"\xef\xbb\xbf\xef\xbb\xbfa", 100, trickle),
                [Ok(b"\xef\xbb\xbfa".to_vec())]
            );
            assert_eq!(
                all(b"a\n\xef\xbb\xbfb", 100, trickle),
                [ok("a"), Ok(b"\xef\xbb\xbfb".to_vec())]
            );
            assert_eq!(
                all(b"\xef\xbbx\n", 100, trickle),
                [Ok(b"\xef\xbbx".to_vec())]
            );
            assert_eq!(all(b"\xef\xbb\xbf", 100, trickle), [ok("")]);
            assert_eq!(all(b"\xef", 100, trickle), [Ok(b"\xef".to_vec())]);
            assert_eq!(all(b"", 100, trickle), Vec::<Result<Vec<u8>, usize>>::new());
            assert_eq!(
                all(b"\xef\xbb\xbf12345\n123", 4, trickle),
                [Err(5), ok("123")]
            );
            assert_eq!(all(b"\n\n", 4, trickle), [ok(""), ok("")]);
        }
    }
}
