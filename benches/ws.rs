//! Kline messages per second from one local Rust WebSocket server, in the same run, through:
//! (a) a client that reads and discards (the limit of this path), (b) `telemit::ws` with the
//! Binance kline mapping and the sender to a Unix socket, and (c) the Python client in
//! `benches/ws_client.py` when python3 and its `websockets` package are present.
//!
//! This machine is noisy: each contender runs 3 times, interleaved, and keeps its best.
//!
//! Then the same for Binance's combined stream (trades, 20-level book snapshots, klines)
//! through the market mapping `examples/binance-market.toml`, against
//! `benches/ws_market_client.py` doing the same arithmetic.
//!
//! `cargo bench --bench ws` (TELEMIT_BENCH_MESSAGES sets the count); `cargo bench --bench ws --
//! market` runs the combined stream alone.

use std::io::Read;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use telemit::mapping::Mapping;
use telemit::ws::{WsConfig, WsStats};
use telemit::{Encoder, Endpoint, Format, Sender};
use tokio_tungstenite::tungstenite::Message;

// The replay server and the recorded stream, shared with `tests/ws.rs`.
#[allow(dead_code)]
#[path = "../tests/support/replay.rs"]
mod replay;
#[allow(dead_code)]
#[path = "../tests/support/samples.rs"]
mod samples;

fn discard_unix(path: &std::path::Path) -> std::thread::JoinHandle<u64> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    })
}

/// The cost of each stage in process, without sockets: what a message costs at least, set
/// against the time per message that half the read-and-discard rate allows.
fn stage_costs(mapping_file: &std::path::Path, klines: &[String], limit: f64) {
    use telemit::{Precision, Timestamp};
    const ROUNDS: usize = 300_000;
    let mut mapping = Mapping::from_file(mapping_file).unwrap();
    let encoder = Encoder::new(Format::Influx);
    let arrival = Timestamp::now(Precision::Nanoseconds);
    let mut out = Vec::with_capacity(1 << 20);
    let mut per_message = |encode: bool| {
        let start = Instant::now();
        for i in 0..ROUNDS {
            mapping.apply_each(&klines[i % klines.len()], arrival, |reading| {
                if encode {
                    encoder.encode(reading, &mut out).unwrap();
                } else {
                    std::hint::black_box(reading);
                }
            });
            if out.len() > 1 << 19 {
                out.clear();
            }
        }
        start.elapsed().as_nanos() as f64 / ROUNDS as f64
    };
    // Best of 3, as for the contenders.
    let mapping_only = (0..3).map(|_| per_message(false)).fold(f64::MAX, f64::min);
    let with_encoding = (0..3).map(|_| per_message(true)).fold(f64::MAX, f64::min);
    println!(
        "in process, no sockets: mapping {mapping_only:.0} ns/message, mapping + influx encoding \
         {with_encoding:.0} ns/message; half the read-and-discard rate allows {:.0} ns/message",
        2e9 / limit
    );
}

/// A plain tokio-tungstenite client that reads `count` messages and discards them.
fn read_and_discard(runtime: &tokio::runtime::Runtime, url: &str, count: usize) -> f64 {
    runtime.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let start = Instant::now();
        let mut seen = 0;
        while seen < count {
            match ws.next().await {
                Some(Ok(Message::Text(_))) => seen += 1,
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        seen as f64 / start.elapsed().as_secs_f64()
    })
}

