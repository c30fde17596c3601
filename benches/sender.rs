//! End to end through the sender, in the same run as the raw socket write of the same bytes:
//! the physical limit. Prints readings/s and the ratio for Unix stream, TCP and UDP.
//!
//! `cargo bench --bench sender` (set TELEMIT_BENCH_READINGS to change the count).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use telemit::batch::{DatagramPacker, Framing};
use telemit::{Encoder, Endpoint, Format, Reading, Sender};

fn reading(seq: u64) -> Reading {
    Reading::builder("http_requests")
        .tag("host", "web-01.example.com")
        .tag("route", "/api/v1/orders")
        .field("latency_ms", (seq % 1000) as f64 / 8.0)
        .field("status", 200i64)
        .field("seq", seq)
        .build()
        .expect("valid reading")
}

/// Reads and discards everything from every connection until EOF; returns the bytes read.
fn discard_stream(mut read: impl Read + Send + 'static) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match read.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => total += n as u64,
            }
        }
    })
}

fn discard_datagrams(socket: UdpSocket, expected_bytes: u64) -> JoinHandle<u64> {
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while total < expected_bytes {
            match socket.recv(&mut buf) {
                Ok(n) => total += n as u64,
                Err(_) => break,
            }
        }
        total
    })
}

fn rate(readings: u64, elapsed: Duration) -> f64 {
    readings as f64 / elapsed.as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let count: u64 = std::env::var("TELEMIT_BENCH_READINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let readings: Vec<Reading> = (0..count).map(reading).collect();
    let encoder = Encoder::new(Format::Influx);
    let mut formatted = Vec::new();
    for r in &readings {
        encoder.encode(r, &mut formatted).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("telemit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "{count} readings of {} bytes on average, influx format, {} cores",
        formatted.len() as u64 / count,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<40} {:>14} {:>10}", "path", "readings/s", "of raw");

    // Unix stream: raw writes of 64 KiB chunks, then the sender.
    let raw_unix = {
        let path = dir.join("raw.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let mut stream = UnixStream::connect(&path).unwrap();
        let reader = discard_stream(listener.accept().unwrap().0);
        let start = Instant::now();
        for chunk in formatted.chunks(1 << 16) {
            stream.write_all(chunk).unwrap();
        }
        drop(stream);
        assert_eq!(reader.join().unwrap(), formatted.len() as u64);
        rate(count, start.elapsed())
    };
    println!(
        "{:<40} {:>14.0} {:>9.0}%",
        "raw write, unix stream", raw_unix, 100.0
    );

    let telemit_unix = {
        let path = dir.join("telemit.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let acceptor = std::thread::spawn(move || {
            discard_stream(listener.accept().unwrap().0).join().unwrap()
        });
        let sender = Sender::builder(Endpoint::Unix(path), encoder.clone())
            .start()
            .unwrap();
        let start = Instant::now();
        for r in &readings {
            sender.send(r).unwrap();
        }
        let stats = sender.shutdown();
        let elapsed = start.elapsed();
        assert_eq!(
            acceptor.join().unwrap(),
            formatted.len() as u64,
            "{}",
            stats.summary()
        );
        rate(count, elapsed)
    };
    println!(
        "{:<40} {:>14.0} {:>9.0}%",
        "telemit sender, unix stream",
        telemit_unix,
        100.0 * telemit_unix / raw_unix
    );

    let raw_tcp = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let reader = discard_stream(listener.accept().unwrap().0);
        let start = Instant::now();
        for chunk in formatted.chunks(1 << 16) {
            stream.write_all(chunk).unwrap();
        }
        drop(stream);
        reader.join().unwrap();
        rate(count, start.elapsed())
    };
    println!("{:<40} {:>14.0} {:>9.0}%", "raw write, tcp", raw_tcp, 100.0);

    let telemit_tcp = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint: Endpoint = format!("tcp://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let acceptor = std::thread::spawn(move || {
            discard_stream(listener.accept().unwrap().0).join().unwrap()
        });
        let sender = Sender::builder(endpoint, encoder.clone()).start().unwrap();
        let start = Instant::now();
        for r in &readings {
            sender.send(r).unwrap();
        }
        sender.shutdown();
        let elapsed = start.elapsed();
        acceptor.join().unwrap();
        rate(count, elapsed)
    };
    println!(
        "{:<40} {:>14.0} {:>9.0}%",
        "telemit sender, tcp",
        telemit_tcp,
        100.0 * telemit_tcp / raw_tcp
    );

    // UDP: the same lines packed into datagrams of the default size, sent raw, then the sender.
    let max = telemit::sender::DEFAULT_UDP_DATAGRAM;
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut packer = DatagramPacker::new(max, Framing::Lines);
    for line in formatted.split_inclusive(|&b| b == b'\n') {
        packer.push(line, |p, _| payloads.push(p.to_vec())).unwrap();
    }
    packer.finish(|p, _| payloads.push(p.to_vec()));
    let raw_udp = {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(receiver.local_addr().unwrap()).unwrap();
        let reader = discard_datagrams(receiver, formatted.len() as u64);
        let start = Instant::now();
        for payload in &payloads {
            socket.send(payload).unwrap();
        }
        let elapsed = start.elapsed();
        reader.join().unwrap();
        rate(count, elapsed)
    };
    println!(
        "{:<40} {:>14.0} {:>9.0}%",
        "raw send, udp, packed datagrams", raw_udp, 100.0
    );

    let telemit_udp = {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let endpoint: Endpoint = format!("udp://{}", receiver.local_addr().unwrap())
            .parse()
            .unwrap();
        let reader = discard_datagrams(receiver, formatted.len() as u64);
        let sender = Sender::builder(endpoint, encoder.clone()).start().unwrap();
        let start = Instant::now();
        for r in &readings {
            sender.send(r).unwrap();
        }
        let stats = sender.shutdown();
        let elapsed = start.elapsed();
        reader.join().unwrap();
        println!("  (telemit udp: {})", stats.summary());
        rate(count, elapsed)
    };
    println!(
        "{:<40} {:>14.0} {:>9.0}%",
        "telemit sender, udp",
        telemit_udp,
        100.0 * telemit_udp / raw_udp
    );
    let _ = std::fs::remove_dir_all(&dir);
}
