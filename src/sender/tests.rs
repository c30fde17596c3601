//! The writer's state machine on the in-memory transport: outages, backoff, reopening,
//! resending and drop accounting, without sockets.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{DropReason, Event, MemoryTransport, OnFull, SendError, Sender, SenderBuilder};
use crate::format::{Encoder, Format};
use crate::reading::{DefaultTags, FieldValue, Precision, Reading};

mod connection;

fn reading(n: i64) -> Reading {
    Reading::builder("m").field("n", n).build().unwrap()
}

fn line(n: i64) -> Vec<u8> {
    format!("m n={n}i\n").into_bytes()
}

/// A sender on `memory` with a fast backoff, and the events it reports.
fn sender(
    memory: &MemoryTransport,
    adjust: impl FnOnce(SenderBuilder) -> SenderBuilder,
) -> (Sender, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let builder = Sender::memory_builder(memory, Encoder::new(Format::Influx))
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .flush_timeout(Duration::from_secs(2))
        .on_event(move |event| seen.lock().unwrap().push(event.clone()));
    (adjust(builder).start().unwrap(), events)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn count(events: &Mutex<Vec<Event>>, matches: impl Fn(&Event) -> bool) -> usize {
    events.lock().unwrap().iter().filter(|e| matches(e)).count()
}

#[test]
fn readings_arrive_in_order_and_read_back_as_readings() {
    let memory = MemoryTransport::new();
    let (sender, events) = sender(&memory, |b| b);
    for n in 0..100 {
        sender.send(&reading(n)).unwrap();
    }
    let stats = sender.shutdown();
    let expected: Vec<u8> = (0..100).flat_map(line).collect();
    assert_eq!(memory.bytes(), expected);
    let back = memory.readings(Precision::Nanoseconds).unwrap();
    assert_eq!(back, (0..100).map(reading).collect::<Vec<_>>());
    assert_eq!((stats.written, stats.dropped_total()), (100, 0));
    assert_eq!(memory.connections(), 1);
    assert_eq!(
        memory.closes(),
        1,
        "shutdown closes the connection gracefully"
    );
    assert!(events.lock().unwrap().is_empty(), "{events:?}");
}

fn count_in(events: &[Event], matches: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| matches(e)).count()
}

#[test]
fn readings_undelivered_at_the_flush_timeout_are_dropped_and_counted() {
    let memory = MemoryTransport::new();
    memory.refuse_connections(true);
    let (sender, events) = sender(&memory, |b| b.flush_timeout(Duration::from_millis(100)));
    for n in 0..5 {
        sender.send(&reading(n)).unwrap();
    }
    let stats = sender.shutdown();
    assert_eq!(stats.readings_in, 5);
    assert_eq!(stats.written, 0);
    assert_eq!(stats.dropped(DropReason::SendError), 5);
    assert_eq!(sender.send(&reading(6)), Err(SendError::Closed));
    assert_eq!(sender.stats().dropped(DropReason::SendError), 6);
    let events = events.lock().unwrap();
    assert_eq!(
        count_in(&events, |e| matches!(e, Event::GaveUp { dropped: 5, .. })),
        1,
        "{events:?}"
    );
}

#[test]
fn a_stalled_peer_fills_the_queue_and_the_policy_drops() {
    let memory = MemoryTransport::new();
    memory.stall(true);
    let (sender, _) = sender(&memory, |b| {
        b.queue_size(2)
            .on_full(OnFull::DropNewest)
            .flush_timeout(Duration::from_millis(100))
    });
    sender.send(&reading(0)).unwrap();
    wait_until("the writer took the first reading", || {
        sender.stats().queue_depth == 0 && memory.attempts() == 1
    });
    let results: Vec<_> = (1..6).map(|n| sender.send(&reading(n))).collect();
    assert_eq!(results[..2], [Ok(()), Ok(())]);
    assert!(
        results[2..].iter().all(|r| *r == Err(SendError::QueueFull)),
        "{results:?}"
    );
    let stats = sender.shutdown();
    assert_eq!(stats.dropped(DropReason::QueueFull), 3);
    assert_eq!(
        stats.dropped(DropReason::SendError),
        3,
        "the stalled batch and the queue"
    );
    assert_eq!(stats.readings_in, stats.written + stats.dropped_total());
    assert!(memory.bytes().is_empty());
}

#[test]
fn datagrams_are_packed_within_the_limit_and_oversize_readings_refused() {
    let memory = MemoryTransport::datagrams(100);
    let (sender, _) = sender(&memory, |b| b);
    let big = Reading::builder("m")
        .field("s", "x".repeat(200))
        .build()
        .unwrap();
    let error = sender.send(&big).unwrap_err();
    assert_eq!(
        error.to_string(),
        "reading of 207 bytes is longer than the 100-byte limit of a datagram"
    );
    for n in 0..40 {
        sender.send(&reading(n)).unwrap();
    }
    let stats = sender.shutdown();
    let payloads = memory.datagram_payloads();
    assert!(
        payloads
            .iter()
            .all(|p| p.len() <= 100 && p.ends_with(b"\n"))
    );
    assert_eq!(
        payloads.concat(),
        (0..40).flat_map(line).collect::<Vec<u8>>()
    );
    assert_eq!(stats.batches, payloads.len() as u64);
    assert_eq!(stats.dropped(DropReason::Oversize), 1);
}

