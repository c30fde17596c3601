//! `telemit bench`: a load generator with a report of what the sender did and what it cost.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use telemit::LatencySummary;
use telemit::usage::Usage;
use telemit::{
    DropReason, OnFull, Precision, Reading, SendError, Sender, StatsSnapshot, Timestamp,
};

use super::output::OutputArgs;
use super::{parse_duration, termination_flag};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Readings per second, or "max" for as fast as the sender takes them
    #[arg(long, default_value = "max", value_parser = parse_rate, value_name = "PER_SECOND|max")]
    pub rate: Rate,

    /// How long to send [default: 10s unless --count is given]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,

    /// How many readings to send
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Tags per reading (host, region, service, then tag3, tag4, …)
    #[arg(long = "tags", default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=10_000))]
    pub tag_count: u16,

    /// Fields per reading, counting the sequence field (latency_ms, bytes, seq, then field3, …)
    #[arg(long = "fields", default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub field_count: u16,

    /// Threads sending through the one sender at once; --rate and --count are split evenly
    /// among them, and producer p of N numbers its readings p, p + N, p + 2N, …
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub producers: u16,

    /// Print the final report as one JSON object (on stdout, or on stderr with --to -)
    #[arg(long)]
    pub json: bool,
}

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// As fast as the sender takes readings.
    Max,
    PerSecond(u64),
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    if text == "max" {
        return Ok(Rate::Max);
    }
    match text.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!(
            "{text:?} is not a rate: give readings per second (e.g. 10000) or max"
        )),
        Ok(rate) => Ok(Rate::PerSecond(rate)),
    }
}

/// The reading every generated one is a copy of, with `seq` and the timestamp set per reading.
fn template(tags: u16, fields: u16) -> Result<Reading, String> {
    const TAGS: [(&str, &str); 3] = [
        ("host", "web-01.example.com"),
        ("region", "eu-west-1"),
        ("service", "checkout"),
    ];
    let mut builder = Reading::builder("bench");
    for i in 0..usize::from(tags) {
        builder = match TAGS.get(i) {
            Some((key, value)) => builder.tag(*key, *value),
            None => builder.tag(format!("tag{i}"), format!("value-{i}")),
        };
    }
    for i in 0..usize::from(fields) - 1 {
        builder = match i {
            0 => builder.field("latency_ms", 12.5),
            1 => builder.field("bytes", 5120i64),
            n => builder.field(format!("field{n}"), n as f64 * 0.25),
        };
    }
    builder
        // An integer, not unsigned: InfluxDB 1.x refuses `u` fields.
        .field("seq", 0i64)
        .build()
        .map_err(|e| e.to_string())
}

