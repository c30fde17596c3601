//! The metrics recorder against the usual exporters, in one run: ns per counter increment and
//! per histogram record on one thread and on every core (each thread its own series), for
//! telemit's recorder, metrics-exporter-prometheus, metrics-exporter-dogstatsd, and cadence
//! with a UDP sink (the StatsD habit: a datagram per call, or buffered). Then the cost of one
//! flush of 10 000 series and the memory each series holds.
//!
//! `cargo bench --bench recorder` (a few seconds; `-- --quick` for a tenth of the work).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cadence::prelude::*;
use cadence::{BufferedUdpMetricSink, StatsdClient, UdpMetricSink};
use telemit::recorder::{DEFAULT_MEASUREMENT, RecorderBuilder, readings};
use telemit::{Encoder, Format, Precision, Timestamp};

/// Net bytes allocated, for the memory per series.
struct Counting;

static NET_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        NET_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NET_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        NET_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The best of three [`run_once`]s: the host is shared, and the first run also warms caches and
/// clock frequency.
fn run(threads: usize, per_thread: u64, op: Arc<dyn Fn(usize, u64) + Send + Sync>) -> (f64, f64) {
    (0..3)
        .map(|_| run_once(threads, per_thread, op.clone()))
        .fold(
            (f64::MAX, 0.0),
            |best, r| if r.0 < best.0 { r } else { best },
        )
}