/// `telemit::ws` with the kline mapping, sending to a Unix socket that discards.
fn telemit_ws(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    count: usize,
    mapping_file: &std::path::Path,
    dir: &std::path::Path,
) -> f64 {
    let path = dir.join("telemit.sock");
    let _ = std::fs::remove_file(&path);
    let reader = discard_unix(&path);
    let mut mapping = Mapping::from_file(mapping_file).unwrap();
    let sender = Sender::builder(Endpoint::Unix(path), Encoder::new(Format::Influx))
        .start()
        .unwrap();
    let stats = WsStats::default();
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    runtime
        .block_on(telemit::ws::run(
            &WsConfig::new(url),
            &mut mapping,
            &stats,
            |reading| {
                let _ = sender.send(reading);
                done.fetch_add(1, Ordering::Relaxed);
            },
            |_| {},
            async {
                while done.load(Ordering::Relaxed) < count as u64 {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            },
        ))
        .unwrap();
    let elapsed = start.elapsed();
    let stats = sender.shutdown();
    reader.join().unwrap();
    assert_eq!(stats.written, count as u64, "{}", stats.summary());
    count as f64 / elapsed.as_secs_f64()
}

/// `benches/ws_client.py` over `count` messages, sending to a Unix socket that discards.
fn python(url: &str, count: usize, root: &std::path::Path, dir: &std::path::Path) -> f64 {
    python_script("benches/ws_client.py", url, count, root, dir)
}

/// A Python client script over `count` messages, sending to a Unix socket that discards.
fn python_script(
    script: &str,
    url: &str,
    count: usize,
    root: &std::path::Path,
    dir: &std::path::Path,
) -> f64 {
    let path = dir.join("python.sock");
    let _ = std::fs::remove_file(&path);
    let reader = discard_unix(&path);
    let out = std::process::Command::new(python_interpreter())
        .arg(root.join(script))
        .args([url, path.to_str().unwrap(), &count.to_string()])
        .output()
        .unwrap();
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let handled: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let seconds: f64 = parts
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    handled / seconds
}

/// Whether `python` runs and imports `websockets`.
fn has_websockets(python: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import websockets"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The system's Python (`/usr/bin/python3`, where Debian's `python3-websockets` goes) when it
/// has `websockets`, else the first `python3` on the PATH.
fn python_interpreter() -> String {
    const SYSTEM: &str = "/usr/bin/python3";
    if has_websockets(SYSTEM) {
        SYSTEM.to_owned()
    } else {
        "python3".to_owned()
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench --bench ws -- market` runs the combined stream alone.
    let market_only = std::env::args().skip(1).any(|a| a == "market");
    let count: usize = std::env::var("TELEMIT_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mapping_file = root.join("examples/binance-kline.toml");
    let klines = samples::binance_klines();
    let port = replay::flood_server(klines.clone(), count);
    let url = format!("ws://127.0.0.1:{port}/ws");
    let dir = std::env::temp_dir().join(format!("telemit-wsbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // As `telemit ws` runs it: the reader task on the one worker, the mapping on this thread.
    let ws_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let with_python = has_websockets(&python_interpreter());
    let python_count = (count / 10).max(1000);
    if market_only {
        market(root, count / 3, with_python, (&runtime, &ws_runtime), &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    const RUNS: usize = 3;
    let mut best = [0f64; 3];
    for _ in 0..RUNS {
        let rates = [
            read_and_discard(&runtime, &url, count),
            telemit_ws(&ws_runtime, &url, count, &mapping_file, &dir),
            if with_python {
                python(&url, python_count, root, &dir)
            } else {
                0.0
            },
        ];
        for (best, rate) in best.iter_mut().zip(rates) {
            *best = best.max(rate);
        }
    }
    let [limit, telemit_rate, python_rate] = best;

    println!(
        "{count} kline messages of ~{} bytes from a local server, best of {RUNS}",
        klines[0].len()
    );
    print_rates(
        limit,
        ("telemit ws: mapping + sender, unix", telemit_rate),
        with_python.then_some((python_count, python_rate)),
    );
    stage_costs(&mapping_file, &klines, limit);
    market(root, count / 3, with_python, (&runtime, &ws_runtime), &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The combined stream through the market mapping: messages per second next to read-and-
/// discard and the Python client, and the series the mapping holds at the end. `runtimes`:
/// a current-thread one for read-and-discard, and the layout of `telemit ws` for telemit.
fn market(
    root: &std::path::Path,
    count: usize,
    with_python: bool,
    (runtime, ws_runtime): (&tokio::runtime::Runtime, &tokio::runtime::Runtime),
    dir: &std::path::Path,
) {
    let fixture =
        std::fs::read_to_string(root.join("../shared/fixtures/binance-bnbusdt-combined.jsonl"))
            .expect("the combined Binance fixture in ../shared/fixtures");
    let messages: Vec<String> = fixture
        .lines()
        .filter(|l| l.contains("\"stream\""))
        .map(str::to_owned)
        .collect();
    let port = market_server(Arc::new(messages), count);
    let url = format!("ws://127.0.0.1:{port}/stream");
    let mapping_file = root.join("examples/binance-market.toml");
    let python_count = (count / 10).max(1000);
    const RUNS: usize = 3;
    let mut best = [0f64; 3];
    let mut series = 0;
    for _ in 0..RUNS {
        let (rate, held) = telemit_market(ws_runtime, &url, count, &mapping_file, dir);
        series = held;
        let rates = [
            read_and_discard(runtime, &url, count),
            rate,
            if with_python {
                python_script("benches/ws_market_client.py", &url, python_count, root, dir)
            } else {
                0.0
            },
        ];
        for (best, rate) in best.iter_mut().zip(rates) {
            *best = best.max(rate);
        }
    }
    let [limit, telemit_rate, python_rate] = best;
    println!();
    println!(
        "{count} combined-stream messages (trades, depth20 snapshots, klines), best of {RUNS}"
    );
    print_rates(
        limit,
        ("telemit ws: market mapping + sender, unix", telemit_rate),
        with_python.then_some((python_count, python_rate)),
    );
    println!("series held by the mapping at the end: {series}");
    market_stage_costs(&mapping_file, &messages_for_costs(root));
}

/// Five rounds of the recording, times moved on each round.
fn messages_for_costs(root: &std::path::Path) -> Vec<String> {
    let fixture =
        std::fs::read_to_string(root.join("../shared/fixtures/binance-bnbusdt-combined.jsonl"))
            .unwrap();
    let one: Vec<&str> = fixture
        .lines()
        .filter(|l| l.contains("\"stream\""))
        .collect();
    (0..5)
        .flat_map(|round| one.iter().map(move |m| shifted(m, round * 3_600_000)))
        .collect()
}

/// In process, without sockets: what a combined-stream message costs to map, and to map and
/// encode, on average over the mix of the recording.
fn market_stage_costs(mapping_file: &std::path::Path, messages: &[String]) {
    use telemit::{Precision, Timestamp};
    let encoder = Encoder::new(Format::Influx);
    let arrival = Timestamp::now(Precision::Nanoseconds);
    let mut out = Vec::with_capacity(1 << 20);
    let mut per_message = |encode: bool| {
        let mut mapping = Mapping::from_file(mapping_file).unwrap();
        let mut readings = 0usize;
        let start = Instant::now();
        for message in messages {
            let outcome = mapping.apply_each(message, arrival, |reading| {
                if encode {
                    encoder.encode(reading, &mut out).unwrap();
                } else {
                    std::hint::black_box(reading);
                }
            });
            assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
            readings += outcome.readings;
            if out.len() > 1 << 19 {
                out.clear();
            }
        }
        let nanos = start.elapsed().as_nanos() as f64;
        (nanos / messages.len() as f64, nanos / readings as f64)
    };
    let (mapping_only, per_reading) = per_message(false);
    let (with_encoding, per_reading_encoded) = per_message(true);
    println!(
        "in process, no sockets: mapping {mapping_only:.0} ns/message ({per_reading:.0} ns/reading), \
         mapping + influx encoding {with_encoding:.0} ns/message ({per_reading_encoded:.0} ns/reading)"
    );
}

/// Serves `count` messages of the combined stream, the recording over and over with its
/// event and trade times moved on by the recording's span each round, so windows keep closing.
fn market_server(messages: Arc<Vec<String>>, count: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let messages = messages.clone();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let templates: Vec<Shiftable> =
                        messages.iter().map(|m| Shiftable::new(m)).collect();
                    let mut text = String::new();
                    for i in 0..count {
                        let cycle = i / messages.len();
                        templates[i % messages.len()].render(cycle as i64 * 3_600_000, &mut text);
                        if ws.feed(Message::Text(text.as_str().into())).await.is_err() {
                            return;
                        }
                    }
                    let _ = ws.flush().await;
                    while let Some(Ok(_)) = ws.next().await {}
                });
            }
        });
    });
    port
}

/// `message` with every integer after `"E":`, `"T":` and `"t":` increased by `shift`.
fn shifted(message: &str, shift: i64) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    Shiftable::new(message).render(shift, &mut out);
    out
}

/// A message cut once at its times, so that the server renders each round's copy with a
/// copy and an `itoa` per time instead of searching the text again: the server shares the
/// machine's cores with the client it measures.
struct Shiftable {
    /// Text, then the time that follows it (`None` after the last piece).
    pieces: Vec<(String, Option<i64>)>,
}

impl Shiftable {
    fn new(message: &str) -> Shiftable {
        let mut pieces = Vec::new();
        let mut rest = message;
        while let Some(at) = ["\"E\":", "\"T\":", "\"t\":"]
            .iter()
            .filter_map(|key| rest.find(key).map(|i| i + key.len()))
            .min()
        {
            let digits = rest[at..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len(), |end| at + end);
            match rest[at..digits].parse::<i64>() {
                Ok(value) => pieces.push((rest[..at].to_owned(), Some(value))),
                Err(_) => pieces.push((rest[..digits].to_owned(), None)),
            }
            rest = &rest[digits..];
        }
        pieces.push((rest.to_owned(), None));
        Shiftable { pieces }
    }

    fn render(&self, shift: i64, out: &mut String) {
        out.clear();
        let mut digits = itoa::Buffer::new();
        for (text, time) in &self.pieces {
            out.push_str(text);
            if let Some(time) = time {
                out.push_str(digits.format(time + shift));
            }
        }
    }
}

/// `telemit::ws` with the market mapping over `count` messages, sending to a Unix socket
/// that discards; messages per second and the series held at the end.
fn telemit_market(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    count: usize,
    mapping_file: &std::path::Path,
    dir: &std::path::Path,
) -> (f64, usize) {
    let path = dir.join("market.sock");
    let _ = std::fs::remove_file(&path);
    let reader = discard_unix(&path);
    let mut mapping = Mapping::from_file(mapping_file).unwrap();
    let sender = Sender::builder(Endpoint::Unix(path), Encoder::new(Format::Influx))
        .start()
        .unwrap();
    let stats = WsStats::default();
    let readings = AtomicU64::new(0);
    let start = Instant::now();
    runtime
        .block_on(telemit::ws::run(
            &WsConfig::new(url),
            &mut mapping,
            &stats,
            |reading| {
                let _ = sender.send(reading);
                readings.fetch_add(1, Ordering::Relaxed);
            },
            |_| {},
            async {
                while stats.snapshot().messages < count as u64 {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            },
        ))
        .unwrap();
    let elapsed = start.elapsed();
    let sent = sender.shutdown();
    reader.join().unwrap();
    assert_eq!(
        sent.written,
        readings.load(Ordering::Relaxed),
        "{}",
        sent.summary()
    );
    assert_eq!(
        stats.snapshot().mapping_errors,
        0,
        "the market mapping failed on a message"
    );
    (
        stats.snapshot().messages as f64 / elapsed.as_secs_f64(),
        mapping.series(),
    )
}

/// One table of a run: read-and-discard (the limit), telemit, and the Python client when it ran
/// (its message count and rate), each as messages/s and as a share of the limit.
fn print_rates(limit: f64, telemit: (&str, f64), python: Option<(usize, f64)>) {
    println!("{:<44} {:>12} {:>10}", "client", "messages/s", "of limit");
    let row = |name: &str, rate: f64| {
        println!("{name:<44} {rate:>12.0} {:>9.1}%", 100.0 * rate / limit);
    };
    row("read and discard (tokio-tungstenite)", limit);
    row(telemit.0, telemit.1);
    match python {
        Some((count, rate)) => {
            row(&format!("python websockets + json ({count} msgs)"), rate);
            println!("telemit ws is {:.1}x the Python client", telemit.1 / rate);
        }
        None => {
            println!("(python3 with the websockets package not found: Python client skipped)")
        }
    }
}