#[test]
fn gzip_wraps_the_memory_stream() {
    let memory = MemoryTransport::new();
    let (sender, _) = sender(&memory, |b| b.gzip(true));
    for n in 0..10 {
        sender.send(&reading(n)).unwrap();
    }
    sender.shutdown();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&memory.bytes()[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, (0..10).flat_map(line).collect::<Vec<u8>>());
}

#[test]
fn json_readings_get_a_timestamp_default_tags_and_a_sequence_number() {
    let memory = MemoryTransport::new();
    let tags = DefaultTags::new(vec![("host".into(), "a".into())]).unwrap();
    let sender = Sender::memory_builder(&memory, Encoder::new(Format::Json))
        .default_tags(tags)
        .sequence_field(Some("seq".into()))
        .start()
        .unwrap();
    for n in 0..3 {
        sender.send(&reading(n)).unwrap();
    }
    sender.shutdown();
    let bytes = memory.bytes();
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&bytes)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(objects.len(), 3);
    for (n, object) in objects.iter().enumerate() {
        assert!(object["time"].is_string(), "{object}");
        assert_eq!(object["host"], "a", "{object}");
        assert_eq!(object["seq"], n as u64, "{object}");
    }
}

#[test]
fn the_stats_ticker_sends_the_counters_as_they_are() {
    let memory = MemoryTransport::new();
    let sender = Sender::memory_builder(&memory, Encoder::new(Format::Influx))
        .sequence_field(Some("seq".into()))
        .stats_interval(Some(Duration::from_millis(20)))
        .stats_source(|| Reading::builder("extra").field("x", 1i64).build())
        .start()
        .unwrap();
    sender.send(&reading(0)).unwrap();
    wait_until("two ticks", || {
        let text = String::from_utf8_lossy(&memory.bytes()).into_owned();
        text.matches("\nextra x=1i").count() >= 2
    });
    sender.shutdown();
    let readings = memory.readings(Precision::Nanoseconds).unwrap();
    assert_eq!(readings[0].field("seq"), Some(&FieldValue::Unsigned(0)));
    let own: Vec<_> = readings
        .iter()
        .filter(|r| r.measurement() == "telemit")
        .collect();
    assert!(own.len() >= 2);
    assert!(
        own.iter()
            .all(|r| r.field("seq").is_none() && r.field("written").is_some())
    );
    let order: Vec<&str> = readings[1..].iter().map(Reading::measurement).collect();
    assert_eq!(
        order[..2],
        ["telemit", "extra"],
        "the sender's own counters first"
    );
}

#[test]
fn settings_that_do_not_fit_the_transport_are_refused_with_the_offending_value() {
    use super::ConfigError;
    let udp: crate::Endpoint = "udp://127.0.0.1:8094".parse().unwrap();
    let gzip = Sender::builder(udp.clone(), Encoder::new(Format::Influx))
        .gzip(true)
        .start()
        .err()
        .unwrap();
    assert_eq!(
        gzip.to_string(),
        "gzip compresses stream connections (unix, tcp, tls); udp://127.0.0.1:8094 is not one"
    );
    // The datagram size is checked first, as before gzip and TLS.
    let size = Sender::builder(udp, Encoder::new(Format::Influx))
        .gzip(true)
        .max_datagram(Some(10))
        .start()
        .err()
        .unwrap();
    assert!(matches!(
        size,
        ConfigError::DatagramSize {
            size: 10,
            transport: "udp",
            ..
        }
    ));
    let memory = MemoryTransport::datagrams(500);
    let size = Sender::memory_builder(&memory, Encoder::new(Format::Influx))
        .max_datagram(Some(501))
        .start()
        .err()
        .unwrap();
    assert!(matches!(
        size,
        ConfigError::DatagramSize {
            size: 501,
            transport: "memory",
            max: 500
        }
    ));
    let tls = Sender::memory_builder(&MemoryTransport::new(), Encoder::new(Format::Influx))
        .tls(crate::tls::TlsOptions {
            server_name: Some("example.com".into()),
            ..Default::default()
        })
        .start()
        .err()
        .unwrap();
    assert_eq!(
        tls,
        ConfigError::TlsNotUsed {
            endpoint: "memory".into()
        }
    );
    let seq = Sender::memory_builder(&MemoryTransport::new(), Encoder::new(Format::Influx))
        .sequence_field(Some(String::new()))
        .start()
        .err()
        .unwrap();
    assert!(
        matches!(seq, ConfigError::SequenceField { ref field, .. } if field.is_empty()),
        "{seq}"
    );
}
