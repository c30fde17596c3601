//! Sequence accounting: which numbered readings arrived, how many were lost or duplicated.

use crate::reading::{FieldValue, Reading};

/// Counts readings lost and duplicated in transit from their sequence numbers.
///
/// ```
/// use telemit::listen::SequenceTracker;
///
/// let mut seq = SequenceTracker::default();
/// for n in [0, 1, 3, 3, 4] {
///     seq.observe(n);
/// }
/// assert_eq!((seq.received(), seq.lost(), seq.duplicates()), (5, 1, 1));
/// assert!(seq.contains(3) && !seq.contains(2));
/// ```
#[derive(Debug, Default, Clone)]
pub struct SequenceTracker {
    seen: Vec<u64>,
    unique: u64,
    total: u64,
    min: Option<u64>,
    max: u64,
    out_of_range: u64,
}

impl SequenceTracker {
    /// Sequence numbers above this are counted but not tracked (bounded memory: 512 MiB).
    pub const MAX_TRACKED: u64 = 1 << 32;

    /// Notes one arrival of sequence number `seq`.
    pub fn observe(&mut self, seq: u64) {
        self.total += 1;
        if seq >= Self::MAX_TRACKED {
            self.out_of_range += 1;
            return;
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) == 0 {
            self.seen[word] |= 1 << bit;
            self.unique += 1;
        }
        self.min = Some(self.min.map_or(seq, |m| m.min(seq)));
        self.max = self.max.max(seq);
    }

    /// The sequence number a reading carries in `field`, if it has a numeric one; a Wavefront
    /// reading carries it as the value of metric `<measurement>.<field>`.
    pub fn sequence_of(reading: &Reading, field: &str) -> Option<u64> {
        let value = match reading.field(field) {
            Some(value) => value,
            None => {
                let metric = reading.measurement().strip_suffix(field)?;
                if !metric.ends_with('.') {
                    return None;
                }
                reading.field("value")?
            }
        };
        match value {
            FieldValue::Unsigned(v) => Some(*v),
            FieldValue::Integer(v) => u64::try_from(*v).ok(),
            FieldValue::Float(v) if *v >= 0.0 && v.fract() == 0.0 => Some(*v as u64),
            _ => None,
        }
    }

    /// Whether sequence number `seq` has arrived (always false above [`Self::MAX_TRACKED`]).
    pub fn contains(&self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        seq < Self::MAX_TRACKED && self.seen.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Arrivals, duplicates included.
    pub fn received(&self) -> u64 {
        self.total
    }

    /// Distinct sequence numbers seen.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Numbers missing between the lowest and highest seen.
    pub fn lost(&self) -> u64 {
        match self.min {
            Some(min) => self.max - min + 1 - self.unique,
            None => 0,
        }
    }

    /// Arrivals of a number already seen.
    pub fn duplicates(&self) -> u64 {
        self.total - self.unique - self.out_of_range
    }

    /// The highest sequence number seen.
    pub fn highest(&self) -> Option<u64> {
        self.min.map(|_| self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::SequenceTracker;
    use crate::reading::Reading;

    #[test]
    fn sequence_of_reads_the_field_or_the_wavefront_metric() {
        let influx = Reading::builder("load").field("seq", 7u64).build().unwrap();
        assert_eq!(SequenceTracker::sequence_of(&influx, "seq"), Some(7));
        let wavefront = Reading::builder("load.seq")
            .field("value", 8.0)
            .build()
            .unwrap();
        assert_eq!(SequenceTracker::sequence_of(&wavefront, "seq"), Some(8));
        let other_metric = Reading::builder("loadseq")
            .field("value", 8.0)
            .build()
            .unwrap();
        assert_eq!(SequenceTracker::sequence_of(&other_metric, "seq"), None);
        for value in [-1.0, 1.5] {
            let odd = Reading::builder("m").field("seq", value).build().unwrap();
            assert_eq!(SequenceTracker::sequence_of(&odd, "seq"), None, "{value}");
        }
    }

    #[test]
    fn numbers_beyond_the_tracked_range_are_counted_not_tracked() {
        let mut seq = SequenceTracker::default();
        seq.observe(SequenceTracker::MAX_TRACKED);
        seq.observe(2);
        assert_eq!((seq.received(), seq.unique(), seq.duplicates()), (2, 1, 0));
        assert!(!seq.contains(SequenceTracker::MAX_TRACKED));
        assert_eq!(seq.highest(), Some(2));
    }
}
