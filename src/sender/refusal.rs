//! A batch the receiver answered without taking it (HTTP): a rejected batch is counted and
//! not sent again; a throttled one waits as long as the server asks.

use std::time::Instant;

use super::event::Event;
use super::link::{Connection, Link};
use super::stats::DropReason;
use super::transport::Refusal;

impl Link {
    /// Acts on `refusal` of a batch of `records` readings in `bytes` bytes. True when the
    /// batch is done with (rejected and counted), false when it is to be sent again.
    pub(super) fn refused(&mut self, refusal: Refusal, bytes: usize, records: usize) -> bool {
        match refusal {
            Refusal::Rejected { message, dropped } => {
                let records = records as u64;
                // A partial write stored the rest of the batch; a count the server cannot
                // mean is read as the whole batch.
                let rejected = dropped.filter(|&n| n <= records).unwrap_or(records);
                let stored = records - rejected;
                if stored > 0 {
                    self.shared.stats.add_written(stored, bytes as u64);
                }
                self.shared
                    .stats
                    .add_dropped(DropReason::Rejected, rejected);
                if !self.rejecting {
                    self.rejecting = true;
                    self.emit(Event::Rejected {
                        endpoint: self.endpoint_text.clone(),
                        readings: rejected,
                        message,
                    });
                }
                // The receiver answered, so it is there: an outage, if any, is over.
                self.delivered();
                true
            }
            Refusal::RetryAfter { message, delay } => {
                // "Now" (`Retry-After: 0`, a date already past) is no reason to skip the backoff:
                // a server that answers it to every request would get a storm.
                let retry_in = delay
                    .filter(|delay| !delay.is_zero())
                    .unwrap_or_else(|| self.backoff.next_delay());
                self.failed(1, |endpoint| Event::Throttled {
                    endpoint,
                    message,
                    retry_in,
                });
                self.state = Connection::disconnected_at(Instant::now() + retry_in);
                false
            }
        }
    }
}
