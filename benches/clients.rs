//! The same readings through every client, side by side, in one run: the raw socket write of
//! pre-formatted bytes (the physical limit), telemit's sender, the `telegraf` crate, and a
//! Python script in the style people write (`benches/python_client.py`, when python3 is
//! present). Prints readings/s and the ratio to raw for Unix stream, TCP and UDP.
//!
//! `cargo bench --bench clients` (TELEMIT_BENCH_READINGS sets the count, default 1 000 000;
//! the Python script sends a fifth of it). Each figure is the best of 3 interleaved runs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use telemit::batch::{DatagramPacker, Framing};
use telemit::{Encoder, Endpoint, Format, Reading, Sender};

// The request-timing reading, shared with the tests.
#[allow(dead_code)]
#[path = "../tests/support/samples.rs"]
mod samples;

use samples::{REQUEST_TIMING_BASE_NS, request_timing};

const PYTHON_REOPEN: u64 = 1000;

/// [`request_timing`] as the `telegraf` crate builds it, one `Point` per reading.
fn point(seq: u64) -> telegraf::Point {
    telegraf::Point::new(
        "http_requests".to_owned(),
        vec![
            ("host".to_owned(), "web-01.example.com".to_owned()),
            ("region".to_owned(), "eu-west-1".to_owned()),
            ("route".to_owned(), "/api/v1/orders".to_owned()),
        ],
        vec![
            ("latency_ms".to_owned(), Box::new((seq % 1000) as f64 / 8.0)),
            ("status".to_owned(), Box::new(200i64)),
            ("seq".to_owned(), Box::new(seq)),
        ],
        Some((REQUEST_TIMING_BASE_NS + seq as i64) as u64),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Unix,
    Tcp,
    Udp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Unix => "unix",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A receiver that reads and discards everything, on every connection, until dropped.
struct Discard {
    address: String,
    stop: Arc<AtomicBool>,
}

impl Discard {
    fn start(transport: Transport, dir: &Path, name: &str) -> Discard {
        let stop = Arc::new(AtomicBool::new(false));
        let address = match transport {
            Transport::Unix => {
                static SOCKETS: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = SOCKETS.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{name}-{n}.sock"));
                let listener = UnixListener::bind(&path).unwrap();
                accept_and_drain(move || listener.accept().map(|(s, _)| s), stop.clone());
                path.display().to_string()
            }
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let address = listener.local_addr().unwrap().to_string();
                accept_and_drain(move || listener.accept().map(|(s, _)| s), stop.clone());
                address
            }
            Transport::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let address = socket.local_addr().unwrap().to_string();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while !stop.load(Ordering::Relaxed) {
                        let _ = socket.recv(&mut buf);
                    }
                });
                address
            }
        };
        Discard { address, stop }
    }

    fn endpoint(&self, transport: Transport) -> String {
        match transport {
            Transport::Unix => format!("unix://{}", self.address),
            other => format!("{}://{}", other.name(), self.address),
        }
    }
}

impl Drop for Discard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        if Path::new(&self.address).is_absolute() {
            let _ = UnixStream::connect(&self.address);
        } else {
            let _ = TcpStream::connect(&self.address);
        }
    }
}

/// Accepts connections until `stop`, each drained on a thread of its own.
fn accept_and_drain<S: Read + Send + 'static>(
    mut accept: impl FnMut() -> std::io::Result<S> + Send + 'static,
    stop: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        while let Ok(stream) = accept() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::spawn(move || drain(stream));
        }
    });
}

