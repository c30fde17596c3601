//! Faults on the receiving side: absent at start, killed and restarted, stalled, and the
//! `--reopen-after` habit. After each: sent = received + counted drops.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Receiver, numbered};
use telemit::listen::ListenOptions;
use telemit::sender::Event;
use telemit::tls::{TlsOptions, TlsServerOptions};
use telemit::{DropReason, Encoder, Endpoint, Format, OnFull, Sender};

/// Counts of the sender's log lines: outages begun and outages over.
#[derive(Default)]
struct Outages {
    begun: AtomicU64,
    over: AtomicU64,
}

fn sender_to(target: &Target, outages: Arc<Outages>) -> telemit::SenderBuilder {
    Sender::builder(target.endpoint.clone(), Encoder::new(Format::Influx))
        .tls(target.tls.clone())
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .flush_timeout(Duration::from_secs(20))
        .on_event(move |event| {
            eprintln!("event: {event}");
            match event {
                Event::ConnectFailed { .. } | Event::ConnectionLost { .. } => {
                    outages.begun.fetch_add(1, Ordering::Relaxed);
                }
                Event::Reconnected { .. } => {
                    outages.over.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Unix,
    Tcp,
    Tls,
    Unixgram,
    Udp,
}

/// One transport to put through a fault: where, and what its receiver and sender need.
struct Target {
    kind: Kind,
    endpoint: Endpoint,
    listen: ListenOptions,
    tls: TlsOptions,
}

impl Target {
    fn receiver(&self) -> Receiver {
        Receiver::start_with(&self.endpoint, self.listen.clone(), false)
    }
}

fn targets(dir: &Path, kinds: &[Kind]) -> Vec<Target> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            let port = support::free_port();
            let mut target = Target {
                kind,
                endpoint: match kind {
                    Kind::Unix => Endpoint::Unix(dir.join(format!("stream-{i}.sock"))),
                    Kind::Unixgram => Endpoint::Unixgram(dir.join(format!("gram-{i}.sock"))),
                    Kind::Tcp => format!("tcp://127.0.0.1:{port}").parse().unwrap(),
                    Kind::Tls => format!("tls://127.0.0.1:{port}").parse().unwrap(),
                    Kind::Udp => format!("udp://127.0.0.1:{port}").parse().unwrap(),
                },
                listen: ListenOptions::default(),
                tls: TlsOptions::default(),
            };
            if kind == Kind::Tls {
                let ca = support::Authority::new(dir, &format!("ca-{i}"));
                let (cert_file, key_file) =
                    ca.sign(dir, &format!("server-{i}"), &["localhost"], false);
                target.listen.tls = Some(TlsServerOptions {
                    cert_file,
                    key_file,
                    client_ca_file: None,
                });
                target.tls = TlsOptions {
                    ca_file: Some(ca.cert_file.clone()),
                    server_name: Some("localhost".into()),
                    ..TlsOptions::default()
                };
            }
            target
        })
        .collect()
}

const ALL: [Kind; 5] = [Kind::Unix, Kind::Tcp, Kind::Tls, Kind::Unixgram, Kind::Udp];

/// The end (exclusive) of the paced readings a UDP receiver must get once it is up.
const UDP_TAIL_END: u64 = 10_300;

#[test]
fn receiver_absent_at_start_then_appears() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path(), &ALL) {
        let endpoint = &target.endpoint;
        let outages = Arc::new(Outages::default());
        let sender = sender_to(&target, outages.clone()).start().unwrap();
        for seq in 0..5_000 {
            sender.send(&numbered(seq)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(500));
        let receiver = target.receiver();
        for seq in 5_000..10_000 {
            sender.send(&numbered(seq)).unwrap();
            if target.kind == Kind::Udp && seq % 100 == 0 {
                // UDP has no back-pressure: pace it so the receiver's buffer is not the test.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if target.kind == Kind::Udp {
            // At-most-once: what went out before the receiver existed is gone, unseen, and
            // the backlog goes out in a burst that a default receive buffer may only partly
            // hold. What the test can demand is recovery: once the backlog has drained, a
            // paced tail arrives whole. One reading a millisecond: a receiver thread stalled by
            // the host for 100 ms still finds room for all of them in its buffer.
            let deadline = Instant::now() + Duration::from_secs(10);
            while sender.stats().queue_depth > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(200));
            for seq in 10_000..UDP_TAIL_END {
                sender.send(&numbered(seq)).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let sent = if target.kind == Kind::Udp {
            UDP_TAIL_END
        } else {
            10_000
        };
        let stats = sender.shutdown();
        let arrived = receiver.wait_for(sent, Duration::from_secs(3));
        assert_eq!(stats.written + stats.dropped_total(), sent, "{endpoint}");
        assert_eq!(stats.dropped_total(), 0, "{endpoint}");
        if target.kind == Kind::Udp {
            let seen = receiver.seen.lock().unwrap();
            let missing: Vec<u64> = (10_000..UDP_TAIL_END)
                .filter(|&seq| !seen.sequence.contains(seq))
                .collect();
            assert!(
                missing.is_empty(),
                "{endpoint}: tail readings {missing:?} lost"
            );
            assert!(
                arrived >= UDP_TAIL_END - 10_000,
                "{endpoint}: {arrived} arrived"
            );
        } else {
            assert_eq!(arrived, 10_000, "{endpoint}: {}", stats.summary());
            assert_eq!(stats.reconnects, 1, "{endpoint}: {}", stats.summary());
        }
        // One log line for the whole outage, not one per attempt or reading.
        assert_eq!(outages.begun.load(Ordering::Relaxed), 1, "{endpoint}");
    }
}

/// The receiver dies five times mid-stream and comes back (a new socket file each time, as
/// when Telegraf restarts), on Unix streams, TCP and Unix datagrams. On a Unix socket whatever the
/// dead receiver had not read is known (SIOCOUTQ) and sent again: nothing is lost, a few
/// readings may arrive twice. On TCP the same holds for what the peer had not acknowledged;
/// what its kernel acknowledged but the process never read dies with it (see README).
#[test]
fn receiver_killed_and_restarted_five_times() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path(), &ALL) {
        survive_five_kills(&target);
    }
}

