//! The counting sink: what a listener received, counted, with sequence numbers tracked and,
//! on request, the readings kept. `telemit listen`, `telemit demo` and the integration tests
//! all count through it.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::listen::{Received, SequenceTracker};
use crate::reading::Reading;

/// What a [`CountingSink`] has seen so far.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct Tally {
    /// Readings received.
    pub readings: u64,
    /// Payloads rejected (a stream line, or a whole datagram).
    pub rejected: u64,
    /// The sequence numbers found in the sink's sequence field.
    pub sequence: SequenceTracker,
    /// The readings received, in order, when the sink keeps them (empty otherwise).
    pub kept: Vec<Reading>,
    /// The first [`Tally::KEPT_REJECTIONS`] rejections as `<error>: <text>`, kept whether or
    /// not the sink keeps readings: empty exactly when nothing was rejected.
    pub rejections: Vec<String>,
}

impl Tally {
    /// How many rejections [`Tally::rejections`] holds at most (bounded memory).
    pub const KEPT_REJECTIONS: usize = 100;

    /// One line for a person: readings and rejections, then, when numbered readings arrived,
    /// the sequence accounting: `1000 readings received, 0 payloads rejected; sequence up to
    /// 999: 1000 distinct, 0 lost, 0 duplicated`.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} readings received, {} payloads rejected",
            self.readings, self.rejected
        );
        if let Some(highest) = self.sequence.highest() {
            text.push_str(&format!(
                "; sequence up to {highest}: {} distinct, {} lost, {} duplicated",
                self.sequence.unique(),
                self.sequence.lost(),
                self.sequence.duplicates()
            ));
        }
        text
    }
}

/// A sink for [`Listener::spawn`](crate::listen::Listener::spawn) that counts what arrives:
/// readings, rejected payloads, and the sequence numbers readings carry in one field (see
/// [`SequenceTracker::sequence_of`]). Clones share one [`Tally`], which survives the listener,
/// so a receiver can be stopped, bound again and keep counting.
///
/// ```
/// use telemit::listen::{CountingSink, ListenOptions, Listener};
/// use telemit::{Encoder, Endpoint, Format, Reading, Sender};
///
/// let dir = std::env::temp_dir().join(format!("telemit-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let listener = Listener::bind(&Endpoint::Unix(dir.join("in.sock")), ListenOptions::default())?;
/// let counter = CountingSink::new("seq").keeping(true);
/// let handle = listener.spawn(counter.sink(|_| {}))?;
///
/// let sender = Sender::builder(Endpoint::Unix(dir.join("in.sock")), Encoder::new(Format::Influx)).start()?;
/// for seq in 0..3u64 {
///     sender.send(&Reading::builder("job").field("seq", seq).build()?)?;
/// }
/// sender.shutdown();
/// for _ in 0..500 {
///     if counter.tally().readings == 3 { break; }
///     std::thread::sleep(std::time::Duration::from_millis(10));
/// }
/// handle.stop();
/// let tally = counter.tally();
/// assert_eq!((tally.readings, tally.sequence.lost()), (3, 0));
/// assert_eq!(tally.kept[2].field("seq"), Some(&telemit::FieldValue::Unsigned(2)));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CountingSink {
    tally: Arc<Mutex<Tally>>,
    seq_field: Arc<str>,
    keep: bool,
}

impl CountingSink {
    /// A sink that tracks the sequence numbers in field `seq_field` and keeps nothing.
    pub fn new(seq_field: impl Into<String>) -> CountingSink {
        CountingSink {
            tally: Arc::default(),
            seq_field: Arc::from(seq_field.into()),
            keep: false,
        }
    }

    /// Also keep every reading in [`Tally::kept`] (for tests: memory grows with what
    /// arrives).
    #[must_use]
    pub fn keeping(mut self, keep: bool) -> CountingSink {
        self.keep = keep;
        self
    }