fn drain(mut stream: impl Read) {
    let mut buf = vec![0u8; 1 << 16];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

fn per_second(readings: u64, elapsed: Duration) -> f64 {
    readings as f64 / elapsed.as_secs_f64()
}

/// Pre-formatted bytes written straight to the socket: 64 KiB writes on streams, packed
/// datagrams of telemit's default size on UDP.
fn raw(transport: Transport, formatted: &[u8], count: u64, dir: &Path) -> f64 {
    let receiver = Discard::start(transport, dir, "raw");
    let start;
    match transport {
        Transport::Unix | Transport::Tcp => {
            let mut stream: Box<dyn Write> = match transport {
                Transport::Unix => Box::new(UnixStream::connect(&receiver.address).unwrap()),
                _ => Box::new(TcpStream::connect(&receiver.address).unwrap()),
            };
            start = Instant::now();
            for chunk in formatted.chunks(1 << 16) {
                stream.write_all(chunk).unwrap();
            }
        }
        Transport::Udp => {
            let mut payloads: Vec<Vec<u8>> = Vec::new();
            let mut packer =
                DatagramPacker::new(telemit::sender::DEFAULT_UDP_DATAGRAM, Framing::Lines);
            for line in formatted.split_inclusive(|&b| b == b'\n') {
                packer.push(line, |p, _| payloads.push(p.to_vec())).unwrap();
            }
            packer.finish(|p, _| payloads.push(p.to_vec()));
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.connect(&receiver.address).unwrap();
            start = Instant::now();
            for payload in &payloads {
                socket.send(payload).unwrap();
            }
        }
    }
    per_second(count, start.elapsed())
}

/// telemit's sender with its defaults: send every reading, then shut down (all written).
fn telemit(transport: Transport, readings: &[Reading], dir: &Path) -> f64 {
    let receiver = Discard::start(transport, dir, "telemit");
    let endpoint: Endpoint = receiver.endpoint(transport).parse().unwrap();
    let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
        .start()
        .unwrap();
    let start = Instant::now();
    for reading in readings {
        sender.send(reading).unwrap();
    }
    let stats = sender.shutdown();
    let elapsed = start.elapsed();
    assert_eq!(stats.written, readings.len() as u64, "{}", stats.summary());
    per_second(readings.len() as u64, elapsed)
}

/// The `telegraf` crate as its README shows it: build a `Point`, `write_point` it.
fn telegraf_crate(transport: Transport, count: u64, dir: &Path) -> f64 {
    let receiver = Discard::start(transport, dir, "telegraf");
    let mut client = telegraf::Client::new(&receiver.endpoint(transport)).unwrap();
    let start = Instant::now();
    for seq in 0..count {
        // A full UDP receive buffer is not this client's failure; it does not retry either.
        let _ = client.write_point(&point(seq));
    }
    per_second(count, start.elapsed())
}

fn python_present() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn python(transport: Transport, count: u64, dir: &Path) -> f64 {
    let receiver = Discard::start(transport, dir, "python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/python_client.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([
            transport.name(),
            &receiver.address,
            &count.to_string(),
            &PYTHON_REOPEN.to_string(),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let count: u64 = std::env::var("TELEMIT_BENCH_READINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let python_count = (count / 5).max(1000);
    let readings: Vec<Reading> = (0..count).map(request_timing).collect();
    let encoder = Encoder::new(Format::Influx);
    let mut formatted = Vec::new();
    for r in &readings {
        encoder.encode(r, &mut formatted).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("telemit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with_python = python_present();
    println!(
        "{count} readings of {} bytes (3 tags, 3 fields, timestamp), influx format, {} cores; \
         python sends {}",
        formatted.len() as u64 / count,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if with_python {
            format!("{python_count}, reopening every {PYTHON_REOPEN}")
        } else {
            "nothing (no python3)".to_owned()
        }
    );
    println!(
        "{:<10} {:<26} {:>14} {:>9} {:>12}",
        "transport", "client", "readings/s", "of raw", "telemit is"
    );
    // This machine is noisy: each contender runs RUNS times, interleaved, and keeps its best.
    const RUNS: usize = 3;
    for transport in [Transport::Unix, Transport::Tcp, Transport::Udp] {
        let mut best = [0f64; 4];
        for _ in 0..RUNS {
            let rates = [
                raw(transport, &formatted, count, &dir),
                telemit(transport, &readings, &dir),
                telegraf_crate(transport, count, &dir),
                if with_python {
                    python(transport, python_count, &dir)
                } else {
                    0.0
                },
            ];
            for (best, rate) in best.iter_mut().zip(rates) {
                *best = best.max(rate);
            }
        }
        let [raw, ours, telegraf, python] = best;
        let mut rows = vec![
            ("raw write".to_owned(), raw),
            ("telemit sender".to_owned(), ours),
            ("telegraf crate".to_owned(), telegraf),
        ];
        if with_python {
            rows.push(("python f-string + send".to_owned(), python));
        }
        for (client, rate) in rows {
            println!(
                "{:<10} {:<26} {:>14.0} {:>8.1}% {:>11.1}×",
                transport.name(),
                client,
                rate,
                100.0 * rate / raw,
                ours / rate
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