/// With gzip the kernel counts compressed bytes; the sender maps them back to readings through
/// its flush points, so a Unix stream still loses nothing.
#[test]
fn gzip_stream_survives_five_kills_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = targets(dir.path(), &[Kind::Unix]).remove(0);
    target.listen.gzip = true;
    survive_five_kills(&target);
}

const KILLS: u64 = 5;

fn survive_five_kills(target: &Target) {
    let endpoint = &target.endpoint;
    let mut receiver = target.receiver();
    let outages = Arc::new(Outages::default());
    let sender = Arc::new(
        sender_to(target, outages.clone())
            .queue_size(2_000)
            .gzip(target.listen.gzip)
            .start()
            .unwrap(),
    );
    // The producer runs until the kills are over, so that every kill hits a live stream.
    let kills_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let (sender, kills_done) = (sender.clone(), kills_done.clone());
        std::thread::spawn(move || {
            let mut seq = 0;
            while !kills_done.load(Ordering::SeqCst) || seq < 100_000 {
                sender.send(&numbered(seq)).unwrap();
                seq += 1;
                if seq % 100 == 0 {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            seq
        })
    };
    for kill in 0..KILLS {
        // Kill only once the sender says the previous outage is over, so that each kill is
        // an incident of its own.
        let deadline = Instant::now() + Duration::from_secs(20);
        while (outages.over.load(Ordering::SeqCst) < kill
            || receiver.seen.lock().unwrap().readings < 2_000)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        receiver.kill();
        std::thread::sleep(Duration::from_millis(100));
        receiver.restart();
    }
    kills_done.store(true, Ordering::SeqCst);
    let total = producer.join().unwrap();
    let stats = sender.shutdown();
    let arrived = receiver.wait_for(total, Duration::from_secs(3));
    let seen = receiver.seen.lock().unwrap();
    let lost = total - arrived;
    eprintln!(
        "{endpoint}: {} | arrived {arrived}, lost {lost}, duplicated {}",
        stats.summary(),
        seen.sequence.duplicates()
    );
    assert_eq!(stats.written + stats.dropped_total(), total, "{endpoint}");
    assert_eq!(stats.dropped_total(), 0, "{endpoint}");
    assert!(stats.reconnects >= KILLS, "{endpoint}: {}", stats.summary());
    // One line per outage, not per attempt or reading. A kill can make two outages: a
    // connection accepted into the dying listener's backlog takes a write, then resets.
    let logged = outages.begun.load(Ordering::Relaxed);
    assert!(
        (KILLS..=2 * KILLS).contains(&logged),
        "{endpoint}: {logged} outage lines for {KILLS} kills"
    );
    match target.kind {
        Kind::Unix => assert_eq!(lost, 0, "unix: at-least-once"),
        // UDP: also what was sent while nobody listened, which nobody can count.
        Kind::Udp => assert!(lost <= KILLS * 30_000, "{endpoint}: {lost} lost"),
        // TCP and TLS: what the dead receiver's kernel had acknowledged; unixgram: the
        // datagrams waiting in its socket buffer. At most a socket buffer's worth per kill.
        _ => assert!(
            lost <= KILLS * 10_000,
            "{endpoint}: {lost} lost, more than the dead receivers' kernels can have held"
        ),
    }
}

#[test]
fn stalled_receiver_bounds_memory_by_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let unix = dir.path().join("stall.sock");
    let unix_listener = std::os::unix::net::UnixListener::bind(&unix).unwrap();
    let tcp_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp: Endpoint = format!("tcp://{}", tcp_listener.local_addr().unwrap())
        .parse()
        .unwrap();
    type Accept = Box<dyn FnOnce() -> Box<dyn std::io::Read + Send> + Send>;
    let cases: Vec<(Endpoint, Accept)> = vec![
        (
            Endpoint::Unix(unix),
            Box::new(move || Box::new(unix_listener.accept().unwrap().0)),
        ),
        (
            tcp,
            Box::new(move || Box::new(tcp_listener.accept().unwrap().0)),
        ),
    ];
    for (endpoint, accept) in cases {
        stall_for_seconds(endpoint, accept);
    }
}

