//! Encoding one 2-tag, 3-field reading with a timestamp: telemit's encoders next to the
//! `influxdb-line-protocol` builder, in the same run. Prints ns/line and the ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use influxdb_line_protocol::LineProtocolBuilder;
use telemit::{Encoder, Format, Precision, Reading, Timestamp};

fn sample() -> Reading {
    Reading::builder("http_requests")
        .tag("host", "web-01.example.com")
        .tag("route", "/api/v1/orders")
        .field("latency_ms", 12.375)
        .field("status", 200i64)
        .field("bytes", 5123i64)
        .timestamp(Timestamp::new(
            1_700_000_000_123_456_789,
            Precision::Nanoseconds,
        ))
        .build()
        .expect("valid sample")
}

fn builder_line(buf: Vec<u8>) -> Vec<u8> {
    LineProtocolBuilder::new_with(buf)
        .measurement("http_requests")
        .tag("host", "web-01.example.com")
        .tag("route", "/api/v1/orders")
        .field("latency_ms", 12.375)
        .field("status", 200i64)
        .field("bytes", 5123i64)
        .timestamp(1_700_000_000_123_456_789)
        .close_line()
        .build()
}

fn encode(c: &mut Criterion) {
    let reading = sample();
    let mut group = c.benchmark_group("encode one 2-tag 3-field line");
    for format in Format::ALL {
        let encoder = Encoder::new(format);
        let mut buf = Vec::with_capacity(256);
        group.bench_function(format!("telemit {format}"), |b| {
            b.iter(|| {
                buf.clear();
                encoder.encode(black_box(&reading), &mut buf).unwrap();
                black_box(buf.len())
            })
        });
    }
    group.bench_function("influxdb-line-protocol builder", |b| {
        let mut buf = Vec::with_capacity(256);
        b.iter(|| {
            buf.clear();
            buf = builder_line(std::mem::take(&mut buf));
            black_box(buf.len())
        })
    });
    group.finish();
}

/// A plain side-by-side timing in one run, printed as ns/line and as a ratio, so the figures
/// for the README come from one place.
fn ratio_report() {
    const LINES: u32 = 2_000_000;
    let reading = sample();
    let encoder = Encoder::new(Format::Influx);
    let mut buf = Vec::with_capacity(256);
    let time = |f: &mut dyn FnMut()| {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..LINES {
                f();
            }
            best = best.min(start.elapsed());
        }
        best.as_nanos() as f64 / f64::from(LINES)
    };
    let ours = time(&mut || {
        buf.clear();
        encoder.encode(black_box(&reading), &mut buf).unwrap();
        black_box(buf.len());
    });
    let mut other = Vec::with_capacity(256);
    let theirs = time(&mut || {
        other.clear();
        other = builder_line(std::mem::take(&mut other));
        black_box(other.len());
    });
    let mut check = Vec::new();
    encoder.encode(&reading, &mut check).unwrap();
    assert_eq!(
        check,
        builder_line(Vec::new()),
        "both write the same bytes for this reading"
    );
    println!(
        "encode ratio: telemit influx {ours:.1} ns/line, influxdb-line-protocol builder {theirs:.1} ns/line: telemit is {:.1}x faster (same bytes, best of 5 x {LINES} lines)",
        theirs / ours
    );
}

criterion_group!(benches, encode);

fn main() {
    ratio_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
