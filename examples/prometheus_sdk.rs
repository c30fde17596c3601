//! The Prometheus client model through the `metrics` facade: a counter, a gauge, a histogram
//! and a summary, updated in rounds, sent to Telegraf, served at `/metrics` and pushed to a
//! Pushgateway, all from one recorder.
//!
//! ```text
//! # Telegraf side (telegraf/recorder-prometheus-client.conf or recorder-influxdb.conf):
//! cargo run --example prometheus_sdk -- --to tcp://127.0.0.1:8094 --rounds 30 --interval 1s
//! # Prometheus scrapes it (static target 127.0.0.1:9100), until Ctrl-C:
//! cargo run --example prometheus_sdk -- --listen 127.0.0.1:9100 --rounds 30 --interval 1s
//! # A Pushgateway:
//! cargo run --example prometheus_sdk -- --push http://127.0.0.1:9091 --job sdk \
//!     --grouping instance=web-1 --header 'Authorization: Bearer TOKEN' --rounds 5
//! ```
//!
//! Each round increments `api_called_total` by 1, sets `cpu_usage`, observes 3 in
//! `task_time_histogram` (buckets 1, 2, 3, 4, 5, +Inf) and a value in 1..100 in
//! `task_time_summary`, every series labelled `inner_ip`. After the rounds it pushes and
//! flushes once more; with `--listen` it keeps serving until SIGINT or SIGTERM. It exits 0.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use telemit::recorder::{PushConfig, RecorderBuilder};
use telemit::{Encoder, Endpoint, Format, Sender};

#[derive(Parser)]
#[command(about = "Counter, gauge, histogram and summary to Telegraf, /metrics and a Pushgateway")]
struct Args {
    /// Telegraf side: a telemit endpoint (tcp://…, udp://…, unix:///…).
    #[arg(long, value_name = "ENDPOINT")]
    to: Option<Endpoint>,
    /// Serve /metrics on this address.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Pushgateway base URL (or an http_listener_v2 URL with a path).
    #[arg(long, value_name = "URL")]
    push: Option<String>,
    /// The job name of pushes.
    #[arg(long, value_name = "NAME", default_value = "prometheus_sdk")]
    job: String,
    /// A grouping key label of pushes, KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    grouping: Vec<(String, String)>,
    /// An HTTP header of pushes, 'Name: value'; repeatable.
    #[arg(long, value_name = "'NAME: VALUE'", value_parser = header)]
    header: Vec<(String, String)>,
    /// Rounds of updates.
    #[arg(long, value_name = "N", default_value_t = 10)]
    rounds: u32,
    /// Time between rounds: 500ms, 1s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    interval: Duration,
    /// The inner_ip label.
    #[arg(long, default_value = "127.0.0.1")]
    inner_ip: String,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

fn header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("{text:?} is not 'Name: value'")),
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s or m)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        _ => Err(format!("{text:?}: the unit is ms, s or m")),
    }
}

/// A small pseudo-random sequence (xorshift), so the example needs no random-number crate.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + self.0 % sides
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut builder = RecorderBuilder::new()
        .buckets("task_time_histogram", &[1.0, 2.0, 3.0, 4.0, 5.0])?
        .flush_interval(Duration::from_secs(10));
    if let Some(endpoint) = args.to {
        let sender = Sender::builder(endpoint, Encoder::new(Format::Influx))
            .on_event(|event| eprintln!("telemit: {event}"))
            .start()?;
        builder = builder.sender(sender);
    }
    if let Some(addr) = args.listen {
        builder = builder.listen(addr);
    }
    if let Some(url) = &args.push {
        let mut push = PushConfig::new(url, &args.job)?;
        for (key, value) in &args.grouping {
            push = push.grouping(key, value);
        }
        for (name, value) in &args.header {
            push = push.header(name, value);
        }
        builder = builder.push(push);
    }
    let metrics = builder.install()?;
    if let Some(addr) = metrics.local_addr() {
        eprintln!("serving http://{addr}/metrics");
    }

    metrics::describe_counter!("api_called_total", "Calls of the API.");
    metrics::describe_gauge!("cpu_usage", "CPU use in percent.");
    metrics::describe_histogram!("task_time_histogram", "Task time in seconds, as buckets.");
    metrics::describe_histogram!("task_time_summary", "Task time in seconds, as a summary.");
    let ip = args.inner_ip.clone();
    let api_called = metrics::counter!("api_called_total", "inner_ip" => ip.clone());
    let cpu_usage = metrics::gauge!("cpu_usage", "inner_ip" => ip.clone());
    let task_time_histogram = metrics::histogram!("task_time_histogram", "inner_ip" => ip.clone());
    let task_time_summary = metrics::histogram!("task_time_summary", "inner_ip" => ip);

    let seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    let mut dice = Dice(seed | 1);
    for round in 1..=args.rounds {
        api_called.increment(1);
        cpu_usage.set(dice.roll(100) as f64);
        task_time_histogram.record(3.0);
        task_time_summary.record(dice.roll(99) as f64);
        if round < args.rounds {
            std::thread::sleep(args.interval);
        }
    }

    if let Err(error) = metrics.push() {
        eprintln!("push failed: {error}");
    }
    metrics.flush();
    if args.listen.is_some() {
        eprintln!("rounds done; serving until SIGINT or SIGTERM");
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        signals.forever().next();
    }
    let stats = metrics.shutdown();
    eprintln!(
        "flushes {}, readings {}, scrapes {}, pushes {} ({} failed)",
        stats.flushes, stats.readings, stats.scrapes, stats.pushes, stats.push_failures
    );
    if let Some(sender) = stats.sender {
        eprintln!("{}", sender.summary());
    }
    Ok(())
}
