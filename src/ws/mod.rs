//! A WebSocket stream as a source of readings: connect (`ws://` or `wss://`), subscribe, map
//! every message through a [`Mapping`], and keep the stream alive: ping on an interval,
//! reconnect with jittered backoff when it drops or goes silent, and subscribe again.
//!
//! - [`run`] (here): the public entry, and the mapping side of the stream.
//! - `reader`: the connection side, a task of its own: frames, pings, reconnects.
//! - [`WsStats`] / [`WsSnapshot`]: the stream's counters.
//! - [`WsConfig`], [`WsEvent`], [`WsError`]: what to connect to, what happened, what cannot
//!   work.

mod config;
mod error;
mod event;
mod reader;
mod stats;

use std::sync::atomic::Ordering;

use crate::mapping::Mapping;
use crate::reading::{Precision, Reading, Timestamp};
use crate::ws::reader::{Incoming, QUEUED_BATCHES, Reader};

pub use config::WsConfig;
pub use error::WsError;
pub use event::WsEvent;
pub use stats::{WsSnapshot, WsStats};

/// The longest excerpt of a message a [`WsEvent::MappingError`] carries, in bytes.
const MESSAGE_EXCERPT: usize = 160;

/// Runs the stream until `shutdown` resolves: every mapped reading goes to `on_reading` (lent,
/// as by [`Mapping::apply_each`]: send it or clone it), every event to `on_event`. Reconnects
/// forever; returns an error only for a configuration that can never work, or when the reader
/// cannot run.
///
/// The connection (frames, pings, reconnects) is read by a task of its own, spawned on the
/// Tokio runtime this future runs in; this future maps what the reader hands over. For reading
/// and mapping to use two cores, run it on a multi-thread runtime outside the worker threads:
/// `Runtime::block_on(run(…))` on a runtime with one worker thread is the layout `telemit ws`
/// uses (the reader on the worker, the mapping on the calling thread). On a current-thread
/// runtime both share the one thread. On shutdown the stream is closed and the messages
/// already read are mapped before this returns.
///
/// ```no_run
/// use telemit::mapping::Mapping;
/// use telemit::ws::{WsConfig, WsStats};
///
/// let mut mapping = Mapping::from_file("examples/binance-kline.toml".as_ref())?;
/// let stats = WsStats::default();
/// let runtime = tokio::runtime::Builder::new_multi_thread()
///     .worker_threads(1)
///     .enable_all()
///     .build()?;
/// runtime.block_on(telemit::ws::run(
///     &WsConfig::new("wss://stream.binance.com:9443/ws/bnbusdt@kline_1m"),
///     &mut mapping,
///     &stats,
///     |reading| println!("{reading:?}"),
///     |event| eprintln!("{event}"),
///     tokio::time::sleep(std::time::Duration::from_secs(10)),
/// ))?;
/// println!("{:?}", stats.snapshot());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn run(
    config: &WsConfig,
    mapping: &mut Mapping,
    stats: &WsStats,
    mut on_reading: impl FnMut(&Reading),
    mut on_event: impl FnMut(WsEvent),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), WsError> {
    let reader = Reader::new(config)?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| WsError::NoRuntime)?;
    let (frames, mut incoming) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = runtime.spawn(reader.run(frames, stopped));
    tokio::pin!(shutdown);
    // Windows of a series that falls silent close on this tick (Mapping::sweep).
    let mut sweep = tokio::time::interval(std::time::Duration::from_secs(1));
    let stopped_early = loop {
        let item = tokio::select! {
            () = &mut shutdown => break false,
            _ = sweep.tick() => {
                mapping.sweep(Timestamp::now(Precision::Nanoseconds), &mut on_reading);
                continue;
            }
            item = incoming.recv() => item,
        };
        match item {
            Some(item) => take(item, mapping, stats, &mut on_reading, &mut on_event),
            None => break true,
        }
    };
    let _ = stop.send(true);
    while let Some(item) = incoming.recv().await {
        take(item, mapping, stats, &mut on_reading, &mut on_event);
    }
    // The windows still open close now, so the last seconds of a stream are not lost.
    mapping.finish(&mut on_reading);
    let joined = task.await;
    stats.connected.store(false, Ordering::Relaxed);
    match joined {
        Err(e) if e.is_panic() => Err(WsError::ReaderPanicked),
        Err(_) => Err(WsError::ReaderStopped),
        Ok(()) if stopped_early => Err(WsError::ReaderStopped),
        Ok(()) => Ok(()),
    }
}

/// The mapping side of one [`Incoming`]: counters, mapping, events.
fn take(
    item: Incoming,
    mapping: &mut Mapping,
    stats: &WsStats,
    on_reading: &mut impl FnMut(&Reading),
    on_event: &mut impl FnMut(WsEvent),
) {
    match item {
        Incoming::Messages(texts, arrival) => {
            for text in &texts {
                map_message(text, arrival, mapping, stats, on_reading, on_event);
            }
        }
        Incoming::Refused(event) => {
            WsStats::add(&stats.refused, 1);
            if let Some(event) = event {
                on_event(event);
            }
        }
        Incoming::Event(event) => {
            match &event {
                WsEvent::Connected { .. } => {
                    if stats.connects.fetch_add(1, Ordering::Relaxed) > 0 {
                        WsStats::add(&stats.reconnects, 1);
                    }
                    stats.connected.store(true, Ordering::Relaxed);
                }
                WsEvent::Disconnected { .. } => stats.connected.store(false, Ordering::Relaxed),
                _ => {}
            }
            on_event(event);
        }
    }
}

fn map_message(
    text: &str,
    arrival: Timestamp,
    mapping: &mut Mapping,
    stats: &WsStats,
    on_reading: &mut impl FnMut(&Reading),
    on_event: &mut impl FnMut(WsEvent),
) {
    WsStats::add(&stats.messages, 1);
    WsStats::add(&stats.bytes, text.len() as u64);
    let outcome = mapping.apply_each(text, arrival, on_reading);
    if !outcome.matched {
        WsStats::add(&stats.ignored, 1);
    }
    for error in outcome.errors {
        WsStats::add(&stats.mapping_errors, 1);
        on_event(WsEvent::MappingError {
            rule: error.rule,
            reason: error.reason,
            message: crate::text::excerpt(text, MESSAGE_EXCERPT),
        });
    }
    WsStats::add(&stats.readings, outcome.readings as u64);
}
