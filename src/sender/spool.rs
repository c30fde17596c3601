//! An append-only spool on disk for readings the receiver cannot take now.
//!
//! Records are framed as `[length: u32 LE][CRC-32: u32 LE][bytes]` in numbered segment files
//! (`00000001.seg`, …). The read position (segment and offset) is kept in `position`,
//! replaced atomically (write, then rename) each time delivered records are consumed, so a
//! restart resumes after the last delivered record. Segments are deleted once read past.
//! Writes go to the operating system at once: a killed process loses nothing it appended,
//! except a record cut short in the middle of its write, which the checksum finds on the next
//! start. One telemit per spool directory.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::queue::Pending;

const HEADER: u64 = 8;

/// What a spool held when it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// Readings waiting to be sent.
    pub records: u64,
    /// Their bytes on disk.
    pub bytes: u64,
    /// Records found cut short or damaged (a crash in the middle of a write), dropped.
    pub damaged: u64,
}

/// Where the next unread record starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    segment: u64,
    offset: u64,
}

#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Live segments in order: number and length.
    segments: VecDeque<(u64, u64)>,
    read: Position,
    append: Option<File>,
    records: u64,
    /// The record being appended, framed (kept to spare an allocation per record).
    frame: Vec<u8>,
}

fn crc(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

impl Spool {
    /// Opens (creating) the spool in `dir`, holding at most `max_bytes` on disk, and checks
    /// every record left from an earlier run.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<(Spool, Recovered)> {
        std::fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
        let mut numbers: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| at(dir, e))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        let read = read_position(dir)?.unwrap_or(Position {
            segment: numbers.first().copied().unwrap_or(1),
            offset: 0,
        });
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            segment_bytes: (max_bytes / 4).clamp(64 * 1024, 16 << 20),
            segments: VecDeque::new(),
            read,
            append: None,
            records: 0,
            frame: Vec::new(),
        };
        let mut recovered = Recovered::default();
        for number in numbers {
            let path = spool.segment_path(number);
            if number < read.segment {
                std::fs::remove_file(&path).map_err(|e| at(&path, e))?;
                continue;
            }
            let start = if number == read.segment {
                read.offset
            } else {
                0
            };
            let (records, good_end, damaged) = scan(&path, start)?;
            if damaged {
                // Everything after the first bad record is unreadable: cut it off.
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(good_end))
                    .map_err(|e| at(&path, e))?;
                recovered.damaged += 1;
            }
            recovered.records += records;
            recovered.bytes += good_end - start;
            spool.segments.push_back((number, good_end));
        }
        spool.records = recovered.records;
        if spool.segments.is_empty() {
            spool.read = Position {
                segment: read.segment,
                offset: 0,
            };
        }
        Ok((spool, recovered))
    }

    fn segment_path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{number:08}.seg"))
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Readings waiting.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Bytes on disk.
    fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|(_, len)| len).sum()
    }

    /// Appends one record; false (and nothing written) when it would exceed the size limit.
    pub fn append(&mut self, record: &[u8]) -> io::Result<bool> {
        let framed = HEADER + record.len() as u64;
        if self.disk_bytes() + framed > self.max_bytes {
            return Ok(false);
        }
        let roll = match self.segments.back() {
            None => true,
            Some((_, len)) => len + framed > self.segment_bytes && *len > 0,
        };
        if roll || self.append.is_none() {
            let number = match self.segments.back() {
                Some((last, _)) if !roll => *last,
                Some((last, _)) => last + 1,
                None => self.read.segment.max(1),
            };
            let path = self.segment_path(number);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| at(&path, e))?;
            if roll {
                self.segments.push_back((number, 0));
            }
            if self.segments.len() == 1 && roll {
                self.read = Position {
                    segment: number,
                    offset: 0,
                };
            }
            self.append = Some(file);
        }
        let frame = &mut self.frame;
        frame.clear();
        frame.extend_from_slice(&(record.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc(record).to_le_bytes());
        frame.extend_from_slice(record);
        // One write call per record: a kill can cut at most this record short.
        self.append
            .as_mut()
            .expect("opened above")
            .write_all(frame)?;
        if let Some((_, len)) = self.segments.back_mut() {
            *len += framed;
        }
        self.records += 1;
        Ok(true)
    }

    /// Reads records from the read position, up to about `max_bytes` of them, into `batch`
    /// (which is cleared); where reading stopped, to [`Spool::consume`] once delivered.
    pub fn peek(&self, max_bytes: usize, batch: &mut Pending) -> io::Result<Position> {
        batch.clear();
        let mut at_position = self.read;
        for &(number, len) in &self.segments {
            if number < at_position.segment {
                continue;
            }
            let start = if number == self.read.segment {
                self.read.offset
            } else {
                0
            };
            if start >= len {
                at_position = Position {
                    segment: number + 1,
                    offset: 0,
                };
                continue;
            }
            let path = self.segment_path(number);
            let mut file = File::open(&path).map_err(|e| at(&path, e))?;
            file.seek(SeekFrom::Start(start))?;
            let mut reader = io::BufReader::new(file.take(len - start));
            let mut offset = start;
            while offset < len && batch.bytes.len() < max_bytes {
                let mut header = [0u8; HEADER as usize];
                reader.read_exact(&mut header)?;
                let size = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
                let from = batch.bytes.len();
                batch.bytes.resize(from + size as usize, 0);
                reader.read_exact(&mut batch.bytes[from..])?;
                batch.ends.push_back(batch.bytes.len());
                offset += HEADER + u64::from(size);
            }
            at_position = Position {
                segment: number,
                offset,
            };
            if batch.bytes.len() >= max_bytes {
                break;
            }
        }
        Ok(at_position)
    }

    /// Marks everything before `to` delivered: `records` readings.
    pub fn consume(&mut self, to: Position, records: u64) -> io::Result<()> {
        self.read = to;
        self.records = self.records.saturating_sub(records);
        while let Some(&(number, len)) = self.segments.front() {
            let finished = number < to.segment || (number == to.segment && to.offset >= len);
            let is_last = self.segments.len() == 1;
            if !finished || (is_last && self.records > 0) {
                break;
            }
            if is_last {
                self.append = None;
            }
            let path = self.segment_path(number);
            std::fs::remove_file(&path).map_err(|e| at(&path, e))?;
            self.segments.pop_front();
            if self.read.segment <= number {
                self.read = Position {
                    segment: number + 1,
                    offset: 0,
                };
            }
        }
        write_position(&self.dir, self.read)
    }

    /// Drops the oldest waiting record, to make room (the drop-oldest policy).
    pub fn drop_oldest(&mut self) -> io::Result<bool> {
        let mut one = Pending::default();
        let position = self.peek(1, &mut one)?;
        if one.is_empty() {
            return Ok(false);
        }
        self.consume(position, 1)?;
        Ok(true)
    }
}

