//! Producer threads sharing one `Sender`: 1, 2, 4 and 8 producers on a Unix stream socket and
//! on UDP, each receiver drained in-process. Prints readings/s (written by the sender, from the
//! first send until shutdown has written everything) and the ratio to 1 producer, and the CPU
//! time the whole process spent per reading (producers, writer and receiver together): on a
//! busy machine that figure is steadier than the rates, and if producers contended for the
//! queue it would grow with their number.
//!
//! `cargo bench --bench producers` (TELEMIT_BENCH_READINGS sets the readings a run sends in
//! total, split evenly among its producers, default 400 000; TELEMIT_BENCH_TRANSPORTS, say
//! `unix`, picks transports). Each figure is the best of 3
//! runs, interleaved so that a burst of load from elsewhere on the machine does not land on
//! one producer count only. The whole benchmark takes a few seconds.

use std::io::Read;
use std::net::UdpSocket;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use telemit::usage::Usage;
use telemit::{Encoder, Endpoint, Format, Precision, Sender, Timestamp};

// The request-timing reading, shared with the tests.
#[allow(dead_code)]
#[path = "../tests/support/samples.rs"]
mod samples;

const PRODUCERS: [usize; 4] = [1, 2, 4, 8];
const ROUNDS: usize = 3;

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Unix,
    Udp,
}

impl Transport {
    /// The name TELEMIT_BENCH_TRANSPORTS knows it by.
    fn key(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Udp => "udp",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Unix => "unix stream",
            Transport::Udp => "udp",
        }
    }
}

/// A receiver that reads and discards everything until dropped.
struct Discard {
    endpoint: Endpoint,
    stop: Arc<AtomicBool>,
}

impl Discard {
    fn start(transport: Transport, dir: &Path, run: usize) -> Discard {
        let stop = Arc::new(AtomicBool::new(false));
        let endpoint = match transport {
            Transport::Unix => {
                let path = dir.join(format!("producers-{run}.sock"));
                let listener = UnixListener::bind(&path).unwrap();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while let Ok((mut stream, _)) = listener.accept() {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let drain = move || {
                            let mut buf = vec![0u8; 1 << 16];
                            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                        };
                        // Named, so that a profile tells the receiver from the producers.
                        let named = std::thread::Builder::new().name("receiver".into());
                        named.spawn(drain).unwrap();
                    }
                });
                Endpoint::Unix(path)
            }
            Transport::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let address = socket.local_addr().unwrap();
                let stop = stop.clone();
                let drain = move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while !stop.load(Ordering::Relaxed) {
                        let _ = socket.recv(&mut buf);
                    }
                };
                let named = std::thread::Builder::new().name("receiver".into());
                named.spawn(drain).unwrap();
                format!("udp://{address}").parse().unwrap()
            }
        };
        Discard { endpoint, stop }
    }
}

impl Drop for Discard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Endpoint::Unix(path) = &self.endpoint {
            // Wake the accept loop so that it sees the flag.
            let _ = UnixStream::connect(path);
        }
    }
}

/// `producers` threads share one sender and send `total` readings between them, each a copy
/// of one reading with its own sequence number and the time it is sent; readings
/// written a second, from the moment they all start until shutdown returns, and CPU
/// nanoseconds a reading.
fn run(transport: Transport, producers: usize, total: u64, dir: &Path, id: usize) -> (f64, f64) {
    let receiver = Discard::start(transport, dir, id);
    let sender = Arc::new(
        Sender::builder(receiver.endpoint.clone(), Encoder::new(Format::Influx))
            .start()
            .unwrap(),
    );
    let each = total / producers as u64;
    let start = Arc::new(Barrier::new(producers + 1));
    let threads: Vec<_> = (0..producers as u64)
        .map(|p| {
            let sender = sender.clone();
            let start = start.clone();
            let named = std::thread::Builder::new().name(format!("producer-{p}"));
            named
                .spawn(move || {
                    // Producer p numbers its readings p, p + producers, p + 2 producers, …
                    let mut reading = samples::request_timing(p);
                    start.wait();
                    for n in 0..each {
                        let seq = p + n * producers as u64;
                        reading.set_field("seq", seq).unwrap();
                        // Stamped as it is sent, as a server stamps what it measures.
                        reading.set_timestamp(Some(Timestamp::now(Precision::Nanoseconds)));
                        sender.send(&reading).unwrap();
                    }
                })
                .unwrap()
        })
        .collect();
    start.wait();
    let started = Instant::now();
    let cpu_before = Usage::now().cpu;
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = sender.shutdown();
    let elapsed = started.elapsed();
    let cpu = Usage::now().cpu.saturating_sub(cpu_before);
    assert_eq!(
        stats.written,
        each * producers as u64,
        "{}",
        stats.summary()
    );
    (
        stats.written as f64 / elapsed.as_secs_f64(),
        cpu.as_nanos() as f64 / stats.written as f64,
    )
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument (as with criterion) is not supported.
    let total: u64 = std::env::var("TELEMIT_BENCH_READINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400_000);
    let dir = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "producers sharing one sender: {total} readings a run (request timing, 3 tags, 3 fields), \
         best of {ROUNDS}, {cores} cores"
    );
    let only = std::env::var("TELEMIT_BENCH_TRANSPORTS").unwrap_or_default();
    let mut id = 0;
    for transport in [Transport::Unix, Transport::Udp] {
        if !only.is_empty() && !only.contains(transport.key()) {
            continue;
        }
        let mut best = [0f64; PRODUCERS.len()];
        let mut cpu = [f64::INFINITY; PRODUCERS.len()];
        for _ in 0..ROUNDS {
            for (i, &producers) in PRODUCERS.iter().enumerate() {
                id += 1;
                let (rate, ns) = run(transport, producers, total, dir.path(), id);
                best[i] = best[i].max(rate);
                cpu[i] = cpu[i].min(ns);
            }
        }
        println!("\n{}", transport.name());
        println!(
            "{:>10} {:>14} {:>14} {:>10} {:>16}",
            "producers", "readings/s", "per producer", "vs 1", "CPU ns a reading"
        );
        for (i, &producers) in PRODUCERS.iter().enumerate() {
            println!(
                "{producers:>10} {:>14.0} {:>14.0} {:>9.2}x {:>16.0}",
                best[i],
                best[i] / producers as f64,
                best[i] / best[0],
                cpu[i]
            );
        }
    }
}
