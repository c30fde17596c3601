//! Every transport and format through the real sender to a receiver with Telegraf's
//! socket_listener behaviour, with the counts reconciled exactly.

mod support;

use std::time::Duration;

use support::{Receiver, numbered, udp_drops};
use telemit::{DropReason, Encoder, Endpoint, Format, OnFull, Sender};

const READINGS: u64 = 100_000;

fn endpoints(dir: &std::path::Path) -> Vec<Endpoint> {
    vec![
        Endpoint::Unix(dir.join("stream.sock")),
        Endpoint::Unixgram(dir.join("dgram.sock")),
        "tcp://127.0.0.1:0".parse().unwrap(),
        "udp://127.0.0.1:0".parse().unwrap(),
    ]
}

#[test]
fn every_transport_and_format_delivers_and_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    for format in Format::ALL {
        for endpoint in endpoints(dir.path()) {
            let receiver = Receiver::start(&endpoint, format, false);
            let port = match &receiver.endpoint {
                Endpoint::Udp { port, .. } => Some(*port),
                _ => None,
            };
            let drops_before = port.map_or(0, udp_drops);
            let sender = Sender::builder(receiver.endpoint.clone(), Encoder::new(format))
                .queue_size(20_000)
                .start()
                .unwrap();
            for seq in 0..READINGS {
                sender.send(&numbered(seq)).unwrap();
            }
            let stats = sender.shutdown();
            let arrived = receiver.wait_for(READINGS, Duration::from_secs(2));
            let seen = receiver.seen.lock().unwrap();
            let case = format!("{format} over {}", receiver.endpoint.scheme());

            assert!(
                seen.rejections.is_empty(),
                "{case}: {:?}",
                &seen.rejections[..seen.rejections.len().min(3)]
            );
            assert_eq!(stats.readings_in, READINGS, "{case}");
            assert_eq!(
                stats.written + stats.dropped_total(),
                READINGS,
                "{case}: {}",
                stats.summary()
            );
            assert_eq!(stats.dropped_total(), 0, "{case}: {}", stats.summary());
            assert_eq!(seen.sequence.duplicates(), 0, "{case}");
            match port {
                // UDP has no back-pressure: what the receiving kernel dropped is counted there.
                Some(port) => {
                    let kernel_drops = udp_drops(port) - drops_before;
                    if kernel_drops == 0 {
                        assert_eq!(arrived, READINGS, "{case}");
                    } else {
                        let mut one = Vec::new();
                        Encoder::new(format).encode(&numbered(0), &mut one).unwrap();
                        let per_datagram =
                            telemit::sender::DEFAULT_UDP_DATAGRAM as u64 / one.len() as u64 + 1;
                        assert!(READINGS - arrived <= kernel_drops * per_datagram, "{case}");
                        eprintln!("{case}: the receiving kernel dropped {kernel_drops} datagrams");
                    }
                }
                None => assert_eq!(arrived, READINGS, "{case}: {}", stats.summary()),
            }
            if endpoint.is_datagram() {
                assert!(
                    stats.batches < READINGS / 2,
                    "{case}: datagrams must carry many readings: {}",
                    stats.summary()
                );
            }
        }
    }
}

#[test]
fn json_on_datagrams_is_one_array_per_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let sender = Sender::builder(Endpoint::Unixgram(path), Encoder::new(Format::Json))
        .max_datagram(Some(300))
        .start()
        .unwrap();
    for seq in 0..10 {
        sender.send(&numbered(seq)).unwrap();
    }
    let stats = sender.shutdown();
    let mut buf = [0u8; 1024];
    let mut objects = 0;
    for _ in 0..stats.batches {
        let n = socket.recv(&mut buf).unwrap();
        assert!(n <= 300);
        let value: serde_json::Value =
            serde_json::from_slice(&buf[..n]).expect("one JSON value per datagram");
        objects += value.as_array().expect("an array of objects").len();
    }
    assert_eq!(objects, 10);
}

#[test]
fn oversize_and_unrepresentable_readings_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(
        &Endpoint::Unixgram(dir.path().join("d.sock")),
        Format::Influx,
        false,
    );
    let sender = Sender::builder(receiver.endpoint.clone(), Encoder::new(Format::Influx))
        .max_datagram(Some(100))
        .start()
        .unwrap();
    let big = telemit::Reading::builder("m")
        .field("s", "x".repeat(200))
        .build()
        .unwrap();
    let error = sender.send(&big).unwrap_err();
    assert_eq!(
        error.to_string(),
        "reading of 207 bytes is longer than the 100-byte limit of a datagram"
    );
    let bad = telemit::Reading::builder("m\\")
        .field("v", 1)
        .build()
        .unwrap();
    assert!(
        sender
            .send(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("influx: measurement")
    );
    sender.send(&numbered(0)).unwrap();
    let stats = sender.shutdown();
    assert_eq!(stats.dropped(DropReason::Oversize), 1);
    assert_eq!(stats.dropped(DropReason::Unrepresentable), 1);
    assert_eq!(stats.written, 1);
    assert_eq!(receiver.wait_for(1, Duration::from_secs(2)), 1);
}

#[test]
fn drop_newest_counts_every_reading_it_drops() {
    // Nobody listens: the writer waits for a connection while the queue fills.
    let dir = tempfile::tempdir().unwrap();
    let sender = Sender::builder(
        Endpoint::Unix(dir.path().join("absent.sock")),
        Encoder::new(Format::Influx),
    )
    .queue_size(100)
    .on_full(OnFull::DropNewest)
    .flush_timeout(Duration::from_millis(200))
    .start()
    .unwrap();
    let mut refused = 0;
    for seq in 0..1000 {
        refused += u64::from(sender.send(&numbered(seq)).is_err());
    }
    let stats = sender.shutdown();
    assert_eq!(stats.dropped(DropReason::QueueFull), refused);
    // The queue holds 100 and the writer holds one batch (up to 100 more) while it waits.
    assert!((800..=900).contains(&refused), "{}", stats.summary());
    // The rest could not be delivered before the flush timeout, and are counted too.
    assert_eq!(
        stats.written + stats.dropped_total(),
        1000,
        "{}",
        stats.summary()
    );
}

#[test]
fn datagram_limits_are_checked_per_transport() {
    let udp: Endpoint = "udp://127.0.0.1:8094".parse().unwrap();
    let error = Sender::builder(udp, Encoder::new(Format::Influx))
        .max_datagram(Some(65_536))
        .start()
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "--max-datagram 65536 is out of range for udp: use 64 to 65507 bytes"
    );
    let unixgram = Endpoint::Unixgram("/tmp/x.sock".into());
    let error = Sender::builder(unixgram, Encoder::new(Format::Influx))
        .max_datagram(Some(70_000))
        .start()
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "--max-datagram 70000 is out of range for unixgram: use 64 to 65536 bytes"
    );
}