pub fn run(args: BenchArgs) -> Result<i32, String> {
    let (duration, count) = match (args.duration, args.count) {
        (None, None) => (Some(Duration::from_secs(10)), None),
        limits => limits,
    };
    if args.output.to == telemit::Endpoint::Stdout && std::io::stdout().is_terminal() {
        return Err(TERMINAL_REFUSAL.to_owned());
    }
    let reading = template(args.tag_count, args.field_count)?;
    let sender = Arc::new(
        args.output
            .sender_builder(OnFull::Block)?
            .measure_latency(true)
            .start()
            .map_err(|e| args.output.explain(e))?,
    );
    let terminated = termination_flag().map_err(|e| e.to_string())?;
    let progress = std::io::stderr().is_terminal() && !args.output.quiet;
    let cpu_before = Usage::now().cpu;
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let producers = u64::from(args.producers);
    let generating: Vec<_> = (0..producers)
        .map(|p| {
            let generator = Generator {
                reading: reading.clone(),
                precision: args.output.precision.into(),
                rate: match args.rate {
                    Rate::Max => Rate::Max,
                    // The remainder goes to the first producers, one each.
                    Rate::PerSecond(rate) => {
                        Rate::PerSecond((rate / producers + u64::from(p < rate % producers)).max(1))
                    }
                },
                duration,
                count: count.map(|n| n / producers + u64::from(p < n % producers)),
                first: p,
                step: producers,
                stop: terminated.clone(),
                sent: sent.clone(),
            };
            let sender = sender.clone();
            std::thread::spawn(move || generator.run(&sender, started))
        })
        .collect();
    // Watch from here: a producer blocked on a full queue (receiver away) must not keep an
    // interrupt from ending the run, and shutdown is what wakes it.
    while !generating.iter().all(|g| g.is_finished()) {
        std::thread::sleep(Duration::from_millis(if progress { 250 } else { 20 }));
        if terminated.load(Ordering::Relaxed) {
            sender.shutdown();
        }
        if progress {
            let stats = sender.stats();
            let elapsed = started.elapsed().as_secs_f64();
            let sent = sent.load(Ordering::Relaxed);
            super::log::stderr_text(&format!(
                "\r{elapsed:>6.1}s  {:>10.0} readings/s  {sent:>11} sent  {:>6} queued  {:>8} dropped ",
                sent as f64 / elapsed,
                stats.queue_depth,
                stats.dropped_total()
            ));
        }
    }
    let sending = started.elapsed();
    let per_producer: Vec<Sent> = generating
        .into_iter()
        .map(|g| g.join().unwrap_or_default())
        .collect();
    let stats = sender.shutdown();
    let total = started.elapsed();
    if progress {
        super::log::stderr_text("\n");
    }
    let report = Report {
        sent: per_producer.iter().map(|p| p.readings).sum(),
        per_producer,
        sending,
        total,
        stats,
        latency: sender.latency().unwrap_or_default(),
        cpu: Usage::now().cpu.saturating_sub(cpu_before),
        peak_rss_kib: Usage::now().peak_rss_bytes / 1024,
    };
    let text = if args.json {
        report.json().to_string()
    } else {
        report.text(&args.output.to.to_string())
    };
    // The report goes to stdout, unless the readings do.
    if args.output.to == telemit::Endpoint::Stdout {
        super::log::stderr_text(&format!("{text}\n"));
    } else {
        writeln!(std::io::stdout().lock(), "{text}").map_err(|e| e.to_string())?;
    }
    Ok(if stats.dropped_total() > 0 { 1 } else { 0 })
}

/// Why `bench --to -` (the default) stops when standard output is a terminal, and what to do.
const TERMINAL_REFUSAL: &str = "refusing to write the benchmark's readings (millions a second) \
to the terminal: --to - writes them to standard output. Send them somewhere, e.g. \
`telemit bench --to udp://127.0.0.1:8094` with `telemit listen --on udp://127.0.0.1:8094 --quiet` \
in another terminal, or measure telemit alone with `telemit bench --to - > /dev/null`";

/// What one producer sent, and how long it took.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    readings: u64,
    elapsed: Duration,
}

