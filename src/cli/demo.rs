//! `telemit demo`: sample readings through the real sender to a built-in receiver.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use telemit::listen::{CountingSink, ListenOptions, Listener, Received};
use telemit::{Encoder, Endpoint, Format, OnFull, Reading, Sender, Timestamp};

use super::output::FormatArg;
use super::{parse_duration, termination_flag};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Wire format to send and read back
    #[arg(long, value_enum, default_value = "influx")]
    pub format: FormatArg,

    /// Endpoint to listen on and send to [default: a Unix socket in a temporary directory]
    #[arg(long, value_name = "ENDPOINT", value_parser = |s: &str| s.parse::<Endpoint>().map_err(|e| e.to_string()))]
    pub to: Option<Endpoint>,

    /// How long to send
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Duration,

    /// Readings per second
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,

    /// How many arriving readings to print
    #[arg(long, default_value_t = 5)]
    pub show: usize,
}

pub fn run(args: DemoArgs) -> Result<i32, String> {
    let format: Format = args.format.into();
    let scratch = std::env::temp_dir().join(format!("telemit-demo-{}", std::process::id()));
    let endpoint = match &args.to {
        Some(endpoint) => endpoint.clone(),
        None => {
            std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
            Endpoint::Unix(scratch.join("telemit.sock"))
        }
    };
    let options = ListenOptions::default().with_format(format);
    let listener = Listener::bind(&endpoint, options)
        .map_err(|e| format!("cannot listen on {endpoint}: {e}"))?;
    let endpoint = listener.endpoint().map_err(|e| e.to_string())?;

    let counter = CountingSink::new("seq");
    let tally = counter.shared();
    let shown = Arc::new(Mutex::new(0usize));
    let show = args.show;
    let sink = counter.sink(move |received| {
        if let Received::Readings(readings) = received {
            let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
            for reading in readings {
                if *shown < show {
                    *shown += 1;
                    let mut line = Vec::new();
                    let _ = Encoder::new(Format::Influx).encode(reading, &mut line);
                    println!("arrived: {}", String::from_utf8_lossy(&line).trim_end());
                }
            }
        }
        if let Received::Rejected { text, error } = received {
            tracing::error!(target: "telemit::input", "receiver rejected {text:?}: {error}");
        }
    });
    let handle = listener.spawn(sink).map_err(|e| e.to_string())?;
    println!(
        "telemit demo: sending {} readings/s as {format} to {endpoint} for {:.1}s (built-in receiver with Telegraf's socket_listener rules)",
        args.rate,
        args.duration.as_secs_f64()
    );

    let sender = Sender::builder(endpoint.clone(), Encoder::new(format))
        .on_full(OnFull::Block)
        .on_event(super::log::sender_event)
        .start()
        .map_err(|e| e.to_string())?;
    let host = hostname();
    let terminated = termination_flag().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(1) as f64);
    let mut random = started.elapsed().as_nanos() as u64 | 1;
    let mut sent = 0u64;
    let mut next_report = Duration::from_secs(1);
    while started.elapsed() < args.duration && !terminated.load(Ordering::SeqCst) {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let reading = Reading::builder("demo")
            .tag("host", host.clone())
            .field("value1", 10i64)
            .field("value2", (random % 10_000) as f64 / 100.0)
            .field("seq", sent)
            .timestamp(Timestamp::now(telemit::Precision::Nanoseconds))
            .build()
            .map_err(|e| e.to_string())?;
        if sender.send(&reading).is_ok() {
            sent += 1;
        }
        if started.elapsed() >= next_report {
            next_report += Duration::from_secs(1);
            let t = tally.lock().unwrap_or_else(|e| e.into_inner());
            println!("telemit demo: {sent} sent, {} arrived", t.sequence.unique());
        }
        let due = interval.mul_f64(sent as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let stats = sender.shutdown();
    // Give the receiver a moment to read what is still in flight.
    let wait_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < wait_until {
        if tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sequence
            .unique()
            >= sent
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.stop();
    let _ = std::fs::remove_dir_all(&scratch);
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    let missing = sent.saturating_sub(t.sequence.unique());
    println!("telemit demo: sender: {}", stats.summary());
    println!("telemit demo: receiver: {}", t.summary());
    println!(
        "telemit demo: {sent} readings sent, {} arrived, {missing} lost",
        t.sequence.unique()
    );
    Ok(if missing == 0 && t.rejected == 0 {
        0
    } else {
        1
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
