//! Encoding one 2-tag, 3-field reading with a timestamp: telemit's encoders next to the
//! `influxdb-line-protocol` builder, in the same run. Prints ns/line and the ratio.

use std::hint::black_box;
use std::time::Instant;

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

/// A plain side-by-side timing in one run, printed as ns/line and as ratios, so the figures
/// for the README come from one place. Each contender is timed in turns (best of 150 × 20 000
/// lines), so that a busy machine slows them alike.
fn ratio_report() {
    // Short turns, many of them: on a busy machine the best turn is one nobody interrupted.
    const LINES: u32 = 20_000;
    const TURNS: usize = 150;
    let reading = sample();
    let encoders = Format::ALL.map(Encoder::new);
    let mut bufs = [(); 4].map(|()| Vec::with_capacity(256));
    let mut best = [f64::MAX; 4];
    for _ in 0..TURNS {
        for (i, best) in best.iter_mut().enumerate() {
            let buf = &mut bufs[i];
            let start = Instant::now();
            for _ in 0..LINES {
                buf.clear();
                match encoders.get(i) {
                    Some(encoder) => encoder.encode(black_box(&reading), buf).unwrap(),
                    None => *buf = builder_line(std::mem::take(buf)),
                }
                black_box(buf.len());
            }
            *best = best.min(start.elapsed().as_nanos() as f64 / f64::from(LINES));
        }
    }
    let mut check = Vec::new();
    encoders[0].encode(&reading, &mut check).unwrap();
    assert_eq!(
        check,
        builder_line(Vec::new()),
        "both write the same bytes for this reading"
    );
    let [influx, json, wavefront, builder] = best;
    println!(
        "encode ratio: telemit influx {influx:.1} ns/line, json {json:.1} ns ({:.2}x influx), wavefront {wavefront:.1} ns ({:.2}x influx; 3 lines); influxdb-line-protocol builder {builder:.1} ns/line: telemit is {:.1}x faster (same bytes, best of {TURNS} x {LINES} lines)",
        json / influx,
        wavefront / influx,
        builder / influx
    );
}

criterion_group!(benches, encode);

fn main() {
    ratio_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