impl Sent {
    fn rate(&self) -> f64 {
        self.readings as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends copies of one reading, numbered by `seq` (`first`, `first + step`, …) and stamped
/// now, at a fixed rate.
struct Generator {
    reading: Reading,
    precision: Precision,
    rate: Rate,
    duration: Option<Duration>,
    count: Option<u64>,
    first: u64,
    step: u64,
    stop: Arc<AtomicBool>,
    /// Readings sent by all producers, for the progress line.
    sent: Arc<AtomicU64>,
}

impl Generator {
    fn run(mut self, sender: &Sender, started: Instant) -> Sent {
        let mut sent = 0u64;
        let mut reported = 0u64;
        loop {
            let elapsed = started.elapsed();
            if self.stop.load(Ordering::Relaxed)
                || self.duration.is_some_and(|d| elapsed >= d)
                || self.count.is_some_and(|n| sent >= n)
            {
                self.sent.fetch_add(sent - reported, Ordering::Relaxed);
                return Sent {
                    readings: sent,
                    elapsed: started.elapsed(),
                };
            }
            // What is due now, at most 1 000 at a time so the checks above stay timely.
            let due = match self.rate {
                Rate::PerSecond(rate) => (elapsed.as_secs_f64() * rate as f64) as u64 + 1,
                Rate::Max => sent + 1000,
            };
            let due = self.count.map_or(due, |n| due.min(n)).min(sent + 1000);
            while sent < due {
                // Cannot fail: the value is an integer and the key is already there.
                let _ = self.reading.set_field(
                    "seq",
                    i64::try_from(self.first + sent * self.step).unwrap_or(i64::MAX),
                );
                self.reading
                    .set_timestamp(Some(Timestamp::now(self.precision)));
                let closed = sender.send(&self.reading) == Err(SendError::Closed);
                // A reading the closed sender refused was handed to it, and it counts it as
                // dropped: it is sent, so that sent = written + dropped.
                sent += 1;
                if closed {
                    self.stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            self.sent.fetch_add(sent - reported, Ordering::Relaxed);
            reported = sent;
            if let Rate::PerSecond(rate) = self.rate {
                let next_due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = next_due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

struct Report {
    sent: u64,
    /// Each producer's own count and time.
    per_producer: Vec<Sent>,
    /// Time spent generating and enqueueing.
    sending: Duration,
    /// Until the sender had written (or dropped) everything.
    total: Duration,
    stats: StatsSnapshot,
    latency: LatencySummary,
    cpu: Duration,
    peak_rss_kib: u64,
}

impl Report {
    fn achieved_rate(&self) -> f64 {
        self.stats.written as f64 / self.total.as_secs_f64()
    }

    /// The achieved rate shared out: what each producer contributed on average.
    fn rate_per_producer(&self) -> f64 {
        self.achieved_rate() / self.per_producer.len().max(1) as f64
    }

    /// The slowest and the fastest producer's own sending rate.
    fn producer_range(&self) -> (f64, f64) {
        let rates = self.per_producer.iter().map(Sent::rate);
        let slowest = rates.clone().fold(f64::INFINITY, f64::min);
        let fastest = rates.fold(0.0, f64::max);
        (if slowest.is_finite() { slowest } else { 0.0 }, fastest)
    }

    fn text(&self, endpoint: &str) -> String {
        let s = &self.stats;
        let mut drops: Vec<String> = DropReason::ALL
            .iter()
            .map(|r| format!("{} {}", r.as_str(), s.dropped(*r)))
            .collect();
        if drops.is_empty() {
            drops.push("none".into());
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (slowest, fastest) = self.producer_range();
        format!(
            "telemit bench to {endpoint}\n\
             sent      {} readings in {:.3} s, all written or dropped after {:.3} s: {:.0} readings/s\n\
             producers {}: {:.0} readings/s each (own sending rate: slowest {:.0}, fastest {:.0})\n\
             written   {} readings, {} bytes in {} writes ({:.1} readings a write), {} reconnects\n\
             dropped   {} ({})\n\
             latency   enqueue to socket write: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms\n\
             cost      {:.3} s CPU ({:.0}% of one core), {:.0} ns CPU a reading, peak RSS {:.1} MiB",
            self.sent,
            self.sending.as_secs_f64(),
            self.total.as_secs_f64(),
            self.achieved_rate(),
            self.per_producer.len(),
            self.rate_per_producer(),
            slowest,
            fastest,
            s.written,
            s.bytes,
            s.batches,
            s.written as f64 / s.batches.max(1) as f64,
            s.reconnects,
            s.dropped_total(),
            drops.join(", "),
            ms(self.latency.p50),
            ms(self.latency.p99),
            ms(self.latency.p999),
            ms(self.latency.max),
            self.cpu.as_secs_f64(),
            100.0 * self.cpu.as_secs_f64() / self.total.as_secs_f64(),
            self.cpu.as_nanos() as f64 / self.sent.max(1) as f64,
            self.peak_rss_kib as f64 / 1024.0,
        )
    }

    fn json(&self) -> serde_json::Value {
        let s = &self.stats;
        let dropped: serde_json::Map<String, serde_json::Value> = DropReason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), s.dropped(*r).into()))
            .collect();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let producers: Vec<serde_json::Value> = self
            .per_producer
            .iter()
            .map(|p| {
                serde_json::json!({
                    "sent": p.readings,
                    "seconds": p.elapsed.as_secs_f64(),
                    "readings_per_second": p.rate(),
                })
            })
            .collect();
        serde_json::json!({
            "sent": self.sent,
            "sending_seconds": self.sending.as_secs_f64(),
            "total_seconds": self.total.as_secs_f64(),
            "readings_per_second": self.achieved_rate(),
            "producers": self.per_producer.len(),
            "readings_per_second_per_producer": self.rate_per_producer(),
            "per_producer": producers,
            "written": s.written,
            "bytes": s.bytes,
            "writes": s.batches,
            "reconnects": s.reconnects,
            "dropped": s.dropped_total(),
            "dropped_by_reason": dropped,
            "latency_us": {
                "p50": us(self.latency.p50),
                "p99": us(self.latency.p99),
                "p999": us(self.latency.p999),
                "max": us(self.latency.max),
                "count": self.latency.count,
            },
            "cpu_seconds": self.cpu.as_secs_f64(),
            "peak_rss_kib": self.peak_rss_kib,
        })
    }
}
