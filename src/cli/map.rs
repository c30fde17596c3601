//! `telemit map`: a mapping run offline over recorded messages, to develop a mapping file
//! without a live stream.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;
use telemit::format::WavefrontOptions;
use telemit::input::{Line, LineReader};
use telemit::mapping::Mapping;
use telemit::{Encoder, Precision, Reading, Timestamp};

use super::log::count;
use super::output::{FormatArg, PrecisionArg};

#[derive(Debug, Args)]
#[command(
    after_help = "Windows close by message time, and those still open at the end of input. Rules \
without a time path (a book snapshot without an event time) are stamped with the latest message \
time read before them, so a recording maps to the same readings on every run; the clock only \
stamps the messages before the first that carries a time. Errors (with the line number) and a \
summary per rule (readings, errors, new series refused) go to stderr; lines that are not UTF-8 \
are skipped and counted; the exit status is 1 if any message failed.

Examples:
  telemit map --map examples/binance-market.toml recording.jsonl
  websocat wss://… | telemit map --map my.toml --format json"
)]
pub struct MapArgs {
    /// Mapping file (TOML); see examples/binance-market.toml
    #[arg(long, value_name = "FILE")]
    pub map: PathBuf,

    /// Messages, one JSON document a line (`-` or none: standard input)
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,

    /// Format of the readings printed on standard output
    #[arg(long, value_enum, default_value = "influx")]
    pub format: FormatArg,

    /// Unit of the timestamps printed (influx, json)
    #[arg(long, value_enum, default_value = "ns")]
    pub precision: PrecisionArg,

    /// Write booleans as 1/0 in Wavefront, which has no booleans (the market example's
    /// `closed` field, for one); without it such readings are refused and counted
    #[arg(long)]
    pub bool_as_number: bool,
}

/// The longest line read, in bytes: a recording of `telemit ws`'s largest message (its
/// `--max-message-size` defaults to 1 MiB) with room to spare; a longer line is skipped.
const MAX_LINE: usize = 64 << 20;

pub fn run(args: MapArgs) -> Result<i32, String> {
    let mut mapping = Mapping::from_file(&args.map).map_err(|e| e.to_string())?;
    mapping.set_idle_sweep(false);
    mapping.set_stamp_by_message_time(true);
    let input_path = args.input.as_ref().filter(|p| p.as_os_str() != "-");
    let input: Box<dyn BufRead> = match input_path {
        None => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
    };
    let name = input_path.map_or_else(|| "stdin".to_owned(), |p| p.display().to_string());
    let format_name = telemit::Format::from(args.format).as_str();
    let encoder = Encoder::new(args.format.into())
        .with_precision(args.precision.into())
        .with_wavefront(WavefrontOptions {
            bool_as_number: args.bool_as_number,
            ..WavefrontOptions::default()
        });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buffer = Vec::new();
    let (mut messages, mut ignored, mut readings, mut errors, mut unencodable) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut bad_lines = 0u64;
    let mut write = |reading: &Reading, out: &mut dyn Write| -> Result<(), std::io::ErrorKind> {
        buffer.clear();
        match encoder.encode(reading, &mut buffer) {
            Ok(()) => {
                readings += 1;
                out.write_all(&buffer).map_err(|e| e.kind())
            }
            Err(e) => {
                // Said once: every reading of that rule would repeat it.
                if unencodable == 0 {
                    tracing::error!(
                        target: "telemit::input",
                        "cannot write in --format {}: {e} (further such readings are only counted)",
                        format_name
                    );
                }
                unencodable += 1;
                Ok(())
            }
        }
    };
    let mut failure = None;
    let mut lines = LineReader::new(input, MAX_LINE);
    loop {
        let number = lines.line_number() + 1;
        let line = match lines.next_line() {
            Ok(None) => break,
            Ok(Some(line)) => line,
            Err(e) => {
                // The windows still open close below, and the summary says what was read.
                tracing::error!(target: "telemit::input", line = number, "{name}: line {number}: cannot read: {e}");
                errors += 1;
                break;
            }
        };
        let line = match line {
            Line::Complete(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    bad_lines += 1;
                    tracing::error!(
                        target: "telemit::input",
                        line = number,
                        "{name}: line {number}, column {}: not UTF-8: skipped",
                        e.valid_up_to() + 1
                    );
                    continue;
                }
            },
            Line::TooLong(length) => {
                bad_lines += 1;
                tracing::error!(
                    target: "telemit::input",
                    line = number,
                    "{name}: line {number}: {length} bytes, more than {MAX_LINE}: skipped"
                );
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        messages += 1;
        let arrival = Timestamp::now(Precision::Nanoseconds);
        let outcome = mapping.apply_each(line, arrival, |reading| {
            if failure.is_none() {
                failure = write(reading, &mut out).err();
            }
        });
        if let Some(error) = failure.take() {
            return stdout_failed(error);
        }
        if !outcome.matched {
            ignored += 1;
        }
        for error in &outcome.errors {
            errors += 1;
            tracing::error!(
                target: "telemit::input",
                line = number,
                "{name}: line {}: {error}",
                number
            );
        }
    }
    mapping.finish(|reading| {
        if failure.is_none() {
            failure = write(reading, &mut out).err();
        }
    });
    if let Some(error) = failure {
        return stdout_failed(error);
    }
    if let Err(error) = out.flush() {
        return stdout_failed(error.kind());
    }
    let failed = errors > 0 || unencodable > 0 || bad_lines > 0;
    super::log::event_at!(
        super::log::summary_level(failed),
        target: "telemit::summary",
        messages,
        errors,
        bad_lines,
        readings,
        "{} ({ignored} ignored, {}), {} written, {unencodable} not writable in --format {}, {}, {} skipped (not UTF-8 or too long)",
        count(messages, "message", "messages"),
        count(errors, "rule error", "rule errors"),
        count(readings, "reading", "readings"),
        format_name,
        count(mapping.series() as u64, "series", "series"),
        count(bad_lines, "line", "lines")
    );
    let per_rule: Vec<String> = mapping
        .readings_by_rule()
        .zip(mapping.errors_by_rule())
        .zip(mapping.refused_series_by_rule())
        .map(|(((rule, readings), (_, failed)), (_, refused))| {
            format!(
                "{rule:?} {}, {}, {refused} new series refused",
                count(readings, "reading", "readings"),
                count(failed, "error", "errors")
            )
        })
        .collect();
    super::log::event_at!(
        super::log::summary_level(failed),
        target: "telemit::summary",
        "by rule: {}",
        per_rule.join("; ")
    );
    Ok(if failed { 1 } else { 0 })
}

/// A reader that closed the pipe (`telemit map … | head`) has what it wanted: stop quietly.
fn stdout_failed(kind: std::io::ErrorKind) -> Result<i32, String> {
    match kind {
        std::io::ErrorKind::BrokenPipe => Ok(0),
        // Not a usage error (status 2): the run failed to write its readings.
        kind => {
            tracing::error!(
                target: "telemit::summary",
                "stdout: {}: the readings were not all written",
                std::io::Error::from(kind)
            );
            Ok(1)
        }
    }
}
