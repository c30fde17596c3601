//! `telemit pipe`: readings from standard input, one per line.

use std::io::{self, BufRead};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, ValueEnum};
use telemit::{InputFormat, OnFull, SendError, Sender};

use super::output::{OutputArgs, PrecisionArg, spawn_stats};
use super::{excerpt, termination_flag};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputArg {
    /// Influx line protocol, read as Telegraf reads it
    Influx,
    /// JSON objects {"name":…,"tags":{…},"fields":{…},"timestamp":…}
    Json,
}

#[derive(Debug, Args)]
pub struct PipeArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Format of the lines on standard input
    #[arg(long, value_enum, default_value = "influx")]
    pub input: InputArg,

    /// Unit of the timestamps on standard input
    #[arg(long, value_enum, default_value = "ns")]
    pub input_precision: PrecisionArg,

    /// Stop at the first bad line instead of reporting it and going on
    #[arg(long)]
    pub strict: bool,

    /// Add an unsigned field `seq` numbering the readings from 0, so that `telemit listen`
    /// can count readings lost or duplicated in transit
    #[arg(long)]
    pub seq: bool,

    /// Longest input line; longer lines are rejected (and skipped) without being buffered whole
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
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
    stopped_early: AtomicBool,
}

impl InputCounts {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn run(args: PipeArgs) -> Result<i32, String> {
    let prepare = args.output.prepare()?;
    let sender = Arc::new(args.output.sender(OnFull::Block)?);
    let ticker = spawn_stats(&sender, args.output.stats_interval);
    let own = sender.clone();
    let _metrics = super::metrics::serve(args.metrics_listen, move || {
        own.stats().to_reading().into_iter().collect()
    })?;
    let terminated = termination_flag().map_err(|e| format!("cannot watch for signals: {e}"))?;
    let input = match args.input {
        InputArg::Influx => InputFormat::Influx,
        InputArg::Json => InputFormat::Json,
    };
    let precision = args.input_precision.into();
    let (strict, seq, max_line) = (args.strict, args.seq, args.max_line);

    let counts = Arc::new(InputCounts::default());
    let reader = {
        let (sender, counts) = (sender.clone(), counts.clone());
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let mut stdin = io::BufReader::with_capacity(1 << 16, stdin.lock());
            let parse = |line: &str| input.parse(line, precision);
            read_all(
                &mut stdin, &sender, parse, &prepare, seq, strict, max_line, &counts,
            )
        })
    };
    while !reader.is_finished() && !terminated.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(ticker);
    let interrupted = !reader.is_finished();
    let stats = sender.shutdown();
    if !interrupted {
        let _ = reader.join();
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (read, bad_lines, refused) = (
        load(&counts.read),
        load(&counts.bad_lines),
        load(&counts.refused),
    );
    let rejected = bad_lines + refused;
    if !args.output.quiet || rejected > 0 || stats.dropped_total() > rejected {
        let how = if interrupted {
            "interrupted: "
        } else if counts.stopped_early.load(Ordering::Relaxed) {
            "stopped at the first bad line (--strict): "
        } else {
            ""
        };
        eprintln!(
            "telemit: {how}read {} readings, wrote {}, rejected {} ({} bad lines, {} not sendable), dropped {}",
            read,
            stats.written,
            rejected,
            bad_lines,
            refused,
            stats.dropped_total() - refused,
        );
    }
    Ok(if rejected > 0 || stats.dropped_total() > 0 {
        1
    } else {
        0
    })
}

#[allow(clippy::too_many_arguments)]
fn read_all(
    input: &mut impl BufRead,
    sender: &Sender,
    parse: impl Fn(&str) -> Result<Option<telemit::Reading>, telemit::ParseError>,
    prepare: &super::output::Prepare,
    seq: bool,
    strict: bool,
    max_line: usize,
    counts: &InputCounts,
) {
    let mut buffer = Vec::new();
    let mut number = 0u64;
    let mut next_seq = 0u64;
    loop {
        number += 1;
        let line = match read_line(input, &mut buffer, max_line) {
            Ok(Line::End) => break,
            Ok(Line::TooLong(len)) => {
                InputCounts::add(&counts.read);
                InputCounts::add(&counts.bad_lines);
                eprintln!(
                    "telemit: line {number}: longer than {max_line} bytes ({len} bytes); skipped (raise --max-line)"
                );
                if strict {
                    counts.stopped_early.store(true, Ordering::Relaxed);
                    break;
                }
                continue;
            }
            Ok(Line::Complete) => &buffer,
            Err(e) => {
                eprintln!("telemit: line {number}: cannot read standard input: {e}");
                break;
            }
        };
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => {
                InputCounts::add(&counts.read);
                InputCounts::add(&counts.bad_lines);
                eprintln!(
                    "telemit: line {number}, column {}: not UTF-8: {}",
                    e.valid_up_to() + 1,
                    excerpt(&String::from_utf8_lossy(line))
                );
                if strict {
                    counts.stopped_early.store(true, Ordering::Relaxed);
                    break;
                }
                continue;
            }
        };
        let mut reading = match parse(text) {
            Ok(None) => continue,
            Ok(Some(reading)) => reading,
            Err(error) => {
                InputCounts::add(&counts.read);
                InputCounts::add(&counts.bad_lines);
                let place = match error.column {
                    Some(column) => format!("line {number}, column {column}"),
                    None => format!("line {number}"),
                };
                eprintln!("telemit: {place}: {}: {}", error.reason, excerpt(text));
                if strict {
                    counts.stopped_early.store(true, Ordering::Relaxed);
                    break;
                }
                continue;
            }
        };
        InputCounts::add(&counts.read);
        prepare.apply(&mut reading);
        if seq {
            // A field named seq is replaced: the numbering must be ours to count loss.
            let _ = reading.set_field("seq", next_seq);
            next_seq += 1;
        }
        match sender.send(&reading) {
            Ok(()) | Err(SendError::QueueFull) => {}
            Err(SendError::Closed) => break,
            Err(error) => {
                InputCounts::add(&counts.refused);
                eprintln!("telemit: line {number}: {error}: {}", excerpt(text));
                if strict {
                    counts.stopped_early.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

enum Line {
    Complete,
    TooLong(usize),
    End,
}

/// Reads one line (without `\n`) into `buffer`, never holding more than `max` bytes of it.
fn read_line(input: &mut impl BufRead, buffer: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buffer.clear();
    let mut total = 0usize;
    let mut saw_any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (saw_any, total > max) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong(total),
                (true, false) => Line::Complete,
            });
        }
        saw_any = true;
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        total += chunk.len();
        if total <= max {
            buffer.extend_from_slice(chunk);
        }
        let used = found.unwrap_or(available.len());
        input.consume(used);
        if found.is_some() {
            return Ok(if total > max {
                Line::TooLong(total)
            } else {
                Line::Complete
            });
        }
    }
}
