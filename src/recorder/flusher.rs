//! Flushing snapshots as readings through a telemit [`Sender`], and the stop signal of the
//! interval threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::builder::CounterMode;
use super::handle::RecorderStats;
use super::readings::readings;
use super::registry::Shared;
use super::snapshot::{SeriesValue, Snapshot};
use crate::Sender;
use crate::reading::{Precision, Timestamp};

/// A stop flag the interval threads wait on.
#[derive(Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Waits `timeout` or until stopped; whether stopped.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *stopped
    }

    pub(crate) fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }
}

type SeriesId = (String, Vec<(String, String)>);

/// Turns snapshots into readings for one sender.
pub(crate) struct Flusher {
    sender: Sender,
    measurement: String,
    mode: CounterMode,
    shared: Arc<Shared>,
    /// Counter totals at the previous flush, for deltas; one flush at a time.
    previous: Mutex<HashMap<SeriesId, u64>>,
    flushes: AtomicU64,
    readings: AtomicU64,
    unrepresentable: AtomicU64,
    send_errors: AtomicU64,
}

impl Flusher {
    pub(crate) fn new(
        sender: Sender,
        measurement: String,
        mode: CounterMode,
        shared: Arc<Shared>,
    ) -> Self {
        Flusher {
            sender,
            measurement,
            mode,
            shared,
            previous: Mutex::new(HashMap::new()),
            flushes: AtomicU64::new(0),
            readings: AtomicU64::new(0),
            unrepresentable: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
        }
    }

    /// One flush: every series, stamped now, queued on the sender.
    pub(crate) fn flush(&self) {
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let mut snapshot = self.shared.snapshot();
        if self.mode == CounterMode::Delta {
            deltas(&mut snapshot, &mut previous);
        }
        let (readings, errors) = readings(
            &snapshot,
            &self.measurement,
            Some(Timestamp::now(Precision::Nanoseconds)),
        );
        self.unrepresentable
            .fetch_add(errors.len() as u64, Ordering::Relaxed);
        for reading in &readings {
            match self.sender.send(reading) {
                Ok(()) => self.readings.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.send_errors.fetch_add(1, Ordering::Relaxed),
            };
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_stats(&self, stats: &mut RecorderStats) {
        stats.flushes = self.flushes.load(Ordering::Relaxed);
        stats.readings = self.readings.load(Ordering::Relaxed);
        stats.unrepresentable = self.unrepresentable.load(Ordering::Relaxed);
        stats.send_errors = self.send_errors.load(Ordering::Relaxed);
        stats.sender = Some(self.sender.stats());
    }

    pub(crate) fn shutdown_sender(&self) {
        self.sender.shutdown();
    }
}

/// Replaces each counter's total with its increase since `previous`, and records the totals.
/// A total below the previous one (the series expired and came back) counts from zero.
pub(crate) fn deltas(snapshot: &mut Snapshot, previous: &mut HashMap<SeriesId, u64>) {
    let mut now = HashMap::with_capacity(previous.len());
    for series in &mut snapshot.series {
        if let SeriesValue::Counter(total) = &mut series.value {
            let id = (series.name.clone(), series.labels.clone());
            let before = previous.get(&id).copied().unwrap_or(0);
            let current = *total;
            *total = if current >= before {
                current - before
            } else {
                current
            };
            now.insert(id, current);
        }
    }
    *previous = now;
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::Series;
    use super::*;

    #[test]
    fn deltas_per_flush() {
        let counter = |total| Snapshot {
            series: vec![Series {
                name: "c".into(),
                labels: vec![],
                value: SeriesValue::Counter(total),
            }],
            ..Snapshot::default()
        };
        let mut previous = HashMap::new();
        let mut values = Vec::new();
        for total in [5, 5, 8, 2] {
            let mut s = counter(total);
            deltas(&mut s, &mut previous);
            values.push(s.series[0].value.clone());
        }
        assert_eq!(values, [5, 0, 3, 2].map(SeriesValue::Counter).to_vec());
    }

    #[test]
    fn stop_wakes_a_waiter() {
        let stop = Arc::new(Stop::default());
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.wait(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.stop();
        assert!(waiter.join().unwrap());
        assert!(!Stop::default().wait(Duration::from_millis(1)));
    }
}
