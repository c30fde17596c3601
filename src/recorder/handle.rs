//! The running recorder's handle: its counters, the final flush and push, shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use super::builder::{Counters, FINAL_FLUSH_WAIT, Running, push_once};
use super::exposition;
use super::flusher::{Flusher, Stop};
use super::push::Pusher;
use super::registry::Shared;
use super::snapshot::Snapshot;
use crate::sender::stats::StatsSnapshot;

/// What a recorder has done so far.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Series held now.
    pub series: usize,
    /// New series refused because `max_series` were held.
    pub refused_series: u64,
    /// Series removed after their idle timeout.
    pub expired_series: u64,
    /// Flushes to the sender.
    pub flushes: u64,
    /// Readings handed to the sender (queued; the sender's own counters say what it wrote).
    pub readings: u64,
    /// Series that could not become readings (a NaN gauge, a control character in a label).
    pub unrepresentable: u64,
    /// Readings the sender refused (queue full with a drop policy, closed, spool error).
    pub send_errors: u64,
    /// Scrapes of `/metrics` served.
    pub scrapes: u64,
    /// Pushes that succeeded.
    pub pushes: u64,
    /// Pushes that failed after every attempt.
    pub push_failures: u64,
    /// The error of the last failed push.
    pub last_push_error: Option<String>,
    /// The sender's counters, if there is a sender.
    pub sender: Option<StatsSnapshot>,
}

/// Runs a recorder's outputs; [`shutdown`](RecorderHandle::shutdown) (or dropping it) flushes
/// and pushes one last time, stops the listener and shuts the sender down.
pub struct RecorderHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) running: Mutex<Option<Running>>,
    pub(crate) flusher: Option<Arc<Flusher>>,
    pub(crate) pusher: Option<Arc<Pusher>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) local_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for RecorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderHandle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl RecorderHandle {
    /// Every series now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Every series now as Prometheus text, as `/metrics` serves it.
    pub fn render(&self) -> String {
        exposition::exposition(&self.shared.snapshot())
    }

    /// The address `/metrics` is served on, if listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Flushes to the sender now, besides the interval.
    pub fn flush(&self) {
        if let Some(flusher) = &self.flusher {
            flusher.flush();
        }
    }

    /// Pushes now, besides the interval; the error of the last attempt if all failed (also
    /// counted).
    pub fn push(&self) -> Result<(), String> {
        let Some(pusher) = &self.pusher else {
            return Ok(());
        };
        let before = self.counters.push_failures.load(Ordering::Relaxed);
        push_once(pusher, &self.shared, &self.counters, &Stop::default());
        if self.counters.push_failures.load(Ordering::Relaxed) == before {
            Ok(())
        } else {
            Err(self
                .counters
                .last_push_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .unwrap_or_default())
        }
    }

    /// The counters now.
    pub fn stats(&self) -> RecorderStats {
        let mut stats = RecorderStats {
            series: self.shared.series(),
            refused_series: self.shared.refused.load(Ordering::Relaxed),
            expired_series: self.shared.expired.load(Ordering::Relaxed),
            scrapes: self.counters.scrapes.load(Ordering::Relaxed),
            pushes: self.counters.pushes.load(Ordering::Relaxed),
            push_failures: self.counters.push_failures.load(Ordering::Relaxed),
            last_push_error: self
                .counters
                .last_push_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            ..RecorderStats::default()
        };
        if let Some(flusher) = &self.flusher {
            flusher.add_stats(&mut stats);
        }
        stats
    }

    /// Stops the interval threads, flushes and pushes a last time, stops the listener and shuts
    /// the sender down (delivering what it holds within its flush timeout); returns the final
    /// counters. A last flush still blocked on a full queue after [`FINAL_FLUSH_WAIT`] is cut
    /// short by closing the sender, so shutdown never hangs on an absent receiver. Later calls
    /// only return the counters.
    pub fn shutdown(&self) -> RecorderStats {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut running) = running {
            running.stop.stop();
            // With `OnFull::Block`, a flush waits while the sender's queue is full, which lasts
            // as long as its receiver is away: give the interval threads and the last flush
            // FINAL_FLUSH_WAIT, then close the sender so that they return (what is left is
            // counted as send errors and in the sender's drops).
            let threads = std::mem::take(&mut running.threads);
            let flusher = self.flusher.clone();
            let (done, finished) = std::sync::mpsc::channel();
            let last = std::thread::spawn(move || {
                for thread in threads {
                    let _ = thread.join();
                }
                if let Some(flusher) = flusher {
                    flusher.flush();
                }
                let _ = done.send(());
            });
            if finished.recv_timeout(FINAL_FLUSH_WAIT).is_err() {
                if let Some(flusher) = &self.flusher {
                    flusher.shutdown_sender();
                }
            }
            let _ = last.join();
            let _ = self.push();
            if let Some(listener) = &mut running.listener {
                listener.stop();
            }
            if let Some(flusher) = &self.flusher {
                flusher.shutdown_sender();
            }
        }
        self.stats()
    }
}

impl Drop for RecorderHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