/// Counts the good records of a segment from `start`; the end of the last good one, and
/// whether anything after it was damaged. Reads as a stream: memory stays small.
fn scan(path: &Path, start: u64) -> io::Result<(u64, u64, bool)> {
    let mut file = File::open(path).map_err(|e| at(path, e))?;
    let len = file.metadata().map_err(|e| at(path, e))?.len();
    file.seek(SeekFrom::Start(start))?;
    let mut reader = io::BufReader::with_capacity(1 << 16, file);
    let mut offset = start;
    let mut records = 0;
    let mut body = Vec::new();
    while offset < len {
        let mut header = [0u8; HEADER as usize];
        if offset + HEADER > len || reader.read_exact(&mut header).is_err() {
            return Ok((records, offset, true));
        }
        let size = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
        let sum = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if offset + HEADER + size > len {
            return Ok((records, offset, true));
        }
        body.resize(size as usize, 0);
        reader.read_exact(&mut body).map_err(|e| at(path, e))?;
        if crc(&body) != sum {
            return Ok((records, offset, true));
        }
        records += 1;
        offset += HEADER + size;
    }
    Ok((records, offset, false))
}

fn read_position(dir: &Path) -> io::Result<Option<Position>> {
    let path = dir.join("position");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut parts = text.split_whitespace().map(str::parse::<u64>);
            match (parts.next(), parts.next()) {
                (Some(Ok(segment)), Some(Ok(offset))) => Ok(Some(Position { segment, offset })),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a spool position", path.display()),
                )),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(at(&path, e)),
    }
}

fn write_position(dir: &Path, position: Position) -> io::Result<()> {
    let temporary = dir.join("position.new");
    std::fs::write(
        &temporary,
        format!("{} {}\n", position.segment, position.offset),
    )
    .map_err(|e| at(&temporary, e))?;
    std::fs::rename(&temporary, dir.join("position")).map_err(|e| at(&temporary, e))
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(batch: &Pending) -> Vec<String> {
        batch
            .records()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect()
    }

    #[test]
    fn appends_peeks_consumes_and_resumes_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, recovered) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(recovered, Recovered::default());
        for i in 0..10 {
            assert!(spool.append(format!("r{i}\n").as_bytes()).unwrap());
        }
        let mut batch = Pending::default();
        let to = spool.peek(12, &mut batch).unwrap();
        assert_eq!(records(&batch), ["r0\n", "r1\n", "r2\n", "r3\n"]);
        spool.consume(to, 4).unwrap();
        drop(spool);
        let (spool, recovered) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(recovered.records, 6);
        let to = spool.peek(1 << 20, &mut batch).unwrap();
        assert_eq!(batch.len(), 6);
        assert_eq!(records(&batch)[0], "r4\n");
        let mut spool = spool;
        spool.consume(to, 6).unwrap();
        assert!(spool.is_empty());
        // Emptied: the segment is gone, and new records start afresh.
        assert!(spool.append(b"again\n").unwrap());
        spool.peek(1 << 20, &mut batch).unwrap();
        assert_eq!(records(&batch), ["again\n"]);
    }

    #[test]
    fn a_record_cut_short_by_a_crash_is_found_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 1 << 20).unwrap();
        for i in 0..3 {
            spool.append(format!("r{i}\n").as_bytes()).unwrap();
        }
        drop(spool);
        let segment = dir.path().join("00000001.seg");
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, b'p', b'a'])
            .unwrap();
        drop(file);
        let (spool, recovered) = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(
            recovered,
            Recovered {
                records: 3,
                bytes: 3 * 11,
                damaged: 1
            }
        );
        let mut batch = Pending::default();
        spool.peek(1 << 20, &mut batch).unwrap();
        assert_eq!(records(&batch), ["r0\n", "r1\n", "r2\n"]);
    }

    #[test]
    fn refuses_records_beyond_its_size_and_rolls_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), 200 * 1024).unwrap();
        let record = vec![b'x'; 1000];
        let mut appended = 0u64;
        while spool.append(&record).unwrap() {
            appended += 1;
        }
        assert_eq!(appended, 200 * 1024 / 1008);
        assert!(spool.segments.len() > 1, "64 KiB segments");
        let mut batch = Pending::default();
        let mut delivered = 0;
        while !spool.is_empty() {
            let to = spool.peek(10_000, &mut batch).unwrap();
            delivered += batch.len() as u64;
            spool.consume(to, batch.len() as u64).unwrap();
        }
        assert_eq!(delivered, appended);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            .collect();
        assert!(left.len() <= 1, "read segments are deleted");
        assert!(spool.drop_oldest().is_ok_and(|dropped| !dropped));
    }
}