/// Runs `op(thread, i)` `per_thread` times on each of `threads` threads at once; ns per call
/// (wall time × threads / calls) and calls per second in total.
fn run_once(
    threads: usize,
    per_thread: u64,
    op: Arc<dyn Fn(usize, u64) + Send + Sync>,
) -> (f64, f64) {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (barrier, op) = (barrier.clone(), op.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for i in 0..per_thread {
                    op(t, i);
                }
                (start, Instant::now())
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // Wall time from the first thread's start to the last thread's end.
    let start = spans.iter().map(|s| s.0).min().unwrap();
    let end = spans.iter().map(|s| s.1).max().unwrap();
    let elapsed = end - start;
    let calls = (threads as u64 * per_thread) as f64;
    (
        elapsed.as_nanos() as f64 * threads as f64 / calls,
        calls / elapsed.as_secs_f64(),
    )
}

/// Per-thread counter and histogram handles from a `metrics` recorder.
fn handles<R: metrics::Recorder>(
    recorder: &R,
    threads: usize,
) -> (Vec<metrics::Counter>, Vec<metrics::Histogram>) {
    metrics::with_local_recorder(recorder, || {
        (0..threads)
            .map(|t| {
                (
                    metrics::counter!("requests_total", "thread" => t.to_string()),
                    metrics::histogram!("request_seconds", "thread" => t.to_string()),
                )
            })
            .unzip()
    })
}

struct Row {
    name: &'static str,
    counter: [(f64, f64); 2],
    histogram: [(f64, f64); 2],
}

fn measure_facade<R: metrics::Recorder>(
    name: &'static str,
    recorder: &R,
    cores: usize,
    n: u64,
) -> Row {
    let (counters, histograms) = handles(recorder, cores);
    let counters = Arc::new(counters);
    let histograms = Arc::new(histograms);
    let c = counters.clone();
    let count: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(move |t, _| c[t].increment(1));
    let h = histograms.clone();
    let record: Arc<dyn Fn(usize, u64) + Send + Sync> =
        Arc::new(move |t, i| h[t].record((i & 1023) as f64 * 0.001));
    Row {
        name,
        counter: [run(1, n, count.clone()), run(cores, n, count)],
        histogram: [run(1, n / 4, record.clone()), run(cores, n / 4, record)],
    }
}

fn measure_cadence(name: &'static str, client: StatsdClient, cores: usize, n: u64) -> Row {
    let client = Arc::new(client);
    let c = client.clone();
    let count: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(move |_, _| {
        let _ = black_box(c.count("requests_total", 1));
    });
    let h = client.clone();
    let record: Arc<dyn Fn(usize, u64) + Send + Sync> = Arc::new(move |_, i| {
        let _ = black_box(h.histogram("request_seconds", i & 1023));
    });
    Row {
        name,
        counter: [run(1, n, count.clone()), run(cores, n, count)],
        histogram: [run(1, n / 4, record.clone()), run(cores, n / 4, record)],
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 200_000 } else { 2_000_000 };
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get());

    // A UDP sink that reads nothing: datagrams to it are sent, then dropped by the kernel.
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let sink_addr = sink.local_addr()?;

    let mut rows = Vec::new();
    let (telemit_recorder, telemit_handle) = RecorderBuilder::new().build()?;
    rows.push(measure_facade(
        "telemit recorder",
        &telemit_recorder,
        cores,
        n,
    ));
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    rows.push(measure_facade(
        "metrics-exporter-prometheus",
        &prometheus,
        cores,
        n,
    ));
    let dogstatsd = metrics_exporter_dogstatsd::DogStatsDBuilder::default()
        .with_remote_address(sink_addr.to_string())?
        .build()?;
    rows.push(measure_facade(
        "metrics-exporter-dogstatsd",
        &dogstatsd,
        cores,
        n,
    ));
    let udp = UdpMetricSink::from(sink_addr, UdpSocket::bind("127.0.0.1:0")?)?;
    rows.push(measure_cadence(
        "cadence, UDP per call",
        StatsdClient::from_sink("b", udp),
        cores,
        n / 10,
    ));
    let buffered = BufferedUdpMetricSink::from(sink_addr, UdpSocket::bind("127.0.0.1:0")?)?;
    rows.push(measure_cadence(
        "cadence, buffered UDP",
        StatsdClient::from_sink("b", buffered),
        cores,
        n / 4,
    ));

    let base = &rows[0];
    println!(
        "{cores} cores; ns per call (1 thread / {cores} threads, wall time × threads ÷ calls), and ratio to telemit on 1 thread"
    );
    println!(
        "{:<30} {:>22} {:>22}",
        "", "counter increment", "histogram record"
    );
    for row in &rows {
        println!(
            "{:<30} {:>7.1} / {:>6.1} ({:>5.1}×) {:>7.1} / {:>6.1} ({:>5.1}×)",
            row.name,
            row.counter[0].0,
            row.counter[1].0,
            row.counter[0].0 / base.counter[0].0,
            row.histogram[0].0,
            row.histogram[1].0,
            row.histogram[0].0 / base.histogram[0].0,
        );
    }
    println!(
        "telemit aggregate throughput: counters {:.0} M/s on 1 thread, {:.0} M/s on {cores}",
        base.counter[0].1 / 1e6,
        base.counter[1].1 / 1e6
    );
    drop(telemit_handle);

    // One flush of 10 000 series (counters with one label), and the memory they hold.
    let before = NET_BYTES.load(Ordering::Relaxed);
    let (recorder, handle) = RecorderBuilder::new().build()?;
    metrics::with_local_recorder(&recorder, || {
        for i in 0..10_000 {
            metrics::counter!("requests_total", "route" => format!("/api/{i}")).increment(1);
        }
    });
    // The first snapshot sizes the registry's own tables; measure after it.
    let _ = handle.snapshot();
    let per_series = (NET_BYTES.load(Ordering::Relaxed) - before) / 10_000;
    let encoder = Encoder::new(Format::Influx);
    let mut best = Duration::MAX;
    let mut bytes = Vec::with_capacity(1 << 20);
    for _ in 0..5 {
        let start = Instant::now();
        let (readings, _) = readings(
            &handle.snapshot(),
            DEFAULT_MEASUREMENT,
            Some(Timestamp::now(Precision::Nanoseconds)),
        );
        bytes.clear();
        for r in &readings {
            encoder.encode(r, &mut bytes)?;
        }
        best = best.min(start.elapsed());
    }
    let mut render = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        black_box(handle.render());
        render = render.min(start.elapsed());
    }
    println!(
        "flush of 10 000 series: snapshot + readings + line protocol {:.2} ms ({} KiB); /metrics text {:.2} ms; {per_series} bytes per series",
        best.as_secs_f64() * 1e3,
        bytes.len() / 1024,
        render.as_secs_f64() * 1e3,
    );
    Ok(())
}
