//! `telemit pipe`: readings from standard input, one per line.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use telemit::input::precision::{now_nanos, unit_name, unit_words};
use telemit::input::telegraf_json::{JsonNumbers, JsonParserOptions};
use telemit::input::{InputPrecision, LineReader, implausible_timestamp};
use telemit::{DropReason, InputFormat, OnFull, Precision, Timestamp};

use super::output::OutputArgs;
use super::termination_flag;

mod lines;
use lines::{Passthrough, read_all};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputArg {
    /// Influx line protocol, read as Telegraf reads it
    Influx,
    /// JSON objects {"name":…,"tags":{…},"fields":{…},"timestamp":…}, or Telegraf's flat
    /// {"measurement":…,"host":…,"load":…,"time":…} read as Telegraf's json parser reads it
    /// (--json-name-key, --json-time-key, --tag-keys, --json-string-fields; a missing time
    /// key means no timestamp)
    Json,
}

/// The unit of incoming timestamps, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputPrecisionArg {
    /// Seconds
    #[value(alias = "1s")]
    S,
    /// Milliseconds
    #[value(alias = "1ms")]
    Ms,
    /// Microseconds
    #[value(aliases = ["1us", "µs", "1µs"])]
    Us,
    /// Nanoseconds
    #[value(alias = "1ns")]
    Ns,
    /// Picked per timestamp by its magnitude: up to 11 digits seconds, 14 milliseconds, 17
    /// microseconds, more nanoseconds
    Auto,
}

impl From<InputPrecisionArg> for InputPrecision {
    fn from(p: InputPrecisionArg) -> Self {
        match p {
            InputPrecisionArg::S => InputPrecision::Fixed(Precision::Seconds),
            InputPrecisionArg::Ms => InputPrecision::Fixed(Precision::Milliseconds),
            InputPrecisionArg::Us => InputPrecision::Fixed(Precision::Microseconds),
            InputPrecisionArg::Ns => InputPrecision::Fixed(Precision::Nanoseconds),
            InputPrecisionArg::Auto => InputPrecision::Auto,
        }
    }
}

/// How JSON numbers are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JsonNumbersArg {
    /// Every number a float, as Telegraf's json parser reads it: a field that carries 2 then
    /// 2.5 keeps one type
    Float,
    /// The type follows the number's text: 2 an integer, 2.5 a float
    Auto,
}

/// The options of Telegraf's json parser that pick tags and string fields, under its names
/// (tag_keys, json_string_fields), with the shipped telegraf/json-*.conf values as defaults.
#[derive(Debug, Args)]
pub struct JsonKeysArgs {
    /// Flat JSON members that become tags: glob patterns, comma-separated or repeated
    /// (Telegraf's tag_keys); '' for none
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "host",
        value_name = "PATTERN"
    )]
    pub tag_keys: Vec<String>,

    /// Flat JSON string and boolean members kept as fields: glob patterns (Telegraf's
    /// json_string_fields). Others are dropped, as Telegraf drops them
    #[arg(long, value_delimiter = ',', value_name = "PATTERN")]
    pub json_string_fields: Vec<String>,
}

impl JsonKeysArgs {
    /// Telegraf's json parser options with these keys and `name_key` / `time_key`.
    pub fn options(&self, name_key: &str, time_key: &str) -> JsonParserOptions {
        let patterns = |list: &[String]| list.iter().filter(|p| !p.is_empty()).cloned().collect();
        JsonParserOptions::default()
            .with_name_key(name_key)
            .with_time_key(time_key)
            .with_tag_keys(patterns(&self.tag_keys))
            .with_string_fields(patterns(&self.json_string_fields))
    }
}

/// Says once per run that a timestamp looks like another unit than the one it is read in.
pub struct TimestampCheck {
    now: i128,
    said: bool,
    flag: &'static str,
    once: &'static str,
}

impl TimestampCheck {
    /// For a stream of readings: the warning says it is given once.
    pub fn new(flag: &'static str) -> Self {
        TimestampCheck {
            now: now_nanos(),
            said: false,
            flag,
            once: " (said once)",
        }
    }

    /// For a single reading.
    pub fn single(flag: &'static str) -> Self {
        TimestampCheck {
            once: "",
            ..TimestampCheck::new(flag)
        }
    }

    /// The warning for `timestamp`, the first time one is implausible.
    pub fn check(&mut self, timestamp: Option<Timestamp>) -> Option<String> {
        if self.said {
            return None;
        }
        let timestamp = timestamp?;
        let fit = implausible_timestamp(timestamp, self.now)?;
        self.said = true;
        let advice = match fit {
            Some(unit) => format!(
                "looks like {}: use {} {}",
                unit_words(unit),
                self.flag,
                unit_name(unit)
            ),
            None => "no unit puts it within 20 years of now".to_owned(),
        };
        Some(format!(
            "timestamp {} read as {} is more than 20 years from now; {advice}{}",
            timestamp.value,
            unit_words(timestamp.precision),
            self.once
        ))
    }
}

