//! The writer thread: takes batches from the queue (or the spool) and delivers them through
//! the connection state machine in `link.rs`, on streams or packed into datagrams.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::{DatagramPacker, Framing};
use super::core::Shared;
use super::event::{Event, EventHook};
use super::link::{Connection, GRACEFUL_CLOSE, Link, Stopped, WriteFailure, write_all};
use super::queue::Pending;
use super::retained::Retained;
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
    /// When datagram delivery stopped mid-batch: how many of the batch's first records had
    /// been sent (or refused for good), so that giving up counts only the rest.
    settled: usize,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        connector: Box<dyn Connect>,
        endpoint_text: String,
        framing: Framing,
        max_datagram: usize,
        reopen_after: Option<u64>,
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
                reopen_after,
                backoff,
                state: Connection::disconnected_at(Instant::now()),
                on_event,
                resending: 0,
                incident: None,
                rejecting: false,
            },
            framing,
            packer: DatagramPacker::new(packer_limit, framing),
            retained: Retained::default(),
            settled: 0,
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
                    let settled = std::mem::take(&mut self.settled);
                    self.give_up(&batch, settled);
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
                // Delivered to the end: an outage still open is over (a UDP send that
                // "succeeds" proves nothing about the receiver).
                if delivered_last
                    && matches!(self.link.state, Connection::Ready { .. })
                    && self.link.shape.confirms_delivery
                {
                    self.link.delivered();
                }
                break;
            }
        }
        if let Connection::Ready { transport, .. } = std::mem::replace(
            &mut self.link.state,
            Connection::disconnected_at(Instant::now()),
        ) {
            transport.close(GRACEFUL_CLOSE);
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

    /// The flush deadline passed with `batch` and the queue undelivered: into the spool if
    /// there is one (the next run sends them), else dropped and counted.
    fn give_up(&mut self, batch: &Pending, settled: usize) {
        let shared = self.link.shared.clone();
        let mut rest = Pending::default();
        shared.queue.take_now(&mut rest);
        let mut dropped = 0u64;
        let mut kept = 0u64;
        match &shared.spool {
            Some(spool) => {
                let mut spool = spool.lock();
                for record in batch.records().skip(settled).chain(rest.records()) {
                    match spool.append(record) {
                        Ok(true) => kept += 1,
                        _ => dropped += 1,
                    }
                }
                shared.stats.add_spooled(kept);
                let waiting = spool.len();
                drop(spool);
                if waiting > 0 {
                    self.link.emit(Event::LeftInSpool {
                        endpoint: self.link.endpoint_text.clone(),
                        readings: waiting,
                    });
                }
            }
            None => dropped = (batch.len().saturating_sub(settled) + rest.len()) as u64,
        }
        if dropped > 0 {
            shared.stats.add_dropped(DropReason::SendError, dropped);
            self.link.emit(Event::GaveUp {
                endpoint: self.link.endpoint_text.clone(),
                dropped,
            });
        }
    }

    /// Writes the batch (after anything to resend) on a stream, reconnecting until it is done.
    fn deliver_stream(&mut self, batch: &Pending, resend: &mut Pending) -> Result<(), Stopped> {
        let shared = self.link.shared.clone();
        loop {
            let transport = self.link.ready()?;
            let result = write_all(transport.as_mut(), resend.live_bytes(), &shared)
                .and_then(|()| write_all(transport.as_mut(), batch.live_bytes(), &shared));
            match result {
                Ok(()) => {
                    let unsent = transport.unsent_bytes();
                    let bytes = (resend.live_bytes().len() + batch.live_bytes().len()) as u64;
                    self.link
                        .shared
                        .stats
                        .add_written(batch.len() as u64, bytes);
                    match unsent {
                        Some(unsent) => self
                            .retained
                            .written(resend.records().chain(batch.records()), unsent),
                        None => self.retained.clear(),
                    }
                    resend.clear();
                    // A write into the buffer of a peer that is going away succeeds too: the
                    // outage is over only once the peer takes data.
                    // A receiver that accepts and at once closes every connection takes the
                    // first write too (its kernel does): an outage ends only on a connection
                    // that has also lived long enough to count as stable.
                    let stable = self.link.is_stable();
                    if let Connection::Ready { bytes: total, .. } = &mut self.link.state {
                        *total += bytes;
                        if stable && unsent.is_none_or(|unsent| (unsent as u64) < *total) {
                            self.link.delivered();
                        }
                    }
                    self.link.after_write(&mut self.retained);
                    return Ok(());
                }
                Err(WriteFailure::Stopped) => {
                    // What was already retained or resent counted as written before.
                    return Err(Stopped);
                }
                Err(WriteFailure::Io(error)) => {
                    // The peer may not have taken anything still in the kernel: send it again.
                    self.retained.take_into(resend);
                    self.link.resending = resend.len();
                    self.link.lost(&error);
                }
            }
        }
    }

    fn deliver_datagrams(&mut self, batch: &Pending) -> Result<(), Stopped> {
        let mut stopped = None;
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
        self.settled = settled;
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
