//! Packing encoded readings into datagrams: pure, no sockets.
//!
//! A [`DatagramPacker`] fills payloads up to a maximum size with whole records (one record is
//! one reading's encoded bytes), never splits a record, and refuses a record that cannot fit in
//! any payload. For JSON, Telegraf's parser reads exactly one object or one array of objects per
//! datagram, so records are joined as `[a,b,c]`; line formats are simply concatenated.

/// How records are joined into one payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Newline-terminated lines, concatenated (influx, wavefront).
    Lines,
    /// JSON objects without newlines, joined into one array per payload.
    JsonArray,
}

impl Framing {
    /// The bytes a payload of one `record_len`-byte record takes.
    pub fn single_len(self, record_len: usize) -> usize {
        match self {
            Framing::Lines => record_len,
            Framing::JsonArray => record_len + 2,
        }
    }
}

/// A record larger than the maximum payload, which no datagram can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reading of {len} bytes does not fit in a datagram of at most {max} bytes")]
pub struct Oversize {
    /// Bytes the record would take in a payload of its own.
    pub len: usize,
    /// The maximum payload.
    pub max: usize,
}

/// Fills datagram payloads of at most `max_payload` bytes with whole records.
///
/// ```
/// use telemit::batch::{DatagramPacker, Framing};
///
/// let mut packer = DatagramPacker::new(12, Framing::Lines);
/// let mut payloads = Vec::new();
/// for line in [&b"a v=1\n"[..], b"b v=2\n", b"c v=3\n"] {
///     packer.push(line, |payload, _| payloads.push(payload.to_vec()))?;
/// }
/// packer.finish(|payload, _| payloads.push(payload.to_vec()));
/// assert_eq!(payloads, [b"a v=1\nb v=2\n".to_vec(), b"c v=3\n".to_vec()]);
/// # Ok::<(), telemit::batch::Oversize>(())
/// ```
#[derive(Debug)]
pub struct DatagramPacker {
    max_payload: usize,
    framing: Framing,
    payload: Vec<u8>,
    records: usize,
}

impl DatagramPacker {
    /// A packer for payloads of at most `max_payload` bytes.
    pub fn new(max_payload: usize, framing: Framing) -> Self {
        DatagramPacker {
            max_payload,
            framing,
            payload: Vec::with_capacity(max_payload),
            records: 0,
        }
    }

    /// The maximum payload size.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Adds a record; emits the current payload first when the record does not fit in it.
    /// `emit` gets each finished payload and the number of records in it.
    pub fn push(
        &mut self,
        record: &[u8],
        mut emit: impl FnMut(&[u8], usize),
    ) -> Result<(), Oversize> {
        let alone = self.framing.single_len(record.len());
        if alone > self.max_payload {
            return Err(Oversize {
                len: alone,
                max: self.max_payload,
            });
        }
        // A JSON record adds itself and a comma; the closing bracket is counted in `alone`.
        let added = match self.framing {
            Framing::Lines => record.len(),
            Framing::JsonArray => record.len() + 1,
        };
        let closing = usize::from(self.framing == Framing::JsonArray);
        if self.records > 0 && self.payload.len() + added + closing > self.max_payload {
            self.finish(&mut emit);
        }
        match self.framing {
            Framing::Lines => {}
            Framing::JsonArray => self
                .payload
                .push(if self.records == 0 { b'[' } else { b',' }),
        }
        self.payload.extend_from_slice(record);
        self.records += 1;
        Ok(())
    }

    /// Emits the payload being filled, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], usize)) {
        if self.records == 0 {
            return;
        }
        if self.framing == Framing::JsonArray {
            self.payload.push(b']');
        }
        emit(&self.payload, self.records);
        self.payload.clear();
        self.records = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pack(max: usize, framing: Framing, records: &[Vec<u8>]) -> (Vec<(Vec<u8>, usize)>, usize) {
        let mut packer = DatagramPacker::new(max, framing);
        let mut out = Vec::new();
        let mut refused = 0;
        for record in records {
            if packer
                .push(record, |p, n| out.push((p.to_vec(), n)))
                .is_err()
            {
                refused += 1;
            }
        }
        packer.finish(|p, n| out.push((p.to_vec(), n)));
        (out, refused)
    }

    #[test]
    fn json_records_become_arrays() {
        let records = vec![
            b"{\"a\":1}".to_vec(),
            b"{\"b\":2}".to_vec(),
            b"{\"c\":3}".to_vec(),
        ];
        let (payloads, refused) = pack(17, Framing::JsonArray, &records);
        assert_eq!(refused, 0);
        let texts: Vec<_> = payloads
            .iter()
            .map(|(p, _)| String::from_utf8(p.clone()).unwrap())
            .collect();
        assert_eq!(texts, ["[{\"a\":1},{\"b\":2}]", "[{\"c\":3}]"]);
    }

    #[test]
    fn oversize_record_is_refused_alone() {
        let records = vec![b"ab\n".to_vec(), b"toolong\n".to_vec(), b"cd\n".to_vec()];
        let (payloads, refused) = pack(6, Framing::Lines, &records);
        assert_eq!(refused, 1);
        assert_eq!(payloads, [(b"ab\ncd\n".to_vec(), 2)]);
    }

    fn line() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(b'a'..=b'z', 1..80).prop_map(|mut v| {
            v.push(b'\n');
            v
        })
    }

    proptest! {
        #[test]
        fn payloads_respect_the_limit_and_keep_every_record(
            records in proptest::collection::vec(line(), 0..200),
            max in 1usize..300,
            json in any::<bool>(),
        ) {
            let framing = if json { Framing::JsonArray } else { Framing::Lines };
            let records: Vec<Vec<u8>> = if json {
                records.into_iter().map(|mut r| { r.pop(); r }).collect()
            } else { records };
            let (payloads, refused) = pack(max, framing, &records);
            let emitted: usize = payloads.iter().map(|(_, n)| n).sum();
            prop_assert_eq!(emitted + refused, records.len());
            let mut rebuilt = Vec::new();
            for (payload, n) in &payloads {
                prop_assert!(payload.len() <= max);
                let parts: Vec<Vec<u8>> = match framing {
                    Framing::Lines => payload.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect(),
                    Framing::JsonArray => {
                        prop_assert!(payload.starts_with(b"[") && payload.ends_with(b"]"));
                        payload[1..payload.len() - 1].split(|&b| b == b',').map(<[u8]>::to_vec).collect()
                    }
                };
                prop_assert_eq!(parts.len(), *n);
                rebuilt.extend(parts);
            }
            let kept: Vec<Vec<u8>> = records.iter().filter(|r| framing.single_len(r.len()) <= max).cloned().collect();
            prop_assert_eq!(rebuilt, kept);
        }
    }
}
