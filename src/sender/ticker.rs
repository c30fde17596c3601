//! The stats ticker: a thread that sends a sender's own counters through it at an interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::core::Core;
use crate::reading::{Precision, Reading, ReadingError, Timestamp};

/// One more reading to send at every tick.
pub(crate) type StatsSource = Arc<dyn Fn() -> Result<Reading, ReadingError> + Send + Sync>;

/// Runs until stopped (at shutdown, before the queue closes).
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    pub fn start(
        core: Arc<Core>,
        interval: Duration,
        sources: Vec<StatsSource>,
    ) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("telemit-stats".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                while !stopped.load(Ordering::SeqCst) {
                    let now = Instant::now();
                    if now < next {
                        std::thread::park_timeout(next - now);
                        continue;
                    }
                    next += interval;
                    // Sent as they are: the numbering and tags belong to the data.
                    let own = core.stats().to_reading();
                    for reading in std::iter::once(own)
                        .chain(sources.iter().map(|source| source()))
                        .flatten()
                    {
                        // Stamped: Telegraf's json parser (json_time_key set) rejects an
                        // object without its time, and the counters are of this moment.
                        let mut reading = reading;
                        reading.stamp_if_missing(Timestamp::now(Precision::Nanoseconds));
                        let _ = core.send_as_is(&reading);
                    }
                }
            })?;
        Ok(Ticker { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}