/// A receiver that accepts, then reads nothing for a second and a half: the kernel buffers
/// fill, then the queue, whose bound holds; then it reads everything.
fn stall_for_seconds(
    endpoint: Endpoint,
    accept: Box<dyn FnOnce() -> Box<dyn std::io::Read + Send> + Send>,
) {
    const QUEUE: usize = 1_000;
    let sender = Sender::builder(endpoint.clone(), Encoder::new(Format::Influx))
        .queue_size(QUEUE)
        .on_full(OnFull::DropOldest)
        .start()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut stream = accept();
        std::thread::sleep(Duration::from_millis(1500));
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut all).unwrap();
        all
    });
    const TOTAL: u64 = 300_000;
    let mut deepest = 0;
    for seq in 0..TOTAL {
        sender.send(&numbered(seq)).unwrap();
        if seq % 1000 == 0 {
            deepest = deepest.max(sender.stats().queue_depth);
        }
    }
    assert!(
        deepest <= QUEUE as u64,
        "{endpoint}: queue depth {deepest} exceeded {QUEUE}"
    );
    let stats = sender.shutdown();
    let bytes = reader.join().unwrap();
    let received = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(
        stats.dropped(DropReason::QueueFull) > 0,
        "{endpoint}: {}",
        stats.summary()
    );
    assert_eq!(
        received + stats.dropped_total(),
        TOTAL,
        "{endpoint}: {}",
        stats.summary()
    );
    assert_eq!(received, stats.written, "{endpoint}");
}