    /// Counts one payload.
    pub fn count(&self, received: &Received) {
        let mut tally = self.tally();
        match received {
            Received::Readings(readings) => {
                tally.readings += readings.len() as u64;
                for reading in readings {
                    if let Some(seq) = SequenceTracker::sequence_of(reading, &self.seq_field) {
                        tally.sequence.observe(seq);
                    }
                }
                if self.keep {
                    tally.kept.extend(readings.iter().cloned());
                }
            }
            Received::Rejected { text, error } => {
                tally.rejected += 1;
                if tally.rejections.len() < Tally::KEPT_REJECTIONS {
                    tally.rejections.push(format!("{error}: {text}"));
                }
            }
        }
    }

    /// The counts now, locked: hold the guard briefly, the listener's threads wait on it.
    pub fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The shared counts, for a caller that keeps them past this sink.
    pub fn shared(&self) -> Arc<Mutex<Tally>> {
        self.tally.clone()
    }

    /// The sink to give [`Listener::spawn`](crate::listen::Listener::spawn): counts every
    /// payload, then hands it to `each` (to print it, say).
    pub fn sink(
        &self,
        each: impl Fn(&Received) + Send + Sync + 'static,
    ) -> Arc<dyn Fn(Received) + Send + Sync> {
        let counter = self.clone();
        Arc::new(move |received: Received| {
            counter.count(&received);
            each(&received);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CountingSink, Tally};
    use crate::listen::Received;
    use crate::reading::Reading;

    fn numbered(measurement: &str, field: &str, seq: u64) -> Reading {
        Reading::builder(measurement)
            .field(field, seq)
            .build()
            .unwrap()
    }

    #[test]
    fn counts_readings_rejections_and_sequence_numbers_in_its_field() {
        let counter = CountingSink::new("n");
        let sink = counter.sink(|_| {});
        sink(Received::Readings(vec![
            numbered("a", "n", 0),
            numbered("a", "n", 2),
            numbered("a", "seq", 1),
        ]));
        sink(Received::Rejected {
            text: "b v=".into(),
            error: "column 5: expected a field value after '='".into(),
        });
        let tally = counter.tally();
        assert_eq!((tally.readings, tally.rejected), (3, 1));
        assert_eq!((tally.sequence.received(), tally.sequence.lost()), (2, 1));
        assert!(tally.kept.is_empty());
        assert_eq!(
            tally.rejections,
            vec!["column 5: expected a field value after '=': b v=".to_owned()]
        );
        assert_eq!(
            tally.summary(),
            "3 readings received, 1 payloads rejected; sequence up to 2: 2 distinct, 1 lost, 0 duplicated"
        );
    }

    #[test]
    fn keeps_when_asked_and_clones_share_the_tally() {
        let counter = CountingSink::new("seq").keeping(true);
        let clone = counter.clone();
        clone.count(&Received::Readings(vec![numbered("a", "seq", 7)]));
        counter.count(&Received::Rejected {
            text: "x".into(),
            error: "bad".into(),
        });
        let tally = counter.tally();
        assert_eq!(tally.kept, vec![numbered("a", "seq", 7)]);
        assert_eq!(tally.rejections, vec!["bad: x".to_owned()]);
        assert_eq!(
            tally.summary(),
            "1 readings received, 1 payloads rejected; sequence up to 7: 1 distinct, 0 lost, 0 duplicated"
        );
    }

    #[test]
    fn rejections_are_kept_up_to_the_bound_and_all_counted() {
        let counter = CountingSink::new("seq");
        for i in 0..Tally::KEPT_REJECTIONS + 5 {
            counter.count(&Received::Rejected {
                text: i.to_string(),
                error: "bad".into(),
            });
        }
        let tally = counter.tally();
        assert_eq!(tally.rejected, Tally::KEPT_REJECTIONS as u64 + 5);
        assert_eq!(tally.rejections.len(), Tally::KEPT_REJECTIONS);
        assert_eq!(tally.rejections.last().unwrap(), "bad: 99");
    }

    #[test]
    fn summary_without_numbered_readings_has_no_sequence_part() {
        let counter = CountingSink::new("seq");
        counter.count(&Received::Readings(vec![numbered("a", "v", 1)]));
        assert_eq!(
            counter.tally().summary(),
            "1 readings received, 0 payloads rejected"
        );
    }
}