#[derive(Debug, Args)]
pub struct PipeArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Format of the lines on standard input
    #[arg(long, value_enum, default_value = "influx")]
    pub input: InputArg,

    /// Unit of the timestamps on standard input, or auto to pick it per timestamp by its
    /// magnitude (influx_timestamp_precision; json_time_format unix, unix_ms, ...).
    /// Telegraf's spellings 1s, 1ms, 1us, 1ns are taken too
    #[arg(long, value_enum, default_value = "ns")]
    pub input_precision: InputPrecisionArg,

    #[command(flatten)]
    pub json: JsonKeysArgs,

    /// How JSON numbers are typed [default: float for the flat shape, where one object cannot
    /// tell, auto for the {"name","tags","fields"} shape]
    #[arg(long, value_enum, value_name = "HOW")]
    pub json_numbers: Option<JsonNumbersArg>,

    /// Stop at the first bad line instead of reporting it and going on
    #[arg(long)]
    pub strict: bool,

    /// Add an unsigned field `seq` numbering the readings from 0, so that `telemit listen`
    /// can count readings lost or duplicated in transit
    #[arg(long)]
    pub seq: bool,

    /// Longest input line; longer lines are rejected (and skipped) without being buffered whole
    #[arg(long, default_value_t = 1 << 20, value_parser = super::parse_bytes, value_name = "BYTES")]
    pub max_line: usize,

    /// Serve telemit's own counters as Prometheus text at http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// What the input side saw; shared, so that an interrupted run can still report it.
#[derive(Debug, Default)]
struct InputCounts {
    read: AtomicU64,
    bad_lines: AtomicU64,
    refused: AtomicU64,
    duplicates: AtomicU64,
    stopped_early: AtomicBool,
}

impl InputCounts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn run(args: PipeArgs) -> Result<i32, String> {
    let builder = args.output.sender_builder(OnFull::Block)?;
    let builder = builder
        .sequence_field(args.seq.then(|| "seq".to_owned()))
        .stats_interval(args.output.stats_interval);
    let sender = Arc::new(args.output.start(builder)?);
    let own = sender.clone();
    let _metrics = super::metrics::serve(args.metrics_listen, move || {
        own.stats().to_reading().into_iter().collect()
    })?;
    let terminated = termination_flag().map_err(|e| format!("cannot watch for signals: {e}"))?;
    let input = match args.input {
        InputArg::Influx => InputFormat::Influx,
        InputArg::Json => InputFormat::Json,
    };
    let precision: InputPrecision = args.input_precision.into();
    let json = args
        .json
        .options(&args.output.json_name_key, &args.output.json_time_key)
        .with_time_required(false)
        .with_numbers(args.json_numbers.map(|n| match n {
            JsonNumbersArg::Float => JsonNumbers::Float,
            JsonNumbersArg::Auto => JsonNumbers::Auto,
        }));
    let (strict, max_line) = (args.strict, args.max_line);
    let passthrough = Passthrough::of(&args);

    let counts = Arc::new(InputCounts::default());
    let reader = {
        let (sender, counts) = (sender.clone(), counts.clone());
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let stdin = io::BufReader::with_capacity(1 << 16, stdin.lock());
            let parse = |line: &str| input.parse_detailed(line, precision.parse_unit(), &json);
            read_all(
                LineReader::new(stdin, max_line),
                &sender,
                parse,
                precision,
                passthrough,
                strict,
                &counts,
            )
        })
    };
    while !reader.is_finished() && !terminated.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = !reader.is_finished();
    let stats = sender.shutdown();
    if !interrupted {
        let _ = reader.join();
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (read, bad_lines, refused, duplicates) = (
        load(&counts.read),
        load(&counts.bad_lines),
        load(&counts.refused),
        load(&counts.duplicates),
    );
    let rejected = bad_lines + refused;
    let dropped = stats.dropped_total().saturating_sub(refused);
    // Why, for the drops after a reading was taken (a refused line is counted above).
    let reasons: Vec<String> = [
        DropReason::QueueFull,
        DropReason::SendError,
        DropReason::Rejected,
        DropReason::SpoolDamaged,
    ]
    .into_iter()
    .filter(|&reason| stats.dropped(reason) > 0)
    .map(|reason| format!("{} {}", reason.as_str(), stats.dropped(reason)))
    .collect();
    let why = if dropped > 0 && !reasons.is_empty() {
        format!(" ({})", reasons.join(", "))
    } else {
        String::new()
    };
    let how = if interrupted {
        "interrupted: "
    } else if counts.stopped_early.load(Ordering::Relaxed) {
        "stopped at the first bad line (--strict): "
    } else {
        ""
    };
    let collapsed = match duplicates {
        0 => String::new(),
        n => format!(
            "; {} had a key given twice, collapsed to its last value as Telegraf does",
            super::log::count(n, "reading", "readings")
        ),
    };
    let unconfirmed = match stats.unconfirmed {
        0 => String::new(),
        n => format!("; {n} of those written were not confirmed as read by the receiver"),
    };
    let mut connections = String::new();
    if stats.reconnects > 0 {
        connections.push_str(&format!("; {} reconnects after failures", stats.reconnects));
    }
    if stats.reopens > 0 {
        connections.push_str(&format!("; {} planned reopens", stats.reopens));
    }
    let cause = if dropped > 0 || stats.unconfirmed > 0 {
        super::log::last_failure()
    } else {
        String::new()
    };
    super::log::event_at!(
        super::log::summary_level(rejected > 0 || dropped > 0 || stats.unconfirmed > 0),
        target: "telemit::summary",
        lines = read,
        written = stats.written,
        rejected,
        bad_lines,
        not_sendable = refused,
        dropped,
        "{how}read {}, wrote {}, rejected {} ({bad_lines} bad, {refused} not sendable), dropped {dropped}{why}{collapsed}{unconfirmed}{connections}{cause}",
        super::log::count(read, "line", "lines"),
        super::log::count(stats.written, "reading", "readings"),
        super::log::count(rejected, "line", "lines"),
    );
    Ok(
        if rejected > 0 || stats.dropped_total() > 0 || stats.unconfirmed > 0 {
            1
        } else {
            0
        },
    )
}
