//! How long readings wait between [`Sender::send`](crate::Sender::send) and the socket write.
//!
//! Measuring costs a clock read per reading, so a sender only does it when asked
//! ([`SenderBuilder::measure_latency`](crate::SenderBuilder::measure_latency)).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies recorded by a writer thread, readable from any thread.
#[derive(Debug)]
pub(crate) struct LatencyRecorder {
    histogram: Mutex<Histogram<u64>>,
}

impl LatencyRecorder {
    pub fn new() -> Self {
        // Nanoseconds from 1 ns to one hour, to three significant digits.
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("static histogram bounds are valid");
        LatencyRecorder {
            histogram: Mutex::new(histogram),
        }
    }

    /// Records, for each reading enqueued at one of `enqueued`, the time until `written`.
    pub fn record(&self, enqueued: impl IntoIterator<Item = Instant>, written: Instant) {
        let mut histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        for at in enqueued {
            let nanos = written.saturating_duration_since(at).as_nanos();
            histogram.saturating_record(u64::try_from(nanos).unwrap_or(u64::MAX));
        }
    }

    pub fn summary(&self) -> LatencySummary {
        let histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        let at = |quantile: f64| Duration::from_nanos(histogram.value_at_quantile(quantile));
        LatencySummary {
            count: histogram.len(),
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: Duration::from_nanos(histogram.max()),
        }
    }
}

/// Percentiles of the time from enqueue to socket write, over every reading written so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Readings measured.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Longest.
    pub max: Duration,
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?} over {} readings",
            self.p50, self.p99, self.p999, self.max, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_recorded_waits() {
        let recorder = LatencyRecorder::new();
        let written = Instant::now() + Duration::from_millis(100);
        // 990 readings waited 1 ms, 10 waited 50 ms.
        let enqueued =
            (0..1000).map(|i| written - Duration::from_millis(if i < 990 { 1 } else { 50 }));
        recorder.record(enqueued, written);
        let summary = recorder.summary();
        assert_eq!(summary.count, 1000);
        let close = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 - ms).abs() < ms * 0.01;
        assert!(close(summary.p50, 1.0), "{summary}");
        assert!(close(summary.p99, 1.0), "{summary}");
        assert!(close(summary.p999, 50.0), "{summary}");
        assert!(close(summary.max, 50.0), "{summary}");
    }
}
