//! What a sender does to every reading before encoding it: default tags, a timestamp where
//! one is needed, a sequence number.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::format::Format;
use crate::reading::{DefaultTags, Precision, Reading, Timestamp};

/// The reading options of one sender.
#[derive(Debug, Default)]
pub(crate) struct Prepare {
    pub tags: DefaultTags,
    /// Stamp readings without a timestamp with the time they are sent, in this unit.
    pub stamp: Option<Precision>,
    /// The field numbering readings, and the next number.
    pub sequence: Option<(String, AtomicU64)>,
}

impl Prepare {
    /// `add_timestamp` as asked; Telegraf's JSON parser needs a timestamp in every object
    /// (`json_time_key`), so JSON readings are always stamped.
    pub fn new(
        tags: DefaultTags,
        add_timestamp: bool,
        format: Format,
        precision: Precision,
        sequence: Option<String>,
    ) -> Prepare {
        Prepare {
            tags,
            stamp: (add_timestamp || format == Format::Json).then_some(precision),
            sequence: sequence.map(|field| (field, AtomicU64::new(0))),
        }
    }

    /// Whether `reading` would change, so that an unchanged one is sent without a copy.
    pub fn changes(&self, reading: &Reading) -> bool {
        !self.tags.is_empty()
            || self.sequence.is_some()
            || (self.stamp.is_some() && reading.timestamp().is_none())
    }

    /// Adds what is missing, in order: default tags, the timestamp, the sequence number (which
    /// replaces a field of the same name: the numbering must be the sender's to count loss).
    pub fn apply(&self, reading: &mut Reading) {
        if !self.tags.is_empty() {
            reading.add_default_tags(&self.tags);
        }
        if let Some(precision) = self.stamp {
            reading.stamp_if_missing(Timestamp::now(precision));
        }
        if let Some((field, next)) = &self.sequence {
            let _ = reading.set_field(field.as_str(), next.fetch_add(1, Ordering::Relaxed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare() -> Reading {
        Reading::builder("m").field("v", 1i64).build().unwrap()
    }

    #[test]
    fn json_is_always_stamped_and_influx_only_when_asked() {
        let json = Prepare::new(
            DefaultTags::default(),
            false,
            Format::Json,
            Precision::Seconds,
            None,
        );
        let mut reading = bare();
        assert!(json.changes(&reading));
        json.apply(&mut reading);
        assert!(reading.timestamp().is_some());
        assert!(
            !json.changes(&reading),
            "a stamped reading is sent as it is"
        );

        let influx = Prepare::new(
            DefaultTags::default(),
            false,
            Format::Influx,
            Precision::Seconds,
            None,
        );
        assert!(!influx.changes(&bare()));
    }

    #[test]
    fn tags_are_added_where_missing_and_readings_numbered_from_zero() {
        let tags =
            DefaultTags::new(vec![("host".into(), "a".into()), ("dc".into(), "x".into())]).unwrap();
        let prepare = Prepare::new(
            tags,
            false,
            Format::Influx,
            Precision::Nanoseconds,
            Some("seq".into()),
        );
        let mut first = Reading::builder("m")
            .tag("host", "b")
            .field("seq", 99u64)
            .build()
            .unwrap();
        let mut second = bare();
        prepare.apply(&mut first);
        prepare.apply(&mut second);
        assert_eq!(first.tag("host"), Some("b"));
        assert_eq!(first.tag("dc"), Some("x"));
        assert_eq!(first.field("seq"), Some(&0u64.into()));
        assert_eq!(second.field("seq"), Some(&1u64.into()));
        assert_eq!(second.timestamp(), None);
    }
}
