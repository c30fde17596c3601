//! `telemit pipe` (the real binary, a file of lines on its standard input) sending over a Unix
//! stream socket to a reader in this process, next to a raw write of the same bytes to the same
//! kind of reader, in one run. Prints lines/s and the ratio to raw for:
//! - lines `telemit pipe` forwards unchanged (canonical line protocol, nothing to add);
//! - the same lines with `--tag`, which makes every line go through parse and encode.
//!
//! Each figure is the time from the first byte written (or the process started) until the
//! reader has every byte, best of 3 interleaved runs. `cargo bench --bench pipe`
//! (TELEMIT_BENCH_LINES sets the count, default 1 000 000).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use telemit::{Encoder, Format};

// The request-timing reading, shared with the tests.
#[allow(dead_code)]
#[path = "../tests/support/samples.rs"]
mod samples;

/// A reader on a fresh socket in `dir`: takes one connection and reports the bytes it read
/// and when it saw the end of the stream.
fn reader(dir: &Path, name: &str) -> (String, mpsc::Receiver<(u64, Instant)>) {
    let path = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind the reader's socket");
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 18];
        let mut total = 0u64;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
        let _ = done.send((total, Instant::now()));
    });
    (path.display().to_string(), result)
}

/// The bytes written straight to the socket in 64 KiB writes: lines/s.
fn raw(formatted: &[u8], lines: u64, dir: &Path) -> f64 {
    let (path, result) = reader(dir, "raw");
    let mut stream = UnixStream::connect(&path).expect("connect");
    let start = Instant::now();
    for chunk in formatted.chunks(1 << 16) {
        stream.write_all(chunk).expect("write");
    }
    drop(stream);
    let (total, end) = result.recv().expect("the reader reports");
    assert_eq!(total, formatted.len() as u64);
    lines as f64 / (end - start).as_secs_f64()
}

/// `telemit pipe --to unix://…` with `input` on its standard input: lines/s, and the bytes
/// the reader got.
fn pipe(input: &Path, extra: &[&str], lines: u64, dir: &Path) -> (f64, u64) {
    let (path, result) = reader(dir, "pipe");
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--quiet", "--to", &format!("unix://{path}")])
        .args(extra)
        .stdin(File::open(input).expect("open the input"))
        .stdout(Stdio::null())
        .status()
        .expect("telemit runs");
    assert!(status.success(), "telemit pipe failed: {status}");
    let (total, end) = result
        .recv_timeout(Duration::from_secs(60))
        .expect("the reader reports");
    (lines as f64 / (end - start).as_secs_f64(), total)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let lines: u64 = std::env::var("TELEMIT_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let encoder = Encoder::new(Format::Influx);
    let mut formatted = Vec::new();
    for seq in 0..lines {
        encoder
            .encode(&samples::request_timing(seq), &mut formatted)
            .expect("encodes");
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("lines.txt");
    std::fs::write(&input, &formatted).expect("write the input file");
    println!(
        "{lines} lines of {} bytes (3 tags, 3 fields, timestamp) over a Unix stream socket, {} cores",
        formatted.len() as u64 / lines,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    const RUNS: usize = 3;
    let mut best = [0f64; 3];
    for _ in 0..RUNS {
        let raw = raw(&formatted, lines, dir.path());
        let (forwarded, bytes) = pipe(&input, &[], lines, dir.path());
        assert_eq!(bytes, formatted.len() as u64, "forwarded byte for byte");
        let (parsed, _) = pipe(&input, &["--tag", "bench=1"], lines, dir.path());
        for (best, rate) in best.iter_mut().zip([raw, forwarded, parsed]) {
            *best = best.max(rate);
        }
    }
    let [raw, forwarded, parsed] = best;
    println!("{:<44} {:>14} {:>8}", "", "lines/s", "of raw");
    for (name, rate) in [
        ("raw write", raw),
        ("telemit pipe (forwarded unchanged)", forwarded),
        ("telemit pipe --tag (parsed and encoded)", parsed),
    ] {
        println!("{name:<44} {rate:>14.0} {:>7.2}×", rate / raw);
    }
}