#[test]
fn reopen_after_1000_readings_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path(), &[Kind::Unix, Kind::Tcp, Kind::Tls]) {
        let endpoint = &target.endpoint;
        let receiver = target.receiver();
        let sender = Sender::builder(endpoint.clone(), Encoder::new(Format::Influx))
            .tls(target.tls.clone())
            .reopen_after(Some(1000))
            .start()
            .unwrap();
        const TOTAL: u64 = 100_000;
        let started = Instant::now();
        for seq in 0..TOTAL {
            sender.send(&numbered(seq)).unwrap();
            // Paced like a live source: batches of all sizes, split where a reopen falls.
            if seq % 20 == 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let stats = sender.shutdown();
        let arrived = receiver.wait_for(TOTAL, Duration::from_secs(3));
        let seen = receiver.seen.lock().unwrap();
        eprintln!("{endpoint}: {} in {:?}", stats.summary(), started.elapsed());
        assert_eq!(arrived, TOTAL, "{endpoint}");
        assert_eq!(
            seen.sequence.duplicates(),
            0,
            "{endpoint}: a graceful reopen resends nothing"
        );
        // One connection per 1 000 readings, however they were batched; planned reopens
        // are not failures.
        assert_eq!(
            stats.reopens,
            TOTAL / 1000 - 1,
            "{endpoint}: {}",
            stats.summary()
        );
        assert_eq!(stats.reconnects, 0, "{endpoint}: {}", stats.summary());
        assert_eq!(stats.unconfirmed, 0, "{endpoint}: every close confirmed");
    }
}

/// A receiver that accepts and at once closes every connection (a crashing Telegraf, a proxy
/// with no backend) is retried with backoff, logged once, and once a real receiver takes its
/// place everything arrives.
#[test]
fn receiver_closing_every_connection_is_backed_off_then_replaced() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path(), &[Kind::Unix, Kind::Tcp, Kind::Tls]) {
        let endpoint = target.endpoint.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let slammer = {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            let accept: Box<dyn FnMut() -> bool + Send> = match &endpoint {
                Endpoint::Unix(path) => {
                    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
                    listener.set_nonblocking(true).unwrap();
                    Box::new(move || listener.accept().is_ok())
                }
                other => {
                    let address = other.to_string().split("://").nth(1).unwrap().to_owned();
                    let listener = std::net::TcpListener::bind(address).unwrap();
                    listener.set_nonblocking(true).unwrap();
                    Box::new(move || listener.accept().is_ok())
                }
            };
            let mut accept = accept;
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if accept() {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    } else {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        let outages = Arc::new(Outages::default());
        let sender = sender_to(&target, outages.clone()).start().unwrap();
        // A steady trickle, so that every closed connection is found out by a write.
        for seq in 0..2_000 {
            sender.send(&numbered(seq)).unwrap();
            if seq % 10 == 0 {
                std::thread::sleep(Duration::from_millis(7));
            }
        }
        stop.store(true, Ordering::SeqCst);
        slammer.join().unwrap();
        let slammed = accepted.load(Ordering::SeqCst);
        // Backoff from 20 ms to 200 ms over about 1.4 s: a few dozen attempts, not hundreds.
        assert!(
            (3..=60).contains(&slammed),
            "{endpoint}: {slammed} connections in 1.4 s"
        );
        let receiver = target.receiver();
        for seq in 2_000..4_000 {
            sender.send(&numbered(seq)).unwrap();
        }
        let stats = sender.shutdown();
        let arrived = receiver.wait_for(4_000, Duration::from_secs(3));
        assert_eq!(stats.dropped_total(), 0, "{endpoint}: {}", stats.summary());
        // What went into a connection the peer then closed unread is written again: on Unix
        // sockets the kernel says what was not read; on TCP, where it only says what was not
        // acknowledged, the last second's readings are written again.
        assert_eq!(arrived, 4_000, "{endpoint}: {}", stats.summary());
        assert_eq!(
            outages.begun.load(Ordering::Relaxed),
            1,
            "{endpoint}: one log line for the whole incident"
        );
    }
}
