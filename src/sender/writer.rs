//! The writer thread: takes batches from the queue (or the spool) and delivers them through
//! the connection state machine in `link.rs`, on streams or packed into datagrams.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::{DatagramPacker, Framing};
use super::core::Shared;
use super::event::{Event, EventHook};
use super::link::{Connection, Link, Reopen, Stopped, WriteFailure, write_all};
use super::queue::Pending;
use super::retained::{RECENT, Retained};
use super::stats::DropReason;
use super::transport::Connect;
use crate::backoff::Backoff;

/// How long the writer waits after a write for more readings to gather (see `Queue::take`):
/// short against the latency it adds, long against one reading's encoding.
const LINGER: Duration = Duration::from_micros(100);
/// How much of the spool is read and written at once.
const SPOOL_BATCH: usize = 256 * 1024;

pub(crate) struct Writer {
    link: Link,
    framing: Framing,
    packer: DatagramPacker,
    retained: Retained,
    /// Records of the batch being delivered that are written (and counted) already: when
    /// delivery stops, only the rest are given up.
    done: usize,
    /// Readings given up so far (dropped and counted), for the one message at the end.
    given_up: u64,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        connector: Box<dyn Connect>,
        endpoint_text: String,
        framing: Framing,
        max_datagram: usize,
        reopen: Reopen,
        backoff: Backoff,
        on_event: Option<EventHook>,
    ) -> Self {
        let shape = connector.shape();
        let packer_limit = if shape.is_datagram() { max_datagram } else { 0 };
        Writer {
            link: Link {
                shared,
                connector,
                shape,
                endpoint_text,
                reopen,
                reopening: false,
                closed_for_good: false,
                backoff,
                state: Connection::disconnected_at(Instant::now()),
                on_event,
                resending: 0,
                incident: None,
                rejecting: false,
            },
            framing,
            packer: DatagramPacker::new(packer_limit, framing),
            retained: if shape.unsent_is_unread {
                Retained::default()
            } else {
                Retained::keeping_recent(RECENT)
            },
            done: 0,
            given_up: 0,
        }
    }

    pub fn run(mut self) {
        let mut batch = Pending::default();
        let mut resend = Pending::default();
        let mut linger = None;
        let mut delivered_last = true;
        loop {
            // Queued readings are older than spooled ones: the queue goes first.
            let spooled = self.spool_waiting();
            let open = if spooled {
                self.link.shared.queue.take_now(&mut batch)
            } else {
                self.link.shared.queue.take(&mut batch, linger)
            };
            linger = (!batch.is_empty()).then_some(LINGER);
            if !batch.is_empty() {
                let delivered = self.deliver(&batch, &mut resend);
                if let (Ok(()), Some(latency)) = (&delivered, &self.link.shared.latency) {
                    latency.record(batch.enqueued.iter().copied(), Instant::now());
                }
                delivered_last = delivered.is_ok();
                if delivered.is_err() {
                    let done = std::mem::take(&mut self.done);
                    self.give_up(&batch, done);
                    if self.link.closed_for_good {
                        break;
                    }
                }
            } else if spooled {
                if self.deliver_spooled(&mut batch, &mut resend).is_err() {
                    // Past the flush deadline: the rest stays in the spool for the next run.
                    self.give_up(&Pending::default(), 0);
                    break;
                }
                delivered_last = true;
                continue;
            }
            if !open {
                break;
            }
        }
        self.finish(&mut resend, delivered_last);
    }

    /// At shutdown: closes the connection gracefully; what the receiver did not take is
    /// written again on a new connection while the flush timeout lasts, and then dropped
    /// and counted (it was counted as written).
    fn finish(&mut self, resend: &mut Pending, mut delivered_last: bool) {
        loop {
            let was_open = matches!(self.link.state, Connection::Ready { .. });
            let confirmed = self.link.close(&mut self.retained, resend);
            if confirmed && was_open && delivered_last && resend.is_empty() {
                // Delivered to the end: an outage still open is over (a UDP send that
                // "succeeds" proves nothing about the receiver).
                if self.link.shape.confirms_delivery {
                    self.link.delivered();
                }
            }
            if resend.is_empty() || self.link.shared.past_deadline() || self.link.closed_for_good {
                break;
            }
            delivered_last = true;
            if self.deliver_stream(&Pending::default(), resend).is_err() {
                break;
            }
        }
        self.retained.take_into(resend);
        if !resend.is_empty() {
            // Counted as written when first written; now they are given up like the rest.
            self.link.shared.stats.take_back(resend.len() as u64);
            self.give_up(resend, 0);
            resend.clear();
        }
        let shared = self.link.shared.clone();
        if self.given_up > 0 && !self.link.closed_for_good {
            self.link.emit(Event::GaveUp {
                endpoint: self.link.endpoint_text.clone(),
                dropped: self.given_up,
            });
        }
        let waiting = shared.spool.as_ref().map_or(0, |spool| spool.lock().len());
        if waiting > 0 && shared.past_deadline() {
            self.link.emit(Event::LeftInSpool {
                endpoint: self.link.endpoint_text.clone(),
                readings: waiting,
            });
        }
    }

    fn deliver(&mut self, batch: &Pending, resend: &mut Pending) -> Result<(), Stopped> {
        if self.link.shape.is_datagram() {
            self.deliver_datagrams(batch)
        } else {
            self.deliver_stream(batch, resend)
        }
    }

    fn spool_waiting(&self) -> bool {
        (self.link.shared.spool.as_ref()).is_some_and(|spool| !spool.lock().is_empty())
    }

    /// Delivers the oldest spooled readings, then marks them done in the spool.
    fn deliver_spooled(
        &mut self,
        batch: &mut Pending,
        resend: &mut Pending,
    ) -> Result<(), Stopped> {
        let shared = self.link.shared.clone();
        let Some(spool) = &shared.spool else {
            return Ok(());
        };
        let peeked = spool.lock().peek(SPOOL_BATCH, batch);
        let position = match peeked {
            Ok(position) => position,
            Err(error) => {
                self.link.emit(Event::SpoolError {
                    error: error.to_string(),
                });
                std::thread::sleep(Duration::from_secs(1));
                return if shared.past_deadline() {
                    Err(Stopped)
                } else {
                    Ok(())
                };
            }
        };
        self.deliver(batch, resend)?;
        let consumed = spool.lock().consume(position, batch.len() as u64);
        if let Err(error) = consumed {
            self.link.emit(Event::SpoolError {
                error: error.to_string(),
            });
        }
        spool.room.notify_all();
        Ok(())
    }

    /// The flush deadline passed (or the output closed for good) with `batch`, after its
    /// first `done` records, and the queue undelivered: into the spool if there is one (the
    /// next run sends them), else dropped and counted.
    fn give_up(&mut self, batch: &Pending, done: usize) {
        let shared = self.link.shared.clone();
        let mut rest = Pending::default();
        shared.queue.take_now(&mut rest);
        let batch_left = batch.len().saturating_sub(done);
        let mut dropped = 0u64;
        let mut kept = 0u64;
        match &shared.spool {
            Some(spool) => {
                let mut spool = spool.lock();
                for record in batch.records().skip(done).chain(rest.records()) {
                    match spool.append(record) {
                        Ok(true) => kept += 1,
                        _ => dropped += 1,
                    }
                }
                shared.stats.add_spooled(kept);
            }
            None => dropped = (batch_left + rest.len()) as u64,
        }
        shared.stats.add_dropped(DropReason::SendError, dropped);
        self.given_up += dropped;
    }

    /// Writes the batch (after anything to resend) on a stream, reconnecting until it is
    /// done, and reopening where a planned reopen falls (splitting the batch there).
    ///
    /// The receiver is checked before each write and after it: one that closed its side
    /// reads nothing more, so what was written to it since is written again on the next
    /// connection. Readings are counted as written once, when first written; those given up
    /// later are taken back (see `finish`).
    fn deliver_stream(&mut self, batch: &Pending, resend: &mut Pending) -> Result<(), Stopped> {
        let shared = self.link.shared.clone();
        self.done = 0;
        loop {
            if self.link.reopen_due() {
                self.link.reopen_now(&mut self.retained, resend);
            }
            self.link.ready()?;
            let budget = self.link.reopen_budget();
            let transport = self.link.ready()?;
            // A receiver that closed its side since the last write would read nothing.
            if let Err(error) = transport.check_open() {
                self.retained.take_into(resend);
                self.link.resending = resend.len();
                self.link.lost(&error);
                continue;
            }
            let end = batch.len().min(
                self.done
                    .saturating_add(usize::try_from(budget).unwrap_or(usize::MAX)),
            );
            let chunk = record_bytes(batch, self.done, end);
            let result = write_all(transport.as_mut(), resend.live_bytes(), &shared)
                .and_then(|()| write_all(transport.as_mut(), chunk, &shared));
            let error = match result {
                Ok(()) => {
                    let unsent = transport.unsent_bytes();
                    let open = transport.check_open();
                    let bytes = (resend.live_bytes().len() + chunk.len()) as u64;
                    let readings = (resend.len() + end - self.done) as u64;
                    let chunk_records = batch.records().skip(self.done).take(end - self.done);
                    shared.stats.add_written((end - self.done) as u64, bytes);
                    self.done = end;
                    match open {
                        Ok(()) => {
                            match unsent {
                                Some(unsent) => self
                                    .retained
                                    .written(resend.records().chain(chunk_records), unsent),
                                None => self.retained.clear(),
                            }
                            resend.clear();
                            self.written_on_connection(readings, bytes, unsent);
                            if self.link.reopen_due() {
                                self.link.reopen_now(&mut self.retained, resend);
                            }
                            if self.done == batch.len() {
                                return Ok(());
                            }
                            continue;
                        }
                        Err(error) => {
                            // It closed while (or before) this was written: the kernel's
                            // count of what it took no longer says what it read.
                            self.retained
                                .written(resend.records().chain(chunk_records), usize::MAX);
                            resend.clear();
                            error
                        }
                    }
                }
                Err(WriteFailure::Stopped) => return Err(Stopped),
                Err(WriteFailure::Io(error)) => error,
            };
            // The peer may not have taken anything still in the kernel: send it again.
            self.retained.take_into(resend);
            self.link.resending = resend.len();
            if !self.link.shape.reconnectable {
                self.output_closed(&error);
                return Err(Stopped);
            }
            self.link.lost(&error);
        }
    }

    /// Bookkeeping after a write the receiver is still open for: bytes and readings on the
    /// connection, and the end of an outage once the receiver takes data.
    fn written_on_connection(&mut self, readings: u64, bytes: u64, unsent: Option<usize>) {
        // A write into the buffer of a peer that is going away succeeds too: the outage is
        // over only once the peer takes data. A receiver that accepts and at once closes every
        // connection takes the first write too (its kernel does): an outage ends only on a
        // connection that has also lived long enough to count as stable.
        let stable = self.link.is_stable();
        if let Connection::Ready {
            bytes: total,
            readings: on_connection,
            ..
        } = &mut self.link.state
        {
            *total += bytes;
            *on_connection += readings;
            if stable && unsent.is_none_or(|unsent| (unsent as u64) < *total) {
                self.link.delivered();
            }
        }
    }

    /// The output failed for good: say so once, stop taking readings, and let the caller
    /// drop (and count) what is left.
    fn output_closed(&mut self, error: &std::io::Error) {
        self.link.closed_for_good = true;
        self.link.state = Connection::disconnected_at(Instant::now());
        self.link.shared.queue.close();
        self.link.emit(Event::OutputClosed {
            endpoint: self.link.endpoint_text.clone(),
            error: error.to_string(),
        });
    }

    fn deliver_datagrams(&mut self, batch: &Pending) -> Result<(), Stopped> {
        let mut stopped = None;
        // Records sent (or refused for good) before delivery stopped: giving up counts only the
        // rest.
        let mut settled = 0;
        let mut oversize = 0;
        let mut packer = std::mem::replace(&mut self.packer, DatagramPacker::new(0, self.framing));
        for record in batch.records() {
            let pushed = packer.push(record, |payload, records| {
                if stopped.is_none() {
                    stopped = self.link.send_datagram(payload, records).err();
                    settled += if stopped.is_none() { records } else { 0 };
                }
            });
            oversize += u64::from(pushed.is_err());
        }
        packer.finish(|payload, records| {
            if stopped.is_none() {
                stopped = self.link.send_datagram(payload, records).err();
                settled += if stopped.is_none() { records } else { 0 };
            }
        });
        self.done = settled;
        self.packer = packer;
        // The sender already refuses oversize records; this only guards a changed limit.
        self.link
            .shared
            .stats
            .add_dropped(DropReason::Oversize, oversize);
        match stopped {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }
}

/// The bytes of records `from..to` of `batch`.
fn record_bytes(batch: &Pending, from: usize, to: usize) -> &[u8] {
    if from >= to {
        return &[];
    }
    let start = match from {
        0 => batch.start,
        n => batch.ends[n - 1],
    };
    &batch.bytes[start..batch.ends[to - 1]]
}
